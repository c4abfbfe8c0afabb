// Per-user rate limits as token buckets shared by every container: one Redis Lua script refills
// and takes a token atomically (Redis's clock, so containers' clocks do not matter), on the L2
// client and behind its breaker. When Redis is off, failing or behind the open breaker, each
// container falls back to its own in-memory buckets at the rates divided by FEED_RATE_FALLBACK_DIVISOR.
//
// Why a divisor and not "allow all" or "deny all": denying would turn a cache outage into an API
// outage; allowing would drop the guardrail exactly when the system is already degraded. A user's
// requests spread over the warm containers, so a container keeping 1/4 of the rate lets an
// honest user (whose few requests mostly land on several containers) through, while a flood is
// held to (containers it reaches / 4) × the rate — bounded by the function's reserved concurrency.
import type { Redis } from 'ioredis';
import { cacheKeys } from '../cache/cache-keys.js';
import { l2, type L2Cache } from '../cache/l2.js';
import { RateLimitedError, retryAfterSeconds } from '../domain/errors.js';
import { config, type Config } from './config.js';

/**
 * The buckets an `api({ rateLimit })` route can take from; `read` is the default of every other
 * authenticated route. `follow` is shared by follow and unfollow, which bounds what a flapping
 * follower costs: each request writes or deletes at most FEED_FOLLOW_BACKFILL (100) feed entries
 * (a follow backfills that many; an unfollow deletes that author's entries, which a flap's follow
 * just put there), so with the defaults (20 per minute, burst 40) one user causes at most
 * 20 × 100 = 2,000 entry writes a minute sustained, and (40 + 20) × 100 = 6,000 in the first minute.
 */
export const RATE_BUCKETS = ['post', 'follow', 'signup', 'vip', 'read'] as const;
export type RateBucket = (typeof RATE_BUCKETS)[number];

export interface BucketLimit {
  /** Tokens added per minute (the sustained rate). */
  perMinute: number;
  /** Capacity: requests allowed at once after a quiet period. */
  burst: number;
}

export interface BucketState {
  tokens: number;
  /** When `tokens` was last refilled (ms). */
  at: number;
}

export interface Take {
  state: BucketState;
  allowed: boolean;
  /** Tokens taken: 1..want when allowed, 0 when refused. */
  granted: number;
  /** Until the next token, when refused (0 when allowed). */
  waitMs: number;
}

/** In-memory buckets kept per container: 10,000 × ~100 bytes is 1 MB; the least recently used
 *  are dropped past it (a dropped bucket reads as full, as an expired Redis key does). */
export const LOCAL_BUCKETS_MAX = 10_000;

/** Tokens a container takes from a bucket at once for a subject it served within LEASE_MS, kept
 *  for LEASE_MS: a burst of one user's reads on one container (Lambda's multi-concurrency mode, the
 *  local stack) then costs one Redis round trip per 10 reads instead of one per read. A subject
 *  the container has not served lately takes one token: under Lambda's default mode (one request
 *  per environment) a user's next read lands on another environment, where a lease would lapse
 *  unused, so leasing on every first read spent a user's bucket up to ten times as fast (the ten
 *  GETs of an app opening took the whole burst of 100). Leased tokens come out of the shared
 *  bucket, so leasing never lets anyone past the limit; what lapses unused is at most 9 tokens per
 *  container and LEASE_MS, and only for a subject that container served twice within it. Writes
 *  take one token at a time (exact). */
export const LEASE: Record<RateBucket, number> = { post: 1, follow: 1, signup: 1, vip: 1, read: 10 };
/** How long leased tokens stay usable (unused ones lapse, so a lease never outlives a refill), and
 *  how recently a subject must have been served here for a read to lease. */
export const LEASE_MS = 1_000;

/** Refills `state` up to `now` and takes up to `want` tokens, at least one, if there is one.
 *  Mirrors TAKE_SCRIPT exactly. */
export function takeToken(state: BucketState | undefined, now: number, limit: BucketLimit, want = 1): Take {
  const rate = limit.perMinute / 60_000;
  let tokens = state?.tokens ?? limit.burst;
  let at = state?.at ?? now;
  if (now > at) {
    tokens = Math.min(limit.burst, tokens + (now - at) * rate);
    at = now;
  }
  if (tokens >= 1) {
    const granted = Math.min(want, Math.floor(tokens));
    return { state: { tokens: tokens - granted, at }, allowed: true, granted, waitMs: 0 };
  }
  return { state: { tokens, at }, allowed: false, granted: 0, waitMs: Math.ceil((1 - tokens) / rate) };
}

