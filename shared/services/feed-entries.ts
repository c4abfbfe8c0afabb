// Precomputed home feeds: entries (owner, postId) written by fan-out and follow backfill, capped
// at FEED_MAX_ENTRIES and expiring after FEED_ENTRY_TTL_SECONDS. Reads hydrate entries from the
// posts tables, so a deleted post vanishes from every feed at once; its entry is removed lazily.
import { config } from '../edge/config.js';
import type { ContinuationRead, SourceRead } from '../domain/feed-continuation.js';
import { decodeFeedCursor, mergeFeedPage } from '../domain/feed-merge.js';
import { FEED_ENTRY_TTL_SECONDS, FEED_MAX_ENTRIES } from '../domain/limits.js';
import type { Post, PostPage } from '../domain/post.js';
import * as feeds from '../store/feeds.js';
import { postsByIds, queryAuthorPosts } from '../store/posts.js';

export { mergeIntoFirstPage } from '../domain/feed-merge.js';
export type { FeedEntry } from '../store/feeds.js';

const nowSeconds = () => Math.floor(Date.now() / 1000);

export function feedEntry(userId: string, post: Pick<Post, 'postId' | 'authorId' | 'createdAt'>): feeds.FeedEntry {
  return feeds.feedEntry(userId, post, FEED_ENTRY_TTL_SECONDS);
}

/** Puts one post into many feeds (idempotent: the same entry rewritten is the same entry).
 *  Entries that would already be expired are skipped. Returns the entries written. */
export async function addToFeeds(post: Pick<Post, 'postId' | 'authorId' | 'createdAt'>, userIds: string[]): Promise<number> {
  const entries = userIds.map((u) => feedEntry(u, post)).filter((e) => e.expiresAt > nowSeconds());
  await feeds.putEntries(entries);
  return entries.length;
}

export async function removeFromFeeds(postId: string, userIds: string[]): Promise<void> {
  await feeds.deletePostFromFeeds(postId, userIds);
}

/** Copies an author's latest posts (FEED_FOLLOW_BACKFILL) into a new follower's feed; returns
 *  the posts whose entries it wrote (those not already expired), newest first. */
export async function backfill(userId: string, authorId: string): Promise<Post[]> {
  const count = config().FEED_FOLLOW_BACKFILL;
  if (count === 0) return [];
  const now = nowSeconds();
  const posts = (await queryAuthorPosts(authorId, count)).filter((p) => feedEntry(userId, p).expiresAt > now);
  await feeds.putEntries(posts.map((p) => feedEntry(userId, p)));
  return posts;
}

/** Removes every entry of one author from a user's feed (after an unfollow). */
export function removeAuthorFromFeed(userId: string, authorId: string): Promise<number> {
  return feeds.deleteAuthorEntries(userId, authorId);
}

/** Deletes a feed's entries beyond the newest FEED_MAX_ENTRIES. */
export function trimFeed(userId: string): Promise<number> {
  return feeds.trimEntries(userId, FEED_MAX_ENTRIES);
}

/** Pushed entries older than `before`, hydrated; dangling entries (deleted posts) are dropped
 *  and deleted. `exhausted` when the precomputed feed has nothing more. */
async function pushedPosts(userId: string, want: number, before?: string, cleanup = true): Promise<{ posts: Post[]; exhausted: boolean }> {
  const posts: Post[] = [];
  let exhausted = want === 0;
  while (posts.length < want) {
    const batch = await feeds.queryEntries(userId, want - posts.length, nowSeconds(), before);
    if (batch.entries.length === 0) {
      exhausted = true;
      break;
    }
    const found = await postsByIds(batch.entries.map((e) => e.postId));
    const dangling = batch.entries.filter((e) => !found.has(e.postId));
    if (cleanup && dangling.length > 0) await feeds.deleteEntries(userId, dangling.map((e) => e.postId));
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
 *  it depends on) and which posts came from the precomputed feed (the candidates read). */
export async function readFeedPage(
  userId: string,
  limit: number,
  cursor?: string,
  sources?: PullSources,
  opts: { cleanup?: boolean } = {},
): Promise<{ page: PostPage; pulled: string[]; pushed: string[] }> {
  const pos = cursor ? decodeFeedCursor(userId, cursor) : undefined;
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
  return { page: mergeFeedPage(userId, candidates, limit, pos), pulled: pulledFrom, pushed: pushed.posts.map((p) => p.postId) };
}

/** The sources of the feed past `before` that a page of `limit` reads, `depth` items of each, in
 *  the requests readFeedPage sends for that page (a source's request asks for more items, not
 *  more requests), so what comes back also serves the next pages
 *  (shared/domain/feed-continuation.ts). History is read only when this page needs it: read for
 *  a later page's sake, it would cost a request per followed author that may never be repaid. */
export async function readContinuation(userId: string, before: string, limit: number, depth: number, sources: PullSources): Promise<ContinuationRead> {
  const pushed = await pushedPosts(userId, depth, before);
  const highTier = await sources.highTier(userId);
  const read = (authors: string[], high: boolean) =>
    Promise.all(authors.map(async (a): Promise<SourceRead> => {
      const posts = await sources.recentPosts(a, depth, before, high);
      return { posts, cut: posts.length >= depth };
    }));
  const pulled = new Set(highTier);
  const following = pushed.posts.length < limit + 1 ? (await sources.following(userId)).filter((a) => !pulled.has(a)) : undefined;
  const [fromHighTier, history] = await Promise.all([read(highTier, true), following && read(following, false)]);
  return { pushed: { posts: pushed.posts, cut: !pushed.exhausted }, pulled: fromHighTier, ...(history && { history }) };
}
