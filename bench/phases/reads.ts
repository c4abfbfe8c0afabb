// The read-side phases: a warm-up that also tells whether the feed cache is wired, the sweep of
// feed reads per cache tier and concurrency against a bare server returning the same bytes, and
// the L2 tier against raw Redis GETs of the same pages.
import { getHeapStatistics } from 'node:v8';
import { Redis } from 'ioredis';
import { feedCache } from '../../shared/cache/feed-cache.js';
import { feedVariant } from '../../shared/cache/cache-keys.js';
import { L1Cache } from '../../shared/cache/l1.js';
import { l2 } from '../../shared/cache/l2.js';
import { forgetCachedCallers } from '../../shared/services/users.js';
import { bareServerLike, type Server } from '../baselines.js';
import { cpuProfiled } from '../cpu-profile.js';
import { invocationCpu, tokenSubject } from '../invoke-cpu.js';
import { fmt, live, type BenchContext, type Live } from '../context.js';
import { READ_PATHS, type ReadPath, type RunMeasure } from '../results.js';
import { forkRng } from '../rng.js';
import { pool } from '../seed.js';
import { quiesce } from '../settle.js';
import { closedLoop, median, type LoopResult } from '../stats.js';
import { loopSummary, summarize } from '../summaries.js';
import type { Graph } from '../workload.js';
import { MIX_CONNECTIONS, PAGE } from './constants.js';

/** The read sweep refills the hot set's pages and caller rows when its last fill is older than
 *  this (L1 keeps a page 60 s, the process a caller's row as long). */
const HOT_REFILL_MS = 30_000;
/** Pages read through L2 and copied to raw Redis keys for the comparison. */
const L2_PAGES = 200;
/** Timed direct invocations per cached tier for the CPU figure (~0.1 s of CPU each at L1). */
const CPU_INVOCATIONS = 2_000;
/** Cold reads for the CPU figure: the lightest readers of the cold pool, each read once. */
const CPU_COLD_READS = 30;

/** Feed reads of the Zipf mix until the caches are warm; whether reads go through the cache. */
export async function warmUp(ctx: BenchContext): Promise<void> {
  const { spec, measure, zipfAll } = live(ctx);
  const warm = await measure(spec({ pick: zipfAll, connections: 32, durationMs: ctx.o.warmMs, minOk: 64, maxMs: 60_000 }));
  ctx.results.meta.cacheWired = (warm.cache?.lookups ?? 0) > 0;
  ctx.log(`warm-up: ${warm.ok} feed reads (${fmt(warm.rps, 0)}/s, ${warm.non2xx} non-2xx); feed cache ${ctx.results.meta.cacheWired ? 'wired into GET /v1/feed' : 'NOT wired into GET /v1/feed yet: L1/L2 figures are pending wiring'}`);
  if (warm.ok === 0) throw new Error(`no successful feed read (status codes ${JSON.stringify(warm.statusCodes)})`);
}

let forceL1Miss = false;

/** Runs `work` with every L1 lookup missing, so each read takes the L2 path (the page is still
 *  written back to L1, as on a real L2 hit). Bench-only: the L1 is restored afterwards. */
async function withL1Missing<T>(work: () => Promise<T>): Promise<T> {
  forceL1Miss = true;
  try {
    return await work();
  } finally {
    forceL1Miss = false;
  }
}

/** Feed reads per tier (L1, L2, cold) and concurrency, each beside a bare server at the same load. */
export async function readSweep(ctx: BenchContext): Promise<void> {
  const originalGet = L1Cache.prototype.get;
  L1Cache.prototype.get = function (this: L1Cache, key: string) {
    return forceL1Miss ? undefined : originalGet.call(this, key);
  };
  try {
    await sweep(ctx);
  } finally {
    L1Cache.prototype.get = originalGet;
  }
  await cpuPerInvocation(ctx);
}

