// The DynamoDB key scheme, owned here: which table and which key each kind of row lives under.
// Rows keyed by a user or post id go to the shard the id embeds; directory rows go by hash.
import { createHash } from 'node:crypto';
import murmurhash from 'murmurhash';
import { ACTIVE_INDEX_BUCKETS, NOTIFY_BUCKETS } from '../domain/limits.js';
import { logicalShardInSet, tableSetOfLogical, type TableSet } from '../domain/residency.js';
import { isId, logicalShardOf } from '../domain/ids.js';
import { LOGICAL_SHARDS } from '../domain/regions.js';
import { tableName, type Entity } from '../declarations/tables.js';
import { isMultiRegion, networkRegions, selfRegion } from '../edge/network.js';
import { tableOfLogical } from './shard-map.js';

// Tables by this process's copy of the shard map; shard-routing.ts re-routes a command whose
// logical shard moved since.
const physicalShard = (logical: number) => tableOfLogical(logical);
const shardOfId = (id: string) => tableOfLogical(logicalShardOf(id));
/** Directory keys that carry no id (handles, token subjects) are placed by MurmurHash3. */
const shardOfKey = (key: string) => tableOfLogical(murmurhash.v3(key) % LOGICAL_SHARDS);

/** The sort key of this region's follower-counter items ('count' in a network that names no region). */
export const counterRegion = (): string => selfRegion() ?? 'count';
/** Every region's counter sort keys: the items a follower count sums. */
export const counterRegions = (): string[] => (isMultiRegion() ? networkRegions() : [counterRegion()]);

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');
/** A subject as the directory stores it: hashed, so no row holds the identity provider's id. */
export const subjectHash = (sub: string) => sha256(sub);

