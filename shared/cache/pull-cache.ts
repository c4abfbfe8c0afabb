// The Redis side of pull and freshness. High-tier authors' recent posts are cached per author for
// readers to pull (each region caches the posts replicated to it). Two small
// sorted sets make cached feed pages safe to serve: `lastpost` (a high-tier author posted) and
// `deleted` (a post was deleted). Each process mirrors both at most once a second, so checking a
// cached page — even an L1 hit — costs no round trip, and a page is never served more than about
// a second after an author it pulls from posted or one of its posts was deleted.
import { config } from '../edge/config.js';
import type { Post } from '../services/posts.js';
import { ACTIVE_RETENTION_SECONDS, cacheKeys, FEED_L2_ACTIVE_TTL_SECONDS, FEED_L2_TTL_SECONDS, RECENT_POSTS_MAX, RECENT_POSTS_TTL_SECONDS, scaledSeconds } from './cache-keys.js';
import { l2, type L2Cache } from './l2.js';

const SYNC_EVERY_MS = 1000;
/** The active window, and how long a pulled post's deletion is remembered (as long as a cached
 *  page can live). */
const activeRetention = () => scaledSeconds(ACTIVE_RETENTION_SECONDS);
const deletedRetentionMs = () => scaledSeconds(FEED_L2_ACTIVE_TTL_SECONDS) * 1000;

const serialize = (p: Post) => JSON.stringify({ postId: p.postId, authorId: p.authorId, content: p.content, createdAt: p.createdAt });

/** The region's own cache: each region records the public posts it receives (its replica of the
 *  posts tables streams them to its own router), so no region writes another's Redis. */
const everyRegion = (): L2Cache[] => [l2()];

/** Caches a high-tier author's new post for pull, in every region's cache. */
export async function recordRecentPost(post: Post): Promise<void> {
  const key = cacheKeys.recentPosts(post.authorId);
  mirror.lastPost.set(post.authorId, Date.now());
  mirror.version++;
  await Promise.all(
    everyRegion().map((cache) =>
      cache.command((r) =>
        r
          .multi()
          .lpush(key, serialize(post))
          .ltrim(key, 0, RECENT_POSTS_MAX - 1)
          .expire(key, RECENT_POSTS_TTL_SECONDS)
          // Scored with the time of recording, which is after the post was stored: a page
          // generated before this moment may lack the post and is refused, one generated after
          // it read the post.
          .zadd(cacheKeys.lastPost, Date.now(), post.authorId)
          .exec(),
      ),
    ),
  );
}

/** KEYS recent list, deleted, deleted:pulled, lastpost; ARGV post json, post id, now ms, short
 *  retention ms, long retention ms, author. Takes the post out of its author's recent list and
 *  into `deleted`; a post of an author readers pull from (a recent list or a last post recorded)
 *  also into `deleted:pulled`, kept as long as a reader's page lives. */
const RECORD_DELETION = `
local pulled = redis.call('EXISTS', KEYS[1]) == 1 or redis.call('ZSCORE', KEYS[4], ARGV[6])
redis.call('LREM', KEYS[1], 0, ARGV[1])
local now = tonumber(ARGV[3])
redis.call('ZADD', KEYS[2], now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], 0, now - tonumber(ARGV[4]))
if pulled then
  redis.call('ZADD', KEYS[3], now, ARGV[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], 0, now - tonumber(ARGV[5]))
end
return 1`;

/**
 * Forgets a deleted post: out of its author's recent list, into the `deleted` set. A pushed post's
 * cached pages are dropped by its removal fan-out within seconds, so `deleted` covers the moments
 * in between for FEED_L2_TTL_SECONDS; a pulled (high-tier) post sits in pages nobody drops, so it
 * is remembered in `deleted:pulled` as long as a reader's page lives (FEED_L2_ACTIVE_TTL_SECONDS).
 * Every process mirrors both: the long-lived set holds only the few high-tier deletions.
 */