/** CPU per invocation of each tier, beside the throughput figures: the handler invoked directly in
 *  a process of its own, one invocation at a time, as Lambda runs it (no gateway, no
 *  multi-concurrency), rate limits on as deployed (with a read limit no bench reader reaches). */
async function cpuPerInvocation(ctx: BenchContext): Promise<void> {
  const { hot, coldPool, tokens, userIds } = live(ctx);
  const cold = coldPool.slice(-CPU_COLD_READS);
  await quiesce();
  const report = await invocationCpu(
    {
      hotSubs: hot.map((i) => tokenSubject(tokens[i]!)),
      coldSubs: cold.map((i) => tokenSubject(tokens[i]!)),
      coldUserIds: cold.map((i) => userIds[i]!),
      invocations: CPU_INVOCATIONS,
      ...(ctx.o.profileDir !== undefined && { profileDir: ctx.o.profileDir }),
    },
    { ...ctx.stackEnv, FEED_RATE_LIMITS: 'on', FEED_RATE_READ_PER_MINUTE: '1000000000', FEED_RATE_READ_BURST: '1000000000' },
  );
  // Leave no page the child generated for a later phase to hit.
  await invalidate(cold.map((i) => userIds[i]!));
  ctx.results.invocationCpu = report.tiers;
  ctx.log(`cpu per invocation (direct, one at a time): ${report.tiers.map((t) => `${t.tier} ${fmt(t.cpuMicros, 0)} µs${t.failed ? ` (${t.failed} failed)` : ''}`).join(' · ')}`);
}

async function sweep(ctx: BenchContext): Promise<void> {
  const { o, graph } = ctx;
  const lv = live(ctx);
  const { hot, coldPool, userIds, tokens } = lv;
  // Cold reads: users whose pages are dropped from both tiers before they are read, each read
  // once per run. Start from a pool with nothing cached.
  await invalidate(coldPool.map((i) => userIds[i]!));
  lv.load.forget(coldPool);
  const bare = await bareServerLike(lv.stack.url, '/v1/feed', tokens[hot[0]!]!);
  ctx.closers.push(() => bare.close().catch(() => {}));
  ctx.log(`read sweep: bare server returns the ${bare.bytes}-byte page of the hottest reader; hot set ${hot.length} users, cold pool ${coldPool.length}`);
  const raw: Record<ReadPath, Record<string, RunMeasure[]>> = { l1: {}, l2: {}, cold: {}, bare: {} };
  const shuffledHot = weightedOrder(hot, graph, o.seed + 1);
  const state = { coldRun: 0, roundRobin: Array.from({ length: Math.ceil(200_000 / hot.length) }, () => shuffledHot).flat(), cpu: { l1: NaN, l2: NaN, bare: NaN } };
  let filledAt = -Infinity;
  for (const c of o.concurrency) {
    // Fill L1 and L2 with the hot set's pages, unless that was done within half of L1's 60 s
    // TTL (the pages are still there: the runs below read them or write them back).
    if (performance.now() - filledAt > HOT_REFILL_MS) {
      await fillHotPages(lv);
      filledAt = performance.now();
    }
    for (let rep = 0; rep < o.reps; rep++) {
      // The heap this process (the stack, and the bench's own state) carries into the repetition:
      // garbage the earlier phases left uncollected slows every run of it, an L1 hit most.
      const heapMB = getHeapStatistics().used_heap_size / 2 ** 20;
      const m = await sweepRep(ctx, lv, bare, c, state);
      for (const p of READ_PATHS) (raw[p][c] ??= []).push(m[p]);
      ctx.tick(
        `read sweep c=${c} rep ${rep + 1}/${o.reps}: L1 ${fmt(m.l1.rps, 0)}/s p95 ${fmt(m.l1.latency.p95, 2)} ms · bare ${fmt(m.bare.rps, 0)}/s · L2 ${fmt(m.l2.rps, 0)}/s p95 ${fmt(m.l2.latency.p95, 2)} ms · cold ${fmt(m.cold.rps, 0)}/s p95 ${fmt(m.cold.latency.p95, 1)} ms · stack CPU per request L1 ${fmt(state.cpu.l1, 0)} µs, L2 ${fmt(state.cpu.l2, 0)} µs, bare ${fmt(state.cpu.bare, 0)} µs · heap ${fmt(heapMB, 0)} MB`,
        true,
      );
    }
  }
  for (const p of READ_PATHS) {
    ctx.results.sweep[p] = {};
    for (const c of o.concurrency) ctx.results.sweep[p]![c] = summarize(raw[p][c] ?? [], p);
  }
}

