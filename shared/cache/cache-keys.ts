// The cache key scheme, owned here: every Redis key (and the in-process L1 key) with its TTL and
// the reason for it. Per-user keys put the user id in braces, a Redis Cluster hash tag, so all of
// one user's feed keys live in one slot and the multi-key Lua scripts of l2.ts run on a cluster.

/** Bumped when the serialised page format or the keys' protocol changes: old entries are then never
 *  read, and age out, and containers of the previous release (during a deploy) cannot edit pages
 *  the new protocol reads. v2: window heads kept beside the pages (feedHeads), which every write
 *  of a page must drop. v3: heads read with a plain HGET, so every change of the pages (also one
 *  that finds nothing to edit) must drop them all. */
export const FEED_CACHE_VERSION = 'v3';

/** L2 lifetime of a page written for nobody in particular (FeedCache.put; warmed pages are for
 *  users active in the last hour, readers, and live FEED_L2_ACTIVE_TTL_SECONDS): the design's 15 minutes. Invalidation
 *  keeps pages fresh; the TTL only bounds what a missed invalidation (Redis down at the time) can
 *  leave behind, and a merge whose outcome is unknown drops the pages instead of keeping them. */
export const FEED_L2_TTL_SECONDS = 900;
/** L2 lifetime of the pages of a user who reads: each hit extends their pages' TTL to this. A
 *  reader's next session is hours to days away (gaps are heavy-tailed: many within the hour, a
 *  median of hours to most of a day, some after days), and a page kept current in place (fan-out
 *  merges, pulled authors' posts, invalidation on follows and deletions) is as good after days as
 *  after minutes. 7 days covers ~98% of returns in the bench's session model (6 h: ~41%, 3 days:
 *  ~90%) — as production timeline caches keep every recently active user's timeline in memory.
 *  The cost is memory: ~10 KB per user who read in the last 7 days (the bench reports it). */
export const FEED_L2_ACTIVE_TTL_SECONDS = 7 * 86_400;
/** L2 lifetime of a window's head (feedHeads), at most: kept for the hour a reader is active, the
 *  head saves Redis cutting it from the whole window again on each read (a first page read by a
 *  container whose L1 does not hold it); after that it is cut again, once. Never longer than the
 *  pages it was cut from. */
export const FEED_L2_HEAD_TTL_SECONDS = 3600;
/** Users whose activity (a read, a post) was recorded within this long are "active": warming
 *  and the regeneration after a write are for them. */
export const ACTIVE_RETENTION_SECONDS = 3600;
/** L1 lifetime: 60 s. L1 is per container and only the container that handles a write drops its
 *  entry, so this is the bound on how stale another container's L1 can be. */
export const FEED_L1_TTL_MS = 60_000;
/** Cross-container generation lock. A feed generation takes tens of ms (P95 target for a whole
 *  load is 100 ms); 2 s covers a slow one, and bounds how long waiters wait if the holder dies. */
export const LOCK_TTL_MS = 2_000;
/** Recent posts of an author, kept for pull (celebrities): the design's 24 h for mega-celebrities. */
export const RECENT_POSTS_TTL_SECONDS = 86_400;
/** Recent posts kept per author: a merged first page (at most 100 items) never needs more. */
export const RECENT_POSTS_MAX = 100;

/** Time compression of the cache's lifetimes (TTLs, the active window), for a benchmark that
 *  plays a day in a couple of minutes: every lifetime below is divided by it. 1 in production. */
let timeScale = 1;
export function setCacheTimeScale(scale: number): void {
  if (!(scale >= 1)) throw new Error('the cache time scale must be at least 1');
  timeScale = scale;
}
/** A lifetime in seconds, compressed by the time scale (fractional when compressed). */
export const scaledSeconds = (seconds: number): number => seconds / timeScale;
/** A lifetime in ms, compressed by the time scale. */
export const scaledMs = (ms: number): number => Math.max(1, Math.round(ms / timeScale));

