// The bench's settle: a stack counts as settled once its queues and workflows are idle and every
// stream has been read to its end since that quiet began (StreamPoller.readThrough), not after a
// fixed quiet window; an idle poller is woken to make that read. Pure: a stand-in stack whose
// pollers report what the test sets.
import { describe, expect, it } from 'vitest';
import { settle } from '../../bench/settle.js';
import type { Stack } from '../../shared/local/stack.js';

interface FakePoller {
  delivered: number;
  caughtUp: boolean;
  /** The start of the newest read that reached every shard's end. */
  readAt: number;
  wakes: number;
  readThrough(ms: number): boolean;
  wake(): void;
}

function poller(readAt: number): FakePoller {
  return {
    delivered: 0,
    caughtUp: true,
    readAt,
    wakes: 0,
    readThrough(ms) {
      return this.readAt >= ms;
    },
    wake() {
      this.wakes++;
    },
  };
}

function stack(pollers: FakePoller[], queued = { waiting: 0, inFlight: 0 }): Stack {
  return {
    pollers,
    queues: { stats: () => ({ fanout: queued }) },
    stepFunctions: { idle: () => true },
  } as unknown as Stack;
}

describe('bench settle', () => {
  it('waits for a stream read that began after the quiet did, waking the idle poller for it', async () => {
    const p = poller(0);
    const s = stack([p]);
    const done = settle(s, { timeoutMs: 5_000 });
    await new Promise((r) => setTimeout(r, 200));
    // Caught up, queues empty, well past the quiet window: still not settled without the read.
    expect(p.wakes).toBeGreaterThan(0);
    let settled: boolean | undefined;
    void done.then((v) => (settled = v));
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBeUndefined();
    p.readAt = Date.now();
    expect(await done).toBe(true);
  });

  it('settles at once on a quiet stack whose streams are read through', async () => {
    const p = poller(Number.MAX_SAFE_INTEGER);
    const started = Date.now();
    expect(await settle(stack([p]), { timeoutMs: 5_000 })).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(p.wakes).toBe(0);
  });

  it('does not settle while a queue holds messages, however long the streams are quiet', async () => {
    const p = poller(Number.MAX_SAFE_INTEGER);
    expect(await settle(stack([p], { waiting: 1, inFlight: 0 }), { timeoutMs: 300 })).toBe(false);
  });
});