export const keys = {
  profile: (userId: string) => ({
    table: tableName('users', shardOfId(userId)),
    key: { pk: `user#${userId}`, sk: 'profile' },
  }),
  /** Token subject → user id, in the user's home table set (on a shard of the set chosen by the
   *  subject's hash): which account a subject is, is the user's own data. */
  subject: (sub: string, set: TableSet) => {
    const pk = `sub#${sha256(sub)}`;
    return { table: tableName('users', physicalShard(logicalShardInSet(set, pk))), key: { pk, sk: 'sub' } };
  },
  /** Token subject → the name of its home table set, in the public directory (placed by hash):
   *  lets any region route a request without holding the user's data. */
  subjectHint: (sub: string) => {
    const pk = `sub#${sha256(sub)}`;
    const shard = shardOfKey(pk);
    return { table: tableName('directory', shard), shard, key: { pk, sk: 'hint' } };
  },
  /** Handle claim (case-insensitive uniqueness across the network), in the public directory. */
  handle: (handle: string) => {
    const pk = `handle#${handle.toLowerCase()}`;
    const shard = shardOfKey(pk);
    return { table: tableName('directory', shard), shard, key: { pk, sk: 'handle' } };
  },
  /** A user's public profile card, in the public directory on the user's own shard. */
  card: (userId: string) => ({
    table: tableName('directory', shardOfId(userId)),
    key: { pk: `card#${userId}`, sk: 'card' },
  }),
  /** A remembered Idempotency-Key of POST /v1/posts, on the author's shard. */
  idempotency: (userId: string, key: string) => ({
    table: tableName('users', shardOfId(userId)),
    key: { pk: `idem#${userId}#${sha256(key)}`, sk: 'idem' },
  }),
  /** follower → followee, on the follower's shard. */
  outEdge: (followerId: string, followeeId: string) => ({
    table: tableName('follows', shardOfId(followerId)),
    key: { pk: `out#${followerId}`, sk: followeeId },
  }),
  /** followee ← follower, on the followee's shard, in one of the account's `buckets` partitions
   *  (README "Celebrity edges"); an account with one bucket keeps the plain key in#<followee>. */
  inEdge: (followeeId: string, followerId: string, buckets = 1) => ({
    table: tableName('follows', shardOfId(followeeId)),
    key: { pk: inEdgePk(followeeId, edgeBucket(followeeId, followerId, buckets), buckets), sk: followerId },
  }),
  /** How many partitions an account's in-edges are spread over, and the state of a move. */
  /** The tier of an author homed in another residency zone that this region last applied to its
   *  own followers' high-tier lists (regional: each region keeps its own). */
  appliedTier: (authorId: string) => ({
    table: tableName('follows', shardOfId(authorId)),
    key: { pk: `tierseen#${authorId}`, sk: 'tier' },
  }),
  edgeLayout: (followeeId: string) => ({
    table: tableName('follows', shardOfId(followeeId)),
    key: { pk: `inl#${followeeId}`, sk: 'layout' },
  }),
  /** One of FOLLOWER_COUNTER_SHARDS counter items of a user's follower count, in the public
   *  directory: each region counts the follows it serves in its own items (sort key: the region),
   *  so no two regions ever update one item and replication's last-writer-wins loses no count. */
  followerCounter: (userId: string, k: number, region: string = counterRegion()) => ({
    table: tableName('directory', shardOfId(userId)),
    key: { pk: `fc#${userId}#${k}`, sk: region },
  }),
  /** A high-tier (celebrity or mega) author the user follows, on the user's shard: the authors
   *  whose posts the user's feed pulls at read time. */
  highTier: (userId: string, authorId: string) => ({
    table: tableName('follows', shardOfId(userId)),
    key: { pk: `hi#${userId}`, sk: authorId },
  }),
  /** A VIP follower of an author (the mega path pushes to them), on the author's shard. */
  vip: (authorId: string, followerId: string) => ({
    table: tableName('follows', shardOfId(authorId)),
    key: { pk: `vip#${authorId}`, sk: followerId },
  }),
  /** An author's recently active follower, in one of ACTIVE_INDEX_BUCKETS partitions. */
  activeFollower: (authorId: string, bucket: number, followerId: string) => ({
    table: tableName('follows', shardOfId(authorId)),
    key: { pk: `af#${authorId}#${bucket}`, sk: followerId },
  }),
  /** A recipient's accumulated notification events of one window. */
  notifyAccumulator: (windowStart: number, bucket: number, recipientId: string) => ({
    table: tableName('notifications', shardOfId(recipientId)),
    key: { pk: `acc#${windowStart}#${bucket}`, sk: recipientId },
  }),
  /** A composed digest in a recipient's notification list. */
  notification: (recipientId: string, notificationId: string) => ({
    table: tableName('notifications', shardOfId(recipientId)),
    key: { pk: `ntf#${recipientId}`, sk: notificationId },
  }),
  /** How far a recipient has read their notifications. */
  notificationsRead: (recipientId: string) => ({
    table: tableName('notifications', shardOfId(recipientId)),
    key: { pk: `nread#${recipientId}`, sk: 'read' },
  }),
  post: (postId: string) => ({ table: tableName('posts', shardOfId(postId)), key: { postId } }),
  feedEntry: (userId: string, postId: string) => ({
    table: tableName('feeds', shardOfId(userId)),
    key: { userId, postId },
  }),
};

export const followsTable = (userId: string) => tableName('follows', shardOfId(userId));
export const postsTable = (authorId: string) => tableName('posts', shardOfId(authorId));
export const feedsTable = (userId: string) => tableName('feeds', shardOfId(userId));

/** Which of ACTIVE_INDEX_BUCKETS partitions holds a follower in an author's active-follower
 *  index: a stable hash, so a follower's repeated activity overwrites one row. */
export const activeBucket = (followerId: string) => murmurhash.v3(followerId) % ACTIVE_INDEX_BUCKETS;

/** Which of an account's `buckets` edge partitions holds a follower: a stable hash of the
 *  follower, so with power-of-two counts a follower in bucket b of N is in b or b + N of 2N and a
 *  move splits buckets. A function of both ids, so placement can change here alone. */
export function edgeBucket(_followeeId: string, followerId: string, buckets: number): number {
  return buckets <= 1 ? 0 : murmurhash.v3(followerId) % buckets;
}
const inEdgePk = (followeeId: string, bucket: number, buckets: number) => (buckets <= 1 ? `in#${followeeId}` : `in#${followeeId}#${bucket}`);

