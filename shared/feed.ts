// Precomputed home feeds: entries (owner, postId) written by fan-out and follow backfill, capped
// at FEED_MAX_ENTRIES and expiring after FEED_ENTRY_TTL_SECONDS. Reads hydrate entries from the
// posts tables, so a deleted post vanishes from every feed at once; its entry is removed lazily.
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { batchWrite, db, type TableWrite } from './adapters/dynamodb.js';
import { config } from './config.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { feedsTable, keys } from './keys.js';
import { FEED_ENTRY_TTL_SECONDS, FEED_MAX_ENTRIES } from './limits.js';
import { postsByIds, queryAuthorPosts, type Post, type PostPage } from './posts.js';

export interface FeedEntry {
  userId: string;
  postId: string;
  authorId: string;
  authorPost: string;
  expiresAt: number;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

export function feedEntry(userId: string, post: Pick<Post, 'postId' | 'authorId' | 'createdAt'>): FeedEntry {
  return {
    userId,
    postId: post.postId,
    authorId: post.authorId,
    authorPost: `${post.authorId}#${post.postId}`,
    expiresAt: Math.floor(Date.parse(post.createdAt) / 1000) + FEED_ENTRY_TTL_SECONDS,
  };
}

/** Puts one post into many feeds (idempotent: the same entry rewritten is the same entry).
 *  Entries that would already be expired are skipped. Returns the entries written. */
export async function addToFeeds(post: Pick<Post, 'postId' | 'authorId' | 'createdAt'>, userIds: string[]): Promise<number> {
  const entries = userIds.map((u) => feedEntry(u, post)).filter((e) => e.expiresAt > nowSeconds());
  await batchWrite(entries.map((e) => ({ table: feedsTable(e.userId), request: { PutRequest: { Item: e } } })));
  return entries.length;
}

export async function removeFromFeeds(postId: string, userIds: string[]): Promise<void> {
  await batchWrite(userIds.map((u) => ({ table: keys.feedEntry(u, postId).table, request: { DeleteRequest: { Key: keys.feedEntry(u, postId).key } } })));
}

/** Copies an author's latest posts (FEED_FOLLOW_BACKFILL) into a new follower's feed. */
export async function backfill(userId: string, authorId: string): Promise<number> {
  const count = config().FEED_FOLLOW_BACKFILL;
  if (count === 0) return 0;
  const posts = await queryAuthorPosts(authorId, count);
  const entries = posts.map((p) => feedEntry(userId, p)).filter((e) => e.expiresAt > nowSeconds());
  await batchWrite(entries.map((e) => ({ table: feedsTable(userId), request: { PutRequest: { Item: e } } })));
  return entries.length;
}

/** Removes every entry of one author from a user's feed (after an unfollow). */
export async function removeAuthorFromFeed(userId: string, authorId: string): Promise<number> {
  let removed = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const out = await db().send(
      new QueryCommand({
        TableName: feedsTable(userId),
        IndexName: 'byAuthor',
        KeyConditionExpression: 'userId = :u AND begins_with(authorPost, :a)',
        ExpressionAttributeValues: { ':u': userId, ':a': `${authorId}#` },
        ProjectionExpression: 'userId, postId',
        ExclusiveStartKey: start,
      }),
    );
    const items = out.Items ?? [];
    await batchWrite(items.map((i) => ({ table: feedsTable(userId), request: { DeleteRequest: { Key: { userId, postId: i.postId } } } })));
    removed += items.length;
    start = out.LastEvaluatedKey;
  } while (start);
  return removed;
}

/** Deletes a feed's entries beyond the newest FEED_MAX_ENTRIES. */
export async function trimFeed(userId: string): Promise<number> {
  const doomed: TableWrite[] = [];
  let seen = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const out = await db().send(
      new QueryCommand({
        TableName: feedsTable(userId),
        KeyConditionExpression: 'userId = :u',
        ExpressionAttributeValues: { ':u': userId },
        ProjectionExpression: 'postId',
        ScanIndexForward: false,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of out.Items ?? []) {
      if (++seen > FEED_MAX_ENTRIES) {
        doomed.push({ table: feedsTable(userId), request: { DeleteRequest: { Key: { userId, postId: item.postId } } } });
      }
    }
    start = out.LastEvaluatedKey;
  } while (start);
  await batchWrite(doomed);
  return doomed.length;
}

/** Entries of a feed older than `before`, newest first, skipping expired ones (DynamoDB's TTL
 *  deletion lags by up to 48 hours; DynamoDB Local never deletes). */
async function queryEntries(userId: string, count: number, before?: string): Promise<{ entries: FeedEntry[]; exhausted: boolean }> {
  const entries: FeedEntry[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await db().send(
      new QueryCommand({
        TableName: feedsTable(userId),
        KeyConditionExpression: before ? 'userId = :u AND postId < :b' : 'userId = :u',
        FilterExpression: 'expiresAt > :now',
        ExpressionAttributeValues: { ':u': userId, ':now': nowSeconds(), ...(before && { ':b': before }) },
        ScanIndexForward: false,
        Limit: count - entries.length,
        ExclusiveStartKey: start,
      }),
    );
    entries.push(...((out.Items ?? []) as FeedEntry[]));
    start = out.LastEvaluatedKey;
  } while (start && entries.length < count);
  return { entries, exhausted: !start && entries.length < count };
}

interface FeedPosition extends Record<string, unknown> {
  /** The last post id served. */
  before: string;
  /** Entries served so far: the feed ends at FEED_MAX_ENTRIES. */
  served: number;
}

/** A page of the caller's feed, newest first. The cursor is the last post id served, so posts
 *  arriving meanwhile (newer ids) never shift a page: no entry repeats or is skipped. */
export async function readFeed(userId: string, limit: number, cursor?: string): Promise<PostPage> {
  const scope = `feed:${userId}`;
  const pos = cursor ? decodeCursor<FeedPosition>(scope, cursor) : undefined;
  const served = pos?.served ?? 0;
  const want = Math.min(limit + 1, FEED_MAX_ENTRIES - served);
  const items: Post[] = [];
  let before = pos?.before;
  while (items.length < want) {
    const { entries, exhausted } = await queryEntries(userId, want - items.length, before);
    if (entries.length === 0) break;
    const posts = await postsByIds(entries.map((e) => e.postId));
    const dangling = entries.filter((e) => !posts.has(e.postId));
    if (dangling.length > 0) await removeFromFeedsOf(userId, dangling.map((e) => e.postId));
    for (const e of entries) {
      const post = posts.get(e.postId);
      if (post) items.push(post);
    }
    before = entries[entries.length - 1]!.postId;
    if (exhausted) break;
  }
  const page = items.slice(0, limit);
  const more = items.length > limit;
  return {
    items: page,
    nextCursor: more ? encodeCursor(scope, { before: page[page.length - 1]!.postId, served: served + page.length }) : null,
  };
}

async function removeFromFeedsOf(userId: string, postIds: string[]): Promise<void> {
  await batchWrite(postIds.map((p) => ({ table: feedsTable(userId), request: { DeleteRequest: { Key: { userId, postId: p } } } })));
}
