// The follow and unfollow requests as use cases: each reads as its steps. Kept apart from
// follows.ts so the many handlers that only page edges do not bundle notifications, tiers and
// the feed cache.
import { notifiesFollowee } from '../domain/follow-policy.js';
import { config } from '../edge/config.js';
import { follow, unfollow } from './follows.js';
import { refreshFeeds } from './home-feed.js';
import { notify } from './notifications.js';
import { reconcileTier } from './tiers.js';
import { callerRow } from './users.js';

/** The caller follows targetId: the edge (with backfill of the followee's latest posts), a
 *  notification when the edge is new (or new enough that a failed request may not have sent it), the followee's tier, the caller's cached feed. */
export async function followUser(sub: string, targetId: string): Promise<void> {
  const me = await callerRow(sub);
  const outcome = await follow(me, targetId);
  if (notifiesFollowee(outcome, Date.now(), config().FEED_NOTIFICATION_WINDOW_SECONDS)) await notifyFollowed(me.userId, targetId);
  await reconcileTier(targetId);
  await dropCachedFeed(me.userId);
}

/** The caller stops following targetId: the edge (and the followee's posts in the caller's
 *  feed), the followee's tier, the caller's cached feed. */
export async function unfollowUser(sub: string, targetId: string): Promise<void> {
  const me = await callerRow(sub);
  await unfollow(me, targetId);
  await reconcileTier(targetId);
  await dropCachedFeed(me.userId);
}

const notifyFollowed = (followerId: string, followeeId: string) => notify('follow', followerId, [followeeId]);

/** The stored feed was already updated (backfill or removal), so the cached pages are dropped,
 *  not regenerated. */
const dropCachedFeed = (userId: string) => refreshFeeds([userId], { regenerate: false });
