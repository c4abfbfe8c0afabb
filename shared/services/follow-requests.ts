// The follow and unfollow requests as use cases: each reads as its steps. Kept apart from
// follows.ts so the many handlers that only page edges do not bundle notifications, tiers and
// the feed cache.
import { notifiesFollowee } from '../domain/follow-policy.js';
import { config } from '../edge/config.js';
import { follow, unfollow } from './follows.js';
import { addFollowedToCachedFeeds, refreshFeeds, removeAuthorFromCachedFeeds } from './home-feed.js';
import { notify } from './notifications.js';
import { reconcileTier } from './tiers.js';
import { callerRow } from './users.js';

/** The caller follows targetId: the edge (with backfill of the followee's latest posts), a
 *  notification when the edge is new (or new enough that a failed request may not have sent it),
 *  the followee's tier, the caller's cached feed: a regular followee's backfilled posts are merged
 *  into it (the next read is a hit), a celebrity's or mega-celebrity's drop it (their posts are
 *  pulled, and a cached page knows only the authors it pulled from). */
export async function followUser(sub: string, targetId: string): Promise<void> {
  const me = await callerRow(sub);
  const outcome = await follow(me, targetId);
  if (notifiesFollowee(outcome, Date.now(), config().FEED_NOTIFICATION_WINDOW_SECONDS)) await notifyFollowed(me.userId, targetId);
  const tier = await reconcileTier(targetId);
  if (outcome.tier === 'regular' && tier === 'regular') await addFollowedToCachedFeeds(me.userId, outcome.backfilled);
  else await dropCachedFeed(me.userId);
}

/** The caller stops following targetId: the edge (and the followee's posts in the caller's
 *  feed), the followee's tier, the caller's cached feed (the followee's posts taken out of it). */
export async function unfollowUser(sub: string, targetId: string): Promise<void> {
  const me = await callerRow(sub);
  await unfollow(me, targetId);
  await reconcileTier(targetId);
  await removeAuthorFromCachedFeeds(me.userId, targetId);
}

const notifyFollowed = (followerId: string, followeeId: string) => notify('follow', followerId, [followeeId]);

/** The stored feed was already updated (the backfill), so the cached pages are dropped, not
 *  regenerated: the caller's next read, moments later, generates them. */
const dropCachedFeed = (userId: string) => refreshFeeds([userId], { regenerate: false });
