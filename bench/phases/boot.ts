// The phases that bring the machine up and down: DynamoDB Local (in memory) with the seeded graph
// while streams are off, then the rest of the local stack and the load generator, measured against
// the engine alone; at the end the teardown, and the handlers' cold init once the machine is quiet.
import { rmSync } from 'node:fs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { db, dynamo, resetDynamo } from '../../shared/store/client.js';
import { config, resetConfig } from '../../shared/edge/config.js';
import { keys } from '../../shared/store/keys.js';
import { startDynamo } from '../../shared/local/engines.js';
import { applyLocalEnvironment, startStack } from '../../shared/local/stack.js';
import { countRequests, readCounts } from '../../shared/local/request-counter.js';
import { TABLES } from '../../shared/declarations/tables.js';
import { measureColdInit } from '../bundles.js';
import { fmt, type BenchContext, type Live } from '../context.js';
import { httpJson } from '../http.js';
import { LoadGenerator } from '../load.js';
import type { Pick, RunSpec } from '../load-protocol.js';
import type { RunMeasure } from '../results.js';
import { childPeakRss } from '../rss.js';
import { createTablesForSeeding, enableStreams, seedGraph } from '../seed.js';
import { quiesce, settle } from '../settle.js';
import { closedLoop, type LoopResult } from '../stats.js';
import { cacheDelta, cacheSnapshot, loopSummary } from '../summaries.js';

/** The engine-alone and engine-with-stack GetItem loops are at most this long each: ~500 GetItems
 *  at c=1, enough for their p50 (1.5 s each was 9 s of the full run's 10 minutes). */
const ENGINE_LOOP_MS = 500;
/** The stack has started when its stream pollers, queues and workflows are idle within this. */
const STACK_SETTLE_MS = 30_000;

/** DynamoDB Local, in memory, with the tables of every entity and shard. startStack() later finds
 *  DYNAMODB_ENDPOINT set and uses this engine. */
export async function bootDynamo(ctx: BenchContext): Promise<void> {
  const t = Date.now();
  const engine = await startDynamo({});
  ctx.engine = engine;
  ctx.closers.push(() => engine.stop().catch((e: unknown) => console.error(e)));
  applyLocalEnvironment({ ...ctx.stackEnv, DYNAMODB_ENDPOINT: engine.endpoint });
  resetConfig();
  resetDynamo();
  const tables = await createTablesForSeeding();
  ctx.log(`DynamoDB Local up with ${tables} tables (${Object.keys(TABLES).length} entities × ${config().FEED_SHARDS} shards) in ${((Date.now() - t) / 1000).toFixed(1)} s`);
}

/** The graph, straight into DynamoDB Local with the product's keys and item shapes. */
export async function seed(ctx: BenchContext): Promise<void> {
  const t = Date.now();
  const seeded = await seedGraph(ctx.graph, ctx.o.seed, (what, done, total) => ctx.tick(`seed: ${what} ${done}/${total} items`, done === total));
  const ms = Date.now() - t;
  const items = Object.values(seeded.items).reduce((a, b) => a + b, 0);
  ctx.results.seeding = { ms, items: seeded.items, itemsPerSec: items / (ms / 1000), posts: seeded.postIds.length, pushAllEntries: ctx.described.pushAllEntries };
  ctx.seeded = seeded;
  ctx.log(`seed: ${items} items in ${fmt(ms / 1000)} s (${fmt(items / (ms / 1000), 0)}/s)`);
}

/** The rest of the local stack, with DynamoDB Local's GetItem timed alone before and beside it
 *  after, as a reference for what the running stack costs the engine. */
export async function startLocalStack(ctx: BenchContext): Promise<void> {
  const { o } = ctx;
  const userIds = seededUsers(ctx).map((u) => u.userId);
  const getItem = (i: number) => {
    const k = keys.profile(userIds[(i * 7919) % userIds.length]!);
    return db().send(new GetCommand({ TableName: k.table, Key: k.key }));
  };
  const engineLoops = async () => {
    const runs: LoopResult[] = [];
    for (let rep = 0; rep < o.reps; rep++) runs.push(await closedLoop(getItem, { concurrency: 1, durationMs: Math.min(o.runMs, ENGINE_LOOP_MS) }));
    return runs;
  };
  const alone = await engineLoops();
  await enableStreams();

  const t = Date.now();
  const stack = await startStack({
    fresh: true,
    port: 0,
    dataDir: ctx.dataDir,
    env: ctx.stackEnv,
    // High-tier posts notify after SQS DelaySeconds (60 s): scaled ×0.01 so those writes land
    // inside the post's own measurement instead of in a later phase.
    queues: { delayScale: 0.01 },
    sweepIntervalMs: 3_600_000,
  });
  ctx.stack = stack;
  ctx.closers.push(async () => {
    ctx.log('stopping the stack');
    await stack.stop().catch((e: unknown) => console.error(e));
  });
  countRequests(dynamo());
  await settle(stack, { timeoutMs: STACK_SETTLE_MS });
  ctx.log(`stack up in ${((Date.now() - t) / 1000).toFixed(1)} s: ${stack.url}`);
  const withStack = await engineLoops();
  const engine = { alone: loopSummary(alone), withStack: loopSummary(withStack) };
  ctx.results.engine = engine;
  ctx.log(`DynamoDB Local GetItem at c=1: p50 ${fmt(engine.alone.p50, 2)} ms alone, ${fmt(engine.withStack.p50, 2)} ms with the stack running (stream pollers)`);
}

