// Dark reads: before logical shards are cut over, the reads the service makes are made against
// both tables and their answers compared. The verification's counts and hashes compare rows one
// by one; these compare what a reader gets: each sampled row's partition read newest first, and
// every index (local and global) queried by that row's index key. They catch what a row-by-row
// comparison cannot: a target whose indexes are missing, keyed or projected differently, or
// answer in another order.
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { TABLES, tableName, type Entity } from '../declarations/tables.js';
import { logicalShardOfRow } from '../store/keys.js';
import { itemHash, keyOfRowKey, rowKey } from './row-identity.js';

/** Rows sampled per entity and cut-over: each costs one GetItem and, per table, one Query of its
 *  partition and one of each index (Posts: 2, Feeds: 2, the rest: 1), so at most 64 Queries a
 *  side per cut-over: a few tenths of a second beside its copy, however many rows it moves. */
export const DARK_READ_ROWS = 8;
/** Rows compared per Query: a page of the API at its largest (PAGE_LIMIT_MAX). */
const DARK_READ_PAGE = 100;
/** Tries before a difference counts: writes land between the two reads, and a global index is
 *  eventually consistent (usually within a second), so a difference is read again after a wait. */
const DARK_READ_ROUNDS = 4;
const RETRY_BASE_MS = 200;
/** How long the catch-up may take to bring the target up to a source read. */
const READ_THROUGH_MAX_MS = 5_000;

/** What the dark reads need of the catch-up that follows the source's streams. */
export interface Follower {
  /** Changes applied to the target so far; each key remembers the count at its last change. */
  readonly seq: number;
  lastChange(key: string): number | undefined;
  /** Resolves once every change made before `ms` has been applied to the target. */
  readThrough(ms: number, maxMs: number): Promise<boolean>;
}

export interface DarkReadPlan {
  source: number;
  dest: number;
  /** Each table's first logical shard (rows placed by hash are counted by their table set). */
  sourceLogical: number;
  destLogical: number;
  moving: ReadonlySet<number>;
  /** Row keys (row-identity.ts `rowKey`) to read around, per entity. */
  samples: ReadonlyMap<Entity, readonly string[]>;
  follower: Follower;
  /** Awaited before each read: the reshard holds its reads while a cut-over runs. */
  pace?: () => Promise<void>;
}

export interface DarkReadResult {
  /** Queries made on each side. */
  reads: number;
  /** Per logical shard, one line per read whose answers differ. */
  differ: Map<number, string[]>;
}

interface Read {
  entity: Entity;
  /** The sampled row's logical shard: the one whose move a difference stops. */
  logical: number;
  label: string;
  index?: string;
  keyName: string;
  value: unknown;
  /** Global indexes have no consistent reads. */
  consistent: boolean;
  /** What differed the last time it was read. */
  differs?: string;
}

interface Answer {
  /** Row key → content hash, in the order read. */
  rows: { key: string; hash: string }[];
  more: boolean;
}

