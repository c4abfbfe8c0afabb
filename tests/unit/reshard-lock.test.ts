// The reshard lock's release (shared/local/reshard.ts): the state saved when a reshard stops is the
// item's last write, even when a heartbeat sent just before is still in flight. A CI run caught
// the heartbeat landing after the final save: `feedctl reshard status` then showed the stopped
// reshard as running for 10 s, and its resume was refused as "another reshard is running".
import { describe, expect, it } from 'vitest';
import { locked, type ReshardState } from '../../shared/local/reshard.js';

const HEARTBEAT_MS = 2_000; // reshard.ts's

describe('the reshard lock', () => {
  it('saves the stopped state after the last heartbeat has landed', async () => {
    let stored: Record<string, unknown> | undefined;
    const slowBeatMs = 400;
    // A control table whose heartbeat writes (unconditional, heartbeatAt > 0) land slowly; the
    // lock's conditional write and the final save land at once.
    const doc = {
      send: async (cmd: { input: { Item: Record<string, unknown>; ConditionExpression?: string } }) => {
        const { Item, ConditionExpression } = cmd.input;
        if (!ConditionExpression && Number(Item.heartbeatAt) > 0) await new Promise((r) => setTimeout(r, slowBeatMs));
        stored = Item;
        return {};
      },
    };
    const state: ReshardState = { action: 'grow', from: 16, to: 32, phase: 'moving', done: [], mismatches: [], pausesMs: [], rowsCopied: 0, startedAt: new Date().toISOString() };
    // The work ends while the first heartbeat (sent at HEARTBEAT_MS) is still on its way.
    await locked({ doc } as never, state, undefined, () => new Promise((r) => setTimeout(r, HEARTBEAT_MS + slowBeatMs / 2)));
    await new Promise((r) => setTimeout(r, slowBeatMs));
    expect(stored?.heartbeatAt).toBe(0);
  }, 10_000);
});
