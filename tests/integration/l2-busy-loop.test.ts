// L2's command timeout (shared/cache/l2.ts) on a busy event loop: a reply that reached the socket
// in time is a hit even when the loop was too busy to read it before the timer fired, while a
// reply that never comes in time is still a miss within about the timeout.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { type L2Cache } from '../../shared/cache/l2.js';
import { useOwnRedis } from '../support/shared-redis.js';

/** A server of this file's own: the slow-Redis case pauses every client of the server. */
const redis = useOwnRedis();
const key = `test:l2-busy:${randomUUID().slice(0, 8)}`;
/** The production bound (REDIS_COMMAND_TIMEOUT_MS). */
const TIMEOUT_MS = 50;
/** How long the loop is kept busy: well past the timeout, as a saturated container would. */
const BUSY_MS = 150;
/** How long CLIENT PAUSE holds the reply of the slow-Redis case. */
const PAUSE_MS = 400;

let cache: L2Cache;

beforeAll(async () => {
  await redis.raw().set(key, 'page', 'EX', 60);
  cache = redis.l2({ commandTimeoutMs: TIMEOUT_MS, connectWaitMs: 1_000, failureThreshold: 1 });
  expect(await cache.connect()).toBe(true);
});

/** Keeps the event loop busy for `ms`, as a container busy answering other requests. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

/** Keeps the event loop busy for `ms` once the command is on the wire (the write goes out on the
 *  next tick; setImmediate runs after it). */
function blockLoopSoon(ms: number): void {
  setImmediate(() => spin(ms));
}

/** How long a BLPOP of an empty list holds its reply: a command late on its own connection only. */
const HOLD_S = 0.5;
const heldReply = (l2: L2Cache) => l2.command((r) => r.blpop(`${key}:empty`, HOLD_S));

/** `work` with a client of its own, closed after: a failure opens the file's shared client's
 *  breaker (failureThreshold 1). */
async function withOwnClient(work: (l2: L2Cache) => Promise<void>): Promise<void> {
  const l2 = redis.l2({ commandTimeoutMs: TIMEOUT_MS, connectWaitMs: 1_000 });
  try {
    expect(await l2.connect()).toBe(true);
    await work(l2);
  } finally {
    await l2.close();
  }
}

describe('L2 on a busy event loop', () => {
  it('counts a reply that arrived in time as a hit, though the loop read it only after the timeout', async () => {
    const read = cache.get(key);
    blockLoopSoon(BUSY_MS);

    expect(await read).toBe('page');
    expect(cache.stats().errors).toBe(0);
    expect(cache.breakerState()).toBe('closed');
  });

  it('times out a command whose reply is late though the others of its turn answered', () =>
    withOwnClient(async (l2) => {
      const started = performance.now();
      const [read, popped] = await Promise.all([l2.get(key), heldReply(l2)]);
      expect(read).toBe('page');
      expect(popped).toBeUndefined();
      expect(performance.now() - started).toBeLessThan(HOLD_S * 1000);
      expect(l2.stats()).toMatchObject({ hits: 1, errors: 1 });
    }));

  it('times out a command that joins its turn after the others have their replies', () =>
    withOwnClient(async (l2) => {
      const started = performance.now();
      // A turn begun in a check phase lasts through the next poll phase: the read goes out, the
      // loop is held until its reply is surely in the socket, and the poll phase that reads it
      // issues the held command, in the same turn, after the turn's only command was answered.
      const popped = await new Promise<unknown>((resolve) =>
        setImmediate(() => {
          void l2.get(key).then(() => resolve(heldReply(l2)));
          spin(20);
        }),
      );
      expect(popped).toBeUndefined();
      expect(performance.now() - started).toBeLessThan(HOLD_S * 1000);
    }));

  it('still answers a miss when Redis itself is slower than the timeout', async () => {
    await redis.raw().call('CLIENT', 'PAUSE', String(PAUSE_MS), 'ALL');

    const value = await cache.get(key);

    // Had it waited for the reply, it would have the page.
    expect(value).toBeUndefined();
    expect(cache.stats().errors).toBe(1);
  });
});
