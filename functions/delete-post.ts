// DELETE /v1/posts/{postId} — author only. Readers stop seeing it at once (feeds hydrate from
// the posts tables); its feed entries are removed through the posts stream.
import { api, PostPath } from '../shared/edge/http.js';
import { deletePost } from '../shared/services/posts.js';
import { callerRow } from '../shared/services/users.js';

export async function deletePostWork({ sub, params }: { sub: string; params: PostPath }) {
  await deletePost(await callerRow(sub), params.postId);
  return { status: 204 };
}

export const handler = api({ auth: true, params: PostPath, rateLimit: 'post' }, deletePostWork);
