// Logical → physical shard routing. 4,096 logical shards map onto FEED_SHARDS tables in contiguous
// ranges (with 32 tables, table n holds logical shards 128n..128n+127), so doubling the tables
// splits each range in two and moves whole logical shards. Directory keys that carry no id
// (handles, token subjects) are placed by MurmurHash3.
import murmurhash from 'murmurhash';
import { config } from '../edge/config.js';
import { logicalShardOf } from './ids.js';
import { LOGICAL_SHARDS } from './regions.js';

export function physicalShard(logical: number, shards: number = config().FEED_SHARDS): number {
  return Math.floor((logical * shards) / LOGICAL_SHARDS);
}

/** The physical table index holding rows keyed by this id. */
export function shardOfId(id: string, shards?: number): number {
  return physicalShard(logicalShardOf(id), shards);
}

/** The physical table index for a directory key (handle, hashed token subject). */
export function shardOfKey(key: string, shards?: number): number {
  return physicalShard(murmurhash.v3(key) % LOGICAL_SHARDS, shards);
}

/** Logical shards held by a physical table, inclusive. */
export function logicalRangeOf(physical: number, shards: number = config().FEED_SHARDS): [number, number] {
  const per = LOGICAL_SHARDS / shards;
  return [physical * per, physical * per + per - 1];
}
