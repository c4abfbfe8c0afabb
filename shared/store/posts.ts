// Posts rows: a post by id (on the shard its id embeds), an author's posts through the byAuthor
// index, and the remembered Idempotency-Key records of POST /v1/posts (on the author's shard).
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Post } from '../domain/post.js';
import { batchGet, cancellationCodes, db, isConditionFailure } from './client.js';
import { keys, listings, postsTable } from './keys.js';

/** A post row (or stream image) as a Post; other attributes (the correlation id) are left out. */
export function toPost(row: Record<string, unknown>): Post {
  return {
    postId: row.postId as string,
    authorId: row.authorId as string,
    content: row.content as string,
    createdAt: row.createdAt as string,
  };
}

/** The remembered outcome of an idempotent create: the post it made, and its request's hash. */
export interface IdempotencyRecord {
  post: Post;
  requestHash: string;
}

/** `created`, or which condition failed: the minted id is taken (mint another), or the
 *  idempotency key is held by an unexpired record (replay it). */
export type InsertOutcome = 'created' | 'id-taken' | 'key-taken';

const absent = 'attribute_not_exists(postId)';

/** Inserts a post that must not exist yet. With `idempotency`, its record is written in the same
 *  transaction, unless an unexpired record holds the key. The correlation id rides on the item so
 *  the stream consumer continues the request's trace. */
export async function insertPost(
  post: Post,
  correlationId: string | undefined,
  idempotency?: { key: string; requestHash: string; expiresAt: number; nowSeconds: number },
): Promise<InsertOutcome> {
  const put = { TableName: postsTable(post.authorId), Item: { ...post, correlationId }, ConditionExpression: absent };
  try {
    if (!idempotency) {
      await db().send(new PutCommand(put));
      return 'created';
    }
    const idem = keys.idempotency(post.authorId, idempotency.key);
    await db().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: idem.table,
              Item: { ...idem.key, post, requestHash: idempotency.requestHash, expiresAt: idempotency.expiresAt },
              ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
              ExpressionAttributeValues: { ':now': idempotency.nowSeconds },
            },
          },
          { Put: put },
        ],
      }),
    );
    return 'created';
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    return idempotency && cancellationCodes(err)[0] ? 'key-taken' : 'id-taken';
  }
}

/** The record an author's idempotency key holds (read consistently: it was just found taken). */
export async function idempotencyRecord(authorId: string, key: string): Promise<IdempotencyRecord | undefined> {
  const idem = keys.idempotency(authorId, key);
  const out = await db().send(new GetCommand({ TableName: idem.table, Key: idem.key, ConsistentRead: true }));
  return out.Item ? { post: out.Item.post as Post, requestHash: out.Item.requestHash as string } : undefined;
}

export async function getPostRow(postId: string): Promise<Post | undefined> {
  const { table, key } = keys.post(postId);
  const out = await db().send(new GetCommand({ TableName: table, Key: key }));
  return out.Item ? toPost(out.Item) : undefined;
}

export async function deletePostRow(postId: string): Promise<void> {
  const { table, key } = keys.post(postId);
  await db().send(new DeleteCommand({ TableName: table, Key: key }));
}

/** Posts for ids, by id; deleted posts are absent. */
export async function postsByIds(ids: string[]): Promise<Map<string, Post>> {
  const found = await batchGet(ids.map((id) => keys.post(id)));
  const byId = new Map<string, Post>();
  for (const rows of Object.values(found)) for (const row of rows) byId.set(row.postId as string, toPost(row));
  return byId;
}

/** Up to `count` of an author's posts older than `before` (an id), newest first. */
export async function queryAuthorPosts(authorId: string, count: number, before?: string): Promise<Post[]> {
  const { table, index } = listings.authorPosts(authorId);
  const out = await db().send(
    new QueryCommand({
      TableName: table,
      IndexName: index,
      KeyConditionExpression: before ? 'authorId = :a AND postId < :b' : 'authorId = :a',
      ExpressionAttributeValues: { ':a': authorId, ...(before && { ':b': before }) },
      ScanIndexForward: false,
      Limit: count,
    }),
  );
  return (out.Items ?? []).map(toPost);
}
