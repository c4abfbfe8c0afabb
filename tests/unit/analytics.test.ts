// The analytics export without engines: rows go to their table set's zone (an EU user's rows
// never reach another zone's store), a redelivered batch counts once, deletions reach the latest
// state and compaction strips erased items, free SQL that writes is refused, the command line's
// mistakes exit 2, Firehose calls stay within their limits, and the deploy plan keeps every zone's
// store inside the zone.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resetConfig } from '../../shared/edge/config.js';
import { mintId } from '../../shared/domain/ids.js';
import { EU_REGIONS, TABLE_SETS, type ZoneName } from '../../shared/domain/residency.js';
import { REGIONS } from '../../shared/domain/regions.js';
import { ANALYTICS_ZONES, isEuZone, zoneStoreRegions, type AnalyticsRow } from '../../shared/domain/analytics-events.js';
import { shardOfId } from '../../shared/domain/sharding.js';
import { ExportBatch, type TableChange } from '../../shared/services/analytics.js';
import { firehoseBatches, firehoseTransport, landingTransport, type AnalyticsTransport } from '../../shared/messaging/analytics-delivery.js';
import { AnalyticsStore, ReadOnlyError } from '../../shared/local/analytics-store.js';
import { analyticsMain } from '../../shared/local/feedctl-analytics.js';
import { buildPlan, functionStatements } from '../../stacks/plan.js';
import { deployTarget } from '../../stacks/deploy-target.js';
import { registeredWorkflows } from '../../stacks/workflow-specs.js';

const SHARDS = 32;
const PREFIX = 'feedscale-';
const roots: string[] = [];
const tempRoot = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'feedscale-analytics-unit-'));
  roots.push(dir);
  return dir;
};
const saved = { ...process.env };

