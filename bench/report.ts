// Turns the results into the one table the bench prints (and the README carries): every figure,
// its baseline and ratio, and the issue's targets checked pass/fail with the miss margin. Targets
// are fixed here, as the issue states them; a miss is reported, never relaxed.
import { describeSpeed } from './machine-speed.js';
import { PATH_LABEL, type Results, type RunSummary } from './results.js';
import { median } from './stats.js';

export interface Row {
  section: string;
  figure: string;
  measured: string;
  baseline: string;
  target: string;
  /** '', 'PASS', 'FAIL — <miss margin>', 'pending' (waits on wiring) or 'error'. */
  result: string;
}

/** The issue's targets. */
export const TARGETS = {
  l1VsBare: 0.5,
  l2P95AtC32Ms: 5,
  /** L2-hit req/s against L1-hit req/s at TARGET_CONCURRENCY. */
  l2VsL1AtC32: 0.8,
  coldP95Ms: 50,
  visibleP95Ms: 1000,
  writerVsRaw: 0.8,
  hitRate: 0.95,
  megaFewerWrites: 0.999,
  bundleBytes: 1_000_000,
  coldInitMs: 300,
  /** A day of sessions: cache hits over every feed request, a user's first read included. */
  dayHitRate: 0.87,
  /** A day of sessions: DynamoDB requests per feed request (warming's included) against the same
   *  day uncached. */
  dayFewerRequests: 0.85,
  /** DynamoDB requests of a cold first page when the precomputed feed holds a page. */
  coldPageRequests: 3,
  /** Multi-region: a write acknowledged in one region until readable in each other, p95. */
  replicationLagP95Ms: 1000,
  /** Multi-region: post-to-visible p95 for followers homed in another region / the author's. */
  crossRegionVisibleP95Ms: 2000,
  sameRegionVisibleP95Ms: 1000,
  /** Multi-region: a region's processes killed until its users' first 201 at the failover region. */
  failoverMs: 10_000,
  /** Multi-region: acknowledged posts missing in any region after the outage and the return. */
  writesLost: 0,
  /** Resharding under load: failed requests, acknowledged writes that do not read back, and the
   *  write pause of a cut-over (p99). */
  reshardFailedRequests: 0,
  reshardWritesLost: 0,
  reshardPauseP99Ms: 1000,
  /** The bench's own wall time: a full run, and `--quick`. */
  fullRunSeconds: 600,
  quickRunSeconds: 120,
} as const;
/** The concurrency at which the latency targets are read (the issue names it for L2; the cold
 *  target is read at the same load). */
export const TARGET_CONCURRENCY = 32;


/** `Query Feeds 1,204 · BatchGet Posts 980`: a day's read requests by command and table. */
const commandList = (m: Record<string, number>) => Object.entries(m).map(([k, n]) => `${k} ${n.toLocaleString('en-US')}`).join(' · ') || 'none';
const n0 = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
const f = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
const ms = (v: number) => (!Number.isFinite(v) ? 'n/a' : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));
const pct = (v: number, d = 1) => (Number.isFinite(v) ? `${(100 * v).toFixed(d)}%` : 'n/a');
const kb = (b: number) => (Number.isFinite(b) ? `${(b / 1000).toFixed(0)} kB` : 'n/a');
const mb = (b: number) => (Number.isFinite(b) ? `${(b / 2 ** 20).toFixed(0)} MiB` : 'n/a');

function lat(s: RunSummary): string {
  return `p50 ${ms(s.p50)} · p95 ${ms(s.p95)} · p99 ${ms(s.p99)} ms · ${n0(s.rps)} req/s`;
}

export function buildRows(r: Results): Row[] {
  return SECTIONS.flatMap((section) => section(r));
}

/** The report's sections, in the order the table prints them. */
const SECTIONS: ((r: Results) => Row[])[] = [feedReadRows, readTargetRows, dayTargetRows, pipelineTargetRows, bundleTargetRows, regionTargetRows, reshardTargetRows, runTimeRows, dayRows, strategyRows, tierRows, engineRows, workflowRows, rssRows, handlerRows, errorRows];

/** Concurrencies of the read sweep, ascending. */
function concurrencies(r: Results): number[] {
  return Object.keys(r.sweep.l1 ?? r.sweep.cold ?? {}).map(Number).sort((a, b) => a - b);
}

