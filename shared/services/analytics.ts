// The analytics export use case: every change of every shard table becomes one row stamped with
// its table set's zone, and the rows of a stream batch are delivered to their zones' stores
// together, once the whole batch is read. Delivery is at least once (a failed batch is retried
// whole); each row carries its record's event id, so the store counts a redelivered row once.
import { config } from '../edge/config.js';
import { emittedMetrics, flushFeedReadMetrics, type EmfDocument } from '../edge/observability.js';
import {
  dayOf,
  itemKeyOf,
  padSequence,
  parseTableName,
  tableSetOfTable,
  type AnalyticsRow,
} from '../domain/analytics-events.js';
import type { ZoneName } from '../domain/residency.js';
import { analyticsTransport, type AnalyticsTransport } from '../messaging/analytics-delivery.js';

/** A stream record as the exporter needs it (images unmarshalled). */
export interface TableChange {
  table: string;
  sequenceNumber: string;
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  /** ApproximateCreationDateTime, epoch ms. */
  createdMs?: number;
  keys: Record<string, unknown>;
  newImage?: Record<string, unknown>;
}

/** Why a change produced no row. */
export type Skipped = 'not-a-shard-table';

/** The row of a change, or why there is none. Each table is mapped in the one region that
 *  creates it (its replicas' streams are not), so each change is exported once; the row's zone
 *  is its table set's, whichever region reads the stream. */
export function rowOfChange(change: TableChange, nowMs: number): AnalyticsRow | Skipped {
  const { FEED_TABLE_PREFIX, FEED_SHARDS } = config();
  const parsed = parseTableName(change.table, FEED_TABLE_PREFIX);
  if (!parsed) return 'not-a-shard-table';
  const set = tableSetOfTable(parsed.shard, FEED_SHARDS);
  const ts = change.createdMs ?? nowMs;
  return {
    event_id: `${change.table}#${change.sequenceNumber}`,
    zone: set.zone,
    region: set.home,
    kind: parsed.kind,
    table_name: change.table,
    shard: parsed.shard,
    seq: padSequence(change.sequenceNumber),
    op: change.eventName,
    ts_ms: ts,
    day: dayOf(ts),
    item_key: itemKeyOf(change.keys),
    // A removal carries its key only: an erased item's content never reaches the store.
    item: change.eventName === 'REMOVE' || !change.newImage ? null : JSON.stringify(change.newImage),
    exported_ms: nowMs,
  };
}

/** How the scanned tables are named and how many there are per kind. */
export interface TableLayout {
  prefix: string;
  shards: number;
}

/** SNAPSHOT rows of a backfill scan's items; `run` makes their event ids unique per scan. */
export function snapshotRows(table: string, keyNames: readonly string[], items: readonly Record<string, unknown>[], run: string, nowMs: number, layout: TableLayout): AnalyticsRow[] {
  const { prefix: FEED_TABLE_PREFIX, shards: FEED_SHARDS } = layout;
  const parsed = parseTableName(table, FEED_TABLE_PREFIX);
  if (!parsed) throw new Error(`${table} is not a shard table`);
  const set = tableSetOfTable(parsed.shard, FEED_SHARDS);
  return items.map((item) => {
    const key = itemKeyOf(Object.fromEntries(keyNames.map((k) => [k, item[k]])));
    return {
      event_id: `${table}#snapshot#${run}#${key}`,
      zone: set.zone,
      region: set.home,
      kind: parsed.kind,
      table_name: table,
      shard: parsed.shard,
      seq: '',
      op: 'SNAPSHOT',
      ts_ms: nowMs,
      day: dayOf(nowMs),
      item_key: key,
      item: JSON.stringify(item),
      exported_ms: nowMs,
    };
  });
}

/** Delivers rows, one delivery per zone: a zone's rows never travel in another zone's call. */
export async function deliverRows(rows: readonly AnalyticsRow[], transport: AnalyticsTransport): Promise<void> {
  const byZone = new Map<ZoneName, AnalyticsRow[]>();
  for (const r of rows) byZone.set(r.zone, [...(byZone.get(r.zone) ?? []), r]);
  for (const [zone, zoneRows] of byZone) await transport.deliver(zone, zoneRows);
}

/** A metric value as the store keeps it: one row per metric of an EMF document. */
export interface MetricRow {
  ts_ms: number;
  metric: string;
  value: number;
  dimensions: string;
}

/** The metrics of EMF documents, flattened: one row per value (a metric recorded twice in one
 *  invocation is an array in EMF), so a 1-or-0 metric's rows count its samples. */
export function metricRowsOf(docs: readonly EmfDocument[]): MetricRow[] {
  const rows: MetricRow[] = [];
  for (const doc of docs) {
    const d = doc as unknown as Record<string, unknown> & { _aws: { Timestamp: number; CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] } };
    for (const def of d._aws.CloudWatchMetrics) {
      const dims = Object.fromEntries(def.Dimensions.flat().map((k) => [k, String(d[k])]));
      for (const { Name } of def.Metrics) {
        const v = d[Name];
        for (const value of (Array.isArray(v) ? v : [v]).map(Number)) {
          if (Number.isFinite(value)) rows.push({ ts_ms: d._aws.Timestamp, metric: Name, value, dimensions: JSON.stringify(dims) });
        }
      }
    }
  }
  return rows;
}

// The local stack keeps its EMF documents in memory (shared/edge/observability.ts); the exporter
// runs in the same process, so it carries the new ones to the store with each batch. In AWS the
// documents go to CloudWatch instead and this finds none.
let lastMetricDoc: EmfDocument | undefined;
/** The documents flushed since the last delivered one (all kept ones if that one has been
 *  dropped from the buffer: the gap is the documents dropped in between). The feed reads' batch is
 *  flushed first, so the export carries every read up to this batch of changes. */
function newMetricDocs(): EmfDocument[] {
  flushFeedReadMetrics();
  const docs = emittedMetrics();
  const at = lastMetricDoc ? docs.lastIndexOf(lastMetricDoc) : -1;
  return docs.slice(at + 1);
}

/** The rows of one stream batch, delivered together when the batch has been read. */
export class ExportBatch {
  readonly rows: AnalyticsRow[] = [];
  readonly skipped: Record<Skipped, number> = { 'not-a-shard-table': 0 };

  add(change: TableChange, nowMs = Date.now()): void {
    const row = rowOfChange(change, nowMs);
    if (typeof row === 'string') this.skipped[row]++;
    else this.rows.push(row);
  }

  /** Delivers every row; throws (so the batch is retried) when any delivery fails. Without a
   *  transport (a local stack without FEED_ANALYTICS_DIR) the export is off: nothing to do. */
  async flush(transport = analyticsTransport()): Promise<{ delivered: number }> {
    if (!transport) return { delivered: 0 };
    await deliverRows(this.rows, transport);
    const docs = newMetricDocs();
    if (docs.length > 0 && transport.deliverMetrics) {
      await transport.deliverMetrics(metricRowsOf(docs));
      lastMetricDoc = docs[docs.length - 1];
    }
    return { delivered: this.rows.length };
  }
}
