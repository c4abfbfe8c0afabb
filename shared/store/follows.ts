// Follow rows: edges stored twice (out#<follower> on the follower's shard, in#<followee> on the
// followee's), high-tier lists (hi#), VIP marks (vip#) and the active-follower index (af#).
// Every DynamoDB call about them is here; a follow or unfollow is one transaction with the
// counters, so lists, counts and pulls agree.
import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { batchWrite, cancellationCodes, db, isConditionFailure } from './client.js';
import { activeBucket, keys, partitions } from './keys.js';
import { queryAll } from './query-all.js';
import { ACTIVE_INDEX_BUCKETS, FOLLOWER_COUNTER_SHARDS, VIPS_MAX } from '../domain/limits.js';
import { isHighTier, type Tier } from '../domain/tier-policy.js';
import { conflictRetryDelay } from '../domain/transaction-retry.js';
import type { VipMarkOutcome } from '../domain/follow-policy.js';

type TransactItems = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>;

/** DynamoDB takes at most 100 items per transaction; a high-tier entry needs two (a check of
 *  the edge and the put), so 50 followers per transaction. */
const HIGH_TIER_PER_TRANSACTION = 50;

const followingCounter = (userId: string, delta: 1 | -1) => {
  const { table, key } = keys.profile(userId);
  return { Update: { TableName: table, Key: key, UpdateExpression: 'ADD followingCount :d', ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeValues: { ':d': delta } } };
};

const followerCounter = (userId: string, delta: 1 | -1) => {
  const { table, key } = keys.followerCounter(userId, Math.floor(Math.random() * FOLLOWER_COUNTER_SHARDS));
  return { Update: { TableName: table, Key: key, UpdateExpression: 'ADD #c :d', ExpressionAttributeNames: { '#c': 'count' }, ExpressionAttributeValues: { ':d': delta } } };
};

const isConflict = (err: unknown) =>
  cancellationCodes(err).includes('TransactionConflict') || (err as { name?: string }).name === 'TransactionConflictException';

/** Runs a transaction; true if it applied, false if its first item's condition failed (already
 *  in that state). Conflicts with concurrent transactions on the same counter are retried as
 *  conflictRetryDelay says (each retry rebuilds the items, so picks a fresh counter shard). */
