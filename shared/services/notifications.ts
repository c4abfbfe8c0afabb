// Batched notifications. Events (a new follower; a new post by a followed author) are accumulated
// per recipient and window in DynamoDB — string sets of event ids, so a redelivered event never
// counts twice — and when the window closes the BatchedNotification workflow composes one digest
// per recipient ("alice and 12 others posted"). Windows are by arrival time: an event is counted
// in the window that is open when it is stored, so a closed window never receives late events.
import pLimit from 'p-limit';
import * as z from 'zod';
import { enqueue } from '../messaging/queue.js';
import { config } from '../edge/config.js';
import { BeforeId, decodeCursor, encodeCursor } from '../domain/cursor.js';
import { composeDigest, digestText, eventIdOf, namedActors, windowStartOf, type Digest, type EventGroup } from '../domain/digest.js';
import { BadRequestError } from '../domain/errors.js';
import { isId } from '../domain/ids.js';
import { countMetric, METRIC } from '../edge/observability.js';
import { FANOUT_JOB_FOLLOWERS, NOTIFICATION_TTL_SECONDS, NOTIFY_ACCUMULATE_CONCURRENCY, NOTIFY_BUCKETS, NOTIFY_COMPOSE_PAGE, NOTIFY_EVENTS_MAX } from '../domain/limits.js';
import * as store from '../store/notifications.js';
import { freshShardMap, tableIndexes } from '../store/shard-map.js';
import { servingRegions, usersByIds } from './users.js';

export { digestText };

export const NotificationEvent = z.strictObject({
  type: z.enum(['follow', 'post']),
  actorId: z.string(),
  postId: z.string().optional(),
  recipients: z.array(z.string()).min(1).max(FANOUT_JOB_FOLLOWERS),
});
export type NotificationEvent = z.infer<typeof NotificationEvent>;

export interface Notification extends Digest {
  read: boolean;
}

const windowSeconds = () => config().FEED_NOTIFICATION_WINDOW_SECONDS;
export const windowOf = (epochSeconds: number) => windowStartOf(epochSeconds, windowSeconds());

/** Queues notification events, FANOUT_JOB_FOLLOWERS recipients per message. */
export async function notify(type: NotificationEvent['type'], actorId: string, recipients: string[], postId?: string): Promise<void> {
  const events: NotificationEvent[] = [];
  for (let i = 0; i < recipients.length; i += FANOUT_JOB_FOLLOWERS) {
    events.push({ type, actorId, ...(postId && { postId }), recipients: recipients.slice(i, i + FANOUT_JOB_FOLLOWERS) });
  }
  await enqueue('notifications', events);
}

/** Adds one event message to each recipient's accumulator of the open window,
 *  NOTIFY_ACCUMULATE_CONCURRENCY updates at a time. Set additions are idempotent; a recipient
 *  already holding NOTIFY_EVENTS_MAX events only has its overflow counted. */
export async function accumulate(event: NotificationEvent, nowSeconds = Math.floor(Date.now() / 1000)): Promise<number> {
  const windowStart = windowOf(nowSeconds);
  const stored = { type: event.type, eventId: eventIdOf(event.type, event.actorId, event.postId), actorId: event.actorId };
  // Kept a day past the window after the one it closes in, so a late compose still finds it.
  const opts = { max: NOTIFY_EVENTS_MAX, expiresAt: windowStart + 2 * windowSeconds() + 86_400 };
  // A recipient served by another region (a follow made here of a user homed there) has the
  // event stored in that region's tables: their notifications are their home data.
  const recipients = event.recipients.filter(isId);
  const regions = await servingRegions(recipients);
  const limit = pLimit(NOTIFY_ACCUMULATE_CONCURRENCY);
  const results = await Promise.all(recipients.map((recipient) => limit(() => store.addToAccumulator(windowStart, recipient, stored, { ...opts, region: regions.get(recipient) }))));
  return results.filter(Boolean).length;
}

export interface ComposeCursor {
  bucket: number;
  after?: string;
}

/** Composes the digests of one shard's recipients for a closed window, one page at a time;
 *  returns the next cursor or null when the shard is done. Digest ids are derived from the
 *  window and recipient, so composing twice writes the same digest. */
/** The notifications tables a window's digests are composed from: every table of the shard map
 *  (accumulators stay in the table they were written to, also when a reshard moves logical
 *  shards away from it). */
export async function notificationShards(): Promise<number[]> {
  await freshShardMap();
  return tableIndexes();
}

export async function composeDigests(windowStart: number, shard: number, from: ComposeCursor = { bucket: 0 }): Promise<{ next: ComposeCursor | null; digests: number }> {
  let { bucket, after } = from;
  let digests = 0;
  while (bucket < NOTIFY_BUCKETS && digests < NOTIFY_COMPOSE_PAGE) {
    const { groups, more } = await store.accumulatorPage(shard, windowStart, bucket, NOTIFY_COMPOSE_PAGE - digests, after);
    if (groups.length > 0) {
      await writeDigests(windowStart, groups);
      digests += groups.length;
      after = groups[groups.length - 1]!.recipientId;
    }
    if (!more) {
      bucket++;
      after = undefined;
    }
  }
  countMetric(METRIC.notificationDigests, digests);
  return { next: bucket < NOTIFY_BUCKETS ? { bucket, ...(after && { after }) } : null, digests };
}

async function writeDigests(windowStart: number, groups: EventGroup[]): Promise<void> {
  const handles = new Map((await usersByIds(namedActors(groups))).map((u) => [u.userId, u.handle]));
  const expiresAt = windowStart + windowSeconds() + NOTIFICATION_TTL_SECONDS;
  await store.saveDigests(
    windowStart,
    groups.map((g) => ({ recipientId: g.recipientId, digest: composeDigest(g, handles, windowStart, windowSeconds()), expiresAt })),
  );
}

/** A page of the recipient's digests, newest first. */
export async function listNotifications(userId: string, limit: number, cursor?: string): Promise<{ items: Notification[]; nextCursor: string | null }> {
  const scope = `notifications:${userId}`;
  const before = cursor ? decodeCursor(scope, cursor, BeforeId).before : undefined;
  const [{ digests, more }, mark] = await Promise.all([store.digestPage(userId, limit, before), store.readMark(userId)]);
  return {
    items: digests.map((d) => ({ ...d, read: mark !== undefined && d.notificationId <= mark })),
    nextCursor: more ? encodeCursor(scope, { before: digests[digests.length - 1]!.notificationId }) : null,
  };
}

/** Marks every notification up to `upTo` (an id) as read; the mark only moves forward. */
export async function markRead(userId: string, upTo: string): Promise<void> {
  if (!isId(upTo)) throw new BadRequestError('upTo must be a notification id', 'invalid_request');
  await store.advanceReadMark(userId, upTo);
}
