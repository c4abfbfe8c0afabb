// The shard map as data (shared/domain/shard-map.ts), rows read back to their logical shards
// (keys.ts), and commands routed by the map (shard-routing.ts): growth halves each table's range
// into a new table, every key builder's row routes back to the shard it was placed by, and a
// command for a moved logical shard is sent to its new table (batches answered under the tables
// the caller named).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchGetCommand, GetCommand, PutCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { resetConfig } from '../../shared/edge/config.js';
import { logicalShardOf, mintId } from '../../shared/domain/ids.js';
import { LOGICAL_SHARDS } from '../../shared/domain/regions.js';
import { TABLE_SETS } from '../../shared/domain/residency.js';
import { decodeShardMap, encodeShardMap, growthMoves, initialShardMap, lookupOf, moveTargetProblem, reshardTargetProblem, shardMapProblem, assign } from '../../shared/domain/shard-map.js';
import { tableName, TABLES } from '../../shared/declarations/tables.js';
import { keys, logicalShardOfRow, partitions } from '../../shared/store/keys.js';
import { resetShardMap, setLogicalOfTable, writeShardMapCopy } from '../../shared/store/shard-map.js';
import { routeCommand } from '../../shared/store/shard-routing.js';

beforeEach(() => {
  process.env.FEED_SHARDS = '32';
  resetConfig();
  resetShardMap();
});
afterEach(() => {
  resetShardMap();
});

