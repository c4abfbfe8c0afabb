// What each operation costs in billing units, for the capacity model (`npm run plan`): DynamoDB
// request units as DynamoDB itself reports them (ReturnConsumedCapacity on every call), Redis
// commands (INFO commandstats), and each handler's time at concurrency 1 with its configured memory.
// One operation at a time on a settled stack, so every unit is the operation's own.
import { Redis } from 'ioredis';
import { feedCache } from '../../shared/cache/feed-cache.js';
import { feedVariant } from '../../shared/cache/cache-keys.js';
import { L1Cache } from '../../shared/cache/l1.js';
import { l2 } from '../../shared/cache/l2.js';
import { FUNCTIONS, type FunctionName } from '../../shared/declarations/functions.js';
import { TABLES } from '../../shared/declarations/tables.js';
import { signDevToken } from '../../shared/edge/auth.js';
import { LOGICAL_SHARDS } from '../../shared/domain/regions.js';
import { FANOUT_JOB_FOLLOWERS } from '../../shared/domain/limits.js';
import { mintId } from '../../shared/domain/ids.js';
import type { OperationCost, OperationCosts } from '../../shared/domain/operation-costs.js';
import type { Stack } from '../../shared/local/stack.js';
import { pushToFeeds } from '../../shared/services/fan-out.js';
import { edgePage } from '../../shared/services/follows.js';
import { pullSources } from '../../shared/services/pull.js';
import { createPost, queryAuthorPosts } from '../../shared/services/posts.js';
import { dynamo } from '../../shared/store/client.js';
import { fmt, live, type BenchContext } from '../context.js';
import { httpJson } from '../http.js';
import type { Results } from '../results.js';
import { forkRng } from '../rng.js';
import { delivered, quiesce, settle } from '../settle.js';
import { median } from '../stats.js';
import { inInvocation } from './baselines.js';
import { PAGE } from './constants.js';

/** Operations sampled per kind: enough for a stable mean of units, few enough for a quick run. */
const SAMPLES = { quick: 5, full: 12 };
/** The post-router reads followers this many at a time (the Follows page limit). */
const FOLLOWER_PAGE = 1000;
/** Commands of our own (the INFO calls that read the counters) are not the operation's. */
const OWN_COMMANDS = new Set(['info']);
const METER = 'feedscaleCapacityMeter';
/** Fan-out and workflows of earlier phases drain within this on a loaded machine. */
const SETTLE_MS = 60_000;
/** Notification writes of earlier phases (the tier probes notify thousands) are waited for this long. */
const NOTIFICATIONS_SETTLE_MS = 15_000;
/** After a post of an author nobody follows, once its stream record is delivered: a poll round. */
const POST_QUIET_MS = 100;
/** Tables an operation may write besides its own: a follow notifies the followee. */
const NOTIFYING = new Set<FunctionName>(['follow-user', 'create-post']);

type Units = { rru: number; wru: number; requests: number; tables: Record<string, { rru: number; wru: number }> };
const units: Units = { rru: 0, wru: 0, requests: 0, tables: {} };
const ENTITY_BY_BASE = new Map<string, string>(Object.values(TABLES).map((d) => [d.baseName, d.entity]));
const entityOf = (table: string | undefined) => ENTITY_BY_BASE.get(/([A-Za-z]+)_\d+$/.exec(table ?? '')?.[1] ?? '') ?? 'other';
const snapshot = (): Units => ({ ...units, tables: Object.fromEntries(Object.entries(units.tables).map(([k, v]) => [k, { ...v }])) });
const READ_OPS = new Set(['Get', 'Query', 'BatchGet', 'Scan', 'TransactGet']);

type Consumed = { TableName?: string; CapacityUnits?: number; ReadCapacityUnits?: number; WriteCapacityUnits?: number };

/** Asks DynamoDB for the capacity of every call on the process's client and adds it up. */
function installMeter(): () => void {
  const client = dynamo();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = String(context.commandName).replace(/(Items?)?Command$/, '');
      const input = args.input as { ReturnConsumedCapacity?: string };
      input.ReturnConsumedCapacity ??= 'TOTAL';
      const out = await next(args);
      const cc = (out.output as { ConsumedCapacity?: Consumed | Consumed[] }).ConsumedCapacity;
      const kind = READ_OPS.has(op) ? 'rru' : 'wru';
      units.requests++;
      for (const c of [cc ?? []].flat()) {
        const n = c.CapacityUnits ?? (c.ReadCapacityUnits ?? 0) + (c.WriteCapacityUnits ?? 0);
        units[kind] += n;
        (units.tables[entityOf(c.TableName)] ??= { rru: 0, wru: 0 })[kind] += n;
      }
      return out;
    },
    { step: 'initialize', name: METER },
  );
  return () => void client.middlewareStack.remove(METER);
}

/** Request units per entity since `u0`, per operation; entities the operation did not touch left out. */
function tablesSince(u0: Units, n: number): Units['tables'] {
  const out: Units['tables'] = {};
  for (const [e, v] of Object.entries(units.tables)) {
    const rru = (v.rru - (u0.tables[e]?.rru ?? 0)) / n;
    const wru = (v.wru - (u0.tables[e]?.wru ?? 0)) / n;
    if (rru + wru > 0) out[e] = { rru, wru };
  }
  return out;
}

