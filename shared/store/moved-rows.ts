// Rows a reshard moves (shared/local/reshard.ts) are copies: the change that made each one was
// already on the stream of the table that held the row then, and its consumers acted on it there.
// So the mover's own writes must not act again on the way through the target's stream (a copied
// post fanned out again, a celebrity's workflow restarted), nor its deletes of moved rows from
// their old table (`reshard --finish`) read as deletions (a post removed from every feed).
// DynamoDB Streams carry no request metadata, so the mover says so in the row:
//   - every row it puts carries MOVE_ATTR, a mark unique to that write: an INSERT or MODIFY whose
//     new image brings a mark the old image did not have is the mover's; a later write of the
//     service keeps the mark unchanged (an update) or drops it (a put), so it counts as usual;
//   - a REMOVE counts only from the table that holds the row by the shard map: the mover deletes
//     only from tables that do not (the old table after a move, the target before a flip).
// The mark is hidden: every read of the service's client drops it (client.ts), and stream
// consumers never see it in an image (shared/edge/consumers.ts).
import { randomBytes } from 'node:crypto';
import type { DynamoDBRecord } from 'aws-lambda';
import { config } from '../edge/config.js';
import { TABLES, type Entity } from '../declarations/tables.js';
import { logicalShardOfRow } from './keys.js';
import { freshShardMap, setLogicalOfTable, tableOfLogical } from './shard-map.js';

export const MOVE_ATTR = 'rs:move';

/** A fresh mark for one write of the mover. */
export function moveMark(): string {
  return `${Date.now().toString(36)}.${randomBytes(6).toString('hex')}`;
}

/** The entity and shard of a physical table, from its stream's ARN (…:table/<name>/stream/…). */
export function tableOfStreamArn(arn: string | undefined): { entity: Entity; shard: number } | undefined {
  const name = /:table\/([^/]+)\/stream\//.exec(arn ?? '')?.[1];
  const prefix = config().FEED_TABLE_PREFIX;
  if (!name?.startsWith(prefix)) return undefined;
  const m = /^(.+)_(\d+)$/.exec(name.slice(prefix.length));
  const entity = (Object.keys(TABLES) as Entity[]).find((e) => TABLES[e].baseName === m?.[1]);
  return entity && m ? { entity, shard: Number(m[2]) } : undefined;
}

/** Whether a stream record is the mover's write or delete (see above), not the service's. */
export async function isMoverChange(record: DynamoDBRecord): Promise<boolean> {
  const change = record.dynamodb;
  if (record.eventName !== 'REMOVE') {
    const mark = change?.NewImage?.[MOVE_ATTR]?.S;
    return mark !== undefined && mark !== change?.OldImage?.[MOVE_ATTR]?.S;
  }
  const table = tableOfStreamArn(record.eventSourceARN);
  const pk = table && change?.Keys?.[TABLES[table.entity].partitionKey.name]?.S;
  if (!table || pk === undefined) return false;
  const logical = logicalShardOfRow(table.entity, pk, setLogicalOfTable(table.shard));
  if (logical === undefined) return false;
  await freshShardMap();
  return tableOfLogical(logical) !== table.shard;
}

type Row = Record<string, unknown>;

/** Drops the mark from every item a read returned (Item, Items, Attributes, Responses). */
export function hideMoveMarks(output: unknown): void {
  if (typeof output !== 'object' || output === null) return;
  const o = output as { Item?: Row; Items?: Row[]; Attributes?: Row; Responses?: Record<string, Row[]> | { Item?: Row }[] };
  const hide = (item: Row | undefined) => {
    if (item && MOVE_ATTR in item) delete item[MOVE_ATTR];
  };
  hide(o.Item);
  hide(o.Attributes);
  o.Items?.forEach(hide);
  if (Array.isArray(o.Responses)) o.Responses.forEach((r) => hide(r?.Item));
  else if (o.Responses) for (const items of Object.values(o.Responses)) items.forEach(hide);
}
