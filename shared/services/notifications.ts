// Batched notifications. Events (a new follower; a new post by a followed author) are accumulated
// per recipient and window in DynamoDB — string sets of event ids, so a redelivered event never
// counts twice — and when the window closes the BatchedNotification workflow composes one digest
// per recipient ("alice and 12 others posted"). Windows are by arrival time: an event is counted
// in the window that is open when it is stored, so a closed window never receives late events.
import murmurhash from 'murmurhash';
import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { batchWrite, db, isConditionFailure } from '../store/client.js';
import { enqueue } from '../messaging/queue.js';
import { config } from '../edge/config.js';
import { decodeCursor, encodeCursor } from '../domain/cursor.js';
import { BadRequestError } from '../domain/errors.js';
import { idAt, isId, logicalShardOf } from '../domain/ids.js';
import { keys } from '../store/keys.js';
import { countMetric, METRIC } from '../edge/observability.js';
import { FANOUT_JOB_FOLLOWERS, NOTIFICATION_TTL_SECONDS, NOTIFY_BUCKETS, NOTIFY_COMPOSE_PAGE, NOTIFY_EVENTS_MAX } from '../domain/limits.js';
import { tableName } from '../declarations/tables.js';
import { usersByIds } from './users.js';

export const NotificationEvent = z.strictObject({
  type: z.enum(['follow', 'post']),
  actorId: z.string(),
  postId: z.string().optional(),
  recipients: z.array(z.string()).min(1).max(FANOUT_JOB_FOLLOWERS),
});
export type NotificationEvent = z.infer<typeof NotificationEvent>;

export interface Notification {
  notificationId: string;
  kind: 'digest';
  text: string;
  posts: number;
  follows: number;
  actors: string[];
  windowStart: string;
  createdAt: string;
  read: boolean;
}

const windowSeconds = () => config().FEED_NOTIFICATION_WINDOW_SECONDS;
export const windowOf = (epochSeconds: number) => Math.floor(epochSeconds / windowSeconds()) * windowSeconds();
const bucketOf = (recipientId: string) => murmurhash.v3(recipientId) % NOTIFY_BUCKETS;

/** Queues notification events, FANOUT_JOB_FOLLOWERS recipients per message. */
export async function notify(type: NotificationEvent['type'], actorId: string, recipients: string[], postId?: string): Promise<void> {
  const events: NotificationEvent[] = [];
  for (let i = 0; i < recipients.length; i += FANOUT_JOB_FOLLOWERS) {
    events.push({ type, actorId, ...(postId && { postId }), recipients: recipients.slice(i, i + FANOUT_JOB_FOLLOWERS) });
  }
  await enqueue('notifications', events);
}

/** Adds one event message to each recipient's accumulator of the open window. Set additions are
 *  idempotent; a recipient already holding NOTIFY_EVENTS_MAX events only has its overflow counted. */
export async function accumulate(event: NotificationEvent, nowSeconds = Math.floor(Date.now() / 1000)): Promise<number> {
  const windowStart = windowOf(nowSeconds);
  const eventId = event.type === 'post' ? `post:${event.postId}` : `follow:${event.actorId}`;
  const field = event.type === 'post' ? 'posts' : 'follows';
  const actorsField = event.type === 'post' ? 'postActors' : 'followActors';
  const expiresAt = windowStart + 2 * windowSeconds() + 86_400;
  let stored = 0;
  await Promise.all(
    event.recipients.filter(isId).map(async (recipient) => {
      const { table, key } = keys.notifyAccumulator(windowStart, bucketOf(recipient), recipient);
      try {
        await db().send(
          new UpdateCommand({
            TableName: table,
            Key: key,
            UpdateExpression: `ADD #f :e, #a :actor SET expiresAt = :exp`,
            ConditionExpression: 'attribute_not_exists(#f) OR size(#f) < :max OR contains(#f, :id)',
            ExpressionAttributeNames: { '#f': field, '#a': actorsField },
            ExpressionAttributeValues: { ':e': new Set([eventId]), ':actor': new Set([event.actorId]), ':exp': expiresAt, ':max': NOTIFY_EVENTS_MAX, ':id': eventId },
          }),
        );
        stored++;
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
        await db().send(
          new UpdateCommand({ TableName: table, Key: key, UpdateExpression: 'ADD #o :one', ExpressionAttributeNames: { '#o': `${field}Overflow` }, ExpressionAttributeValues: { ':one': 1 } }),
        );
      }
    }),
  );
  return stored;
}

function plural(n: number, one: string, many: string) {
  return n === 1 ? one : many;
}

/** "alice and 12 others posted · bob followed you" */
export function digestText(posts: { first?: string; count: number }, follows: { first?: string; count: number }): string {
  const part = (p: { first?: string; count: number }, verb: string, verbOne: string) => {
    const who = p.first ?? 'someone';
    return p.count <= 1 ? `${who} ${verbOne}` : `${who} and ${p.count - 1} ${plural(p.count - 1, 'other', 'others')} ${verb}`;
  };
  return [posts.count > 0 && part(posts, 'posted', 'posted'), follows.count > 0 && part(follows, 'followed you', 'followed you')]
    .filter(Boolean)
    .join(' · ');
}

