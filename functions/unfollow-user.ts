// DELETE /v1/users/{userId}/follow — the caller stops following userId (idempotent); that
// user's posts leave the caller's feed and their tier is re-derived from the new count.
import { unfollow } from '../shared/follows.js';
import { api } from '../shared/http.js';
import { reconcileTier } from '../shared/tiers.js';
import { callerRow } from '../shared/users.js';

export async function unfollowWork({ sub, params }: { sub: string; params: Record<string, string> }) {
  const target = params.userId ?? '';
  await unfollow(await callerRow(sub), target);
  await reconcileTier(target);
  return { status: 204 };
}

export const handler = api({ auth: true }, unfollowWork);
