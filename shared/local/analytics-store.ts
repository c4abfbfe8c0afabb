// The local analytics store: Parquet files under <root>/<zone>/kind=<kind>/day=<day>/, written
// by DuckDB from the exporter's landing files (the stand-in for Firehose's Parquet conversion),
// and read by DuckDB through views that count each exported row once and show the latest state
// of every item. Compaction strips erased items' keys and content (see compact()).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, StatementType, type DuckDBConnection } from '@duckdb/node-api';
import { ANALYTICS_ZONES } from '../domain/analytics-events.js';
import type { ZoneName } from '../domain/residency.js';
import { landingDir, METRICS_DIR } from '../messaging/analytics-delivery.js';

/** The exported row's columns and their types: the Parquet schema here, the Glue table's in AWS
 *  (stacks/analytics-plan.ts reads the same list). */
export const EVENT_COLUMNS = {
  event_id: 'VARCHAR',
  zone: 'VARCHAR',
  region: 'VARCHAR',
  kind: 'VARCHAR',
  table_name: 'VARCHAR',
  shard: 'INTEGER',
  seq: 'VARCHAR',
  op: 'VARCHAR',
  ts_ms: 'BIGINT',
  day: 'VARCHAR',
  item_key: 'VARCHAR',
  item: 'VARCHAR',
  exported_ms: 'BIGINT',
} as const;
const METRIC_COLUMNS = { ts_ms: 'BIGINT', metric: 'VARCHAR', value: 'DOUBLE', dimensions: 'VARCHAR' } as const;

const columnsSpec = (cols: Record<string, string>) => `{${Object.entries(cols).map(([k, t]) => `${k}: '${t}'`).join(', ')}}`;
const columnsDdl = (cols: Record<string, string>) => Object.entries(cols).map(([k, t]) => `${k} ${t}`).join(', ');
const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
const fileList = (files: string[]) => `[${files.map(quote).join(', ')}]`;

/** Files under `dir` (recursively) whose names end with `ext`. */
function filesUnder(dir: string, ext: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(ext))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

export class AnalyticsStore {
  private constructor(
    readonly root: string,
    private readonly db: DuckDBInstance,
    private readonly conn: DuckDBConnection,
  ) {}

  static async open(root: string): Promise<AnalyticsStore> {
    const db = await DuckDBInstance.create(':memory:');
    return new AnalyticsStore(root, db, await db.connect());
  }

  close(): void {
    this.conn.closeSync();
    this.db.closeSync();
  }

  /** Landed deliveries become Parquet, one file per zone, kind and day, named after the landing
   *  files it holds; the landing files are removed once the Parquet file is in place. A crash in
   *  between leaves both, and the views count the rows once (by event id). */
  async convertLanding(zones: readonly ZoneName[] = ANALYTICS_ZONES): Promise<number> {
    let converted = 0;
    for (const zone of zones) {
      converted += await this.convertDir(landingDir(this.root, zone), path.join(this.root, zone), EVENT_COLUMNS, (name) => {
        const [kind, day] = name.split('_');
        return `kind=${kind}/day=${day}`;
      });
    }
    converted += await this.convertDir(path.join(this.root, METRICS_DIR, '_landing'), path.join(this.root, METRICS_DIR), METRIC_COLUMNS, (name) => `day=${name.split('_')[1]}`);
    return converted;
  }

  private async convertDir(landing: string, target: string, cols: Record<string, string>, partitionOf: (name: string) => string): Promise<number> {
    const groups = new Map<string, string[]>();
    for (const file of filesUnder(landing, '.jsonl')) {
      const part = partitionOf(path.basename(file));
      groups.set(part, [...(groups.get(part) ?? []), file]);
    }
    for (const [part, files] of groups) {
      const dir = path.join(target, part);
      mkdirSync(dir, { recursive: true });
      const name = createHash('sha256').update(files.map((f) => path.basename(f)).join('\n')).digest('hex').slice(0, 24);
      const out = path.join(dir, `part-${name}.parquet`);
      await this.writeParquet(`SELECT * FROM read_json(${fileList(files)}, format = 'newline_delimited', columns = ${columnsSpec(cols)})`, out);
      for (const f of files) rmSync(f, { force: true });
    }
    return [...groups.values()].reduce((n, f) => n + f.length, 0);
  }

  /** Writes a query's rows as one Parquet file, aside then renamed: readers never see half. */
  private async writeParquet(select: string, file: string): Promise<void> {
    const tmp = `${file}.tmp`;
    await this.conn.run(`COPY (${select}) TO ${quote(tmp)} (FORMAT parquet)`);
    renameSync(tmp, file);
  }

  private eventFiles(zones: readonly ZoneName[]): string[] {
    return zones.flatMap((z) => filesUnder(path.join(this.root, z), '.parquet').filter((f) => !f.includes(`${path.sep}_landing${path.sep}`)));
  }