/** Whole partitions that are queried (lists read in sort-key order), with the table they live in. */
export const partitions = {
  /** The ids a user follows (sort keys of out#<user>). */
  following: (userId: string) => ({ table: followsTable(userId), pk: `out#${userId}` }),
  /** The ids following a user in one of their `buckets` edge partitions (sort keys of
   *  in#<user>, or in#<user>#<bucket> once bucketed). */
  followers: (userId: string, bucket = 0, buckets = 1) => ({ table: followsTable(userId), pk: inEdgePk(userId, bucket, buckets) }),
  /** The high-tier authors a user follows, with their tier. */
  highTier: (userId: string) => ({ table: followsTable(userId), pk: `hi#${userId}` }),
  /** An author's VIP followers. */
  vips: (authorId: string) => ({ table: followsTable(authorId), pk: `vip#${authorId}` }),
  /** One bucket of an author's active-follower index. */
  activeFollowers: (authorId: string, bucket: number) => ({ table: followsTable(authorId), pk: `af#${authorId}#${bucket}` }),
};

/** What a row of the users tables is, read back from its partition key (a BatchGetItem mixes
 *  profiles and follower counters). */
export type UsersRowKind = { kind: 'profile'; userId: string } | { kind: 'followerCounter'; userId: string } | { kind: 'other' };
export function parseUsersKey(pk: string): UsersRowKind {
  const [prefix, userId] = pk.split('#');
  if (prefix === 'user' && userId) return { kind: 'profile', userId };
  if (prefix === 'fc' && userId) return { kind: 'followerCounter', userId };
  return { kind: 'other' };
}

// ---- posts, feeds, notifications -----------------------------------------------------------

/** The sort key of a feed's byAuthor index: an author's entries in one feed share its prefix. */
export const authorPostKey = (authorId: string, postId: string) => `${authorId}#${postId}`;

/** Which of NOTIFY_BUCKETS partitions of a window holds a recipient's accumulator: a stable hash,
 *  so one busy window's events spread over partitions and a recipient always lands in one. */
export const notifyBucket = (recipientId: string) => murmurhash.v3(recipientId) % NOTIFY_BUCKETS;

/** Lists read by query: an author's posts, a feed, one author's entries in a feed, one bucket of
 *  a window's accumulators on a shard, a recipient's digests. */
export const listings = {
  authorPosts: (authorId: string) => ({ table: postsTable(authorId), index: 'byAuthor', authorId }),
  feed: (userId: string) => ({ table: feedsTable(userId), userId }),
  feedOfAuthor: (userId: string, authorId: string) => ({ table: feedsTable(userId), index: 'byAuthor', userId, prefix: authorPostKey(authorId, '') }),
  accumulators: (shard: number, windowStart: number, bucket: number) => ({ table: tableName('notifications', shard), pk: `acc#${windowStart}#${bucket}` }),
  notifications: (recipientId: string) => ({ table: tableName('notifications', shardOfId(recipientId)), pk: `ntf#${recipientId}` }),
};

/** The recipient an accumulator row belongs to, read back from its key. */
export function parseAccumulatorKey(key: { pk: string; sk: string }): { windowStart: number; bucket: number; recipientId: string } {
  const [, windowStart, bucket] = key.pk.split('#');
  return { windowStart: Number(windowStart), bucket: Number(bucket), recipientId: key.sk };
}

// ---- routing a row back to its logical shard --------------------------------------------------

/** Partition-key prefixes placed by the hash of the whole key (shardOfKey), per entity. */
const HASHED_PREFIXES: Partial<Record<Entity, ReadonlySet<string>>> = {
  directory: new Set(['handle', 'sub']),
};

/** The logical shard a row belongs to, read back from its partition key (and sort key), or
 *  undefined for rows that belong to their physical table rather than to a logical shard (a
 *  notification window's accumulators, acc#…, are planned per table and drain where they are).
 *  `tableLogical` is any logical shard of the table the row was found in: a users table's
 *  subject rows are placed inside its table set by hash, and the set is the table's.
 *  The inverse of `keys` above (tests/unit/shard-routing.test.ts checks every builder). */
export function logicalShardOfRow(entity: Entity, pk: string, tableLogical: number): number | undefined {
  const [prefix, id] = pk.split('#');
  if (id === undefined && isId(pk)) return logicalShardOf(pk);
  if (prefix === undefined || id === undefined) return undefined;
  if (HASHED_PREFIXES[entity]?.has(prefix)) return murmurhash.v3(pk) % LOGICAL_SHARDS;
  if (entity === 'users' && prefix === 'sub') return logicalShardInSet(tableSetOfLogical(tableLogical), pk);
  if (prefix === 'acc') return undefined;
  return isId(id) ? logicalShardOf(id) : undefined;
}
