// Delivery of analytics rows to their zone's store. In AWS each zone has a Kinesis Data Firehose
// stream in a region of that zone (PutRecordBatch; Firehose converts to Parquet and writes S3
// partitions); the local stack's stand-in lands each delivery as one JSON-lines file under
// FEED_ANALYTICS_DIR/<zone>/_landing/, which shared/local/analytics-store.ts turns into Parquet.
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import * as z from 'zod';
import type { ZoneName } from '../domain/residency.js';
import { dayOf, partitionsOf, type AnalyticsRow } from '../domain/analytics-events.js';

/** PutRecordBatch takes at most 500 records and 4 MiB per call. */
const FIREHOSE_BATCH_RECORDS = 500;
const FIREHOSE_BATCH_BYTES = 4 * 1024 * 1024;
/** Retries of the records a PutRecordBatch reports failed (throttling), backing off from 100 ms:
 *  about 25 s in all, inside the exporter's timeout; then the batch fails and the stream retries. */
const FIREHOSE_RETRIES = 8;

export interface AnalyticsTransport {
  /** Delivers rows of one zone; resolves once they are durable (Firehose acknowledged them, or
   *  the landing file is renamed into place). Throws when any row is not. */
  deliver(zone: ZoneName, rows: readonly AnalyticsRow[]): Promise<void>;
  /** Local stack only: the handlers' metrics (flattened EMF documents), which in AWS go to
   *  CloudWatch instead. They carry no user data, so they belong to no zone. */
  deliverMetrics?(rows: readonly { ts_ms: number }[]): Promise<void>;
}

/** `FEED_ANALYTICS_STREAM_EU_GDPR` for zone eu-gdpr: `<region>/<delivery stream name>`. */
export const analyticsStreamVariable = (zone: ZoneName) => `FEED_ANALYTICS_STREAM_${zone.toUpperCase().replace(/-/g, '_')}`;

/** Zones whose store this network does not deploy (set by the deployment): their rows are
 *  dropped on purpose, rather than sent to a store outside their zone. */
export const UNEXPORTED_ZONES_VARIABLE = 'FEED_ANALYTICS_UNEXPORTED_ZONES';

const Settings = z.object({
  /** Local stack: root of the file store; unset or empty, the local exporter has nowhere to write. */
  FEED_ANALYTICS_DIR: z.string().optional().transform((v) => v || undefined),
  FEED_LOCAL: z.enum(['0', '1']).default('0'),
});

let transport: AnalyticsTransport | undefined;
/** Installs a transport (tests). */
export function useAnalyticsTransport(t: AnalyticsTransport | undefined): void {
  transport = t;
}

/** The transport this process uses: an installed one, Firehose when the zone streams are set,
 *  the landing files when FEED_ANALYTICS_DIR is set; undefined: the export is off here. */
export function analyticsTransport(env: NodeJS.ProcessEnv = process.env): AnalyticsTransport | undefined {
  if (transport) return transport;
  const s = Settings.parse(env);
  if (s.FEED_ANALYTICS_DIR) return landingTransport(s.FEED_ANALYTICS_DIR);
  if (s.FEED_LOCAL === '1') return undefined;
  return firehoseTransport(env);
}

// ---- AWS: Firehose ---------------------------------------------------------------------------

const firehoses = new Map<string, FirehoseClient>();
const firehoseIn = (region: string) => {
  let c = firehoses.get(region);
  if (!c) firehoses.set(region, (c = new FirehoseClient({ region })));
  return c;
};

/** Splits encoded records into PutRecordBatch calls within both limits. */
export function firehoseBatches(records: readonly Uint8Array[]): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  let cur: Uint8Array[] = [];
  let bytes = 0;
  for (const r of records) {
    if (cur.length > 0 && (cur.length === FIREHOSE_BATCH_RECORDS || bytes + r.byteLength > FIREHOSE_BATCH_BYTES)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(r);
    bytes += r.byteLength;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

export function firehoseTransport(env: NodeJS.ProcessEnv): AnalyticsTransport {
  return {
    async deliver(zone, rows) {
      if ((env[UNEXPORTED_ZONES_VARIABLE] ?? '').split(',').includes(zone)) return;
      const variable = analyticsStreamVariable(zone);
      const target = env[variable];
      const m = target ? /^([a-z0-9-]+)\/(.+)$/.exec(target) : null;
      if (!m) throw new Error(`${variable} is not set to <region>/<delivery stream>`);
      const [, region, stream] = m;
      const encoder = new TextEncoder();
      // Newline-delimited JSON: Firehose's Parquet conversion reads one JSON object per record.
      const encoded = rows.map((r) => encoder.encode(`${JSON.stringify(r)}\n`));
      for (const batch of firehoseBatches(encoded)) {
        let pending = batch;
        for (let attempt = 0; pending.length > 0; attempt++) {
          if (attempt > FIREHOSE_RETRIES) throw new Error(`PutRecordBatch to ${stream} failed for ${pending.length} records`);
          if (attempt > 0) await new Promise((r) => setTimeout(r, 100 * 2 ** Math.min(attempt, 7)));
          const out = await firehoseIn(region!).send(new PutRecordBatchCommand({ DeliveryStreamName: stream, Records: pending.map((Data) => ({ Data })) }));
          if (!out.FailedPutCount) break;
          pending = pending.filter((_, i) => out.RequestResponses?.[i]?.ErrorCode);
        }
      }
    },
  };
}

// ---- local: landing files ----------------------------------------------------------------------

/** The local store's directory of the handlers' metrics, beside the zones' directories. */
export const METRICS_DIR = '_metrics';

let metricFiles = 0;

function writeAside(file: string, rows: readonly unknown[]): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  renameSync(tmp, file);
}

/** Where a zone's landed deliveries wait to become Parquet. */
export const landingDir = (root: string, zone: ZoneName) => path.join(root, zone, '_landing');

/** One file per zone, kind and day of a delivery, named by a hash of its event ids: a redelivered
 *  batch rewrites the same file, and a half-written file is never visible (written aside, then
 *  renamed), so a reader sees every delivery whole or not at all. */
export function landingTransport(root: string): AnalyticsTransport {
  return {
    async deliver(zone, rows) {
      for (const p of partitionsOf(rows).values()) {
        if (p.zone !== zone) throw new Error(`row of zone ${p.zone} delivered to zone ${zone}`);
        const dir = landingDir(root, zone);
        mkdirSync(dir, { recursive: true });
        const hash = createHash('sha256');
        for (const r of p.rows) hash.update(`${r.event_id}\n`);
        const file = path.join(dir, `${p.kind}_${p.day}_${hash.digest('hex').slice(0, 24)}.jsonl`);
        const tmp = `${file}.${process.pid}.tmp`;
        writeAside(file, p.rows);
      }
    },
    async deliverMetrics(rows) {
      const dir = path.join(root, METRICS_DIR, '_landing');
      mkdirSync(dir, { recursive: true });
      const first = rows[0]?.ts_ms ?? 0;
      writeAside(path.join(dir, `metrics_${dayOf(first)}_${first}_${process.pid}_${++metricFiles}.jsonl`), rows);
    },
  };
}
