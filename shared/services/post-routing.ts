// A new or deleted post, from the posts stream, taken to its author's followers by the route
// their tier gives (shared/domain/post-route.ts): the recent-posts cache kept in step, the push
// started (fan-out jobs, the CelebrityFanout workflow, or VIP jobs), the delayed notification
// queued. Each step is idempotent, so a redelivered stream record changes nothing.
import { recordDeletion, recordRecentPost } from '../cache/pull-cache.js';
import { startWorkflow } from '../messaging/workflow-starts.js';
import { postRef, type Post, type PostRef } from '../domain/post.js';
import { routeOf, type PostChange, type PostRoute } from '../domain/post-route.js';
import type { Tier } from '../domain/tier-policy.js';
import { planFanout, planHighTierNotification, planVipFanout } from './fan-out.js';
import { profileRow } from './users.js';

/** Routes one post change; returns the author's tier (the route taken). */
export async function routePost(change: PostChange, post: Post): Promise<Tier> {
  const tier = await authorTier(post.authorId);
  const route = routeOf(tier, change);
  const ref = postRef(post);
  await updatePullCache(route, post);
  await startPush(route, change, ref);
  if (route.notifyLater) await planHighTierNotification(ref);
  return tier;
}

/** An author without a profile row (not yet replicated, say) is treated as regular. */
async function authorTier(authorId: string): Promise<Tier> {
  return (await profileRow(authorId))?.tier ?? 'regular';
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
