// `feedctl analytics`: the named admin queries across every shard and zone, free read-only SQL,
// the backfill of tables that existed before the export, and the erasure compaction, over the
// local analytics store (<data-dir>/analytics, or FEED_ANALYTICS_DIR). Every answer ends with the
// export's lag. Exit status: 0 answered, 1 failed, 2 bad command line (usage on stderr).
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { loadConfig } from '../edge/config.js';
import { ANALYTICS_KINDS, ANALYTICS_ZONES } from '../domain/analytics-events.js';
import type { ZoneName } from '../domain/residency.js';
import { TABLES, type Entity } from '../declarations/tables.js';
import { deliverRows, snapshotRows } from '../services/analytics.js';
import { firehoseTransport, landingTransport } from '../messaging/analytics-delivery.js';
import { AnalyticsStore, ReadOnlyError } from './analytics-store.js';
import { LAG_SQL, NAMED_QUERIES } from './analytics-queries.js';
import { ROOT } from './lambda.js';

/** Default window of a named query: the last 7 days (an operator's "this week"). */
const DEFAULT_WINDOW_MS = 7 * 24 * 3600 * 1000;
/** Rows of top-authors and tables unless --limit: a screenful. */
const DEFAULT_LIMIT = 20;
/** Items per backfill delivery: one landing file (or 500-record Firehose calls) per page. */
const SCAN_PAGE = 1000;

export const ANALYTICS_USAGE = `usage: npm run feedctl -- analytics <query | sql "<select>" | backfill | compact> [flags]

queries
${Object.entries(NAMED_QUERIES).map(([name, q]) => `  ${name.padEnd(12)} ${q.description}`).join('\n')}
  sql "<select>"  one read-only query over the views events, changes, latest, live, erased, metrics
  backfill        snapshot every table's current items into the store (tables older than the export)
  compact         strip erased items' keys and content from the store's files (GDPR erasure)

flags
  --since T, --until T   window [since, until): ISO date or time (UTC), today, yesterday, now,
                         or relative: -30m, -24h, -7d (default: the last 7 days)
  --format F             table (default), json or csv
  --zone Z[,Z]           ${ANALYTICS_ZONES.join(', ')} (default: every zone)
  --limit N              rows of top-authors and tables (default ${DEFAULT_LIMIT})
  --data-dir DIR         the local stack's data dir (default .local; the store is DIR/analytics,
                         or FEED_ANALYTICS_DIR)
  --aws [--region R]     backfill only: scan the AWS tables, deliver to the zones' Firehose streams`;

export class AnalyticsUsageError extends Error {}

