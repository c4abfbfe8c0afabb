// GET /v1/posts/{postId}
import { api, PostPath } from '../shared/edge/http.js';
import { getPost } from '../shared/services/posts.js';

export async function getPostWork({ params }: { params: PostPath }) {
  return { status: 200, body: await getPost(params.postId) };
}

export const handler = api({ auth: true, params: PostPath }, getPostWork);