export interface ComposeCursor {
  bucket: number;
  after?: string;
}

/** Composes the digests of one shard's recipients for a closed window, one page at a time;
 *  returns the next cursor or null when the shard is done. Digest ids are derived from the
 *  window and recipient, so composing twice writes the same digest. */
export async function composeDigests(windowStart: number, shard: number, from: ComposeCursor = { bucket: 0 }): Promise<{ next: ComposeCursor | null; digests: number }> {
  let { bucket, after } = from;
  let digests = 0;
  const table = tableName('notifications', shard);
  while (bucket < NOTIFY_BUCKETS && digests < NOTIFY_COMPOSE_PAGE) {
    const res = await db().send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: after ? 'pk = :p AND sk > :a' : 'pk = :p',
        ExpressionAttributeValues: { ':p': `acc#${windowStart}#${bucket}`, ...(after && { ':a': after }) },
        Limit: NOTIFY_COMPOSE_PAGE - digests,
        ConsistentRead: true,
      }),
    );
    const rows = res.Items ?? [];
    if (rows.length > 0) {
      await writeDigests(windowStart, rows);
      digests += rows.length;
      after = rows[rows.length - 1]!.sk as string;
    }
    if (!res.LastEvaluatedKey) {
      bucket++;
      after = undefined;
    }
  }
  countMetric(METRIC.notificationDigests, digests);
  return { next: bucket < NOTIFY_BUCKETS ? { bucket, ...(after && { after }) } : null, digests };
}

async function writeDigests(windowStart: number, rows: Record<string, unknown>[]): Promise<void> {
  const first = (set: unknown) => (set instanceof Set ? ([...set][0] as string | undefined) : undefined);
  const actorIds = [...new Set(rows.flatMap((r) => [first(r.postActors), first(r.followActors)]).filter((a): a is string => !!a))];
  const handles = new Map((await usersByIds(actorIds)).map((u) => [u.userId, u.handle]));
  const windowEnd = (windowStart + windowSeconds()) * 1000;
  const createdAt = new Date(windowEnd).toISOString();
  const expiresAt = windowStart + windowSeconds() + NOTIFICATION_TTL_SECONDS;
  const size = (s: unknown) => (s instanceof Set ? s.size : 0);
  await batchWrite(
    rows.flatMap((r) => {
      const recipient = r.sk as string;
      const posts = size(r.posts) + Number(r.postsOverflow ?? 0);
      const follows = size(r.follows) + Number(r.followsOverflow ?? 0);
      const postActor = first(r.postActors);
      const followActor = first(r.followActors);
      const notificationId = idAt(windowEnd, logicalShardOf(recipient));
      const digest = keys.notification(recipient, notificationId);
      return [
        {
          table: digest.table,
          request: {
            PutRequest: {
              Item: {
                ...digest.key,
                notificationId,
                kind: 'digest',
                text: digestText(
                  { first: postActor && handles.get(postActor), count: posts },
                  { first: followActor && handles.get(followActor), count: follows },
                ),
                posts,
                follows,
                actors: [postActor, followActor].filter(Boolean),
                windowStart: new Date(windowStart * 1000).toISOString(),
                createdAt,
                expiresAt,
              },
            },
          },
        },
        { table: digest.table, request: { DeleteRequest: { Key: { pk: r.pk, sk: r.sk } } } },
      ];
    }),
  );
}

/** A page of the recipient's digests, newest first. */
export async function listNotifications(userId: string, limit: number, cursor?: string): Promise<{ items: Notification[]; nextCursor: string | null }> {
  const scope = `notifications:${userId}`;
  const before = cursor ? decodeCursor<{ before: string }>(scope, cursor).before : undefined;
  const { table, key } = keys.notification(userId, '');
  const [res, readMark] = await Promise.all([
    db().send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: before ? 'pk = :p AND sk < :b' : 'pk = :p',
        ExpressionAttributeValues: { ':p': key.pk, ...(before && { ':b': before }) },
        ScanIndexForward: false,
        Limit: limit + 1,
      }),
    ),
    readUpTo(userId),
  ]);
  const rows = res.Items ?? [];
  const page = rows.slice(0, limit);
  return {
    items: page.map((r) => ({
      notificationId: r.notificationId as string,
      kind: 'digest',
      text: r.text as string,
      posts: Number(r.posts),
      follows: Number(r.follows),
      actors: (r.actors as string[]) ?? [],
      windowStart: r.windowStart as string,
      createdAt: r.createdAt as string,
      read: readMark !== undefined && (r.notificationId as string) <= readMark,
    })),
    nextCursor: rows.length > limit ? encodeCursor(scope, { before: page[page.length - 1]!.notificationId as string }) : null,
  };
}

async function readUpTo(userId: string): Promise<string | undefined> {
  const { table, key } = keys.notificationsRead(userId);
  const res = await db().send(new GetCommand({ TableName: table, Key: key }));
  return res.Item?.upTo as string | undefined;
}

/** Marks every notification up to `upTo` (an id) as read; the mark only moves forward. */
export async function markRead(userId: string, upTo: string): Promise<void> {
  if (!isId(upTo)) throw new BadRequestError('upTo must be a notification id', 'invalid_request');
  const { table, key } = keys.notificationsRead(userId);
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
