// L2 (shared/cache/l2.ts) against real redis-server: the shared one the global setup started for
// reads, writes, TTLs and locks, and one of this file's own that it kills mid-run and restarts, to
// prove that a down Redis costs misses (fast, no throw), opens the breaker, and is used again.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createConnection } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cacheKeys, FEED_L2_ACTIVE_TTL_SECONDS, FEED_L2_HEAD_TTL_SECONDS, FEED_L2_TTL_SECONDS } from '../../shared/cache/cache-keys.js';
import { WINDOW_HEAD, type Intern } from '../../shared/cache/window.js';
import { CircuitBreaker, createL2, type L2Cache } from '../../shared/cache/l2.js';
import { answerBy } from '../../shared/edge/deadline.js';
import { freePort, which } from '../../shared/local/engines.js';
import { until } from '../support/fixtures-wait.js';

const url = process.env.REDIS_URL ?? '';
const run = randomUUID().slice(0, 8);
const key = (name: string) => `test:l2:${run}:${name}`;

let raw: Redis;
let cache: L2Cache;
const extra: L2Cache[] = [];

/** Behaviour tests get a 1 s command timeout, so a loaded machine cannot turn a reply into a
 *  miss; the 50 ms bound is what the Redis-down tests below measure. */
const relaxed = { commandTimeoutMs: 1_000, connectWaitMs: 1_000 };

beforeAll(async () => {
  expect(url, 'the global setup provides REDIS_URL').toMatch(/^redis:\/\//);
  raw = new Redis(url);
  cache = createL2(url, relaxed);
  expect(await cache.connect()).toBe(true);
});

afterAll(async () => {
  await Promise.all([cache.close(), ...extra.map((c) => c.close())]);
  raw.disconnect();
});

/** A MONITOR connection, its 'error' listener attached before it connects. Monitor lines can
 *  reach the client before ioredis has switched it to monitor mode (right behind MONITOR's OK,
 *  when other files keep Redis busy) or after it disconnects; ioredis reports each as an 'error'
 *  event ("Command queue state error"), unhandled without a listener, which failed the run now and
 *  then. ioredis's own monitor() attaches its listener too late for the first case. */
async function monitorRedis(): Promise<Redis> {
  const monitor = raw.duplicate({ monitor: true, lazyConnect: true });
  monitor.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    monitor.once('monitoring', () => resolve());
    monitor.connect().catch(reject);
  });
  return monitor;
}

