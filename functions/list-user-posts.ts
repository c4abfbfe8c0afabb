// GET /v1/users/{userId}/posts — an author's posts, newest first.
import { api, PageQuery, type Page, UserPath } from '../shared/edge/http.js';
import { listAuthorPosts } from '../shared/services/posts.js';
import { getUser } from '../shared/services/users.js';

export async function listUserPostsWork({ params, query }: { params: UserPath; query: Page }) {
  const user = await getUser(params.userId);
  return { status: 200, body: await listAuthorPosts(user.userId, query.limit, query.cursor) };
}

export const handler = api({ auth: true, params: UserPath, query: PageQuery }, listUserPostsWork);
