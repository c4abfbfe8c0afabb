// Follow edges, stored twice (out#<follower> on the follower's shard, in#<followee> on the
// followee's) and written with the two counters in one transaction, so lists and counts agree.
// Following backfills the followee's latest posts into the follower's feed; unfollowing removes
// them. Both are idempotent, and a retry after a partial failure converges.
import { QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { cancellationCodes, db, isConditionFailure } from './adapters/dynamodb.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { BadRequestError } from './errors.js';
import { backfill, removeAuthorFromFeed } from './feed.js';
import { followsTable, keys } from './keys.js';
import { getUser, usersByIds, type User } from './users.js';

export interface UserPage {
  items: User[];
  nextCursor: string | null;
}

const counter = (userId: string, field: 'followerCount' | 'followingCount', delta: 1 | -1) => ({
  Update: {
    TableName: keys.profile(userId).table,
    Key: keys.profile(userId).key,
    UpdateExpression: `ADD ${field} :d`,
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeValues: { ':d': delta },
  },
});

export async function follow(caller: User, targetId: string): Promise<void> {
  if (targetId === caller.userId) throw new BadRequestError('you cannot follow yourself', 'self_follow');
  await getUser(targetId);
  const out = keys.outEdge(caller.userId, targetId);
  const inn = keys.inEdge(targetId, caller.userId);
  const since = new Date().toISOString();
  try {
    await db().send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: out.table, Item: { ...out.key, since }, ConditionExpression: 'attribute_not_exists(pk)' } },
          { Put: { TableName: inn.table, Item: { ...inn.key, since } } },
          counter(caller.userId, 'followingCount', 1),
          counter(targetId, 'followerCount', 1),
        ],
      }),
    );
  } catch (err) {
    // Already following: nothing to change. (Backfill below still runs, so a retry after a
    // failed backfill completes it.)
    if (!(isConditionFailure(err) && cancellationCodes(err)[0])) throw err;
  }
  await backfill(caller.userId, targetId);
}

export async function unfollow(caller: User, targetId: string): Promise<void> {
  await getUser(targetId);
  const out = keys.outEdge(caller.userId, targetId);
  const inn = keys.inEdge(targetId, caller.userId);
  try {
    await db().send(
      new TransactWriteCommand({
        TransactItems: [
          { Delete: { TableName: out.table, Key: out.key, ConditionExpression: 'attribute_exists(pk)' } },
          { Delete: { TableName: inn.table, Key: inn.key } },
          counter(caller.userId, 'followingCount', -1),
          counter(targetId, 'followerCount', -1),
        ],
      }),
    );
  } catch (err) {
    if (!(isConditionFailure(err) && cancellationCodes(err)[0])) throw err;
  }
  await removeAuthorFromFeed(caller.userId, targetId);
}

type Direction = 'followers' | 'following';

/** One page of ids on a user's edge list, in id order. */
export async function edgePage(
  userId: string,
  direction: Direction,
  limit: number,
  after?: string,
): Promise<{ ids: string[]; last?: string }> {
  const pk = `${direction === 'followers' ? 'in' : 'out'}#${userId}`;
  const res = await db().send(
    new QueryCommand({
      TableName: followsTable(userId),
      KeyConditionExpression: after ? 'pk = :p AND sk > :a' : 'pk = :p',
      ExpressionAttributeValues: { ':p': pk, ...(after && { ':a': after }) },
      ProjectionExpression: 'sk',
      Limit: limit,
    }),
  );
  const ids = (res.Items ?? []).map((i) => i.sk as string);
  return { ids, last: res.LastEvaluatedKey ? ids[ids.length - 1] : undefined };
}

export async function listEdges(userId: string, direction: Direction, limit: number, cursor?: string): Promise<UserPage> {
  await getUser(userId);
  const scope = `${direction}:${userId}`;
  const after = cursor ? decodeCursor<{ after: string }>(scope, cursor).after : undefined;
  const { ids } = await edgePage(userId, direction, limit + 1, after);
  const more = ids.length > limit;
  const pageIds = ids.slice(0, limit);
  return {
    items: await usersByIds(pageIds),
    nextCursor: more ? encodeCursor(scope, { after: pageIds[pageIds.length - 1]! }) : null,
  };
}
