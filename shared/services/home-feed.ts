// The home feed as readers get it: first pages through the two cache tiers (L1 in-process, L2
// Redis, with coalesced generation), deeper pages straight from DynamoDB. A cached page never
// shows a deleted post, and is kept current in place rather than regenerated: a fan-out write
// puts its post into the followers' cached pages, and a reader whose page pulled from a
// high-tier author who has posted since gets that author's new posts merged in from the Redis
// recent-posts cache. Follows, unfollows, deletions and tier changes drop the affected feeds from
// both tiers and regenerate them at once for users active in the last hour.
import { feedCache, type CacheTier } from '../cache/feed-cache.js';
import { feedVariant, limitOfVariant } from '../cache/cache-keys.js';
import { activeAmong, checkCachedPage, newPostsOf, type CachedPage } from '../cache/pull-cache.js';
import { mergeIntoFirstPage, readFeed, readFeedPage } from './feed-entries.js';
import { PAGE_LIMIT_DEFAULT } from '../domain/limits.js';
import type { Post, PostPage } from './posts.js';
import { pullSources } from './pull.js';

/** Where a page came from: a cache tier, or DynamoDB for pages past the first. */
export type FeedSource = CacheTier | 'dynamodb';

/** Generates a first page; background regeneration (`cleanup: false`) leaves dangling entries
 *  for the reader's own request to delete, so it never writes tables. */
async function generate(userId: string, limit: number, cleanup = true): Promise<string> {
  const at = Date.now();
  const { page, pulled } = await readFeedPage(userId, limit, undefined, pullSources, { cleanup });
  return JSON.stringify({ page, pulled, at } satisfies CachedPage<PostPage>);
}

/** Recently served cached pages, parsed, with their page's JSON, by the cached string: L1 hands out
 *  the same string on every hit, so a hot page is parsed and serialized once, not on every read. */
const decodedPages = new Map<string, { cached: CachedPage<PostPage>; json?: string }>();
const DECODED_PAGES_MAX = 2000;

function decode(value: string): { cached: CachedPage<PostPage>; json?: string } {
  let decoded = decodedPages.get(value);
  if (!decoded) {
    if (decodedPages.size >= DECODED_PAGES_MAX) decodedPages.delete(decodedPages.keys().next().value!);
    decodedPages.set(value, (decoded = { cached: JSON.parse(value) as CachedPage<PostPage> }));
  }
  return decoded;
}

/** A first page (from the cache when it can) or a deeper one (from DynamoDB). `json` is the page
 *  serialized, when it was already: the caller can send it as is. */
export async function homeFeed(userId: string, limit: number, cursor?: string): Promise<{ page: PostPage; source: FeedSource; json?: string }> {
  if (cursor) return { page: await readFeed(userId, limit, cursor, pullSources), source: 'dynamodb' };
  const variant = feedVariant(limit);
  for (let attempt = 0; ; attempt++) {
    const { value, tier } = await feedCache().getOrGenerate(userId, variant, () => generate(userId, limit));
    const decoded = decode(value);
    const cached = decoded.cached;
    const checked = await checkCachedPage(cached);
    if ('page' in checked) {
      if (checked.page !== cached.page) return { page: checked.page, source: tier };
      decoded.json ??= JSON.stringify(cached.page);
      return { page: cached.page, source: tier, json: decoded.json };
    }
    // Authors it pulled from have posted since: merge their new posts from the recent-posts cache.
    // `at` is taken before the lists are read, so a post recorded after it is merged next time.
    const at = Date.now() - 1;
    const newer = await newPostsOf(checked.stale);
    if (newer) {
      const fresh: CachedPage<PostPage> = { page: mergeIntoFirstPage(userId, cached.page, limit, newer), pulled: cached.pulled, at };
      const next = JSON.stringify(fresh);
      await feedCache().replace(userId, variant, value, next);
      const served = await checkCachedPage(fresh);
      if ('page' in served) return { page: served.page, source: tier };
    }
    // A list is not cached (or more posts keep coming): drop the page and generate afresh (once).
    await feedCache().invalidate(userId);
    if (attempt > 0) return { page: (JSON.parse(await generate(userId, limit)) as CachedPage<PostPage>).page, source: 'generated' };
  }
}

/** Puts a newly pushed post into these users' cached first pages, at both tiers (see
 *  FeedCache.update): their next read is a hit that shows it. */
export async function addToCachedFeeds(post: Post, userIds: string[]): Promise<void> {
  await Promise.all(
    userIds.map((u) =>
      feedCache().update(u, (variant, value) => {
        const limit = limitOfVariant(variant);
        if (limit === undefined) return undefined;
        const cached = JSON.parse(value) as CachedPage<PostPage>;
        const page = mergeIntoFirstPage(u, cached.page, limit, [post]);
        return page === cached.page ? undefined : JSON.stringify({ ...cached, page } satisfies CachedPage<PostPage>);
      }),
    ),
  );
}

/** Drops these users' cached feeds at both tiers and regenerates the default first page of those
 *  active in the last hour, so their next read is a hit. `regenerate: false` only drops (a user's
 *  own follow or unfollow: their next read, moments later, regenerates it). */
export async function refreshFeeds(userIds: string[], opts: { regenerate?: boolean } = {}): Promise<void> {
  await Promise.all(userIds.map((u) => feedCache().invalidate(u)));
  if (opts.regenerate !== false) await warmFeeds(await activeAmong(userIds));
}

/** Generates these users' default first page into both tiers; returns how many. A page whose
 *  generation raced a post's merge is not stored (see FeedCache.warm): the reader generates it. */
export async function warmFeeds(userIds: string[]): Promise<number> {
  await Promise.all(userIds.map((u) => feedCache().warm(u, feedVariant(PAGE_LIMIT_DEFAULT), () => generate(u, PAGE_LIMIT_DEFAULT, false))));
  return userIds.length;
}
