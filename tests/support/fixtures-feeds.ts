// Helpers for integration tests that call the domain directly against DynamoDB Local: fresh users
// and ids, and direct reads of the feeds tables (the ground truth under readFeed's hydration).
import { randomInt, randomUUID } from 'node:crypto';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { db } from '../../shared/store/client.js';
import { mintId } from '../../shared/domain/ids.js';
import { keys, feedsTable } from '../../shared/store/keys.js';
import { LOGICAL_SHARDS } from '../../shared/domain/regions.js';
import { createUser, type User } from '../../shared/services/users.js';

/** A valid user id on a random logical shard, with no profile behind it (a feed owner). */
export function randomUserId(): string {
  return mintId(randomInt(0, LOGICAL_SHARDS));
}

let handles = 0;
/** A new profile with a unique handle and token subject. */
export function newUser(country = 'US'): Promise<User> {
  const handle = `t${process.pid.toString(36)}_${Date.now().toString(36)}_${(handles++).toString(36)}`.slice(0, 30);
  return createUser(`test-${randomUUID()}`, { handle, displayName: `Test ${handle}`, country });
}

/** Creates `count` users, `concurrency` at a time. */
export async function newUsers(count: number, concurrency = 25): Promise<User[]> {
  return inBatches(Array.from({ length: count }, (_, i) => i), concurrency, () => newUser());
}

/** Maps `items` through `fn`, `concurrency` at a time, keeping order. */
export async function inBatches<T, R>(items: T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += concurrency) out.push(...(await Promise.all(items.slice(i, i + concurrency).map(fn))));
  return out;
}

/** Every post id in a user's feed table, newest first, expired or not. */
export async function feedTableIds(userId: string): Promise<string[]> {
  const ids: string[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await db().send(
      new QueryCommand({
        TableName: feedsTable(userId),
        KeyConditionExpression: 'userId = :u',
        ExpressionAttributeValues: { ':u': userId },
        ProjectionExpression: 'postId',
        ScanIndexForward: false,
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    ids.push(...(out.Items ?? []).map((i) => i.postId as string));
    start = out.LastEvaluatedKey;
  } while (start);
  return ids;
}

/** One feed row as stored, or undefined. */
export async function feedRow(userId: string, postId: string): Promise<Record<string, unknown> | undefined> {
  const { table, key } = keys.feedEntry(userId, postId);
  return (await db().send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
}
