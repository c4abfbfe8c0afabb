// A row's identity and content as the mover compares them across tables: its key within its
// table, and a content hash that ignores attribute order and the mover's own mark.
import { createHash } from 'node:crypto';
import { TABLES, type Entity } from '../declarations/tables.js';
import { MOVE_ATTR } from '../store/moved-rows.js';

/** The rows' identity within a table: partition and sort key values. */
export function rowKey(entity: Entity, item: Record<string, unknown>): string {
  const def = TABLES[entity];
  return def.sortKey ? `${String(item[def.partitionKey.name])}\u0000${String(item[def.sortKey.name])}` : String(item[def.partitionKey.name]);
}
export function keyOf(entity: Entity, item: Record<string, unknown>): Record<string, unknown> {
  const def = TABLES[entity];
  return { [def.partitionKey.name]: item[def.partitionKey.name], ...(def.sortKey && { [def.sortKey.name]: item[def.sortKey.name] }) };
}

/** A content hash independent of attribute order (sets sorted). */
function stable(v: unknown): string {
  if (v instanceof Set) return `set(${[...v].map(stable).sort().join(',')})`;
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v instanceof Uint8Array) return `bin(${Buffer.from(v).toString('base64')})`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}
/** The row's content, without the mark the mover leaves on what it writes. */
export const itemHash = (item: Record<string, unknown>) => {
  const { [MOVE_ATTR]: _mark, ...row } = item;
  return createHash('sha1').update(stable(row)).digest('hex').slice(0, 16);
};

/** The key of a row from its `rowKey`. */
export function keyOfRowKey(entity: Entity, k: string): Record<string, unknown> {
  const def = TABLES[entity];
  const [pk, sk] = k.split('\u0000');
  return { [def.partitionKey.name]: pk, ...(def.sortKey && { [def.sortKey.name]: sk }) };
}
