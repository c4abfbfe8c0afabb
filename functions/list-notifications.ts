// GET /v1/notifications — the caller's digests, newest first.
import { api, PageQuery, type Page } from '../shared/edge/http.js';
import { listNotifications } from '../shared/services/notifications.js';
import { callerRow } from '../shared/services/users.js';

export async function listNotificationsWork({ sub, query }: { sub: string; query: Page }) {
  const me = await callerRow(sub, 404);
  return { status: 200, body: await listNotifications(me.userId, query.limit, query.cursor) };
}

export const handler = api({ auth: true, query: PageQuery }, listNotificationsWork);