  /** The views every query reads, over the zones chosen:
   *  events  — each exported row once (a redelivered record is the same event id);
   *  changes — stream changes only (no backfill snapshots);
   *  latest  — each item's newest row (a change beats a snapshot of the same second);
   *  live    — latest rows that are not deletions: the tables' current contents;
 *  erased  — the items whose latest row is a deletion (their history is left out of answers);
   *  metrics — the handlers' metrics (local stack). */
  async defineViews(zones: readonly ZoneName[]): Promise<void> {
    const files = this.eventFiles(zones);
    const metricFiles = filesUnder(path.join(this.root, METRICS_DIR), '.parquet').filter((f) => !f.includes('_landing'));
    const c = this.conn;
    await c.run(`CREATE OR REPLACE TABLE no_events (${columnsDdl(EVENT_COLUMNS)})`);
    await c.run(`CREATE OR REPLACE TABLE no_metrics (${columnsDdl(METRIC_COLUMNS)})`);
    const raw = files.length > 0 ? `SELECT * FROM read_parquet(${fileList(files)}, union_by_name = true) UNION ALL BY NAME SELECT * FROM no_events` : 'SELECT * FROM no_events';
    await c.run(`CREATE OR REPLACE VIEW events AS SELECT *, make_timestamp(ts_ms * 1000) AS ts FROM (${raw})
      QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY (item_key IS NULL) DESC, exported_ms) = 1`);
    await c.run(`CREATE OR REPLACE VIEW changes AS SELECT * FROM events WHERE op <> 'SNAPSHOT'`);
    await c.run(`CREATE OR REPLACE VIEW latest AS SELECT * FROM events WHERE item_key IS NOT NULL
      QUALIFY row_number() OVER (PARTITION BY table_name, item_key ORDER BY ts_ms // 1000 DESC, (op <> 'SNAPSHOT') DESC, seq DESC) = 1`);
    await c.run(`CREATE OR REPLACE VIEW live AS SELECT * FROM latest WHERE op <> 'REMOVE'`);
    await c.run(`CREATE OR REPLACE VIEW erased AS SELECT table_name, item_key FROM latest WHERE op = 'REMOVE'`);
    const rawMetrics = metricFiles.length > 0 ? `SELECT * FROM read_parquet(${fileList(metricFiles)}) UNION ALL BY NAME SELECT * FROM no_metrics` : 'SELECT * FROM no_metrics';
    await c.run(`CREATE OR REPLACE VIEW metrics AS SELECT *, make_timestamp(ts_ms * 1000) AS ts FROM (${rawMetrics})`);
  }

  /** Rows of a query as JSON-safe objects (BIGINT as text). */
  async query(sql: string): Promise<{ columns: string[]; rows: Record<string, unknown>[] }> {
    const reader = await this.conn.runAndReadAll(sql);
    return { columns: reader.columnNames(), rows: reader.getRowObjectsJson() as Record<string, unknown>[] };
  }

  /** Runs operator SQL only when it is one statement that reads: a SELECT (WITH … SELECT,
   *  VALUES, a set operation); COPY, INSERT, CREATE, ATTACH, SET, PRAGMA … are refused. */
  async readOnlyQuery(sql: string): Promise<{ columns: string[]; rows: Record<string, unknown>[] }> {
    const extracted = await this.conn.extractStatements(sql);
    if (extracted.count !== 1) throw new ReadOnlyError(`one statement expected, got ${extracted.count}`);
    const prepared = await extracted.prepare(0);
    if (prepared.statementType !== StatementType.SELECT) throw new ReadOnlyError(`only SELECT queries are allowed (this is ${StatementType[prepared.statementType]})`);
    const reader = await prepared.runAndReadAll();
    return { columns: reader.columnNames(), rows: reader.getRowObjectsJson() as Record<string, unknown>[] };
  }

  /** The erasure step: rewrites each zone's files so that every item whose latest row is a
   *  deletion keeps its rows' counts (kind, table, op, time) but loses its key and content, and
   *  each event once. Run after an erasure (or on a schedule within the erasure deadline); the
   *  old files are deleted once the new ones are in place. */
  async compact(zones: readonly ZoneName[] = ANALYTICS_ZONES): Promise<{ files: number; erased: number }> {
    let files = 0;
    let erased = 0;
    for (const zone of zones) {
      await this.convertLanding([zone]);
      const old = this.eventFiles([zone]);
      if (old.length === 0) continue;
      await this.defineViews([zone]);
      const gone = await this.query(`SELECT count(*)::INT AS n FROM latest WHERE op = 'REMOVE'`);
      erased += Number(gone.rows[0]!.n);
      await this.conn.run(`CREATE OR REPLACE TEMP TABLE compacted AS
        SELECT e.* EXCLUDE (ts, item_key, item),
               CASE WHEN g.item_key IS NULL THEN e.item_key END AS item_key,
               CASE WHEN g.item_key IS NULL THEN e.item END AS item
        FROM events e LEFT JOIN (SELECT table_name, item_key FROM latest WHERE op = 'REMOVE') g
          ON e.table_name = g.table_name AND e.item_key = g.item_key`);
      const parts = await this.query(`SELECT DISTINCT kind, day FROM compacted`);
      for (const p of parts.rows) {
        const dir = path.join(this.root, zone, `kind=${String(p.kind)}`, `day=${String(p.day)}`);
        mkdirSync(dir, { recursive: true });
        await this.writeParquet(`SELECT ${Object.keys(EVENT_COLUMNS).join(', ')} FROM compacted WHERE kind = ${quote(String(p.kind))} AND day = ${quote(String(p.day))}`, path.join(dir, `compacted-${Date.now()}.parquet`));
        files++;
      }
      for (const f of old) rmSync(f, { force: true });
    }
    return { files, erased };
  }
}

/** Free SQL that would write, or is not one query: refused before it runs. */
export class ReadOnlyError extends Error {
  override name = 'ReadOnlyError';
}
