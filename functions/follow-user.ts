// PUT /v1/users/{userId}/follow — the caller follows userId (idempotent) and gets their latest
// posts backfilled into the feed; the followee's tier is re-derived from the new count.
import { follow } from '../shared/services/follows.js';
import { refreshFeeds } from '../shared/services/home-feed.js';
import { api } from '../shared/edge/http.js';
import { notify } from '../shared/services/notifications.js';
import { reconcileTier } from '../shared/services/tiers.js';
import { callerRow } from '../shared/services/users.js';

export async function followWork({ sub, params }: { sub: string; params: Record<string, string> }) {
  const target = params.userId ?? '';
  const me = await callerRow(sub);
  if (await follow(me, target)) await notify('follow', me.userId, [target]);
  await reconcileTier(target);
  await refreshFeeds([me.userId], { regenerate: false });
  return { status: 204 };
}

export const handler = api({ auth: true }, followWork);