beforeAll(() => {
  Object.assign(process.env, { FEED_SHARDS: String(SHARDS), FEED_TABLE_PREFIX: PREFIX });
  resetConfig();
});
afterAll(() => {
  process.env = saved;
  resetConfig();
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

const gdpr = TABLE_SETS.find((s) => s.zone === 'eu-gdpr')!;
const usEast = TABLE_SETS.find((s) => s.name === 'us-east-1')!;
const table = (base: string, id: string) => `${PREFIX}${base}_${shardOfId(id, SHARDS)}`;
let seq = 1000;
const change = (t: string, eventName: TableChange['eventName'], keys: Record<string, string>, image?: Record<string, unknown>): TableChange => ({
  table: t,
  sequenceNumber: String(seq++),
  eventName,
  createdMs: Date.now(),
  keys,
  ...(image && eventName !== 'REMOVE' && { newImage: { ...keys, ...image } }),
});

/** Every kind of row a user has: profile (created, active), edges both ways, a post and its
 *  deletion, feed entries, a notification. */
function userRows(userId: string, otherId: string): TableChange[] {
  const post = { postId: `${userId}p`, authorId: userId };
  return [
    change(table('Users', userId), 'INSERT', { pk: `user#${userId}`, sk: 'profile' }, { userId, handle: `h${userId}`, country: 'DE', createdAt: new Date().toISOString() }),
    change(table('Users', userId), 'MODIFY', { pk: `user#${userId}`, sk: 'profile' }, { userId, activeAt: Math.floor(Date.now() / 1000) }),
    change(table('Follows', userId), 'INSERT', { pk: `out#${userId}`, sk: otherId }, { since: 'x' }),
    change(table('Follows', userId), 'INSERT', { pk: `in#${userId}`, sk: otherId }, { since: 'x' }),
    change(table('Posts', userId), 'INSERT', { postId: post.postId }, { authorId: userId, content: 'private thoughts', createdAt: new Date().toISOString() }),
    change(table('Posts', userId), 'REMOVE', { postId: post.postId }),
    change(table('Feeds', userId), 'INSERT', { userId, postId: 'p9' }, { authorId: otherId }),
    change(table('Notifications', userId), 'INSERT', { pk: `ntf#${userId}`, sk: 'n1' }, { kind: 'follow' }),
  ];
}

/** A transport that records what each zone's delivery received. */
function recording(): AnalyticsTransport & { calls: { zone: ZoneName; rows: AnalyticsRow[] }[] } {
  const calls: { zone: ZoneName; rows: AnalyticsRow[] }[] = [];
  return { calls, deliver: async (zone, rows) => void calls.push({ zone, rows: [...rows] }) };
}

describe('residency of the export', () => {
  it("an EU user's rows, public posts included, are delivered to the EU zone's store only", async () => {
    const eve = mintId(gdpr.logical[0] + 5);
    const ann = mintId(usEast.logical[0] + 5);
    const batch = new ExportBatch();
    // Each follows someone of their own zone: an edge is its owner's row, and names the other.
    for (const c of [...userRows(eve, mintId(gdpr.logical[0] + 6)), ...userRows(ann, mintId(usEast.logical[0] + 6))]) batch.add(c);
    const transport = recording();
    const root = tempRoot();
    const landing = landingTransport(root);

    await batch.flush({ deliver: async (zone, rows) => (await transport.deliver(zone, rows), landing.deliver(zone, rows)) });

    const eveRows = transport.calls.flatMap((c) => c.rows.filter((r) => r.table_name.endsWith(`_${shardOfId(eve, SHARDS)}`)).map((r) => ({ call: c.zone, row: r })));
    expect(eveRows).toHaveLength(8);
    for (const { call, row } of eveRows) expect([call, row.zone, row.region]).toEqual(['eu-gdpr', 'eu-gdpr', 'eu-west-1']);
    for (const c of transport.calls) for (const r of c.rows) expect(r.zone).toBe(c.zone);
    // On disk: Eve's id appears under the EU zone's directory and nowhere else.
    const filesMentioning = (id: string) =>
      readdirSync(root, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && readFileSync(path.join(e.parentPath, e.name), 'utf8').includes(id))
        .map((e) => path.relative(root, e.parentPath).split(path.sep)[0]);
    expect(new Set(filesMentioning(eve))).toEqual(new Set(['eu-gdpr']));
    expect(new Set(filesMentioning(ann))).toEqual(new Set(['us']));
  });

  it('a deletion carries the key only, never the content', () => {
    const eve = mintId(gdpr.logical[0] + 9);
    const batch = new ExportBatch();
    batch.add({ ...change(table('Posts', eve), 'REMOVE', { postId: 'x1' }), newImage: { postId: 'x1', content: 'secret' } });
    expect(batch.rows[0]).toMatchObject({ op: 'REMOVE', item: null, item_key: 'postId=x1' });
  });
});

describe('the local store', () => {
  it('counts a redelivered batch, and a batch retried from its middle, once', async () => {
    const root = tempRoot();
    const ann = mintId(usEast.logical[0] + 1);
    const batch = new ExportBatch();
    for (const c of userRows(ann, mintId(usEast.logical[0] + 2))) batch.add(c);
    const tail = new ExportBatch();
    for (const r of batch.rows.slice(5)) tail.rows.push({ ...r, exported_ms: r.exported_ms + 1 });
    const t = landingTransport(root);

    await batch.flush(t);
    await batch.flush(t);
    await tail.flush(t);

    const store = await AnalyticsStore.open(root);
    try {
      await store.convertLanding();
      await store.defineViews(ANALYTICS_ZONES);
      const events = await store.query('SELECT count(*)::INT AS n, count(DISTINCT event_id)::INT AS ids FROM events');
      expect(events.rows[0]).toEqual({ n: 8, ids: 8 });
      // The post was created and deleted: it is not in the tables' current contents.
      const live = await store.query(`SELECT kind, count(*)::INT AS n FROM live GROUP BY ALL ORDER BY kind`);
      expect(live.rows).toEqual([
        { kind: 'feeds', n: 1 },
        { kind: 'follows', n: 2 },
        { kind: 'notifications', n: 1 },
        { kind: 'users', n: 1 },
      ]);
    } finally {
      store.close();
    }
  });

  it("compaction strips an erased item's key and content but keeps its writes counted", async () => {
    const root = tempRoot();
    const ann = mintId(usEast.logical[0] + 3);
    const batch = new ExportBatch();
    for (const c of userRows(ann, mintId(usEast.logical[0] + 4))) batch.add(c);
    await batch.flush(landingTransport(root));

    const store = await AnalyticsStore.open(root);
    try {
      await store.compact();
      await store.defineViews(ANALYTICS_ZONES);
      const posts = await store.query(`SELECT op, item_key, item FROM events WHERE kind = 'posts' ORDER BY seq`);
      expect(posts.rows).toEqual([
        { op: 'INSERT', item_key: null, item: null },
        { op: 'REMOVE', item_key: null, item: null },
      ]);
      const writes = await store.query(`SELECT count(*)::INT AS n FROM changes`);
      expect(writes.rows[0]).toEqual({ n: 8 });
      const files = readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => readFileSync(path.join(e.parentPath, e.name)));
      expect(files.some((b) => b.includes('private thoughts'))).toBe(false);
    } finally {
      store.close();
    }
  });

  it('refuses free SQL that writes or is more than one query, and answers a SELECT', async () => {
    const store = await AnalyticsStore.open(tempRoot());
    try {
      await store.defineViews(ANALYTICS_ZONES);
      const out = path.join(tempRoot(), 'x.csv');
      for (const sql of [
        `COPY (SELECT 1) TO '${out}'`,
        'CREATE TABLE t AS SELECT 1',
        'INSERT INTO no_events (event_id) VALUES (1)',
        'DELETE FROM no_events',
        'DROP VIEW events',
        `ATTACH '${out}.db' AS other`,
        "SET memory_limit = '1GB'",
        'SELECT 1; DROP VIEW events',
      ]) {
        await expect(store.readOnlyQuery(sql), sql).rejects.toBeInstanceOf(ReadOnlyError);
      }
      expect((await store.readOnlyQuery('WITH x AS (SELECT 41 AS n) SELECT n + 1 AS n FROM x')).rows).toEqual([{ n: 42 }]);
      expect((await store.query('SELECT count(*)::INT AS n FROM events')).rows).toEqual([{ n: 0 }]);
    } finally {
      store.close();
    }
  });
});

describe('feedctl analytics', () => {
  const run = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await analyticsMain(argv, { stdout: (l) => out.push(l), stderr: (l) => err.push(l), env: { ...process.env, FEED_ANALYTICS_DIR: tempRoot() } });
    return { code, out, err };
  };

  it('exits 2 with usage for an unknown query or a malformed window', async () => {
    for (const argv of [['nope'], ['regions', '--since', 'last tuesday'], ['dau', '--since', '2026-13-45'], ['tables', '--since', 'now', '--until', '-1d'], ['regions', '--format', 'xml'], ['regions', '--zone', 'mars']]) {
      const r = await run(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err.join('\n')).toContain('usage: npm run feedctl -- analytics');
    }
  });

  it('refuses free SQL that writes with exit 2, and shows the lag with every answer', async () => {
    const refused = await run('sql', 'CREATE TABLE x (a INT)');
    expect(refused.code).toBe(2);
    expect(refused.err.join('\n')).toContain('refused');
    const answered = await run('sql', 'SELECT 1 AS one');
    expect(answered.code).toBe(0);
    expect(answered.out.at(-1)).toMatch(/^export lag: /);
    const json = await run('regions', '--format', 'json');
    expect(JSON.parse(json.out.join('\n'))).toMatchObject({ query: 'regions', lag: { events: 0 }, rows: [] });
  });
});