export async function recordDeletion(post: Post): Promise<void> {
  const now = Date.now();
  mirror.deleted.add(post.postId);
  mirror.version++;
  await Promise.all(
    everyRegion().map((cache) =>
      cache.command((r) =>
        r.eval(
          RECORD_DELETION,
          4,
          cacheKeys.recentPosts(post.authorId),
          cacheKeys.deleted,
          cacheKeys.deletedPulled,
          cacheKeys.lastPost,
          serialize(post),
          post.postId,
          now,
          scaledSeconds(FEED_L2_TTL_SECONDS) * 1000,
          deletedRetentionMs(),
          post.authorId,
        ),
      ),
    ),
  );
}

/** The last element of a recent-posts list that holds all of its author's posts (fewer than
 *  RECENT_POSTS_MAX); without it, the list holds only the newest ones. */
const COMPLETE = '~complete';

/** Up to `count` cached posts of the author older than `before`; undefined when the cache cannot
 *  answer in full (missing list, or fewer posts than asked in a list that is not complete), so
 *  the caller reads DynamoDB. */
export async function cachedRecentPosts(authorId: string, count: number, before?: string): Promise<Post[] | undefined> {
  const raw = await l2().command((r) => r.lrange(cacheKeys.recentPosts(authorId), 0, RECENT_POSTS_MAX));
  if (!raw || raw.length === 0) return undefined;
  const { posts: all, complete } = decodeRecent(raw);
  const posts = before ? all.filter((p) => p.postId < before) : all;
  return posts.length >= count || complete ? posts.slice(0, count) : undefined;
}

/** A recent-posts list's posts, and whether it ends with the COMPLETE mark. */
function decodeRecent(raw: string[]): { posts: Post[]; complete: boolean } {
  const complete = raw[raw.length - 1] === COMPLETE;
  return { posts: (complete ? raw.slice(0, -1) : raw).map((s) => JSON.parse(s) as Post), complete };
}

/** KEYS recent list, lastpost, deleted; ARGV author, not-before ms, ttl s, max, complete (1/0),
 *  then (postId, json) pairs, newest first. Appends the posts older than the list's oldest (all,
 *  if there is no list) up to `max`, and the COMPLETE mark when that took every post of the
 *  author; skips posts deleted meanwhile, and does nothing if the author posted after not-before
 *  (the posts read may lack that post) or the list is complete already. → posts appended. */
const FILL_RECENT = `
local last = redis.call('ZSCORE', KEYS[2], ARGV[1])
if last and tonumber(last) > tonumber(ARGV[2]) then return 0 end
local n = redis.call('LLEN', KEYS[1])
local oldest = false
if n > 0 then
  local tail = redis.call('LINDEX', KEYS[1], -1)
  if tail == '${COMPLETE}' then return 0 end
  oldest = cjson.decode(tail).postId
end
local max = tonumber(ARGV[4])
local added = 0
local full = false
for i = 6, #ARGV, 2 do
  if not oldest or ARGV[i] < oldest then
    if n + added >= max then full = true break end
    if not redis.call('ZSCORE', KEYS[3], ARGV[i]) then
      redis.call('RPUSH', KEYS[1], ARGV[i + 1])
      added = added + 1
    end
  end
end
if ARGV[5] == '1' and not full then redis.call('RPUSH', KEYS[1], '${COMPLETE}') end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return added`;

/** Margin for the posts index to show a new post (a DynamoDB GSI is eventually consistent): a
 *  list is not filled from posts read within this long after the author's last recorded post. */
const FILL_AFTER_POST_MS = 2000;

/**
 * Fills a high-tier author's recent-posts list from their newest posts as read from DynamoDB
 * (`posts`, newest first; `complete` when that is all of them), read starting at `readAt` (ms):
 * the first reader after the list expired (or before it held enough) fills it, and the readers
 * after it pull from Redis instead of querying one hot partition of the posts index each.
 */
