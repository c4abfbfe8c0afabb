// The resharding section: a stack of its own (32 tables per entity, rows seeded in bulk), a
// steady workload of posts, follows and feed reads through the HTTP API, and `feedctl reshard
// --to 64` run as its own process meanwhile, then `--finish`. Measured: requests that failed,
// acknowledged writes that do not read back, the write pause per cut-over (p50, p99, from feedctl)
// and as clients saw it (write latency p99 before and during), and time per million rows moved.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resetConfig } from '../../shared/edge/config.js';
import { logicalShardOf, mintId } from '../../shared/domain/ids.js';
import { LOGICAL_SHARDS } from '../../shared/domain/regions.js';
import { startDynamo, type Engine } from '../../shared/local/engines.js';
import { applyLocalEnvironment, startStack, type Stack } from '../../shared/local/stack.js';
import { resetDynamo } from '../../shared/store/client.js';
import { entryWrite, feedEntry } from '../../shared/store/feeds.js';
import { resetShardMap } from '../../shared/store/shard-map.js';
import { stackClient, type StackUser } from '../../tests/support/own-stack.js';
import { GENEROUS_RATE_LIMITS } from '../../tests/support/rate-limits.js';
import { feedctlReshard, missingWrites, reshardLoad } from '../../tests/support/reshard-load.js';
import { fmt, type BenchContext } from '../context.js';
import { bulkLoad, createTablesForSeeding, enableStreams } from '../seed.js';
import { percentile } from '../stats.js';

const PREFIX = 'benchreshard-';
const FROM = 32;
const TO = 64;
/** Users of the workload (signed up through the API). */
const USERS = 40;
/** Rows seeded in bulk beside the workload's (half of them move). At 25,000 the 32 cut-overs'
 *  fixed steps (~2 s each on a slow machine) weigh about as much as the copy in the time per
 *  million; 50,000 made the copy dominate, at ~60 s more of the full run's 10 minutes. */
const SEEDED_ROWS = { quick: 10_000, full: 25_000 };
/** Workload clients at once. */
const LOOPS = 4;
/** Authors of the seeded entries. */
const AUTHORS = 40;
/** The seeded entries outlive the section. */
const FEED_ENTRY_TTL_SECONDS = 86_400;
/** The workload runs this long before the reshard starts (the "before" write latencies: ~500
 *  writes of the 4 clients). */
const BEFORE_MS = 3_000;

export interface ReshardResult {
  from: number;
  to: number;
  seededRows: number;
  requests: number;
  /** 503s a client retried and then got through (not failures). */
  retried503: number;
  failures: number;
  failureSamples: string[];
  acknowledged: { posts: number; follows: number };
  missing: number;
  missingSamples: string[];
  cutOvers: number;
  /** The freeze's moment → flip written per cut-over, from feedctl's progress lines. */
  pauseP50Ms: number;
  pauseP99Ms: number;
  pauseMaxMs: number;
  /** Where the longest pause went (`held 50, drain 533, flip 103`). */
  pauseMaxParts: string;
  /** Acknowledged writes' latency as the clients saw it. */
  writeP99BeforeMs: number;
  writeP99DuringMs: number;
  writeMaxDuringMs: number;
  rowsCopied: number;
  reshardMs: number;
  msPerMillionRows: number;
  finishMs: number;
  exitCode: number;
  output: string;
}

/** Feed entries of readers and authors who are not part of the workload, `n` in all, written
 *  before the stack starts into tables whose streams are still off (as a restore would, and as
 *  the bench's seed does: bench/seed.ts): rows that move like any other, without waking a stream
 *  consumer or a reader, and without leaving stream records behind, which would make DynamoDB
 *  Local's every later write slower (the copy's ~3× by the end of a run). */
async function seedFeeds(n: number): Promise<void> {
  const now = Date.now();
  const entries = Array.from({ length: n }, (_, i) => {
    const reader = mintId(i % LOGICAL_SHARDS, now - 1000 - Math.floor(i / LOGICAL_SHARDS));
    const author = mintId((i * 7) % LOGICAL_SHARDS, now - 2000 - (i % AUTHORS));
    return feedEntry(reader, { postId: mintId(logicalShardOf(author), now - i), authorId: author, createdAt: new Date(now - i).toISOString() }, FEED_ENTRY_TTL_SECONDS);
  });
  await bulkLoad(entries.map(entryWrite));
}

/** Each cut-over's pause and its parts, from feedctl's progress lines. */
const pausesOf = (out: string) => [...out.matchAll(/pause (\d+) ms(?:: ([^;)]*))?/g)].map((m) => ({ ms: Number(m[1]), parts: m[2] ?? '' }));