/** Feed reads per tier and concurrency, then the bare server at each. */
function feedReadRows(r: Results): Row[] {
  const rows: Row[] = [];
  const add = (row: Row) => rows.push(row);
  const wired = r.meta.cacheWired === true;
  const conc = concurrencies(r);
  for (const p of ['l1', 'l2', 'cold'] as const) {
    for (const c of conc) {
      const s = r.sweep[p]?.[c];
      const bare = r.sweep.bare?.[c];
      if (!s) continue;
      const pending = p !== 'cold' && !wired;
      add({
        section: 'feed read (HTTP)',
        figure: `${PATH_LABEL[p]} · c=${c}`,
        measured: `${lat(s)} · ${f(s.dbReads, 1)} DB reads/req${s.purity !== undefined ? ` · ${pct(s.purity, 0)} ${p === 'cold' ? 'generated' : 'from tier'}` : ''}${s.l2Errors || s.l2ShortCircuited ? ` · Redis: ${s.l2Errors} timeouts, ${s.l2ShortCircuited} short-circuited` : ''}${pending ? ' (pending wiring)' : ''}${s.errors ? ` · ${s.errors} errors` : ''}`,
        baseline: p === 'l1' && bare ? `bare ${n0(bare.rps)} req/s (${pct(s.rps / bare.rps, 0)})` : '',
        target: '',
        result: '',
      });
    }
  }
  for (const c of conc) {
    const b = r.sweep.bare?.[c];
    if (b) add({ section: 'feed read (HTTP)', figure: `bare node:http · c=${c}`, measured: lat(b), baseline: 'same bytes, no work', target: '', result: '' });
  }
  const l1Cpu = r.invocationCpu?.find((t) => t.tier === 'l1');
  for (const t of r.invocationCpu ?? []) {
    add({
      section: 'feed read (HTTP)',
      figure: `CPU per invocation, ${PATH_LABEL[t.tier]} (handler invoked directly, one at a time, as Lambda)`,
      measured: `${n0(t.cpuMicros)} µs (${t.invocations} invocations${t.failed ? `, ${t.failed} failed` : ''})`,
      baseline: l1Cpu && t.tier !== 'l1' ? `L1 hit ${n0(l1Cpu.cpuMicros)} µs (${f(t.cpuMicros / l1Cpu.cpuMicros, 1)}×)` : '',
      target: '',
      result: '',
    });
  }
  return rows;
}

/** Targets on the read path: L1 against bare, L2 and cold p95, the mix's hit rate. */
function readTargetRows(r: Results): Row[] {
  const rows: Row[] = [];
  const add = (row: Row) => rows.push(row);
  const wired = r.meta.cacheWired === true;
  const conc = concurrencies(r);
  if (r.sweep.l1 && r.sweep.bare) {
    const peakL1 = Math.max(...conc.map((c) => r.sweep.l1![c]!.rps));
    const peakBare = Math.max(...conc.map((c) => r.sweep.bare![c]!.rps));
    const ratio = peakL1 / peakBare;
    const pass = wired ? ratio >= TARGETS.l1VsBare : undefined;
    add({
      section: 'targets',
      figure: 'L1-hit req/s vs bare server (peak of sweep)',
      measured: `${n0(peakL1)} req/s`,
      baseline: `bare ${n0(peakBare)} req/s → ${pct(ratio)}`,
      target: `≥ ${pct(TARGETS.l1VsBare, 0)} of bare`,
      result: withMargin(pass, `${f(100 * (TARGETS.l1VsBare - ratio), 1)} pts short`),
    });
  }
  const l2c = r.sweep.l2?.[TARGET_CONCURRENCY];
  if (l2c) {
    const pass = wired ? l2c.p95 < TARGETS.l2P95AtC32Ms : undefined;
    add({
      section: 'targets',
      figure: `L2-hit p95 at c=${TARGET_CONCURRENCY}`,
      measured: `${ms(l2c.p95)} ms`,
      baseline: r.l2VsRaw ? `raw Redis GET p95 ${ms(r.l2VsRaw.raw.p95)} ms` : '',
      target: `< ${TARGETS.l2P95AtC32Ms} ms`,
      result: withMargin(pass, `${ms(l2c.p95 - TARGETS.l2P95AtC32Ms)} ms over`),
    });
  }
  const l1c = r.sweep.l1?.[TARGET_CONCURRENCY];
  if (l2c && l1c) {
    const ratio = l2c.rps / l1c.rps;
    add({
      section: 'targets',
      figure: `L2-hit req/s vs L1-hit req/s at c=${TARGET_CONCURRENCY}`,
      measured: `${n0(l2c.rps)} req/s`,
      baseline: `L1 hit ${n0(l1c.rps)} req/s → ${pct(ratio)}`,
      target: `≥ ${pct(TARGETS.l2VsL1AtC32, 0)} of L1`,
      result: withMargin(wired ? ratio >= TARGETS.l2VsL1AtC32 : undefined, `${f(100 * (TARGETS.l2VsL1AtC32 - ratio), 1)} pts short`),
    });
  }
  const coldc = r.sweep.cold?.[TARGET_CONCURRENCY];
  if (coldc) {
    const pass = coldc.p95 < TARGETS.coldP95Ms;
    add({
      section: 'targets',
      figure: `cold (DynamoDB) p95 at c=${TARGET_CONCURRENCY}`,
      measured: `${ms(coldc.p95)} ms`,
      baseline: r.sweep.cold?.[1] ? `c=1: p95 ${ms(r.sweep.cold[1]!.p95)} ms` : '',
      target: `< ${TARGETS.coldP95Ms} ms`,
      result: withMargin(pass, `${ms(coldc.p95 - TARGETS.coldP95Ms)} ms over`),
    });
  }
  if (r.mix) {
    const pass = wired ? r.mix.steadyHitRate >= TARGETS.hitRate : undefined;
    add({
      section: 'targets',
      figure: `cache hit rate, Zipf mix ${f(r.mix.readWriteRatio, 0)}:1 read:write, c=32 (steady state)`,
      measured: `${pct(r.mix.steadyHitRate)} without first reads; ${pct(r.mix.hitRate)} with them (${pct(r.mix.firstReadShare, 0)} of reads were a user's first)`,
      baseline: `L1 ${pct(r.mix.l1HitRate)} · L2 ${pct(r.mix.l2HitRate)} of L1 misses · ${lat({ ...r.mix, dbReads: r.mix.dbReadsPerRead, errors: 0, runs: [] })}`,
      target: `≥ ${pct(TARGETS.hitRate, 0)}`,
      result: withMargin(pass, `${f(100 * (TARGETS.hitRate - r.mix.steadyHitRate), 1)} pts short`),
    });
  }
  return rows;
}

