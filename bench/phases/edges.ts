// Celebrity edges: a burst of follows on one account past FEED_EDGE_BUCKET_THRESHOLD, with its
// in-edges in buckets and with bucketing off, and the most items written to any one partition
// key in one second (DynamoDB caps a partition at 1,000 WCU), counted by the process's write
// counter. Follows run in-process through the follow use case, so the per-user rate limits of
// the HTTP API do not pace the burst.
import { resetConfig } from '../../shared/edge/config.js';
import { partitionWriteRates, trackPartitionWrites, type PartitionRate } from '../../shared/local/request-counter.js';
import { forgetEdgeLayouts, readEdgeLayout } from '../../shared/store/edge-layout.js';
import { reconcileEdgeLayout } from '../../shared/services/edge-moves.js';
import { follow } from '../../shared/services/follows.js';
import { createUser, followerCount, profileRows, type ProfileRow } from '../../shared/services/users.js';
import { ServiceUnavailableError } from '../../shared/domain/errors.js';
import { fmt, live, type BenchContext } from '../context.js';
import { settle } from '../settle.js';
import { sleep, waitFor } from '../stats.js';
import { pool } from '../seed.js';

/** Follows in flight at once: enough to keep DynamoDB Local busy on this machine's 2 cores. */
const BURST_CONCURRENCY = 32;
/** Follows of each measured burst: 5–8 s of follows at the rates this machine reaches, so the
 *  busiest second and the in-edge key's share are read over several seconds (2,600 took 15–20 s
 *  for the same figures, 1,400 9–10 s). */
const BURST_FOLLOWS = { quick: 500, full: 1_000 };
/** Move grace in the bench: the phase's own process is the only writer, so a short grace holds. */
const BENCH_GRACE_SECONDS = '1';
/** The move of the crossing account must be done within this (the fan-out worker runs it). */
const MOVE_TIMEOUT_MS = 20_000;
/** Tries of a call answered 503 (DynamoDB Local timing out on a loaded machine), each after its
 *  Retry-After, as a client does; follows are idempotent, so a retried one that had gone through
 *  writes nothing twice. */
const TRIES_503 = 4;

export interface EdgeBurstRun {
  bucketing: 'on' | 'off';
  buckets: number;
  follows: number;
  ms: number;
  followsPerSec: number;
  /** The partition key written most in one second, with its ids replaced by <id>. */
  busiestKey: string;
  busiestPerSecond: number;
  /** Share of the burst's follows that wrote the busiest in-edge key: the rate one key takes
   *  at any burst rate (×2 WCU each, transactional). */
  inEdgeShare: number;
  /** Calls of the run answered 503 and tried again. */
  retried503: number;
}

/** A fresh account followed by `pre` users (past the threshold when bucketing is on), then the
 *  measured burst of the rest. */
async function burst(ctx: BenchContext, followers: ProfileRow[], pre: number, bucketing: 'on' | 'off', threshold: number): Promise<EdgeBurstRun> {
  setEnv({ FEED_EDGE_BUCKET_THRESHOLD: bucketing === 'on' ? String(threshold) : '1000000000000', FEED_EDGE_MOVE_GRACE_SECONDS: BENCH_GRACE_SECONDS });
  const label = `e${bucketing}${Date.now().toString(36)}`;
  const retries = { n: 0 };
  const author = await retrying(retries, () => createUser(`bench-edges-${label}`, { handle: label.slice(0, 30), displayName: 'edges', country: 'US' }));
  await inParallel(followers.slice(0, pre), (f) => retrying(retries, () => follow(f, author.userId)));
  await reconcileEdgeLayout(author.userId, await followerCount(author.userId));
  if (bucketing === 'on') {
    const moved = await waitFor(async () => {
      const l = await readEdgeLayout(author.userId, true);
      return l.buckets > 1 && l.target === undefined && l.prev === undefined;
    }, MOVE_TIMEOUT_MS);
    if (!moved) throw new Error(`the edge move of an account past the threshold did not finish within ${MOVE_TIMEOUT_MS} ms`);
  }
  const buckets = (await readEdgeLayout(author.userId, true)).buckets;
  const rest = followers.slice(pre);
  trackPartitionWrites(true);
  const t0 = Date.now();
  await inParallel(rest, (f) => retrying(retries, () => follow(f, author.userId)));
  const ms = Date.now() - t0;
  const rates = partitionWriteRates();
  trackPartitionWrites(false);
  const top = rates[0] ?? { key: '-', perSecond: 0, total: 0 };
  const inEdges = rates.filter((r) => r.key.includes(`|in#${author.userId}`));
  const run: EdgeBurstRun = {
    bucketing,
    buckets,
    follows: rest.length,
    ms,
    followsPerSec: rest.length / (ms / 1000),
    busiestKey: redact(top, author.userId),
    busiestPerSecond: top.perSecond,
    inEdgeShare: Math.max(0, ...inEdges.map((r) => r.total)) / Math.max(1, rest.length),
    retried503: retries.n,
  };
  ctx.log(
    `edges: bucketing ${bucketing} (${buckets} bucket${buckets > 1 ? 's' : ''}): ${rest.length} follows in ${fmt(ms / 1000, 1)} s (${fmt(run.followsPerSec, 0)}/s); ` +
      `busiest key ${run.busiestKey} ${run.busiestPerSecond} writes in one second; busiest in-edge key took ${fmt(100 * run.inEdgeShare, 1)}% of the follows${run.retried503 ? `; ${run.retried503} calls answered 503 and retried` : ''}`,
  );
  return run;
}

const redact = (r: PartitionRate, authorId: string) => r.key.replace(/^[^|]*\|/, '').replaceAll(authorId, '<author>').replace(/[0-9A-Z]{13}/g, '<id>');

const saved = new Map<string, string | undefined>();
function setEnv(vars: Record<string, string>): void {
  for (const [k, v] of Object.entries(vars)) {
    if (!saved.has(k)) saved.set(k, process.env[k]);
    process.env[k] = v;
  }
  resetConfig();
  forgetEdgeLayouts();
}
function restoreEnv(): void {
  for (const [k, v] of saved) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  saved.clear();
  resetConfig();
  forgetEdgeLayouts();
}

async function retrying<T>(retries: { n: number }, call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof ServiceUnavailableError) || attempt >= TRIES_503) throw err;
      retries.n++;
      await sleep(err.retryAfterSeconds * 1000);
    }
  }
}

const inParallel = <T>(items: T[], fn: (item: T) => Promise<unknown>) => pool(items, BURST_CONCURRENCY, fn);

/** The same burst on two fresh accounts: bucketing off, then on (moved past the threshold first). */
export async function edges(ctx: BenchContext): Promise<void> {
  const { stack, userIds } = live(ctx);
  const threshold = ctx.o.quick ? 100 : 400;
  const total = Math.min(userIds.length, threshold + (ctx.o.quick ? BURST_FOLLOWS.quick : BURST_FOLLOWS.full));
  const followers = await profileRows(userIds.slice(0, total));
  try {
    const off = await burst(ctx, followers, threshold, 'off', threshold);
    const on = await burst(ctx, followers, threshold, 'on', threshold);
    ctx.results.edges = { threshold, concurrency: BURST_CONCURRENCY, runs: [off, on] };
  } finally {
    trackPartitionWrites(false);
    restoreEnv();
    await settle(stack, { timeoutMs: 30_000, ignore: ['notifications'] });
  }
}
