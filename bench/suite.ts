// The benchmark's phases, in order: handler bundles and cold init (while the machine is quiet),
// DynamoDB Local with the seeded graph, the rest of the local stack, then every measurement
// against its baseline — feed reads per cache tier and concurrency against a bare server, the
// hybrid against plain push and pull, L2 against raw Redis, the fan-out writer against raw
// BatchWriteItem, the 100:1 Zipf mix for hit rates, post-to-visible, fan-out throughput, writes
// per post by tier with the CelebrityFanout workflow, and the BatchedNotification workflow.
// Read-only phases come first and the heaviest background writes last, so no phase measures the
// leftovers of another. Every loop is bounded in count and time; a failing phase is reported and
// the others still run.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchWriteItemCommand, DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { Redis } from 'ioredis';
import { db, dynamo, resetDynamo } from '../shared/store/client.js';
import { cacheStats, feedCache } from '../shared/cache/feed-cache.js';
import { feedVariant } from '../shared/cache/cache-keys.js';
import { L1Cache } from '../shared/cache/l1.js';
import { l2 } from '../shared/cache/l2.js';
import { config, resetConfig } from '../shared/edge/config.js';
import { pushToFeeds } from '../shared/services/fan-out.js';
import { feedEntry } from '../shared/services/feed-entries.js';
import { activeFollowerPage } from '../shared/services/follows.js';
import { mintId } from '../shared/domain/ids.js';
import { feedsTable, keys } from '../shared/store/keys.js';
import { createPost } from '../shared/services/posts.js';
import { ensureTestEngines, EngineMissingError, startDynamo, type Engine } from '../shared/local/engines.js';
import { startStack, type Stack } from '../shared/local/stack.js';
import { writeCounts } from '../shared/local/write-counter.js';
import { windowOf } from '../shared/services/notifications.js';
import { LOGICAL_SHARDS } from '../shared/domain/regions.js';
import { TABLES, type Entity } from '../shared/declarations/tables.js';
import { bareServer, strategyServer, type Server } from './baselines.js';
import { buildBundles, measureColdInit } from './bundles.js';
import { renderChart } from './chart.js';
import { LoadGenerator } from './load.js';
import type { Pick, RunSpec } from './load-protocol.js';
import { countReads, readCounts } from './read-counter.js';
import { buildRows, renderMarkdown, renderTable, summarizeTargets } from './report.js';
import { READ_PATHS, type CacheDelta, type LoopSummary, type ReadPath, type Results, type RunMeasure, type RunSummary, type TierProbe } from './results.js';
import { forkRng } from './rng.js';
import { childPeakRss, RssSampler } from './rss.js';
import type { BenchOptions } from './run.js';
import { createTablesForSeeding, enableStreams, pool, seedGraph, type Seeded } from './seed.js';
import { closedLoop, median, percentile, sleep, waitFor, type LoopResult } from './stats.js';
import { describeGraph, generateGraph, type Graph } from './workload.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The API's default page: what a feed load asks for. */
const PAGE = 20;
/** Stream, queues and workflows quiet for this long count as settled (a poll round is ~100 ms). */
const QUIET_MS = 400;
/** Post-to-visible: a post not visible within this is a timeout (and counts at this value). */
const VISIBLE_TIMEOUT_MS = 5000;
const VISIBLE_POLL_MS = 10;
/** The 100:1 read:write mix of the design (7M reads/s against 65K writes/s ≈ 108:1). */
const WRITE_SHARE = 1 / 101;
/** Connections of the mix (the L2 target's concurrency) and of the strategy comparison. */
const MIX_CONNECTIONS = 32;
const STRATEGY_CONNECTIONS = 8;
/** The read sweep refills the hot set's pages when its last fill is older than this (L1 keeps a
 *  page 60 s). */
const HOT_REFILL_MS = 30_000;
/** Concurrency of the local fan-out queue's consumer (LocalQueues' default), for writer vs raw. */
const WRITER_CONCURRENCY = 4;
const JOB_FOLLOWERS = 500;

const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

