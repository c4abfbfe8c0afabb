// PUT /v1/me/vips/{userId} — the caller marks one of their followers as VIP (at most 1,000):
// VIPs get a mega-celebrity's posts pushed instead of pulled. Idempotent.
import { markVip } from '../shared/services/follows.js';
import { api, UserPath } from '../shared/edge/http.js';

export async function setVipWork({ sub, params }: { sub: string; params: UserPath }) {
  await markVip(sub, params.userId);
  return { status: 204 };
}

export const handler = api({ auth: true, params: UserPath, rateLimit: 'vip' }, setVipWork);