async function redisCalls(r: Redis): Promise<number> {
  const text = await r.info('commandstats');
  let n = 0;
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (!OWN_COMMANDS.has(m[1]!)) n += Number(m[2]);
  return n;
}

interface Probe {
  redis: Redis;
  stack: Stack;
}

/** Runs `op` once per sample, one at a time, each followed by `after` (settling its async work),
 *  and divides what they cost by `per` (items per operation) → the cost of one. */
async function measureOp(p: Probe, handlers: FunctionName[], samples: number, op: (i: number) => Promise<void>, opts: { after?: () => Promise<void>; per?: number } = {}): Promise<OperationCost> {
  // The meter counts every call of the process, so the work earlier phases queued lands first.
  // Their notification writes may still be retrying under load (DynamoDB Local times out on a busy
  // machine): waited for within a bound, and left out of the operations that never write them.
  // One quiet window when all is settled (the usual case); otherwise the rest first.
  if (!(await settle(p.stack, { timeoutMs: NOTIFICATIONS_SETTLE_MS }))) await settle(p.stack, { timeoutMs: SETTLE_MS, ignore: ['notifications'] });
  await quiesce();
  const u0 = snapshot();
  const r0 = await redisCalls(p.redis);
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t = performance.now();
    await op(i);
    times.push(performance.now() - t);
    await opts.after?.();
  }
  await quiesce();
  const r1 = await redisCalls(p.redis);
  const n = samples * (opts.per ?? 1);
  const tables = tablesSince(u0, n);
  const background = handlers.some((h) => NOTIFYING.has(h)) ? undefined : tables.notifications;
  if (background) delete tables.notifications;
  return {
    rru: (units.rru - u0.rru) / n - (background?.rru ?? 0),
    wru: (units.wru - u0.wru) / n - (background?.wru ?? 0),
    requests: (units.requests - u0.requests) / n,
    tables,
    redisCommands: (r1 - r0) / n,
    lambda: handlers.map((h) => ({ handler: h, invocations: 1 / (opts.per ?? 1), durationMs: median(times), memoryMB: FUNCTIONS[h].memoryMB })),
    samples,
  };
}

/** Every L1 lookup misses while `work` runs, so reads take the L2 path (as reads.ts does). */
async function l1Missing<T>(work: () => Promise<T>): Promise<T> {
  const original = L1Cache.prototype.get;
  L1Cache.prototype.get = () => undefined;
  try {
    return await work();
  } finally {
    L1Cache.prototype.get = original;
  }
}

