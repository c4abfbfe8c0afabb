// The shard map in the control table, as every function reads it (DynamoDB Local, tables of this
// file's own prefix): a write to a logical shard being cut over waits, neither table receives it
// while the freeze lasts, and once the map flips it lands in the new table; a read during the
// freeze answers from the old one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { db, dynamo, resetDynamo } from '../../shared/store/client.js';
import { resetConfig } from '../../shared/edge/config.js';
import { mintId } from '../../shared/domain/ids.js';
import { assign, initialShardMap, type ShardMap } from '../../shared/domain/shard-map.js';
import { tableName } from '../../shared/declarations/tables.js';
import { keys } from '../../shared/store/keys.js';
import { readShardMap, resetShardMap, writeShardMap } from '../../shared/store/shard-map.js';
import { routingStats } from '../../shared/store/shard-routing.js';
import { ensureTables } from '../../shared/local/create-tables.js';
import { until } from '../support/own-stack.js';

const saved = { prefix: process.env.FEED_TABLE_PREFIX, shards: process.env.FEED_SHARDS };
const restore = (name: string, v: string | undefined) => (v === undefined ? delete process.env[name] : (process.env[name] = v));

beforeAll(async () => {
  process.env.FEED_TABLE_PREFIX = `routing${process.pid}-`;
  process.env.FEED_SHARDS = '16';
  resetConfig();
  resetDynamo();
  resetShardMap();
  await ensureTables(dynamo(), 32);
}, 120_000);

afterAll(() => {
  restore('FEED_TABLE_PREFIX', saved.prefix);
  restore('FEED_SHARDS', saved.shards);
  resetConfig();
  resetDynamo();
  resetShardMap();
});

/** What a physical table holds, read past the routing (as the mover reads). */
const raw = () => DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: process.env.DYNAMODB_ENDPOINT, region: 'us-east-1' }));
const stored = async (table: string, key: Record<string, unknown>) => (await raw().send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;

describe('a cut-over seen through the control table', () => {
  it('holds a write while its logical shard is frozen and sends it to the new table after the flip', async () => {
    const logical = 200; // table 0 of 16 holds 0-255; the upper half moves to table 16
    const user = mintId(logical);
    const { table: old, key } = keys.profile(user);
    expect(old).toBe(tableName('users', 0));
    const v0 = await readShardMap();
    await db().send(new PutCommand({ TableName: old, Item: { ...key, v: 'before' } }));
    const frozen: ShardMap = { ...v0, version: v0.version + 1, tables: 32, moving: true, frozen: [{ from: logical, to: logical, table: 0 }] };
    await writeShardMap(frozen, v0.version);

    const waitsBefore = routingStats.frozenWrites;
    let landed = false;
    const write = db()
      .send(new PutCommand({ TableName: old, Item: { ...key, v: 'during' } }))
      .then(() => (landed = true));
    await until(async () => routingStats.frozenWrites > waitsBefore, 10_000, 'the write to wait on the freeze');
    // A read of the frozen shard answers from the table that still holds it.
    expect((await db().send(new GetCommand({ TableName: old, Key: key, ConsistentRead: true }))).Item?.v).toBe('before');
    expect(landed).toBe(false);
    expect((await stored(tableName('users', 16), key))?.v).toBeUndefined();

    // The mover copies the row and flips the map: the held write goes to the new table.
    const copied = (await stored(old, key))!;
    await raw().send(new PutCommand({ TableName: tableName('users', 16), Item: copied }));
    await writeShardMap({ ...frozen, version: frozen.version + 1, frozen: [], ranges: assign(frozen, logical, logical, 16) }, frozen.version);
    await write;
    expect((await stored(tableName('users', 16), key))?.v).toBe('during');
    expect((await stored(old, key))?.v).toBe('before');
    // A key computed from the old map (table 0) is read from where the row lives now.
    expect((await db().send(new GetCommand({ TableName: old, Key: key }))).Item?.v).toBe('during');

    await writeShardMap({ ...initialShardMap(16), version: frozen.version + 2 }, frozen.version + 1);
  }, 60_000);

  it('lets writes through until a scheduled freeze begins, and holds them from then on', async () => {
    const logical = 300; // table 1 of 16 holds 256-511
    const user = mintId(logical);
    const { table, key } = keys.profile(user);
    const v0 = await readShardMap();
    const frozenFrom = Date.now() + 3_000; // room for the first write on a loaded machine
    const scheduled: ShardMap = { ...v0, version: v0.version + 1, moving: true, frozen: [{ from: logical, to: logical, table: 1 }], frozenFrom };
    await writeShardMap(scheduled, v0.version);

    const waitsBefore = routingStats.frozenWrites;
    await db().send(new PutCommand({ TableName: table, Item: { ...key, v: 'ahead' } }));
    // Sent before the freeze began: it was not held.
    expect(Date.now()).toBeLessThan(frozenFrom);
    expect(routingStats.frozenWrites).toBe(waitsBefore);
    expect((await stored(table, key))?.v).toBe('ahead');

    await until(async () => Date.now() >= frozenFrom, 10_000, 'the scheduled freeze to begin');
    let landed = false;
    const write = db()
      .send(new PutCommand({ TableName: table, Item: { ...key, v: 'held' } }))
      .then(() => (landed = true));
    await until(async () => routingStats.frozenWrites > waitsBefore, 10_000, 'the write to wait on the freeze');
    expect(landed).toBe(false);
    expect((await stored(table, key))?.v).toBe('ahead');

    await writeShardMap({ ...v0, version: scheduled.version + 1, moving: false }, scheduled.version);
    await write;
    expect((await stored(table, key))?.v).toBe('held');
  }, 60_000);
});
