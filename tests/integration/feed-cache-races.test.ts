// Cached pages that must not miss a post (shared/cache/feed-cache.ts against the real
// redis-server): an in-place merge whose outcome is unknown (its reply came after the command
// timeout, or the breaker held Redis off) drops the user's pages instead of leaving them without
// the post, and a warmed page whose generation raced a merge is not stored. Redis is slowed
// deterministically with CLIENT PAUSE WRITE: the paused commands run once the pause ends, after
// their replies have timed out, as on a loaded machine.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { cacheKeys, feedVariant } from '../../shared/cache/cache-keys.js';
import { FeedCache } from '../../shared/cache/feed-cache.js';
import { type L2Cache, type L2Options } from '../../shared/cache/l2.js';
import { until } from '../support/fixtures-wait.js';
import { useOwnRedis } from '../support/shared-redis.js';

/** A server of this file's own: its pauses hold every client of the server. */
const redis = useOwnRedis();
const SEVEN = feedVariant(7);
const DEFAULT = feedVariant(20);
/** Longer than the fast clients' 50 ms command timeout, short enough to keep the tests quick. */
const PAUSE_MS = 300;
const newUser = () => `u-${randomUUID()}`;

/** The Redis client of the latest container(). */
let lastL2: L2Cache | undefined;
/** One "container" with its own L1 and Redis client, connected; `l2` options as in production
 *  (a 50 ms command timeout) where a test needs replies to time out. */
async function container(l2Opts: L2Options = { commandTimeoutMs: 1_000 }): Promise<FeedCache> {
  const l2 = (lastL2 = redis.l2({ connectWaitMs: 1_000, ...l2Opts }));
  expect(await l2.connect(), 'connected to the test Redis').toBe(true);
  return new FeedCache({ l2 });
}

const generator = (value: string | (() => string), ms = 1) => async () => {
  const read = typeof value === 'function' ? value() : value;
  await sleep(ms);
  return read;
};

/** A one-shot signal, to act at a known point of a generation instead of after a guessed sleep. */
function signal() {
  let fire = () => {};
  const fired = new Promise<void>((resolve) => (fire = resolve));
  return { fired, fire: () => fire() };
}

/** Holds every write command (scripts included) of every client of this file's server for
 *  PAUSE_MS; reads still run. */
const pauseWrites = () => redis.raw().call('CLIENT', 'PAUSE', String(PAUSE_MS), 'WRITE');
const cachedPage = (user: string, variant: string) => redis.raw().hget(cacheKeys.feedPages(user), variant);


describe('in-place merges whose outcome is unknown', () => {
  it('drops the pages when the merge’s replies come after the timeout, so none is left without the post', async () => {
    const user = newUser();
    const cache = await container({ commandTimeoutMs: 50 });
    await cache.getOrGenerate(user, SEVEN, generator('without-post'));
    expect(await cachedPage(user, SEVEN)).toBe('without-post');

    await pauseWrites();
    await cache.update(user, () => 'with-post'); // fan-out merging a new post; replies time out

    // Once the pause ends, the held commands run: the page must not stay without the post.
    await until(async () => (await cachedPage(user, SEVEN)) !== 'without-post', { timeoutMs: 3_000, what: 'the stale page gone' });
    expect(cache.stats().updatesDropped).toBe(1);
    const fresh = await (await container()).getOrGenerate(user, SEVEN, generator('regenerated'));
    expect(fresh.value).not.toBe('without-post');
  });

  it('drops the pages when the breaker holds Redis off during the merge', async () => {
    const user = newUser();
    const cache = await container({ commandTimeoutMs: 50, failureThreshold: 1, coolDownMs: 60_000 });
    await cache.getOrGenerate(user, SEVEN, generator('without-post'));
    const l2 = lastL2!;
    // A slow Redis: one write whose reply comes too late opens this client's breaker.
    await pauseWrites();
    await l2.set(`probe:{${user}}`, '1', 60);
    expect(l2.breakerState()).toBe('open');
    await until(async () => (await redis.raw().exists(`probe:{${user}}`)) === 1, { timeoutMs: 3_000, what: 'the pause over' });

    await cache.update(user, () => 'with-post');

    expect(await cachedPage(user, SEVEN)).toBeNull();
    expect(cache.stats().updatesDropped).toBe(1);
  });

  it('still edits pages in place when Redis answers in time', async () => {
    const user = newUser();
    const cache = await container({ commandTimeoutMs: 1_000 });
    await cache.getOrGenerate(user, SEVEN, generator('without-post'));
    await cache.update(user, () => 'with-post');
    expect(await cachedPage(user, SEVEN)).toBe('with-post');
    expect(cache.stats().updatesDropped).toBe(0);
  });
});

describe('warming a page while posts arrive', () => {
  it('does not store a warmed page whose generation started before a post was merged', async () => {
    const user = newUser();
    const warmer = await container();
    const fanOut = await container();
    const started = signal();
    const slowGeneration = generator(() => {
      started.fire();
      return 'without-post'; // what DynamoDB held when the generation read it
    }, 150);

    const warming = warmer.warm(user, DEFAULT, slowGeneration);
    await started.fired;
    await fanOut.update(user, () => 'with-post'); // the post lands; no page to edit yet

    expect(await warming).toBe(false);
    expect(await cachedPage(user, DEFAULT)).toBeNull();
    expect((await warmer.getOrGenerate(user, DEFAULT, generator('with-post'))).value).toBe('with-post');
  });

  it('stores a warmed page when nothing changed during its generation', async () => {
    const user = newUser();
    const warmer = await container();
    expect(await warmer.warm(user, DEFAULT, generator('current', 20))).toBe(true);
    expect(await cachedPage(user, DEFAULT)).toBe('current');
    expect(await warmer.getOrGenerate(user, DEFAULT, generator('other'))).toEqual({ value: 'current', tier: 'l1' });
  });
});