export async function costs(ctx: BenchContext): Promise<void> {
  const { o, graph } = ctx;
  const lv = live(ctx);
  const { stack, tokens, userIds, coldPool } = lv;
  if (!stack.redisUrl) throw new Error('no Redis in this stack');
  const redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: 1 });
  const uninstall = installMeter();
  try {
    const p: Probe = { redis, stack };
    const n = o.quick ? SAMPLES.quick : SAMPLES.full;
    const rng = forkRng(o.seed, 'costs');
    const readers = Array.from({ length: n }, () => coldPool[rng.int(coldPool.length)]!);
    await Promise.all(readers.map((i) => feedCache().invalidate(userIds[i]!)));
    const getFeed = (i: number) => httpJson(stack.url, 'GET', `/v1/feed?limit=${PAGE}`, tokens[readers[i]!]).then(ok(200, 'GET /v1/feed'));
    const feedReadCold = await measureOp(p, ['get-feed'], n, getFeed);
    const feedReadL2 = await l1Missing(() => measureOp(p, ['get-feed'], n, getFeed));
    const feedReadL1 = await measureOp(p, ['get-feed'], n, getFeed);
    const pulled = readers.reduce((sum, i) => sum + [...graph.following[i]!].filter((a) => graph.tiers[a] !== 'regular').length, 0) / n;

    const authors = graph.posts.map((x) => x.author);
    const authorQuery = await measureOp(p, ['get-feed'], n, async (i) => void (await queryAuthorPosts(userIds[authors[rng.int(authors.length)]!]!, PAGE + 1)));
    // The product's pull of a high-tier author: its recent-posts list in Redis (filled once here,
    // as the first reader after a post would), DynamoDB only when the list cannot answer.
    const high = Array.from({ length: graph.n }, (_, i) => i).filter((i) => graph.tiers[i] !== 'regular');
    if (high.length === 0) throw new Error('no celebrity or mega-celebrity in the graph to pull from');
    const pullOne = (i: number) => pullSources.recentPosts(userIds[high[i % high.length]!]!, PAGE, undefined, true);
    for (let i = 0; i < high.length; i++) await pullOne(i);
    const authorPull = await measureOp(p, ['get-feed'], n, async (i) => void (await pullOne(i)));
    const big = Array.from({ length: graph.n }, (_, i) => i).sort((a, b) => graph.followers[b]!.length - graph.followers[a]!.length);
    const followerPage = await measureOp(p, ['post-router'], n, async (i) => void (await edgePage(userIds[big[i % big.length]!]!, 'followers', FOLLOWER_PAGE)));

    // Posts by a new user, whom nobody follows: the post, its stream record and routing, no fan-out.
    const lonely = await freshUser(stack, o.seed);
    let d = delivered(stack);
    const postCreate = await measureOp(p, ['create-post'], n, async (i) => void ok(201, 'POST /v1/posts')(await httpJson(stack.url, 'POST', '/v1/posts', lonely.token, { content: `cost probe ${i}` })), {
      // The post's own stream record routed (nobody follows its author: no fan-out follows).
      after: async () => void (await settle(stack, { minDelivered: ++d, timeoutMs: 30_000, ignore: ['notifications'], quietMs: POST_QUIET_MS })),
    });

    // One fan-out job of synthetic followers (valid ids on every shard) per sample, as a worker
    // invocation runs it, divided per follower.
    const stored = await inInvocation(() => createPost({ userId: lonely.userId }, 'cost probe: fan-out'));
    const post = { postId: stored.postId, authorId: lonely.userId, createdAt: stored.createdAt };
    const jobs = Math.max(2, Math.ceil(n / 4));
    const fanOutPerFollower = await measureOp(p, ['fan-out-worker'], jobs, async () => {
      const job = Array.from({ length: FANOUT_JOB_FOLLOWERS }, () => mintId(rng.int(LOGICAL_SHARDS)));
      await inInvocation(() => pushToFeeds('add', post, job));
    }, { per: FANOUT_JOB_FOLLOWERS });

    const pairs = followPairs(ctx, n, rng);
    const follow = await measureOp(p, ['follow-user'], pairs.length, async (i) => {
      const [f, a] = pairs[i]!;
      ok(204, 'PUT follow')(await httpJson(stack.url, 'PUT', `/v1/users/${userIds[a]}/follow`, tokens[f]));
    }, { after: async () => void (await settle(stack, { timeoutMs: 30_000, ignore: ['notifications'] })) });

    const page = await l2().readFeed(userIds[readers[0]!]!, feedVariant(PAGE), { counted: false });
    const celeb = ctx.results.tiers?.celebrity ?? [];
    const measured: OperationCosts = {
      measuredAt: new Date().toISOString(),
      source: `${ctx.results.meta.command} on ${ctx.results.meta.machine.cpus} × ${ctx.results.meta.machine.model} (${graph.n} users, seed ${o.seed})`,
      ops: { feedReadL1, feedReadL2, feedReadCold, authorQuery, authorPull, followerPage, postCreate, fanOutPerFollower, follow },
      pageBytes: page.status === 'hit' ? Buffer.byteLength(page.value) : (ctx.results.l2VsRaw?.valueBytes ?? 1000),
      celebrityActiveShare: celeb.length ? Math.min(1, median(celeb.map((c) => c.feedWrites / Math.max(1, c.followers)))) : 1,
      jobFollowers: FANOUT_JOB_FOLLOWERS,
      pulledAuthorsPerColdRead: pulled,
    };
    (ctx.results as Results & { costs?: OperationCosts }).costs = measured;
    ctx.log(`costs: cold read ${fmt(feedReadCold.rru, 1)} RRU · L2 hit ${fmt(feedReadL2.redisCommands, 1)} Redis cmds · post ${fmt(postCreate.wru, 1)} WRU · fan-out ${fmt(fanOutPerFollower.wru, 2)} WRU/follower · follow ${fmt(follow.wru, 1)} WRU`);
  } finally {
    uninstall();
    redis.disconnect();
  }
}

/** A user created through the API for this phase: nobody follows them. */
async function freshUser(stack: Stack, seed: number): Promise<{ userId: string; token: string }> {
  const sub = `bench-costs-${seed}-${Date.now()}`;
  const token = await signDevToken(sub);
  const created = await httpJson(stack.url, 'POST', '/v1/users', token, { handle: `c${Date.now() % 1e9}`, displayName: 'Cost probe', country: 'US' });
  ok(201, 'POST /v1/users')(created);
  return { userId: (created.json as { userId: string }).userId, token };
}

/** Throws unless the call answered `status`. */
const ok = (status: number, what: string) => (r: { status: number }) => {
  if (r.status !== status) throw new Error(`${what} answered ${r.status}`);
};

/** Regular users and regular authors they do not follow yet, distinct pairs. */
function followPairs(ctx: BenchContext, n: number, rng: ReturnType<typeof forkRng>): [number, number][] {
  const { graph } = ctx;
  const pairs: [number, number][] = [];
  const seen = new Set<string>();
  for (let guard = 0; pairs.length < n && guard < n * 100; guard++) {
    const f = rng.int(graph.n);
    const a = rng.int(graph.n);
    if (f === a || graph.tiers[a] !== 'regular' || graph.following[f]!.includes(a) || seen.has(`${f}:${a}`)) continue;
    seen.add(`${f}:${a}`);
    pairs.push([f, a]);
  }
  return pairs;
}