async function transact(build: () => TransactItems): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      await db().send(new TransactWriteCommand({ TransactItems: build() }));
      return true;
    } catch (err) {
      if (isConditionFailure(err) && cancellationCodes(err)[0] === 'ConditionalCheckFailed') return false;
      const delay = isConflict(err) ? conflictRetryDelay(attempt) : undefined;
      if (delay === undefined) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** Writes a follow: both edges, the follower's following count, one of the followee's follower
 *  counters and, for a high-tier followee, the follower's high-tier entry. False when the edge
 *  already existed (nothing changed). */
export async function putFollowEdges(followerId: string, followeeId: string, followeeTier: Tier, since: string): Promise<boolean> {
  const out = keys.outEdge(followerId, followeeId);
  const inn = keys.inEdge(followeeId, followerId);
  const hi = keys.highTier(followerId, followeeId);
  return transact(() => [
    { Put: { TableName: out.table, Item: { ...out.key, since }, ConditionExpression: 'attribute_not_exists(pk)' } },
    { Put: { TableName: inn.table, Item: { ...inn.key, since } } },
    followingCounter(followerId, 1),
    followerCounter(followeeId, 1),
    ...(isHighTier(followeeTier) ? [{ Put: { TableName: hi.table, Item: { ...hi.key, tier: followeeTier } } }] : []),
  ]);
}

/** When followerId started following followeeId (ISO time), or undefined when they do not. */
export async function getFollowSince(followerId: string, followeeId: string): Promise<string | undefined> {
  const out = keys.outEdge(followerId, followeeId);
  const res = await db().send(new GetCommand({ TableName: out.table, Key: out.key, ProjectionExpression: 'since' }));
  return res.Item?.since as string | undefined;
}

/** Removes a follow: both edges, the counters, the high-tier entry and the active-follower index
 *  row. False when there was no edge (nothing changed). */
export async function deleteFollowEdges(followerId: string, followeeId: string): Promise<boolean> {
  const out = keys.outEdge(followerId, followeeId);
  const inn = keys.inEdge(followeeId, followerId);
  const hi = keys.highTier(followerId, followeeId);
  const active = keys.activeFollower(followeeId, activeBucket(followerId), followerId);
  return transact(() => [
    { Delete: { TableName: out.table, Key: out.key, ConditionExpression: 'attribute_exists(pk)' } },
    { Delete: { TableName: inn.table, Key: inn.key } },
    followingCounter(followerId, -1),
    followerCounter(followeeId, -1),
    { Delete: { TableName: hi.table, Key: hi.key } },
    { Delete: { TableName: active.table, Key: active.key } },
  ]);
}

/** Adds an author's high-tier entry to these followers' lists, each only while the follower
 *  still follows (checked in the same transaction); followers who unfollowed are skipped. */
export async function putHighTierEntries(authorId: string, tier: Tier, followerIds: string[]): Promise<void> {
  let pending = [...followerIds];
  while (pending.length > 0) {
    const chunk = pending.slice(0, HIGH_TIER_PER_TRANSACTION);
    pending = pending.slice(HIGH_TIER_PER_TRANSACTION);
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

/** Removes an author's high-tier entry from these followers' lists. */
export async function deleteHighTierEntries(authorId: string, followerIds: string[]): Promise<void> {
  await batchWrite(
    followerIds.map((f) => {
      const { table, key } = keys.highTier(f, authorId);
      return { table, request: { DeleteRequest: { Key: key } } };
    }),
  );
}

/** The high-tier authors a user follows (bounded by how many they follow). */
export async function queryHighTierFollowees(userId: string): Promise<{ authorId: string; tier: Tier }[]> {
  const { table, pk } = partitions.highTier(userId);
  const { items } = await queryAll({ TableName: table, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': pk } });
  return items.map((item) => ({ authorId: item.sk as string, tier: item.tier as Tier }));
}

/** Marks a follower as VIP of an author: the mark, the author's VIP count (at most VIPS_MAX)
 *  and a check that the follower follows, in one transaction. */
export async function putVipMark(authorId: string, followerId: string): Promise<VipMarkOutcome> {
  const vip = keys.vip(authorId, followerId);
  const profile = keys.profile(authorId);
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
    return 'marked';
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const [already, full, notFollower] = cancellationCodes(err);
    if (already) return 'already';
    if (notFollower) return 'not-follower';
    if (full) return 'limit';
    throw err;
  }
}

/** Clears a VIP mark and decrements the author's VIP count; false when there was none. */
export async function deleteVipMark(authorId: string, followerId: string): Promise<boolean> {
  const vip = keys.vip(authorId, followerId);
  const profile = keys.profile(authorId);
  return transact(() => [
    { Delete: { TableName: vip.table, Key: vip.key, ConditionExpression: 'attribute_exists(pk)' } },
    { Update: { TableName: profile.table, Key: profile.key, UpdateExpression: 'ADD vipCount :d', ExpressionAttributeValues: { ':d': -1 } } },
  ]);
}

/** One page of the sort keys (ids) of a partition, in id order, after `after`; `last` is set
 *  when the partition may hold more. */
async function idPage(part: { table: string; pk: string }, limit: number, after?: string): Promise<{ ids: string[]; last?: string }> {
  const { items, exhausted } = await queryAll(
    {
      TableName: part.table,
      KeyConditionExpression: after ? 'pk = :p AND sk > :a' : 'pk = :p',
      ExpressionAttributeValues: { ':p': part.pk, ...(after && { ':a': after }) },
      ProjectionExpression: 'sk',
    },
    limit,
  );
  const ids = items.map((i) => i.sk as string);
  return { ids, last: exhausted ? undefined : ids[ids.length - 1] };
}

/** One page of an author's VIP followers, in id order. */
export function queryVipPage(authorId: string, limit: number, after?: string): Promise<{ ids: string[]; last?: string }> {
  return idPage(partitions.vips(authorId), limit, after);
}

export type Direction = 'followers' | 'following';

/** One page of ids on a user's edge list, in id order. */
export function queryEdgePage(userId: string, direction: Direction, limit: number, after?: string): Promise<{ ids: string[]; last?: string }> {
  return idPage(direction === 'followers' ? partitions.followers(userId) : partitions.following(userId), limit, after);
}

/** A follower's entry in an author's active-follower index, kept until `expiresAt`. */
export interface ActiveFollowerMark {
  authorId: string;
  followerId: string;
  expiresAt: number;
}

/** Writes active-follower index entries (batched; TTL removes them at expiresAt). */
export async function putActiveFollowerMarks(marks: ActiveFollowerMark[]): Promise<void> {
  await batchWrite(
    marks.map(({ authorId, followerId, expiresAt }) => {
      const { table, key } = keys.activeFollower(authorId, activeBucket(followerId), followerId);
      return { table, request: { PutRequest: { Item: { ...key, expiresAt } } } };
    }),
  );
}

export interface ActiveCursor {
  bucket: number;
  after?: string;
}

/** One page of an author's followers whose index entry has not expired at `nowSeconds`, bucket
 *  by bucket, without touching inactive followers. */
export async function queryActiveFollowerPage(
  authorId: string,
  limit: number,
  from: ActiveCursor,
  nowSeconds: number,
): Promise<{ ids: string[]; next?: ActiveCursor }> {
  const ids: string[] = [];
  let { bucket, after } = from;
  while (bucket < ACTIVE_INDEX_BUCKETS && ids.length < limit) {
    const { table, pk } = partitions.activeFollowers(authorId, bucket);
    const { items, exhausted } = await queryAll(
      {
        TableName: table,
        KeyConditionExpression: after ? 'pk = :p AND sk > :a' : 'pk = :p',
        FilterExpression: 'expiresAt > :now',
        ExpressionAttributeValues: { ':p': pk, ':now': nowSeconds, ...(after && { ':a': after }) },
      },
      limit - ids.length,
    );
    ids.push(...items.map((i) => i.sk as string));
    if (exhausted) {
      bucket++;
      after = undefined;
    } else after = ids[ids.length - 1];
  }
  return { ids, next: bucket < ACTIVE_INDEX_BUCKETS ? { bucket, after } : undefined };
}