/** Reads every hot page once through L1 and once more through L2 alone: the second pass writes
 *  back any page whose L2 write-through was skipped under load, so the L2 runs find every page.
 *  The hot callers' rows are read again too: kept from their first read, they expired a minute
 *  after it, in the middle of a later concurrency step, whose runs then carried ~700 DynamoDB
 *  reads (the hot set's profile lookups) that belong to no tier (in every full run, the second
 *  L1 run at c=32, and the first L2 run). */
async function fillHotPages(lv: Live): Promise<void> {
  const { hot, load, spec } = lv;
  forgetCachedCallers();
  await load.run(spec({ pick: { kind: 'sequence', indices: hot }, connections: Math.min(32, hot.length), durationMs: 120_000, minOk: 0 }));
  await quiesce();
  await withL1Missing(() => load.run(spec({ pick: { kind: 'sequence', indices: hot }, connections: 8, durationMs: 120_000, minOk: 0 })));
  await quiesce();
}

/** One repetition at concurrency `c`: L1, bare, L2 and cold, in that order. */
async function sweepRep(ctx: BenchContext, lv: Live, bare: Server, c: number, state: { coldRun: number; roundRobin: number[]; cpu: Record<'l1' | 'l2' | 'bare', number>; profiled?: boolean }): Promise<Record<ReadPath, RunMeasure>> {
  const { spec, measure, zipfHot, coldPool, minOk, userIds } = lv;
  // --profile: the stack's process profiled through the first repetition's L1 and L2 runs at 32.
  const profile = ctx.o.profileDir !== undefined && c === 32 && !state.profiled;
  if (profile) state.profiled = true;
  const profiled = (name: string, run: () => Promise<RunMeasure>) => (profile ? cpuProfiled(`${ctx.o.profileDir}/gateway-${name}.cpuprofile`, run) : run());
  const l1 = await withCpu(state.cpu, 'l1', () => profiled('l1', () => measure(spec({ pick: zipfHot, connections: c }))));
  const b = await withCpu(state.cpu, 'bare', () => measure({ ...spec({ pick: { kind: 'fixed', index: 0 }, connections: c }), url: bare.url, auth: false }));
  // L2: the hot set round-robin, so concurrent reads are of different users (two reads of one
  // user at once would share one L2 read: coalesced, not an L2 hit).
  const l2r = await withCpu(state.cpu, 'l2', () => profiled('l2', () => withL1Missing(() => measure(spec({ pick: { kind: 'sequence', indices: state.roundRobin }, connections: c })))));
  // Cold: drawn by read weight without replacement, so none is read twice in the run.
  const order = weightedOrder(coldPool, ctx.graph, ctx.o.seed + 7919 * ++state.coldRun);
  // A fixed number of requests, all answered: slow cold reads left in flight at the end of a
  // timed run would load the next one.
  const cold = await measure(spec({ pick: { kind: 'sequence', indices: order }, connections: c, amount: Math.min(order.length, Math.max(minOk, c)) }));
  const dropped = order.slice(0, cold.consumed + c + 1);
  await invalidate(dropped.map((i) => userIds[i]!));
  lv.load.forget(dropped);
  return { l1, bare: b, l2: l2r, cold };
}

/** Runs a measurement and stores the CPU this process (the stack: gateway, handler, runtime; the
 *  bare server too) spent per request in `into[path]`, microseconds: unlike req/s, it barely moves
 *  when other work competes for the machine's cores. */
