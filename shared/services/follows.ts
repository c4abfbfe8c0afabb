// Follow edges, stored twice (out#<follower> on the follower's shard, in#<followee> on the
// followee's) and written in one transaction with the follower's following count, one of the
// followee's sharded follower counters, and the follower's high-tier list entry, so lists, counts
// and pulls agree. Following backfills the followee's latest posts; unfollowing removes them.
// Both are idempotent, and a retry after a partial failure converges.
import murmurhash from 'murmurhash';
import { GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { batchWrite, cancellationCodes, db, isConditionFailure } from '../store/client.js';
import { config } from '../edge/config.js';
import { decodeCursor, encodeCursor } from '../domain/cursor.js';
import { BadRequestError, ConflictError, NotFoundError } from '../domain/errors.js';
import { backfill, removeAuthorFromFeed } from './feed-entries.js';
import { isId } from '../domain/ids.js';
import { followsTable, keys } from '../store/keys.js';
import { ACTIVE_INDEX_BUCKETS, FOLLOWER_COUNTER_SHARDS, TRANSACTION_CONFLICT_RETRIES, VIPS_MAX } from '../domain/limits.js';
import { getUser, profileRow, profileRows, usersByIds, type ProfileRow, type Tier, type User } from './users.js';

export interface UserPage {
  items: User[];
  nextCursor: string | null;
}

type TransactItems = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>;

const followingCounter = (userId: string, delta: 1 | -1) => ({
  Update: {
    TableName: keys.profile(userId).table,
    Key: keys.profile(userId).key,
    UpdateExpression: 'ADD followingCount :d',
    ConditionExpression: 'attribute_exists(pk)',
    ExpressionAttributeValues: { ':d': delta },
  },
});

const followerCounter = (userId: string, delta: 1 | -1) => {
  const { table, key } = keys.followerCounter(userId, Math.floor(Math.random() * FOLLOWER_COUNTER_SHARDS));
  return { Update: { TableName: table, Key: key, UpdateExpression: 'ADD #c :d', ExpressionAttributeNames: { '#c': 'count' }, ExpressionAttributeValues: { ':d': delta } } };
};

/** Runs a follow/unfollow transaction; true if it applied, false if its first item's condition
 *  failed (already in that state). Conflicts with concurrent transactions on the same counter
 *  are retried with backoff (each retry picks a fresh counter shard). */
async function transact(build: () => TransactItems): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      await db().send(new TransactWriteCommand({ TransactItems: build() }));
      return true;
    } catch (err) {
      const codes = cancellationCodes(err);
      if (isConditionFailure(err) && codes[0] === 'ConditionalCheckFailed') return false;
      const conflict = codes.includes('TransactionConflict') || (err as { name?: string }).name === 'TransactionConflictException';
      if (!conflict || attempt >= TRANSACTION_CONFLICT_RETRIES) throw err;
      await new Promise((r) => setTimeout(r, 10 * 2 ** attempt * (0.5 + Math.random())));
    }
  }
}

export const activeBucket = (followerId: string) => murmurhash.v3(followerId) % ACTIVE_INDEX_BUCKETS;

/** Follows; true when the edge is new (false when already following). */
export async function follow(caller: User | ProfileRow, targetId: string): Promise<boolean> {
  if (targetId === caller.userId) throw new BadRequestError('you cannot follow yourself', 'self_follow');
  const target = await profileRow(targetId);
  if (!target) throw new NotFoundError(`user ${targetId} not found`);
  const tier = target.tier ?? 'regular';
  const out = keys.outEdge(caller.userId, targetId);
  const inn = keys.inEdge(targetId, caller.userId);
  const hi = keys.highTier(caller.userId, targetId);
  const since = new Date().toISOString();
  const created = await transact(() => [
    { Put: { TableName: out.table, Item: { ...out.key, since }, ConditionExpression: 'attribute_not_exists(pk)' } },
    { Put: { TableName: inn.table, Item: { ...inn.key, since } } },
    followingCounter(caller.userId, 1),
    followerCounter(targetId, 1),
    ...(tier !== 'regular' ? [{ Put: { TableName: hi.table, Item: { ...hi.key, tier } } }] : []),
  ]);
  // An active reader who follows a celebrity joins its active-follower index now, not at their
  // next activity write (up to FEED_ACTIVITY_RESOLUTION_SECONDS later).
  if (tier === 'celebrity' && 'activeAt' in caller) await indexActive(targetId, [caller]);
  // Backfill runs even when the edge already existed, so a retry after a failed backfill
  // completes it (entries are idempotent).
  await backfill(caller.userId, targetId);
  return created;
}

