// The table definitions: one source of truth read by stacks/ (deploy) and by the local stack
// (CreateTable). Each entity is FEED_SHARDS physical tables named <prefix><Base>_<n>.
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { config } from '../edge/config.js';

export type Entity = 'users' | 'follows' | 'posts' | 'feeds' | 'notifications' | 'directory';

interface KeyDef {
  name: string;
  type: 'S' | 'N';
}
export interface IndexDef {
  name: string;
  partitionKey: KeyDef;
  sortKey?: KeyDef;
}
export interface TableDef {
  entity: Entity;
  baseName: string;
  /** What the table holds, for the README and the stacks' descriptions. */
  holds: string;
  partitionKey: KeyDef;
  sortKey?: KeyDef;
  globalIndexes: IndexDef[];
  localIndexes: IndexDef[];
  /** DynamoDB TTL attribute (epoch seconds), if rows expire. */
  ttlAttribute?: string;
}

const S = (name: string): KeyDef => ({ name, type: 'S' });

export const TABLES: Record<Entity, TableDef> = {
  users: {
    entity: 'users',
    baseName: 'Users',
    holds: 'profiles (user#<id>), token subject → user entries (sub#<hash>) in the home set, idempotency records',
    partitionKey: S('pk'),
    sortKey: S('sk'),
    globalIndexes: [],
    localIndexes: [],
    ttlAttribute: 'expiresAt',
  },
  follows: {
    entity: 'follows',
    baseName: 'Follows',
    holds: 'follow edges in both directions: out#<follower> → followee on the follower’s shard, in#<followee> → follower on the followee’s shard',
    partitionKey: S('pk'),
    sortKey: S('sk'),
    globalIndexes: [],
    localIndexes: [],
  },
  posts: {
    entity: 'posts',
    baseName: 'Posts',
    holds: 'posts by id, on the author’s shard; index byAuthor lists an author’s posts newest first',
    partitionKey: S('postId'),
    globalIndexes: [{ name: 'byAuthor', partitionKey: S('authorId'), sortKey: S('postId') }],
    localIndexes: [],
  },
  feeds: {
    entity: 'feeds',
    baseName: 'Feeds',
    holds: 'precomputed feed entries (owner, postId), capped and expiring; index byAuthor finds one author’s entries in a feed',
    partitionKey: S('userId'),
    sortKey: S('postId'),
    globalIndexes: [],
    localIndexes: [{ name: 'byAuthor', partitionKey: S('userId'), sortKey: S('authorPost') }],
    ttlAttribute: 'expiresAt',
  },
  notifications: {
    entity: 'notifications',
    baseName: 'Notifications',
    holds: 'notification events accumulated per window (acc#<window>#<bucket> → recipient), digests (ntf#<recipient>) and read marks, on the recipient’s shard',
    partitionKey: S('pk'),
    sortKey: S('sk'),
    globalIndexes: [],
    localIndexes: [],
    ttlAttribute: 'expiresAt',
  },
  directory: {
    entity: 'directory',
    baseName: 'Directory',
    holds: 'the public directory, replicated to every region: handle claims (handle#<handle>) and token-subject hints (sub#<hash>) placed by hash and claimed in one authority region each, profile cards (card#<id>) and per-region follower counters (fc#<id>#<k>) on the user’s shard',
    partitionKey: S('pk'),
    sortKey: S('sk'),
    globalIndexes: [],
    localIndexes: [],
  },
};

/** Every shard table streams new and old images; the posts stream drives fan-out. */
export const STREAM_VIEW = 'NEW_AND_OLD_IMAGES' as const;

export function tableName(entity: Entity, shard: number): string {
  return `${config().FEED_TABLE_PREFIX}${TABLES[entity].baseName}_${shard}`;
}

/** CreateTable input for one physical table (on-demand capacity). */
export function createTableInput(def: TableDef, name: string): CreateTableCommandInput {
  const keys = [def.partitionKey, def.sortKey, ...def.globalIndexes.flatMap((i) => [i.partitionKey, i.sortKey]), ...def.localIndexes.flatMap((i) => [i.sortKey])];
  const attributes = new Map<string, KeyDef>();
  for (const k of keys) if (k) attributes.set(k.name, k);
  const schema = (pk: KeyDef, sk?: KeyDef) => [
    { AttributeName: pk.name, KeyType: 'HASH' as const },
    ...(sk ? [{ AttributeName: sk.name, KeyType: 'RANGE' as const }] : []),
  ];
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributes.values()].map((k) => ({ AttributeName: k.name, AttributeType: k.type })),
    KeySchema: schema(def.partitionKey, def.sortKey),
    StreamSpecification: { StreamEnabled: true, StreamViewType: STREAM_VIEW },
    ...(def.globalIndexes.length > 0 && {
      GlobalSecondaryIndexes: def.globalIndexes.map((i) => ({
        IndexName: i.name,
        KeySchema: schema(i.partitionKey, i.sortKey),
        Projection: { ProjectionType: 'ALL' as const },
      })),
    }),
    ...(def.localIndexes.length > 0 && {
      LocalSecondaryIndexes: def.localIndexes.map((i) => ({
        IndexName: i.name,
        KeySchema: schema(i.partitionKey, i.sortKey),
        Projection: { ProjectionType: 'ALL' as const },
      })),
    }),
  };
}

/** The control table: one per region, not sharded and not replicated (each region maps its own
 *  logical shards). It holds the shard map (pk shardmap) and the state of a reshard (pk reshard). */
export function controlTableName(): string {
  return `${config().FEED_TABLE_PREFIX}Control`;
}

export function controlTableInput(name: string = controlTableName()): CreateTableCommandInput {
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
  };
}
