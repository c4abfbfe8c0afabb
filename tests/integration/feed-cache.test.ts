// The feed cache (shared/cache/feed-cache.ts) against the real redis-server: tiers in order
// L1 → L2 → generate, one generation for concurrent cold readers in a container and across two
// "containers" (two FeedCache instances, each with its own L1 and Redis client), invalidation of
// both tiers, pages edited or dropped in place, and DynamoDB-only service when Redis is unreachable.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { cacheKeys, feedVariant } from '../../shared/cache/cache-keys.js';
import { FeedCache, type CachedFeed, type FeedCacheOptions } from '../../shared/cache/feed-cache.js';
import { createL2, L2Cache } from '../../shared/cache/l2.js';
import { freePort } from '../../shared/local/engines.js';
import { useSharedRedis } from '../support/shared-redis.js';

const redis = useSharedRedis();
const FIRST = feedVariant(20);
const newUser = () => `u-${randomUUID()}`;

/**
 * One "container": its own L1 and its own Redis client, connected. Tier logic is not a timing
 * test: these clients get a 1 s command timeout, so a loaded machine cannot turn a hit into a
 * miss; l2-cache.test.ts tests the 50 ms bound and the breaker.
 */
async function container(opts: Omit<FeedCacheOptions, 'l2'> & { redisUrl?: string } = {}): Promise<FeedCache> {
  const l2 = redis.l2({ commandTimeoutMs: 1_000, connectWaitMs: 1_000 }, opts.redisUrl);
  if (!opts.redisUrl) expect(await l2.connect(), 'connected to the test Redis').toBe(true);
  return new FeedCache({ ...opts, l2 });
}

/** A generator that counts its calls and takes `ms` to answer, like a DynamoDB read: the value
 *  is what the "database" held when the call started. */
function generator(value: string | (() => string), ms = 50) {
  const gen = Object.assign(
    async () => {
      gen.calls++;
      const read = typeof value === 'function' ? value() : value;
      await sleep(ms);
      return read;
    },
    { calls: 0 },
  );
  return gen;
}

/** A one-shot signal, to act at a known point of a generation instead of after a guessed sleep. */
function signal() {
  let fire = () => {};
  const fired = new Promise<void>((resolve) => (fire = resolve));
  return { fired, fire: () => fire() };
}


describe('feed cache tiers', () => {
  it('generates a cold page once, then serves it from L1, and another container from L2', async () => {
    const user = newUser();
    const a = await container();
    const b = await container();
    const gen = generator('page-1');

    expect(await a.getOrGenerate(user, FIRST, gen)).toEqual({ value: 'page-1', tier: 'generated' });
    expect(await a.getOrGenerate(user, FIRST, gen)).toEqual({ value: 'page-1', tier: 'l1' });
    expect(await b.getOrGenerate(user, FIRST, gen)).toEqual({ value: 'page-1', tier: 'l2' });
    expect(await b.getOrGenerate(user, FIRST, gen)).toEqual({ value: 'page-1', tier: 'l1' });
    expect(gen.calls).toBe(1);
    expect(await redis.raw().hget(cacheKeys.feedPages(user), FIRST)).toBe('page-1');
    expect(a.stats()).toMatchObject({ l1: { hits: 1, misses: 1 }, l2: { hits: 0, misses: 1 }, generated: 1 });
    expect(b.stats()).toMatchObject({ l1: { hits: 1, misses: 1 }, l2: { hits: 1, misses: 0 }, generated: 0 });
  });

  it('keeps in L1 the string the caller already holds for an L2 hit, not the copy Redis sent', async () => {
    const user = newUser();
    await (await container()).put(user, FIRST, 'page-1');
    const b = await container();
    // A stand-in that can be told apart: the product's (home-feed.ts) returns an equal string.
    const given: (string | Buffer)[] = [];
    const held = (value: string | Buffer) => {
      given.push(value);
      return value.toString() === 'page-1' ? 'page-1 as held' : value.toString();
    };
    expect(await b.getOrGenerate(user, FIRST, generator('generated'), held)).toEqual({ value: 'page-1 as held', tier: 'l2' });
    expect(await b.getOrGenerate(user, FIRST, generator('generated'))).toEqual({ value: 'page-1 as held', tier: 'l1' });
    const c = await container();
    expect(await c.peek(user, FIRST, held)).toEqual({ value: 'page-1 as held', tier: 'l2' });
    expect(await c.peek(user, FIRST)).toEqual({ value: 'page-1 as held', tier: 'l1' });
    // A plain HGET's reply reaches it as the bytes Redis sent (nothing decoded for a page the
    // caller holds); a script's (the first read, which also takes the lock on a miss) as a string.
    expect(given.map((v) => (Buffer.isBuffer(v) ? 'bytes' : 'string'))).toEqual(['string', 'bytes']);
  });

  it('writes through both tiers with put()', async () => {
    const user = newUser();
    const a = await container();
    const gen = generator('generated');
    await a.put(user, FIRST, 'warmed');
    expect(await a.getOrGenerate(user, FIRST, gen)).toEqual({ value: 'warmed', tier: 'l1' });
    expect(await (await container()).getOrGenerate(user, FIRST, gen)).toEqual({ value: 'warmed', tier: 'l2' });
    expect(gen.calls).toBe(0);
  });

  it('serves another container\'s L1 copy until its TTL, then the fresh page from L2', async () => {
    let now = 0;
    const user = newUser();
    const writer = await container();
    const reader = await container({ l1: { ttlMs: 60_000, now: () => now } });
    await writer.put(user, FIRST, 'old');
    expect(await reader.getOrGenerate(user, FIRST, generator('x'))).toEqual({ value: 'old', tier: 'l2' });

    await writer.invalidate(user);
    await writer.put(user, FIRST, 'new');
    expect(await reader.getOrGenerate(user, FIRST, generator('x'))).toEqual({ value: 'old', tier: 'l1' });
    now += 60_000; // the bound on cross-container L1 staleness
    expect(await reader.getOrGenerate(user, FIRST, generator('x'))).toEqual({ value: 'new', tier: 'l2' });
  });
});

