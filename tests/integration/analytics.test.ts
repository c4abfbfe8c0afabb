// The analytics export end to end on a local stack of this file's own (its own table prefix and
// analytics directory, on the shared DynamoDB Local and Redis): a scripted scenario of sign-ups,
// follows, an unfollow, posts, a deletion and feed reads flows through every table's stream into
// the store, each change exactly once even when every record is delivered again, and the named
// queries answer the scenario's exact counts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeTableCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '../../shared/local/stack.js';
import { MAPPINGS } from '../../shared/declarations/event-sources.js';
import { TABLES, type Entity } from '../../shared/declarations/tables.js';
import { logicalShardOf } from '../../shared/domain/ids.js';
import { tableSetOfLogical } from '../../shared/domain/residency.js';
import { stackClient, until, type StackUser } from '../support/own-stack.js';

const PREFIX = 'analytics-';
const SHARDS = 16;
const envBefore = { ...process.env };
const dataDir = mkdtempSync(path.join(tmpdir(), 'feedscale-analytics-'));
const analyticsDir = path.join(dataDir, 'analytics');
let stack: Stack;
const client = stackClient(() => stack.url, 'analytics');

interface Scenario {
  alice: StackUser;
  bob: StackUser;
  eve: StackUser;
  kept: string;
  deleted: string;
  evePost: string;
}
let s: Scenario;

/** `feedctl analytics …` in this process, its JSON answer parsed. */
async function analytics(...argv: string[]): Promise<{ rows: Record<string, unknown>[]; lag: { events: number } }> {
  const { analyticsMain } = await import('../../shared/local/feedctl-analytics.js');
  const out: string[] = [];
  const err: string[] = [];
  const code = await analyticsMain([...argv, '--format', 'json'], { stdout: (l) => out.push(l), stderr: (l) => err.push(l), env: { ...process.env, FEED_ANALYTICS_DIR: analyticsDir } });
  if (code !== 0) throw new Error(`analytics ${argv.join(' ')}: exit ${code}: ${err.join('\n')}`);
  return JSON.parse(out.join('\n'));
}

/** The exported tables: every entity's but the directory's (public copies of users' rows). */
const tableNames = () => (Object.keys(TABLES) as Entity[]).filter((e) => e !== 'directory').flatMap((e) => Array.from({ length: SHARDS }, (_, i) => `${PREFIX}${TABLES[e].baseName}_${i}`));

