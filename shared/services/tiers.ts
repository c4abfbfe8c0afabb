// Tier changes (and edge layout moves). An author's tier follows their follower count (with hysteresis, see
// domain/tier-policy.ts); when it changes, every follower's high-tier list is updated through fan-out
// 'tier' jobs, so their feeds start (or stop) pulling the author's posts at read time.
import { reconcileEdgeLayout } from './edge-moves.js';
import { planTierChange } from './fan-out.js';
import { clearTierPending, putTierChange } from '../store/users.js';
import { followerCount, profileRow, servedHere, tierFor, type Tier } from './users.js';

/** Re-derives a user's tier from their follower count; on a change, stores it and sends every
 *  follower a 'tier' job that updates their high-tier list. `tierPending` marks a change whose
 *  jobs are not yet all sent, so a crash in between is finished by the next reconcile. */
export async function reconcileTier(userId: string): Promise<Tier> {
  const row = await profileRow(userId);
  if (!row) return 'regular';
  // Only the region serving the author writes their tier: a follow made in another region is
  // counted there, and the author's region reconciles when it next routes a post of theirs
  // (post-routing.ts) or takes a follow of them. Two regions writing one profile at once would
  // leave replication two versions to settle.
  if ((await servedHere([userId])).length === 0) return row.tier ?? 'regular';
  const current = row.tier ?? 'regular';
  const followers = await followerCount(userId);
  // The edge layout follows the count too: a growing account's edges spread over more buckets.
  await reconcileEdgeLayout(userId, followers);
  const next = tierFor(followers, current);
  if (next !== current) {
    // Another reconcile moved the tier first: start again from what it stored.
    if (!(await putTierChange(userId, current, next))) return reconcileTier(userId);
  } else if (!row.tierPending) {
    return current;
  }
  const pending = next !== current ? next : row.tierPending!;
  await planTierChange(userId, pending);
  await clearTierPending(userId, pending);
  return pending;
}
