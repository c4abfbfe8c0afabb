// The analytics export as plain data (no Pulumi), the pattern AWS documents for DynamoDB change
// data in a lake: table streams → the analytics-export Lambda → a Kinesis Data Firehose stream per
// residency zone → Parquet in that zone's S3 bucket, partitioned by kind and day → a Glue table
// (partition projection) → Athena. Each zone's store lives in a region of the zone (EU zones: an
// EU region), deployed by the stage of that region; tests/unit/analytics.test.ts checks it.
import { ANALYTICS_KINDS, ANALYTICS_ZONES, isEuZone, zoneStoreRegion } from '../shared/domain/analytics-events.js';
import { TABLE_SETS, type ZoneName } from '../shared/domain/residency.js';
import type { RegionName } from '../shared/domain/regions.js';
import { analyticsStreamVariable, UNEXPORTED_ZONES_VARIABLE } from '../shared/messaging/analytics-delivery.js';
import type { DeployTarget } from './deploy-target.js';

/** The exported row's columns as the Glue table declares them (Hive types); the local store's
 *  Parquet files carry the same columns (shared/local/analytics-store.ts EVENT_COLUMNS). kind and
 *  day are partition keys: Firehose writes them into the S3 key, not the file. */
export const GLUE_COLUMNS: readonly { name: string; type: string }[] = [
  { name: 'event_id', type: 'string' },
  { name: 'zone', type: 'string' },
  { name: 'region', type: 'string' },
  { name: 'table_name', type: 'string' },
  { name: 'shard', type: 'int' },
  { name: 'seq', type: 'string' },
  { name: 'op', type: 'string' },
  { name: 'ts_ms', type: 'bigint' },
  { name: 'item_key', type: 'string' },
  { name: 'item', type: 'string' },
  { name: 'exported_ms', type: 'bigint' },
];
export const GLUE_PARTITION_KEYS = ['kind', 'day'] as const;

/** Firehose buffers up to 128 MiB or 300 s per partition before writing a Parquet file: large
 *  files for Athena, and at most five minutes between a change and its query. (Format
 *  conversion needs a buffer of at least 64 MiB.) */
export const FIREHOSE_BUFFER_MB = 128;
export const FIREHOSE_BUFFER_SECONDS = 300;
/** Alarm when the exporter reads records older than this: it is falling behind its streams (the
 *  API is unaffected; analytics answers grow stale). */
export const EXPORT_ITERATOR_AGE_ALARM_MS = 15 * 60 * 1000;
/** Alarm when Firehose holds undelivered records older than this (twice its buffer interval). */
export const FIREHOSE_FRESHNESS_ALARM_SECONDS = 2 * FIREHOSE_BUFFER_SECONDS;

export interface AnalyticsStorePlan {
  zone: ZoneName;
  /** Where bucket, delivery stream, Glue table and Athena workgroup live. */
  region: RegionName;
  bucketPrefix: string;
  deliveryStream: string;
  glueDatabase: string;
  glueTable: 'events';
  athenaWorkgroup: string;
  /** S3 keys of delivered Parquet files and of records Firehose could not convert. */
  dataPrefix: string;
  errorPrefix: string;
  /** Firehose dynamic partitioning: the record's kind and day, read with JQ. */
  partitionQuery: string;
  /** Glue partition projection: every kind and day is a partition without a crawler. */
  projection: Record<string, string>;
}

export interface AnalyticsPlan {
  /** The zones' stores this stage deploys (those whose store region is this stage's region). */
  stores: AnalyticsStorePlan[];
  /** Where the exporter of this stage sends each zone's rows (zones of the tables it creates). */
  destinations: { zone: ZoneName; region: RegionName; deliveryStream: string }[];
  /** Zones of tables this stage creates whose store region is not deployed in this network:
   *  their rows are not exported (an EU zone's rows never go to a store outside the EU). */
  unexported: ZoneName[];
  /** The exporter's environment: each destination as `<region>/<stream>`, and the unexported zones. */
  exporterEnv: Record<string, string>;
}

/** Zones of the table sets whose tables this stage creates (`tableSets`: their names). */
function zonesOf(tableSets: ReadonlySet<string>): ZoneName[] {
  return ANALYTICS_ZONES.filter((z) => TABLE_SETS.some((s) => s.zone === z && tableSets.has(s.name)));
}

export function planAnalytics(target: Pick<DeployTarget, 'app' | 'network' | 'region' | 'regions'>, tableSets: ReadonlySet<string>): AnalyticsPlan {
  // Names carry the network, not the stage: every region's exporter names the same stream.
  const base = `${target.app}-${target.network}-analytics`;
  const glueName = (zone: ZoneName) => `${base}_${zone}`.replace(/[^a-z0-9_]/g, '_');
  const storeOf = (zone: ZoneName): AnalyticsStorePlan => ({
    zone,
    region: zoneStoreRegion(zone),
    bucketPrefix: `${base}-${zone}-`,
    deliveryStream: `${base}-${zone}`,
    glueDatabase: glueName(zone),
    glueTable: 'events',
    athenaWorkgroup: `${base}-${zone}`,
    dataPrefix: 'events/kind=!{partitionKeyFromQuery:kind}/day=!{partitionKeyFromQuery:day}/',
    errorPrefix: 'errors/!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/',
    partitionQuery: '{kind: .kind, day: .day}',
    projection: {
      'projection.enabled': 'true',
      'projection.kind.type': 'enum',
      'projection.kind.values': ANALYTICS_KINDS.join(','),
      'projection.day.type': 'date',
      'projection.day.format': 'yyyy-MM-dd',
      'projection.day.range': '2024-01-01,NOW',
      'projection.day.interval': '1',
      'projection.day.interval.unit': 'DAYS',
      'storage.location.template': 's3://${bucket}/events/kind=${kind}/day=${day}/',
    },
  });
  const deployedStore = (zone: ZoneName) => target.regions.includes(zoneStoreRegion(zone));
  const stores = ANALYTICS_ZONES.filter((z) => zoneStoreRegion(z) === target.region).map(storeOf);
  const exported = zonesOf(tableSets).filter(deployedStore);
  const unexported = zonesOf(tableSets).filter((z) => !deployedStore(z));
  const destinations = exported.map((zone) => ({ zone, region: zoneStoreRegion(zone), deliveryStream: storeOf(zone).deliveryStream }));
  for (const d of destinations) {
    if (isEuZone(d.zone) && !d.region.startsWith('eu-')) throw new Error(`analytics plan: zone ${d.zone} would be stored in ${d.region}, outside the EU`);
  }
  const exporterEnv: Record<string, string> = Object.fromEntries(destinations.map((d) => [analyticsStreamVariable(d.zone), `${d.region}/${d.deliveryStream}`]));
  if (unexported.length > 0) exporterEnv[UNEXPORTED_ZONES_VARIABLE] = unexported.join(',');
  return { stores, destinations, unexported, exporterEnv };
}

/** What the exporter's role needs: PutRecordBatch on its destinations' streams, nothing else. */
export function analyticsStatements(analytics: AnalyticsPlan, partition: string, account: string) {
  const resources = analytics.destinations.map((d) => `arn:${partition}:firehose:${d.region}:${account}:deliverystream/${d.deliveryStream}`);
  return resources.length === 0 ? [] : [{ effect: 'allow' as const, actions: ['firehose:PutRecordBatch'], resources }];
}
