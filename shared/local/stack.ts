// The local stack: real engines (DynamoDB Local, redis-server), every table, the API server, the
// stream and queue event-source mappings and the TTL sweeper, in one process. `npm start`, the
// test setup and the benchmark all start it through startStack(), which runs named phases over
// one context: environment, engines, tables, queues, mappings, workflows, sweeper, API.
// With data kept (not --fresh), queued messages, workflow runs and stream checkpoints live under
// the data dir and survive a kill -9 (see queues.ts, stepfunctions.ts and journal.ts).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dynamo, onRemoteClient, resetDynamo } from '../store/client.js';
import { useQueueTransport } from '../messaging/queue.js';
import { config, resetConfig } from '../edge/config.js';
import { MAPPINGS, QUEUES, type Mapping } from '../declarations/event-sources.js';
import { freshShardMap, shardMap } from '../store/shard-map.js';
import { tableName, TABLES } from '../declarations/tables.js';
import { startDynamo, startRedis, type Engine } from './engines.js';
import { invoke, ROOT } from './lambda.js';
import { LocalQueues, type LocalQueueOptions } from './queues.js';
import { portFromEnv, startServer, type LocalServer } from './server.js';
import { StreamPoller } from './streams.js';
import { startReplication, versionWrites, withoutVersions } from './replication.js';
import type { RegionName } from '../domain/regions.js';
import { ensureTables, sweepExpired } from './create-tables.js';
import { LocalStepFunctions } from './stepfunctions.js';
import { writeFileAtomically } from './journal.js';
import { crashAfterCheckpointSave } from './crash-points.js';
import { countRequests, writeCounts } from './request-counter.js';
import { resetSfn } from '../messaging/workflow-starts.js';
import { closeL2 } from '../cache/l2.js';
import { WORKFLOWS } from '../../workflows/registry.js';
import { metricsSnapshot } from '../edge/observability.js';

/** What `feedctl stats` shows: queues, streams, workflow runs, DynamoDB writes and the handlers'
 *  metrics (counters, feed latency, cache hit rates). */
function localStats(queues: LocalQueues, pollers: StreamPoller[], sfn: LocalStepFunctions) {
  const runs: Record<string, number> = {};
  for (const e of sfn.executions.values()) runs[e.status] = (runs[e.status] ?? 0) + 1;
  return {
    queues: queues.stats(),
    streams: pollers.map((p) => ({ delivered: p.delivered, failures: p.failures.length })),
    workflows: runs,
    dynamodbWrites: writeCounts().total,
    metrics: metricsSnapshot(),
  };
}

export interface StackOptions {
  /** Keep DynamoDB data in memory only (npm start -- --fresh; tests). */
  fresh?: boolean;
  /** API port; 0 picks a free one. Default: PORT or 3000. */
  port?: number;
  /** Where kept data lives (default .local/ in the project). */
  dataDir?: string;
  /** Environment for the handlers, applied before anything reads configuration. */
  env?: Record<string, string>;
  queues?: LocalQueueOptions;
  streamPollMs?: number;
  /** How often expired feed entries are swept (DynamoDB Local never deletes by TTL). */
  sweepIntervalMs?: number;
  /** Delay after a notification window closes before its digests are composed. */
  notificationGraceMs?: number;
}

export interface Stack {
  url: string;
  dynamoEndpoint: string;
  redisUrl: string | undefined;
  queues: LocalQueues;
  pollers: StreamPoller[];
  stepFunctions: LocalStepFunctions;
  /** The engines this stack started (DynamoDB Local, redis-server), to stop or restart them. */
  engines: Engine[];
  /** One line per running part, for the console. */
  lines: string[];
  /** Resolves when every stream record and queue message so far has been processed. */
  settle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** What the phases share: options, where data lives, and what to stop (in reverse) on stop(). */
interface StackContext {
  opts: StackOptions;
  dataDir: string;
  lines: string[];
  started: Engine[];
  stoppers: (() => Promise<void>)[];
}

/** How often the stream checkpoints are saved: a kill loses at most this much progress, which
 *  only means re-reading records whose (idempotent) jobs are already queued. */
const CHECKPOINT_SAVE_MS = 5000;
/** FEED_SHARD_TABLES (tables per entity to provision; the deploy setting of the same name), or 0. */
function shardTablesSetting(): number {
  const raw = process.env.FEED_SHARD_TABLES;
  if (!raw) return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < config().FEED_SHARDS || n > 4096 || (n & (n - 1)) !== 0) {
    throw new Error(`FEED_SHARD_TABLES must be a power of two from FEED_SHARDS (${config().FEED_SHARDS}) to 4096 (got ${raw})`);
  }
  return n;
}