/** A bad index is a difference to report; anything else (a timeout) stops the reshard, which resumes. */
const REFUSALS = new Set(['ValidationException', 'ResourceNotFoundException']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Picks up to `n` row keys from `keys`, at most one per partition, spread over the list. */
export function sampleRowKeys(keys: readonly string[], n = DARK_READ_ROWS): string[] {
  const byPartition = new Map<string, string>();
  for (const k of keys) {
    const pk = k.split('\u0000')[0]!;
    if (!byPartition.has(pk)) byPartition.set(pk, k);
  }
  const all = [...byPartition.values()];
  if (all.length <= n) return all;
  return Array.from({ length: n }, (_, i) => all[Math.floor((i * all.length) / n)]!);
}

/** Reads in flight at once on each side. */
const DARK_READ_PARALLEL = 8;

export async function darkReads(doc: DynamoDBDocumentClient, plan: DarkReadPlan): Promise<DarkReadResult> {
  const reads = await readsOf(doc, plan);
  const result: DarkReadResult = { reads: reads.length, differ: new Map() };
  // Each round reads every read still undecided from the source, has the catch-up read through
  // once, and reads them from the target: one read-through per round, however many reads.
  let pending = reads;
  for (let round = 0; round < DARK_READ_ROUNDS && pending.length > 0; round++) {
    if (round > 0) await sleep(RETRY_BASE_MS * 2 ** (round - 1));
    const seq = plan.follower.seq;
    const side = (table: number, tableLogical: number) => inPool(pending, async (r) => {
      await plan.pace?.();
      return query(doc, tableName(r.entity, table), r, tableLogical, plan.moving);
    });
    const a = await side(plan.source, plan.sourceLogical);
    // The target is compared once it holds everything the source answered from.
    await plan.follower.readThrough(Date.now(), READ_THROUGH_MAX_MS);
    const b = await side(plan.dest, plan.destLogical);
    pending = pending.filter((r, i) => (r.differs = difference(r.entity, a[i]!, b[i]!, plan.follower, seq)) !== undefined);
  }
  for (const r of pending) result.differ.set(r.logical, [...(result.differ.get(r.logical) ?? []), `dark read ${r.label}: ${r.differs}`]);
  return result;
}

/** The reads around each sampled row that still exists: its partition, and each index by the
 *  row's key in it. */
async function readsOf(doc: DynamoDBDocumentClient, plan: DarkReadPlan): Promise<Read[]> {
  const sampled = [...plan.samples].flatMap(([entity, keys]) => keys.map((k) => ({ entity, k })));
  const rows = await inPool(sampled, async ({ entity, k }) => {
    await plan.pace?.();
    return (await doc.send(new GetCommand({ TableName: tableName(entity, plan.source), Key: keyOfRowKey(entity, k), ConsistentRead: true }))).Item;
  });
  return sampled.flatMap(({ entity }, i) => {
    const row = rows[i];
    if (!row) return []; // deleted since it was scanned
    const def = TABLES[entity];
    const pk = row[def.partitionKey.name];
    const logical = logicalShardOfRow(entity, String(pk), plan.sourceLogical);
    if (logical === undefined || !plan.moving.has(logical)) return [];
    const read = (label: string, keyName: string, value: unknown, consistent: boolean, index?: string): Read => ({ entity, logical, label, keyName, value, consistent, ...(index && { index }) });
    return [
      read(`${def.baseName} ${def.partitionKey.name}=${String(pk)}`, def.partitionKey.name, pk, true),
      ...def.localIndexes.map((i) => read(`${def.baseName}.${i.name} ${i.partitionKey.name}=${String(pk)}`, i.partitionKey.name, pk, true, i.name)),
      ...def.globalIndexes
        .filter((i) => row[i.partitionKey.name] !== undefined) // a sparse index holds no entry for this row
        .map((i) => read(`${def.baseName}.${i.name} ${i.partitionKey.name}=${String(row[i.partitionKey.name])}`, i.partitionKey.name, row[i.partitionKey.name], false, i.name)),
    ];
  });
}

/** What differs between the two answers, or undefined when they agree. */
function difference(entity: Entity, a: Answer | string, b: Answer | string, follower: Follower, seq: number): string | undefined {
  if (typeof a === 'string') return `source: ${a}`;
  if (typeof b === 'string') return `target: ${b}`;
  // Rows changed since the source was read may differ by right: the catch-up applied them.
  const settled = (rows: Answer['rows']) => rows.filter((r) => (follower.lastChange(`${entity}:${r.key}`) ?? 0) <= seq);
  let [x, y] = [settled(a.rows), settled(b.rows)];
  // A full page on either side: rows written meanwhile may have pushed others past its end.
  if (a.more || b.more) [x, y] = [x.slice(0, Math.min(x.length, y.length)), y.slice(0, Math.min(x.length, y.length))];
  const at = x.findIndex((r, i) => y[i]?.key !== r.key || y[i]?.hash !== r.hash);
  if (x.length === y.length && at === -1) return undefined;
  const first = at === -1 ? y[x.length]! : x[at]!;
  return `source ${x.length} rows, target ${y.length}; first difference at ${first.key.replace(/\u0000/g, '/')}`;
}

/** `fn` over `items`, DARK_READ_PARALLEL at a time; the answers in the items' order. */
async function inPool<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(DARK_READ_PARALLEL, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

/** One page of `read` from `table`, newest first, keeping the moving logical shards' rows; a
 *  string says why the table refused it. */
async function query(doc: DynamoDBDocumentClient, table: string, read: Read, tableLogical: number, moving: ReadonlySet<number>): Promise<Answer | string> {
  const { entity } = read;
  const pkName = TABLES[entity].partitionKey.name;
  try {
    const out = await doc.send(
      new QueryCommand({
        TableName: table,
        ...(read.index && { IndexName: read.index }),
        KeyConditionExpression: '#k = :v',
        ExpressionAttributeNames: { '#k': read.keyName },
        ExpressionAttributeValues: { ':v': read.value },
        ScanIndexForward: false,
        ConsistentRead: read.consistent,
        Limit: DARK_READ_PAGE,
      }),
    );
    const rows = (out.Items ?? [])
      .filter((item) => {
        const logical = logicalShardOfRow(entity, String(item[pkName]), tableLogical);
        return logical !== undefined && moving.has(logical);
      })
      .map((item) => ({ key: rowKey(entity, item), hash: itemHash(item) }));
    return { rows, more: out.LastEvaluatedKey !== undefined };
  } catch (err) {
    const name = (err as { name?: string }).name ?? '';
    if (REFUSALS.has(name)) return `${name}: ${(err as Error).message}`;
    throw err;
  }
}