describe('feed cache coalescing', () => {
  it('makes 20 concurrent cold reads in one container call generate() once', async () => {
    const user = newUser();
    const cache = await container();
    const gen = generator('page', 100);
    const results = await Promise.all(Array.from({ length: 20 }, () => cache.getOrGenerate(user, FIRST, gen)));
    expect(gen.calls).toBe(1);
    expect(new Set(results.map((r) => r.value))).toEqual(new Set(['page']));
    expect(cache.stats()).toMatchObject({ generated: 1, coalesced: 19, l2: { misses: 1 } });
  });

  it('makes concurrent cold reads in two containers call generate() once, through the Redis lock', async () => {
    const user = newUser();
    const a = await container();
    const b = await container();
    const genA = generator('from-a', 200);
    const genB = generator('from-b', 200);
    const reads = [
      ...Array.from({ length: 10 }, () => a.getOrGenerate(user, FIRST, genA)),
      ...Array.from({ length: 10 }, () => b.getOrGenerate(user, FIRST, genB)),
    ];
    const results = await Promise.all(reads);

    expect(genA.calls + genB.calls).toBe(1);
    const winner = genA.calls === 1 ? 'from-a' : 'from-b';
    expect(results.every((r) => r.value === winner)).toBe(true);
    const [holder, waiter] = genA.calls === 1 ? [a, b] : [b, a];
    expect(holder.stats()).toMatchObject({ generated: 1, lockWaits: 0 });
    expect(waiter.stats()).toMatchObject({ generated: 0, lockWaits: 1, lockWaitTimeouts: 0 });
    expect(results.filter((r) => r.tier === 'l2')).toHaveLength(10); // the waiter's readers
    expect(await redis.raw().exists(cacheKeys.feedLock(user, FIRST))).toBe(0);
  });

  it('generates after the lock expires when its holder never writes', async () => {
    const user = newUser();
    await redis.raw().set(cacheKeys.feedLock(user, FIRST), 'a-dead-container', 'PX', 300);
    const cache = await container();
    const gen = generator('page', 10);
    const started = Date.now();
    expect(await cache.getOrGenerate(user, FIRST, gen)).toEqual({ value: 'page', tier: 'generated' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(gen.calls).toBe(1);
    expect(cache.stats()).toMatchObject({ lockWaits: 1 });
    expect(await redis.raw().hget(cacheKeys.feedPages(user), FIRST)).toBe('page');
  });

  it('hands a failed generation to every waiting reader, frees the lock, and tries again next time', async () => {
    const user = newUser();
    const cache = await container();
    const failing = Object.assign(
      async () => {
        failing.calls++;
        await sleep(20);
        throw new Error('DynamoDB throttled');
      },
      { calls: 0 },
    );
    const reads = Array.from({ length: 5 }, () => cache.getOrGenerate(user, FIRST, failing));
    const settled = await Promise.allSettled(reads);
    expect(settled.every((s) => s.status === 'rejected')).toBe(true);
    expect(failing.calls).toBe(1);
    expect(await redis.raw().exists(cacheKeys.feedLock(user, FIRST))).toBe(0);
    expect(await cache.getOrGenerate(user, FIRST, generator('page', 1))).toEqual({ value: 'page', tier: 'generated' });
  });
});

describe('feed cache invalidation', () => {
  it('removes every variant of the user from L1 and L2, and no other user\'s', async () => {
    const user = newUser();
    const other = newUser();
    const cache = await container();
    let version = 1;
    const gen = generator(() => `v${version}`, 1);
    for (const variant of [feedVariant(20), feedVariant(50)]) await cache.getOrGenerate(user, variant, gen);
    await cache.getOrGenerate(other, FIRST, gen);
    expect(await redis.raw().hlen(cacheKeys.feedPages(user))).toBe(2);

    version = 2;
    await cache.invalidate(user);

    expect(await redis.raw().exists(cacheKeys.feedPages(user))).toBe(0);
    expect(await cache.getOrGenerate(user, feedVariant(20), gen)).toEqual({ value: 'v2', tier: 'generated' });
    expect(await cache.getOrGenerate(user, feedVariant(50), gen)).toEqual({ value: 'v2', tier: 'generated' });
    expect(await cache.getOrGenerate(other, FIRST, gen)).toEqual({ value: 'v1', tier: 'l1' });
  });

  it('drops a page an update returns null for, edits the others in place and leaves the rest', async () => {
    const user = newUser();
    const cache = await container();
    const gen = generator('v1', 1);
    for (const variant of [feedVariant(5), feedVariant(20), feedVariant(50)]) await cache.getOrGenerate(user, variant, gen);
    const outcome = await cache.update(user, (variant) => (variant === feedVariant(5) ? null : variant === feedVariant(20) ? 'v2' : undefined));
    expect(outcome).toBe('edited');
    expect(await redis.raw().hkeys(cacheKeys.feedPages(user))).toEqual(expect.arrayContaining([feedVariant(20), feedVariant(50)]));
    expect(await redis.raw().hexists(cacheKeys.feedPages(user), feedVariant(5))).toBe(0);
    expect(await cache.getOrGenerate(user, feedVariant(20), gen)).toEqual({ value: 'v2', tier: 'l2' });
    expect(await cache.getOrGenerate(user, feedVariant(50), gen)).toEqual({ value: 'v1', tier: 'l2' });
    expect(await cache.getOrGenerate(user, feedVariant(5), generator('v3', 1))).toEqual({ value: 'v3', tier: 'generated' });
  });

  it('does not cache a page whose generation started before an invalidation', async () => {
    const user = newUser();
    const a = await container();
    const b = await container();
    let version = 1;
    const started = signal();
    const gen = generator(() => {
      started.fire();
      return `v${version}`;
    }, 150);

    const racing = a.getOrGenerate(user, FIRST, gen); // reads v1 "from DynamoDB"
    await started.fired;
    await b.invalidate(user); // a new post lands: the page being generated is already stale
    version = 2;
    expect(await racing).toEqual({ value: 'v1', tier: 'generated' }); // its reader asked earlier

    expect(await redis.raw().hget(cacheKeys.feedPages(user), FIRST)).toBeNull();
    expect(await b.getOrGenerate(user, FIRST, gen)).toEqual({ value: 'v2', tier: 'generated' });
    expect(await (await container()).getOrGenerate(user, FIRST, gen)).toEqual({ value: 'v2', tier: 'l2' });
    expect(a.stats().l2WritesSkipped).toBe(1);
  });

  it('lets reads after an in-container invalidation start a fresh load instead of joining the stale one', async () => {
    const user = newUser();
    const cache = await container();
    let version = 1;
    const started = signal();
    const gen = generator(() => {
      started.fire();
      return `v${version}`;
    }, 100);
    const stale = cache.getOrGenerate(user, FIRST, gen);
    await started.fired;
    version = 2;
    await cache.invalidate(user);
    const fresh = cache.getOrGenerate(user, FIRST, gen);
    expect((await stale).value).toBe('v1');
    expect((await fresh).value).toBe('v2');
    expect(await cache.getOrGenerate(user, FIRST, gen)).toEqual({ value: 'v2', tier: 'l1' });
  });
});

describe('feed cache without Redis', () => {
  it('answers from generate() quickly when Redis is unreachable, and still coalesces', async () => {
    const port = await freePort(); // nothing listens here
    const cache = await container({ redisUrl: `redis://127.0.0.1:${port}` });
    const user = newUser();
    const gen = generator('page', 20);
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 10 }, () => cache.getOrGenerate(user, FIRST, gen)));
    expect(Date.now() - started).toBeLessThan(500);
    expect(results.every((r) => r.value === 'page' && r.tier === 'generated')).toBe(true);
    expect(gen.calls).toBe(1);
    expect(await cache.getOrGenerate(user, FIRST, gen)).toEqual({ value: 'page', tier: 'l1' });
  });

  it('warms nothing while Redis cannot keep a page: no generation, and no list of pages to warm', async () => {
    const port = await freePort(); // nothing listens here
    const cache = await container({ redisUrl: `redis://127.0.0.1:${port}` });
    const gen = generator('page', 1);
    expect(await cache.warm(newUser(), FIRST, gen, { reader: true })).toBe(false);
    expect(gen.calls).toBe(0);
    expect(await cache.uncached([newUser(), newUser()], FIRST)).toBeUndefined();
    expect(cache.stats()).toMatchObject({ warmed: 0, warmsSkipped: 1 });
    // The Redis tier off: the same (no reader in another container could read the page).
    const off = new FeedCache({ l2: createL2(undefined) });
    expect(await off.warm(newUser(), FIRST, gen)).toBe(false);
    expect(gen.calls).toBe(0);
  });

  it('warms a page once Redis answers, and lists only the pages that are gone', async () => {
    const cache = await container();
    const [kept, gone] = [newUser(), newUser()];
    const gen = generator('page', 1);
    expect(await cache.warm(kept, FIRST, gen, { reader: true })).toBe(true);
    expect(gen.calls).toBe(1);
    expect(await cache.uncached([kept, gone], FIRST)).toEqual([gone]);
    expect(cache.stats()).toMatchObject({ warmed: 1, warmsSkipped: 0 });
  });

  it('works with the Redis tier off', async () => {
    const cache = new FeedCache({ l2: createL2(undefined) });
    const user = newUser();
    const gen = generator('page', 1);
    expect(await cache.getOrGenerate(user, FIRST, gen)).toEqual({ value: 'page', tier: 'generated' });
    expect(await cache.getOrGenerate(user, FIRST, gen)).toEqual({ value: 'page', tier: 'l1' });
    await cache.invalidate(user);
    expect(await cache.getOrGenerate(user, FIRST, gen)).toEqual({ value: 'page', tier: 'generated' });
  });
  it('updates cached pages in place, and a load that read the old page meanwhile keeps no copy', async () => {
    /** An L2 whose reads and replacements can be held at a known point. */
    class GatedL2 extends L2Cache {
      afterRead?: () => Promise<void>;
      beforeReplace?: () => Promise<void>;
      override async readFeed(...args: Parameters<L2Cache['readFeed']>) {
        const read = await super.readFeed(...args);
        await this.afterRead?.();
        return read;
      }
      override async replaceFeeds(...args: Parameters<L2Cache['replaceFeeds']>) {
        await this.beforeReplace?.();
        return super.replaceFeeds(...args);
      }
    }
    const user = newUser();
    const l2 = redis.track(new GatedL2(redis.url, { commandTimeoutMs: 1_000, connectWaitMs: 1_000 }));
    expect(await l2.connect()).toBe(true);
    const cache = new FeedCache({ l2 });
    await l2.writeFeed(user, FIRST, 'v1');
    const gen = generator('generated');

    // A reader's load starts after the update began and reads v1 from L2 before v2 replaces it.
    const readDone = signal();
    const release = signal();
    let reader: Promise<CachedFeed> | undefined;
    l2.beforeReplace = async () => {
      l2.beforeReplace = undefined;
      l2.afterRead = async () => {
        l2.afterRead = undefined;
        readDone.fire();
        await release.fired;
      };
      reader = cache.getOrGenerate(user, FIRST, gen);
      await readDone.fired;
    };
    await cache.update(user, (variant, value) => (variant === FIRST && value === 'v1' ? 'v2' : undefined));
    release.fire();
    expect(await reader).toEqual({ value: 'v1', tier: 'l2' }); // its reader asked earlier
    expect(await cache.getOrGenerate(user, FIRST, gen)).toEqual({ value: 'v2', tier: 'l2' });
    expect(await cache.getOrGenerate(user, FIRST, gen)).toEqual({ value: 'v2', tier: 'l1' });
    expect(gen.calls).toBe(0);
  });
});
