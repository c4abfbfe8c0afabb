// Which route a post (or its deletion) takes to followers, by its author's tier: regular authors
// push to every follower and notify with the push; celebrities push to recently active followers
// through the CelebrityFanout workflow; mega-celebrities push to VIP followers only and everyone
// else pulls at read time. High tiers notify all followers later, and keep the recent-posts list
// (what readers pull) in step.
import murmurhash from 'murmurhash';
import { FEED_TRIM_ONE_IN } from './limits.js';
import { isHighTier, type Tier } from './tier-policy.js';

export type PostChange = 'add' | 'remove';

export interface PostRoute {
  /** Who gets the change pushed into their feed. */
  push: 'all-followers' | 'active-followers-workflow' | 'vip-followers';
  /** What the recent-posts cache records: readers of high tiers pull from it, and every cached
   *  page must stop showing a deleted post. */
  pullCache: 'record-post' | 'record-deletion' | 'none';
  /** Followers are notified with the push (regular tier, new posts). */
  notifyWithPush: boolean;
  /** Followers are notified after a delay, through a paged notify plan (high tiers, new posts). */
  notifyLater: boolean;
}

const PUSH: Record<Tier, PostRoute['push']> = {
  regular: 'all-followers',
  celebrity: 'active-followers-workflow',
  mega: 'vip-followers',
};

export function routeOf(tier: Tier, change: PostChange): PostRoute {
  const highTier = isHighTier(tier);
  return {
    push: PUSH[tier],
    pullCache: change === 'remove' ? 'record-deletion' : highTier ? 'record-post' : 'none',
    notifyWithPush: change === 'add' && !highTier,
    notifyLater: change === 'add' && highTier,
  };
}

/** Whether pushing `postId` into `followerId`'s feed also trims it back to its cap: about one
 *  push in FEED_TRIM_ONE_IN, chosen by hash so a redelivered job picks the same feeds. */
export const trimsFeed = (followerId: string, postId: string): boolean =>
  murmurhash.v3(`${followerId}:${postId}`) % FEED_TRIM_ONE_IN === 0;
