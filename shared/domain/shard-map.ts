// The shard map: which physical table holds each of the 4,096 logical shards, as data with a
// version (stored in the control table, shared/store/shard-map.ts). The initial map is the
// contiguous layout of FEED_SHARDS tables; resharding to twice the tables moves the upper half of
// each table's range to a new table, so every table keeps one contiguous range inside one table
// set (residency holds through the move) and only half of the rows move.
import { LOGICAL_SHARDS } from './regions.js';

/** A contiguous run of logical shards held by one table, inclusive. */
export interface ShardRange {
  from: number;
  to: number;
  table: number;
}

export interface ShardMap {
  /** Increases with every change: processes compare it to know their copy is current. */
  version: number;
  /** Physical tables per entity in use (indexes 0..tables-1), the new ones included once a
   *  reshard created them. */
  tables: number;
  /** Sorted by `from`, covering 0..LOGICAL_SHARDS-1 without gaps or overlaps. */
  ranges: ShardRange[];
  /** Logical shards whose writes wait: a move is cutting them over. */
  frozen: ShardRange[];
  /** Epoch ms from which `frozen` holds (absent: at once). A cut-over schedules its freeze this
   *  far ahead that every process has read it by then, so the wait for the map to be seen is
   *  spent before the pause, not in it (shared/local/reshard.ts). */
  frozenFrom?: number;
  /** A move is under way: processes refresh their copy often (FAST_REFRESH_MS) rather than
   *  rarely, so a freeze reaches every writer in well under a second. */
  moving: boolean;
}

/** The layout a deployment starts from: `shards` tables in contiguous ranges. */
export function initialShardMap(shards: number): ShardMap {
  const per = LOGICAL_SHARDS / shards;
  return {
    version: 0,
    tables: shards,
    ranges: Array.from({ length: shards }, (_, t) => ({ from: t * per, to: t * per + per - 1, table: t })),
    frozen: [],
    moving: false,
  };
}

/** A flat lookup (logical shard → table) built once per map version. */
export function lookupOf(map: ShardMap): Uint16Array {
  const out = new Uint16Array(LOGICAL_SHARDS);
  for (const r of map.ranges) out.fill(r.table, r.from, r.to + 1);
  return out;
}

export const inRanges = (ranges: readonly ShardRange[] | readonly { from: number; to: number }[], logical: number): boolean =>
  ranges.some((r) => logical >= r.from && logical <= r.to);

/** The ranges a table holds, sorted. */
export const rangesOfTable = (map: ShardMap, table: number): ShardRange[] => map.ranges.filter((r) => r.table === table);

/** Why a map is not valid, or undefined: ranges sorted, contiguous, covering every logical shard,
 *  naming tables below `tables`. */
export function shardMapProblem(map: ShardMap): string | undefined {
  let next = 0;
  for (const r of map.ranges) {
    if (r.from !== next) return `logical shard ${next} is not mapped (next range starts at ${r.from})`;
    if (r.to < r.from) return `range ${r.from}-${r.to} is empty`;
    if (r.table < 0 || r.table >= map.tables) return `range ${r.from}-${r.to} names table ${r.table} of ${map.tables}`;
    next = r.to + 1;
  }
  return next === LOGICAL_SHARDS ? undefined : `logical shards from ${next} are not mapped`;
}

/** Moves `from..to` to `table`: the ranges split where needed and merge with equal neighbours. */
export function assign(map: ShardMap, from: number, to: number, table: number): ShardRange[] {
  const out: ShardRange[] = [];
  const push = (r: ShardRange) => {
    if (r.to < r.from) return;
    const last = out.at(-1);
    if (last && last.table === r.table && last.to + 1 === r.from) last.to = r.to;
    else out.push({ ...r });
  };
  for (const r of map.ranges) {
    if (r.to < from || r.from > to) {
      push(r);
      continue;
    }
    push({ from: r.from, to: from - 1, table: r.table });
    push({ from: Math.max(r.from, from), to: Math.min(r.to, to), table });
    push({ from: to + 1, to: r.to, table: r.table });
  }
  return out;
}

/** One logical shard's move. */
export interface ShardMove {
  logical: number;
  source: number;
  target: number;
}

/** Doubling the tables up to `to`: each table's upper half moves to a new table (table t's range
 *  halves go to t and t + tables), so ranges stay contiguous. `to` must be a power of two larger
 *  than today's table count; the map must still be the plain layout of its table count. */