export async function reshardSection(ctx: BenchContext): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'feedscale-bench-reshard-'));
  // The single-region stack is gone: this section starts its own engines.
  delete process.env.REDIS_URL;
  const stackEnv = { FEED_TABLE_PREFIX: PREFIX, FEED_SHARDS: String(FROM), FEED_SHARD_TABLES: String(TO), ...GENEROUS_RATE_LIMITS };
  let engine: Engine | undefined;
  let stack: Stack | undefined;
  try {
    // DynamoDB Local first, with the source tables' streams off while the bulk rows go in; the
    // stack then starts on it and creates the target tables (FEED_SHARD_TABLES) as it always does.
    engine = await startDynamo({});
    applyLocalEnvironment({ ...stackEnv, DYNAMODB_ENDPOINT: engine.endpoint });
    resetConfig();
    resetDynamo();
    resetShardMap();
    await createTablesForSeeding();
    const seededRows = ctx.o.quick ? SEEDED_ROWS.quick : SEEDED_ROWS.full;
    await seedFeeds(seededRows);
    await enableStreams();
    stack = await startStack({ fresh: true, port: 0, dataDir, env: stackEnv, sweepIntervalMs: 3_600_000 });
    resetConfig();
    const client = stackClient(() => stack!.url, 'rs');
    const users: StackUser[] = [];
    for (let i = 0; i < USERS; i++) users.push(await client.user('US'));
    await stack.settle(30_000);
    ctx.log(`reshard: ${USERS} users, ${seededRows} feed entries seeded; workload of ${LOOPS} clients for ${BEFORE_MS / 1000} s, then feedctl reshard --to ${TO}`);

    let running = true;
    const load = reshardLoad(client, users, () => running, LOOPS);
    await new Promise((r) => setTimeout(r, BEFORE_MS));
    const before = load.writeMs.length;
    const env = { FEED_TABLE_PREFIX: PREFIX, FEED_SHARDS: String(FROM), DYNAMODB_ENDPOINT: process.env.DYNAMODB_ENDPOINT };
    const run = await feedctlReshard(['--to', String(TO)], env, undefined, (text) => text.trimEnd().split('\n').forEach((l) => ctx.tick(`reshard: ${l}`)));
    running = false;
    await load.done;
    const during = load.writeMs.slice(before);
    const fin = run.code === 0 ? await feedctlReshard(['--finish'], env) : undefined;
    await stack.settle(30_000);
    const missing = await missingWrites(client, users[0]!, load.posts, load.follows);
    const cutOvers = pausesOf(run.out).sort((a, b) => a.ms - b.ms);
    const pauses = cutOvers.map((c) => c.ms);
    const rowsCopied = Number(/(\d+) rows copied/.exec(run.out)?.[1] ?? 0);
    const result: ReshardResult = {
      from: FROM,
      to: TO,
      seededRows,
      requests: load.requests(),
      retried503: load.retried,
      failures: load.failures.length,
      failureSamples: load.failures.slice(0, 5),
      acknowledged: { posts: load.posts.length, follows: load.follows.length },
      missing: missing.length,
      missingSamples: missing.slice(0, 5),
      cutOvers: pauses.length,
      pauseP50Ms: percentile(pauses, 0.5),
      pauseP99Ms: percentile(pauses, 0.99),
      pauseMaxMs: pauses.at(-1) ?? 0,
      pauseMaxParts: cutOvers.at(-1)?.parts ?? '',
      writeP99BeforeMs: percentile(load.writeMs.slice(0, before), 0.99),
      writeP99DuringMs: percentile(during, 0.99),
      writeMaxDuringMs: Math.max(0, ...during),
      rowsCopied,
      reshardMs: run.ms,
      msPerMillionRows: rowsCopied > 0 ? (run.ms / rowsCopied) * 1e6 : 0,
      finishMs: fin?.ms ?? 0,
      exitCode: run.code,
      output: (run.out + run.err).split('\n').slice(-4).join('\n'),
    };
    ctx.results.reshard = result;
    ctx.log(
      `reshard: ${FROM} → ${TO} in ${fmt(run.ms / 1000, 1)} s (exit ${run.code}), ${rowsCopied} rows copied (${fmt(result.msPerMillionRows / 60_000, 1)} min per million); ` +
        `${result.requests} requests, ${result.failures} failed (${result.retried503} 503s retried); ${result.acknowledged.posts + result.acknowledged.follows} writes acknowledged, ${result.missing} missing; ` +
        `pause p50 ${result.pauseP50Ms} · p99 ${result.pauseP99Ms} ms (max ${result.pauseMaxMs}: ${result.pauseMaxParts}); client write p99 ${result.writeP99BeforeMs} → ${result.writeP99DuringMs} ms (max ${result.writeMaxDuringMs}); finish ${fmt(result.finishMs / 1000, 1)} s`,
    );
  } finally {
    await stack?.stop();
    await engine?.stop();
    delete process.env.DYNAMODB_ENDPOINT;
    rmSync(dataDir, { recursive: true, force: true });
  }
}
