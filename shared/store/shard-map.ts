// This process's copy of the shard map (logical shard → physical table, shared/domain/shard-map.ts)
// and the control table it is read from. Routing reads the copy synchronously; every DynamoDB call
// first makes sure the copy is fresh enough (shard-routing.ts): re-read at most every
// SLOW_REFRESH_MS, or every FAST_REFRESH_MS while a move is under way.
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { config } from '../edge/config.js';
import { controlTableName } from '../declarations/tables.js';
import { logicalRangeOf } from '../domain/sharding.js';
import { decodeShardMap, encodeShardMap, initialShardMap, lookupOf, type ShardMap, type ShardMapItem } from '../domain/shard-map.js';
import { db, dynamo } from './client.js';

/** How stale a copy may be while nothing moves (FEED_SHARD_MAP_REFRESH_MS): a reshard waits this
 *  long (plus a margin) after announcing itself, so every process reads the map often before the
 *  first freeze. */
export const slowRefreshMs = () => config().FEED_SHARD_MAP_REFRESH_MS;
/** How stale a copy may be during a move: a freeze waits this long before it counts as seen by
 *  every writer, so it bounds the write pause together with the final catch-up. */
export const FAST_REFRESH_MS = 150;

export const SHARD_MAP_KEY = { pk: 'shardmap', sk: 'map' } as const;

interface Copy {
  map: ShardMap;
  lookup: Uint16Array;
  readAt: number;
}

let copy: Copy | undefined;
let reading: Promise<Copy> | undefined;

function adopt(map: ShardMap, readAt: number): Copy {
  // A read answered after a newer one was adopted must not move the copy back.
  if (copy && copy.map.version > map.version) return (copy = { ...copy, readAt });
  copy = { map, lookup: copy?.map.version === map.version && copy.map.ranges === map.ranges ? copy.lookup : lookupOf(map), readAt };
  return copy;
}

function initial(): Copy {
  copy ??= { map: initialShardMap(config().FEED_SHARDS), lookup: lookupOf(initialShardMap(config().FEED_SHARDS)), readAt: 0 };
  return copy;
}

/** The map as this process last read it (the FEED_SHARDS layout before the first read). */
export function shardMap(): ShardMap {
  return (copy ?? initial()).map;
}

/** The physical table holding a logical shard, by this process's copy. */
export function tableOfLogical(logical: number): number {
  return (copy ?? initial()).lookup[logical]!;
}

/** Every physical table index in use. */
export function tableIndexes(): number[] {
  return Array.from({ length: shardMap().tables }, (_, t) => t);
}

/** A logical shard of the table set a table belongs to. Growth gives table t + T the upper half of
 *  table t's range (T: the tables before), so every table lies inside the range table
 *  t mod FEED_SHARDS had in the initial layout, and in that table's set, whatever moved since. */
export function setLogicalOfTable(table: number): number {
  const shards = config().FEED_SHARDS;
  return logicalRangeOf(table % shards, shards)[0];
}

/** Reads the stored map (the FEED_SHARDS layout when none is stored yet). */
export async function readShardMap(): Promise<ShardMap> {
  try {
    // Through the raw client: the map is read beneath the document client's commands (and
    // beneath test doubles of it).
    const out = await dynamo().send(new GetItemCommand({ TableName: controlTableName(), Key: marshall(SHARD_MAP_KEY), ConsistentRead: true }));
    // No item yet (or a stubbed client answering nothing): the FEED_SHARDS layout.
    return out?.Item ? decodeShardMap(unmarshall(out.Item) as ShardMapItem) : initialShardMap(config().FEED_SHARDS);
  } catch (err) {
    // A deployment from before the control table existed routes by FEED_SHARDS, as it did.
    if ((err as { name?: string }).name === 'ResourceNotFoundException') return initialShardMap(config().FEED_SHARDS);
    throw err;
  }
}

/** The map, re-read first when this copy is older than the refresh interval (or always, with
 *  `force`). Concurrent callers share one read. */
export async function freshShardMap(force = false): Promise<ShardMap> {
  const current = copy ?? initial();
  const maxAge = current.map.moving || current.map.frozen.length > 0 ? FAST_REFRESH_MS : slowRefreshMs();
  if (!force && Date.now() - current.readAt < maxAge) return current.map;
  reading ??= (async () => {
    const startedAt = Date.now();
    try {
      return adopt(await readShardMap(), startedAt);
    } finally {
      reading = undefined;
    }
  })();
  return (await reading).map;
}

/** Stores `next` if the stored version is still `expected` (one writer at a time: the reshard
 *  that holds the lock). Throws when another writer got there first. */
export async function writeShardMap(next: ShardMap, expected: number): Promise<void> {
  await db().send(
    new PutCommand({
      TableName: controlTableName(),
      Item: { ...SHARD_MAP_KEY, ...encodeShardMap(next) },
      ConditionExpression: expected === 0 ? 'attribute_not_exists(pk) OR version = :v' : 'version = :v',
      ExpressionAttributeValues: { ':v': expected },
    }),
  );
  adopt(next, Date.now());
}

/** Takes `map` as this process's copy (tests of routing). */
export function writeShardMapCopy(map: ShardMap): void {
  adopt(map, Date.now());
}

/** Forgets the copy (tests that switch table prefixes or maps). */
export function resetShardMap(): void {
  copy = undefined;
  reading = undefined;
}