/** The load generator with every seeded user's token, after one real login round trip; the
 *  readers' pools (Zipf by activity: the hot set is its head, the cold pool the rest). */
export async function startLoad(ctx: BenchContext): Promise<void> {
  const { o, graph } = ctx;
  const stack = ctx.stack;
  if (!stack) throw new Error('the stack is not running');
  const users = seededUsers(ctx);
  // The path is real HTTP end to end: one token minted by the API itself, checked by it.
  const devToken = await httpJson(stack.url, 'POST', '/v1/dev/token', undefined, { sub: users[0]!.sub });
  if (devToken.status !== 200) throw new Error(`POST /v1/dev/token answered ${devToken.status}`);
  const me = await httpJson(stack.url, 'GET', '/v1/me', (devToken.json as { token: string }).token);
  if (me.status !== 200 || (me.json as { userId: string }).userId !== users[0]!.userId) throw new Error(`GET /v1/me answered ${me.status} for a seeded user`);

  const tokens = users.map((u) => u.token);
  const userIds = users.map((u) => u.userId);
  const load = await LoadGenerator.start();
  ctx.closers.push(() => load.stop().catch(() => {}));
  await load.setUsers(tokens, userIds);

  const byReadWeight = Array.from({ length: graph.n }, (_, i) => i).sort((a, b) => graph.readWeights[b]! - graph.readWeights[a]!);
  const hot = byReadWeight.slice(0, o.hotUsers);
  const hotSet = new Set(hot);
  const minOk = o.quick ? 10 : 100;
  let runSeed = o.seed * 1000;
  const spec = (p: Partial<RunSpec> & { pick: Pick }): RunSpec => ({
    url: stack.url,
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
    const res = await load.run(r);
    const d1 = readCounts().requests;
    const c1 = cacheSnapshot();
    // Requests still in flight when the run stopped finish before the next run starts.
    await quiesce();
    return { ...res, dbReads: res.requests ? (d1 - d0) / res.requests : NaN, ...(c0 && c1 && { cache: cacheDelta(c0, c1) }) };
  };
  const readers: Live = {
    stack,
    load,
    tokens,
    userIds,
    byReadWeight,
    hot,
    coldPool: byReadWeight.filter((i) => !hotSet.has(i)),
    zipfAll: { kind: 'weighted', indices: byReadWeight, weights: byReadWeight.map((i) => graph.readWeights[i]!) },
    zipfHot: { kind: 'weighted', indices: hot, weights: hot.map((i) => graph.readWeights[i]!) },
    minOk,
    spec,
    measure,
  };
  ctx.live = readers;
}

function seededUsers(ctx: BenchContext) {
  if (!ctx.seeded) throw new Error('seeding failed; nothing to measure');
  return ctx.seeded.users;
}

/** Stops what the phases started, newest first, after the last memory sample of the run. */
export async function teardown(ctx: BenchContext): Promise<void> {
  ctx.rss.stop();
  ctx.results.rss = {
    peak: ctx.rss.peak,
    maxRss: process.resourceUsage().maxRSS * 1024,
    peakByPhase: ctx.rss.peakByPhase,
    engines: childPeakRss(),
  };
  for (const close of ctx.closers.splice(0).reverse()) {
    try {
      await close();
    } catch (err) {
      console.error(err);
    }
  }
  rmSync(ctx.dataDir, { recursive: true, force: true });
}

/** Each handler bundle imported in fresh processes, once the stack is stopped. */
export async function coldInit(ctx: BenchContext): Promise<void> {
  const built = await ctx.bundles;
  if (!built) return;
  ctx.results.bundles = await measureColdInit(built, ctx.o.coldInitReps);
  ctx.log(`cold init: ${built.length} handlers × ${ctx.o.coldInitReps} fresh process${ctx.o.coldInitReps > 1 ? 'es' : ''}`);
}

/** Whether there are bundles to time (built, and not turned off). */
export async function haveBundles(ctx: BenchContext): Promise<boolean> {
  return (await ctx.bundles) !== undefined;
}