const OPTIONS = {
  since: { type: 'string' },
  until: { type: 'string' },
  format: { type: 'string' },
  zone: { type: 'string' },
  limit: { type: 'string' },
  'data-dir': { type: 'string' },
  aws: { type: 'boolean' },
  region: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface Io {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** A window bound: absolute (ISO) or relative to `now`; undefined when malformed. */
export function parseTime(text: string, now: number): number | undefined {
  const midnight = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate());
  if (text === 'now') return now;
  if (text === 'today') return midnight;
  if (text === 'yesterday') return midnight - 24 * 3600 * 1000;
  const rel = /^-(\d+)([mhd])$/.exec(text);
  if (rel) return now - Number(rel[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 'm' | 'h' | 'd'];
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z?)?$/.test(text)) return undefined;
  const ms = Date.parse(/[T ]/.test(text) ? `${text.replace(' ', 'T').replace(/Z?$/, 'Z')}` : `${text}T00:00:00Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

interface Command {
  name: string;
  sql?: string;
  sinceMs: number;
  untilMs: number;
  format: 'table' | 'json' | 'csv';
  zones: ZoneName[];
  limit: number;
  root: string;
  dataDir: string;
  aws: boolean;
  region: string | undefined;
  /** The tables' prefix and count, and the AWS region (FEED_* and AWS_REGION of the shell). */
  settings: { prefix: string; shards: number; awsRegion: string };
}

/** The product's configuration as feedctl needs it: a local tool, so no cursor secret needed. */
function settingsOf(env: Record<string, string | undefined>): Command['settings'] {
  const c = loadConfig({ ...env, FEED_LOCAL: '1' });
  return { prefix: c.FEED_TABLE_PREFIX, shards: c.FEED_SHARDS, awsRegion: c.AWS_REGION };
}

/** The command line, checked; AnalyticsUsageError on anything malformed. */
export function parseCommand(argv: string[], io: Io, now = Date.now()): Command | 'help' {
  let parsed;
  // `--since -7d`: a relative time looks like a flag to parseArgs; it is the flag's value.
  const args = argv.map((a, i) => (/^-\d/.test(a) && /^--(since|until)$/.test(argv[i - 1] ?? '') ? `=${a}` : a));
  const joined = args.flatMap((a, i) => (a.startsWith('=') ? [] : args[i + 1]?.startsWith('=') ? [`${a}${args[i + 1]}`] : [a]));
  try {
    parsed = parseArgs({ args: joined, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new AnalyticsUsageError((err as Error).message.split(/\.\s/)[0]!);
  }
  const { values: v, positionals } = parsed;
  if (v.help || positionals.length === 0) return 'help';
  const [name, ...rest] = positionals as [string, ...string[]];
  const known = name === 'sql' || name === 'backfill' || name === 'compact' || name in NAMED_QUERIES;
  if (!known) throw new AnalyticsUsageError(`unknown query: ${name}`);
  if (name === 'sql' ? rest.length !== 1 : rest.length !== 0) throw new AnalyticsUsageError(name === 'sql' ? 'sql takes one quoted query' : `${name} takes no arguments`);
  if ((v.aws || v.region) && name !== 'backfill') throw new AnalyticsUsageError('--aws and --region apply to backfill only');
  const time = (flag: 'since' | 'until', def: number) => {
    if (v[flag] === undefined) return def;
    const t = parseTime(v[flag]!, now);
    if (t === undefined) throw new AnalyticsUsageError(`--${flag} ${v[flag]}: not a time (ISO date or time, today, yesterday, now, -30m, -24h, -7d)`);
    return t;
  };
  const untilMs = time('until', now);
  const sinceMs = time('since', untilMs - DEFAULT_WINDOW_MS);
  if (sinceMs >= untilMs) throw new AnalyticsUsageError('--since must be before --until');
  const format = v.format ?? 'table';
  if (format !== 'table' && format !== 'json' && format !== 'csv') throw new AnalyticsUsageError(`--format ${format}: table, json or csv`);
  const zones = v.zone ? v.zone.split(',').map((z) => z.trim()) : [...ANALYTICS_ZONES];
  for (const z of zones) if (!ANALYTICS_ZONES.includes(z as ZoneName)) throw new AnalyticsUsageError(`--zone ${z}: one of ${ANALYTICS_ZONES.join(', ')}`);
  const limit = v.limit === undefined ? DEFAULT_LIMIT : Number(v.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new AnalyticsUsageError(`--limit ${v.limit}: a whole number, 1 or more`);
  const env = io.env ?? process.env;
  const base = io.cwd ?? env.INIT_CWD ?? process.cwd();
  const dataDir = v['data-dir'] ? path.resolve(base, v['data-dir']) : path.join(ROOT, '.local');
  const root = v['data-dir'] ? path.join(dataDir, 'analytics') : (env.FEED_ANALYTICS_DIR ?? path.join(dataDir, 'analytics'));
  return { name, ...(name === 'sql' && { sql: rest[0] }), sinceMs, untilMs, format, zones: zones as ZoneName[], limit, root, dataDir, aws: Boolean(v.aws), region: v.region, settings: settingsOf(env) };
}

export interface Answer {
  columns: string[];
  rows: Record<string, unknown>[];
  lag: { newestChange: string | null; exportDelayMs: number | null; events: number; asOf: string };
}

/** Runs a named query or free SQL over the store (after landing files become Parquet). */
export async function answer(cmd: Command): Promise<Answer> {
  const store = await AnalyticsStore.open(cmd.root);
  try {
    await store.convertLanding();
    await store.defineViews(cmd.zones);
    const result = cmd.sql !== undefined
      ? await store.readOnlyQuery(cmd.sql)
      : await store.query(NAMED_QUERIES[cmd.name]!.sql({ sinceMs: cmd.sinceMs, untilMs: cmd.untilMs, limit: cmd.limit, shards: cmd.settings.shards }));
    const lag = (await store.query(LAG_SQL)).rows[0]!;
    const newest = lag.newest_ms === null ? null : new Date(Number(lag.newest_ms)).toISOString();
    return { ...result, lag: { newestChange: newest, exportDelayMs: lag.delay_ms === null ? null : Number(lag.delay_ms), events: Number(lag.events), asOf: new Date().toISOString() } };
  } finally {
    store.close();
  }
}

const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
const csvCell = (v: unknown) => {
  const s = cell(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export function lagLine(lag: Answer['lag']): string {
  if (!lag.newestChange) return `export lag: the store holds no changes yet (as of ${lag.asOf})`;
  const age = ((Date.parse(lag.asOf) - Date.parse(lag.newestChange)) / 1000).toFixed(1);
  const delay = lag.exportDelayMs === null ? '-' : `${(lag.exportDelayMs / 1000).toFixed(1)} s`;
  return `export lag: newest change ${lag.newestChange} (${age} s ago); write → store ${delay} in its last minute; ${lag.events} changes`;
}

/** The answer in the chosen format; the lag goes with it (a field in JSON, stderr beside CSV). */
export function render(cmd: Command, a: Answer, io: Io): void {
  if (cmd.format === 'json') {
    io.stdout(JSON.stringify({ query: cmd.name, since: new Date(cmd.sinceMs).toISOString(), until: new Date(cmd.untilMs).toISOString(), zones: cmd.zones, lag: a.lag, rows: a.rows }, null, 2));
    return;
  }
  if (cmd.format === 'csv') {
    io.stdout(a.columns.join(','));
    for (const r of a.rows) io.stdout(a.columns.map((c) => csvCell(r[c])).join(','));
    io.stderr(lagLine(a.lag));
    return;
  }
  const grid = [a.columns, ...a.rows.map((r) => a.columns.map((c) => cell(r[c])))];
  const widths = a.columns.map((_, i) => Math.max(...grid.map((row) => row[i]!.length)));
  for (const row of grid) io.stdout(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
  if (a.rows.length === 0) io.stdout('(no rows)');
  io.stdout(lagLine(a.lag));
}

/** Snapshots every shard table into the store; returns the items written. */
export async function backfill(cmd: Command, env: Record<string, string | undefined>): Promise<number> {
  const endpoint = cmd.aws ? undefined : localDynamo(cmd.dataDir, env);
  const client = new DynamoDBClient({ ...(endpoint && { endpoint }), region: cmd.region ?? cmd.settings.awsRegion });
  const transport = cmd.aws ? firehoseTransport(env) : landingTransport(cmd.root);
  const run = new Date().toISOString().replace(/[-:.]/g, '');
  let written = 0;
  try {
    for (const entity of ANALYTICS_KINDS as readonly Entity[]) {
      const def = TABLES[entity];
      const keyNames = [def.partitionKey.name, ...(def.sortKey ? [def.sortKey.name] : [])];
      for (let shard = 0; shard < cmd.settings.shards; shard++) {
        const table = `${cmd.settings.prefix}${def.baseName}_${shard}`;
        let start: Record<string, AttributeValue> | undefined;
        do {
          const page = await client.send(new ScanCommand({ TableName: table, Limit: SCAN_PAGE, ExclusiveStartKey: start }));
          const items = (page.Items ?? []).map((i) => unmarshall(i));
          const rows = snapshotRows(table, keyNames, items, run, Date.now(), cmd.settings).filter((r) => cmd.zones.includes(r.zone));
          if (rows.length > 0) await deliverRows(rows, transport);
          written += rows.length;
          start = page.LastEvaluatedKey;
        } while (start);
      }
    }
  } finally {
    client.destroy();
  }
  return written;
}

/** DYNAMODB_ENDPOINT, else the running local stack's (its stack.json). */
function localDynamo(dataDir: string, env: Record<string, string | undefined>): string {
  if (env.DYNAMODB_ENDPOINT) return env.DYNAMODB_ENDPOINT;
  const file = path.join(dataDir, 'stack.json');
  if (!existsSync(file)) throw new Error(`no local stack: ${file} is missing (start one with npm start, or set DYNAMODB_ENDPOINT)`);
  return (JSON.parse(readFileSync(file, 'utf8')) as { dynamodb: string }).dynamodb;
}

export async function analyticsMain(argv: string[], io: Io): Promise<number> {
  let cmd: Command | 'help';
  try {
    cmd = parseCommand(argv, io);
  } catch (err) {
    io.stderr(`feedctl analytics: ${(err as Error).message}`);
    ANALYTICS_USAGE.split('\n').forEach((l) => io.stderr(l));
    return 2;
  }
  if (cmd === 'help') {
    ANALYTICS_USAGE.split('\n').forEach((l) => io.stdout(l));
    return 0;
  }
  try {
    if (cmd.name === 'backfill') {
      io.stdout(`backfill: ${await backfill(cmd, io.env ?? process.env)} items snapshotted into ${cmd.aws ? 'the zones’ Firehose streams' : cmd.root}`);
      return 0;
    }
    if (cmd.name === 'compact') {
      const store = await AnalyticsStore.open(cmd.root);
      try {
        const { files, erased } = await store.compact(cmd.zones);
        io.stdout(`compact: ${files} files written; ${erased} erased items stripped of keys and content`);
      } finally {
        store.close();
      }
      return 0;
    }
    render(cmd, await answer(cmd), io);
    return 0;
  } catch (err) {
    if (err instanceof ReadOnlyError) {
      io.stderr(`feedctl analytics: refused: ${err.message}`);
      return 2;
    }
    io.stderr(`feedctl analytics: ${(err as Error).message}`);
    return 1;
  }
}
