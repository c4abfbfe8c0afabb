// DELETE /v1/users/{userId}/follow — the caller stops following userId (idempotent); that
// user's posts leave the caller's feed.
import { unfollow } from '../shared/follows.js';
import { api } from '../shared/http.js';
import { requireProfile } from '../shared/users.js';

export async function unfollowWork({ sub, params }: { sub: string; params: Record<string, string> }) {
  await unfollow(await requireProfile(sub), params.userId ?? '');
  return { status: 204 };
}

export const handler = api({ auth: true }, unfollowWork);