export async function unfollow(caller: User | ProfileRow, targetId: string): Promise<void> {
  await getUser(targetId);
  const out = keys.outEdge(caller.userId, targetId);
  const inn = keys.inEdge(targetId, caller.userId);
  const hi = keys.highTier(caller.userId, targetId);
  const active = keys.activeFollower(targetId, activeBucket(caller.userId), caller.userId);
  const applied = await transact(() => [
    { Delete: { TableName: out.table, Key: out.key, ConditionExpression: 'attribute_exists(pk)' } },
    { Delete: { TableName: inn.table, Key: inn.key } },
    followingCounter(caller.userId, -1),
    followerCounter(targetId, -1),
    { Delete: { TableName: hi.table, Key: hi.key } },
    { Delete: { TableName: active.table, Key: active.key } },
  ]);
  if (applied) await setVip(targetId, caller.userId, false);
  await removeAuthorFromFeed(caller.userId, targetId);
}

/** Applies an author's tier to some followers' high-tier lists: added (only while the follower
 *  still follows — checked in the same transaction) for celebrity/mega, removed for regular. */
export async function applyTier(authorId: string, tier: Tier, followerIds: string[]): Promise<void> {
  if (tier === 'regular') {
    await batchWrite(followerIds.map((f) => ({ table: keys.highTier(f, authorId).table, request: { DeleteRequest: { Key: keys.highTier(f, authorId).key } } })));
    return;
  }
  // Followers active now join a new celebrity's active-follower index straight away.
  if (tier === 'celebrity') await indexActive(authorId, await profileRows(followerIds));
  // 50 followers per transaction: a ConditionCheck and a Put each, DynamoDB's 100-item limit.
  let pending = [...followerIds];
  while (pending.length > 0) {
    const chunk = pending.slice(0, 50);
    pending = pending.slice(50);
    const items: TransactItems = chunk.flatMap((f) => {
      const out = keys.outEdge(f, authorId);
      const hi = keys.highTier(f, authorId);
      return [
        { ConditionCheck: { TableName: out.table, Key: out.key, ConditionExpression: 'attribute_exists(pk)' } },
        { Put: { TableName: hi.table, Item: { ...hi.key, tier } } },
      ];
    });
    try {
      await db().send(new TransactWriteCommand({ TransactItems: items }));
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const codes = cancellationCodes(err);
      const stillFollowing = chunk.filter((_, i) => codes[2 * i] !== 'ConditionalCheckFailed');
      if (stillFollowing.length === chunk.length) throw err;
      pending = [...stillFollowing, ...pending];
    }
  }
}

/** The high-tier authors a user follows (bounded by how many they follow). */
export async function highTierFollowees(userId: string): Promise<{ authorId: string; tier: Tier }[]> {
  const out: { authorId: string; tier: Tier }[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const res = await db().send(
      new QueryCommand({
        TableName: followsTable(userId),
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': `hi#${userId}` },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of res.Items ?? []) out.push({ authorId: item.sk as string, tier: item.tier as Tier });
    start = res.LastEvaluatedKey;
  } while (start);
  return out;
}

/** Marks or clears a follower as VIP of an author (at most VIPS_MAX). Idempotent. */
export async function setVip(authorId: string, followerId: string, on: boolean): Promise<void> {
  if (!isId(followerId)) throw new NotFoundError(`user ${followerId} not found`);
  const vip = keys.vip(authorId, followerId);
  const profile = keys.profile(authorId);
  if (!on) {
    await transact(() => [
      { Delete: { TableName: vip.table, Key: vip.key, ConditionExpression: 'attribute_exists(pk)' } },
      { Update: { TableName: profile.table, Key: profile.key, UpdateExpression: 'ADD vipCount :d', ExpressionAttributeValues: { ':d': -1 } } },
    ]);
    return;
  }
  const inn = keys.inEdge(authorId, followerId);
  try {
    await db().send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: vip.table, Item: { ...vip.key }, ConditionExpression: 'attribute_not_exists(pk)' } },
          {
            Update: {
              TableName: profile.table,
              Key: profile.key,
              UpdateExpression: 'ADD vipCount :one',
              ConditionExpression: 'attribute_not_exists(vipCount) OR vipCount < :max',
              ExpressionAttributeValues: { ':one': 1, ':max': VIPS_MAX },
            },
          },
          { ConditionCheck: { TableName: inn.table, Key: inn.key, ConditionExpression: 'attribute_exists(pk)' } },
        ],
      }),
    );
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const [already, full, notFollower] = cancellationCodes(err);
    if (already) return;
    if (notFollower) throw new NotFoundError(`user ${followerId} does not follow you`);
    if (full) throw new ConflictError(`at most ${VIPS_MAX} VIP followers`, 'vip_limit');
    throw err;
  }
}

