// PUT /v1/me/vips/{userId} — the caller marks one of their followers as VIP (at most 1,000):
// VIPs get a mega-celebrity's posts pushed instead of pulled. Idempotent.
import { setVip } from '../shared/services/follows.js';
import { api } from '../shared/edge/http.js';
import { callerRow } from '../shared/services/users.js';

export async function setVipWork({ sub, params }: { sub: string; params: Record<string, string> }) {
  const me = await callerRow(sub);
  await setVip(me.userId, params.userId ?? '', true);
  return { status: 204 };
}

export const handler = api({ auth: true }, setVipWork);
