// The home feed as readers get it: first pages through the two cache tiers (L1 in-process, L2
// Redis, with coalesced generation), deeper pages straight from DynamoDB. A cached page is served
// only while no high-tier author it pulled from has posted since, and never with a deleted post.
// After a fan-out write, follow or unfollow the affected feeds are dropped from both tiers and
// regenerated at once for users active in the last hour.
import { activeAmong, checkCachedPage, type CachedPage } from './cache/pull-cache.js';
import { feedCache } from './cache/feed-cache.js';
import { feedVariant } from './cache/keys.js';
import { readFeed, readFeedPage } from './feed.js';
import { PAGE_LIMIT_DEFAULT } from './limits.js';
import type { PostPage } from './posts.js';
import { pullSources } from './pull.js';

export type FeedSource = 'l1' | 'l2' | 'generated' | 'dynamodb';

/** Generates a first page; background regeneration (`cleanup: false`) leaves dangling entries
 *  for the reader's own request to delete, so it never writes tables. */
async function generate(userId: string, limit: number, cleanup = true): Promise<string> {
  const at = Date.now();
  const { page, pulled } = await readFeedPage(userId, limit, undefined, pullSources, { cleanup });
  return JSON.stringify({ page, pulled, at } satisfies CachedPage<PostPage>);
}

export async function homeFeed(userId: string, limit: number, cursor?: string): Promise<{ page: PostPage; source: FeedSource }> {
  if (cursor) return { page: await readFeed(userId, limit, cursor, pullSources), source: 'dynamodb' };
  const variant = feedVariant(limit);
  for (let attempt = 0; ; attempt++) {
    const { value, tier } = await feedCache().getOrGenerate(userId, variant, () => generate(userId, limit));
    const page = await checkCachedPage(JSON.parse(value) as CachedPage<PostPage>);
    if (page) return { page, source: tier };
    // An author it pulled from has posted since: drop it and generate afresh (once).
    await feedCache().invalidate(userId);
    if (attempt > 0) return { page: (JSON.parse(await generate(userId, limit)) as CachedPage<PostPage>).page, source: 'generated' };
  }
}

/** Drops these users' cached feeds at both tiers and regenerates the default first page of those
 *  active in the last hour, so their next read is a hit. `regenerate: false` only drops (a user's
 *  own follow or unfollow: their next read, moments later, regenerates it). */
export async function refreshFeeds(userIds: string[], opts: { regenerate?: boolean } = {}): Promise<void> {
  await Promise.all(userIds.map((u) => feedCache().invalidate(u)));
  if (opts.regenerate !== false) await warmFeeds(await activeAmong(userIds));
}

/** Generates these users' default first page into both tiers; returns how many. */
export async function warmFeeds(userIds: string[]): Promise<number> {
  await Promise.all(userIds.map(async (u) => feedCache().put(u, feedVariant(PAGE_LIMIT_DEFAULT), await generate(u, PAGE_LIMIT_DEFAULT, false))));
  return userIds.length;
}