/** Targets measured on the day of sessions: hit rate over every read, DynamoDB requests against
 *  the same day uncached, and the cold first page's requests. */
function dayTargetRows(r: Results): Row[] {
  const rows: Row[] = [];
  const d = r.day;
  if (d) {
    rows.push({
      section: 'targets',
      figure: `cache hit rate, a day of sessions (${n0(d.feedRequests)} feed requests), every read counted`,
      measured: `${pct(d.hitRate)} (a user's first read of the day: ${pct(d.firstOfDayHitRate)} of ${n0(d.firstOfDay)})`,
      baseline: `first pages ${pct(d.firstPageHitRate)} · later pages ${pct(d.deeperHitRate)} from the cached window`,
      target: `≥ ${pct(TARGETS.dayHitRate, 0)}`,
      result: withMargin(d.hitRate >= TARGETS.dayHitRate, `${f(100 * (TARGETS.dayHitRate - d.hitRate), 1)} pts short`),
    });
  }
  const u = r.dayUncached;
  if (d && u) {
    const fewer = 1 - d.dbPerRequest / u.dbPerRequest;
    rows.push({
      section: 'targets',
      figure: 'DynamoDB requests per feed request, the day vs the same day uncached',
      measured: `${f(d.dbPerRequest, 2)} (reads ${f(d.dbPerRequest - d.warmPerRequest, 2)} + warming ${f(d.warmPerRequest, 2)})`,
      baseline: `uncached ${f(u.dbPerRequest, 2)} (1 session in ${u.every}, ${n0(u.feedRequests)} requests) → ${pct(fewer)} fewer`,
      target: `≥ ${pct(TARGETS.dayFewerRequests, 0)} fewer`,
      result: withMargin(fewer >= TARGETS.dayFewerRequests, `${f(100 * (TARGETS.dayFewerRequests - fewer), 1)} pts short`),
    });
  }
  const c = r.coldPage;
  if (c && c.holdsPage.readers > 0) {
    rows.push({
      section: 'targets',
      figure: `cold first page, feed holds a page (${n0(c.holdsPage.readers)} readers)`,
      measured: `max ${f(c.holdsPage.max, 0)} · mean ${f(c.holdsPage.mean, 2)} DynamoDB requests${c.mapReads ? ` (and ${n0(c.mapReads)} shard-map re-read${c.mapReads > 1 ? 's' : ''} in passing: the process's periodic read, not the page's)` : ''}`,
      baseline: `feed shorter than a page (history continuation, ${n0(c.short.readers)} readers): mean ${f(c.short.mean, 1)} · max ${f(c.short.max, 0)}`,
      target: `≤ ${TARGETS.coldPageRequests}`,
      result: withMargin(c.holdsPage.max <= TARGETS.coldPageRequests, `${f(c.holdsPage.max - TARGETS.coldPageRequests, 0)} over`),
    });
  }
  return rows;
}

/** The day of sessions: what was played, and where reads and DynamoDB requests went. */
function dayRows(r: Results): Row[] {
  const d = r.day;
  if (!d) return [];
  const row = (figure: string, measured: string, baseline = ''): Row => ({ section: 'a day of sessions', figure, measured, baseline, target: '', result: '' });
  return [
    row(
      'workload',
      `${n0(d.users)} users · ${n0(d.sessions)} sessions · ${n0(d.feedRequests)} feed requests (${n0(d.firstPages)} first pages) · ${n0(d.posts)} posts · ${n0(d.follows)} follows`,
      `a day in ${f(d.wallMs / 1000, 0)} s (×${n0(d.scale)}); ${n0(d.priorReaders)} users read in the reader TTL before it`,
    ),
    row('where reads were served', `L1 ${n0(d.l1Hits)} · L2 ${n0(d.l2Hits)} · cached window ${n0(d.deeperHits)} · generated ${n0(d.generated)} · DynamoDB (past the window) ${n0(d.feedRequests - d.firstPages - d.deeperHits)}`, [d.non2xx ? `${n0(d.non2xx)} non-2xx` : '', d.l2Errors || d.l2ShortCircuited ? `Redis: ${n0(d.l2Errors ?? 0)} timeouts, ${n0(d.l2ShortCircuited ?? 0)} short-circuited` : ''].filter(Boolean).join(' · ')),
    row('DynamoDB read requests', `feed reads ${n0(d.dbRead)} · warming ${n0(d.dbWarm)}`, r.dayUncached ? `uncached ${f(r.dayUncached.dbPerRequest, 2)} per request` : ''),
    ...(d.dbCommands ? [row('DynamoDB read requests by command and table', `feed reads: ${commandList(d.dbCommands.read)}`, `warming: ${commandList(d.dbCommands.warm)}`)] : []),
    row('warming', `${n0(d.warmingRuns)} CacheWarming runs: ${n0(d.warmed.scheduled)} pages generated, ${n0(d.warmed.skipped)} still cached · on fan-out ${n0(d.warmed.onFanOut)} pages`),
    ...(d.memory
      ? [row('Redis memory of cached pages, end of the day', `${n0(d.memory.users)} users · ${f(d.memory.bytesPerUser / 1024, 1)} KiB each · ${f(d.memory.pageBytes / 2 ** 20, 1)} MiB`, `Redis used_memory ${f(d.memory.usedBytes / 2 ** 20, 1)} MiB; at 1M users reading in the TTL: ${f((d.memory.bytesPerUser * 1e6) / 2 ** 30, 1)} GiB`)]
      : []),
    row('sessions started late (machine keeping up)', `median ${ms(d.lateMedianMs)} · p95 ${ms(d.lateP95Ms)} ms`),
  ];
}

