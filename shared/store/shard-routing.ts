// Routes every DynamoDB command by the current shard map just before it is sent. Keys name their
// table from this process's copy of the map (keys.ts); while a move is under way the copy may be
// a moment old, so each command's rows are read back to their logical shards and sent to the
// table that holds them now. A write to a logical shard being cut over waits until the cut-over
// ends (it does not fail); a read goes to the table that is authoritative at that moment.
// Outside a move this costs one clock comparison per call.
import { ServiceUnavailableError } from '../domain/errors.js';
import { inRanges, type ShardMap } from '../domain/shard-map.js';
import { controlTableName, TABLES, tableName, type Entity } from '../declarations/tables.js';
import { config } from '../edge/config.js';
import { logicalShardOfRow } from './keys.js';
import { freshShardMap, setLogicalOfTable, tableOfLogical } from './shard-map.js';

/** The longest a write waits for a cut-over before it fails with 503: a cut-over takes about a
 *  second; one that takes this long has stalled (the reshard is stopped and its freeze stays
 *  until `reshard` resumes or rolls back). */
export const FREEZE_WAIT_MAX_MS = 10_000;
/** Retry-After of a write that waited FREEZE_WAIT_MAX_MS. */
const FROZEN_RETRY_AFTER_SECONDS = 5;
/** How often a waiting write re-reads the map. */
const FREEZE_POLL_MS = 20;

/** Writes that waited on a freeze and commands sent to another table than their key named, in
 *  this process (the local stack's stats and tests read them). */
export const routingStats = { frozenWrites: 0, rerouted: 0 };

type Input = Record<string, any>;
interface Command {
  input: Input;
  constructor: new (input: Input) => unknown;
}

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand', 'TransactWriteItemsCommand', 'PutCommand', 'UpdateCommand', 'DeleteCommand', 'BatchWriteCommand', 'TransactWriteCommand']);

let entityByBase: Map<string, Entity> | undefined;
/** A shard table's entity and index, from its name; undefined for any other table. */
export function parseShardTable(name: string): { entity: Entity; table: number } | undefined {
  const prefix = config().FEED_TABLE_PREFIX;
  if (!name.startsWith(prefix)) return undefined;
  const m = /^([A-Za-z]+)_(\d+)$/.exec(name.slice(prefix.length));
  if (!m) return undefined;
  entityByBase ??= new Map((Object.keys(TABLES) as Entity[]).map((e) => [TABLES[e].baseName, e]));
  const entity = entityByBase.get(m[1]!);
  return entity ? { entity, table: Number(m[2]) } : undefined;
}

/** A key value as a string, from the document (native) or the raw (AttributeValue) form. */
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : v && typeof v === 'object' && 'S' in v ? String((v as { S: unknown }).S) : undefined);

/** The partition key attribute of a table or one of its indexes. */
function partitionKeyName(entity: Entity, index?: string): string {
  const def = TABLES[entity];
  if (!index) return def.partitionKey.name;
  return [...def.globalIndexes, ...def.localIndexes].find((i) => i.name === index)?.partitionKey.name ?? def.partitionKey.name;
}

/** The logical shard of a row given by its key (or item) in `tableName`; undefined for tables and
 *  rows that are not routed (the control table, a table's own accumulator rows). */
export function logicalOfKey(table: string, key: Input | undefined, index?: string): number | undefined {
  const parsed = parseShardTable(table);
  if (!parsed || !key) return undefined;
  const pk = str(key[partitionKeyName(parsed.entity, index)]);
  if (pk === undefined) return undefined;
  return logicalShardOfRow(parsed.entity, pk, setLogicalOfTable(parsed.table));
}

