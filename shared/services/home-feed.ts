// The home feed as readers get it: first pages through the two cache tiers (L1 in-process, L2
// Redis, with coalesced generation). A cached entry is a window of the feed's first few pages
// (read in the same three DynamoDB requests as one page), so the next pages of a session are
// served from it too; pages past the window come from DynamoDB. A cached window never shows a
// deleted post, and is kept current in place rather than regenerated: a fan-out write puts its
// post into the followers' cached windows, and a reader whose window pulled from a high-tier
// author who has posted since gets that author's new posts merged in from the Redis recent-posts
// cache. Follows, unfollows, deletions and tier changes drop the affected feeds from both tiers
// and regenerate them at once for users active in the last hour.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { feedCache, type CacheTier } from '../cache/feed-cache.js';
import { isWindowHead, WINDOW_STAMP, windowStampOf, type Intern } from '../cache/window.js';
import { continuationVariant, feedVariant, limitOfVariant } from '../cache/cache-keys.js';
import { activeAmong, checkCachedPage, checkSyncedPage, isDeleted, mirrorDue, newPostsOf, syncPostMirror, type CachedPage } from '../cache/pull-cache.js';
import { continuationItems, keepContinuation, pageFromContinuation, type Continuation } from '../domain/feed-continuation.js';
import { decodeFeedCursor, mergeFeedPage, type FeedPosition } from '../domain/feed-merge.js';
import { mergeIntoFirstPage, readContinuation, readFeed, readFeedPage, type PullSources } from './feed-entries.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../domain/limits.js';
import type { Post, PostPage } from './posts.js';
import { pullSources } from './pull.js';

/** Where a page came from: a cache tier, or DynamoDB for pages past the cached window. */
export type FeedSource = CacheTier | 'dynamodb';

/** Pages a cached window holds: a session reads one to a few pages, and the window's extra pages
 *  cost no extra request (the feed Query and the BatchGetItem just ask for more items). Four, not
 *  three: pulled posts take places in the window, and a third page is served from it only while a
 *  page and one of pushed entries follow its position (4 × 20 + 1 + 1 = 82 keys, within 100). */
export const WINDOW_PAGES = 4;
/** Items of a window: WINDOW_PAGES pages and one more (a page is served from the window only
 *  when it knows whether more follow), within BatchGetItem's 100 keys (the read asks for one
 *  more item than it keeps). */
const windowItems = (limit: number) => Math.max(limit, Math.min(limit * WINDOW_PAGES + 1, PAGE_LIMIT_MAX - 1));

/** A cached first page and the pages after it. */
interface CachedWindow extends CachedPage<PostPage> {
  /** The items after `page`, newest first, as JSON (parsed only when a deeper page is read, so a
   *  first-page hit parses no more than before). Absent: the entry is a first page only. */
  rest?: string;
  /** The precomputed feed holds more entries than the window: a page of the window needs no
   *  history continuation while enough pushed entries follow it (see pageFromWindow). */
  beyond?: boolean;
  /** Ids of the window's items that were pulled, not read from the precomputed feed. */
  pulledOnly?: string[];
  /** The serialization's stamp (see encodeWindow). */
  s?: string;
  /** Set on a window's head, as a first page's L2 read gives it (WINDOW_HEAD): `rest`, and
   *  any field serialized after it, are missing. */
  head?: 1;
}

/** Every serialized window begins with its stamp (WINDOW_STAMP), so `decode` finds a window it
 *  parsed before by its stamp. Keyed by the whole string, every L2 hit hashed its ~20 KB afresh
 *  (Redis hands out a new string each time): 13% of the read's CPU. L2 compares a window by its
 *  stamp too, when a change replaces it in place. */
const processStamp = randomBytes(6).toString('base64url');
let stamps = 0;

/** The window as cached: stamped first, `rest` last (a first page's L2 read stops there; see
 *  WINDOW_HEAD). */
export function encodeWindow(window: CachedWindow): string {
  const { s: _previous, head: _head, rest, ...fields } = window;
  const s = processStamp + (stamps++).toString(36).padStart(WINDOW_STAMP.length - processStamp.length, '0');
  return JSON.stringify({ s, ...fields, ...(rest !== undefined && { rest }) });
}

/** Which use case a DynamoDB request served, for request accounting: a feed read (a reader is
 *  waiting) or warming (a page generated for a reader expected soon). Entered only where a read
 *  reaches DynamoDB (a generation, a page past the window): on a cache hit, the scope (a copy of
 *  the async context per read) was most of what the read allocated besides its response. */
