// DELETE /v1/users/{userId}/follow — the caller stops following userId (idempotent); that
// user's posts leave the caller's feed and their tier is re-derived from the new count.
import { unfollowUser } from '../shared/services/follow-requests.js';
import { api, UserPath } from '../shared/edge/http.js';

export async function unfollowWork({ sub, params }: { sub: string; params: UserPath }) {
  await unfollowUser(sub, params.userId);
  return { status: 204 };
}

export const handler = api({ auth: true, params: UserPath, rateLimit: 'follow' }, unfollowWork);
