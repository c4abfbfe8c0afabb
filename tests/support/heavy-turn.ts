// The test files that start stacks of their own under load (the crash test, the reshard test, the
// multi-region test) take turns: each holds a lock shared by the run for as long as its stack
// lives. Side by side they starve each other's DynamoDB Local on 2 cores (connections time out,
// requests answer 503), and the order of files alone cannot keep them apart: how long each takes
// depends on the machine. The lock is proper-lockfile's (an atomic mkdir, kept fresh while held and
// taken over once stale), on a file tests/global-setup.ts makes for the run.
import { afterAll, beforeAll, inject } from 'vitest';
import lockfile from 'proper-lockfile';

/** The longest a heavy file waits for its turn: the other two heavy files run before it at most. */
export const HEAVY_TURN_WAIT_MS = 600_000;
/** A holder that stopped refreshing the lock this long ago is gone (a worker that was killed). */
const STALE_MS = 60_000;

/** Waits for this file's turn; the returned function gives it up. */
export async function heavyTurn(): Promise<() => Promise<void>> {
  return lockfile.lock(inject('heavyLock'), {
    realpath: false,
    stale: STALE_MS,
    update: STALE_MS / 4,
    retries: { retries: HEAVY_TURN_WAIT_MS / 1_000, factor: 1, minTimeout: 1_000, maxTimeout: 1_000 },
    onCompromised: (err) => console.warn(`heavy test turn lost: ${err.message}`),
  });
}

/** Registers the hooks that hold this file's turn from before its first hook to after its last
 *  (after-hooks run in reverse order): call it before the file's own hooks. */
export function inTurnWithHeavyFiles(): void {
  let release: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    release = await heavyTurn();
  }, HEAVY_TURN_WAIT_MS + 10_000);
  afterAll(async () => {
    await release?.();
  });
}