/** Targets on the write path: post-to-visible, writer against raw, mega-celebrity writes. */
function pipelineTargetRows(r: Results): Row[] {
  const rows: Row[] = [];
  const add = (row: Row) => rows.push(row);
  if (r.visible) {
    const pass = r.visible.p95 < TARGETS.visibleP95Ms;
    add({
      section: 'targets',
      figure: `post-to-visible, regular follower (${r.visible.samples} posts)`,
      measured: `p50 ${ms(r.visible.p50)} · p95 ${ms(r.visible.p95)} ms${r.visible.timeouts ? ` · ${r.visible.timeouts} not visible in 5 s` : ''}`,
      baseline: 'POST → first GET /v1/feed that shows it',
      target: `p95 < ${TARGETS.visibleP95Ms} ms`,
      result: withMargin(pass, `${ms(r.visible.p95 - TARGETS.visibleP95Ms)} ms over`),
    });
  }
  if (r.writer) {
    const pass = r.writer.ratio >= TARGETS.writerVsRaw;
    add({
      section: 'targets',
      figure: `fan-out writer vs raw BatchWriteItem (${r.writer.entries} entries, ${r.writer.concurrency} at once)`,
      measured: `${n0(r.writer.writer)} entries/s`,
      baseline: `raw ${n0(r.writer.raw)} items/s → ${pct(r.writer.ratio)}`,
      target: `≥ ${pct(TARGETS.writerVsRaw, 0)} of raw`,
      result: withMargin(pass, `${f(100 * (TARGETS.writerVsRaw - r.writer.ratio), 1)} pts short`),
    });
  }
  const mega = r.tiers?.mega?.[0];
  if (mega) {
    const reduction = 1 - mega.feedWrites / Math.max(1, mega.pushAllWrites);
    const pass = reduction >= TARGETS.megaFewerWrites;
    add({
      section: 'targets',
      figure: `mega-celebrity post: fan-out writes vs plain push (${n0(mega.followers)} followers)`,
      measured: `${n0(mega.feedWrites)} feed entries`,
      baseline: `push-to-all ${n0(mega.pushAllWrites)} → ${pct(reduction, 2)} fewer`,
      target: `≥ ${pct(TARGETS.megaFewerWrites, 1)} fewer`,
      result: withMargin(pass, `${f(100 * (TARGETS.megaFewerWrites - reduction), 2)} pts short`),
    });
  }
  return rows;
}

/** Targets of the multi-region section (bench/phases/regions.ts), or why it did not run. */
function regionTargetRows(r: Results): Row[] {
  const g = r.regions;
  const row = (figure: string, measured: string, baseline: string, target: string, result: string): Row => ({ section: 'targets', figure, measured, baseline, target, result });
  if (!g) {
    const off = (r.meta.options as { regions?: boolean }).regions === false;
    return off ? [{ section: 'multi-region', figure: 'replication, failover, writes lost (3 local regions)', measured: 'not run (--regions 0; off in --quick)', baseline: '', target: '', result: '' }] : [];
  }
  const late = (x: { p50: number; p95: number; timeouts: number }) => `p50 ${ms(x.p50)} · p95 ${ms(x.p95)} ms${x.timeouts ? ` · ${x.timeouts} not seen in 10 s` : ''}`;
  const over = (v: number, target: number) => (Number.isFinite(v) ? `${ms(v - target)} ms over` : 'p95 not seen in 10 s');
  const { replication: rep, visible: vis, failover: fo, lost } = g;
  return [
    row(`multi-region replication lag (${rep.samples} samples over ${Object.keys(rep.pairs).length} region pairs)`, late(rep), 'POST acknowledged → GET /v1/posts/{id} 200 in the other region', `p95 < ${TARGETS.replicationLagP95Ms} ms`, withMargin(rep.p95 < TARGETS.replicationLagP95Ms, over(rep.p95, TARGETS.replicationLagP95Ms))),
    row(`multi-region post-to-visible, follower in another region (${vis.cross.samples} samples, ${vis.posts} posts)`, late(vis.cross), `same region ${late(vis.same)}`, `p95 < ${TARGETS.crossRegionVisibleP95Ms} ms`, withMargin(vis.cross.p95 < TARGETS.crossRegionVisibleP95Ms, over(vis.cross.p95, TARGETS.crossRegionVisibleP95Ms))),
    row(`multi-region post-to-visible, follower in the author's region (${vis.same.samples} samples)`, late(vis.same), 'POST → first GET /v1/feed at home that shows it', `p95 < ${TARGETS.sameRegionVisibleP95Ms} ms`, withMargin(vis.same.p95 < TARGETS.sameRegionVisibleP95Ms, over(vis.same.p95, TARGETS.sameRegionVisibleP95Ms))),
    row('multi-region failover (us-east-1 killed → first 201 at us-west-2)', Number.isFinite(fo.ms) ? `${f(fo.ms / 1000, 2)} s` : 'no 201 within 60 s', `${fo.attempts} POSTs, one per 100 ms; the kill took ${ms(fo.killMs)} ms`, `< ${TARGETS.failoverMs / 1000} s`, withMargin(fo.ms < TARGETS.failoverMs, Number.isFinite(fo.ms) ? `${f((fo.ms - TARGETS.failoverMs) / 1000, 2)} s over` : 'no failover')),
    row(`multi-region writes lost across the outage (${lost.acknowledged} posts × ${g.regions.length} regions)`, `${lost.missing} missing`, `acknowledged ${lost.before} before · ${lost.during} during · ${lost.after} after; all read back in ${f(lost.convergeMs / 1000, 1)} s; restart ${f(lost.restartMs / 1000, 0)} s`, `${TARGETS.writesLost}`, withMargin(lost.missing <= TARGETS.writesLost, `${lost.missing} lost`)),
  ];
}