describe('L2 get, set and del', () => {
  it('reads back what it wrote, with the TTL it was given', async () => {
    expect(await cache.set(key('a'), 'page-a', FEED_L2_TTL_SECONDS)).toBe(true);
    expect(await cache.get(key('a'))).toBe('page-a');
    const ttl = await raw.ttl(key('a'));
    expect(ttl).toBeGreaterThan(FEED_L2_TTL_SECONDS - 5);
    expect(ttl).toBeLessThanOrEqual(FEED_L2_TTL_SECONDS);
  });

  it('misses an absent key and counts hits and misses', async () => {
    const l2 = createL2(url, relaxed);
    extra.push(l2);
    await l2.set(key('b'), 'page-b', 60);
    expect(await l2.get(key('b'))).toBe('page-b');
    expect(await l2.get(key('absent'))).toBeUndefined();
    expect(l2.stats()).toEqual({ hits: 1, misses: 1, errors: 0, shortCircuited: 0, breakerOpen: false });
  });

  /** A fresh L2 and a count of the writes its socket makes. */
  async function countingWrites(): Promise<{ l2: L2Cache; writes: () => number; reset: () => void }> {
    const l2 = createL2(url, relaxed);
    extra.push(l2);
    expect(await l2.connect()).toBe(true);
    const stream = (l2 as unknown as { client: Redis }).client.stream as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
    let writes = 0;
    for (const name of ['_write', '_writev'] as const) {
      const original = stream[name];
      stream[name] = function (this: unknown, ...args: unknown[]) {
        writes++;
        return original.apply(this, args);
      };
    }
    return { l2, writes: () => writes, reset: () => (writes = 0) };
  }

  it('sends the first command of a turn of the event loop at once and the rest of the turn in one write', async () => {
    const { l2, writes, reset } = await countingWrites();
    const values = await Promise.all(Array.from({ length: 20 }, (_, i) => l2.get(key(`turn-${i}`))));
    expect(values).toEqual(Array.from({ length: 20 }, () => undefined));
    expect(writes()).toBe(2);
    // A lone command is not held for the turn: written before the call returns to the loop.
    reset();
    const lone = l2.get(key('lone'));
    await new Promise((r) => process.nextTick(r));
    expect(writes()).toBe(1);
    await lone;
  });

  it('holds the first command of a turn too while other invocations are running: one write per turn', async () => {
    const { l2, writes, reset } = await countingWrites();
    // Two invocations this process is answering (as the API's handlers register them).
    const ends: (() => void)[] = [];
    const running = Array.from({ length: 2 }, () => answerBy(new Promise<void>((resolve) => ends.push(resolve)), Date.now() + 60_000, () => undefined));
    try {
      reset();
      const values = Promise.all(Array.from({ length: 20 }, (_, i) => l2.get(key(`held-${i}`))));
      await new Promise((r) => process.nextTick(r));
      expect(writes()).toBe(0);
      expect(await values).toEqual(Array.from({ length: 20 }, () => undefined));
      expect(writes()).toBe(1);
      // A lone command is held to the end of its turn too, and answered.
      reset();
      expect(await l2.get(key('held-lone'))).toBeUndefined();
      expect(writes()).toBe(1);
    } finally {
      for (const end of ends) end();
      await Promise.all(running);
    }
  });

  it('deletes several keys at once', async () => {
    await cache.set(key('c1'), '1', 60);
    await cache.set(key('c2'), '2', 60);
    expect(await cache.del(key('c1'), key('c2'), key('never'))).toBe(2);
    expect(await raw.exists(key('c1'), key('c2'))).toBe(0);
  });

  it('is a no-op tier without a URL: misses, refused writes, no locks, no errors', async () => {
    const off = createL2(undefined);
    expect(off.enabled).toBe(false);
    expect(await off.get(key('a'))).toBeUndefined();
    expect(await off.set(key('off'), 'x', 60)).toBe(false);
    expect(await off.tryLock(key('off-lock'), 1_000)).toBeUndefined();
    expect(await off.readFeed('u', 'first:20')).toEqual({ status: 'unavailable' });
    expect(await raw.exists(key('off'))).toBe(0);
    expect(off.stats()).toMatchObject({ errors: 0, breakerOpen: false });
  });
});

describe('L2 locks', () => {
  it('grants a lock to exactly one of many concurrent callers, with its TTL', async () => {
    const lock = key('lock-one');
    const tokens = await Promise.all(Array.from({ length: 10 }, () => cache.tryLock(lock, 2_000)));
    const granted = tokens.filter((t): t is string => t !== undefined);
    expect(granted).toHaveLength(1);
    expect(await raw.get(lock)).toBe(granted[0]);
    const pttl = await raw.pttl(lock);
    expect(pttl).toBeGreaterThan(1_500);
    expect(pttl).toBeLessThanOrEqual(2_000);
    expect(await cache.acquire(lock, 2_000)).toEqual({ status: 'held' });
  });

  it('frees the lock when its TTL runs out', async () => {
    const lock = key('lock-expiry');
    expect(await cache.tryLock(lock, 100)).toBeDefined();
    expect(await cache.tryLock(lock, 100)).toBeUndefined();
    await until(() => cache.tryLock(lock, 100), { timeoutMs: 2_000, what: 'the expired lock to be taken again' });
  });

  it('is released only by the token that holds it', async () => {
    const lock = key('lock-owner');
    const token = await cache.tryLock(lock, 5_000);
    expect(token).toBeDefined();
    expect(await cache.unlock(lock, 'not-the-owner')).toBe(false);
    expect(await raw.get(lock)).toBe(token);
    expect(await cache.unlock(lock, token!)).toBe(true);
    expect(await raw.exists(lock)).toBe(0);
    expect(await cache.unlock(lock, token!)).toBe(false);
  });
});