describe('Firehose delivery', () => {
  const firehose = mockClient(FirehoseClient);
  afterEach(() => firehose.reset());

  it('splits records into calls of at most 500 records and 4 MiB', () => {
    const small = Array.from({ length: 1001 }, () => new Uint8Array(10));
    expect(firehoseBatches(small).map((b) => b.length)).toEqual([500, 500, 1]);
    const big = Array.from({ length: 5 }, () => new Uint8Array(1024 * 1024));
    expect(firehoseBatches(big).map((b) => b.length)).toEqual([4, 1]);
  });

  it("sends a zone's rows to that zone's stream, retries the failed ones, and drops an unexported zone's", async () => {
    firehose.on(PutRecordBatchCommand).resolvesOnce({ FailedPutCount: 1, RequestResponses: [{ RecordId: 'a' }, { ErrorCode: 'ServiceUnavailableException' }] }).resolves({ FailedPutCount: 0, RequestResponses: [] });
    const t = firehoseTransport({ FEED_ANALYTICS_STREAM_EU_GDPR: 'eu-west-1/feedscale-prod-analytics-eu-gdpr', FEED_ANALYTICS_UNEXPORTED_ZONES: 'eu-other' });
    const eve = mintId(gdpr.logical[0] + 7);
    const batch = new ExportBatch();
    for (const c of userRows(eve, eve).slice(0, 2)) batch.add(c);

    await t.deliver('eu-gdpr', batch.rows);
    await t.deliver('eu-other', batch.rows);
    await expect(t.deliver('us', batch.rows)).rejects.toThrow(/FEED_ANALYTICS_STREAM_US/);

    const calls = firehose.commandCalls(PutRecordBatchCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => [c.DeliveryStreamName, c.Records!.length])).toEqual([
      ['feedscale-prod-analytics-eu-gdpr', 2],
      ['feedscale-prod-analytics-eu-gdpr', 1],
    ]);
  });
});