export async function fillRecentPosts(authorId: string, posts: Post[], complete: boolean, readAt: number): Promise<void> {
  await l2().command((r) =>
    r.eval(
      FILL_RECENT,
      3,
      cacheKeys.recentPosts(authorId),
      cacheKeys.lastPost,
      cacheKeys.deleted,
      authorId,
      readAt - FILL_AFTER_POST_MS,
      RECENT_POSTS_TTL_SECONDS,
      RECENT_POSTS_MAX,
      complete ? '1' : '0',
      ...posts.flatMap((p) => [p.postId, serialize(p)]),
    ),
  );
}

/** Orders authors by their last post, newest first (unknown ones last, in their given order). */
export async function byRecency(authorIds: string[]): Promise<string[]> {
  if (authorIds.length === 0) return [];
  const scores = await l2().command((r) => r.zmscore(cacheKeys.lastPost, ...authorIds));
  if (!scores) return authorIds;
  return authorIds
    .map((a, i) => ({ a, t: scores[i] ? Number(scores[i]) : -i }))
    .sort((x, y) => y.t - x.t)
    .map((x) => x.a);
}

/** Records a user's activity (they read or posted) for the post-write regeneration. */
export async function recordActive(userId: string, atSeconds: number): Promise<void> {
  await l2().command((r) =>
    r.multi().zadd(cacheKeys.active, atSeconds, userId).zremrangebyscore(cacheKeys.active, 0, atSeconds - activeRetention()).exec(),
  );
}

/** Those of the users active within the last hour. */
export async function activeAmong(userIds: string[]): Promise<string[]> {
  if (userIds.length === 0) return [];
  const scores = await l2().command((r) => r.zmscore(cacheKeys.active, ...userIds));
  if (!scores) return [];
  const since = Date.now() / 1000 - activeRetention();
  return userIds.filter((_, i) => scores[i] !== null && Number(scores[i]) >= since);
}

// The process's mirror of `lastpost` and `deleted`; `version` moves on with every change to them.
const mirror = { syncedAt: 0, version: 0, lastPost: new Map<string, number>(), deleted: new Set<string>() };

async function sync(): Promise<void> {
  const now = Date.now();
  if (now - mirror.syncedAt < SYNC_EVERY_MS) return;
  // First sync: everything a cached page may still need (a reader's page lives
  // FEED_L2_ACTIVE_TTL_SECONDS); then what changed since the last sync.
  const since = mirror.syncedAt === 0 ? now - deletedRetentionMs() : mirror.syncedAt - SYNC_EVERY_MS;
  mirror.syncedAt = now;
  const out = await l2().command((r) =>
    r
      .multi()
      .zrangebyscore(cacheKeys.lastPost, since, '+inf', 'WITHSCORES')
      .zrangebyscore(cacheKeys.deleted, since, '+inf')
      .zrangebyscore(cacheKeys.deletedPulled, since, '+inf')
      .exec(),
  );
  if (!out) return;
  const recent = (out[0]?.[1] as string[]) ?? [];
  const deleted = [...((out[1]?.[1] as string[]) ?? []), ...((out[2]?.[1] as string[]) ?? [])];
  if (recent.length === 0 && deleted.length === 0) return;
  for (let i = 0; i < recent.length; i += 2) mirror.lastPost.set(recent[i]!, Number(recent[i + 1]));
  for (const id of deleted) mirror.deleted.add(id);
  mirror.version++;
}

/** Whether the mirror is due for a sync (checkCachedPage does it; checkSyncedPage does not). */
export const mirrorDue = (): boolean => Date.now() - mirror.syncedAt >= SYNC_EVERY_MS;

/** Brings the process's mirror of new and deleted posts up to date (at most every SYNC_EVERY_MS),
 *  before isDeleted() is asked of a cached page that checkCachedPage does not check. */
export const syncPostMirror = sync;

/** Whether the post was deleted, as of the process's last mirror sync (checkCachedPage syncs). */
export function isDeleted(postId: string): boolean {
  return mirror.deleted.has(postId);
}