describe('L2 feed pages', () => {
  it('keeps a user\'s pages in one hash whose TTL the first page sets and later pages do not extend', async () => {
    const user = `u-${randomUUID()}`;
    const pages = cacheKeys.feedPages(user);
    const first = await cache.readFeed(user, 'first:20');
    expect(first).toEqual({ status: 'miss', epoch: '0' });
    expect(await cache.writeFeed(user, 'first:20', 'page-20', { epoch: '0' })).toBe(true);
    expect(await raw.ttl(pages)).toBeGreaterThan(FEED_L2_TTL_SECONDS - 5);

    await raw.expire(pages, 100); // as if the first page were 800 s old
    expect(await cache.writeFeed(user, 'first:50', 'page-50')).toBe(true);
    expect(await raw.ttl(pages)).toBeLessThanOrEqual(100);
    expect(await raw.hgetall(pages)).toEqual({ 'first:20': 'page-20', 'first:50': 'page-50' });
    expect(await cache.readFeed(user, 'first:50')).toEqual({ status: 'hit', value: 'page-50' });
  });

  it('drops every page with one invalidation and refuses a write generated before it', async () => {
    const user = `u-${randomUUID()}`;
    await cache.writeFeed(user, 'first:20', 'old-20');
    await cache.writeFeed(user, 'first:10', 'old-10');
    const before = await cache.readFeed(user, 'first:5');
    expect(before.status).toBe('miss');
    const staleEpoch = before.status === 'miss' ? before.epoch : '';

    expect(await cache.invalidateFeed(user)).toBe(true);
    expect(await raw.exists(cacheKeys.feedPages(user))).toBe(0);

    expect(await cache.writeFeed(user, 'first:5', 'stale', { epoch: staleEpoch })).toBe(false);
    expect(await cache.readFeed(user, 'first:5')).toMatchObject({ status: 'miss' });
    const after = await cache.readFeed(user, 'first:5');
    expect(after.status === 'miss' && after.epoch).not.toBe(staleEpoch);
    expect(await cache.writeFeed(user, 'first:5', 'fresh', { epoch: after.status === 'miss' ? after.epoch : '' })).toBe(true);
    expect(await cache.readFeed(user, 'first:5')).toEqual({ status: 'hit', value: 'fresh' });
  });

  it('replaces pages only where they still hold what was read, and refuses a write generated before', async () => {
    const user = `u-${randomUUID()}`;
    await cache.writeFeed(user, 'first:20', 'v1-20');
    await cache.writeFeed(user, 'first:10', 'v1-10');
    const ttl = await raw.ttl(cacheKeys.feedPages(user));
    const pending = await cache.readFeed(user, 'first:5'); // a generation starts here
    const staleEpoch = pending.status === 'miss' ? pending.epoch : '';
    expect(await cache.beginFeedUpdate(user)).toEqual({ 'first:20': 'v1-20', 'first:10': 'v1-10' });
    expect(await cache.writeFeed(user, 'first:5', 'stale', { epoch: staleEpoch })).toBe(false);

    // first:10 changed after it was read: it is dropped, not overwritten.
    await cache.writeFeed(user, 'first:10', 'v2-10');
    const replaced = await cache.replaceFeeds(user, [
      { variant: 'first:20', expected: 'v1-20', value: 'v3-20' },
      { variant: 'first:10', expected: 'v1-10', value: 'v3-10' },
    ]);
    expect(replaced).toBe(1);
    expect(await raw.hgetall(cacheKeys.feedPages(user))).toEqual({ 'first:20': 'v3-20' });
    expect(await raw.ttl(cacheKeys.feedPages(user))).toBeLessThanOrEqual(ttl);
    expect(await cache.writeFeed(user, 'first:5', 'stale', { epoch: staleEpoch })).toBe(false);
    expect(await cache.replaceFeeds(`u-${randomUUID()}`, [])).toBe(0);
    expect(await cache.beginFeedUpdate(`u-${randomUUID()}`)).toEqual({});
  });

  it('takes the generation lock on a miss in the same round trip, and releases it on write', async () => {
    const user = `u-${randomUUID()}`;
    const mine = await cache.readFeed(user, 'first:20', { lockTtlMs: 2_000 });
    expect(mine.status).toBe('locked');
    expect(await cache.readFeed(user, 'first:20', { lockTtlMs: 2_000 })).toMatchObject({ status: 'held' });
    if (mine.status !== 'locked') return;
    expect(await cache.writeFeed(user, 'first:20', 'page', { epoch: mine.epoch, lockToken: mine.token })).toBe(true);
    expect(await raw.exists(cacheKeys.feedLock(user, 'first:20'))).toBe(0);
  });
});

