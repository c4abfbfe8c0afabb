// PUT /v1/users/{userId}/follow — the caller follows userId (idempotent) and gets their latest
// posts backfilled into the feed; the followee's tier is re-derived from the new count.
import { followUser } from '../shared/services/follow-requests.js';
import { api, UserPath } from '../shared/edge/http.js';

export async function followWork({ sub, params }: { sub: string; params: UserPath }) {
  await followUser(sub, params.userId);
  return { status: 204 };
}

export const handler = api({ auth: true, params: UserPath, rateLimit: 'follow' }, followWork);
