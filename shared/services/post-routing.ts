// A new or deleted post, from the posts stream, taken to its author's followers by the route
// their tier gives (shared/domain/post-route.ts): the recent-posts cache kept in step, the push
// started (fan-out jobs, the CelebrityFanout workflow, or VIP jobs), the delayed notification
// queued. Each step is idempotent, so a redelivered stream record changes nothing.
import { recordDeletion, recordRecentPost } from '../cache/pull-cache.js';
import { startWorkflow } from '../messaging/workflow-starts.js';
import { postRef, type Post, type PostRef } from '../domain/post.js';
import { routeOf, type PostChange, type PostRoute } from '../domain/post-route.js';
import type { Tier } from '../domain/tier-policy.js';
import { planFanout, planHighTierNotification, planTierChange, planVipFanout } from './fan-out.js';
import { isMultiRegion } from '../edge/network.js';
import { getAppliedTier, putAppliedTier } from '../store/follows.js';
import { heldHere } from '../store/users.js';
import { profileRow, servedHere } from './users.js';
import { reconcileTier } from './tiers.js';

/** Routes one post change; returns the author's tier (the route taken). */
export async function routePost(change: PostChange, post: Post): Promise<Tier> {
  const tier = await authorTier(post.authorId, change);
  await applyTierHere(post.authorId, tier);
  const route = routeOf(tier, change);
  const ref = postRef(post);
  await updatePullCache(route, post);
  await startPush(route, change, ref);
  if (route.notifyLater) await planHighTierNotification(ref);
  return tier;
}

/** An author without a profile row (not yet replicated, say) is treated as regular. In a network
 *  of several regions the region serving the author re-derives the tier from the count first:
 *  follows made in other zones changed the count there, where the author's profile is not. */
async function authorTier(authorId: string, change: PostChange): Promise<Tier> {
  if (isMultiRegion() && change === 'add' && (await servedHere([authorId])).length === 1) return reconcileTier(authorId);
  return (await profileRow(authorId))?.tier ?? 'regular';
}

/** An author homed in another residency zone changes tier there, where only that zone's
 *  followers are indexed: this region applies the tier (from the author's card) to its own
 *  followers' high-tier lists when a post of theirs arrives with a tier it has not applied yet, so
 *  its followers pull or get pushed the author's posts by the same rules. */
async function applyTierHere(authorId: string, tier: Tier): Promise<void> {
  if (!isMultiRegion() || heldHere(authorId)) return;
  if ((await getAppliedTier(authorId)) === tier) return;
  await planTierChange(authorId, tier);
  await putAppliedTier(authorId, tier);
}

async function updatePullCache(route: PostRoute, post: Post): Promise<void> {
  if (route.pullCache === 'record-deletion') await recordDeletion(post);
  else if (route.pullCache === 'record-post') await recordRecentPost(post);
}

async function startPush(route: PostRoute, change: PostChange, ref: PostRef): Promise<void> {
  switch (route.push) {
    case 'all-followers':
      await planFanout(change, ref);
      return;
    case 'active-followers-workflow':
      await startWorkflow('celebrity-fanout', { kind: change, post: ref }, `${change}-${ref.postId}`);
      return;
    case 'vip-followers':
      await planVipFanout(change, ref);
      return;
  }
}
