// Token-bucket arithmetic (shared/edge/rate-limit.ts) on a fake clock, the per-container fallback
// used while Redis is unusable, and the 429 the HTTP edge answers with Retry-After.
import { describe, expect, it } from 'vitest';
import { createL2, type L2Cache } from '../../shared/cache/l2.js';
import { RateLimitedError, retryAfterSeconds } from '../../shared/domain/errors.js';
import { api, type HttpResult } from '../../shared/edge/http.js';
import {
  fallbackLimit,
  LEASE,
  LEASE_MS,
  LOCAL_BUCKETS_MAX,
  RateLimiter,
  RATE_BUCKETS,
  takeToken,
  type BucketLimit,
  type BucketState,
} from '../../shared/edge/rate-limit.js';
import { httpEvent, invokeLambda } from '../support/fixtures-lambda.js';

const limit: BucketLimit = { perMinute: 6, burst: 3 }; // one token every 10 s

/** Takes `n` times at `now`, threading the state; → how many were allowed, and the last take. */
function takeMany(n: number, now: number, state?: BucketState) {
  let allowed = 0;
  let last = takeToken(state, now, limit);
  if (last.allowed) allowed++;
  for (let i = 1; i < n; i++) {
    last = takeToken(last.state, now, limit);
    if (last.allowed) allowed++;
  }
  return { allowed, last };
}

describe('token bucket arithmetic', () => {
  it('allows a full burst at once, then refuses with the wait until the next token', () => {
    const { allowed, last } = takeMany(5, 1_000);
    expect(allowed).toBe(3);
    expect(last.allowed).toBe(false);
    expect(last.waitMs).toBe(10_000);
  });

  it('refills at the per-minute rate: one more request every 60 s / rate', () => {
    const empty = takeMany(3, 0).last.state;
    expect(takeToken(empty, 9_999, limit).allowed).toBe(false);
    const refilled = takeToken(empty, 10_000, limit);
    expect(refilled.allowed).toBe(true);
    expect(takeToken(refilled.state, 10_000, limit).waitMs).toBe(10_000);
  });

  it('tells the remaining wait of a partly refilled bucket', () => {
    const empty = takeMany(3, 0).last.state;
    expect(takeToken(empty, 7_500, limit).waitMs).toBe(2_500);
  });

  it('never holds more than the burst, however long the bucket was idle', () => {
    const empty = takeMany(3, 0).last.state;
    expect(takeMany(10, 86_400_000, empty).allowed).toBe(3);
  });

  it('does not refill when the clock goes backwards', () => {
    const empty = takeMany(3, 50_000).last.state;
    expect(takeToken(empty, 10_000, limit).allowed).toBe(false);
  });

  it('turns any wait into whole seconds, at least 1', () => {
    expect([0, 1, 999, 1_000, 1_001, 10_000].map(retryAfterSeconds)).toEqual([1, 1, 1, 1, 2, 10]);
  });
});

describe('fallback without Redis', () => {
  it('divides rate and burst by the fallback divisor, keeping at least one token of burst', () => {
    expect(fallbackLimit({ perMinute: 20, burst: 40 }, 4)).toEqual({ perMinute: 5, burst: 10 });
    expect(fallbackLimit({ perMinute: 5, burst: 2 }, 4)).toEqual({ perMinute: 1.25, burst: 1 });
  });

  it('limits each subject on its own in this container at the divided rate', async () => {
    let now = 0;
    const limits = Object.fromEntries(RATE_BUCKETS.map((b) => [b, { perMinute: 20, burst: 8 }])) as Record<(typeof RATE_BUCKETS)[number], BucketLimit>;
    const limiter = new RateLimiter({ cache: createL2(undefined), limits, fallbackDivisor: 4, now: () => now });
    const a = await Promise.all(Array.from({ length: 4 }, () => limiter.take('follow', 'alice')));
    expect(a.map((d) => d.allowed)).toEqual([true, true, false, false]);
    expect(a[2]).toMatchObject({ source: 'local', retryAfterSeconds: 12 }); // 5 per minute: 12 s a token
    expect((await limiter.take('follow', 'bob')).allowed).toBe(true);
    expect((await limiter.take('post', 'alice')).allowed).toBe(true);
    now = 12_000;
    expect((await limiter.take('follow', 'alice')).allowed).toBe(true);
  });

  it(`forgets the least recently used buckets past ${LOCAL_BUCKETS_MAX}, which then read as full`, async () => {
    const limits = Object.fromEntries(RATE_BUCKETS.map((b) => [b, { perMinute: 1, burst: 1 }])) as Record<(typeof RATE_BUCKETS)[number], BucketLimit>;
    const limiter = new RateLimiter({ cache: createL2(undefined), limits, fallbackDivisor: 1, now: () => 0 });
    expect((await limiter.take('read', 'first')).allowed).toBe(true);
    expect((await limiter.take('read', 'first')).allowed).toBe(false);
    for (let i = 0; i < LOCAL_BUCKETS_MAX; i++) await limiter.take('read', `other-${i}`);
    expect((await limiter.take('read', 'first')).allowed).toBe(true);
  });
});

describe('429 at the HTTP edge', () => {
  it('maps a RateLimitedError to 429 rate_limited with its Retry-After', async () => {
    const handler = api({ auth: true, rateLimit: 'post' }, async () => {
      throw new RateLimitedError('too many requests (post); retry in 7 s', 7);
    });
    const res = (await invokeLambda(handler, httpEvent({ method: 'POST', sub: 'u1' }))) as HttpResult;
    expect(res.statusCode).toBe(429);
    expect(res.headers?.['retry-after']).toBe('7');
    expect(JSON.parse(res.body as string).error.code).toBe('rate_limited');
  });
});

