// Rate limits on the real redis-server of the shared test stack: two "containers" (limiters with
// their own Redis connections) take from one bucket; the key expires once the bucket is full
// again; a Redis that cannot be reached falls back to per-container buckets; and the api() hook
// refuses with 429 before the work runs.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cacheKeys } from '../../shared/cache/cache-keys.js';
import { resetConfig } from '../../shared/edge/config.js';
import { api, type HttpResult } from '../../shared/edge/http.js';
import { freePort } from '../../shared/local/engines.js';
import { RATE_BUCKETS, RateLimiter, resetRateLimiter, type BucketLimit, type RateBucket } from '../../shared/edge/rate-limit.js';
import { httpEvent, invokeLambda } from '../support/fixtures-lambda.js';
import { useSharedRedis } from '../support/shared-redis.js';

const redis = useSharedRedis();
const every = (limit: BucketLimit) => Object.fromEntries(RATE_BUCKETS.map((b) => [b, limit])) as Record<RateBucket, BucketLimit>;
/** A 1 s command timeout, so a loaded machine cannot turn a reply into a fallback. */
const relaxed = { commandTimeoutMs: 1_000, connectWaitMs: 1_000 };

const cache = () => redis.l2(relaxed);


describe('token buckets in Redis', () => {
  it('two containers share one bucket: together they get the burst, not twice it', async () => {
    const limits = every({ perMinute: 6, burst: 5 });
    const [a, b] = [new RateLimiter({ cache: cache(), limits }), new RateLimiter({ cache: cache(), limits })];
    const subject = randomUUID();
    const decisions = [];
    for (let i = 0; i < 6; i++) decisions.push(await (i % 2 === 0 ? a : b).take('post', subject));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, true, false]);
    expect(decisions.every((d) => d.source === 'redis')).toBe(true);
    expect(decisions[5]!.retryAfterSeconds).toBe(10); // 6 per minute: a token every 10 s
  });

  it('keeps each bucket and subject apart', async () => {
    const limiter = new RateLimiter({ cache: cache(), limits: every({ perMinute: 1, burst: 1 }) });
    const [alice, bob] = [randomUUID(), randomUUID()];
    expect((await limiter.take('follow', alice)).allowed).toBe(true);
    expect((await limiter.take('follow', alice)).allowed).toBe(false);
    expect((await limiter.take('follow', bob)).allowed).toBe(true);
    expect((await limiter.take('read', alice)).allowed).toBe(true);
  });

  it('lets the key expire once the bucket would be full again', async () => {
    const limiter = new RateLimiter({ cache: cache(), limits: every({ perMinute: 60, burst: 3 }) });
    const subject = randomUUID();
    await limiter.take('vip', subject);
    const ttl = await redis.raw().pttl(cacheKeys.rateLimit('vip', subject));
    // One token short of full at one token a second: 1 s, plus the 1 s margin.
    expect(ttl).toBeGreaterThan(1_000);
    expect(ttl).toBeLessThanOrEqual(2_000);
  });

  it('falls back to this container’s buckets at the divided rate when Redis cannot be reached', async () => {
    const down = redis.l2({ connectWaitMs: 100 }, `redis://127.0.0.1:${await freePort()}`);
    const limiter = new RateLimiter({ cache: down, limits: every({ perMinute: 20, burst: 8 }), fallbackDivisor: 4 });
    const subject = randomUUID();
    const decisions = [];
    for (let i = 0; i < 3; i++) decisions.push(await limiter.take('follow', subject));
    expect(decisions.map((d) => [d.allowed, d.source])).toEqual([
      [true, 'local'],
      [true, 'local'],
      [false, 'local'],
    ]);
  });
});

describe('the api() hook', () => {
  it('refuses a subject past its bucket with 429 before the work runs, and serves another subject', async () => {
    Object.assign(process.env, { FEED_RATE_VIP_PER_MINUTE: '1', FEED_RATE_VIP_BURST: '2' });
    resetConfig();
    resetRateLimiter();
    let ran = 0;
    const handler = api({ auth: true, rateLimit: 'vip' }, async () => {
      ran++;
      return { status: 204 };
    });
    const [alice, bob] = [randomUUID(), randomUUID()];
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push(((await invokeLambda(handler, httpEvent({ method: 'PUT', sub: alice }))) as HttpResult).statusCode);
    const refused = (await invokeLambda(handler, httpEvent({ method: 'PUT', sub: alice }))) as HttpResult;
    const other = (await invokeLambda(handler, httpEvent({ method: 'PUT', sub: bob }))) as HttpResult;

    expect(statuses).toEqual([204, 204, 429]);
    expect(refused.statusCode).toBe(429);
    expect(JSON.parse(refused.body as string).error.code).toBe('rate_limited');
    expect(Number(refused.headers?.['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers?.['retry-after'])).toBeLessThanOrEqual(60);
    expect(other.statusCode).toBe(204);
    expect(ran).toBe(3);
  });
});