/** Targets of the resharding section (bench/phases/reshard.ts), or why it did not run. */
function reshardTargetRows(r: Results): Row[] {
  const g = r.reshard;
  const row = (figure: string, measured: string, baseline: string, target: string, result: string): Row => ({ section: 'targets', figure, measured, baseline, target, result });
  if (!g) {
    const off = (r.meta.options as { reshard?: boolean }).reshard === false;
    return off ? [{ section: 'resharding', figure: 'reshard 32 → 64 under load', measured: 'not run (--reshard 0; off in --quick)', baseline: '', target: '', result: '' }] : [];
  }
  const done = g.exitCode === 0 ? '' : ` (feedctl exit ${g.exitCode}: ${g.output.split('\n').at(-2) ?? ''})`;
  return [
    row(`reshard ${g.from} → ${g.to}: failed requests (${g.requests} during the move)`, `${g.failures}${done}`, [`${g.retried503 ?? 0} 503s retried (Retry-After) and then answered`, ...g.failureSamples].join('; '), `${TARGETS.reshardFailedRequests}`, withMargin(g.failures <= TARGETS.reshardFailedRequests && g.exitCode === 0, `${g.failures} failed`)),
    row(`reshard ${g.from} → ${g.to}: acknowledged writes lost (${g.acknowledged.posts} posts, ${g.acknowledged.follows} follows)`, `${g.missing}`, g.missingSamples.join('; '), `${TARGETS.reshardWritesLost}`, withMargin(g.missing <= TARGETS.reshardWritesLost, `${g.missing} lost`)),
    row(`reshard ${g.from} → ${g.to}: write pause per cut-over (${g.cutOvers} cut-overs)`, `p50 ${ms(g.pauseP50Ms)} · p99 ${ms(g.pauseP99Ms)} · max ${ms(g.pauseMaxMs)} ms`, `${g.pauseMaxParts ? `longest: ${g.pauseMaxParts}; ` : ''}client write p99 ${ms(g.writeP99BeforeMs)} ms before, ${ms(g.writeP99DuringMs)} ms during (max ${ms(g.writeMaxDuringMs)})`, `p99 < ${TARGETS.reshardPauseP99Ms} ms`, withMargin(g.pauseP99Ms < TARGETS.reshardPauseP99Ms, `${ms(g.pauseP99Ms - TARGETS.reshardPauseP99Ms)} ms over`)),
    row(`reshard ${g.from} → ${g.to}: time per million rows moved`, `${f(g.msPerMillionRows / 60_000, 1)} min`, `${g.rowsCopied} rows copied in ${f(g.reshardMs / 1000, 1)} s (${g.seededRows} seeded); --finish ${f(g.finishMs / 1000, 1)} s`, '', ''),
  ];
}

