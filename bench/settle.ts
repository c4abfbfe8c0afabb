// Waiting for the stack to be quiet between measurements, and what it has written so far: the
// stream delivered, queues and workflows idle, DynamoDB reads stopped, writes per entity (from
// the process's request counter), so no measurement times the leftovers of the previous one.
import type { Stack } from '../shared/local/stack.js';
import { readCounts, writeCounts } from '../shared/local/request-counter.js';
import { TABLES, type Entity } from '../shared/declarations/tables.js';
import { sleep } from './stats.js';

/** Queues and workflows idle for this long, and every stream read through from its start, count
 *  as settled. The streams' side is exact (StreamPoller.readThrough: every record written before
 *  the quiet began has been delivered; idle pollers are woken to read), so the window only has to
 *  outlast a hand-over between a delivery and the queue it feeds: two checks. It was 400 ms of
 *  quiet (four poll rounds) for the streams alone, ~0.5 s on every settle of an already quiet
 *  stack: 5 of the 11 s of `--quick`'s costs section. */
const QUIET_MS = 50;
const CHECK_MS = 25;
/** No DynamoDB read for this long: the requests a finished load run abandoned have completed. */
const READS_QUIET_MS = 120;

/** Stream records delivered so far, over every poller. */
export function delivered(s: Stack): number {
  return s.pollers.reduce((n, p) => n + p.delivered, 0);
}

/** Waits until the stream is delivered up to `minDelivered`, every queue but `ignore` is empty
 *  (delayed messages included) and no workflow runs, for `quietMs` (QUIET_MS) in a row, and every
 *  stream has been read to its end since that quiet began. → whether it did. */
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
    if (quietSince) {
      const unread = s.pollers.filter((p) => !p.readThrough(quietSince));
      if (unread.length === 0 && Date.now() - quietSince >= (opts.quietMs ?? QUIET_MS)) return true;
      // An idle poller backs off up to a second between reads: ask for the read now.
      for (const p of unread) p.wake();
    }
    opts.onTick?.();
    await sleep(CHECK_MS);
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