/** The partition key value a query names (`<pk> = :v` in its KeyConditionExpression). */
function queryKey(input: Input): Input | undefined {
  const parsed = parseShardTable(input.TableName);
  if (!parsed) return undefined;
  const pkName = partitionKeyName(parsed.entity, input.IndexName);
  for (const m of String(input.KeyConditionExpression ?? '').matchAll(/([#\w]+)\s*=\s*(:\w+)/g)) {
    const name = m[1]!.startsWith('#') ? input.ExpressionAttributeNames?.[m[1]!] : m[1];
    if (name === pkName) return { [pkName]: input.ExpressionAttributeValues?.[m[2]!] };
  }
  return undefined;
}

/** Where a row of `table` lives now: the same table, or the one its logical shard moved to. */
function routeTable(table: string, logical: number | undefined): string {
  if (logical === undefined) return table;
  const parsed = parseShardTable(table)!;
  const now = tableOfLogical(logical);
  return now === parsed.table ? table : tableName(parsed.entity, now);
}

/** Each row a command touches: its table and key (or item), with a setter for its table. */
interface Touch {
  table: string;
  key: Input | undefined;
  index?: string;
}

function touches(name: string, input: Input): Touch[] {
  if (input.TransactItems) {
    return (input.TransactItems as Input[]).flatMap((t) => Object.values(t).map((op: Input) => ({ table: op.TableName, key: op.Key ?? op.Item })));
  }
  if (input.RequestItems) {
    return Object.entries(input.RequestItems as Record<string, any>).flatMap(([table, v]) =>
      Array.isArray(v) ? v.map((w: Input) => ({ table, key: w.PutRequest?.Item ?? w.DeleteRequest?.Key })) : (v.Keys as Input[]).map((key) => ({ table, key })),
    );
  }
  if (name.startsWith('Query')) return [{ table: input.TableName, key: queryKey(input), index: input.IndexName }];
  if (name.startsWith('Scan')) return [];
  return [{ table: input.TableName, key: input.Key ?? input.Item }];
}

/** Whether any of `logicals` is frozen now (a scheduled freeze holds from its `frozenFrom`). */
const frozenIn = (map: ShardMap, logicals: (number | undefined)[]) =>
  map.frozen.length > 0 && Date.now() >= (map.frozenFrom ?? 0) && logicals.some((l) => l !== undefined && inRanges(map.frozen, l));

/** Waits while any of `logicals` is frozen (writes), or re-reads the map once (reads). */
async function passFreeze(map: ShardMap, logicals: (number | undefined)[], write: boolean): Promise<void> {
  if (!frozenIn(map, logicals)) return;
  if (!write) {
    await freshShardMap(true);
    return;
  }
  routingStats.frozenWrites++;
  const until = Date.now() + FREEZE_WAIT_MAX_MS;
  for (;;) {
    await new Promise((r) => setTimeout(r, FREEZE_POLL_MS));
    const now = await freshShardMap(true);
    if (!frozenIn(now, logicals)) return;
    if (Date.now() > until) {
      throw new ServiceUnavailableError('a reshard is moving this data and took too long; retry later', FROZEN_RETRY_AFTER_SECONDS);
    }
  }
}

/** The command to send in its place: unchanged unless a move is under way and one of its rows is
 *  now held by another table. Responses keyed by table (batches) are keyed back by `restore`. */
export async function routeCommand<C>(command: C): Promise<{ command: C; restore?: (output: any) => any }> {
  const c = command as unknown as Command;
  const input = c?.input;
  if (!input || input.TableName === controlTableName()) return { command };
  const map = await freshShardMap();
  if (!map.moving && map.frozen.length === 0) return { command };
  const name = c.constructor.name;
  const rows = touches(name, input);
  const logicals = rows.map((r) => logicalOfKey(r.table, r.key, r.index));
  await passFreeze(map, logicals, WRITES.has(name));
  return rewrite(c, input, rows, logicals) as { command: C; restore?: (output: any) => any };
}

function rewrite(c: Command, input: Input, rows: Touch[], logicals: (number | undefined)[]): { command: unknown; restore?: (output: any) => any } {
  const targets = rows.map((r, i) => routeTable(r.table, logicals[i]));
  if (targets.every((t, i) => t === rows[i]!.table)) return { command: c };
  routingStats.rerouted++;
  const Ctor = c.constructor;
  if (input.TransactItems) {
    let i = 0;
    const items = (input.TransactItems as Input[]).map((t) => Object.fromEntries(Object.entries(t).map(([op, v]: [string, Input]) => [op, { ...v, TableName: targets[i++] }])));
    return { command: new Ctor({ ...input, TransactItems: items }) };
  }
  if (input.RequestItems) {
    // A batch regrouped by the tables its rows live in now; its answers are keyed back by the
    // tables the caller named.
    const back = new Map<string, string>();
    const grouped: Record<string, any> = {};
    let i = 0;
    for (const [table, v] of Object.entries(input.RequestItems as Record<string, any>)) {
      const list: Input[] = Array.isArray(v) ? v : v.Keys;
      for (const entry of list) {
        const to = targets[i++]!;
        back.set(to, table);
        if (Array.isArray(v)) (grouped[to] ??= []).push(entry);
        else (grouped[to] ??= { ...v, Keys: [] }).Keys.push(entry);
      }
    }
    const restore = (out: any) => {
      for (const field of ['Responses', 'UnprocessedKeys', 'UnprocessedItems']) {
        if (!out?.[field]) continue;
        const keyed: Record<string, any> = {};
        for (const [table, v] of Object.entries(out[field] as Record<string, any>)) {
          const original = back.get(table) ?? table;
          if (Array.isArray(v)) keyed[original] = [...(keyed[original] ?? []), ...v];
          else keyed[original] = keyed[original] ? { ...v, Keys: [...keyed[original].Keys, ...v.Keys] } : v;
        }
        out[field] = keyed;
      }
      return out;
    };
    return { command: new Ctor({ ...input, RequestItems: grouped }), restore };
  }
  return { command: new Ctor({ ...input, TableName: targets[0] }) };
}
