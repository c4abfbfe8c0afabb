// DELETE /v1/users/{userId}/follow — the caller stops following userId (idempotent); that
// user's posts leave the caller's feed and their tier is re-derived from the new count.
import { unfollow } from '../shared/services/follows.js';
import { refreshFeeds } from '../shared/services/home-feed.js';
import { api } from '../shared/edge/http.js';
import { reconcileTier } from '../shared/services/tiers.js';
import { callerRow } from '../shared/services/users.js';

export async function unfollowWork({ sub, params }: { sub: string; params: Record<string, string> }) {
  const target = params.userId ?? '';
  const me = await callerRow(sub);
  await unfollow(me, target);
  await reconcileTier(target);
  await refreshFeeds([me.userId], { regenerate: false });
  return { status: 204 };
}

export const handler = api({ auth: true }, unfollowWork);
