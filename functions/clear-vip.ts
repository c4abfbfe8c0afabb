// DELETE /v1/me/vips/{userId} — the caller clears a follower's VIP flag. Idempotent.
import { clearVip } from '../shared/services/follows.js';
import { api, UserPath } from '../shared/edge/http.js';

export async function clearVipWork({ sub, params }: { sub: string; params: UserPath }) {
  await clearVip(sub, params.userId);
  return { status: 204 };
}

export const handler = api({ auth: true, params: UserPath, rateLimit: 'vip' }, clearVipWork);
