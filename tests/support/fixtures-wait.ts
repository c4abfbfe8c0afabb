// Bounded polling for tests of asynchronous effects: `until` waits for an observable result and
// fails with what it was waiting for; `holdsFor` checks that an invariant stays true over a window
// (the only way to observe that something does NOT happen, such as a redelivery after stop()).

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  what?: string;
}

/** Polls `probe` until it returns a truthy value (returned), or fails after `timeoutMs`. */
export async function until<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, opts: WaitOptions = {}): Promise<T> {
  const { timeoutMs = 5_000, intervalMs = 10, what = 'condition' } = opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Polls `invariant` for `windowMs` and fails as soon as it turns false. */
export async function holdsFor(invariant: () => boolean | Promise<boolean>, windowMs: number, what = 'invariant'): Promise<void> {
  const end = Date.now() + windowMs;
  while (Date.now() < end) {
    if (!(await invariant())) throw new Error(`${what} stopped holding`);
    await new Promise((r) => setTimeout(r, 10));
  }
  if (!(await invariant())) throw new Error(`${what} stopped holding`);
}
