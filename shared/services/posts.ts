// Posts: creation (optionally idempotent through the Idempotency-Key header), look-up, deletion by
// the author, and an author's own timeline. Fan-out happens downstream of the posts stream.
import { createHash } from 'node:crypto';
import { BeforeId, decodeCursor, encodeCursor } from '../domain/cursor.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../domain/errors.js';
import { isId, logicalShardOf, mintId } from '../domain/ids.js';
import { IDEMPOTENCY_TTL_SECONDS } from '../domain/limits.js';
import type { Post, PostPage } from '../domain/post.js';
import { recordDeletion } from '../cache/pull-cache.js';
import { countMetric, currentCorrelationId, METRIC } from '../edge/observability.js';
import * as store from '../store/posts.js';

export type { Post, PostPage } from '../domain/post.js';
export { postsByIds, queryAuthorPosts, toPost } from '../store/posts.js';

/** Fresh ids minted when one collides: ids embed time and randomness, so a second collision
 *  means something is wrong, not unlucky. */
const ID_COLLISION_RETRIES = 3;

/** Creates a post. With an idempotency key, a retry of the same request returns the post the
 *  first one created; the same key with different content is a 409. */
export async function createPost(author: { userId: string }, content: string, idempotencyKey?: string): Promise<Post> {
  const requestHash = createHash('sha256').update(content).digest('base64url');
  for (let attempt = 0; ; attempt++) {
    const post: Post = {
      postId: mintId(logicalShardOf(author.userId)),
      authorId: author.userId,
      content,
      createdAt: new Date().toISOString(),
    };
    const nowSeconds = Math.floor(Date.now() / 1000);
    const idempotency = idempotencyKey ? { key: idempotencyKey, requestHash, expiresAt: nowSeconds + IDEMPOTENCY_TTL_SECONDS, nowSeconds } : undefined;
    const outcome = await store.insertPost(post, currentCorrelationId(), idempotency);
    if (outcome === 'created') {
      countMetric(METRIC.postsCreated);
      return post;
    }
    if (outcome === 'key-taken') return replay(author.userId, idempotencyKey!, requestHash);
    if (attempt >= ID_COLLISION_RETRIES) throw new Error(`post id collided ${attempt + 1} times`);
  }
}

async function replay(authorId: string, idempotencyKey: string, requestHash: string): Promise<Post> {
  const record = await store.idempotencyRecord(authorId, idempotencyKey);
  if (!record) throw new ConflictError('a request with this Idempotency-Key is in progress; retry', 'idempotency_in_progress');
  if (record.requestHash !== requestHash) {
    throw new ConflictError('this Idempotency-Key was used with a different request body', 'idempotency_key_reused');
  }
  return record.post;
}

export async function findPost(postId: string): Promise<Post | undefined> {
  if (!isId(postId)) return undefined;
  return store.getPostRow(postId);
}

export async function getPost(postId: string): Promise<Post> {
  const post = await findPost(postId);
  if (!post) throw new NotFoundError(`post ${postId} not found`);
  return post;
}

/** Deletes a post; only its author may. Feeds drop it through the posts stream. */
export async function deletePost(caller: { userId: string }, postId: string): Promise<void> {
  const post = await getPost(postId);
  if (post.authorId !== caller.userId) throw new ForbiddenError('only the author can delete a post');
  await store.deletePostRow(postId);
  // Cached feed pages stop showing it now, not when the stream gets to it.
  await recordDeletion(post);
}

/** An author's posts, newest first, from the byAuthor index of their shard's posts table. */
export async function listAuthorPosts(authorId: string, limit: number, cursor?: string): Promise<PostPage> {
  const scope = `posts:${authorId}`;
  const before = cursor ? decodeCursor(scope, cursor, BeforeId).before : undefined;
  const items = await store.queryAuthorPosts(authorId, limit + 1, before);
  const more = items.length > limit;
  const page = items.slice(0, limit);
  return { items: page, nextCursor: more ? encodeCursor(scope, { before: page[page.length - 1]!.postId }) : null };
}