/** One page of an author's VIP followers, in id order. */
export async function vipPage(authorId: string, limit: number, after?: string): Promise<{ ids: string[]; last?: string }> {
  return keyPage(`vip#${authorId}`, followsTable(authorId), limit, after);
}

async function keyPage(pk: string, table: string, limit: number, after?: string): Promise<{ ids: string[]; last?: string }> {
  const res = await db().send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: after ? 'pk = :p AND sk > :a' : 'pk = :p',
      ExpressionAttributeValues: { ':p': pk, ...(after && { ':a': after }) },
      ProjectionExpression: 'sk',
      Limit: limit,
    }),
  );
  const ids = (res.Items ?? []).map((i) => i.sk as string);
  return { ids, last: res.LastEvaluatedKey ? ids[ids.length - 1] : undefined };
}

/** Adds those of these followers active within FEED_ACTIVE_WINDOW_HOURS to the author's
 *  active-follower index. */
export async function indexActive(authorId: string, followers: Pick<ProfileRow, 'userId' | 'activeAt'>[]): Promise<number> {
  const window = config().FEED_ACTIVE_WINDOW_HOURS * 3600;
  const now = Math.floor(Date.now() / 1000);
  const active = followers.filter((f) => f.activeAt !== undefined && f.activeAt + window > now);
  await batchWrite(
    active.map((f) => {
      const { table, key } = keys.activeFollower(authorId, activeBucket(f.userId), f.userId);
      return { table, request: { PutRequest: { Item: { ...key, expiresAt: f.activeAt! + window } } } };
    }),
  );
  return active.length;
}

/** Records in each celebrity followee's active-follower index that the user was just active
 *  (one write per celebrity followed, off the request's critical path of reads). */
export async function indexActivity(userId: string, activeAt: number): Promise<number> {
  const expiresAt = activeAt + config().FEED_ACTIVE_WINDOW_HOURS * 3600;
  const celebrities = (await highTierFollowees(userId)).filter((a) => a.tier === 'celebrity');
  await batchWrite(
    celebrities.map(({ authorId }) => {
      const { table, key } = keys.activeFollower(authorId, activeBucket(userId), userId);
      return { table, request: { PutRequest: { Item: { ...key, expiresAt } } } };
    }),
  );
  return celebrities.length;
}

export interface ActiveCursor {
  bucket: number;
  after?: string;
}

/** One page of an author's followers active within FEED_ACTIVE_WINDOW_HOURS, bucket by bucket,
 *  without touching inactive followers. */
export async function activeFollowerPage(authorId: string, limit: number, from: ActiveCursor = { bucket: 0 }): Promise<{ ids: string[]; next?: ActiveCursor }> {
  const now = Math.floor(Date.now() / 1000);
  const ids: string[] = [];
  let { bucket, after } = from;
  while (bucket < ACTIVE_INDEX_BUCKETS && ids.length < limit) {
    const res = await db().send(
      new QueryCommand({
        TableName: followsTable(authorId),
        KeyConditionExpression: after ? 'pk = :p AND sk > :a' : 'pk = :p',
        FilterExpression: 'expiresAt > :now',
        ExpressionAttributeValues: { ':p': `af#${authorId}#${bucket}`, ':now': now, ...(after && { ':a': after }) },
        Limit: limit - ids.length,
      }),
    );
    ids.push(...(res.Items ?? []).map((i) => i.sk as string));
    if (res.LastEvaluatedKey) after = res.LastEvaluatedKey.sk as string;
    else {
      bucket++;
      after = undefined;
    }
  }
  return { ids, next: bucket < ACTIVE_INDEX_BUCKETS ? { bucket, after } : undefined };
}

type Direction = 'followers' | 'following';

/** One page of ids on a user's edge list, in id order. */
export async function edgePage(userId: string, direction: Direction, limit: number, after?: string): Promise<{ ids: string[]; last?: string }> {
  return keyPage(`${direction === 'followers' ? 'in' : 'out'}#${userId}`, followsTable(userId), limit, after);
}

/** Whether `followerId` follows `authorId`. */
export async function isFollowing(followerId: string, authorId: string): Promise<boolean> {
  const { table, key } = keys.outEdge(followerId, authorId);
  const res = await db().send(new GetCommand({ TableName: table, Key: key }));
  return !!res.Item;
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