export const feedWork = new AsyncLocalStorage<'read' | 'warm'>();

/** Generates a first page and the window after it; background regeneration (`cleanup: false`)
 *  leaves dangling entries for the reader's own request to delete, so it never writes tables. */
async function generate(userId: string, limit: number, cleanup = true): Promise<string> {
  const at = Date.now();
  // The window is read without history continuation: whether the feed needs it shows only in
  // how many pushed entries came back.
  let historyAsked = false;
  const noHistory: PullSources = { ...pullSources, following: async () => ((historyAsked = true), []) };
  const read = await readFeedPage(userId, windowItems(limit), undefined, noHistory, { cleanup });
  const highTier = new Set(read.pulled);
  // At least a page and one more of pushed entries: the first page needs no history.
  if (historyAsked && read.pushed.length < limit + 1) {
    // The feed holds less than a page: it continues from the followed authors' own posts (history),
    // as readFeedPage does; what was read already (every pushed entry, the high-tier authors'
    // posts) is not read again.
    const history = (await pullSources.following(userId)).filter((a) => !highTier.has(a));
    const posts = await Promise.all(history.map((a) => pullSources.recentPosts(a, limit + 1)));
    const page = mergeFeedPage(userId, [...read.page.items, ...posts.flat()], limit);
    return encodeWindow({ page, pulled: read.pulled, at });
  }
  const items = read.page.items;
  const page = mergeFeedPage(userId, items, limit);
  const rest = items.slice(limit);
  const pushed = new Set(read.pushed);
  const pulledOnly = items.filter((p) => !pushed.has(p.postId)).map((p) => p.postId);
  const window: CachedWindow = { page, pulled: read.pulled, at, ...(rest.length > 0 && { rest: JSON.stringify(rest), beyond: !historyAsked, pulledOnly }) };
  return encodeWindow(window);
}

/** Recently served cached pages, parsed, with their page's JSON and the string they were parsed
 *  from, by stamp (a window stored without one: by the whole string), so a hot page is parsed
 *  and serialized once, not on every read, whether it comes from L1 or L2. */
const decodedPages = new Map<string, { cached: CachedWindow; json?: string; text: string }>();
const DECODED_PAGES_MAX = 2000;

/** A value's key in decodedPages: its stamp, marked for a head (a window's head and the whole
 *  window share a stamp, not a parse); undefined for a value without one. */
const stampKey = (value: string | Buffer): string | undefined => {
  const stamp = windowStampOf(value);
  return stamp && stamp + (isWindowHead(value) ? 'h' : '');
};

export function decode(value: string): { cached: CachedWindow; json?: string; text: string } {
  const key = stampKey(value) ?? value;
  let decoded = decodedPages.get(key);
  if (!decoded) {
    if (decodedPages.size >= DECODED_PAGES_MAX) decodedPages.delete(decodedPages.keys().next().value!);
    decodedPages.set(key, (decoded = { cached: JSON.parse(value) as CachedWindow, text: value }));
  }
  return decoded;
}

/** A window read from L2 as the string this process decoded it from before, if it did (the
 *  stamp names one serialization, so the two are equal), found by the stamp alone: see Intern. */
export const internWindow: Intern = (value) => {
  const key = stampKey(value);
  const known = key === undefined ? undefined : decodedPages.get(key);
  if (known) return known.text;
  const text = typeof value === 'string' ? value : value.toString('utf8');
  return key === undefined ? text : decode(text).text;
};

/** A first page (from the cache when it can) or a deeper one (from the cached window, else from
 *  DynamoDB). `json` is the page serialized, when it was already: the caller can send it as is. */
export function homeFeed(userId: string, limit: number, cursor?: string): Promise<{ page: PostPage; source: FeedSource; json?: string }> {
  return cursor ? feedWork.run('read', () => deeperPage(userId, limit, cursor)) : firstPage(userId, limit);
}

/** A reader's generation of their first page (see feedWork). */
const generateForReader = (userId: string, limit: number) => feedWork.run('read', () => generate(userId, limit));