describe('L2 window heads', () => {
  const window = (n: string) => `{"s":"${n}","page":"p-${n}","rest":"later pages of ${n}"}`;
  const head = (n: string) => `{"s":"${n}","page":"p-${n}","head":1}`;
  const readHead = (user: string) => cache.readFeed(user, 'first:20', { head: WINDOW_HEAD });

  it('cuts a head once, keeps it beside the pages (no longer than they live) and serves it from there', async () => {
    const user = `u-${randomUUID()}`;
    await cache.writeFeed(user, 'first:20', window('a'));
    expect(await readHead(user)).toEqual({ status: 'hit', value: head('a') });
    const heads = cacheKeys.feedHeads(user);
    expect(await raw.hget(heads, 'first:20')).toBe(head('a'));
    const ttl = await raw.pttl(heads);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(Math.min(FEED_L2_HEAD_TTL_SECONDS * 1000, await raw.pttl(cacheKeys.feedPages(user))));
    // Served from the heads: a window changed behind the scripts' back is not cut again.
    await raw.hset(cacheKeys.feedPages(user), 'first:20', window('x'));
    expect(await readHead(user)).toEqual({ status: 'hit', value: head('a') });
    // A read of the whole window (a later page) is the window's.
    expect(await cache.readFeed(user, 'first:20')).toEqual({ status: 'hit', value: window('x') });
  });

  it('compares a stamped window by its stamp and anything else by its whole value when replacing in place', async () => {
    const user = `u-${randomUUID()}`;
    const stamped = (stamp: string, body: string) => `{"s":"${stamp}","page":"${body}","rest":"later"}`;
    const a = stamped('AAAAAAAAAAAAAAAA', 'one');
    await cache.writeFeed(user, 'first:20', a);
    await cache.writeFeed(user, 'first:10', 'plain');
    // What is sent: a stamped window's stamp, not the window itself.
    const sent: string[][] = [];
    const monitor = await monitorRedis();
    monitor.on('monitor', (_t: string, args: string[]) => sent.push(args));
    const replacing = (args: string[]) => /^eval(sha)?$/i.test(args[0] ?? '') && args.some((arg) => arg.includes('"page":"two"'));
    try {
      expect(await cache.replaceFeeds(user, [{ variant: 'first:20', expected: a, value: stamped('BBBBBBBBBBBBBBBB', 'two') }])).toBe(1);
      const call = await until(() => sent.find(replacing), { what: 'the replace script in MONITOR' });
      expect(call.join(' ')).toContain('AAAAAAAAAAAAAAAA');
      expect(call.join(' ')).not.toContain('"page":"one"');
    } finally {
      monitor.disconnect();
    }
    // A window replaced since holds another stamp: dropped, though its body is the same.
    await cache.writeFeed(user, 'first:20', stamped('CCCCCCCCCCCCCCCC', 'two'));
    expect(await cache.replaceFeeds(user, [{ variant: 'first:20', expected: stamped('BBBBBBBBBBBBBBBB', 'two'), value: stamped('DDDDDDDDDDDDDDDD', 'three') }])).toBe(0);
    expect(await raw.hexists(cacheKeys.feedPages(user), 'first:20')).toBe(0);
    // A value without a stamp is compared whole: a value it only begins is not it.
    expect(await cache.replaceFeeds(user, [{ variant: 'first:10', expected: 'pla', value: 'x' }])).toBe(0);
    await cache.writeFeed(user, 'first:10', 'plain');
    expect(await cache.replaceFeeds(user, [{ variant: 'first:10', expected: 'plain', value: 'y' }])).toBe(1);
    expect(await raw.hget(cacheKeys.feedPages(user), 'first:10')).toBe('y');
    // A head shares its window's stamp but is not the window: never a match for it.
    const b = stamped('EEEEEEEEEEEEEEEE', 'four');
    await cache.writeFeed(user, 'first:20', b);
    expect(await cache.replaceFeeds(user, [{ variant: 'first:20', expected: `{"s":"EEEEEEEEEEEEEEEE","page":"four","head":1}`, value: stamped('FFFFFFFFFFFFFFFF', 'five') }])).toBe(0);
  });

  it('drops a head with every write of its window: a generation, an in-place edit, an invalidation', async () => {
    const user = `u-${randomUUID()}`;
    await cache.writeFeed(user, 'first:20', window('a'));
    expect(await readHead(user)).toEqual({ status: 'hit', value: head('a') });
    await cache.writeFeed(user, 'first:20', window('b'));
    expect(await readHead(user)).toEqual({ status: 'hit', value: head('b') });

    expect(await cache.replaceFeeds(user, [{ variant: 'first:20', expected: window('b'), value: window('c') }])).toBe(1);
    expect(await readHead(user)).toEqual({ status: 'hit', value: head('c') });
    // A replace that finds the window changed drops it, and its head with it.
    expect(await cache.replaceFeeds(user, [{ variant: 'first:20', expected: window('b'), value: window('d') }])).toBe(0);
    expect(await readHead(user)).toMatchObject({ status: 'miss' });

    await cache.writeFeed(user, 'first:20', window('e'));
    expect(await readHead(user)).toEqual({ status: 'hit', value: head('e') });
    expect(await cache.invalidateFeed(user)).toBe(true);
    expect(await raw.exists(cacheKeys.feedHeads(user))).toBe(0);
    expect(await readHead(user)).toMatchObject({ status: 'miss' });
  });

  it('reads a head it cut before with a plain HGET, not a script', async () => {
    const user = `u-${randomUUID()}`;
    await cache.writeFeed(user, 'first:20', window('a'));
    expect(await readHead(user)).toEqual({ status: 'hit', value: head('a') });
    const sent: string[][] = [];
    const monitor = await monitorRedis();
    monitor.on('monitor', (_t: string, args: string[]) => sent.push(args));
    try {
      expect(await readHead(user)).toEqual({ status: 'hit', value: head('a') });
      await raw.ping('read done');
      await until(() => sent.find((args) => args[0]?.toLowerCase() === 'ping'), { what: 'the ping in MONITOR' });
      const mine = sent.filter((args) => args.some((arg) => arg.includes(user)));
      expect(mine.map((args) => args[0]!.toLowerCase())).toEqual(['hget']);
    } finally {
      monitor.disconnect();
    }
  });

  it('reads a whole window with a plain HGET, keeping the pages for a reader when the read is one', async () => {
    const user = `u-${randomUUID()}`;
    await cache.writeFeed(user, 'first:20', window('a'));
    const pages = cacheKeys.feedPages(user);
    expect(await raw.pttl(pages)).toBeLessThanOrEqual(FEED_L2_TTL_SECONDS * 1000);
    const sent: string[][] = [];
    const monitor = await monitorRedis();
    monitor.on('monitor', (_t: string, args: string[]) => sent.push(args));
    try {
      expect(await cache.readFeed(user, 'first:20', { counted: false })).toEqual({ status: 'hit', value: window('a') });
      expect(await raw.pttl(pages)).toBeLessThanOrEqual(FEED_L2_TTL_SECONDS * 1000);
      expect(await cache.readFeed(user, 'first:20')).toEqual({ status: 'hit', value: window('a') });
      expect(await raw.pttl(pages)).toBeGreaterThan(FEED_L2_ACTIVE_TTL_SECONDS * 1000 - 60_000);
      await raw.ping('reads done');
      await until(() => sent.find((args) => args[0]?.toLowerCase() === 'ping'), { what: 'the ping in MONITOR' });
      const mine = sent.filter((args) => args.some((arg) => arg.includes(user)));
      expect(mine.map((args) => args[0]!.toLowerCase()).filter((c) => c !== 'pexpire' && c !== 'hexists')).toEqual(['hget', 'pttl', 'hget', 'evalsha', 'pttl']);
      // The script that keeps the pages gets the field and the TTL, never the page.
      expect(mine.filter((args) => /^eval/i.test(args[0]!)).every((args) => !args.some((arg) => arg.includes('"page"')))).toBe(true);
    } finally {
      monitor.disconnect();
    }
  });

  it('serves a head without its window only until the pages change: every change drops the heads', async () => {
    const user = `u-${randomUUID()}`;
    await cache.writeFeed(user, 'first:20', window('a'));
    await cache.writeFeed(user, 'first:10', window('t'));
    expect(await readHead(user)).toEqual({ status: 'hit', value: head('a') });
    // The window is gone (evicted): nothing has changed since, so its head is still current.
    await raw.hdel(cacheKeys.feedPages(user), 'first:20');
    expect(await readHead(user)).toEqual({ status: 'hit', value: head('a') });
    // A fan-out's edit finds no window to put its post in, but a head kept would miss the post.
    expect(await cache.beginFeedUpdate(user)).toEqual({ 'first:10': window('t') });
    expect(await raw.exists(cacheKeys.feedHeads(user))).toBe(0);
    expect(await readHead(user)).toMatchObject({ status: 'miss' });
    // So does an update of a user whose pages are all gone.
    await cache.writeFeed(user, 'first:20', window('b'));
    expect(await readHead(user)).toEqual({ status: 'hit', value: head('b') });
    await raw.del(cacheKeys.feedPages(user));
    expect(await cache.beginFeedUpdate(user)).toEqual({});
    expect(await readHead(user)).toMatchObject({ status: 'miss' });
  });
});

