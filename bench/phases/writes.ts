// The phases with posts in them: the ~100:1 Zipf read:write mix (cache hit rates), the time from a
// post to its first appearance in a follower's feed, and fan-out throughput end to end (posts →
// stream → post-router → queue → fan-out-worker), each leaving the stack settled.
import { fmt, live, type BenchContext } from '../context.js';
import { httpJson } from '../http.js';
import type { RunMeasure } from '../results.js';
import { forkRng } from '../rng.js';
import { settle, writesByEntity } from '../settle.js';
import { median, percentile, waitFor } from '../stats.js';
import { MIX_CONNECTIONS, PAGE } from './constants.js';

/** The 100:1 read:write mix of the design (7M reads/s against 65K writes/s ≈ 108:1). */
const WRITE_SHARE = 1 / 101;
/** Post-to-visible: a post not visible within this is a timeout (and counts at this value). */
const VISIBLE_TIMEOUT_MS = 5000;
const VISIBLE_POLL_MS = 10;

const settleMs = (ctx: BenchContext) => (ctx.o.quick ? 20_000 : 60_000);

/** Hit rates under the 100:1 Zipf mix at MIX_CONNECTIONS, after a run that reaches steady state. */
export async function zipfMix(ctx: BenchContext): Promise<void> {
  const { o, graph } = ctx;
  const { spec, measure, zipfAll, stack } = live(ctx);
  const writers = { indices: Array.from({ length: graph.n }, (_, i) => i), weights: Array.from(graph.postWeights) };
  const mixSpec = () => spec({ pick: zipfAll, connections: MIX_CONNECTIONS, durationMs: o.mixMs, writeShare: WRITE_SHARE, writers });
  await live(ctx).load.run(mixSpec()); // steady state first: caches filled under the same mix
  const runs: RunMeasure[] = [];
  for (let rep = 0; rep < o.reps; rep++) {
    const m = await measure(mixSpec());
    runs.push(m);
    const cd = m.cache;
    ctx.tick(`zipf mix rep ${rep + 1}/${o.reps}: ${fmt(m.rps, 0)} req/s, ${m.writes} posts, hit rate ${cd ? fmt(100 * (1 - cd.generated / Math.max(1, cd.lookups)), 1) : 'n/a'}%`, true);
  }
  const rates = runs.map((m) => {
    const cd = m.cache;
    if (!cd || cd.lookups === 0) return { hit: NaN, steady: NaN, l1: NaN, l2: NaN };
    return {
      hit: 1 - cd.generated / cd.lookups,
      // A first read of a user cannot hit any cache; in steady state (every reader seen within
      // the TTL) those are gone, so they are left out of both sides here.
      steady: 1 - Math.max(0, cd.generated - m.firstReads) / Math.max(1, cd.lookups - m.firstReads),
      l1: cd.l1Hits / cd.lookups,
      l2: cd.l2Hits / Math.max(1, cd.l2Hits + cd.l2Misses),
    };
  });
  ctx.results.mix = {
    hitRate: median(rates.map((r) => r.hit)),
    steadyHitRate: median(rates.map((r) => r.steady)),
    firstReadShare: median(runs.map((m) => m.firstReads / Math.max(1, m.requests - m.writes))),
    l1HitRate: median(rates.map((r) => r.l1)),
    l2HitRate: median(rates.map((r) => r.l2)),
    dbReadsPerRead: median(runs.map((m) => m.dbReads)),
    rps: median(runs.map((m) => m.rps)),
    p50: median(runs.map((m) => m.latency.p50)),
    p95: median(runs.map((m) => m.latency.p95)),
    p99: median(runs.map((m) => m.latency.p99)),
    readWriteRatio: median(runs.map((m) => (m.requests - m.writes) / Math.max(1, m.writes))),
    runs,
  };
  await settle(stack, { timeoutMs: settleMs(ctx) });
}

