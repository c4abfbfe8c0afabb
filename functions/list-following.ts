// GET /v1/users/{userId}/following — paged, in followee-id order.
import { listEdges } from '../shared/services/follows.js';
import { api, PageQuery, type Page, UserPath } from '../shared/edge/http.js';

export async function listFollowingWork({ params, query }: { params: UserPath; query: Page }) {
  return { status: 200, body: await listEdges(params.userId, 'following', query.limit, query.cursor) };
}

export const handler = api({ auth: true, params: UserPath, query: PageQuery }, listFollowingWork);