/** KEYS bucket; ARGV tokens per ms, burst, tokens wanted. → {tokens taken, ms until the next token}. The key lives
 *  until the bucket would be full again (+1 s), so idle users cost no memory. */
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local s = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(s[1])
local at = tonumber(s[2])
if tokens == nil or at == nil then tokens = burst; at = now end
if now > at then tokens = math.min(burst, tokens + (now - at) * rate); at = now end
local want = tonumber(ARGV[3])
local granted = 0
local wait = 0
if tokens >= 1 then granted = math.min(want, math.floor(tokens)); tokens = tokens - granted else wait = math.ceil((1 - tokens) / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate) + 1000)
return {granted, wait}`;

/** Runs TAKE_SCRIPT with EVAL, not a defineCommand'ed EVALSHA: the shared client is built in
 *  l2.ts, which defines its own commands, and a command defined on it after it is in use was
 *  where ioredis's auto-pipeline (on until then) lost track of its replies when a connection
 *  dropped. Redis caches the compiled script by its SHA either way. */
const rateTake = (redis: Redis, key: string, perMs: string, burst: number, want: number) =>
  redis.eval(TAKE_SCRIPT, 1, key, perMs, burst, want) as Promise<[number, number]>;

/** The configured limit of each bucket. */
export function configuredLimits(c: Config = config()): Record<RateBucket, BucketLimit> {
  return {
    post: { perMinute: c.FEED_RATE_POST_PER_MINUTE, burst: c.FEED_RATE_POST_BURST },
    follow: { perMinute: c.FEED_RATE_FOLLOW_PER_MINUTE, burst: c.FEED_RATE_FOLLOW_BURST },
    signup: { perMinute: c.FEED_RATE_SIGNUP_PER_MINUTE, burst: c.FEED_RATE_SIGNUP_BURST },
    vip: { perMinute: c.FEED_RATE_VIP_PER_MINUTE, burst: c.FEED_RATE_VIP_BURST },
    read: { perMinute: c.FEED_RATE_READ_PER_MINUTE, burst: c.FEED_RATE_READ_BURST },
  };
}

/** A container's share of a limit while Redis is unusable; never below one token of burst. */
export function fallbackLimit(limit: BucketLimit, divisor: number): BucketLimit {
  return { perMinute: limit.perMinute / divisor, burst: Math.max(1, Math.floor(limit.burst / divisor)) };
}

export interface RateDecision {
  allowed: boolean;
  /** Whole seconds until a retry can succeed (≥ 1); meaningful when refused. */
  retryAfterSeconds: number;
  /** Which buckets decided: Redis's (shared), a token leased from it earlier, a refusal Redis
   *  gave earlier that still stands, or this container's (fallback). */
  source: 'redis' | 'lease' | 'refused' | 'local';
}

export interface RateLimiterOptions {
  cache?: L2Cache;
  limits?: Record<RateBucket, BucketLimit>;
  fallbackDivisor?: number;
  now?: () => number;
}

/** Keeps `map` within LOCAL_BUCKETS_MAX entries, dropping the least recently set. */
function setBounded<V>(map: Map<string, V>, key: string, value: V): void {
  // Re-inserting keeps the Map in least-recently-used order, so the oldest go first.
  map.delete(key);
  map.set(key, value);
  for (const oldest of map.keys()) {
    if (map.size <= LOCAL_BUCKETS_MAX) break;
    map.delete(oldest);
  }
}

export class RateLimiter {
  private readonly local = new Map<string, BucketState>();
  private readonly leases = new Map<string, { left: number; until: number }>();
  /** Bucket → when this container last took a token from Redis for it (see LEASE). */
  private readonly taken = new Map<string, number>();
  /** Bucket → the Redis take in flight for it. A user's reads in flight together on one container
   *  wait for it and spend its lease: each taking a lease of its own took ten tokens per read (and
   *  each new lease replaced the one before, so the rest lapsed unused). */
  private readonly inFlight = new Map<string, Promise<unknown>>();
  /** Bucket → when Redis's next token comes, after a refusal: until then Redis can only refuse
   *  again (tokens come from refills alone), so a flood costs this container no round trip. */
  private readonly refusals = new Map<string, number>();
  private readonly now: () => number;

  /** Options left out are read on each call (the process-wide L2 client and configuration),
   *  so a limiter outlives a reset of either. */
  constructor(private readonly opts: RateLimiterOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  async take(bucket: RateBucket, subject: string): Promise<RateDecision> {
    const limit = (this.opts.limits ?? configuredLimits())[bucket];
    const key = cacheKeys.rateLimit(bucket, subject);
    for (;;) {
      if (this.takeLeased(key)) return { allowed: true, retryAfterSeconds: 0, source: 'lease' };
      const refused = this.stillRefused(key);
      if (refused !== undefined) return { allowed: false, retryAfterSeconds: retryAfterSeconds(refused), source: 'refused' };
      const pending = LEASE[bucket] > 1 ? this.inFlight.get(key) : undefined;
      if (!pending) break;
      await pending.catch(() => undefined); // its failure is its own: this read then asks for itself
    }
    const perMs = String(limit.perMinute / 60_000);
    // Read before the call: Redis refused no later than now, so the next token is due no later
    // than sentAt + waitMs, and a refusal kept until then never refuses a request Redis would allow.
    const sentAt = this.now();
    const last = this.taken.get(key);
    const want = last !== undefined && sentAt - last < LEASE_MS ? Math.max(1, Math.min(LEASE[bucket], limit.burst)) : 1;
    setBounded(this.taken, key, sentAt);
    const call = (this.opts.cache ?? l2()).command((r) => rateTake(r, key, perMs, limit.burst, want));
    if (LEASE[bucket] > 1) setBounded(this.inFlight, key, call);
    let shared: Awaited<typeof call>;
    try {
      shared = await call;
    } finally {
      if (this.inFlight.get(key) === call) this.inFlight.delete(key);
    }
    if (shared) {
      const [granted, waitMs] = shared;
      if (granted > 1) setBounded(this.leases, key, { left: granted - 1, until: this.now() + LEASE_MS });
      if (granted < 1) setBounded(this.refusals, key, sentAt + waitMs);
      return { allowed: granted >= 1, retryAfterSeconds: retryAfterSeconds(waitMs), source: 'redis' };
    }
    return this.takeLocal(key, fallbackLimit(limit, this.opts.fallbackDivisor ?? config().FEED_RATE_FALLBACK_DIVISOR));
  }

  /** Uses one token leased from Redis earlier, if one is left and still current. */
  private takeLeased(key: string): boolean {
    const lease = this.leases.get(key);
    if (!lease) return false;
    if (lease.left <= 0 || this.now() >= lease.until) {
      this.leases.delete(key);
      return false;
    }
    lease.left--;
    return true;
  }

  /** Milliseconds until the token a kept refusal waits for, or undefined when none stands. */
  private stillRefused(key: string): number | undefined {
    const until = this.refusals.get(key);
    if (until === undefined) return undefined;
    const left = until - this.now();
    if (left > 0) return left;
    this.refusals.delete(key);
    return undefined;
  }

  private takeLocal(key: string, limit: BucketLimit): RateDecision {
    const taken = takeToken(this.local.get(key), this.now(), limit);
    setBounded(this.local, key, taken.state);
    return { allowed: taken.allowed, retryAfterSeconds: retryAfterSeconds(taken.waitMs), source: 'local' };
  }
}

let shared: RateLimiter | undefined;
/** Takes one token of `bucket` for `subject`: undefined when allowed (or, not a promise, when
 *  limits are off), else the refusal. The HTTP edge answers a refusal without throwing: a 429 is an expected answer, and
 *  under a flood it is most answers, so it skips the error path (an Error with its stack, the
 *  error middlewares). */
export function rateLimitRefusal(bucket: RateBucket, subject: string): Promise<RateDecision | undefined> | undefined {
  // Limits off: no promise to await on every request.
  if (config().FEED_RATE_LIMITS === 'off') return undefined;
  shared ??= new RateLimiter();
  return shared.take(bucket, subject).then((decision) => (decision.allowed ? undefined : decision));
}

/** The message of a refusal's 429 body. */
export const refusalMessage = (bucket: RateBucket, decision: RateDecision): string =>
  `too many requests (${bucket}); retry in ${decision.retryAfterSeconds} s`;

/** Takes one token of `bucket` for `subject`, or throws 429 rate_limited with Retry-After. */
export async function enforceRateLimit(bucket: RateBucket, subject: string): Promise<void> {
  const refusal = await rateLimitRefusal(bucket, subject);
  if (refusal) throw new RateLimitedError(refusalMessage(bucket, refusal), refusal.retryAfterSeconds);
}

/** Forgets the process-wide limiter (tests that change the configuration). */
export function resetRateLimiter(): void {
  shared = undefined;
}
