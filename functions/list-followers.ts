// GET /v1/users/{userId}/followers — paged, in follower-id order (a bucketed account's edge
// partitions read in parallel and merged, so the cursor is the last id either way).
import { listEdges } from '../shared/services/follows.js';
import { api, PageQuery, type Page, UserPath } from '../shared/edge/http.js';

export async function listFollowersWork({ params, query }: { params: UserPath; query: Page }) {
  return { status: 200, body: await listEdges(params.userId, 'followers', query.limit, query.cursor) };
}

export const handler = api({ auth: true, params: UserPath, query: PageQuery }, listFollowersWork);