/** Every record still in the tables' streams, as the mapping would deliver them. */
async function allStreamRecords(): Promise<DynamoDBRecord[][]> {
  const streams = new DynamoDBStreamsClient({ endpoint: stack.dynamoEndpoint, region: process.env.AWS_REGION ?? 'us-east-1' });
  const { dynamo } = await import('../../shared/store/client.js');
  const batches: DynamoDBRecord[][] = [];
  try {
    for (const table of tableNames()) {
      const arn = (await dynamo().send(new DescribeTableCommand({ TableName: table }))).Table!.LatestStreamArn!;
      for (const shard of (await streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription!.Shards ?? []) {
        let it = (await streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
        while (it) {
          const page = await streams.send(new GetRecordsCommand({ ShardIterator: it, Limit: 500 }));
          if (!page.Records?.length) break;
          batches.push(page.Records.map((r) => ({ ...r, eventSourceARN: arn }) as unknown as DynamoDBRecord));
          it = page.NextShardIterator;
        }
      }
    }
  } finally {
    streams.destroy();
  }
  return batches;
}

async function itemsPerTable(): Promise<Map<string, number>> {
  const { dynamo } = await import('../../shared/store/client.js');
  const counts = new Map<string, number>();
  for (const table of tableNames()) {
    const out = await dynamo().send(new ScanCommand({ TableName: table, Select: 'COUNT' }));
    if (out.Count) counts.set(table, out.Count);
  }
  return counts;
}

beforeAll(async () => {
  const { startStack } = await import('../../shared/local/stack.js');
  stack = await startStack({
    fresh: true,
    port: 0,
    dataDir,
    // No follow backfill: every feed entry of the scenario is a fan-out write.
    env: { FEED_TABLE_PREFIX: PREFIX, FEED_SHARDS: String(SHARDS), FEED_ANALYTICS_DIR: analyticsDir, FEED_FOLLOW_BACKFILL: '0', FEED_NOTIFICATION_WINDOW_SECONDS: '3600' },
    queues: { visibilityTimeoutMs: 500 },
    sweepIntervalMs: 3_600_000,
  });
  const [alice, bob, eve] = await Promise.all([client.user('US'), client.user('US'), client.user('DE')]);
  const ok = async (p: Promise<{ status: number; body: any }>, status: number) => {
    const r = await p;
    expect(r.status).toBe(status);
    return r.body;
  };
  await ok(client.http('PUT', `/v1/users/${alice!.userId}/follow`, bob!.token), 204);
  await ok(client.http('PUT', `/v1/users/${alice!.userId}/follow`, eve!.token), 204);
  await ok(client.http('PUT', `/v1/users/${eve!.userId}/follow`, alice!.token), 204);
  await ok(client.http('DELETE', `/v1/users/${eve!.userId}/follow`, alice!.token), 204);
  const kept = (await ok(client.http('POST', '/v1/posts', alice!.token, { content: 'kept' }), 201)).postId;
  const deleted = (await ok(client.http('POST', '/v1/posts', alice!.token, { content: 'deleted' }), 201)).postId;
  const evePost = (await ok(client.http('POST', '/v1/posts', eve!.token, { content: 'to nobody' }), 201)).postId;
  await stack.settle(30_000);
  await ok(client.http('GET', '/v1/feed', bob!.token), 200);
  await ok(client.http('GET', '/v1/feed', bob!.token), 200);
  // A write after the reads: the exporter carries the reads' metrics with its batch.
  await ok(client.http('DELETE', `/v1/posts/${deleted}`, alice!.token), 204);
  await stack.settle(30_000);
  s = { alice: alice!, bob: bob!, eve: eve!, kept, deleted, evePost };
  // settle() sees records the pollers have read; the exporter's pollers may not have read the
  // last ones yet. Done when it has delivered every record the streams hold.
  const records = (await allStreamRecords()).flat().length;
  await until(async () => exporterDelivered() === records, 30_000, `the exporter to deliver ${records} stream records`);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  for (const key of Object.keys(process.env)) if (!(key in envBefore)) delete process.env[key];
  Object.assign(process.env, envBefore);
  const { resetConfig } = await import('../../shared/edge/config.js');
  resetConfig();
});

/** Records the analytics-export mappings' pollers have delivered (stack.pollers follow MAPPINGS). */
function exporterDelivered(): number {
  const streamMappings = MAPPINGS.filter((m) => m.kind === 'stream');
  return stack.pollers.filter((_, i) => streamMappings[i]!.fn === 'analytics-export').reduce((n, p) => n + p.delivered, 0);
}

const regionOf = (userId: string) => tableSetOfLogical(logicalShardOf(userId)).home;
const zoneOf = (userId: string) => tableSetOfLogical(logicalShardOf(userId)).zone;

describe('analytics export', () => {
  it('delivers every insert, update and delete exactly once, also when every record is delivered again', async () => {
    const delivered = exporterDelivered();
    const before = await analytics('sql', 'SELECT op, count(*)::INT AS n FROM changes GROUP BY ALL ORDER BY op');
    expect(before.rows.reduce((n, r) => n + Number(r.n), 0)).toBe(delivered);
    expect(before.rows.map((r) => r.op)).toEqual(['INSERT', 'MODIFY', 'REMOVE']);

    const { invoke } = await import('../../shared/local/lambda.js');
    const batches = await allStreamRecords();
    expect(batches.flat()).toHaveLength(delivered);
    for (const Records of batches) expect(await invoke('analytics-export', { Records })).toEqual({ batchItemFailures: [] });

    const after = await analytics('sql', 'SELECT op, count(*)::INT AS n FROM changes GROUP BY ALL ORDER BY op');
    expect(after.rows).toEqual(before.rows);
    const raw = await analytics('sql', 'SELECT count(*)::INT AS n FROM read_parquet(' + `'${analyticsDir}/*/kind=*/day=*/*.parquet')`);
    // The store holds redelivered rows again (a batch cut differently lands as another file);
    // every answer above counted them once.
    expect(Number(raw.rows[0]!.n)).toBeGreaterThan(delivered);
  });

  it('carries deletions through: the deleted post, its feed entries and the unfollow', async () => {
    const removed = await analytics('sql', `SELECT kind, count(*)::INT AS n FROM changes WHERE op = 'REMOVE' GROUP BY ALL ORDER BY kind`);
    expect(removed.rows).toEqual(expect.arrayContaining([{ kind: 'posts', n: 1 }, { kind: 'feeds', n: 2 }]));
    const follows = await analytics('sql', `SELECT item_key FROM changes WHERE kind = 'follows' AND op = 'REMOVE' ORDER BY item_key`);
    expect(follows.rows.map((r) => r.item_key)).toEqual([`pk=in#${s.eve.userId}|sk=${s.alice.userId}`, `pk=out#${s.alice.userId}|sk=${s.eve.userId}`]);
    const live = await analytics('sql', `SELECT json_extract_string(item, '$.postId') AS post FROM live WHERE kind = 'posts' ORDER BY post`);
    expect(live.rows.map((r) => r.post)).toEqual([s.kept, s.evePost].sort());
  });

  it('answers regions: the users and posts made today per home region', async () => {
    const { rows } = await analytics('regions', '--since', 'today');
    const expected = new Map<string, { new_users: number; new_posts: number }>();
    const add = (userId: string, users: number, posts: number) => {
      const key = `${zoneOf(userId)}/${regionOf(userId)}`;
      const e = expected.get(key) ?? { new_users: 0, new_posts: 0 };
      expected.set(key, { new_users: e.new_users + users, new_posts: e.new_posts + posts });
    };
    add(s.alice.userId, 1, 1);
    add(s.bob.userId, 1, 0);
    add(s.eve.userId, 1, 1);
    expect(new Map(rows.map((r) => [`${r.zone}/${r.region}`, { new_users: r.new_users, new_posts: r.new_posts }]))).toEqual(expected);
    expect(zoneOf(s.eve.userId)).toBe('eu-gdpr');
    const eu = await analytics('regions', '--since', 'today', '--zone', 'eu-gdpr');
    expect(eu.rows.map((r) => [r.zone, r.new_users, r.new_posts])).toEqual([['eu-gdpr', 1, 1]]);
  });

  it('answers dau, top-authors and fanout with the scenario counts', async () => {
    // Alice and Eve posted, Bob read his feed: three users active today.
    expect((await analytics('dau', '--since', 'today')).rows.map((r) => r.active_users)).toEqual([3]);
    const top = await analytics('top-authors', '--since', '-1h');
    expect(top.rows.map((r) => [r.author_id, r.gained, r.lost, r.net])).toEqual([
      [s.alice.userId, 2, 0, 2],
      [s.eve.userId, 1, 1, 0],
    ]);
    // Alice's two posts reached her two followers; Eve's reached nobody.
    expect((await analytics('fanout', '--since', 'today')).rows.map((r) => [r.tier, r.writes])).toEqual([['regular', 4]]);
  });

  it('answers tables: each physical table holds the items DynamoDB holds, and the writes add up', async () => {
    const { rows, lag } = await analytics('tables', '--since', 'today', '--limit', '200');
    const items = new Map(rows.filter((r) => Number(r.items) > 0).map((r) => [String(r.table_name), Number(r.items)]));
    expect(items).toEqual(await itemsPerTable());
    expect(rows.reduce((n, r) => n + Number(r.writes), 0)).toBe(lag.events);
  });

  it('backfills the tables as they are now: a store built from a scan alone holds every item', async () => {
    const { analyticsMain } = await import('../../shared/local/feedctl-analytics.js');
    const root = path.join(dataDir, 'backfilled');
    const io = { stdout: () => {}, stderr: (l: string) => void console.error(l), env: { ...process.env, FEED_ANALYTICS_DIR: root } };
    expect(await analyticsMain(['backfill'], io)).toBe(0);
    const out: string[] = [];
    expect(await analyticsMain(['sql', 'SELECT table_name, count(*)::INT AS n FROM live GROUP BY ALL', '--format', 'json'], { ...io, stdout: (l) => out.push(l) })).toBe(0);
    const rows = (JSON.parse(out.join('\n')) as { rows: { table_name: string; n: number }[] }).rows;
    expect(new Map(rows.map((r) => [r.table_name, r.n]))).toEqual(await itemsPerTable());
  });

  it('answers cache: the hit rate over time of the feed reads', async () => {
    const { metricsSnapshot } = await import('../../shared/edge/observability.js');
    const counters = metricsSnapshot().counters;
    const { rows } = await analytics('cache', '--since', 'today');
    const sum = (k: string) => rows.reduce((n, r) => n + Number(r[k] ?? 0), 0);
    expect([sum('hits'), sum('misses')]).toEqual([counters.CacheHit ?? 0, counters.CacheMiss ?? 0]);
    // Bob's two first-page reads.
    expect(sum('reads')).toBe(2);
  });
});