/** The longest idle wait of the analytics export's stream pollers (the others': IDLE_POLL_MAX_MS,
 *  1 s). It reads every table's stream, 160 shards at 32 tables, and at 1 s an idle `npm start`
 *  spent about half a core on them (its process 22%, DynamoDB Local 25%; /proc over 20 s). Writes
 *  through the stack's own client still wake it at once; another process's writes reach the
 *  export a few seconds later, which Firehose's buffering (a minute or more) hides in AWS. */
export const ANALYTICS_IDLE_MAX_MS = 5_000;
/** An event-source mapping's longest idle wait: undefined for the stream pollers' default. */
export const idleMaxMsOf = (m: StreamMapping): number | undefined => (m.fn === 'analytics-export' ? ANALYTICS_IDLE_MAX_MS : undefined);

/** How often the stack checks whether the shard map names more (or fewer) tables to stream. */
const SHARD_TABLES_CHECK_MS = 1000;
type StreamMapping = Extract<Mapping, { kind: 'stream' }>;

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const ctx: StackContext = { opts, dataDir: opts.dataDir ?? path.join(ROOT, '.local'), lines: [], started: [], stoppers: [] };
  const stopAll = async () => {
    for (const stop of ctx.stoppers.reverse()) await stop().catch((e) => console.error(e));
    for (const engine of ctx.started.reverse()) await engine.stop().catch((e) => console.error(e));
  };
  try {
    applyEnvironment(ctx);
    const { endpoint, redisUrl } = await startEngines(ctx);
    await prepareTables(ctx);
    const queues = await startQueues(ctx);
    const pollers = startMappings(ctx, queues, endpoint);
    const stepFunctions = await startWorkflows(ctx, queues, pollers);
    startSweeper(ctx);
    const server = await startApi(ctx);
    mkdirSync(ctx.dataDir, { recursive: true });
    writeFileSync(
      path.join(ctx.dataDir, 'stack.json'),
      JSON.stringify({ api: server.url, dynamodb: endpoint, redis: redisUrl ?? null, stepFunctions: stepFunctions.endpoint, pid: process.pid }, null, 2),
    );
    return {
      url: server.url,
      dynamoEndpoint: endpoint,
      redisUrl,
      queues,
      pollers,
      stepFunctions,
      engines: ctx.started,
      lines: ctx.lines,
      settle: (timeoutMs) => settle(queues, pollers, stepFunctions, timeoutMs),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The handlers' environment, set before anything reads configuration. */
function applyEnvironment({ opts }: StackContext): void {
  applyLocalEnvironment(opts.env);
}

/** A local stack's environment (`env` over FEED_LOCAL and the local credentials and region), for
 *  what runs in this process before the stack starts (a bench seeding its engine). */
export function applyLocalEnvironment(env: Record<string, string> = {}): void {
  Object.assign(process.env, { FEED_LOCAL: '1', ...env });
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  process.env.AWS_REGION ??= 'us-east-1';
}

/** DynamoDB Local (kept under the data dir unless fresh) and redis-server, unless endpoints are given. */
async function startEngines(ctx: StackContext): Promise<{ endpoint: string; redisUrl: string | undefined }> {
  const { opts, dataDir, lines, started } = ctx;
  if (!process.env.DYNAMODB_ENDPOINT) {
    const dbDir = opts.fresh ? undefined : path.join(dataDir, 'dynamodb');
    const engine = await startDynamo({ dataDir: dbDir });
    started.push(engine);
    process.env.DYNAMODB_ENDPOINT = engine.endpoint;
    lines.push(`dynamodb   ${engine.endpoint}  DynamoDB Local (${dbDir ? `data in ${path.relative(process.cwd(), dbDir) || dbDir}` : 'in memory'})`);
  } else {
    lines.push(`dynamodb   ${process.env.DYNAMODB_ENDPOINT}  (DYNAMODB_ENDPOINT)`);
  }
  let redisUrl = process.env.REDIS_URL;
  if (redisUrl) {
    lines.push(`redis      ${redisUrl}  (REDIS_URL)`);
  } else {
    const redis = await startRedis({});
    if (redis) {
      started.push(redis);
      redisUrl = redis.endpoint;
      process.env.REDIS_URL = redisUrl;
      lines.push(`redis      ${redisUrl}  redis-server`);
    } else {
      lines.push('redis      off: redis-server not found and REDIS_URL unset; the Redis cache tier is disabled');
    }
  }
  resetConfig();
  resetDynamo();
  return { endpoint: config().DYNAMODB_ENDPOINT!, redisUrl };
}

async function prepareTables({ lines, stoppers }: StackContext): Promise<void> {
  countRequests(dynamo());
  // The tables a reshard will grow into are made (and their streams primed) with the others when
  // FEED_SHARD_TABLES asks for them, as a deployment provisions them.
  const inUse = (await freshShardMap(true)).tables;
  const created = await ensureTables(dynamo(), Math.max(inUse, shardTablesSetting()), inUse);
  lines.push(`tables     ${shardMap().tables} shards × ${Object.keys(TABLES).length} entities (${created} created)`);
  // The process's cache client belongs to the stack: closed last (stoppers run in reverse), so
  // nothing keeps the process alive after stop().
  stoppers.push(() => closeL2());
}

/** The SQS stand-in, journalled under the data dir unless fresh, installed as the queue transport. */
async function startQueues({ opts, dataDir, lines, stoppers }: StackContext): Promise<LocalQueues> {
  const journal = path.join(dataDir, 'queues.journal');
  const queues = opts.fresh ? new LocalQueues(opts.queues) : await LocalQueues.durable(journal, opts.queues);
  useQueueTransport(queues);
  stoppers.push(async () => {
    await queues.stop();
    useQueueTransport(undefined);
  });
  if (!opts.fresh) {
    const kept = Object.values(queues.stats()).reduce((n, q) => n + q.waiting + q.inFlight, 0);
    lines.push(`journal    ${path.relative(process.cwd(), journal) || journal}: ${kept} queued messages kept`);
  }
  return queues;
}

/** Event-source mappings: queue consumers and stream pollers, with the pollers' checkpoints
 *  loaded from and saved to the data dir (atomically, so a kill never leaves half a file). */
function startMappings(ctx: StackContext, queues: LocalQueues, endpoint: string): StreamPoller[] {
  const { opts, dataDir, lines, stoppers } = ctx;
  const checkpointFile = path.join(dataDir, 'stream-checkpoints.json');
  const checkpoints = new Map<string, string>(
    !opts.fresh && existsSync(checkpointFile) ? Object.entries(JSON.parse(readFileSync(checkpointFile, 'utf8'))) : [],
  );
  const saveCheckpoints = () => {
    if (!opts.fresh) writeFileAtomically(checkpointFile, JSON.stringify(Object.fromEntries(checkpoints)));
    if (!opts.fresh) crashAfterCheckpointSave(queues);
  };
  const pollers: StreamPoller[] = [];
  const streamed: { m: StreamMapping; at: number }[] = [];
  let tableCount = shardMap().tables;
  const pollerFor = (m: StreamMapping, tables: string[]) => {
    const poller = new StreamPoller(dynamo(), endpoint, config().AWS_REGION, {
      tables,
      batchSize: m.batchSize,
      maxRetries: m.maxRetries,
      // Without the replication stand-in's hidden item versions, which functions never see.
      consumer: withoutVersions((event) => invoke(m.fn, event)),
      // Per mapping: two mappings may read the same stream (one shared checkpoint map).
      name: m.fn,
      pollIntervalMs: opts.streamPollMs,
      maxIdleMs: idleMaxMsOf(m),
      checkpoints,
    });
    poller.start();
    return poller;
  };
  const tablesOf = (m: StreamMapping) => Array.from({ length: tableCount }, (_, s) => tableName(m.entity, s));
  for (const m of MAPPINGS) {
    // The analytics export polls every table's stream: a stack with nowhere to export to (tests,
    // the bench) does not pay for those pollers.
    if (m.fn === 'analytics-export' && !process.env.FEED_ANALYTICS_DIR) continue;
    if (m.kind === 'queue') {
      queues.consume(m.queue, m.batchSize, (event) => invoke(m.fn, event));
      lines.push(`queue      ${m.queue} → ${m.fn} (batch ${m.batchSize}, dead letters after ${QUEUES[m.queue].maxReceiveCount} receives)`);
      continue;
    }
    const tables = tablesOf(m);
    streamed.push({ m, at: pollers.length });
    pollers.push(pollerFor(m, tables));
    lines.push(`stream     ${m.entity} (${tables.length} tables) → ${m.fn} (batch ${m.batchSize}, ${m.maxRetries} retries)`);
  }
  const checkpointTimer = setInterval(saveCheckpoints, CHECKPOINT_SAVE_MS);
  checkpointTimer.unref();
  // A reshard adds tables (or a rollback drops them): their streams are mapped as the shard map
  // names them, each stream resuming from its checkpoint.
  let following = Promise.resolve();
  const followTimer = setInterval(() => {
    following = following
      .then(async () => {
        const count = (await freshShardMap()).tables;
        if (count === tableCount) return;
        tableCount = count;
        for (const { m, at } of streamed) {
          await pollers[at]!.stop();
          pollers[at] = pollerFor(m, tablesOf(m));
        }
      })
      .catch((e) => console.error(`stream mappings: ${(e as Error).message}`));
  }, SHARD_TABLES_CHECK_MS);
  followTimer.unref();
  stoppers.push(async () => {
    clearInterval(followTimer);
    await following;
    clearInterval(checkpointTimer);
    await Promise.all(pollers.map((p) => p.stop()));
    saveCheckpoints();
  });
  startPeerReplication(ctx, checkpoints, pollers);
  return pollers;
}

/** In a multi-region stack (FEED_LOCAL_PEERS, set by multi-region.ts), the Global Tables stand-in:
 *  stopped before the pollers, so the final checkpoint save covers what it applied. */
function startPeerReplication({ lines, stoppers }: StackContext, checkpoints: Map<string, string>, pollers: StreamPoller[]): void {
  const peers = (process.env.FEED_LOCAL_PEERS ?? '').split(',').filter(Boolean) as RegionName[];
  const self = config().FEED_REGION;
  const regionsDir = process.env.FEED_LOCAL_REGIONS_DIR;
  if (peers.length === 0 || !self || !regionsDir) return;
  // Every write of this region's functions carries the version its peers settle conflicts by.
  const unversion = versionWrites(dynamo(), self);
  // A write made in a peer's tables directly (a directory claim, a notification accumulator) is
  // that peer's own write, replicated from there.
  onRemoteClient((raw, region) => versionWrites(raw, region));
  const onApplied = () => pollers.forEach((p) => p.wake());
  const replication = startReplication({ self, peers, regionsDir, shards: config().FEED_SHARDS, local: dynamo(), checkpoints, awsRegion: config().AWS_REGION, onApplied });
  stoppers.push(async () => {
    await replication.stop();
    unversion();
    onRemoteClient(undefined);
  });
  lines.push(`replicas   from ${peers.join(', ')}: the tables this region shares with each (Global Tables stand-in)`);
}

/** The Step Functions stand-in (journalled unless fresh), its API, the schedules, and the restart
 *  of executions a kill left running. */
async function startWorkflows(ctx: StackContext, queues: LocalQueues, pollers: StreamPoller[]): Promise<LocalStepFunctions> {
  const { opts, dataDir, lines, stoppers } = ctx;
  const stepFunctions = opts.fresh ? new LocalStepFunctions() : await LocalStepFunctions.durable(path.join(dataDir, 'workflows.journal'));
  const sfnEndpoint = await stepFunctions.listen({ '/feedscale/stats': () => localStats(queues, pollers, stepFunctions) });
  process.env.FEED_SFN_ENDPOINT = sfnEndpoint;
  resetSfn();
  const windowSeconds = config().FEED_NOTIFICATION_WINDOW_SECONDS;
  stepFunctions.schedule(opts.notificationGraceMs ?? Math.min(30_000, windowSeconds * 200));
  stoppers.push(() => stepFunctions.stop());
  lines.push(`workflows  ${sfnEndpoint}  Step Functions API (aws-local-stepfunctions): ${Object.keys(WORKFLOWS).join(', ')}; digests every ${windowSeconds} s`);
  const resumed = stepFunctions.resume();
  if (resumed > 0) lines.push(`workflows  ${resumed} execution(s) running at the last stop restarted from their input`);
  return stepFunctions;
}

function startSweeper({ opts, lines, stoppers }: StackContext): void {
  const sweepMs = opts.sweepIntervalMs ?? 60_000;
  const sweeper = setInterval(() => {
    sweepExpired(dynamo()).catch((e) => console.error(`ttl sweep: ${(e as Error).message}`));
  }, sweepMs);
  sweeper.unref();
  stoppers.push(async () => clearInterval(sweeper));
  lines.push(`ttl sweep  every ${Math.round(sweepMs / 1000)} s (DynamoDB Local does not expire items)`);
}

async function startApi({ opts, lines, stoppers }: StackContext): Promise<LocalServer> {
  const port = opts.port ?? portFromEnv(process.env.PORT);
  const server: LocalServer = await startServer(port);
  stoppers.push(() => server.close());
  const shown = server.url.replace('127.0.0.1', 'localhost');
  lines.unshift(`api        ${shown}/v1  (OpenAPI: ${shown}/v1/openapi.json)`);
  return server;
}

/** Resolves once queues, streams and handler-started workflows have been quiet for 3 rounds. */
async function settle(queues: LocalQueues, pollers: StreamPoller[], stepFunctions: LocalStepFunctions, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let quietRounds = 0;
  while (quietRounds < 3) {
    if (Date.now() > deadline) throw new Error('local stack did not settle in time');
    const quiet = queues.idle() && pollers.every((p) => p.caughtUp) && stepFunctions.idle();
    quietRounds = quiet ? quietRounds + 1 : 0;
    await new Promise((r) => setTimeout(r, 100));
  }
}
