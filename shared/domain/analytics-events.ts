// The analytics export's rows and where each one may go: one row per stream record (or per item
// of a backfill scan), stamped with the residency zone of the table set holding its physical
// table, so a row is only ever written to its own zone's store. Pure: the exporter, the local
// store, the deploy plan and the tests all read the same rules from here.
import { EU_REGIONS, TABLE_SETS, tableSetOfLogical, type TableSet, type ZoneName } from './residency.js';
import type { RegionName } from './regions.js';
import { logicalRangeOf } from './sharding.js';

/** Table kinds as the store partitions them (the entities of shared/declarations/tables.ts). */
export const ANALYTICS_KINDS = ['users', 'follows', 'posts', 'feeds', 'notifications'] as const;
export type AnalyticsKind = (typeof ANALYTICS_KINDS)[number];

export const ANALYTICS_ZONES: readonly ZoneName[] = [...new Set(TABLE_SETS.map((s) => s.zone))];

/** DynamoDB Streams sequence numbers are 21 to 40 digits: left-padded to 40 they sort as text in
 *  the order of the numbers, in DuckDB, Athena and here alike. */
export const SEQUENCE_DIGITS = 40;

/** A stream change; a backfill scan's items are SNAPSHOT rows (they carry no sequence number). */
export type AnalyticsOp = 'INSERT' | 'MODIFY' | 'REMOVE' | 'SNAPSHOT';

/** One exported row. Field names are the store's column names (Parquet, the Glue table). */
export interface AnalyticsRow {
  /** Unique per stream record (`<table>#<sequence>`) or per snapshot item and run: the key a
   *  redelivered record is recognised by. */
  event_id: string;
  zone: ZoneName;
  /** The table set's home region (the region the row's user or author lives in). */
  region: RegionName;
  kind: AnalyticsKind;
  table_name: string;
  shard: number;
  /** Padded sequence number; '' for SNAPSHOT rows. */
  seq: string;
  op: AnalyticsOp;
  /** When the change was made (stream's ApproximateCreationDateTime, or the scan time), ms. */
  ts_ms: number;
  /** UTC day of ts_ms, YYYY-MM-DD: the partition. */
  day: string;
  /** The item's key attributes, `name=value` joined by `|` in name order. */
  item_key: string;
  /** The new image as JSON; null for REMOVE (a delete carries the key only, never content). */
  item: string | null;
  /** When the exporter handled it, ms (its lag is exported_ms - ts_ms). */
  exported_ms: number;
}

/** The zone and home region of a physical table: the table set of its logical shards. With 16 or
 *  more tables a table never spans two sets (sets are whole multiples of 256 logical shards). A
 *  table a reshard added (index `shards` or more) holds part of table shard mod `shards`'s range. */
export function tableSetOfTable(shard: number, shards: number): TableSet {
  const [lo, hi] = logicalRangeOf(shard % shards, shards);
  const set = tableSetOfLogical(lo);
  if (tableSetOfLogical(hi) !== set) throw new RangeError(`table ${shard} of ${shards} spans two table sets`);
  return set;
}

/** `<prefix><Base>_<n>` → kind and shard; undefined for a table that is no shard table. */
export function parseTableName(table: string, prefix: string): { kind: AnalyticsKind; shard: number } | undefined {
  if (!table.startsWith(prefix)) return undefined;
  const m = /^(Users|Follows|Posts|Feeds|Notifications)_(\d+)$/.exec(table.slice(prefix.length));
  if (!m) return undefined;
  return { kind: m[1]!.toLowerCase() as AnalyticsKind, shard: Number(m[2]) };
}

/** The table named in a stream ARN (`arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>`). */
export function tableOfStreamArn(arn: string): string | undefined {
  return /:table\/([^/]+)\/stream\//.exec(arn)?.[1];
}

export const padSequence = (seq: string) => seq.padStart(SEQUENCE_DIGITS, '0');
export const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Canonical text of a key: the same item always yields the same string, whatever the order of
 *  its attributes in the record. */
export function itemKeyOf(keys: Record<string, unknown>): string {
  return Object.keys(keys)
    .sort()
    .map((k) => `${k}=${String(keys[k])}`)
    .join('|');
}

/** Regions a zone's rows may be stored in: the home regions of its table sets (EU zones: EU
 *  regions only, whatever their failover replicas are). */
export function zoneStoreRegions(zone: ZoneName): RegionName[] {
  const homes = [...new Set(TABLE_SETS.filter((s) => s.zone === zone).map((s) => s.home))];
  return isEuZone(zone) ? homes.filter((r) => EU_REGIONS.has(r)) : homes;
}

/** The region of a zone's analytics store (bucket, delivery stream, Glue table, Athena): the
 *  home region of the zone's first table set. */
export function zoneStoreRegion(zone: ZoneName): RegionName {
  const region = zoneStoreRegions(zone)[0];
  if (!region) throw new Error(`zone ${zone} has no region to store its analytics in`);
  return region;
}

export const isEuZone = (zone: ZoneName) => zone.startsWith('eu-');

/** Rows grouped by the store partition they land in: zone, kind and day. */
export function partitionsOf(rows: readonly AnalyticsRow[]): Map<string, { zone: ZoneName; kind: AnalyticsKind; day: string; rows: AnalyticsRow[] }> {
  const out = new Map<string, { zone: ZoneName; kind: AnalyticsKind; day: string; rows: AnalyticsRow[] }>();
  for (const r of rows) {
    const key = `${r.zone}/${r.kind}/${r.day}`;
    let p = out.get(key);
    if (!p) out.set(key, (p = { zone: r.zone, kind: r.kind, day: r.day, rows: [] }));
    p.rows.push(r);
  }
  return out;
}