describe('L2 reads as bytes (a caller that interns the reply)', () => {
  // The read of every L2 hit is an HGET queued on ioredis's connection by the tier itself (see
  // HgetBytes in shared/cache/l2.ts): these pin what it must keep of ioredis's own hgetBuffer.
  const variant = 'first:20';
  const asText: Intern = (v) => (typeof v === 'string' ? `string:${v}` : `bytes:${v.toString('utf8')}`);
  const window = (n: string) => `{"s":"${n}","page":"p-${n} · ✓","rest":"later pages of ${n}"}`;
  const head = (n: string) => `{"s":"${n}","page":"p-${n} · ✓","head":1}`;
  const byteRead = (l2: L2Cache, user: string) => l2.readFeed(user, variant, { head: WINDOW_HEAD, intern: asText });
  /** A user whose head is cut (the first read, through the script) so the next reads are HGETs. */
  async function cutHead(l2: L2Cache, n: string): Promise<string> {
    const user = `u-é-${n}-${randomUUID()}`;
    await l2.writeFeed(user, variant, window(n));
    expect(await byteRead(l2, user)).toEqual({ status: 'hit', value: `string:${head(n)}` });
    return user;
  }

  it('gives a head, a window and a miss as hgetBuffer would, keys and values in any script', async () => {
    const user = await cutHead(cache, 'ü');
    expect(await byteRead(cache, user)).toEqual({ status: 'hit', value: `bytes:${head('ü')}`, bytes: Buffer.byteLength(head('ü')) });
    expect(await raw.hgetBuffer(cacheKeys.feedHeads(user), variant)).toEqual(Buffer.from(head('ü')));
    // The whole window (a later page), with and without keeping the pages for a reader.
    expect(await cache.readFeed(user, variant, { counted: false, intern: asText })).toEqual({ status: 'hit', value: `bytes:${window('ü')}`, bytes: Buffer.byteLength(window('ü')) });
    expect(await cache.readFeed(user, variant, { intern: asText })).toEqual({ status: 'hit', value: `bytes:${window('ü')}`, bytes: Buffer.byteLength(window('ü')) });
    expect(await raw.pttl(cacheKeys.feedPages(user))).toBeGreaterThan(FEED_L2_ACTIVE_TTL_SECONDS * 1000 - 60_000);
    // A page nobody cached: the HGET's null, then the script's miss.
    expect(await cache.readFeed(user, 'first:7', { counted: false, intern: asText })).toMatchObject({ status: 'miss' });
  });

  it('answers each caller its own reply when byte reads and other commands share a turn', async () => {
    const users = await Promise.all(['a', 'b', 'c', 'd'].map((n) => cutHead(cache, n)));
    await cache.set(key('turn'), 'plain', 60);
    const reads = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const n = i % 5;
        return n === 4 ? cache.get(key('turn')) : byteRead(cache, users[n]!);
      }),
    );
    reads.forEach((read, i) => {
      const n = i % 5;
      expect(read).toEqual(n === 4 ? 'plain' : { status: 'hit', value: `bytes:${head('abcd'[n]!)}`, bytes: Buffer.byteLength(head('abcd'[n]!)) });
    });
  });

  it('fails the read, not the connection, on an error reply', async () => {
    const l2 = createL2(url, relaxed);
    extra.push(l2);
    const user = await cutHead(l2, 'e');
    const wrong = `u-${randomUUID()}`;
    await raw.set(cacheKeys.feedHeads(wrong), 'not a hash');
    expect(await byteRead(l2, wrong)).toEqual({ status: 'unavailable' });
    expect(l2.stats()).toMatchObject({ errors: 1, breakerOpen: false });
    expect(await byteRead(l2, user)).toEqual({ status: 'hit', value: `bytes:${head('e')}`, bytes: Buffer.byteLength(head('e')) });
  });

  it('fails a read in flight as soon as its connection drops, and reads on after the reconnect', async () => {
    // A timeout longer than the test: the read can only fail by the connection's drop.
    const l2 = createL2(url, { commandTimeoutMs: 30_000, connectWaitMs: 1_000 });
    extra.push(l2);
    const user = await cutHead(l2, 'r');
    const id = await l2.command((r) => r.client('ID'));
    // Redis answers in order: the read waits behind a BLPOP until the connection is killed.
    const list = key(`held-${randomUUID()}`);
    const held = l2.command((r) => r.blpop(list, 0));
    const read = byteRead(l2, user);
    await until(async () => String(await raw.client('LIST')).split('\n').some((line) => line.includes(`id=${id} `) && line.includes('cmd=blpop')), { what: 'the BLPOP blocking' });
    const killed = performance.now();
    await raw.client('KILL', 'ID', String(id));
    expect(await read).toEqual({ status: 'unavailable' });
    expect(await held).toBeUndefined();
    expect(performance.now() - killed).toBeLessThan(15_000);
    await until(async () => (await byteRead(l2, user)).status === 'hit', { what: 'a hit after the reconnect' });
    // Nothing was sent again on the new connection: the list is still empty of what it waited for.
    await raw.lpush(list, 'x');
    expect(await raw.lrange(list, 0, -1)).toEqual(['x']);
  });
});