export async function runBench(o: BenchOptions): Promise<number> {
  const began = Date.now();
  const stamp = new Date(began).toISOString().replace(/[:.]/g, '-');
  const log = (msg: string) => console.log(`[${((Date.now() - began) / 1000).toFixed(1).padStart(6)} s] ${msg}`);
  let lastTick = 0;
  const tick = (msg: string, force = false) => {
    if (!force && Date.now() - lastTick < 2000) return;
    lastTick = Date.now();
    log(msg);
  };
  const results: Results = {
    meta: {
      startedAt: new Date(began).toISOString(),
      command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.replace(/ -- $/, ''),
      options: { ...o },
      machine: {
        cpus: os.cpus().length,
        model: os.cpus()[0]?.model ?? 'unknown',
        memoryGB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
        loadAvgStart: os.loadavg(),
      },
    },
    sweep: {},
    rss: { peak: 0, maxRss: 0, peakByPhase: {}, engines: {} },
    errors: [],
  };
  const rss = new RssSampler();
  rss.start();
  const phase = async (name: string, work: () => Promise<void>) => {
    rss.setPhase(name);
    const t = Date.now();
    try {
      await work();
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      results.errors.push({ phase: name, message });
      log(`${name}: FAILED — ${message}`);
    }
    log(`${name}: done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  };
  log(`feedscale bench${o.quick ? ' --quick' : ''}: ${o.users} users, seed ${o.seed}, exponent ${o.exponent}, ${o.reps} reps × ${o.runMs} ms runs, concurrency ${o.concurrency.join('/')}`);

  // ------------------------------------------------------------ bundles
  // Built now, beside DynamoDB Local's start-up (sizes do not depend on load); their cold init is
  // timed at the very end, once the stack is stopped and the machine is quiet again.
  const bundling = o.bundles
    ? buildBundles({ root: ROOT, outDir: path.join(o.outDir, 'bundles') }).then(
        (b) => {
          log(`bundles: ${b.filter((x) => !x.error).length}/${b.length} handlers bundled`);
          return b;
        },
        (err: unknown) => {
          results.errors.push({ phase: 'bundles', message: (err as Error).message });
          return undefined;
        },
      )
    : Promise.resolve(undefined);

  // ------------------------------------------------------------ graph
  const graph = generateGraph({
    users: o.users,
    seed: o.seed,
    exponent: o.exponent,
    zipf: o.zipf,
    postsPerUser: o.postsPerUser,
    postDays: 7,
    celebrityThreshold: o.celebrityThreshold,
    megaThreshold: o.megaThreshold,
  });
  const described = describeGraph(graph);
  results.meta.graph = { ...described };
  log(
    `graph: ${graph.n} users, ${graph.edges} follows (mean ${fmt(described.meanFollowers, 2)}, max ${described.maxFollowers} followers), ${graph.posts.length} posts; ` +
      `thresholds celebrity ${graph.thresholds.celebrity} / mega ${graph.thresholds.mega} → ${described.tiers.celebrity} celebrity, ${described.tiers.mega} mega`,
  );

  try {
    await ensureTestEngines();
  } catch (err) {
    if (err instanceof EngineMissingError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'feedscale-bench-'));
  let stack: Stack | undefined;
  let engine: Engine | undefined;
  let load: LoadGenerator | undefined;
  const servers: Server[] = [];
  let raw: Redis | undefined;
  let rawDynamo: DynamoDBClient | undefined;
  const stackEnv = {
    FEED_LOCAL: '1',
    FEED_CELEBRITY_THRESHOLD: String(graph.thresholds.celebrity),
    FEED_MEGA_THRESHOLD: String(graph.thresholds.mega),
    // One notification window for the whole run: the digest workflow is run (and timed) on
    // purpose at the end, not by the schedule in the middle of a measurement.
    FEED_NOTIFICATION_WINDOW_SECONDS: '86400',
    // Likewise the CacheWarming schedule (every 15 min by default): run once, on purpose, below.
    FEED_WARM_INTERVAL_SECONDS: '86400',
  };
  try {
    // ---------------------------------------------------------- DynamoDB Local and the graph
    // DynamoDB Local (in memory) starts first and the graph goes in before the rest of the
    // stack runs, with streams off; startStack() then finds DYNAMODB_ENDPOINT set and uses it.
    rss.setPhase('boot');
    let bootStart = Date.now();
    engine = await startDynamo({});
    Object.assign(process.env, stackEnv, { DYNAMODB_ENDPOINT: engine.endpoint });
    process.env.AWS_ACCESS_KEY_ID ??= 'local';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
    process.env.AWS_REGION ??= 'us-east-1';
    resetConfig();
    resetDynamo();
    const tables = await createTablesForSeeding();
    log(`DynamoDB Local up with ${tables} tables (${Object.keys(TABLES).length} entities × ${config().FEED_SHARDS} shards) in ${((Date.now() - bootStart) / 1000).toFixed(1)} s`);
    let seeded: Seeded | undefined;
    await phase('seed', async () => {
      const t = Date.now();
      seeded = await seedGraph(graph, o.seed, (what, done, total) => tick(`seed: ${what} ${done}/${total} items`, done === total));
      const ms = Date.now() - t;
      const items = Object.values(seeded.items).reduce((a, b) => a + b, 0);
      results.seeding = { ms, items: seeded.items, itemsPerSec: items / (ms / 1000), posts: seeded.postIds.length, pushAllEntries: described.pushAllEntries };
      log(`seed: ${items} items in ${fmt(ms / 1000)} s (${fmt(items / (ms / 1000), 0)}/s)`);
    });
    if (!seeded) throw new Error('seeding failed; nothing to measure');
    const users = seeded.users;
    const tokens = users.map((u) => u.token);
    const userIds = users.map((u) => u.userId);

    // The engine alone, as a reference for what the running stack costs it (below).
    const getItem = (i: number) => {
      const k = keys.profile(userIds[(i * 7919) % userIds.length]!);
      return db().send(new GetCommand({ TableName: k.table, Key: k.key }));
    };
    const engineAlone: LoopResult[] = [];
    for (let rep = 0; rep < o.reps; rep++) engineAlone.push(await closedLoop(getItem, { concurrency: 1, durationMs: Math.min(o.runMs, 1500) }));
    await enableStreams();

    rss.setPhase('boot');
    bootStart = Date.now();
    stack = await startStack({
      fresh: true,
      port: 0,
      dataDir,
      env: stackEnv,
      // High-tier posts notify after SQS DelaySeconds (60 s): scaled ×0.01 so those writes land
      // inside the post's own measurement instead of in a later phase.
      queues: { delayScale: 0.01 },
      sweepIntervalMs: 3_600_000,
    });
    const s = stack;
    countReads(dynamo());
    await settle(s, { timeoutMs: 30_000 });
    log(`stack up in ${((Date.now() - bootStart) / 1000).toFixed(1)} s: ${s.url}`);
    const engineWithStack: LoopResult[] = [];
    for (let rep = 0; rep < o.reps; rep++) engineWithStack.push(await closedLoop(getItem, { concurrency: 1, durationMs: Math.min(o.runMs, 1500) }));
    results.engine = { alone: loopSummary(engineAlone), withStack: loopSummary(engineWithStack) };
    log(`DynamoDB Local GetItem at c=1: p50 ${fmt(results.engine.alone.p50, 2)} ms alone, ${fmt(results.engine.withStack.p50, 2)} ms with the stack running (stream pollers)`);

    // The path is real HTTP end to end: one token minted by the API itself, checked by it.
    const devToken = await httpJson(s.url, 'POST', '/v1/dev/token', undefined, { sub: users[0]!.sub });
    if (devToken.status !== 200) throw new Error(`POST /v1/dev/token answered ${devToken.status}`);
    const me = await httpJson(s.url, 'GET', '/v1/me', (devToken.json as { token: string }).token);
    if (me.status !== 200 || (me.json as { userId: string }).userId !== users[0]!.userId) throw new Error(`GET /v1/me answered ${me.status} for a seeded user`);

    load = await LoadGenerator.start();
    await load.setUsers(tokens, userIds);
    const gen = load;

    // Reads weighted by activity (Zipf); the hot set is its head.
    const byReadWeight = Array.from({ length: graph.n }, (_, i) => i).sort((a, b) => graph.readWeights[b]! - graph.readWeights[a]!);
    const hot = byReadWeight.slice(0, o.hotUsers);
    const hotSet = new Set(hot);
    const zipfAll: Pick = { kind: 'weighted', indices: byReadWeight, weights: byReadWeight.map((i) => graph.readWeights[i]!) };
    const zipfHot: Pick = { kind: 'weighted', indices: hot, weights: hot.map((i) => graph.readWeights[i]!) };
    const coldPool = byReadWeight.filter((i) => !hotSet.has(i));
    let runSeed = o.seed * 1000;
    // Enough responses for a p99 in a full run; in a quick one, enough to see the path at all.
    const minOk = o.quick ? 10 : 100;
    const spec = (p: Partial<RunSpec> & { pick: Pick }): RunSpec => ({
      url: s.url,
      path: '/v1/feed',
      auth: true,
      connections: 1,
      durationMs: o.runMs,
      minOk,
      maxMs: o.runMs * (o.quick ? 3 : 6),
      seed: runSeed++,
      ...p,
    });
    const measure = async (r: RunSpec): Promise<RunMeasure> => {
      const c0 = cacheSnapshot();
      const d0 = readCounts().requests;
      const res = await gen.run(r);
      const d1 = readCounts().requests;
      const c1 = cacheSnapshot();
      // Requests still in flight when the run stopped finish before the next run starts.
      await quiesce();
      return { ...res, dbReads: res.requests ? (d1 - d0) / res.requests : NaN, ...(c0 && c1 && { cache: cacheDelta(c0, c1) }) };
    };

    // ---------------------------------------------------------- warm-up; is the cache wired?
    await phase('warm-up', async () => {
      const warm = await measure(spec({ pick: zipfAll, connections: 32, durationMs: o.warmMs, minOk: 64, maxMs: 60_000 }));
      results.meta.cacheWired = (warm.cache?.lookups ?? 0) > 0;
      log(`warm-up: ${warm.ok} feed reads (${fmt(warm.rps, 0)}/s, ${warm.non2xx} non-2xx); feed cache ${results.meta.cacheWired ? 'wired into GET /v1/feed' : 'NOT wired into GET /v1/feed yet: L1/L2 figures are pending wiring'}`);
      if (warm.ok === 0) throw new Error(`no successful feed read (status codes ${JSON.stringify(warm.statusCodes)})`);
    });

    // ---------------------------------------------------------- read sweep
    const originalGet = L1Cache.prototype.get;
    let forceL1Miss = false;
    // The L2 runs make every L1 lookup miss, so each read takes the L2 path (the page is still
    // written back to L1, as on a real L2 hit). Bench-only; restored after the sweep.
    L1Cache.prototype.get = function (this: L1Cache, key: string) {
      return forceL1Miss ? undefined : originalGet.call(this, key);
    };
    await phase('read sweep', async () => {
      // Cold reads: users whose pages are dropped from both tiers before they are read, each
      // read once per run. Start from a pool with nothing cached.
      await invalidate(coldPool.map((i) => userIds[i]!));
      gen.forget(coldPool);
      const first = await httpRaw(s.url, '/v1/feed', tokens[hot[0]!]!);
      const headers: Record<string, string> = {};
      for (const [k, v] of first.headers) if (!['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'apigw-requestid'].includes(k)) headers[k] = v;
      const bare = await bareServer(first.body, headers);
      servers.push(bare);
      log(`read sweep: bare server returns the ${first.body.length}-byte page of the hottest reader; hot set ${hot.length} users, cold pool ${coldPool.length}`);
      const raw: Record<ReadPath, Record<string, RunMeasure[]>> = { l1: {}, l2: {}, cold: {}, bare: {} };
      let coldRun = 0;
      const shuffledHot = weightedOrder(hot, graph, o.seed + 1);
      const roundRobin = Array.from({ length: Math.ceil(200_000 / hot.length) }, () => shuffledHot).flat();
      let filledAt = -Infinity;
      for (const c of o.concurrency) {
        // Fill L1 and L2 with the hot set's pages, unless that was done within half of L1's 60 s
        // TTL (the pages are still there: the runs below read them or write them back).
        if (performance.now() - filledAt > HOT_REFILL_MS) {
          await gen.run(spec({ pick: { kind: 'sequence', indices: hot }, connections: Math.min(32, hot.length), durationMs: 120_000, minOk: 0 }));
          await quiesce();
          // A second pass through L2 (L1 bypassed) writes back any page whose L2 write-through was
          // skipped under load, so the L2 runs find every hot page there.
          forceL1Miss = true;
          await gen.run(spec({ pick: { kind: 'sequence', indices: hot }, connections: 8, durationMs: 120_000, minOk: 0 })).finally(() => (forceL1Miss = false));
          await quiesce();
          filledAt = performance.now();
        }
        for (let rep = 0; rep < o.reps; rep++) {
          const l1 = await measure(spec({ pick: zipfHot, connections: c }));
          const b = await measure({ ...spec({ pick: { kind: 'fixed', index: 0 }, connections: c }), url: bare.url, auth: false });
          // L2: the hot set round-robin, so concurrent reads are of different users (two reads of
          // one user at once would share one L2 read: coalesced, not an L2 hit).
          forceL1Miss = true;
          const l2r = await measure(spec({ pick: { kind: 'sequence', indices: roundRobin }, connections: c })).finally(() => (forceL1Miss = false));
          // Cold: drawn by read weight without replacement, so none is read twice in the run.
          const order = weightedOrder(coldPool, graph, o.seed + 7919 * ++coldRun);
          // A fixed number of requests, all answered: slow cold reads left in flight at the end of
          // a timed run would load the next one.
          const cold = await measure(spec({ pick: { kind: 'sequence', indices: order }, connections: c, amount: Math.min(order.length, Math.max(minOk, c)) }));
          const dropped = order.slice(0, cold.consumed + c + 1);
          await invalidate(dropped.map((i) => userIds[i]!));
          gen.forget(dropped);
          for (const [p, m] of [['l1', l1], ['bare', b], ['l2', l2r], ['cold', cold]] as const) (raw[p][c] ??= []).push(m);
          tick(
            `read sweep c=${c} rep ${rep + 1}/${o.reps}: L1 ${fmt(l1.rps, 0)}/s p95 ${fmt(l1.latency.p95, 2)} ms · bare ${fmt(b.rps, 0)}/s · L2 ${fmt(l2r.rps, 0)}/s p95 ${fmt(l2r.latency.p95, 2)} ms · cold ${fmt(cold.rps, 0)}/s p95 ${fmt(cold.latency.p95, 1)} ms`,
            true,
          );
        }
      }
      for (const p of READ_PATHS) {
        results.sweep[p] = {};
        for (const c of o.concurrency) results.sweep[p]![c] = summarize(raw[p][c] ?? [], p);
      }
    });
    L1Cache.prototype.get = originalGet;

    // ---------------------------------------------------------- hybrid vs plain push vs plain pull
    await phase('strategies', async () => {
      const harness = await strategyServer(PAGE);
      servers.push(harness);
      const raw: Record<'hybrid' | 'push' | 'pull', RunMeasure[]> = { hybrid: [], push: [], pull: [] };
      for (let rep = 0; rep < o.reps; rep++) {
        for (const st of ['hybrid', 'push', 'pull'] as const) {
          // Ratios of medians: fewer samples than the sweep suffice (pull runs at ~20 req/s here).
          raw[st].push(await measure({ ...spec({ pick: zipfAll, connections: STRATEGY_CONNECTIONS, minOk: Math.min(minOk, 60) }), url: harness.url, path: `/${st}/{user}`, auth: false }));
        }
        tick(`strategies rep ${rep + 1}/${o.reps}: p95 hybrid ${fmt(raw.hybrid.at(-1)!.latency.p95, 1)} ms · push ${fmt(raw.push.at(-1)!.latency.p95, 1)} ms · pull ${fmt(raw.pull.at(-1)!.latency.p95, 1)} ms`, true);
      }
      results.strategies = { hybrid: summarize(raw.hybrid, 'cold'), push: summarize(raw.push, 'cold'), pull: summarize(raw.pull, 'cold'), connections: STRATEGY_CONNECTIONS };
    });

    // ---------------------------------------------------------- L2 tier vs raw Redis GET
    await phase('l2 vs redis', async () => {
      if (!s.redisUrl) throw new Error('no Redis in this stack');
      const cache = l2();
      const variant = feedVariant(PAGE);
      const found: { userId: string; value: string }[] = [];
      for (const i of hot) {
        const r = await cache.readFeed(userIds[i]!, variant, { counted: false });
        if (r.status === 'hit') found.push({ userId: userIds[i]!, value: r.value });
        if (found.length >= 200) break;
      }
      if (found.length === 0) throw new Error('no hot page in L2 (is the cache wired?)');
      raw = new Redis(s.redisUrl, { maxRetriesPerRequest: 1 });
      const r = raw;
      await Promise.all(found.map((f, k) => r.set(`bench:raw:${k}`, f.value)));
      const l2Runs: LoopResult[] = [];
      const rawRuns: LoopResult[] = [];
      for (let rep = 0; rep < o.reps; rep++) {
        const loopMs = Math.min(o.runMs, 1500);
        l2Runs.push(await closedLoop((i) => cache.readFeed(found[i % found.length]!.userId, variant, { counted: false }), { concurrency: MIX_CONNECTIONS, durationMs: loopMs, maxOps: 2_000_000 }));
        rawRuns.push(await closedLoop((i) => r.get(`bench:raw:${i % found.length}`), { concurrency: MIX_CONNECTIONS, durationMs: loopMs, maxOps: 2_000_000 }));
      }
      results.l2VsRaw = { l2: loopSummary(l2Runs), raw: loopSummary(rawRuns), concurrency: MIX_CONNECTIONS, valueBytes: Math.round(median(found.map((f) => Buffer.byteLength(f.value)))) };
      log(`l2 vs redis: L2 readFeed ${fmt(results.l2VsRaw.l2.opsPerSec, 0)}/s p95 ${fmt(results.l2VsRaw.l2.p95, 2)} ms · raw GET ${fmt(results.l2VsRaw.raw.opsPerSec, 0)}/s p95 ${fmt(results.l2VsRaw.raw.p95, 2)} ms`);
      await r.del(...found.map((_, k) => `bench:raw:${k}`));
    });

    // ---------------------------------------------------------- fan-out writer vs raw BatchWriteItem
    // Feeds of synthetic users (valid ids on every shard, nobody reads them), so the entries —
    // which point at posts that do not exist — never reach a measured read.
    await phase('writer vs raw', async () => {
      rawDynamo = new DynamoDBClient({ endpoint: s.dynamoEndpoint, region: config().AWS_REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
      const rd = rawDynamo;
      const rng = forkRng(o.seed, 'writer');
      // An author nobody follows: the posts created here fan out to no one but the synthetic jobs.
      const lonely = graph.followers.findIndex((f) => f.length === 0);
      const author = userIds[lonely >= 0 ? lonely : byReadWeight[0]!]!;
      const synthetic = () => Array.from({ length: JOB_FOLLOWERS }, () => mintId(rng.int(LOGICAL_SHARDS)));
      const entries = o.writerJobs * JOB_FOLLOWERS;
      const rounds: { writer: number; raw: number }[] = [];
      for (let rep = 0; rep < o.reps; rep++) {
        // Raw: the same items, marshalled beforehand, 25 per BatchWriteItem, the same concurrency.
        const rawPost = { postId: mintId(0), authorId: author, createdAt: new Date().toISOString() };
        const calls = Array.from({ length: o.writerJobs }, () => {
          const job = synthetic();
          const chunks: Record<string, WriteRequest[]>[] = [];
          for (let i = 0; i < job.length; i += 25) {
            const req: Record<string, WriteRequest[]> = {};
            for (const u of job.slice(i, i + 25)) (req[feedsTable(u)] ??= []).push({ PutRequest: { Item: marshall(feedEntry(u, rawPost)) } });
            chunks.push(req);
          }
          return chunks;
        });
        let t = performance.now();
        await pool(calls, WRITER_CONCURRENCY, async (chunks) => {
          for (const chunk of chunks) {
            let pending: Record<string, WriteRequest[]> | undefined = chunk;
            for (let attempt = 0; pending && Object.keys(pending).length > 0 && attempt < 10; attempt++) {
              const out = await rd.send(new BatchWriteItemCommand({ RequestItems: pending }));
              pending = out.UnprocessedItems as Record<string, WriteRequest[]> | undefined;
            }
          }
        });
        const rawRate = entries / ((performance.now() - t) / 1000);
        // Writer: the fan-out worker's own code (BatchWriteItem of 25 with retries, the
        // one-in-32 trim, the followers' cached pages), one job of 500 followers per message, as
        // the queue delivers them, for a post that exists (the worker reads it once per job).
        const stored = await createPost({ userId: author }, `writer vs raw ${rep}`);
        const post = { postId: stored.postId, authorId: author, createdAt: stored.createdAt };
        const jobs = Array.from({ length: o.writerJobs }, synthetic);
        t = performance.now();
        await pool(jobs, WRITER_CONCURRENCY, (job) => pushToFeeds('add', post, job));
        const writerRate = entries / ((performance.now() - t) / 1000);
        rounds.push({ writer: writerRate, raw: rawRate });
        tick(`writer vs raw rep ${rep + 1}/${o.reps}: writer ${fmt(writerRate, 0)}/s, raw ${fmt(rawRate, 0)}/s`, true);
      }
      results.writer = {
        writer: median(rounds.map((r) => r.writer)),
        raw: median(rounds.map((r) => r.raw)),
        ratio: median(rounds.map((r) => r.writer / r.raw)),
        entries,
        concurrency: WRITER_CONCURRENCY,
        rounds,
      };
    });

    // ---------------------------------------------------------- 100:1 Zipf mix: hit rates
    await phase('zipf mix', async () => {
      const writers = { indices: Array.from({ length: graph.n }, (_, i) => i), weights: Array.from(graph.postWeights) };
      const mixSpec = () => spec({ pick: zipfAll, connections: MIX_CONNECTIONS, durationMs: o.mixMs, writeShare: WRITE_SHARE, writers });
      await gen.run(mixSpec()); // steady state first: caches filled under the same mix
      const runs: RunMeasure[] = [];
      for (let rep = 0; rep < o.reps; rep++) {
        const m = await measure(mixSpec());
        runs.push(m);
        const cd = m.cache;
        tick(`zipf mix rep ${rep + 1}/${o.reps}: ${fmt(m.rps, 0)} req/s, ${m.writes} posts, hit rate ${cd ? fmt(100 * (1 - cd.generated / Math.max(1, cd.lookups)), 1) : 'n/a'}%`, true);
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
      results.mix = {
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
      await settle(s, { timeoutMs: o.quick ? 20_000 : 60_000 });
    });

    // ---------------------------------------------------------- post → visible in a follower's feed
    await phase('post-to-visible', async () => {
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
          await httpJson(s.url, 'GET', `/v1/feed?limit=${PAGE}`, tokens[f]);
          const t0 = performance.now();
          const created = await httpJson(s.url, 'POST', '/v1/posts', tokens[a], { content: `visible? ${rep}/${k}` });
          if (created.status !== 201) throw new Error(`POST /v1/posts answered ${created.status}`);
          const postId = (created.json as { postId: string }).postId;
          const seen = await waitFor(
            async () => {
              const page = await httpJson(s.url, 'GET', `/v1/feed?limit=${PAGE}`, tokens[f]);
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
        tick(`post-to-visible rep ${rep + 1}/${o.reps}: p50 ${fmt(rounds.at(-1)!.p50, 0)} ms, p95 ${fmt(rounds.at(-1)!.p95, 0)} ms`, true);
      }
      results.visible = { p50: median(rounds.map((r) => r.p50)), p95: median(rounds.map((r) => r.p95)), samples: rounds.length * o.visibleSamples, timeouts, rounds };
      await settle(s, { timeoutMs: o.quick ? 20_000 : 60_000 });
    });

    // ---------------------------------------------------------- fan-out throughput, end to end
    await phase('fan-out', async () => {
      const regular = Array.from({ length: graph.n }, (_, i) => i)
        .filter((i) => graph.tiers[i] === 'regular')
        .sort((a, b) => graph.followers[b]!.length - graph.followers[a]!.length)
        .slice(0, o.fanoutAuthors);
      const expected = regular.reduce((n, a) => n + graph.followers[a]!.length, 0);
      const rounds: { entries: number; ms: number; entriesPerSec: number }[] = [];
      for (let rep = 0; rep < o.reps; rep++) {
        const f0 = writesByEntity().feeds ?? 0;
        const t0 = performance.now();
        await Promise.all(regular.map((a) => httpJson(s.url, 'POST', '/v1/posts', tokens[a], { content: `fan-out round ${rep}` })));
        await waitFor(() => (writesByEntity().feeds ?? 0) - f0 >= expected, o.quick ? 30_000 : 90_000, 10);
        const ms = performance.now() - t0;
        const entries = (writesByEntity().feeds ?? 0) - f0;
        rounds.push({ entries, ms, entriesPerSec: entries / (ms / 1000) });
        tick(`fan-out rep ${rep + 1}/${o.reps}: ${entries} entries in ${fmt(ms, 0)} ms = ${fmt(rounds.at(-1)!.entriesPerSec, 0)}/s`, true);
        // The notifications of the round finish before the next one is timed.
        await settle(s, { timeoutMs: o.quick ? 20_000 : 60_000 });
      }
      results.fanout = { entriesPerSec: median(rounds.map((r) => r.entriesPerSec)), rounds, authors: regular.length, followers: expected };
    });

    // ---------------------------------------------------------- writes per post by tier
    await phase('tiers', async () => {
      const byFollowers = Array.from({ length: graph.n }, (_, i) => i).sort((a, b) => graph.followers[b]!.length - graph.followers[a]!.length);
      const pickTier = (t: 'regular' | 'celebrity' | 'mega') => byFollowers.filter((i) => graph.tiers[i] === t).slice(0, o.tierAuthors);
      results.tiers = {};
      const celebrityRuns: number[] = [];
      let pushes = 0;
      for (const tier of ['regular', 'celebrity', 'mega'] as const) {
        const probes: TierProbe[] = [];
        for (const a of pickTier(tier)) {
          const author = userIds[a]!;
          const active = tier === 'celebrity' ? await countActive(author) : undefined;
          await settle(s, { timeoutMs: 30_000, ignore: ['notifications'] });
          const w0 = writesByEntity();
          const t0 = Date.now();
          const d0 = delivered(s);
          const created = await httpJson(s.url, 'POST', '/v1/posts', tokens[a], { content: `tier probe (${tier})` });
          if (created.status !== 201) throw new Error(`POST /v1/posts answered ${created.status}`);
          const postId = (created.json as { postId: string }).postId;
          // Fan-out done: the stream record routed, the fan-out queue (pushes, and the delayed
          // notify-plan of high tiers) drained, the workflow finished. The per-follower
          // notification writes that follow are batched work of their own, not waited for.
          await settle(s, { minDelivered: d0 + 1, timeoutMs: 120_000, ignore: ['notifications'] });
          const settleMs = Date.now() - t0;
          const w1 = writesByEntity();
          const diff = (e: string) => (w1[e] ?? 0) - (w0[e] ?? 0);
          let workflowMs: number | undefined;
          if (tier === 'celebrity') {
            const exec = [...s.stepFunctions.executions.values()].find((e) => e.input.includes(postId));
            if (exec?.stopDate) {
              workflowMs = (exec.stopDate - exec.startDate) * 1000;
              celebrityRuns.push(workflowMs);
            }
            pushes += diff('feeds');
          }
          probes.push({
            author,
            followers: graph.followers[a]!.length,
            ...(active !== undefined && { activeFollowers: active }),
            feedWrites: diff('feeds'),
            otherWrites: Object.keys(w1).reduce((n, e) => n + diff(e), 0) - diff('feeds') - diff('notifications'),
            notificationRecipients: graph.followers[a]!.length,
            pushAllWrites: graph.followers[a]!.length,
            settleMs,
            ...(workflowMs !== undefined && { workflowMs }),
          });
        }
        results.tiers[tier] = probes;
        const p = probes[0];
        if (p) log(`tiers: ${tier} post by an author with ${p.followers} followers wrote ${p.feedWrites} feed entries; push-to-all would write ${p.pushAllWrites}`);
      }
      results.workflows = { celebrityFanout: { executions: celebrityRuns.length, medianMs: median(celebrityRuns), pushes } };

      // Writes per post over the seeded history: regular posts reach every follower, celebrity
      // posts the share of followers the probes found active, mega posts none (no VIPs seeded).
      const celeb = results.tiers.celebrity ?? [];
      const activeShare = median(celeb.map((p) => p.feedWrites / Math.max(1, p.followers)));
      let hybrid = 0;
      let push = 0;
      for (const p of graph.posts) {
        const f = graph.followers[p.author]!.length;
        push += f;
        const t = graph.tiers[p.author];
        hybrid += t === 'regular' ? f : t === 'celebrity' ? f * (Number.isFinite(activeShare) ? activeShare : 0) : 0;
      }
      results.writesPerPost = {
        hybrid: hybrid / graph.posts.length,
        push: push / graph.posts.length,
        pull: 0,
        source: `feed entries per post over the ${graph.posts.length} seeded posts: push-to-all one per follower; hybrid the same for regular authors, ${fmt(100 * activeShare, 0)}% of followers (the active share the celebrity probes measured) for celebrities, none for mega-celebrities; pull none`,
      };
    });

    // ---------------------------------------------------------- CacheWarming workflow
    if (o.workflows) await phase('cache warming', async () => {
      await settle(s, { timeoutMs: 60_000, ignore: ['notifications'] });
      const t0 = Date.now();
      const exec = s.stepFunctions.startExecution(s.stepFunctions.arnOf('cache-warming'), JSON.stringify({}), `bench-warming-${Date.now()}`);
      await waitFor(() => exec.status !== 'RUNNING', 60_000, 100);
      const ms = exec.stopDate ? (exec.stopDate - exec.startDate) * 1000 : Date.now() - t0;
      const pages = Number((JSON.parse(exec.output ?? '{}') as { pages?: number }).pages ?? NaN);
      results.workflows = { ...results.workflows, cacheWarming: { ms, status: exec.status, pages } };
      log(`cache warming: CacheWarming ${exec.status} after ${fmt(ms / 1000, 1)} s`);
    });

    // ---------------------------------------------------------- BatchedNotification workflow
    if (o.workflows) await phase('digests', async () => {
      // Composes the digests of this run's window (the schedule would at its close), after the
      // accumulated notification events have landed; bounded, so a long run is reported as such.
      await settle(s, { timeoutMs: 60_000 });
      const windowStart = windowOf(Math.floor(Date.now() / 1000));
      const n0 = writesByEntity().notifications ?? 0;
      const t0 = Date.now();
      const exec = s.stepFunctions.startExecution(s.stepFunctions.arnOf('batched-notification'), JSON.stringify({ windowStart }), `bench-digests-${windowStart}-${Date.now()}`);
      await waitFor(() => exec.status !== 'RUNNING', 60_000, 100);
      const ms = exec.stopDate ? (exec.stopDate - exec.startDate) * 1000 : Date.now() - t0;
      const digests = (writesByEntity().notifications ?? 0) - n0;
      results.workflows = { ...results.workflows, batchedNotification: { ms, status: exec.status, digests } };
      log(`digests: BatchedNotification ${exec.status} after ${fmt(ms / 1000, 1)} s, ${digests} notification items written`);
    });
  } finally {
    rss.stop();
    results.rss = {
      peak: rss.peak,
      maxRss: process.resourceUsage().maxRSS * 1024,
      peakByPhase: rss.peakByPhase,
      engines: childPeakRss(),
    };
    for (const srv of servers) await srv.close().catch(() => {});
    await load?.stop().catch(() => {});
    raw?.disconnect();
    rawDynamo?.destroy();
    log('stopping the stack');
    await stack?.stop().catch((e: unknown) => console.error(e));
    await engine?.stop().catch((e: unknown) => console.error(e));
    rmSync(dataDir, { recursive: true, force: true });
  }

  // ------------------------------------------------------------ cold init, machine quiet again
  const built = await bundling;
  if (built) {
    await phase('cold init', async () => {
      results.bundles = await measureColdInit(built, o.coldInitReps);
      log(`cold init: ${built.length} handlers × ${o.coldInitReps} fresh process${o.coldInitReps > 1 ? 'es' : ''}`);
    });
  }

  // ------------------------------------------------------------ report
  results.meta.finishedAt = new Date().toISOString();
  results.meta.durationMs = Date.now() - began;
  results.meta.machine.loadAvgEnd = os.loadavg();
  const rows = buildRows(results);
  mkdirSync(o.outDir, { recursive: true });
  const jsonFile = path.join(o.outDir, `${stamp}.json`);
  const svgFile = path.join(o.outDir, `${stamp}.svg`);
  const mdFile = path.join(o.outDir, `${stamp}.md`);
  writeFileSync(jsonFile, JSON.stringify({ ...results, rows }, null, 2));
  writeFileSync(svgFile, renderChart(results));
  writeFileSync(mdFile, renderMarkdown(results, rows));
  console.log('');
  console.log(renderTable(results, rows));
  const t = summarizeTargets(rows);
  console.log('');
  console.log(`targets: ${t.passed} passed, ${t.failed} missed, ${t.pending} pending — ${results.errors.length} phase error(s)`);
  console.log(`results: ${path.relative(process.cwd(), jsonFile)}  chart: ${path.relative(process.cwd(), svgFile)}  table: ${path.relative(process.cwd(), mdFile)}`);
  console.log(`total ${((Date.now() - began) / 1000).toFixed(0)} s`);
  return results.errors.length > 0 ? 1 : 0;
}

// -------------------------------------------------------------------- helpers

function delivered(s: Stack): number {
  return s.pollers.reduce((n, p) => n + p.delivered, 0);
}

/** Waits until the stream is delivered up to `minDelivered`, every queue but `ignore` is empty
 *  (delayed messages included) and no workflow runs, for QUIET_MS in a row. → whether it did. */
async function settle(s: Stack, opts: { minDelivered?: number; timeoutMs: number; ignore?: string[]; onTick?: () => void }): Promise<boolean> {
  const deadline = Date.now() + opts.timeoutMs;
  let quietSince = 0;
  while (Date.now() < deadline) {
    const queued = Object.entries(s.queues.stats())
      .filter(([name]) => !opts.ignore?.includes(name))
      .reduce((n, [, q]) => n + q.waiting + q.inFlight, 0);
    const busy = queued > 0 || !s.pollers.every((p) => p.caughtUp) || !s.stepFunctions.idle() || delivered(s) < (opts.minDelivered ?? 0);
    if (busy) quietSince = 0;
    else if (!quietSince) quietSince = Date.now();
    else if (Date.now() - quietSince >= QUIET_MS) return true;
    opts.onTick?.();
    await sleep(25);
  }
  return false;
}

/** Waits until no DynamoDB read has been sent for 120 ms (at most 15 s): every feed request reads,
 *  so requests abandoned by a finished load run have then completed. */
async function quiesce(maxMs = 15_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = readCounts().requests;
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    await sleep(50);
    const now = readCounts().requests;
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= 120) return;
  }
}

const ENTITY_BY_BASE = new Map<string, Entity>(Object.values(TABLES).map((d) => [d.baseName, d.entity]));

/** Items written so far per entity (users, follows, posts, feeds, notifications). */
function writesByEntity(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [table, n] of Object.entries(writeCounts().byTable)) {
    const base = /([A-Za-z]+)_\d+$/.exec(table)?.[1] ?? '';
    const entity = ENTITY_BY_BASE.get(base) ?? 'other';
    out[entity] = (out[entity] ?? 0) + n;
  }
  return out;
}

function cacheSnapshot(): CacheDelta | undefined {
  try {
    const c = cacheStats();
    return {
      lookups: c.l1.hits + c.l1.misses,
      l1Hits: c.l1.hits,
      l1Misses: c.l1.misses,
      l2Hits: c.l2.hits,
      l2Misses: c.l2.misses,
      generated: c.generated,
      coalesced: c.coalesced,
      l2Errors: c.l2Tier.errors,
      l2ShortCircuited: c.l2Tier.shortCircuited,
    };
  } catch {
    return undefined;
  }
}

function cacheDelta(a: CacheDelta, b: CacheDelta): CacheDelta {
  return {
    lookups: b.lookups - a.lookups,
    l1Hits: b.l1Hits - a.l1Hits,
    l1Misses: b.l1Misses - a.l1Misses,
    l2Hits: b.l2Hits - a.l2Hits,
    l2Misses: b.l2Misses - a.l2Misses,
    generated: b.generated - a.generated,
    coalesced: b.coalesced - a.coalesced,
    l2Errors: b.l2Errors - a.l2Errors,
    l2ShortCircuited: b.l2ShortCircuited - a.l2ShortCircuited,
  };
}

function summarize(runs: RunMeasure[], p: ReadPath): RunSummary {
  const purity = runs.map((m) => {
    const cd = m.cache;
    if (!cd || cd.lookups === 0) return NaN;
    if (p === 'l1') return cd.l1Hits / cd.lookups;
    if (p === 'l2') return cd.l2Hits / cd.lookups;
    if (p === 'cold') return cd.generated / cd.lookups;
    return NaN;
  });
  return {
    p50: median(runs.map((m) => m.latency.p50)),
    p95: median(runs.map((m) => m.latency.p95)),
    p99: median(runs.map((m) => m.latency.p99)),
    rps: median(runs.map((m) => m.rps)),
    dbReads: median(runs.map((m) => m.dbReads)),
    ...(p !== 'bare' && purity.some(Number.isFinite) && { purity: median(purity) }),
    ...(runs.some((m) => m.cache) && {
      l2Errors: runs.reduce((n, m) => n + (m.cache?.l2Errors ?? 0), 0),
      l2ShortCircuited: runs.reduce((n, m) => n + (m.cache?.l2ShortCircuited ?? 0), 0),
    }),
    errors: runs.reduce((n, m) => n + m.errors + m.non2xx + m.timeouts, 0),
    runs,
  };
}

function loopSummary(runs: LoopResult[]): LoopSummary {
  return {
    opsPerSec: median(runs.map((l) => l.opsPerSec)),
    p50: median(runs.map((l) => l.p50)),
    p95: median(runs.map((l) => l.p95)),
    p99: median(runs.map((l) => l.p99)),
    runs: runs.map(({ opsPerSec, p50, p95, p99 }) => ({ opsPerSec, p50, p95, p99 })),
  };
}

/** The pool in a weighted random order (Efraimidis–Spirakis): heavier readers tend to come first. */
function weightedOrder(poolIdx: number[], g: Graph, seed: number): number[] {
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

/** Live entries of an author's active-follower index (bounded: 50 pages). */
async function countActive(authorId: string): Promise<number> {
  let n = 0;
  let from: Parameters<typeof activeFollowerPage>[2] = { bucket: 0 };
  for (let page = 0; page < 50 && from; page++) {
    const r = await activeFollowerPage(authorId, 1000, from);
    n += r.ids.length;
    from = r.next;
  }
  return n;
}

async function httpJson(base: string, method: string, pathname: string, token?: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}${pathname}`, {
    method,
    headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

async function httpRaw(base: string, pathname: string, token: string): Promise<{ body: Buffer; headers: [string, string][] }> {
  const res = await fetch(`${base}${pathname}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`GET ${pathname} answered ${res.status}`);
  return { body: Buffer.from(await res.arrayBuffer()), headers: [...res.headers.entries()] };
}
