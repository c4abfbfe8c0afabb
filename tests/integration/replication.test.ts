// The Global Tables stand-in between two local regions (shared/local/replication.ts): us-east-1 on
// the shared DynamoDB Local, us-west-2 on a DynamoDB Local of its own, each pulling the other's
// real streams. Concurrent writes of one item settle on the later one, replicated writes are not
// sent back, deletes spare newer writes, and the version that decides it all stays hidden.
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactGetItemsCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand as DocQueryCommand, TransactGetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { db, dynamo, resetDynamo } from '../../shared/store/client.js';
import { config, resetConfig } from '../../shared/edge/config.js';
import { tableName } from '../../shared/declarations/tables.js';
import { ensureTables } from '../../shared/local/create-tables.js';
import { scratchDir, startDynamo, type Engine } from '../../shared/local/engines.js';
import { StreamPoller } from '../../shared/local/streams.js';
import { formatVersion, sharedTables, startReplication, versionRegion, versionWrites, VERSION_ATTR, withoutVersions, type Replication } from '../../shared/local/replication.js';
import { until } from '../support/fixtures-wait.js';

// Tables of their own in the shared DynamoDB Local, which the shared stack's mappings do not read;
// the fewest shards configuration allows, to keep two regions' table sets small.
process.env.FEED_TABLE_PREFIX = 'replication-test-';
process.env.FEED_SHARDS = '16';
resetConfig();
resetDynamo();

const EAST = 'us-east-1';
const WEST = 'us-west-2';
/** Home data of us-east-1's table set, replicated to us-west-2. */
const USERS = tableName('users', 0);
/** Rounds over every shared stream that must pass without a change before replication is quiet:
 *  a write applied in one region is read back by the other within two. */
const QUIET_ROUNDS = 4;
/** Replication on a loaded 2-core machine: two DynamoDB Locals and some 60 streams each way. */
const REPLICATED_MS = 45_000;

let westEngine: Engine;
let westRaw: DynamoDBClient;
let westDoc: DynamoDBDocumentClient;
/** Clients without the version middleware: what each table really holds. */
let eastPlain: DynamoDBClient;
let westPlain: DynamoDBClient;
let regionsDir: string;
const checkpoints = { [EAST]: new Map<string, string>(), [WEST]: new Map<string, string>() };
let running: Replication[] = [];
const undo: (() => void)[] = [];

type Key = { pk: string; sk: string };
const newKey = (what: string): Key => ({ pk: `user#${what}-${randomUUID()}`, sk: 'profile' });
const rawKey = (key: Key) => ({ pk: { S: key.pk }, sk: { S: key.sk } });

beforeAll(async () => {
  westEngine = await startDynamo();
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  westRaw = new DynamoDBClient({ endpoint: westEngine.endpoint, region: config().AWS_REGION, credentials });
  westDoc = DynamoDBDocumentClient.from(westRaw);
  eastPlain = new DynamoDBClient({ endpoint: config().DYNAMODB_ENDPOINT, region: config().AWS_REGION, credentials });
  westPlain = new DynamoDBClient({ endpoint: westEngine.endpoint, region: config().AWS_REGION, credentials });
  await Promise.all([ensureTables(dynamo()), ensureTables(westRaw)]);
  undo.push(versionWrites(dynamo(), EAST), versionWrites(westRaw, WEST));
  regionsDir = scratchDir('feedscale-replication-');
  for (const [region, endpoint] of [[EAST, config().DYNAMODB_ENDPOINT], [WEST, westEngine.endpoint]] as const) {
    mkdirSync(path.join(regionsDir, region), { recursive: true });
    writeFileSync(path.join(regionsDir, region, 'stack.json'), JSON.stringify({ dynamodb: endpoint, pid: process.pid }));
  }
});

afterEach(async () => {
  await disconnect();
});

afterAll(async () => {
  for (const u of undo) u();
  for (const c of [westRaw, eastPlain, westPlain]) c?.destroy();
  await westEngine?.stop();
  if (regionsDir) rmSync(regionsDir, { recursive: true, force: true });
  resetDynamo();
});

/** Both regions pull each other, resuming where the last connection stopped. */
function connect(): { east: Replication; west: Replication } {
  const common = { regionsDir, shards: config().FEED_SHARDS, awsRegion: config().AWS_REGION };
  const east = startReplication({ ...common, self: EAST, peers: [WEST], local: dynamo(), checkpoints: checkpoints[EAST] });
  const west = startReplication({ ...common, self: WEST, peers: [EAST], local: westRaw, checkpoints: checkpoints[WEST] });
  running = [east, west];
  return { east, west };
}

async function disconnect(): Promise<void> {
  await Promise.all(running.map((r) => r.stop()));
  running = [];
}