/** Targets on the handlers: bundle size and cold init, worst of all. */
function bundleTargetRows(r: Results): Row[] {
  const rows: Row[] = [];
  const add = (row: Row) => rows.push(row);
  if (r.bundles?.length) {
    const worstSize = [...r.bundles].sort((a, b) => (b.bytes || Infinity) - (a.bytes || Infinity))[0]!;
    const worstInit = [...r.bundles].sort((a, b) => (Number.isFinite(b.initMs) ? b.initMs : Infinity) - (Number.isFinite(a.initMs) ? a.initMs : Infinity))[0]!;
    const over = r.bundles.filter((b) => !(b.bytes < TARGETS.bundleBytes));
    const slow = r.bundles.filter((b) => !(b.initMs < TARGETS.coldInitMs));
    add({
      section: 'targets',
      figure: `handler bundles (${r.bundles.length}, esbuild minified ESM)`,
      measured: `largest ${worstSize.fn} ${kb(worstSize.bytes)}`,
      baseline: `median ${kb(median(r.bundles.map((b) => b.bytes)))}`,
      target: `each < ${kb(TARGETS.bundleBytes)}`,
      result: withMargin(over.length === 0, `${over.length} of ${r.bundles.length} over, by up to ${kb(worstSize.bytes - TARGETS.bundleBytes)}${commonHeavy(r.bundles)}`),
    });
    add({
      section: 'targets',
      figure: 'handler cold init (import in a fresh node)',
      measured: `slowest ${worstInit.fn} ${ms(worstInit.initMs)} ms`,
      baseline: `median ${ms(median(r.bundles.map((b) => b.initMs)))} ms`,
      target: `each < ${TARGETS.coldInitMs} ms`,
      result: withMargin(slow.length === 0, `${slow.length} of ${r.bundles.length} over, by up to ${ms(worstInit.initMs - TARGETS.coldInitMs)} ms`),
    });
  }
  return rows;
}

/** Hybrid against plain push and plain pull, side by side. */
function strategyRows(r: Results): Row[] {
  const rows: Row[] = [];
  const add = (row: Row) => rows.push(row);
  if (r.writesPerPost) {
    const w = r.writesPerPost;
    add({
      section: 'hybrid vs push vs pull',
      figure: 'feed writes per post (seeded history)',
      measured: `hybrid ${f(w.hybrid, 2)}`,
      baseline: `push-to-all ${f(w.push, 2)} (hybrid ${pct(w.hybrid / w.push, 0)}) · pull-at-read ${f(w.pull, 0)}`,
      target: '',
      result: '',
    });
  }
  if (r.strategies) {
    const st = r.strategies;
    add({
      section: 'hybrid vs push vs pull',
      figure: `feed read, no cache, Zipf readers, c=${st.connections}`,
      measured: `hybrid p50 ${ms(st.hybrid.p50)} · p95 ${ms(st.hybrid.p95)} ms · ${n0(st.hybrid.rps)} req/s`,
      baseline: `push p95 ${ms(st.push.p95)} ms (${f(st.push.p95 / st.hybrid.p95, 2)}×) · pull p95 ${ms(st.pull.p95)} ms (${f(st.pull.p95 / st.hybrid.p95, 2)}×, ${n0(st.pull.rps)} req/s)`,
      target: '',
      result: '',
    });
    add({
      section: 'hybrid vs push vs pull',
      figure: 'DynamoDB reads per feed read, no cache',
      measured: `hybrid ${f(st.hybrid.dbReads, 1)}`,
      baseline: `push ${f(st.push.dbReads, 1)} · pull ${f(st.pull.dbReads, 1)} (${f(st.pull.dbReads / st.hybrid.dbReads, 1)}×)`,
      target: '',
      result: '',
    });
  }
  if (r.mix && r.sweep.cold) {
    const coldReads = median(Object.values(r.sweep.cold).map((s) => s.dbReads));
    add({
      section: 'hybrid vs push vs pull',
      figure: 'DynamoDB reads per feed request, Zipf mix (cache) vs cold',
      measured: `${f(r.mix.dbReadsPerRead, 2)}`,
      baseline: `cold ${f(coldReads, 2)} → ${pct(1 - r.mix.dbReadsPerRead / coldReads, 0)} fewer`,
      target: '',
      result: '',
    });
  }
  return rows;
}

/** Writes per post, one row per probed author. */
function tierRows(r: Results): Row[] {
  const rows: Row[] = [];
  const add = (row: Row) => rows.push(row);
  for (const tier of ['regular', 'celebrity', 'mega'] as const) {
    for (const p of r.tiers?.[tier] ?? []) {
      add({
        section: 'writes per post by tier',
        figure: `${tier} (${n0(p.followers)} followers${p.activeFollowers !== undefined ? `, ${n0(p.activeFollowers)} active` : ''})`,
        measured: `${n0(p.feedWrites)} feed entries (+${n0(p.otherWrites)} other items; ${n0(p.notificationRecipients)} notifications batched) · fan-out done in ${ms(p.settleMs)} ms${p.workflowMs !== undefined ? ` (workflow ${ms(p.workflowMs)} ms)` : ''}`,
        baseline: `push-to-all ${n0(p.pushAllWrites)} → ${pct(1 - p.feedWrites / Math.max(1, p.pushAllWrites), 1)} fewer`,
        target: '',
        result: '',
      });
    }
  }
  return rows;
}