/** A cached feed page with what it depends on. */
export interface CachedPage<P> {
  page: P;
  /** The high-tier authors the page pulled from. */
  pulled: string[];
  /** When it was generated (ms). */
  at: number;
}

/** A cached page as it may be served: deleted posts dropped. Or, when high-tier authors it pulled
 *  from have posted since it was generated, those authors (`stale`): their new posts must be
 *  merged in first (see newPostsOf). */
export async function checkCachedPage<P extends { items: Post[] }>(cached: CachedPage<P>): Promise<CheckedPage<P>> {
  await sync();
  return checkSyncedPage(cached);
}

export type CheckedPage<P> = { page: P } | { stale: string[] };

/** Each cached page's last check, with the mirror version it was made against: a hot page is
 *  checked again only when the mirror has changed (a high-tier author posted, a post was
 *  deleted), not on every hit. */
const lastChecks = new WeakMap<object, { version: number; checked: CheckedPage<unknown> }>();

/** checkCachedPage without the sync, for a caller that saw mirrorDue() false: no promise, no
 *  await on the hot path of every cache hit. */
export function checkSyncedPage<P extends { items: Post[] }>(cached: CachedPage<P>): CheckedPage<P> {
  const last = lastChecks.get(cached);
  if (last && last.version === mirror.version) return last.checked as CheckedPage<P>;
  const checked = checkAgainstMirror(cached);
  lastChecks.set(cached, { version: mirror.version, checked });
  return checked;
}

function checkAgainstMirror<P extends { items: Post[] }>(cached: CachedPage<P>): CheckedPage<P> {
  const postedSince = (a: string) => (mirror.lastPost.get(a) ?? 0) > cached.at;
  // `some` first: a stale page is the rare case.
  if (cached.pulled.some(postedSince)) return { stale: cached.pulled.filter(postedSince) };
  const items = cached.page.items.filter((p) => !mirror.deleted.has(p.postId));
  return { page: items.length === cached.page.items.length ? cached.page : { ...cached.page, items } };
}

/** The cached recent posts (RECENT_POSTS_MAX newest) of each author, in one round trip; undefined
 *  when any author's list is missing, so the caller reads DynamoDB instead. */
export async function newPostsOf(authorIds: string[]): Promise<Post[] | undefined> {
  const out = await l2().command((r) => {
    const p = r.pipeline();
    for (const a of authorIds) p.lrange(cacheKeys.recentPosts(a), 0, RECENT_POSTS_MAX - 1);
    return p.exec();
  });
  if (!out) return undefined;
  const posts: Post[] = [];
  for (const [err, raw] of out) {
    if (err || !Array.isArray(raw) || raw.length === 0) return undefined;
    posts.push(...decodeRecent(raw as string[]).posts);
  }
  return posts;
}

/** One page of the users active in the last hour, in activity order; `next` resumes after it. */
export async function activeUsersPage(count: number, after?: { score: number; userId: string }): Promise<{ users: string[]; next?: { score: number; userId: string } }> {
  const since = Math.floor(Date.now() / 1000) - activeRetention();
  const from = after ? after.score : since;
  const raw = await l2().command((r) => r.zrangebyscore(cacheKeys.active, from, '+inf', 'WITHSCORES', 'LIMIT', 0, count + 200));
  if (!raw) return { users: [] };
  const rows: { userId: string; score: number }[] = [];
  for (let i = 0; i < raw.length; i += 2) rows.push({ userId: raw[i]!, score: Number(raw[i + 1]) });
  // Members sharing the cursor's score sort by name: skip those up to the cursor's member.
  const start = after ? rows.findIndex((r) => r.score > after.score || (r.score === after.score && r.userId > after.userId)) : 0;
  const page = start < 0 ? [] : rows.slice(start, start + count);
  const last = page[page.length - 1];
  return { users: page.map((r) => r.userId), next: page.length === count && last ? { score: last.score, userId: last.userId } : undefined };
}
