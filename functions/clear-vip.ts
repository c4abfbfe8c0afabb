// DELETE /v1/me/vips/{userId} — the caller clears a follower's VIP flag. Idempotent.
import { setVip } from '../shared/services/follows.js';
import { api } from '../shared/edge/http.js';
import { callerRow } from '../shared/services/users.js';

export async function clearVipWork({ sub, params }: { sub: string; params: Record<string, string> }) {
  const me = await callerRow(sub);
  await setVip(me.userId, params.userId ?? '', false);
  return { status: 204 };
}

export const handler = api({ auth: true }, clearVipWork);