/**
 * The cached variant of a feed page: the first page of a size, with the window of the next pages
 * after it (shared/services/home-feed.ts). Pages are not cached on their own: a deeper page is
 * addressed by a signed positional cursor unique to one reader's scroll, so it would almost never
 * be hit again and would need its own invalidation; the window is one entry, kept current in
 * place with its first page. Pages past the window are read from DynamoDB.
 */
export const feedVariant = (limit: number): string => `first:${limit}`;
/** The pages past a cached window, as the read that went past it kept them (variant of the same
 *  hash, so every invalidation drops them with the window; shared/domain/feed-continuation.ts). */
export const continuationVariant = (limit: number): string => `next:${limit}`;
/** The page size of a feedVariant (undefined for anything else). */
export const limitOfVariant = (variant: string): number | undefined => {
  const m = /^first:(\d+)$/.exec(variant);
  return m ? Number(m[1]) : undefined;
};

export const cacheKeys = {
  /** Hash of a user's cached first pages, one field per variant: invalidation is one DEL. */
  feedPages: (userId: string) => `feed:{${userId}}:${FEED_CACHE_VERSION}`,
  /** Hash of the heads of a user's cached windows, one field per variant (feed-cache.ts,
   *  WINDOW_HEAD): cut from the window by the first read that wants one, read with a plain HGET
   *  after that, and dropped by every write of that window and every change of the user's pages,
   *  so a head is always current. Lives FEED_L2_HEAD_TTL_SECONDS, at most as long as the pages. */
  feedHeads: (userId: string) => `feed:{${userId}}:${FEED_CACHE_VERSION}:heads`,
  /** Invalidation epoch of a user's feed, a fresh random value on each invalidation. A writer
   *  that read another epoch before generating lost a race with an invalidation and must not
   *  write its (stale) page. Lives FEED_L2_TTL_SECONDS, far longer than any generation. */
  feedEpoch: (userId: string) => `feed:{${userId}}:${FEED_CACHE_VERSION}:epoch`,
  /** Generation lock of one variant (not the whole user: two page sizes need not wait on each
   *  other), held LOCK_TTL_MS by the container that generates it. */
  feedLock: (userId: string, variant: string) => `lock:feed:{${userId}}:${variant}`,
  /** The L1 key of one cached page (in-process only; same shape as a flat Redis key). */
  feedL1: (userId: string, variant: string) => `feed:{${userId}}:${FEED_CACHE_VERSION}:${variant}`,
  /** A high-tier author's newest posts (JSON, newest first, capped at RECENT_POSTS_MAX), for
   *  pull. TTL RECENT_POSTS_TTL_SECONDS, refreshed on every post. */
  recentPosts: (authorId: string) => `recent:{${authorId}}`,
  /** Sorted set: member a high-tier author, score the time (ms) of their last post. Readers rank
   *  the authors they pull by it, and cached pages are stale once an author in them posts again. */
  lastPost: 'lastpost',
  /** Sorted set: member a deleted post id, score the time (ms) of deletion; kept
   *  FEED_L2_TTL_SECONDS, until the removal fan-out has dropped the pages that pushed it. */
  deleted: 'deleted',
  /** The same for posts of authors readers pull from (high tier), kept as long as a cached page
   *  can live (FEED_L2_ACTIVE_TTL_SECONDS): nothing drops the pages that pulled them. */
  deletedPulled: 'deleted:pulled',
  /** Sorted set: member a user, score the time (s) of their last recorded activity; kept one
   *  hour, it tells which followers' feeds to regenerate right after a fan-out write. */
  active: 'active',
  /** Token bucket of one rate-limit bucket and subject (shared/edge/rate-limit.ts); lives as long
   *  as the bucket takes to refill, after which a missing key reads as a full bucket. */
  rateLimit: (bucket: string, subject: string) => `rate:{${subject}}:${bucket}`,
} as const;

/** The hash tag of a key (the text inside its first braces), i.e. the user id of a feed key. */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}
