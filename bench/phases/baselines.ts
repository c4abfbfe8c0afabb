// The phases that set the product beside a plain alternative on the same machine: the hybrid feed
// against plain push and plain pull (no cache), and the fan-out worker's writer against raw
// BatchWriteItem calls of the same items at the same concurrency.
import { randomUUID } from 'node:crypto';
import { InvokeStore, InvokeStoreBase } from '@aws/lambda-invoke-store';
import { BatchWriteItemCommand, DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { config } from '../../shared/edge/config.js';
import { pushToFeeds } from '../../shared/services/fan-out.js';
import { feedEntry } from '../../shared/services/feed-entries.js';
import { createPost } from '../../shared/services/posts.js';
import { mintId } from '../../shared/domain/ids.js';
import { LOGICAL_SHARDS } from '../../shared/domain/regions.js';
import { feedsTable } from '../../shared/store/keys.js';
import { strategyServer } from '../baselines.js';
import { fmt, live, type BenchContext } from '../context.js';
import type { RunMeasure } from '../results.js';
import { forkRng } from '../rng.js';
import { pool } from '../seed.js';
import { median } from '../stats.js';
import { summarize } from '../summaries.js';
import { PAGE } from './constants.js';

/** Connections of the strategy comparison (pull runs at ~20 req/s here). */
const STRATEGY_CONNECTIONS = 8;
/** Concurrency of the local fan-out queue's consumer (LocalQueues' default), for writer vs raw. */
const WRITER_CONCURRENCY = 4;
/** Followers per fan-out job, as the post-router splits them. */
const JOB_FOLLOWERS = 500;
/** Items per BatchWriteItem (DynamoDB's limit). */
const BATCH = 25;
/** Retries of a raw batch's unprocessed items before giving up on them. */
const RAW_ATTEMPTS = 10;

/** Hybrid, plain push and plain pull through the domain functions on a server with no cache. */
export async function strategies(ctx: BenchContext): Promise<void> {
  const { o } = ctx;
  const { spec, measure, zipfAll, minOk } = live(ctx);
  const harness = await strategyServer(PAGE);
  ctx.closers.push(() => harness.close().catch(() => {}));
  const raw: Record<'hybrid' | 'push' | 'pull', RunMeasure[]> = { hybrid: [], push: [], pull: [] };
  for (let rep = 0; rep < o.reps; rep++) {
    for (const st of ['hybrid', 'push', 'pull'] as const) {
      // Ratios of medians: fewer samples than the sweep suffice (pull runs at ~20 req/s here).
      raw[st].push(await measure({ ...spec({ pick: zipfAll, connections: STRATEGY_CONNECTIONS, minOk: Math.min(minOk, 60) }), url: harness.url, path: `/${st}/{user}`, auth: false }));
    }
    ctx.tick(`strategies rep ${rep + 1}/${o.reps}: p95 hybrid ${fmt(raw.hybrid.at(-1)!.latency.p95, 1)} ms · push ${fmt(raw.push.at(-1)!.latency.p95, 1)} ms · pull ${fmt(raw.pull.at(-1)!.latency.p95, 1)} ms`, true);
  }
  ctx.results.strategies = { hybrid: summarize(raw.hybrid, 'cold'), push: summarize(raw.push, 'cold'), pull: summarize(raw.pull, 'cold'), connections: STRATEGY_CONNECTIONS };
}

/** The fan-out writer against raw BatchWriteItem. Feeds of synthetic users (valid ids on every
 *  shard, nobody reads them), so the entries — which point at posts that do not exist — never
 *  reach a measured read. */
export async function writerVsRaw(ctx: BenchContext): Promise<void> {
  const { o, graph } = ctx;
  const { stack, userIds, byReadWeight } = live(ctx);
  const rd = new DynamoDBClient({ endpoint: stack.dynamoEndpoint, region: config().AWS_REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  ctx.closers.push(() => rd.destroy());
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
    const calls = Array.from({ length: o.writerJobs }, () => rawBatches(synthetic(), rawPost));
    let t = performance.now();
    await pool(calls, WRITER_CONCURRENCY, async (chunks) => {
      for (const chunk of chunks) {
        let pending: Record<string, WriteRequest[]> | undefined = chunk;
        for (let attempt = 0; pending && Object.keys(pending).length > 0 && attempt < RAW_ATTEMPTS; attempt++) {
          const out = await rd.send(new BatchWriteItemCommand({ RequestItems: pending }));
          pending = out.UnprocessedItems as Record<string, WriteRequest[]> | undefined;
        }
      }
    });
    const rawRate = entries / ((performance.now() - t) / 1000);
    // Writer: the fan-out worker's own code (BatchWriteItem of 25 with retries, the one-in-32
    // trim, the followers' cached pages), one job of 500 followers per message, as the queue
    // delivers them, for a post that exists (the worker reads it once per job).
    const stored = await inInvocation(() => createPost({ userId: author }, `writer vs raw ${rep}`));
    const post = { postId: stored.postId, authorId: author, createdAt: stored.createdAt };
    const jobs = Array.from({ length: o.writerJobs }, synthetic);
    t = performance.now();
    await pool(jobs, WRITER_CONCURRENCY, (job) => inInvocation(() => pushToFeeds('add', post, job)));
    const writerRate = entries / ((performance.now() - t) / 1000);
    rounds.push({ writer: writerRate, raw: rawRate });
    ctx.tick(`writer vs raw rep ${rep + 1}/${o.reps}: writer ${fmt(writerRate, 0)}/s, raw ${fmt(rawRate, 0)}/s`, true);
  }
  ctx.results.writer = {
    writer: median(rounds.map((r) => r.writer)),
    raw: median(rounds.map((r) => r.raw)),
    ratio: median(rounds.map((r) => r.writer / r.raw)),
    entries,
    concurrency: WRITER_CONCURRENCY,
    rounds,
  };
}

/** Runs product code in-process as the local runtime runs a handler: in an InvokeStore scope of
 *  its own. The stack runs Lambda's multi-concurrency mode, where Powertools keeps per-invocation
 *  state (log keys, the correlation id) in that scope and throws outside one. */
export async function inInvocation<T>(work: () => Promise<T>): Promise<T> {
  const store = await InvokeStore.getInstanceAsync();
  return store.run({ [InvokeStoreBase.PROTECTED_KEYS.REQUEST_ID]: randomUUID() }, work);
}

/** One job's feed entries as BatchWriteItem request maps of BATCH items, marshalled. */
function rawBatches(job: string[], post: { postId: string; authorId: string; createdAt: string }): Record<string, WriteRequest[]>[] {
  const chunks: Record<string, WriteRequest[]>[] = [];
  for (let i = 0; i < job.length; i += BATCH) {
    const req: Record<string, WriteRequest[]> = {};
    for (const u of job.slice(i, i + BATCH)) (req[feedsTable(u)] ??= []).push({ PutRequest: { Item: marshall(feedEntry(u, post)) } });
    chunks.push(req);
  }
  return chunks;
}