describe('circuit breaker', () => {
  it('opens after N consecutive failures, half-opens after the cool-down for one probe, closes on success', () => {
    let t = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 3, coolDownMs: 1_000, now: () => t });
    breaker.failure();
    breaker.failure();
    breaker.success(); // not consecutive
    breaker.failure();
    breaker.failure();
    expect(breaker.state()).toBe('closed');
    breaker.failure();
    expect(breaker.state()).toBe('open');
    expect(breaker.allow()).toBe(false);

    t += 1_000;
    expect(breaker.state()).toBe('half-open');
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(false); // one probe at a time
    breaker.failure();
    expect(breaker.state()).toBe('open');

    t += 1_000;
    expect(breaker.allow()).toBe(true);
    breaker.success();
    expect(breaker.state()).toBe('closed');
    expect(breaker.allow()).toBe(true);
  });
});

// ---- Redis down ---------------------------------------------------------------------------------

function pongs(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => finish(data.toString().startsWith('+PONG')));
  });
}

const servers = new Set<ChildProcess>();

async function startRedisServer(port: number): Promise<ChildProcess> {
  const bin = which('redis-server') ?? '/usr/bin/redis-server';
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  servers.add(child);
  child.once('exit', () => servers.delete(child));
  await until(() => pongs(port), { timeoutMs: 10_000, what: `redis-server on port ${port}` });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

async function timed<T>(call: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await call();
  return { value, ms: performance.now() - start };
}

describe('L2 with Redis down', () => {
  afterEach(async () => {
    await Promise.all([...servers].map(kill));
  });

  it('answers misses fast, opens the breaker, and caches again once Redis is back', async () => {
    const port = await freePort();
    const server = await startRedisServer(port);
    const coolDownMs = 500;
    const l2 = createL2(`redis://127.0.0.1:${port}`, { coolDownMs });
    extra.push(l2);
    expect(await l2.connect()).toBe(true);
    await until(() => l2.set('k', 'before', 60), { what: 'a first write' });
    await until(async () => (await l2.get('k')) === 'before', { what: 'a first read' }); // resets the failure count
    const errorsBefore = l2.stats().errors;

    await kill(server);

    // Each failing call resolves (no throw) well inside 100 ms; five in a row open the breaker.
    for (let i = 0; i < 5; i++) {
      expect(l2.breakerState()).toBe('closed');
      const { value, ms } = await timed(() => l2.get('k'));
      expect(value).toBeUndefined();
      expect(ms).toBeLessThan(100);
    }
    expect(l2.breakerState()).toBe('open');
    expect(l2.stats()).toMatchObject({ errors: errorsBefore + 5, breakerOpen: true });

    // Open: answered without touching Redis (the stats below: no error, three short-circuits), so
    // the three together take less than one command's timeout (50 ms) would; a bound of 10 ms
    // failed on a loaded machine (14 ms) without anything reaching Redis.
    const open = await timed(async () => [await l2.get('k'), await l2.set('k', 'x', 60), await l2.tryLock('lock', 1_000)]);
    expect(open.value).toEqual([undefined, false, undefined]);
    expect(open.ms).toBeLessThan(50);
    expect(l2.stats()).toMatchObject({ errors: errorsBefore + 5, shortCircuited: 3 });

    // Half-open while Redis is still down: the one probe fails and the breaker opens again.
    await until(() => l2.breakerState() === 'half-open', { timeoutMs: coolDownMs * 4, what: 'half-open' });
    const probe = await timed(() => l2.get('k'));
    expect(probe.value).toBeUndefined();
    expect(probe.ms).toBeLessThan(100);
    expect(l2.breakerState()).toBe('open');
    expect(l2.stats().errors).toBe(errorsBefore + 6);

    // Redis returns on the same port (empty: no persistence): the breaker closes and writes resume.
    await startRedisServer(port);
    await until(async () => (await l2.set('k', 'after', 60)) && l2.breakerState() === 'closed', {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'the breaker to close on a restarted Redis',
    });
    expect(await l2.get('k')).toBe('after');
    expect(l2.stats().breakerOpen).toBe(false);
  });

  it('fails fast from the start when Redis was never reachable', async () => {
    const port = await freePort(); // nothing listens here
    const l2 = createL2(`redis://127.0.0.1:${port}`);
    extra.push(l2);
    for (let i = 0; i < 3; i++) {
      const { value, ms } = await timed(() => l2.get('k'));
      expect(value).toBeUndefined();
      expect(ms).toBeLessThan(300); // the first call may wait for the first connection attempt
    }
  });
});