describe('the deployed export (plan)', () => {
  const all = REGIONS.map((r) => r.name).join(',');
  const stages = REGIONS.map((r) => buildPlan(deployTarget(`prod-${r.name}`, { FEED_REGIONS: all }), registeredWorkflows({})));

  it("stores every zone's rows in a region of that zone, EU zones in EU regions only", () => {
    const stores = stages.flatMap((p) => p.analytics.stores);
    expect(stores.map((s) => s.zone).sort()).toEqual([...ANALYTICS_ZONES].sort());
    for (const s of stores) {
      expect(zoneStoreRegions(s.zone)).toContain(s.region);
      if (isEuZone(s.zone)) expect(EU_REGIONS.has(s.region), `${s.zone} in ${s.region}`).toBe(true);
    }
    for (const p of stages) for (const s of p.analytics.stores) expect(s.region).toBe(p.target.region);
  });

  it("sends each exporter's rows only to its tables' zones' streams, in their regions", () => {
    for (const p of stages) {
      const zones = new Set(p.tables.map((t) => TABLE_SETS.find((s) => s.name === t.tableSet)!.zone));
      expect(new Set(p.analytics.destinations.map((d) => d.zone))).toEqual(zones);
      for (const d of p.analytics.destinations) {
        expect(zoneStoreRegions(d.zone)).toContain(d.region);
        if (isEuZone(d.zone)) expect(EU_REGIONS.has(d.region)).toBe(true);
      }
      const exporter = p.functions.find((f) => f.fn === 'analytics-export')!;
      const statements = functionStatements(p, 'analytics-export', '123456789012');
      const firehoseResources = statements.filter((s) => s.actions.includes('firehose:PutRecordBatch')).flatMap((s) => s.resources);
      expect(firehoseResources.sort()).toEqual(p.analytics.destinations.map((d) => `arn:aws:firehose:${d.region}:123456789012:deliverystream/${d.deliveryStream}`).sort());
      for (const d of p.analytics.destinations) expect(exporter.environment[`FEED_ANALYTICS_STREAM_${d.zone.toUpperCase().replace(/-/g, '_')}`]).toBe(`${d.region}/${d.deliveryStream}`);
      // Mapped to every stream of every table the stage creates but the directory's (public
      // copies of what the users tables export), nothing else.
      const mapped = p.mappings.filter((m) => m.fn === 'analytics-export').map((m) => (m.kind === 'stream' ? m.table : ''));
      expect(mapped.sort()).toEqual(p.tables.filter((t) => t.entity !== 'directory').map((t) => t.name).sort());
    }
  });

  it('exports no EU zone from a network without an EU region, rather than store it outside the EU', () => {
    const usOnly = buildPlan(deployTarget('dev-us-east-1', { FEED_REGIONS: 'us-east-1,us-west-2' }), registeredWorkflows({}));
    for (const d of usOnly.analytics.destinations) expect(isEuZone(d.zone)).toBe(false);
    const euTables = usOnly.tables.filter((t) => isEuZone(TABLE_SETS.find((s) => s.name === t.tableSet)!.zone));
    if (euTables.length > 0) expect(usOnly.analytics.unexported.some(isEuZone)).toBe(true);
    expect(usOnly.functions.find((f) => f.fn === 'analytics-export')!.environment.FEED_ANALYTICS_UNEXPORTED_ZONES ?? '').toBe(usOnly.analytics.unexported.join(','));
  });
});
