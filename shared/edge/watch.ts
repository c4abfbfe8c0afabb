// One timer for many deadlines. A per-operation setTimeout (a Timeout object, its insertion in the
// timer list, its removal) cost each API invocation a microsecond or more through the local
// gateway, for a deadline that almost never passes (the last-resort answer, deadline.ts). A Watch instead keeps
// the operations still running in a set, and one interval, running only while the set is not
// empty, looks at the clock every `intervalMs`: an overdue operation is told at most that late.
// Node has no primitive for "call me if this is still pending at T" cheaper than a timer each,
// so it is written here.

/** One operation watched: `fire` runs once, if it is still watched at `at` (epoch ms). */
export interface Watched {
  readonly at: number;
  readonly fire: () => void;
}

export class Watch {
  private readonly running = new Set<Watched>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(readonly intervalMs: number) {}

  /** Watches an operation until `forget`: `fire` runs once `at` has passed (at most intervalMs later). */
  add(at: number, fire: () => void): Watched {
    const watched = { at, fire };
    this.running.add(watched);
    // Unreferenced: the watch never keeps a process alive on its own.
    this.timer ??= setInterval(this.look, this.intervalMs).unref();
    return watched;
  }

  /** The operation ended: nothing fires for it. */
  forget(watched: Watched): void {
    this.running.delete(watched);
  }

  /** Operations watched now. */
  get size(): number {
    return this.running.size;
  }

  private readonly look = (): void => {
    if (this.running.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const now = Date.now();
    for (const watched of this.running) {
      if (now < watched.at) continue;
      this.running.delete(watched);
      watched.fire();
    }
  };
}