/** The stack against the engines it runs on: Redis, BatchWriteItem, DynamoDB Local, seeding. */
function engineRows(r: Results): Row[] {
  const rows: Row[] = [];
  const add = (row: Row) => rows.push(row);
  const l2c = r.sweep.l2?.[TARGET_CONCURRENCY];
  if (r.l2VsRaw) {
    const x = r.l2VsRaw;
    add({
      section: 'vs the machine',
      figure: `L2 readFeed vs raw Redis GET (${n0(x.valueBytes)} B, c=${x.concurrency}, in-process)`,
      measured: `${n0(x.l2.opsPerSec)} ops/s · p50 ${ms(x.l2.p50)} · p95 ${ms(x.l2.p95)} ms`,
      baseline: `raw GET ${n0(x.raw.opsPerSec)} ops/s · p95 ${ms(x.raw.p95)} ms → ${pct(x.l2.opsPerSec / x.raw.opsPerSec, 0)}`,
      target: '',
      result: '',
    });
    if (l2c) {
      add({
        section: 'vs the machine',
        figure: `L2-hit HTTP read vs raw Redis GET, p95 at c=${TARGET_CONCURRENCY}`,
        measured: `${ms(l2c.p95)} ms`,
        baseline: `raw GET ${ms(x.raw.p95)} ms (${f(l2c.p95 / x.raw.p95, 1)}×)`,
        target: '',
        result: '',
      });
    }
  }
  if (r.fanout) {
    add({
      section: 'vs the machine',
      figure: `fan-out end to end (${r.fanout.authors} regular posts at once, ${n0(r.fanout.followers)} followers)`,
      measured: `${n0(r.fanout.entriesPerSec)} feed entries/s`,
      baseline: r.writer ? `raw BatchWriteItem ${n0(r.writer.raw)} items/s (${pct(r.fanout.entriesPerSec / r.writer.raw, 0)})` : '',
      target: '',
      result: '',
    });
  }
  if (r.engine) {
    add({
      section: 'vs the machine',
      figure: 'DynamoDB Local GetItem, c=1: engine alone vs with the stack idle beside it',
      measured: `with stack p50 ${ms(r.engine.withStack.p50)} · p95 ${ms(r.engine.withStack.p95)} ms · ${n0(r.engine.withStack.opsPerSec)}/s`,
      baseline: `alone p50 ${ms(r.engine.alone.p50)} · p95 ${ms(r.engine.alone.p95)} ms · ${n0(r.engine.alone.opsPerSec)}/s (${f(r.engine.withStack.p50 / r.engine.alone.p50, 1)}× slower)`,
      target: '',
      result: '',
    });
  }
  if (r.seeding) {
    add({
      section: 'vs the machine',
      figure: 'seeding (BatchWriteItem of 25, 8 at once, streams off)',
      measured: `${n0(Object.values(r.seeding.items).reduce((a, b) => a + b, 0))} items in ${f(r.seeding.ms / 1000, 1)} s = ${n0(r.seeding.itemsPerSec)} items/s`,
      baseline: '',
      target: '',
      result: '',
    });
  }
  return rows;
}

/** The workflows' runs (CelebrityFanout in every run, the scheduled two in full runs). */
function workflowRows(r: Results): Row[] {
  const rows: Row[] = [];
  const add = (row: Row) => rows.push(row);
  if (r.workflows?.celebrityFanout) {
    const w = r.workflows.celebrityFanout;
    add({ section: 'vs the machine', figure: 'CelebrityFanout workflow', measured: `${w.executions} runs, median ${ms(w.medianMs)} ms, ${n0(w.pushes)} pushes`, baseline: '', target: '', result: '' });
  }
  if (r.workflows?.batchedNotification) {
    const w = r.workflows.batchedNotification;
    add({
      section: 'vs the machine',
      figure: "BatchedNotification workflow (this run's window)",
      measured: `${w.status === 'RUNNING' ? 'still running after' : `${w.status} in`} ${f(w.ms / 1000, 1)} s, ${n0(w.digests)} notification items written (${n0(w.digests / (w.ms / 1000))}/s)`,
      baseline: '',
      target: '',
      result: w.status === 'SUCCEEDED' || w.status === 'RUNNING' ? '' : 'error',
    });
  }
  if ((r.meta.options as { workflows?: boolean }).workflows === false) {
    add({ section: 'vs the machine', figure: 'CacheWarming and BatchedNotification workflows', measured: 'not run in --quick', baseline: '', target: '', result: '' });
  }
  if (r.workflows?.cacheWarming) {
    const w = r.workflows.cacheWarming;
    add({
      section: 'vs the machine',
      figure: 'CacheWarming workflow (users active in the last hour)',
      measured: `${w.status === 'RUNNING' ? 'still running after' : `${w.status} in`} ${f(w.ms / 1000, 1)} s${Number.isFinite(w.pages) ? `, ${w.pages} page(s)` : ''}`,
      baseline: '',
      target: '',
      result: w.status === 'SUCCEEDED' || w.status === 'RUNNING' ? '' : 'error',
    });
  }
  return rows;
}

/** Peak memory of the stack process and of the engines. */
function rssRows(r: Results): Row[] {
  const rows: Row[] = [];
  const add = (row: Row) => rows.push(row);
  add({
    section: 'vs the machine',
    figure: 'peak RSS of the stack process (API, handlers, runtime)',
    measured: `${mb(r.rss.peak)} (under read load ${mb(r.rss.peakByPhase['read sweep'] ?? NaN)})`,
    baseline: Object.entries(r.rss.engines).map(([k, v]) => `${k} ${mb(v)}`).join(' · '),
    target: '',
    result: '',
  });
  return rows;
}

