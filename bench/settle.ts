// Waiting for the stack to be quiet between measurements, and what it has written so far: the
// stream delivered, queues and workflows idle, DynamoDB reads stopped, writes per entity (from
// the process's request counter), so no measurement times the leftovers of the previous one.
import type { Stack } from '../shared/local/stack.js';
import { readCounts, writeCounts } from '../shared/local/request-counter.js';
import { TABLES, type Entity } from '../shared/declarations/tables.js';
import { sleep } from './stats.js';

/** Stream, queues and workflows quiet for this long count as settled (a poll round is ~100 ms). */
const QUIET_MS = 400;
/** No DynamoDB read for this long: the requests a finished load run abandoned have completed. */
const READS_QUIET_MS = 120;

/** Stream records delivered so far, over every poller. */
export function delivered(s: Stack): number {
  return s.pollers.reduce((n, p) => n + p.delivered, 0);
}

/** Waits until the stream is delivered up to `minDelivered`, every queue but `ignore` is empty
 *  (delayed messages included) and no workflow runs, for `quietMs` (QUIET_MS) in a row. →
 *  whether it did. */
export async function settle(s: Stack, opts: { minDelivered?: number; timeoutMs: number; ignore?: string[]; quietMs?: number; onTick?: () => void }): Promise<boolean> {
  const deadline = Date.now() + opts.timeoutMs;
  let quietSince = 0;
  while (Date.now() < deadline) {
    const queued = Object.entries(s.queues.stats())
      .filter(([name]) => !opts.ignore?.includes(name))
      .reduce((n, [, q]) => n + q.waiting + q.inFlight, 0);
    const busy = queued > 0 || !s.pollers.every((p) => p.caughtUp) || !s.stepFunctions.idle() || delivered(s) < (opts.minDelivered ?? 0);
    if (busy) quietSince = 0;
    else if (!quietSince) quietSince = Date.now();
    else if (Date.now() - quietSince >= (opts.quietMs ?? QUIET_MS)) return true;
    opts.onTick?.();
    await sleep(25);
  }
  return false;
}

/** Waits until no DynamoDB read has been sent for READS_QUIET_MS (at most 15 s): every feed
 *  request reads, so requests abandoned by a finished load run have then completed. */
export async function quiesce(maxMs = 15_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = readCounts().requests;
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    await sleep(50);
    const now = readCounts().requests;
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= READS_QUIET_MS) return;
  }
}

const ENTITY_BY_BASE = new Map<string, Entity>(Object.values(TABLES).map((d) => [d.baseName, d.entity]));

/** Items written so far per entity (users, follows, posts, feeds, notifications). */
export function writesByEntity(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [table, n] of Object.entries(writeCounts().byTable)) {
    const base = /([A-Za-z]+)_\d+$/.exec(table)?.[1] ?? '';
    const entity = ENTITY_BY_BASE.get(base) ?? 'other';
    out[entity] = (out[entity] ?? 0) + n;
  }
  return out;
}