/** POST /v1/posts → the first GET /v1/feed of a regular author's follower that shows the post. */
export async function postToVisible(ctx: BenchContext): Promise<void> {
  const { o, graph } = ctx;
  const { stack, tokens } = live(ctx);
  const rng = forkRng(o.seed, 'visible');
  const authors = Array.from({ length: graph.n }, (_, i) => i).filter((i) => graph.tiers[i] === 'regular' && graph.followers[i]!.length > 0);
  const rounds: { p50: number; p95: number; samplesMs: number[] }[] = [];
  let timeouts = 0;
  for (let rep = 0; rep < o.reps; rep++) {
    const samples: number[] = [];
    for (let k = 0; k < o.visibleSamples; k++) {
      const a = authors[rng.int(authors.length)]!;
      const f = graph.followers[a]![rng.int(graph.followers[a]!.length)]!;
      // The follower has a cached first page already, as a reader would.
      await httpJson(stack.url, 'GET', `/v1/feed?limit=${PAGE}`, tokens[f]);
      const t0 = performance.now();
      const created = await httpJson(stack.url, 'POST', '/v1/posts', tokens[a], { content: `visible? ${rep}/${k}` });
      if (created.status !== 201) throw new Error(`POST /v1/posts answered ${created.status}`);
      const postId = (created.json as { postId: string }).postId;
      const seen = await waitFor(
        async () => {
          const page = await httpJson(stack.url, 'GET', `/v1/feed?limit=${PAGE}`, tokens[f]);
          return page.status === 200 && (page.json as { items: { postId: string }[] }).items.some((p) => p.postId === postId);
        },
        VISIBLE_TIMEOUT_MS,
        VISIBLE_POLL_MS,
      );
      const ms = performance.now() - t0;
      if (!seen) timeouts++;
      samples.push(seen ? ms : Math.max(ms, VISIBLE_TIMEOUT_MS));
    }
    rounds.push({ p50: percentile(samples, 0.5), p95: percentile(samples, 0.95), samplesMs: samples });
    ctx.tick(`post-to-visible rep ${rep + 1}/${o.reps}: p50 ${fmt(rounds.at(-1)!.p50, 0)} ms, p95 ${fmt(rounds.at(-1)!.p95, 0)} ms`, true);
  }
  ctx.results.visible = { p50: median(rounds.map((r) => r.p50)), p95: median(rounds.map((r) => r.p95)), samples: rounds.length * o.visibleSamples, timeouts, rounds };
  await settle(stack, { timeoutMs: settleMs(ctx) });
}

/** Feed entries per second end to end: the regular authors with most followers post at once. */
export async function fanOut(ctx: BenchContext): Promise<void> {
  const { o, graph } = ctx;
  const { stack, tokens } = live(ctx);
  const regular = Array.from({ length: graph.n }, (_, i) => i)
    .filter((i) => graph.tiers[i] === 'regular')
    .sort((a, b) => graph.followers[b]!.length - graph.followers[a]!.length)
    .slice(0, o.fanoutAuthors);
  const expected = regular.reduce((n, a) => n + graph.followers[a]!.length, 0);
  const rounds: { entries: number; ms: number; entriesPerSec: number }[] = [];
  for (let rep = 0; rep < o.reps; rep++) {
    const f0 = writesByEntity().feeds ?? 0;
    const t0 = performance.now();
    await Promise.all(regular.map((a) => httpJson(stack.url, 'POST', '/v1/posts', tokens[a], { content: `fan-out round ${rep}` })));
    await waitFor(() => (writesByEntity().feeds ?? 0) - f0 >= expected, o.quick ? 30_000 : 90_000, 10);
    const ms = performance.now() - t0;
    const entries = (writesByEntity().feeds ?? 0) - f0;
    rounds.push({ entries, ms, entriesPerSec: entries / (ms / 1000) });
    ctx.tick(`fan-out rep ${rep + 1}/${o.reps}: ${entries} entries in ${fmt(ms, 0)} ms = ${fmt(rounds.at(-1)!.entriesPerSec, 0)}/s`, true);
    // The notifications of the round finish before the next one is timed.
    await settle(stack, { timeoutMs: settleMs(ctx) });
  }
  ctx.results.fanout = { entriesPerSec: median(rounds.map((r) => r.entriesPerSec)), rounds, authors: regular.length, followers: expected };
}
