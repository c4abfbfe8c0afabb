// GET /v1/feed — the caller's home feed, newest first, with a stable cursor.
import { readFeed } from '../shared/feed.js';
import { api, PageQuery, type Page } from '../shared/http.js';
import { getMe } from '../shared/users.js';

export async function getFeedWork({ sub, query }: { sub: string; query: Page }) {
  const me = await getMe(sub);
  return { status: 200, body: await readFeed(me.userId, query.limit, query.cursor) };
}

export const handler = api({ auth: true, query: PageQuery }, getFeedWork);