/** Waits until no count of either region changes over QUIET_ROUNDS rounds of reads of every
 *  shared stream (counted reads, not time): replication has nothing left to pass around. */
async function quiet(...reps: Replication[]): Promise<void> {
  const perRound = sharedTables(EAST, WEST, config().FEED_SHARDS).length;
  const state = () => JSON.stringify(reps.map((r) => r.counts));
  let seen = state();
  let from = reps.map((r) => r.reads());
  await until(
    () => {
      if (state() !== seen) {
        seen = state();
        from = reps.map((r) => r.reads());
        return false;
      }
      return reps.every((r, i) => r.reads() - from[i]! >= QUIET_ROUNDS * perRound);
    },
    { timeoutMs: REPLICATED_MS, intervalMs: 50, what: `replication counts unchanged over ${QUIET_ROUNDS} rounds (last ${seen})` },
  );
}

const nameIn = async (doc: DynamoDBDocumentClient, key: Key) => (await doc.send(new GetCommand({ TableName: USERS, Key: key }))).Item?.name as string | undefined;
const versionIn = async (plain: DynamoDBClient, key: Key) => (await plain.send(new GetItemCommand({ TableName: USERS, Key: rawKey(key) }))).Item?.[VERSION_ATTR]?.S;

describe('replication between two local regions', () => {
  it('an item written in both regions while apart ends with the later write in both, and stops moving', async () => {
    const eastWins = newKey('east-wins');
    const westWins = newKey('west-wins');
    await westDoc.send(new PutCommand({ TableName: USERS, Item: { ...eastWins, name: 'west, earlier' } }));
    await db().send(new PutCommand({ TableName: USERS, Item: { ...eastWins, name: 'east, later' } }));
    await db().send(new PutCommand({ TableName: USERS, Item: { ...westWins, name: 'east, earlier' } }));
    await westDoc.send(new PutCommand({ TableName: USERS, Item: { ...westWins, name: 'west, later' } }));

    const { east, west } = connect();
    await quiet(east, west);

    expect(await nameIn(db(), eastWins)).toBe('east, later');
    expect(await nameIn(westDoc, eastWins)).toBe('east, later');
    expect(await nameIn(db(), westWins)).toBe('west, later');
    expect(await nameIn(westDoc, westWins)).toBe('west, later');
    expect(await versionIn(eastPlain, eastWins)).toBe(await versionIn(westPlain, eastWins));
    expect(await versionIn(eastPlain, westWins)).toBe(await versionIn(westPlain, westWins));
    // The earlier write reached the region holding the later one, and lost there.
    expect(east.counts.superseded).toBeGreaterThanOrEqual(1);
    expect(west.counts.superseded).toBeGreaterThanOrEqual(1);
  });

  it('a replicated write is applied once and not sent back to the region that made it', async () => {
    const { east, west } = connect();
    await quiet(east, west);
    const eastBefore = { ...east.counts };
    const westBefore = { ...west.counts };
    const key = newKey('echo');

    await db().send(new PutCommand({ TableName: USERS, Item: { ...key, name: 'from east' } }));
    await until(async () => (await nameIn(westDoc, key)) === 'from east', { timeoutMs: REPLICATED_MS, what: 'the write in us-west-2' });
    await quiet(east, west);

    expect(west.counts.applied - westBefore.applied).toBe(1);
    expect(east.counts.echoes - eastBefore.echoes).toBe(1);
    expect(east.counts.applied - eastBefore.applied).toBe(0);
    expect(versionRegion((await versionIn(westPlain, key))!)).toBe(EAST);
  });

  it('a write made without a version is replicated as a write of the region holding it', async () => {
    const { east, west } = connect();
    const key = newKey('unstamped');

    await westPlain.send(new PutItemCommand({ TableName: USERS, Item: { ...rawKey(key), name: { S: 'seeded in west' } } }));
    await until(async () => (await nameIn(db(), key)) === 'seeded in west', { timeoutMs: REPLICATED_MS, what: 'the seeded item in us-east-1' });
    await quiet(east, west);

    expect(versionRegion((await versionIn(eastPlain, key))!)).toBe(WEST);
    expect(await nameIn(westDoc, key)).toBe('seeded in west');
  });

  it('an update by a client that does not stamp is replicated, even over a version later than its time', async () => {
    const { east, west } = connect();
    const key = newKey('unstamped-update');
    // A version an hour ahead: the update's stream record time alone would lose to it.
    const ahead = formatVersion(Date.now() + 3_600_000, 0, WEST);
    await westPlain.send(new PutItemCommand({ TableName: USERS, Item: { ...rawKey(key), name: { S: 'first' }, [VERSION_ATTR]: { S: ahead } } }));
    await until(async () => (await nameIn(db(), key)) === 'first', { timeoutMs: REPLICATED_MS, what: 'the first write in us-east-1' });

    await westPlain.send(new UpdateItemCommand({ TableName: USERS, Key: rawKey(key), UpdateExpression: 'SET #n = :n', ExpressionAttributeNames: { '#n': 'name' }, ExpressionAttributeValues: { ':n': { S: 'updated' } } }));
    await until(async () => (await nameIn(db(), key)) === 'updated', { timeoutMs: REPLICATED_MS, what: 'the update in us-east-1' });
    await quiet(east, west);

    expect((await versionIn(eastPlain, key))! > ahead).toBe(true);
    expect(await nameIn(westDoc, key)).toBe('updated');
  });

  it('a delete is replicated, but spares a write newer than the version it deleted', async () => {
    const plain = newKey('deleted');
    const raced = newKey('raced');
    let { east, west } = connect();
    await db().send(new PutCommand({ TableName: USERS, Item: { ...plain, name: 'doomed' } }));
    await db().send(new PutCommand({ TableName: USERS, Item: { ...raced, name: 'first' } }));
    await until(async () => (await nameIn(westDoc, plain)) && (await nameIn(westDoc, raced)), { timeoutMs: REPLICATED_MS, what: 'both items in us-west-2' });
    await db().send(new DeleteCommand({ TableName: USERS, Key: plain }));
    await until(async () => (await nameIn(westDoc, plain)) === undefined, { timeoutMs: REPLICATED_MS, what: 'the delete in us-west-2' });
    await disconnect();

    // Apart: us-west-2 deletes the version both hold while us-east-1 writes a newer one.
    await westDoc.send(new DeleteCommand({ TableName: USERS, Key: raced }));
    await db().send(new UpdateCommand({ TableName: USERS, Key: raced, UpdateExpression: 'SET #n = :n', ExpressionAttributeNames: { '#n': 'name' }, ExpressionAttributeValues: { ':n': 'second' } }));
    ({ east, west } = connect());
    await quiet(east, west);

    expect(await nameIn(db(), raced)).toBe('second');
    expect(await nameIn(westDoc, raced)).toBe('second');
    expect(await nameIn(db(), plain)).toBeUndefined();
    expect(east.counts.superseded).toBeGreaterThanOrEqual(1);
  });
});