async function firstPage(userId: string, limit: number): Promise<{ page: PostPage; source: FeedSource; json?: string }> {
  const variant = feedVariant(limit);
  for (let attempt = 0; ; attempt++) {
    const { value, tier } = await feedCache().getOrGenerate(userId, variant, () => generateForReader(userId, limit), internWindow);
    const decoded = decode(value);
    const cached = decoded.cached;
    const checked = mirrorDue() ? await checkCachedPage(cached) : checkSyncedPage(cached);
    if ('page' in checked) {
      if (checked.page !== cached.page) return { page: checked.page, source: tier };
      decoded.json ??= JSON.stringify(cached.page);
      return { page: cached.page, source: tier, json: decoded.json };
    }
    // Authors it pulled from have posted since: merge their new posts from the recent-posts cache.
    // `at` is taken before the lists are read, so a post recorded after it is merged next time.
    const at = Date.now() - 1;
    const newer = await newPostsOf(checked.stale);
    // The merge keeps the window's size, so it needs the whole window, not a head.
    const whole = newer && (cached.head ? await feedCache().peek(userId, variant, internWindow) : { value });
    if (newer && whole) {
      const full = decode(whole.value).cached;
      const fresh: CachedWindow = { ...(mergeIntoWindow(userId, full, limit, newer, true) ?? full), at };
      const next = encodeWindow(fresh);
      await feedCache().replace(userId, variant, whole.value, next);
      const served = await checkCachedPage(fresh);
      if ('page' in served) return { page: served.page, source: tier };
    }
    // A list is not cached (or more posts keep coming): drop the page and generate afresh (once).
    await feedCache().invalidate(userId);
    if (attempt > 0) return { page: (JSON.parse(await generateForReader(userId, limit)) as CachedWindow).page, source: 'generated' };
  }
}

/** A page after `cursor`: from the cached window when it holds it, else from what the last read
 *  past the window kept, else from DynamoDB (keeping what that read brings for the next pages). */
async function deeperPage(userId: string, limit: number, cursor: string): Promise<{ page: PostPage; source: FeedSource }> {
  const position = decodeFeedCursor(userId, cursor);
  const cached = await feedCache().peek(userId, feedVariant(limit), internWindow);
  const page = cached && (await pageFromWindow(userId, decode(cached.value).cached, limit, position));
  if (page) {
    feedCache().countDeeper(true);
    return { page, source: cached.tier };
  }
  const variant = continuationVariant(limit);
  const kept = await feedCache().peek(userId, variant);
  if (kept) await syncPostMirror();
  const next = kept && pageFromContinuation(userId, JSON.parse(kept.value) as Continuation, limit, position, isDeleted);
  feedCache().countDeeper(next !== undefined);
  if (next) return { page: next, source: kept.tier };
  const depth = continuationItems(limit);
  if (depth <= limit + 1) return { page: await readFeed(userId, limit, cursor, pullSources), source: 'dynamodb' };
  const { result } = await feedCache().keep(userId, variant, async () => {
    const kept = keepContinuation(await readContinuation(userId, position.before, limit, depth, pullSources), limit);
    return { value: JSON.stringify(kept), result: pageFromContinuation(userId, kept, limit, position, () => false) };
  });
  // The read's own page, unless the kept items cannot tell it (a page of 99 or more; near the
  // precomputed feed's cap): then as readFeed gives it.
  return { page: result ?? (await readFeed(userId, limit, cursor, pullSources)), source: 'dynamodb' };
}

/**
 * The page after `position` as DynamoDB would give it, from a cached window; undefined when the
 * window cannot tell: an author it pulled from has posted since, too few items follow the
 * position, or the read would reach past the pushed entries into history continuation (which
 * needs at least a page and one of pushed entries after the position).
 */
async function pageFromWindow(userId: string, cached: CachedWindow, limit: number, position: FeedPosition): Promise<PostPage | undefined> {
  if (cached.rest === undefined) return undefined;
  const checked = await checkCachedPage(cached);
  if (!('page' in checked)) return undefined;
  const pulledOnly = new Set(cached.pulledOnly);
  const older = [...checked.page.items, ...(JSON.parse(cached.rest) as Post[])].filter((p) => p.postId < position.before && !isDeleted(p.postId));
  const pushed = older.filter((p) => !pulledOnly.has(p.postId)).length + (cached.beyond ? 1 : 0);
  if (older.length < limit + 1 || pushed < limit + 1) return undefined;
  return mergeFeedPage(userId, older, limit, position);
}

/**
 * A cached window with `newer` posts merged in, as generating it afresh would give; undefined when
 * nothing was added. A post older than the window's last item belongs past the window (read from
 * DynamoDB) and is left out while the feed holds more; the window keeps its size, and an item
 * pushed off its end is read from DynamoDB with the page it falls on.
 */
