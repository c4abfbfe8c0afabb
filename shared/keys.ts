// The DynamoDB key scheme, owned here: which table and which key each kind of row lives under.
// Rows keyed by a user or post id go to the shard the id embeds; directory rows go by hash.
import { createHash } from 'node:crypto';
import { shardOfId, shardOfKey } from './sharding.js';
import { tableName } from './tables.js';

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
  post: (postId: string) => ({ table: tableName('posts', shardOfId(postId)), key: { postId } }),
  feedEntry: (userId: string, postId: string) => ({
    table: tableName('feeds', shardOfId(userId)),
    key: { userId, postId },
  }),
};

export const followsTable = (userId: string) => tableName('follows', shardOfId(userId));
export const postsTable = (authorId: string) => tableName('posts', shardOfId(authorId));
export const feedsTable = (userId: string) => tableName('feeds', shardOfId(userId));