describe('read tokens leased from the shared bucket', () => {
  /** A stand-in for Redis running TAKE_SCRIPT's arithmetic (takeToken mirrors it), counting calls. */
  function sharedBuckets(now: () => number) {
    const buckets = new Map<string, BucketState>();
    let calls = 0;
    const redis = {
      eval: async (_script: string, _keys: number, key: string, perMs: string, burst: number, want: number) => {
        calls++;
        const taken = takeToken(buckets.get(key), now(), { perMinute: Number(perMs) * 60_000, burst }, want);
        buckets.set(key, taken.state);
        return [taken.granted, taken.waitMs];
      },
    };
    const cache = { command: async <T>(fn: (r: typeof redis) => Promise<T>) => fn(redis) } as unknown as L2Cache;
    return { cache, calls: () => calls };
  }
  const limits = Object.fromEntries(RATE_BUCKETS.map((b) => [b, { perMinute: 60, burst: 25 }])) as Record<(typeof RATE_BUCKETS)[number], BucketLimit>;

  it(`asks Redis once per ${LEASE.read} reads of a user this container serves again, and refuses once the shared bucket is spent`, async () => {
    const shared = sharedBuckets(() => 0);
    const limiter = new RateLimiter({ cache: shared.cache, limits, now: () => 0 });

    const decisions = [];
    for (let i = 0; i < 26; i++) decisions.push(await limiter.take('read', 'alice'));

    expect(decisions.filter((d) => d.allowed)).toHaveLength(25);
    expect(decisions.map((d) => d.source).slice(0, 3)).toEqual(['redis', 'redis', 'lease']);
    expect(decisions[25]).toMatchObject({ allowed: false, source: 'redis', retryAfterSeconds: 1 });
    expect(shared.calls()).toBe(5); // 1, then 10 + 10 + 4 leased, then the refusal
  });

  it('takes one token for a user this container has not served lately: reads spread over containers get the whole burst', async () => {
    // Lambda runs one request per environment, so a user's reads land on different containers;
    // a lease taken on each would lapse unused and spend the burst ten times as fast.
    const shared = sharedBuckets(() => 0);
    const containers = Array.from({ length: 26 }, () => new RateLimiter({ cache: shared.cache, limits, now: () => 0 }));

    const decisions = [];
    for (const c of containers) decisions.push(await c.take('read', 'alice'));

    expect(decisions.filter((d) => d.allowed)).toHaveLength(25);
    expect(decisions[25]).toMatchObject({ allowed: false, source: 'redis' });
  });

  it('shares one Redis take among a user\'s reads in flight together: the lease serves them all, none is taken twice', async () => {
    const shared = sharedBuckets(() => 0);
    const limiter = new RateLimiter({ cache: shared.cache, limits, now: () => 0 }); // burst 25
    await limiter.take('read', 'alice'); // served lately: the next take leases

    const together = await Promise.all(Array.from({ length: LEASE.read }, () => limiter.take('read', 'alice')));

    expect(together.every((d) => d.allowed)).toBe(true);
    expect(shared.calls()).toBe(2); // the first read's token, then one lease for the ten
    // 25 − 1 − 10 = 14 tokens are left for what follows.
    const after = [];
    for (let i = 0; i < 15; i++) after.push(await limiter.take('read', 'alice'));
    expect(after.filter((d) => d.allowed)).toHaveLength(14);
  });

  it('takes write tokens one at a time', async () => {
    const shared = sharedBuckets(() => 0);
    const limiter = new RateLimiter({ cache: shared.cache, limits, now: () => 0 });

    for (let i = 0; i < 5; i++) await limiter.take('post', 'alice');

    expect(shared.calls()).toBe(5);
  });

  it('after a refusal, refuses without asking Redis until the next token is due, then asks again', async () => {
    let now = 0;
    const shared = sharedBuckets(() => now);
    const perSecond = Object.fromEntries(RATE_BUCKETS.map((b) => [b, { perMinute: 60, burst: 1 }])) as typeof limits;
    const limiter = new RateLimiter({ cache: shared.cache, limits: perSecond, now: () => now });
    await limiter.take('post', 'alice');
    const refused = await limiter.take('post', 'alice');

    const flood = [];
    for (let i = 0; i < 50; i++) flood.push(await limiter.take('post', 'alice'));
    const others = await limiter.take('post', 'bob');
    now = 1_000;
    const due = await limiter.take('post', 'alice');

    expect(refused).toMatchObject({ allowed: false, source: 'redis', retryAfterSeconds: 1 });
    expect(flood.every((d) => !d.allowed && d.source === 'refused' && d.retryAfterSeconds === 1)).toBe(true);
    expect(others).toMatchObject({ allowed: true, source: 'redis' });
    expect(due).toMatchObject({ allowed: true, source: 'redis' });
    expect(shared.calls()).toBe(4); // alice's first, her refusal, bob, and alice once her token is due
  });

  it(`lets leased tokens lapse after ${LEASE_MS} ms`, async () => {
    let now = 0;
    const shared = sharedBuckets(() => now);
    const limiter = new RateLimiter({ cache: shared.cache, limits, now: () => now });
    await limiter.take('read', 'alice');
    await limiter.take('read', 'alice'); // served again: leases
    expect((await limiter.take('read', 'alice')).source).toBe('lease');
    now = LEASE_MS;

    expect((await limiter.take('read', 'alice')).source).toBe('redis');
    expect(shared.calls()).toBe(3);
  });
});
