// Notification rows: per-window accumulators of each recipient's events (`acc#<window>#<bucket>`,
// string sets of event ids, so a redelivered event never counts twice), composed digests in a
// recipient's list (`ntf#<recipient>`), and how far the recipient has read (`nread#<recipient>`).
import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Digest, EventGroup, NotificationKind } from '../domain/digest.js';
import { batchWrite, db, dbIn, isConditionFailure } from './client.js';
import type { RegionName } from '../domain/regions.js';
import { keys, listings, notifyBucket, parseAccumulatorKey } from './keys.js';

const FIELDS = {
  post: { events: 'posts', actors: 'postActors' },
  follow: { events: 'follows', actors: 'followActors' },
} as const;

/** Adds an event to a recipient's accumulator of a window (in `opts.region`'s tables when another
 *  region serves the recipient), unless it already holds `max` events
 *  of that kind (a set addition is idempotent; then only the overflow is counted). Returns
 *  whether the event was stored. */
export async function addToAccumulator(
  windowStart: number,
  recipientId: string,
  event: { type: NotificationKind; eventId: string; actorId: string },
  opts: { max: number; expiresAt: number; region?: RegionName },
): Promise<boolean> {
  const { table, key } = keys.notifyAccumulator(windowStart, notifyBucket(recipientId), recipientId);
  const field = FIELDS[event.type];
  const client = opts.region ? dbIn(opts.region) : db();
  try {
    await client.send(
      new UpdateCommand({
        TableName: table,
        Key: key,
        UpdateExpression: `ADD #f :e, #a :actor SET expiresAt = :exp`,
        ConditionExpression: 'attribute_not_exists(#f) OR size(#f) < :max OR contains(#f, :id)',
        ExpressionAttributeNames: { '#f': field.events, '#a': field.actors },
        ExpressionAttributeValues: { ':e': new Set([event.eventId]), ':actor': new Set([event.actorId]), ':exp': opts.expiresAt, ':max': opts.max, ':id': event.eventId },
      }),
    );
    return true;
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    await client.send(
      new UpdateCommand({ TableName: table, Key: key, UpdateExpression: 'ADD #o :one', ExpressionAttributeNames: { '#o': `${field.events}Overflow` }, ExpressionAttributeValues: { ':one': 1 } }),
    );
    return false;
  }
}

const first = (set: unknown) => (set instanceof Set ? ([...set][0] as string | undefined) : undefined);
const size = (set: unknown) => (set instanceof Set ? set.size : 0);

function toGroup(row: Record<string, unknown>): EventGroup {
  return {
    recipientId: parseAccumulatorKey({ pk: row.pk as string, sk: row.sk as string }).recipientId,
    posts: size(row.posts) + Number(row.postsOverflow ?? 0),
    follows: size(row.follows) + Number(row.followsOverflow ?? 0),
    postActor: first(row.postActors),
    followActor: first(row.followActors),
  };
}

/** Up to `limit` recipients' groups of one bucket of a window on a shard, after recipient
 *  `after`; `more` when the bucket holds more. Read consistently: the window has just closed. */
export async function accumulatorPage(
  shard: number,
  windowStart: number,
  bucket: number,
  limit: number,
  after?: string,
): Promise<{ groups: EventGroup[]; more: boolean }> {
  const { table, pk } = listings.accumulators(shard, windowStart, bucket);
  const res = await db().send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: after ? 'pk = :p AND sk > :a' : 'pk = :p',
      ExpressionAttributeValues: { ':p': pk, ...(after && { ':a': after }) },
      Limit: limit,
      ConsistentRead: true,
    }),
  );
  return { groups: (res.Items ?? []).map(toGroup), more: !!res.LastEvaluatedKey };
}

/** Writes each recipient's digest and deletes the accumulator it was composed from. */
export async function saveDigests(windowStart: number, digests: { recipientId: string; digest: Digest; expiresAt: number }[]): Promise<void> {
  await batchWrite(
    digests.flatMap(({ recipientId, digest, expiresAt }) => {
      const row = keys.notification(recipientId, digest.notificationId);
      const acc = keys.notifyAccumulator(windowStart, notifyBucket(recipientId), recipientId);
      return [
        { table: row.table, request: { PutRequest: { Item: { ...row.key, ...digest, expiresAt } } } },
        { table: acc.table, request: { DeleteRequest: { Key: acc.key } } },
      ];
    }),
  );
}

/** Up to `limit` of a recipient's digests older than `before` (an id), newest first; `more`
 *  when older ones remain. */
export async function digestPage(recipientId: string, limit: number, before?: string): Promise<{ digests: Digest[]; more: boolean }> {
  const { table, pk } = listings.notifications(recipientId);
  const res = await db().send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: before ? 'pk = :p AND sk < :b' : 'pk = :p',
      ExpressionAttributeValues: { ':p': pk, ...(before && { ':b': before }) },
      ScanIndexForward: false,
      Limit: limit + 1,
    }),
  );
  const rows = res.Items ?? [];
  return {
    digests: rows.slice(0, limit).map((r) => ({
      notificationId: r.notificationId as string,
      kind: 'digest',
      text: r.text as string,
      posts: Number(r.posts),
      follows: Number(r.follows),
      actors: (r.actors as string[]) ?? [],
      windowStart: r.windowStart as string,
      createdAt: r.createdAt as string,
    })),
    more: rows.length > limit,
  };
}

/** The id up to which a recipient has read, if they have. */
export async function readMark(recipientId: string): Promise<string | undefined> {
  const { table, key } = keys.notificationsRead(recipientId);
  const res = await db().send(new GetCommand({ TableName: table, Key: key }));
  return res.Item?.upTo as string | undefined;
}

/** Moves the read mark forward to `upTo`; a mark already past it stays. */
export async function advanceReadMark(recipientId: string, upTo: string): Promise<void> {
  const { table, key } = keys.notificationsRead(recipientId);
  try {
    await db().send(
      new UpdateCommand({
        TableName: table,
        Key: key,
        UpdateExpression: 'SET upTo = :u',
        ConditionExpression: 'attribute_not_exists(upTo) OR upTo < :u',
        ExpressionAttributeValues: { ':u': upTo },
      }),
    );
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
}
