// Precomputed home feeds: entries (owner, postId) written by fan-out and follow backfill, capped
// at FEED_MAX_ENTRIES and expiring after FEED_ENTRY_TTL_SECONDS. Reads hydrate entries from the
// posts tables, so a deleted post vanishes from every feed at once; its entry is removed lazily.
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { batchWrite, db, type TableWrite } from '../store/client.js';
import { config } from '../edge/config.js';
import { decodeCursor, encodeCursor } from '../domain/cursor.js';
import { feedsTable, keys } from '../store/keys.js';
import { FEED_ENTRY_TTL_SECONDS, FEED_MAX_ENTRIES } from '../domain/limits.js';
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
  /** Entries served so far: the precomputed part ends at FEED_MAX_ENTRIES. */
  served: number;
}

/** Pushed entries older than `before`, hydrated; dangling entries (deleted posts) are dropped
 *  and deleted. `exhausted` when the precomputed feed has nothing more. */
async function pushedPosts(userId: string, want: number, before?: string, cleanup = true): Promise<{ posts: Post[]; exhausted: boolean }> {
  const posts: Post[] = [];
  let exhausted = want === 0;
  while (posts.length < want) {
    const batch = await queryEntries(userId, want - posts.length, before);
    if (batch.entries.length === 0) {
      exhausted = true;
      break;
    }
    const found = await postsByIds(batch.entries.map((e) => e.postId));
    const dangling = batch.entries.filter((e) => !found.has(e.postId));
    if (cleanup && dangling.length > 0) await removeFromFeedsOf(userId, dangling.map((e) => e.postId));
    for (const e of batch.entries) {
      const post = found.get(e.postId);
      if (post) posts.push(post);
    }
    before = batch.entries[batch.entries.length - 1]!.postId;
    if (batch.exhausted) {
      exhausted = true;
      break;
    }
  }
  return { posts, exhausted };
}

/** Where a feed pulls from at read time: the high-tier authors the reader follows, and, once the
 *  precomputed feed is used up, the followed authors themselves (history). */
export interface PullSources {
  highTier(userId: string): Promise<string[]>;
  following(userId: string): Promise<string[]>;
  /** Up to `count` posts of the author older than `before`, newest first; `highTier` when the
   *  author is one of highTier()'s. */
  recentPosts(authorId: string, count: number, before?: string, highTier?: boolean): Promise<Post[]>;
}

/** A page of the caller's feed, newest first: their pushed entries merged with posts pulled from
 *  the celebrities and mega-celebrities they follow, duplicates removed; past the end of the
 *  precomputed feed it continues from the followed authors' own posts, so history has no hole.
 *  The cursor is the last post id served, so posts arriving meanwhile (newer ids) never shift a
 *  page: no entry repeats or is skipped. */
export async function readFeed(userId: string, limit: number, cursor?: string, sources?: PullSources): Promise<PostPage> {
  return (await readFeedPage(userId, limit, cursor, sources)).page;
}

/** readFeed, also telling which high-tier authors the page pulled from (what a cached copy of
 *  it depends on). */
export async function readFeedPage(
  userId: string,
  limit: number,
  cursor?: string,
  sources?: PullSources,
  opts: { cleanup?: boolean } = {},
): Promise<{ page: PostPage; pulled: string[] }> {
  const scope = `feed:${userId}`;
  const pos = cursor ? decodeCursor<FeedPosition>(scope, cursor) : undefined;
  const served = pos?.served ?? 0;
  const before = pos?.before;
  const want = limit + 1;
  const pushed = await pushedPosts(userId, Math.min(want, Math.max(0, FEED_MAX_ENTRIES - served)), before, opts.cleanup ?? true);
  const candidates = [...pushed.posts];
  const pulledFrom: string[] = [];
  if (sources) {
    const highTier = new Set(await sources.highTier(userId));
    pulledFrom.push(...highTier);
    const authors = new Set(highTier);
    if (pushed.exhausted) for (const a of await sources.following(userId)) authors.add(a);
    const pulled = await Promise.all([...authors].map((a) => sources.recentPosts(a, want, before, highTier.has(a))));
    candidates.push(...pulled.flat());
  }
  const unique = new Map<string, Post>();
  for (const p of candidates) if (!before || p.postId < before) unique.set(p.postId, p);
  const items = [...unique.values()].sort((a, b) => (a.postId < b.postId ? 1 : -1)).slice(0, want);
  const page = items.slice(0, limit);
  const more = items.length > limit;
  return {
    page: {
      items: page,
      nextCursor: more ? encodeCursor(scope, { before: page[page.length - 1]!.postId, served: served + page.length }) : null,
    },
    pulled: pulledFrom,
  };
}

async function removeFromFeedsOf(userId: string, postIds: string[]): Promise<void> {
  await batchWrite(postIds.map((p) => ({ table: feedsTable(userId), request: { DeleteRequest: { Key: { userId, postId: p } } } })));
}

/** A cached first page of `userId`'s feed with `newer` posts merged in, as generating it afresh
 *  would give: newest first, no duplicates, at most `limit` items. A post older than the page's
 *  last item belongs on a later page (read from DynamoDB, not cached) and is left out; items
 *  pushed off the end reappear on the next page, since the cursor is the last item kept. */
export function mergeIntoFirstPage(userId: string, page: PostPage, limit: number, newer: Post[]): PostPage {
  const last = page.nextCursor ? page.items[page.items.length - 1]?.postId : undefined;
  const unique = new Map<string, Post>();
  for (const p of page.items) unique.set(p.postId, p);
  let added = 0;
  for (const p of newer) {
    if ((last && p.postId <= last) || unique.has(p.postId)) continue;
    unique.set(p.postId, p);
    added++;
  }
  if (added === 0) return page;
  const items = [...unique.values()].sort((a, b) => (a.postId < b.postId ? 1 : -1));
  if (items.length <= limit) return { items, nextCursor: page.nextCursor };
  const kept = items.slice(0, limit);
  return { items: kept, nextCursor: encodeCursor(`feed:${userId}`, { before: kept[kept.length - 1]!.postId, served: kept.length }) };
}
