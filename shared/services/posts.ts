// Posts: creation (optionally idempotent through the Idempotency-Key header), look-up, deletion by
// the author, and an author's own timeline. Fan-out happens downstream of the posts stream.
import { createHash } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { batchGet, cancellationCodes, db, isConditionFailure } from '../store/client.js';
import { decodeCursor, encodeCursor } from '../domain/cursor.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../domain/errors.js';
import { isId, logicalShardOf, mintId } from '../domain/ids.js';
import { keys, postsTable } from '../store/keys.js';
import { IDEMPOTENCY_TTL_SECONDS } from '../domain/limits.js';
import { recordDeletion } from '../cache/pull-cache.js';
import { countMetric, currentCorrelationId, METRIC } from '../edge/observability.js';

export interface Post {
  postId: string;
  authorId: string;
  content: string;
  createdAt: string;
}

export interface PostPage {
  items: Post[];
  nextCursor: string | null;
}

export function toPost(row: Record<string, unknown>): Post {
  return {
    postId: row.postId as string,
    authorId: row.authorId as string,
    content: row.content as string,
    createdAt: row.createdAt as string,
  };
}

const ID_COLLISION_RETRIES = 3;
const absent = 'attribute_not_exists(postId)';

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
    // The correlation id rides on the item so the stream consumer continues the request's trace.
    const item = { ...post, correlationId: currentCorrelationId() };
    const put = { TableName: postsTable(author.userId), Item: item, ConditionExpression: absent };
    try {
      if (!idempotencyKey) {
        await db().send(new PutCommand(put));
        countMetric(METRIC.postsCreated);
        return post;
      }
      const idem = keys.idempotency(author.userId, idempotencyKey);
      await db().send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: idem.table,
                Item: { ...idem.key, post, requestHash, expiresAt: Math.floor(Date.now() / 1000) + IDEMPOTENCY_TTL_SECONDS },
                ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
                ExpressionAttributeValues: { ':now': Math.floor(Date.now() / 1000) },
              },
            },
            { Put: put },
          ],
        }),
      );
      countMetric(METRIC.postsCreated);
      return post;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      if (idempotencyKey && cancellationCodes(err)[0]) return replay(author.userId, idempotencyKey, requestHash);
      if (attempt >= ID_COLLISION_RETRIES) throw err;
    }
  }
}

async function replay(authorId: string, idempotencyKey: string, requestHash: string): Promise<Post> {
  const idem = keys.idempotency(authorId, idempotencyKey);
  const out = await db().send(new GetCommand({ TableName: idem.table, Key: idem.key, ConsistentRead: true }));
  if (!out.Item) throw new ConflictError('a request with this Idempotency-Key is in progress; retry', 'idempotency_in_progress');
  if (out.Item.requestHash !== requestHash) {
    throw new ConflictError('this Idempotency-Key was used with a different request body', 'idempotency_key_reused');
  }
  return out.Item.post as Post;
}

export async function findPost(postId: string): Promise<Post | undefined> {
  if (!isId(postId)) return undefined;
  const { table, key } = keys.post(postId);
  const out = await db().send(new GetCommand({ TableName: table, Key: key }));
  return out.Item ? toPost(out.Item) : undefined;
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
  const { table, key } = keys.post(postId);
  await db().send(new DeleteCommand({ TableName: table, Key: key }));
  // Cached feed pages stop showing it now, not when the stream gets to it.
  await recordDeletion(post);
}

/** Posts for ids, in the given order; deleted posts are left out. */
export async function postsByIds(ids: string[]): Promise<Map<string, Post>> {
  const found = await batchGet(ids.map((id) => keys.post(id)));
  const byId = new Map<string, Post>();
  for (const rows of Object.values(found)) for (const row of rows) byId.set(row.postId as string, toPost(row));
  return byId;
}

/** An author's posts, newest first, from the byAuthor index of their shard's posts table. */
export async function listAuthorPosts(authorId: string, limit: number, cursor?: string): Promise<PostPage> {
  const scope = `posts:${authorId}`;
  const before = cursor ? decodeCursor<{ before: string }>(scope, cursor).before : undefined;
  const items = await queryAuthorPosts(authorId, limit + 1, before);
  const more = items.length > limit;
  const page = items.slice(0, limit);
  return { items: page, nextCursor: more ? encodeCursor(scope, { before: page[page.length - 1]!.postId }) : null };
}

/** Up to `count` of an author's posts older than `before` (an id), newest first. */
export async function queryAuthorPosts(authorId: string, count: number, before?: string): Promise<Post[]> {
  const out = await db().send(
    new QueryCommand({
      TableName: postsTable(authorId),
      IndexName: 'byAuthor',
      KeyConditionExpression: before ? 'authorId = :a AND postId < :b' : 'authorId = :a',
      ExpressionAttributeValues: { ':a': authorId, ...(before && { ':b': before }) },
      ScanIndexForward: false,
      Limit: count,
    }),
  );
  return (out.Items ?? []).map(toPost);
}
