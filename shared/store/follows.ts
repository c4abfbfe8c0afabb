// Follow rows: edges stored twice (out#<follower> on the follower's shard, in#<followee> on the
// followee's, spread over buckets once the account is big: store/edge-layout.ts), high-tier lists
// (hi#), VIP marks (vip#) and the active-follower index (af#). Every DynamoDB call about them is
// here; a follow or unfollow is one transaction with the counters, so lists, counts and pulls agree.
import { GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { batchWrite, cancellationCodes, db, dbIn, isConditionFailure } from './client.js';
import type { RegionName } from '../domain/regions.js';
import { readEdgeLayout } from './edge-layout.js';
import { activeBucket, edgeBucket, keys, partitions } from './keys.js';
import { queryAll } from './query-all.js';
import { deleteLayouts, putLayouts } from '../domain/edge-buckets.js';
import { ACTIVE_INDEX_BUCKETS, FOLLOWER_COUNTER_SHARDS, VIPS_MAX } from '../domain/limits.js';
import { isHighTier, type Tier } from '../domain/tier-policy.js';
import { conflictRetryDelay } from '../domain/transaction-retry.js';
import type { VipMarkOutcome } from '../domain/follow-policy.js';

type TransactItems = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>;

/** DynamoDB takes at most 100 items per transaction; a high-tier entry (or a copied in-edge)
 *  needs two (a check of the edge and the put), so 50 followers per transaction. */
const HIGH_TIER_PER_TRANSACTION = 50;
/** Ids read from one bucket per round of a merged page: twice its even share of the page, so
 *  one round usually fills it, and at least a few so tiny shares do not mean many rounds. */
const MERGE_MIN_FETCH = 4;

/** The distinct in-edge keys of a follower under these bucket counts (a follower can sit under
 *  the same key in two layouts when a move splits buckets, and a transaction names an item once). */
function inEdgeKeys(followeeId: string, followerId: string, layouts: number[]) {
  const byPk = new Map<string, ReturnType<typeof keys.inEdge>>();
  for (const n of layouts) {
    const k = keys.inEdge(followeeId, followerId, n);
    if (!byPk.has(k.key.pk)) byPk.set(k.key.pk, k);
  }
  return [...byPk.values()];
}

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
  const [inn, ...moving] = inEdgeKeys(followeeId, followerId, putLayouts(await readEdgeLayout(followeeId), Date.now()));
  const hi = keys.highTier(followerId, followeeId);
  return transact(() => [
    { Put: { TableName: out.table, Item: { ...out.key, since }, ConditionExpression: 'attribute_not_exists(pk)' } },
    { Put: { TableName: inn!.table, Item: { ...inn!.key, since } } },
    followingCounter(followerId, 1),
    followerCounter(followeeId, 1),
    ...(isHighTier(followeeTier) ? [{ Put: { TableName: hi.table, Item: { ...hi.key, tier: followeeTier } } }] : []),
    ...moving.map((k) => ({ Put: { TableName: k.table, Item: { ...k.key, since } } })),
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
  const [inn, ...moving] = inEdgeKeys(followeeId, followerId, deleteLayouts(await readEdgeLayout(followeeId)));
  const hi = keys.highTier(followerId, followeeId);
  const active = keys.activeFollower(followeeId, activeBucket(followerId), followerId);
  return transact(() => [
    { Delete: { TableName: out.table, Key: out.key, ConditionExpression: 'attribute_exists(pk)' } },
    { Delete: { TableName: inn!.table, Key: inn!.key } },
    followingCounter(followerId, -1),
    followerCounter(followeeId, -1),
    { Delete: { TableName: hi.table, Key: hi.key } },
    { Delete: { TableName: active.table, Key: active.key } },
    ...moving.map((k) => ({ Delete: { TableName: k.table, Key: k.key } })),
  ]);
}

/** Adds an author's high-tier entry to these followers' lists, each only while the follower
 *  still follows (checked in the same transaction); followers who unfollowed are skipped. */
export function putHighTierEntries(authorId: string, tier: Tier, followerIds: string[]): Promise<void> {
  return putWhileFollowing(authorId, followerIds, (f) => {
    const hi = keys.highTier(f, authorId);
    return { TableName: hi.table, Item: { ...hi.key, tier } };
  });
}

type PutItem = { TableName: string; Item: Record<string, unknown> };

/** Puts one item per follower, each only while the follower still follows the author (the
 *  out-edge checked in the same transaction); followers who unfollowed are skipped. */
async function putWhileFollowing(authorId: string, followerIds: string[], put: (followerId: string) => PutItem): Promise<void> {
  let pending = [...followerIds];
  while (pending.length > 0) {
    const chunk = pending.slice(0, HIGH_TIER_PER_TRANSACTION);
    pending = pending.slice(HIGH_TIER_PER_TRANSACTION);
    const items: TransactItems = chunk.flatMap((f) => {
      const out = keys.outEdge(f, authorId);
      return [{ ConditionCheck: { TableName: out.table, Key: out.key, ConditionExpression: 'attribute_exists(pk)' } }, { Put: put(f) }];
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
  // The follower's out-edge, written in the same transaction as the in-edge, so this needs no
  // look-up of the author's edge layout.
  const follows = keys.outEdge(followerId, authorId);
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
          { ConditionCheck: { TableName: follows.table, Key: follows.key, ConditionExpression: 'attribute_exists(pk)' } },
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
async function idPage(part: { table: string; pk: string }, limit: number, after?: string, client = db()): Promise<{ ids: string[]; last?: string }> {
  const { items, exhausted } = await queryAll(
    {
      TableName: part.table,
      KeyConditionExpression: after ? 'pk = :p AND sk > :a' : 'pk = :p',
      ExpressionAttributeValues: { ':p': part.pk, ...(after && { ':a': after }) },
      ProjectionExpression: 'sk',
    },
    limit,
    client,
  );
  const ids = items.map((i) => i.sk as string);
  return { ids, last: exhausted ? undefined : ids[ids.length - 1] };
}

/** One page of an author's VIP followers, in id order. */
export function queryVipPage(authorId: string, limit: number, after?: string): Promise<{ ids: string[]; last?: string }> {
  return idPage(partitions.vips(authorId), limit, after);
}

export type Direction = 'followers' | 'following';

/** One page of ids on a user's edge list, in id order: a user's followers merged over their
 *  edge buckets (read in parallel), so a cursor is the last id whatever the layout. `elsewhere`:
 *  for followers, the other regions whose tables index some of them; for following, the region
 *  holding the user's out-edges when this one does not. */
export async function queryEdgePage(
  userId: string,
  direction: Direction,
  limit: number,
  after?: string,
  elsewhere: readonly RegionName[] = [],
): Promise<{ ids: string[]; last?: string }> {
  if (direction === 'following') return idPage(partitions.following(userId), limit, after, elsewhere[0] ? dbIn(elsewhere[0]) : db());
  const { buckets } = await readEdgeLayout(userId);
  if (buckets <= 1 && elsewhere.length === 0) return idPage(partitions.followers(userId), limit, after);
  const sources: IdSource[] = Array.from({ length: buckets }, (_, b) => (from: string | undefined, n: number) => followerBucketIds(userId, b, buckets, n, from));
  // Followers made in other residency zones are indexed there (regional rows): read in place.
  // Their unbucketed partition only: an account bucketed in another region lists that region's
  // first partition there.
  for (const region of elsewhere) sources.push((from, n) => remoteFollowerIds(region, userId, n, from));
  const merged = await mergedIds(sources, limit, after);
  // One follower indexed in two copies (a follow made while its region was failed over): once.
  const ids = merged.ids.filter((id, i) => id !== merged.ids[i - 1]);
  return { ids, last: merged.more ? ids[ids.length - 1] : undefined };
}

/** Followers of `userId` indexed in another region; none while that region is unreachable. */
async function remoteFollowerIds(region: RegionName, userId: string, n: number, after?: string): Promise<BucketIds> {
  try {
    const page = await idPage(partitions.followers(userId), n, after, dbIn(region));
    return { ids: page.ids, last: page.last, exhausted: !page.last };
  } catch {
    return { ids: [], exhausted: true };
  }
}

/** How many partitions a user's followers are read from (the fan-out planner pages each). */
export async function followerBuckets(userId: string): Promise<number> {
  return (await readEdgeLayout(userId)).buckets;
}

/** One page of one bucket of a user's followers, in id order. */
export async function queryFollowerBucketPage(userId: string, bucket: number, buckets: number, limit: number, after?: string): Promise<{ ids: string[]; last?: string }> {
  const { ids, last, exhausted } = await followerBucketIds(userId, bucket, buckets, limit, after);
  return { ids, last: exhausted ? undefined : last };
}

type BucketIds = { ids: string[]; last?: string; exhausted: boolean };
type IdSource = (after: string | undefined, n: number) => Promise<BucketIds>;

/** Up to `n` followers of one bucket after `after`. Rows of followers whose bucket is another
 *  (a split bucket not yet cleaned, or a late write of an old layout) are skipped; `last` is the
 *  last row read, so a continuation does not read them again. */
async function followerBucketIds(userId: string, bucket: number, buckets: number, n: number, after?: string): Promise<BucketIds> {
  const part = partitions.followers(userId, bucket, buckets);
  const ids: string[] = [];
  for (let from = after; ; ) {
    const page = await idPage(part, n - ids.length, from);
    const raw = page.ids;
    ids.push(...raw.filter((f) => buckets <= 1 || edgeBucket(userId, f, buckets) === bucket));
    from = raw[raw.length - 1] ?? from;
    if (!page.last || ids.length >= n) return { ids, last: from, exhausted: !page.last };
  }
}

/** The first `limit` ids after `after` of several id-ordered sources whose ids are disjoint,
 *  read in parallel rounds: a source is read again only once its buffered ids are used up. */
async function mergedIds(sources: IdSource[], limit: number, after?: string): Promise<{ ids: string[]; more: boolean }> {
  const per = Math.max(MERGE_MIN_FETCH, Math.ceil((2 * limit) / sources.length));
  const state = sources.map((read) => ({ read, buf: [] as string[], pos: after, done: false }));
  const out: string[] = [];
  for (;;) {
    await Promise.all(
      state
        .filter((st) => st.buf.length === 0 && !st.done)
        .map(async (st) => {
          const page = await st.read(st.pos, per);
          st.buf = page.ids;
          st.pos = page.last;
          st.done = page.exhausted;
        }),
    );
    const live = state.filter((st) => st.buf.length > 0);
    // A source with an empty buffer here is done, so the smallest head is the next id overall.
    if (live.length === 0) return { ids: out, more: false };
    if (out.length >= limit) return { ids: out, more: true };
    const next = live.reduce((a, b) => (b.buf[0]! < a.buf[0]! ? b : a));
    out.push(next.buf.shift()!);
  }
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

/** One page of an author's followers whose index entry has not expired at `nowSeconds`, the
 *  buckets read in parallel and merged in id order (the cursor's `after` holds for every bucket
 *  from `bucket` on), without touching inactive followers. */
export async function queryActiveFollowerPage(
  authorId: string,
  limit: number,
  from: ActiveCursor,
  nowSeconds: number,
): Promise<{ ids: string[]; next?: ActiveCursor }> {
  const sources: IdSource[] = [];
  for (let bucket = from.bucket; bucket < ACTIVE_INDEX_BUCKETS; bucket++) {
    const { table, pk } = partitions.activeFollowers(authorId, bucket);
    sources.push(async (after, n) => {
      const { items, exhausted } = await queryAll(
        {
          TableName: table,
          KeyConditionExpression: after ? 'pk = :p AND sk > :a' : 'pk = :p',
          FilterExpression: 'expiresAt > :now',
          ExpressionAttributeValues: { ':p': pk, ':now': nowSeconds, ...(after && { ':a': after }) },
        },
        n,
      );
      const ids = items.map((i) => i.sk as string);
      return { ids, last: ids[ids.length - 1] ?? after, exhausted };
    });
  }
  const { ids, more } = await mergedIds(sources, limit, from.after);
  return { ids, next: more ? { bucket: from.bucket, after: ids[ids.length - 1] } : undefined };
}

// ---- moving an account's in-edges between layouts (services/edge-moves.ts runs the steps) ----

export interface MovePosition {
  bucket: number;
  after?: string;
}

/** Reads one page of bucket `at.bucket` of the `from` layout; returns its followers whose key
 *  differs under `to`, and the next position (undefined once every old bucket is read). */
async function movingPage(followeeId: string, from: number, to: number, at: MovePosition, limit: number) {
  const part = partitions.followers(followeeId, at.bucket, from);
  const { items, exhausted } = await queryAll(
    {
      TableName: part.table,
      KeyConditionExpression: at.after ? 'pk = :p AND sk > :a' : 'pk = :p',
      ExpressionAttributeValues: { ':p': part.pk, ...(at.after && { ':a': at.after }) },
      ProjectionExpression: 'sk, since',
    },
    limit,
  );
  const rows = items.map((i) => ({ followerId: i.sk as string, since: i.since as string | undefined }));
  const moving = rows.filter((r) => keys.inEdge(followeeId, r.followerId, to).key.pk !== part.pk);
  const last = rows[rows.length - 1]?.followerId;
  const next: MovePosition | undefined = !exhausted ? { bucket: at.bucket, after: last } : at.bucket + 1 < from ? { bucket: at.bucket + 1 } : undefined;
  return { part, moving, next };
}

/** Copies one page of the `from` layout into `to`, each edge only while its follower still
 *  follows (an unfollow between the read and the copy is not undone). */
export async function copyEdgePage(followeeId: string, from: number, to: number, at: MovePosition, limit: number): Promise<MovePosition | undefined> {
  const { moving, next } = await movingPage(followeeId, from, to, at, limit);
  // Rows of another bucket of `from` are late writes of an older layout: the follow they belong
  // to was written to its own bucket too, which copies it.
  const own = moving.filter((r) => from <= 1 || edgeBucket(followeeId, r.followerId, from) === at.bucket);
  const since = new Map(own.map((r) => [r.followerId, r.since ?? new Date(0).toISOString()]));
  await putWhileFollowing(followeeId, [...since.keys()], (f) => {
    const k = keys.inEdge(followeeId, f, to);
    return { TableName: k.table, Item: { ...k.key, since: since.get(f) } };
  });
  return next;
}

/** Deletes one page of the `from` layout's rows whose key differs under `to` (after the flip,
 *  once no reader or writer uses `from`). */
export async function cleanupEdgePage(followeeId: string, from: number, to: number, at: MovePosition, limit: number): Promise<MovePosition | undefined> {
  const { part, moving, next } = await movingPage(followeeId, from, to, at, limit);
  await batchWrite(moving.map((r) => ({ table: part.table, request: { DeleteRequest: { Key: { pk: part.pk, sk: r.followerId } } } })));
  return next;
}

/** The tier this region last applied to its followers of an author homed in another zone. */
export async function getAppliedTier(authorId: string): Promise<Tier | undefined> {
  const { table, key } = keys.appliedTier(authorId);
  return (await db().send(new GetCommand({ TableName: table, Key: key }))).Item?.tier as Tier | undefined;
}

export async function putAppliedTier(authorId: string, tier: Tier): Promise<void> {
  const { table, key } = keys.appliedTier(authorId);
  await db().send(new PutCommand({ TableName: table, Item: { ...key, tier } }));
}