function mergeIntoWindow(userId: string, cached: CachedWindow, limit: number, newer: Post[], pulled = false): CachedWindow | undefined {
  if (cached.rest === undefined) {
    const page = mergeIntoFirstPage(userId, cached.page, limit, newer);
    return page === cached.page ? undefined : { ...cached, page };
  }
  const items = [...cached.page.items, ...(JSON.parse(cached.rest) as Post[])];
  const last = items[items.length - 1]!.postId;
  const unique = new Map(items.map((p) => [p.postId, p]));
  let added = 0;
  for (const p of newer) {
    if (p.postId <= last || unique.has(p.postId)) continue;
    unique.set(p.postId, p);
    added++;
  }
  if (added === 0) return undefined;
  const merged = [...unique.values()].sort((a, b) => (a.postId < b.postId ? 1 : -1));
  const kept = merged.slice(0, Math.max(items.length, windowItems(limit)));
  const pulledOnly = new Set(cached.pulledOnly);
  if (pulled) for (const p of newer) if (unique.get(p.postId) === p) pulledOnly.add(p.postId);
  const droppedPushed = merged.slice(kept.length).some((p) => !pulledOnly.has(p.postId));
  const keptIds = new Set(kept.map((p) => p.postId));
  const page = mergeFeedPage(userId, kept, limit);
  return { ...cached, page, rest: JSON.stringify(kept.slice(limit)), beyond: cached.beyond === true || droppedPushed, pulledOnly: [...pulledOnly].filter((id) => keptIds.has(id)) };
}

/** Puts a newly pushed post into these users' cached windows, at both tiers (see
 *  FeedCache.update): their next read is a hit that shows it. A follower active in the last hour
 *  with no cached page (it expired, or a follow dropped it) is likely to read again soon: their
 *  first page is generated now, with the post in it, so that read is a hit too. */
export async function addToCachedFeeds(post: Post, userIds: string[]): Promise<void> {
  const outcomes = await Promise.all(
    userIds.map((u) =>
      feedCache().update(u, (variant, value) => {
        const limit = limitOfVariant(variant);
        if (limit === undefined) return undefined;
        const cached = JSON.parse(value) as CachedWindow;
        const merged = mergeIntoWindow(u, cached, limit, [post]);
        return merged === undefined ? undefined : encodeWindow(merged);
      }),
    ),
  );
  const pageless = userIds.filter((_, i) => outcomes[i] === 'none');
  if (pageless.length > 0) warmCounts.onFanOut += await warmFeeds(await activeAmong(pageless));
}

/**
 * Puts a followed author's backfilled posts (pushed entries, newest first) into the follower's
 * cached windows, at both tiers, as generating them afresh would give them: the follower's next
 * read is a hit that shows the author at once, instead of a regeneration (three DynamoDB
 * requests). Only for an author whose posts are pushed: a celebrity's or mega-celebrity's are
 * pulled at read time, and the windows do not know to pull them (drop the pages instead).
 */
export async function addFollowedToCachedFeeds(userId: string, posts: Post[]): Promise<void> {
  await feedCache().update(userId, (variant, value) => withBackfill(userId, variant, value, posts));
}

/** One cached page with backfilled posts merged in (undefined: unchanged). A window takes them
 *  as new posts (mergeIntoWindow: the older ones are read past it, from the feed); a page that
 *  cannot (null: dropped) is a first page continued from history (a fresh one would ask the new
 *  author's history too, beyond what the backfill wrote) or what a read past the window kept
 *  (backfilled posts may fall inside its range). */
export function withBackfill(userId: string, variant: string, value: string, posts: Post[]): string | null | undefined {
  const limit = limitOfVariant(variant);
  if (limit === undefined) return null;
  const cached = JSON.parse(value) as CachedWindow;
  if (cached.rest === undefined) return null;
  const merged = mergeIntoWindow(userId, cached, limit, posts);
  return merged === undefined ? undefined : encodeWindow(merged);
}

/**
 * Takes a deleted post out of these users' cached windows, at both tiers, as generating them
 * afresh would give them: their next read is a hit with a whole page, where every follower's
 * pages were dropped and an active follower's regenerated (three DynamoDB requests each, for
 * every follower a deletion reached). Until then reads already hide the post (the deletion
 * mirror, pull-cache.ts).
 */
export async function removeFromCachedFeeds(postId: string, userIds: string[]): Promise<void> {
  await Promise.all(userIds.map((u) => feedCache().update(u, (variant, value) => withoutPost(u, variant, value, postId))));
}

/** Takes an unfollowed author's posts out of the user's cached windows (and the author out of
 *  the authors they pull from), at both tiers, after the stored feed lost their entries: the
 *  next read is a hit, where it was a regeneration. */
export async function removeAuthorFromCachedFeeds(userId: string, authorId: string): Promise<void> {
  await feedCache().update(userId, (variant, value) => withoutAuthor(userId, variant, value, authorId));
}