describe('the item version', () => {
  it('is never seen by the application: reads through the document and the raw client, and stream images', async () => {
    const a = newKey('hidden');
    const b = { pk: a.pk, sk: 'second' };
    await db().send(new PutCommand({ TableName: USERS, Item: { ...a, name: 'a' } }));
    await dynamo().send(new PutItemCommand({ TableName: USERS, Item: { ...rawKey(b), name: { S: 'b' } } }));
    expect(await versionIn(eastPlain, a)).toBeDefined();
    expect(await versionIn(eastPlain, b)).toBeDefined();

    const docReads: Record<string, unknown>[] = [
      (await db().send(new GetCommand({ TableName: USERS, Key: a }))).Item!,
      ...(await db().send(new DocQueryCommand({ TableName: USERS, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': a.pk } }))).Items!,
      ...(await db().send(new BatchGetCommand({ RequestItems: { [USERS]: { Keys: [a, b] } } }))).Responses![USERS]!,
      ...(await db().send(new TransactGetCommand({ TransactItems: [{ Get: { TableName: USERS, Key: a } }, { Get: { TableName: USERS, Key: b } }] }))).Responses!.map((r) => r.Item!),
      (await db().send(new UpdateCommand({ TableName: USERS, Key: a, UpdateExpression: 'SET points = :n', ExpressionAttributeValues: { ':n': 1 }, ReturnValues: 'ALL_NEW' }))).Attributes!,
    ];
    const rawReads: Record<string, AttributeValue>[] = [
      (await dynamo().send(new GetItemCommand({ TableName: USERS, Key: rawKey(b) }))).Item!,
      ...(await dynamo().send(new QueryCommand({ TableName: USERS, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: a.pk } } }))).Items!,
      ...(await dynamo().send(new BatchGetItemCommand({ RequestItems: { [USERS]: { Keys: [rawKey(a), rawKey(b)] } } }))).Responses![USERS]!,
      ...(await dynamo().send(new TransactGetItemsCommand({ TransactItems: [{ Get: { TableName: USERS, Key: rawKey(a) } }] }))).Responses!.map((r) => r.Item!),
      (await dynamo().send(new PutItemCommand({ TableName: USERS, Item: { ...rawKey(b), name: { S: 'b2' } }, ReturnValues: 'ALL_OLD' }))).Attributes!,
    ];

    expect(docReads).toHaveLength(8);
    expect(rawReads).toHaveLength(7);
    for (const item of [...docReads, ...rawReads]) {
      expect(item).toBeDefined();
      expect(Object.keys(item)).not.toContain(VERSION_ATTR);
    }
  });

  it('is left out of the stream images handed to the functions', async () => {
    const key = newKey('streamed');
    const seen: DynamoDBRecord[] = [];
    const unwrapped: DynamoDBRecord[] = [];
    const mine = (records: DynamoDBRecord[]) => records.filter((r) => r.dynamodb?.Keys?.pk?.S === key.pk);
    const poller = (into: DynamoDBRecord[], wrap: boolean) => {
      const consume = async (event: { Records: DynamoDBRecord[] }) => {
        into.push(...mine(event.Records));
        return { batchItemFailures: [] };
      };
      return new StreamPoller(dynamo(), config().DYNAMODB_ENDPOINT!, config().AWS_REGION, { tables: [USERS], batchSize: 100, maxRetries: 2, pollIntervalMs: 20, consumer: wrap ? withoutVersions(consume) : consume, name: `version-test-${wrap}` });
    };
    const pollers = [poller(seen, true), poller(unwrapped, false)];
    pollers.forEach((p) => p.start());
    try {
      await db().send(new PutCommand({ TableName: USERS, Item: { ...key, name: 'one' } }));
      await db().send(new PutCommand({ TableName: USERS, Item: { ...key, name: 'two' } }));
      await until(() => seen.length >= 2 && unwrapped.length >= 2, { timeoutMs: 20_000, what: 'both changes in both consumers' });
    } finally {
      await Promise.all(pollers.map((p) => p.stop()));
    }

    expect(unwrapped[1]!.dynamodb!.NewImage![VERSION_ATTR]).toBeDefined();
    expect(seen.map((r) => r.eventName)).toEqual(['INSERT', 'MODIFY']);
    for (const r of seen) {
      expect(Object.keys(r.dynamodb!.NewImage!)).not.toContain(VERSION_ATTR);
      expect(Object.keys(r.dynamodb!.OldImage ?? {})).not.toContain(VERSION_ATTR);
    }
    expect(seen[1]!.dynamodb!.OldImage!.name).toEqual({ S: 'one' });
  });

  it('is renewed by every kind of write the region makes: put, update with ADD, SET or REMOVE, batch and transaction', async () => {
    const key = newKey('stamped');
    const other = newKey('stamped-other');
    const writes: [string, () => Promise<unknown>][] = [
      ['document put', () => db().send(new PutCommand({ TableName: USERS, Item: { ...key, name: 'n', tags: new Set(['a']) } }))],
      ['ADD only', () => dynamo().send(new UpdateItemCommand({ TableName: USERS, Key: rawKey(key), UpdateExpression: 'ADD visits :one', ExpressionAttributeValues: { ':one': { N: '1' } } }))],
      ['SET with a #set placeholder', () => db().send(new UpdateCommand({ TableName: USERS, Key: key, UpdateExpression: 'ADD visits :one SET #set = :set', ExpressionAttributeNames: { '#set': 'set' }, ExpressionAttributeValues: { ':one': 1, ':set': 'x' } }))],
      ['REMOVE only', () => db().send(new UpdateCommand({ TableName: USERS, Key: key, UpdateExpression: 'REMOVE #set', ExpressionAttributeNames: { '#set': 'set' } }))],
      ['transaction update', () => dynamo().send(new TransactWriteItemsCommand({ TransactItems: [{ Update: { TableName: USERS, Key: rawKey(key), UpdateExpression: 'DELETE tags :a', ExpressionAttributeValues: { ':a': { SS: ['a'] } } } }, { Put: { TableName: USERS, Item: { ...rawKey(other), name: { S: 'o' } } } }] }))],
      ['batch put', () => dynamo().send(new BatchWriteItemCommand({ RequestItems: { [USERS]: [{ PutRequest: { Item: { ...rawKey(key), name: { S: 'batched' } } } }] } }))],
    ];

    let previous = '';
    for (const [what, write] of writes) {
      await write();
      const version = await versionIn(eastPlain, key);
      expect(version, what).toBeDefined();
      expect(version! > previous, `${what}: ${version} after ${previous}`).toBe(true);
      expect(versionRegion(version!), what).toBe(EAST);
      previous = version!;
    }
    expect(await versionIn(eastPlain, other)).toBeDefined();
    // A delete carries no version: its stream record's old image says what it deleted.
    await dynamo().send(new DeleteItemCommand({ TableName: USERS, Key: rawKey(other) }));
    expect(await versionIn(eastPlain, other)).toBeUndefined();
  });
});
