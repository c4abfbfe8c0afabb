// The DynamoDB key scheme, owned here: which table and which key each kind of row lives under.
// Rows keyed by a user or post id go to the shard the id embeds; directory rows go by hash.
import { createHash } from 'node:crypto';
import { shardOfId, shardOfKey } from '../domain/sharding.js';
import { tableName } from '../declarations/tables.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

export const keys = {
  profile: (userId: string) => ({
    table: tableName('users', shardOfId(userId)),
    key: { pk: `user#${userId}`, sk: 'profile' },
  }),
  /** Token subject → user id. The subject is stored hashed: directory rows are placed by hash,
   *  not by home region, so they hold no personal data. */
  subject: (sub: string) => {
    const pk = `sub#${sha256(sub)}`;
    return { table: tableName('users', shardOfKey(pk)), key: { pk, sk: 'sub' } };
  },
  /** Handle claim (case-insensitive uniqueness). */
  handle: (handle: string) => {
    const pk = `handle#${handle.toLowerCase()}`;
    return { table: tableName('users', shardOfKey(pk)), key: { pk, sk: 'handle' } };
  },
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
  /** followee ← follower, on the followee's shard. */
  inEdge: (followeeId: string, followerId: string) => ({
    table: tableName('follows', shardOfId(followeeId)),
    key: { pk: `in#${followeeId}`, sk: followerId },
  }),
  /** One of FOLLOWER_COUNTER_SHARDS counter items of a user's follower count. */
  followerCounter: (userId: string, k: number) => ({
    table: tableName('users', shardOfId(userId)),
    key: { pk: `fc#${userId}#${k}`, sk: 'count' },
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