async function withCpu(into: Record<string, number>, path: string, run: () => Promise<RunMeasure>): Promise<RunMeasure> {
  const before = process.cpuUsage();
  const m = await run();
  const used = process.cpuUsage(before);
  into[path] = m.requests > 0 ? (used.user + used.system) / m.requests : NaN;
  return m;
}

/** The L2 tier's readFeed against raw Redis GETs of the same values, in-process, same concurrency. */
export async function l2VsRedis(ctx: BenchContext): Promise<void> {
  const { o } = ctx;
  const { stack, hot, userIds } = live(ctx);
  if (!stack.redisUrl) throw new Error('no Redis in this stack');
  const cache = l2();
  const variant = feedVariant(PAGE);
  const found: { userId: string; value: string }[] = [];
  for (const i of hot) {
    const r = await cache.readFeed(userIds[i]!, variant, { counted: false });
    if (r.status === 'hit') found.push({ userId: userIds[i]!, value: r.value });
    if (found.length >= L2_PAGES) break;
  }
  if (found.length === 0) throw new Error('no hot page in L2 (is the cache wired?)');
  const r = new Redis(stack.redisUrl, { maxRetriesPerRequest: 1 });
  ctx.closers.push(() => r.disconnect());
  await Promise.all(found.map((f, k) => r.set(`bench:raw:${k}`, f.value)));
  const l2Runs: LoopResult[] = [];
  const rawRuns: LoopResult[] = [];
  for (let rep = 0; rep < o.reps; rep++) {
    const loopMs = Math.min(o.runMs, 1500);
    l2Runs.push(await closedLoop((i) => l2Hit(cache, found[i % found.length]!.userId, variant), { concurrency: MIX_CONNECTIONS, durationMs: loopMs, maxOps: 2_000_000 }));
    rawRuns.push(await closedLoop((i) => r.get(`bench:raw:${i % found.length}`), { concurrency: MIX_CONNECTIONS, durationMs: loopMs, maxOps: 2_000_000 }));
  }
  const x = { l2: loopSummary(l2Runs), raw: loopSummary(rawRuns), concurrency: MIX_CONNECTIONS, valueBytes: Math.round(median(found.map((f) => Buffer.byteLength(f.value)))) };
  ctx.results.l2VsRaw = x;
  const failed = l2Runs.reduce((n, r) => n + r.errors, 0);
  ctx.log(`l2 vs redis: L2 readFeed ${fmt(x.l2.opsPerSec, 0)}/s p95 ${fmt(x.l2.p95, 2)} ms${failed ? ` (${failed} reads not hits, left out)` : ''} · raw GET ${fmt(x.raw.opsPerSec, 0)}/s p95 ${fmt(x.raw.p95, 2)} ms`);
  await r.del(...found.map((_, k) => `bench:raw:${k}`));
}

/** One L2 read that must hit: a miss, a timeout or a read the open breaker answered at once is an
 *  error of the loop, not an operation (counted, those would pass for the fastest reads). */
async function l2Hit(cache: ReturnType<typeof l2>, userId: string, variant: string): Promise<void> {
  const r = await cache.readFeed(userId, variant, { counted: false });
  if (r.status !== 'hit') throw new Error(`L2 read ${r.status}`);
}

/** The pool in a weighted random order (Efraimidis–Spirakis): heavier readers tend to come first. */
export function weightedOrder(poolIdx: number[], g: Graph, seed: number): number[] {
  const rng = forkRng(seed, 'cold');
  const keyed = poolIdx.map((i) => ({ i, k: Math.log(1 - rng.next()) / g.readWeights[i]! }));
  keyed.sort((a, b) => b.k - a.k);
  return keyed.map((x) => x.i);
}

/** Drops users' cached feed pages (L1 and L2), 64 at a time. */
async function invalidate(userIds: string[]): Promise<void> {
  const cache = feedCache();
  await pool(userIds, 64, (u) => cache.invalidate(u));
}