export function growthMoves(map: ShardMap, to: number): ShardMove[] {
  const moves: ShardMove[] = [];
  let current = map;
  for (let tables = map.tables; tables < to; tables *= 2) {
    const next: ShardRange[] = [];
    for (const r of current.ranges) {
      const half = (r.to - r.from + 1) / 2;
      if (!Number.isInteger(half) || half < 1) throw new RangeError(`table ${r.table} holds ${r.to - r.from + 1} logical shards: it cannot be split`);
      next.push({ from: r.from, to: r.from + half - 1, table: r.table }, { from: r.from + half, to: r.to, table: r.table + tables });
    }
    current = { ...current, tables: tables * 2, ranges: next.sort((a, b) => a.from - b.from) };
  }
  const before = lookupOf(map);
  const after = lookupOf(current);
  for (let logical = 0; logical < LOGICAL_SHARDS; logical++) {
    if (before[logical] !== after[logical]) moves.push({ logical, source: before[logical]!, target: after[logical]! });
  }
  return moves;
}

/** The one-line reason `to` is not a valid reshard target for `map`, or undefined. */
export function reshardTargetProblem(map: ShardMap, to: number): string | undefined {
  if (!Number.isInteger(to) || to <= 0 || (to & (to - 1)) !== 0) return `--to must be a power of two (got ${to})`;
  if (to <= map.tables) return `--to must be larger than today's ${map.tables} tables (got ${to})`;
  if (to > LOGICAL_SHARDS) return `--to must be at most ${LOGICAL_SHARDS}, the logical shards (got ${to})`;
  return undefined;
}

/** Why moving logical shards `from`..`to` to existing table `table` cannot be done (rebalancing a
 *  hot table), or undefined. `setOf` names a table's table set: rows never leave their residency
 *  zone, so the target must be in the shards' set. */
export function moveTargetProblem(map: ShardMap, from: number, to: number, table: number, setOf: (table: number) => string): string | undefined {
  const isShard = (n: number) => Number.isInteger(n) && n >= 0 && n < LOGICAL_SHARDS;
  if (!isShard(from) || !isShard(to) || from > to) return `--move takes logical shards A-B with 0 <= A <= B < ${LOGICAL_SHARDS} (got ${from}-${to})`;
  if (!Number.isInteger(table) || table < 0 || table >= map.tables) return `--table must be one of today's tables, 0-${map.tables - 1} (got ${table})`;
  const lookup = lookupOf(map);
  const source = lookup[from]!;
  for (let l = from; l <= to; l++) if (lookup[l] !== source) return `logical shards ${from}-${to} are on more than one table (${source} and ${lookup[l]}): move one table's shards at a time`;
  if (source === table) return `logical shards ${from}-${to} are already on table ${table}`;
  if (setOf(table) !== setOf(source)) return `table ${table} is in table set ${setOf(table)}, logical shards ${from}-${to} in ${setOf(source)}: a move never changes where rows may live`;
  return undefined;
}

/** The item form of a map (ranges as "from-to:table" strings: a few hundred bytes for 64 tables). */
export interface ShardMapItem {
  version: number;
  tables: number;
  ranges: string[];
  frozen: string[];
  frozenFrom?: number;
  moving: boolean;
}

export function encodeShardMap(map: ShardMap): ShardMapItem {
  return {
    version: map.version,
    tables: map.tables,
    ranges: map.ranges.map((r) => `${r.from}-${r.to}:${r.table}`),
    frozen: map.frozen.map((r) => `${r.from}-${r.to}:${r.table}`),
    ...(map.frozen.length > 0 && map.frozenFrom !== undefined && { frozenFrom: map.frozenFrom }),
    moving: map.moving,
  };
}

function parseRange(s: string): ShardRange {
  const m = /^(\d+)-(\d+):(\d+)$/.exec(s);
  if (!m) throw new Error(`shard map: bad range ${s}`);
  return { from: Number(m[1]), to: Number(m[2]), table: Number(m[3]) };
}

export function decodeShardMap(item: ShardMapItem): ShardMap {
  const map: ShardMap = {
    version: item.version,
    tables: item.tables,
    ranges: item.ranges.map(parseRange),
    frozen: (item.frozen ?? []).map(parseRange),
    ...(typeof item.frozenFrom === 'number' && (item.frozen ?? []).length > 0 && { frozenFrom: item.frozenFrom }),
    moving: Boolean(item.moving),
  };
  const problem = shardMapProblem(map);
  if (problem) throw new Error(`shard map version ${map.version}: ${problem}`);
  return map;
}