/** One row per handler bundle. */
function handlerRows(r: Results): Row[] {
  const rows: Row[] = [];
  const add = (row: Row) => rows.push(row);
  for (const b of r.bundles ?? []) {
    add({
      section: 'handlers',
      figure: `${b.fn}${b.deployed ? '' : ' (local only)'}`,
      measured: b.error ? `error: ${b.error}` : `${kb(b.bytes)} · cold init ${ms(b.initMs)} ms`,
      baseline: b.topPackages.slice(0, 3).map((p) => `${p.name} ${kb(p.bytes)}`).join(', '),
      target: `< ${kb(TARGETS.bundleBytes)}, < ${TARGETS.coldInitMs} ms`,
      result: b.error ? 'error' : b.bytes < TARGETS.bundleBytes && b.initMs < TARGETS.coldInitMs ? 'PASS' : 'FAIL',
    });
  }
  return rows;
}

/** One row per failed phase. */
function errorRows(r: Results): Row[] {
  const rows: Row[] = [];
  const add = (row: Row) => rows.push(row);
  for (const e of r.errors) add({ section: 'errors', figure: e.phase, measured: e.message.slice(0, 160), baseline: '', target: '', result: 'error' });
  return rows;
}

/** "; zod is 454 kB of every bundle" when one package is the largest part of all of them. */
function commonHeavy(bundles: NonNullable<Results['bundles']>): string {
  const tops = bundles.map((b) => b.topPackages[0]).filter((t) => t !== undefined);
  const name = tops[0]?.name;
  if (!name || tops.length !== bundles.length || tops.some((t) => t.name !== name)) return '';
  return `; ${name} is ${kb(Math.min(...tops.map((t) => t.bytes)))}+ of every bundle`;
}

/** The run's wall time against the full run's 10 minutes or `--quick`'s 2, with the seed's share
 *  (a run ends before its report is built: no row while it is still running). */
function runTimeRows(r: Results): Row[] {
  const ms = r.meta.durationMs;
  if (ms === undefined) return [];
  const quick = r.meta.options.quick === true;
  const limit = quick ? TARGETS.quickRunSeconds : TARGETS.fullRunSeconds;
  const seconds = ms / 1000;
  return [
    {
      section: 'targets',
      figure: `bench run time, ${quick ? '--quick' : 'full run'}`,
      measured: `${n0(seconds)} s${r.seeding ? ` (seed ${n0(r.seeding.ms / 1000)} s)` : ''}`,
      // The machine's speed of the moment, which the run's time depends on as much as the code.
      baseline: describeSpeed(r.meta.machine.speedStart, r.meta.machine.speedEnd) ?? '',
      target: `≤ ${limit} s`,
      result: withMargin(seconds <= limit, `${n0(seconds - limit)} s over`),
    },
  ];
}

/** "PASS", "FAIL — <margin>" or "pending". */
function withMargin(pass: boolean | undefined, margin: string): string {
  if (pass === undefined) return 'pending';
  return pass ? 'PASS' : `FAIL — ${margin}`;
}

export function summarizeTargets(rows: Row[]): { passed: number; failed: number; pending: number } {
  const t = rows.filter((r) => r.section === 'targets');
  return {
    passed: t.filter((r) => r.result === 'PASS').length,
    failed: t.filter((r) => r.result.startsWith('FAIL')).length,
    pending: t.filter((r) => r.result === 'pending').length,
  };
}

const HEADER = ['section', 'figure', 'measured (median of reps)', 'baseline → ratio', 'target', 'result'] as const;

function cells(r: Row): string[] {
  return [r.section, r.figure, r.measured, r.baseline, r.target, r.result];
}

/** The console table: aligned columns, one line per figure. */
export function renderTable(r: Results, rows: Row[]): string {
  const all = [HEADER as unknown as string[], ...rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...all.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i]!)).join(' │ ').trimEnd();
  const sep = widths.map((w) => '─'.repeat(w)).join('─┼─');
  const out = [line(all[0]!), sep];
  let last = '';
  for (const row of rows) {
    if (last && row.section !== last) out.push(sep);
    last = row.section;
    out.push(line(cells(row)));
  }
  return [`feedscale bench — ${describe(r)}`, '', ...out].join('\n');
}

export function describe(r: Results): string {
  const g = r.meta.graph as { users?: number; edges?: number; posts?: number } | undefined;
  const o = r.meta.options as { reps?: number; runMs?: number; seed?: number; exponent?: number };
  const speed = describeSpeed(r.meta.machine.speedStart, r.meta.machine.speedEnd);
  return `${g?.users ?? '?'} users, ${g?.edges ?? '?'} follows, ${g?.posts ?? '?'} posts (seed ${o.seed}, exponent ${o.exponent}); ${o.reps} reps × ${o.runMs} ms; ${r.meta.machine.cpus} × ${r.meta.machine.model}, Node ${r.meta.machine.node}${speed ? ` (${speed})` : ''}; ${f((r.meta.durationMs ?? 0) / 1000, 0)} s`;
}

/** The same table in Markdown, for the README's Performance section. */
export function renderMarkdown(r: Results, rows: Row[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [`_${describe(r)}; run on ${r.meta.startedAt.slice(0, 10)} with \`${r.meta.command}\`._`, '', `| ${HEADER.join(' | ')} |`, `|${HEADER.map(() => '---').join('|')}|`];
  for (const row of rows) lines.push(`| ${cells(row).map(esc).join(' | ')} |`);
  return lines.join('\n') + '\n';
}