describe('the shard map', () => {
  it('moves logical shards only from one table to another of today’s tables in their table set', () => {
    const map = initialShardMap(32);
    // Tables 0-1 hold logical 0-255; say they are one set and table 2 another.
    const setOf = (t: number) => (t < 2 ? 'a' : 'b');
    expect(moveTargetProblem(map, 64, 127, 1, setOf)).toBeUndefined();
    expect(moveTargetProblem(map, 64, 64, 1, setOf)).toBeUndefined();
    expect(moveTargetProblem(map, 100, 200, 1, setOf)).toMatch(/more than one table \(0 and 1\)/);
    expect(moveTargetProblem(map, 64, 127, 0, setOf)).toMatch(/already on table 0/);
    expect(moveTargetProblem(map, 64, 127, 2, setOf)).toMatch(/table set b.*in a: a move never changes where rows may live/);
    expect(moveTargetProblem(map, 64, 127, 32, setOf)).toMatch(/--table must be one of today's tables, 0-31/);
    expect(moveTargetProblem(map, 64, 127, Number.NaN, setOf)).toMatch(/--table/);
    expect(moveTargetProblem(map, 127, 64, 1, setOf)).toMatch(/A-B with 0 <= A <= B < 4096/);
    expect(moveTargetProblem(map, 0, 4096, 1, setOf)).toMatch(/A-B/);
  });

  it('starts as the contiguous layout of FEED_SHARDS tables', () => {
    const map = initialShardMap(32);
    expect(map.ranges[1]).toEqual({ from: 128, to: 255, table: 1 });
    expect(shardMapProblem(map)).toBeUndefined();
    expect(lookupOf(map)[4095]).toBe(31);
  });

  it('grows 32 → 64 by moving the upper half of each table to table + 32, and only that half', () => {
    const moves = growthMoves(initialShardMap(32), 64);
    expect(moves).toHaveLength(LOGICAL_SHARDS / 2);
    expect(moves[0]).toEqual({ logical: 64, source: 0, target: 32 });
    expect(moves.every((m) => m.target === m.source + 32 && m.logical % 128 >= 64)).toBe(true);
  });

  it('keeps every table inside one table set after growing twice', () => {
    const moves = growthMoves(initialShardMap(32), 128);
    const after = lookupOf(initialShardMap(32));
    for (const m of moves) after[m.logical] = m.target;
    for (let l = 0; l < LOGICAL_SHARDS; l++) {
      const set = TABLE_SETS.find((s) => l >= s.logical[0] && l <= s.logical[1])!;
      const ofTable = setLogicalOfTable(after[l]!);
      expect(ofTable >= set.logical[0] && ofTable <= set.logical[1], `logical ${l} on table ${after[l]}`).toBe(true);
    }
  });

  it('refuses reshard targets that are not a power of two larger than today', () => {
    const map = initialShardMap(32);
    expect(reshardTargetProblem(map, 48)).toMatch(/power of two/);
    expect(reshardTargetProblem(map, 32)).toMatch(/larger than today's 32/);
    expect(reshardTargetProblem(map, 16)).toMatch(/larger/);
    expect(reshardTargetProblem(map, 8192)).toMatch(/at most 4096/);
    expect(reshardTargetProblem(map, 64)).toBeUndefined();
  });

  it('assigns a range to a table, splitting and merging neighbours', () => {
    const map = initialShardMap(32);
    const moved = assign(map, 64, 127, 32);
    expect(moved.slice(0, 3)).toEqual([
      { from: 0, to: 63, table: 0 },
      { from: 64, to: 127, table: 32 },
      { from: 128, to: 255, table: 1 },
    ]);
    expect(assign({ ...map, ranges: moved }, 64, 127, 0)[0]).toEqual({ from: 0, to: 127, table: 0 });
  });

  it('survives its stored form and rejects a map with a gap', () => {
    const map = { ...initialShardMap(32), version: 7, frozen: [{ from: 5, to: 5, table: 0 }], moving: true };
    expect(decodeShardMap(encodeShardMap(map))).toEqual(map);
    const item = encodeShardMap(map);
    expect(() => decodeShardMap({ ...item, ranges: item.ranges.slice(1) })).toThrow(/logical shard 0 is not mapped/);
    // A scheduled freeze keeps its moment; without frozen shards none is stored.
    const scheduled = { ...map, frozenFrom: 1_800_000_000_000 };
    expect(decodeShardMap(encodeShardMap(scheduled))).toEqual(scheduled);
    expect(encodeShardMap({ ...scheduled, frozen: [] })).not.toHaveProperty('frozenFrom');
  });
});

describe('rows read back to their logical shards', () => {
  const user = mintId(1234);
  const other = mintId(77);
  const cases: [string, { table: string; key: Record<string, unknown> }, number | undefined][] = [
    ['profile', keys.profile(user), logicalShardOf(user)],
    ['card', keys.card(user), logicalShardOf(user)],
    ['idempotency', keys.idempotency(user, 'k'), logicalShardOf(user)],
    ['out edge', keys.outEdge(user, other), logicalShardOf(user)],
    ['in edge (bucketed)', keys.inEdge(user, other, 8), logicalShardOf(user)],
    ['edge layout', keys.edgeLayout(user), logicalShardOf(user)],
    ['applied tier', keys.appliedTier(user), logicalShardOf(user)],
    ['follower counter', keys.followerCounter(user, 3), logicalShardOf(user)],
    ['high tier', keys.highTier(user, other), logicalShardOf(user)],
    ['vip', keys.vip(user, other), logicalShardOf(user)],
    ['active follower', keys.activeFollower(user, 2, other), logicalShardOf(user)],
    ['notification', keys.notification(user, other), logicalShardOf(user)],
    ['notifications read', keys.notificationsRead(user), logicalShardOf(user)],
    ['post', keys.post(other), logicalShardOf(other)],
    ['feed entry', keys.feedEntry(user, other), logicalShardOf(user)],
    ['accumulator (stays in its table)', keys.notifyAccumulator(1, 0, user), undefined],
  ];
  it.each(cases)('%s', (_, { table, key }, logical) => {
    const entity = (['users', 'follows', 'posts', 'feeds', 'notifications', 'directory'] as const).find((e) => table.startsWith(tableName(e, 0).replace(/_0$/, '_')))!;
    const pk = String(key[TABLES[entity].partitionKey.name]);
    const index = Number(table.split('_').at(-1));
    expect(logicalShardOfRow(entity, pk, setLogicalOfTable(index))).toBe(logical);
  });

  it('hashed directory rows and subject rows come back to the shard they were placed on', () => {
    const handle = keys.handle('SomeOne');
    expect(Number(handle.table.split('_').at(-1))).toBe(Math.floor((logicalShardOfRow('directory', handle.key.pk, 0)! * 32) / LOGICAL_SHARDS));
    const set = TABLE_SETS[2]!;
    const subject = keys.subject('auth0|x', set);
    const table = Number(subject.table.split('_').at(-1));
    const logical = logicalShardOfRow('users', subject.key.pk, setLogicalOfTable(table))!;
    expect(logical >= set.logical[0] && logical <= set.logical[1]).toBe(true);
    expect(Math.floor((logical * 32) / LOGICAL_SHARDS)).toBe(table);
  });
});

describe('commands routed by the shard map', () => {
  const user = mintId(64 + 5); // logical shard 69: table 0, moving to table 32
  const stays = mintId(3); // logical shard 3: stays on table 0

  /** This process's copy of a map where logical shard 69 moved to table 32, mid-move. */
  function moved(frozen = false) {
    const base = initialShardMap(32);
    writeShardMapCopy({ ...base, version: 3, tables: 64, moving: true, ranges: assign(base, 69, 69, 32), frozen: frozen ? [{ from: 3, to: 3, table: 0 }] : [] });
  }

  it('leaves commands alone while nothing moves', async () => {
    const cmd = new GetCommand({ TableName: tableName('users', 0), Key: keys.profile(user).key });
    expect((await routeCommand(cmd)).command).toBe(cmd);
  });

  it('sends a key-addressed command for a moved shard to its new table', async () => {
    const computed = keys.profile(user); // computed before the move: table 0
    moved();
    const { command } = await routeCommand(new PutCommand({ TableName: computed.table, Item: { ...computed.key, x: 1 } }));
    expect((command as PutCommand).input.TableName).toBe(tableName('users', 32));
    const { command: kept } = await routeCommand(new GetCommand({ TableName: tableName('users', 0), Key: keys.profile(stays).key }));
    expect((kept as GetCommand).input.TableName).toBe(tableName('users', 0));
  });

  it('routes a query by the partition key its condition names', async () => {
    moved();
    const p = partitions.following(user);
    const { command } = await routeCommand(new QueryCommand({ TableName: tableName('follows', 0), KeyConditionExpression: '#pk = :pk', ExpressionAttributeNames: { '#pk': 'pk' }, ExpressionAttributeValues: { ':pk': p.pk } }));
    expect((command as QueryCommand).input.TableName).toBe(tableName('follows', 32));
  });

  it('regroups a batch by table and answers it under the tables the caller named', async () => {
    moved();
    const t0 = tableName('users', 0);
    const { command, restore } = await routeCommand(new BatchGetCommand({ RequestItems: { [t0]: { Keys: [keys.profile(user).key, keys.profile(stays).key] } } }));
    const items = (command as BatchGetCommand).input.RequestItems!;
    expect(Object.keys(items).sort()).toEqual([t0, tableName('users', 32)].sort());
    const out = restore!({ Responses: { [tableName('users', 32)]: [{ id: 'a' }], [t0]: [{ id: 'b' }] } });
    expect(Object.keys(out.Responses)).toEqual([t0]);
    expect(out.Responses[t0]).toHaveLength(2);
  });

  it('routes each item of a transaction', async () => {
    moved();
    const { command } = await routeCommand(
      new TransactWriteCommand({ TransactItems: [{ Put: { TableName: tableName('users', 0), Item: keys.profile(user).key } }, { Put: { TableName: tableName('users', 0), Item: keys.profile(stays).key } }] }),
    );
    expect((command as TransactWriteCommand).input.TransactItems!.map((t) => t.Put!.TableName)).toEqual([tableName('users', 32), tableName('users', 0)]);
  });
});