/** One cached page without `postId` (undefined: it did not hold it); see without(). */
export const withoutPost = (userId: string, variant: string, value: string, postId: string): string | null | undefined =>
  without(userId, variant, value, `"${postId}"`, (p) => p.postId === postId);

/** One cached page without `authorId`'s posts, nor the author among those it pulls from
 *  (undefined: it had neither); see without(). */
export const withoutAuthor = (userId: string, variant: string, value: string, authorId: string): string | null | undefined =>
  without(userId, variant, value, `"${authorId}"`, (p) => p.authorId === authorId, authorId);

/** One cached page without the posts `gone` picks (and `author` out of its pulled authors).
 *  `needle` is a string every page concerned holds (a quoted id: ids are unique strings), so a
 *  page without it is left unparsed. A window refills its first page from the items after it; a
 *  page that cannot be refilled that way is dropped (null): a window left with less than a page
 *  and one (what follows comes from DynamoDB), a first page continued from history (a fresh one
 *  would take more posts from it), and what a read past the window kept. */
function without(userId: string, variant: string, value: string, needle: string, gone: (p: Post) => boolean, author?: string): string | null | undefined {
  if (!value.includes(needle)) return undefined;
  const limit = limitOfVariant(variant);
  if (limit === undefined) return null;
  const cached = JSON.parse(value) as CachedWindow;
  if (cached.rest === undefined) return null;
  const items = [...cached.page.items, ...(JSON.parse(cached.rest) as Post[])];
  const kept = items.filter((p) => !gone(p));
  const pulled = author === undefined ? cached.pulled : cached.pulled.filter((a) => a !== author);
  if (kept.length === items.length && pulled.length === cached.pulled.length) return undefined;
  if (kept.length < limit + 1) return null;
  const keptIds = new Set(kept.map((p) => p.postId));
  const page = mergeFeedPage(userId, kept, limit);
  return encodeWindow({ ...cached, pulled, page, rest: JSON.stringify(kept.slice(limit)), pulledOnly: (cached.pulledOnly ?? []).filter((id) => keptIds.has(id)) });
}

/** Pages generated by warming since the process started, by trigger, and the scheduled warming's
 *  users skipped because their page was still cached (the benchmark reports them). */
export const warmCounts = { onFanOut: 0, scheduled: 0, skipped: 0 };

/** Drops these users' cached feeds at both tiers and regenerates the default first page of those
 *  active in the last hour, so their next read is a hit. `regenerate: false` only drops (a user's
 *  own follow or unfollow: their next read, moments later, regenerates it). */
export async function refreshFeeds(userIds: string[], opts: { regenerate?: boolean } = {}): Promise<void> {
  await Promise.all(userIds.map((u) => feedCache().invalidate(u)));
  if (opts.regenerate !== false) await warmFeeds(await activeAmong(userIds));
}

/** The scheduled warming (CacheWarming): generates the default first page of those of these
 *  users whose page is not cached; a page still cached (kept current in place) is left as it is,
 *  so warming costs DynamoDB reads only for pages that are gone. While Redis cannot tell which
 *  are gone, it warms none (no page could be kept: see FeedCache.warm); the next run, 15 minutes
 *  on, finds them. Returns how many it generated. */
export async function warmMissing(userIds: string[]): Promise<number> {
  const missing = await feedCache().uncached(userIds, feedVariant(PAGE_LIMIT_DEFAULT));
  if (!missing) return 0;
  warmCounts.skipped += userIds.length - missing.length;
  const warmed = await warmFeeds(missing);
  warmCounts.scheduled += warmed;
  return warmed;
}

/** Generates these users' default first page into both tiers; returns how many it generated
 *  (none while Redis cannot keep a page: see FeedCache.warm). A page whose
 *  generation raced a post's merge is not stored (see FeedCache.warm): the reader generates it.
 *  Every caller warms users active in the last hour, i.e. readers: their page lives as long as a
 *  read page (FEED_L2_ACTIVE_TTL_SECONDS), so a page warmed for a reader who comes back after
 *  more than 15 minutes is still there, and no page is warmed again for as long as it is kept. */
export function warmFeeds(userIds: string[]): Promise<number> {
  return feedWork.run('warm', async () => {
    let generated = 0;
    const generateFor = (u: string) => () => (generated++, generate(u, PAGE_LIMIT_DEFAULT, false));
    await Promise.all(userIds.map((u) => feedCache().warm(u, feedVariant(PAGE_LIMIT_DEFAULT), generateFor(u), { reader: true })));
    return generated;
  });
}
