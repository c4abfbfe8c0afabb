// Feed entry rows: (owner, postId) on the owner's shard, with the byAuthor index (authorPost) that
// finds one author's entries in a feed and an expiresAt for DynamoDB's TTL. Writes go through the
// batch helpers; whole-feed reads through the paginated query loop.
import type { Post } from '../domain/post.js';
import { batchWrite, type TableWrite } from './client.js';
import { authorPostKey, keys, listings } from './keys.js';
import { queryAll, queryPages } from './query-all.js';

export interface FeedEntry {
  userId: string;
  postId: string;
  authorId: string;
  authorPost: string;
  expiresAt: number;
}

/** The entry of `post` in `userId`'s feed, expiring `ttlSeconds` after the post was made. */
export function feedEntry(userId: string, post: Pick<Post, 'postId' | 'authorId' | 'createdAt'>, ttlSeconds: number): FeedEntry {
  return {
    userId,
    postId: post.postId,
    authorId: post.authorId,
    authorPost: authorPostKey(post.authorId, post.postId),
    expiresAt: Math.floor(Date.parse(post.createdAt) / 1000) + ttlSeconds,
  };
}

/** The write that stores one entry (for batch writers). */
export const entryWrite = (e: FeedEntry): TableWrite => ({ table: keys.feedEntry(e.userId, e.postId).table, request: { PutRequest: { Item: e } } });
const remove = (userId: string, postId: string): TableWrite => {
  const { table, key } = keys.feedEntry(userId, postId);
  return { table, request: { DeleteRequest: { Key: key } } };
};

/** Writes entries (idempotent: the same entry rewritten is the same entry). */
export async function putEntries(entries: FeedEntry[]): Promise<void> {
  await batchWrite(entries.map(entryWrite));
}

/** Deletes one post's entry from each of these feeds. */
export async function deletePostFromFeeds(postId: string, userIds: string[]): Promise<void> {
  await batchWrite(userIds.map((u) => remove(u, postId)));
}

/** Deletes these posts' entries from one feed. */
export async function deleteEntries(userId: string, postIds: string[]): Promise<void> {
  await batchWrite(postIds.map((p) => remove(userId, p)));
}

/** Deletes every entry of one author from a feed, a page at a time; returns how many. */
export async function deleteAuthorEntries(userId: string, authorId: string): Promise<number> {
  const { table, index, prefix } = listings.feedOfAuthor(userId, authorId);
  let removed = 0;
  for await (const items of queryPages({
    TableName: table,
    IndexName: index,
    KeyConditionExpression: 'userId = :u AND begins_with(authorPost, :a)',
    ExpressionAttributeValues: { ':u': userId, ':a': prefix },
    ProjectionExpression: 'userId, postId',
  })) {
    await deleteEntries(userId, items.map((i) => i.postId as string));
    removed += items.length;
  }
  return removed;
}

/** Deletes a feed's entries beyond its newest `keep`; returns how many. */
export async function trimEntries(userId: string, keep: number): Promise<number> {
  const { table } = listings.feed(userId);
  const doomed: string[] = [];
  let seen = 0;
  for await (const items of queryPages({
    TableName: table,
    KeyConditionExpression: 'userId = :u',
    ExpressionAttributeValues: { ':u': userId },
    ProjectionExpression: 'postId',
    ScanIndexForward: false,
  })) {
    for (const item of items) if (++seen > keep) doomed.push(item.postId as string);
  }
  await deleteEntries(userId, doomed);
  return doomed.length;
}

/** Up to `count` unexpired entries of a feed older than `before`, newest first (DynamoDB's TTL
 *  deletion lags by up to 48 hours; DynamoDB Local never deletes). `exhausted` when the feed
 *  ended before `count` were found. */
export async function queryEntries(userId: string, count: number, nowSeconds: number, before?: string): Promise<{ entries: FeedEntry[]; exhausted: boolean }> {
  const { items, exhausted } = await queryAll(
    {
      TableName: listings.feed(userId).table,
      KeyConditionExpression: before ? 'userId = :u AND postId < :b' : 'userId = :u',
      FilterExpression: 'expiresAt > :now',
      ExpressionAttributeValues: { ':u': userId, ':now': nowSeconds, ...(before && { ':b': before }) },
      ScanIndexForward: false,
    },
    count,
  );
  return { entries: items as unknown as FeedEntry[], exhausted };
}
