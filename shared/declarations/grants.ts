// What each Lambda function may touch, and nothing more: tables by entity (access level and
// indexes), streams it consumes, queues it sends to or consumes, workflows it starts, and whether
// it joins the VPC to reach Redis. stacks/ builds every IAM policy from this module alone, and
// tests/integration/grants.test.ts fails when a handler's real usage differs from it.
import type { QueueName } from './event-sources.js';
import type { FunctionName } from './functions.js';
import type { Entity } from './tables.js';

export type Access = 'read' | 'write' | 'readwrite';

export interface TableGrant {
  /** Access to the base table; absent when the function only queries secondary indexes. */
  access?: Access;
  /** Secondary indexes the function queries, granted as `<table>/index/<name>` (Query only). */
  indexes?: readonly string[];
  /** The access a network of several regions needs beyond `access` (a user homed elsewhere read
   *  from the directory, a tier applied to this region's followers): granted in every network,
   *  exercised only in one of several regions, so a one-region scenario does not check it. */
  acrossRegions?: Access;
}

export interface Grant {
  tables: Partial<Record<Entity, TableGrant>>;
  /** Entities whose shard tables' streams feed this function (an event-source mapping). */
  streams: readonly Entity[];
  sendsTo: readonly QueueName[];
  /** Queues whose messages feed this function (an event-source mapping). */
  consumes: readonly QueueName[];
  /** Workflow (state machine) names this function starts executions of. */
  startsWorkflows: readonly string[];
  /** Joins the VPC to reach ElastiCache. Lambdas in a VPC reach DynamoDB through its gateway
   *  endpoint only, so a function that needs anything else there needs that path added first. */
  redis: boolean;
  /** Puts records to the analytics delivery streams (Firehose) of the zones its stage exports
   *  (stacks/analytics-plan.ts). */
  exportsAnalytics?: boolean;
}

/** IAM actions per access level. `read` covers TransactGetItems (which IAM authorises as GetItem)
 *  and the ConditionCheck items of TransactWriteItems; `write` covers TransactWriteItems' puts,
 *  updates and deletes, which IAM authorises item by item. */
export const TABLE_ACTIONS: Record<'read' | 'write', readonly string[]> = {
  read: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'],
  write: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'],
};
/** On the region's control table, for every function: the shard map is read with a consistent
 *  GetItem (shared/store/shard-map.ts readShardMap). Only the operator's `feedctl reshard` writes
 *  it, with its own credentials, so no role can move a shard. */
export const CONTROL_TABLE_ACTIONS: readonly string[] = ['dynamodb:GetItem'];
/** A Query on a secondary index is authorised against the index's own ARN. */
export const INDEX_ACTIONS: readonly string[] = ['dynamodb:Query'];
/** What Lambda's event-source mapping does with the function's role on a stream. */
export const STREAM_ACTIONS: readonly string[] = [
  'dynamodb:DescribeStream',
  'dynamodb:GetRecords',
  'dynamodb:GetShardIterator',
  'dynamodb:ListStreams',
];
/** SendMessageBatch is authorised as SendMessage. */
export const QUEUE_SEND_ACTIONS: readonly string[] = ['sqs:SendMessage'];
/** What Lambda's event-source mapping does with the function's role on a queue. */
export const QUEUE_CONSUME_ACTIONS: readonly string[] = [
  'sqs:ReceiveMessage',
  'sqs:DeleteMessage',
  'sqs:GetQueueAttributes',
  'sqs:ChangeMessageVisibility',
];
export const WORKFLOW_START_ACTIONS: readonly string[] = ['states:StartExecution'];

export function actionsFor(access: Access): string[] {
  return access === 'readwrite' ? [...TABLE_ACTIONS.read, ...TABLE_ACTIONS.write] : [...TABLE_ACTIONS[access]];
}

const none: Grant = { tables: {}, streams: [], sendsTo: [], consumes: [], startsWorkflows: [], redis: false };
const grant = (g: Partial<Grant>): Grant => ({ ...none, ...g });
/** Every authenticated route takes a token from its caller's rate-limit bucket in Redis
 *  (shared/edge/rate-limit.ts), so each joins the VPC beside the cache. */
const routeGrant = (g: Partial<Grant>): Grant => grant({ ...g, redis: true });

/** The access a deployed role gets on an entity's tables: `access` together with `acrossRegions`. */
export function grantedAccess(t: TableGrant): Access | undefined {
  const both = new Set([t.access, t.acrossRegions].filter((a): a is Access => a !== undefined));
  if (both.size === 0) return undefined;
  return both.size === 1 ? [...both][0] : 'readwrite';
}

export const GRANTS: Record<FunctionName, Grant> = {
  health: none,
  'dev-token': none,
  openapi: none,
  // The subject's home set and the handle claimed in the directory (in their authority region),
  // then profile, subject entry and card in one conditional transaction.
  'create-user': routeGrant({ tables: { users: { access: 'write' }, directory: { access: 'readwrite' } } }),
  // Every call with a token finds its home set in the directory (subject hints); profiles of
  // users homed elsewhere are their directory cards, with follower counts from it.
  'get-me': routeGrant({ tables: { users: { access: 'read' }, directory: { access: 'read' } } }),
  'get-user': routeGrant({ tables: { users: { access: 'read' }, directory: { access: 'read' } } }),
  // Edges, counters and the high-tier entry in one transaction; the followee's latest posts
  // (byAuthor) into the caller's feed; a follow notification; and, when the followee's count
  // crosses a tier threshold, tier jobs for every follower (paged from the in-edges).
  'follow-user': grant({
    tables: {
      users: { access: 'readwrite' },
      follows: { access: 'readwrite' },
      posts: { indexes: ['byAuthor'] },
      feeds: { access: 'write' },
      // Subject hint and cards (read), this region's follower-counter items (write).
      directory: { access: 'readwrite' },
    },
    sendsTo: ['fanout', 'notifications'],
    // Drops the caller's cached feed.
    redis: true,
  }),
  // As follow, in reverse: the followee's entries found through the feed's byAuthor index are
  // deleted, a VIP mark is cleared, and a tier drop sends tier jobs.
  'unfollow-user': grant({
    tables: {
      users: { access: 'readwrite' },
      follows: { access: 'readwrite' },
      feeds: { access: 'write', indexes: ['byAuthor'] },
      directory: { access: 'readwrite' },
    },
    sendsTo: ['fanout'],
    redis: true,
  }),
  'list-followers': routeGrant({ tables: { users: { access: 'read' }, follows: { access: 'read' }, directory: { access: 'read' } } }),
  'list-following': routeGrant({ tables: { users: { access: 'read' }, follows: { access: 'read' }, directory: { access: 'read' } } }),
  // Idempotency records live in the users tables; posting records activity (profile) and
  // indexes it under the celebrities the author follows (follows).
  'create-post': grant({ tables: { users: { access: 'readwrite' }, posts: { access: 'write' }, follows: { access: 'readwrite' }, directory: { access: 'read' } }, redis: true }),
  'get-post': routeGrant({ tables: { posts: { access: 'read' } } }),
  // Records the deletion in the cache at once, so no cached page shows the post.
  'delete-post': grant({ tables: { users: { access: 'read' }, posts: { access: 'readwrite' }, directory: { access: 'read' } }, redis: true }),
  'list-user-posts': routeGrant({ tables: { users: { access: 'read' }, posts: { indexes: ['byAuthor'] }, directory: { access: 'read' } } }),
  // Reads pushed entries (deleting dangling ones), pulls followed high-tier authors' posts
  // (byAuthor), records activity and indexes it under the celebrities followed.
  'get-feed': grant({
    tables: {
      users: { access: 'readwrite' },
      follows: { access: 'readwrite' },
      feeds: { access: 'readwrite' },
      posts: { access: 'read', indexes: ['byAuthor'] },
      directory: { access: 'read' },
    },
    redis: true,
  }),
  'set-vip': routeGrant({ tables: { users: { access: 'readwrite' }, follows: { access: 'readwrite' }, directory: { access: 'read' } } }),
  'clear-vip': routeGrant({ tables: { users: { access: 'readwrite' }, follows: { access: 'write' }, directory: { access: 'read' } } }),
  'list-notifications': routeGrant({ tables: { users: { access: 'read' }, notifications: { access: 'read' }, directory: { access: 'read' } } }),
  'mark-notifications-read': routeGrant({ tables: { users: { access: 'read' }, notifications: { access: 'write' }, directory: { access: 'read' } } }),
  // Routes by the author's tier: jobs (regular, VIPs of a mega author, the delayed notify-plan)
  // or a CelebrityFanout execution.
  'post-router': grant({
    // The author's tier: from the directory card when the author is homed in another zone.
    // Across regions: the author's tier from their directory card, the tier this region last
    // applied to its own followers of an author homed in another zone (tierseen#, follows), and
    // the tier of an author it serves re-derived from the count (profile, card, edge layout).
    tables: { users: { access: 'read', acrossRegions: 'readwrite' }, follows: { access: 'read', acrossRegions: 'readwrite' }, directory: { acrossRegions: 'readwrite' } },
    streams: ['posts'],
    sendsTo: ['fanout'],
    startsWorkflows: ['celebrity-fanout'],
    // High-tier posts into the recent-posts cache; deletions into the deleted set.
    redis: true,
  }),
  // add/remove jobs write feed entries (about one write in FEED_TRIM_ONE_IN queries a feed to
  // trim it) and notify; tier jobs rewrite high-tier lists; notify-plan pages the followers.
  'fan-out-worker': grant({
    // Tier jobs read followers' profiles to index the active ones under a new celebrity.
    tables: { feeds: { access: 'readwrite' }, follows: { access: 'readwrite' }, posts: { access: 'read', indexes: ['byAuthor'] }, users: { access: 'read' } },
    consumes: ['fanout'],
    sendsTo: ['fanout', 'notifications'],
    redis: true,
  }),
  'celebrity-fanout-page': grant({ tables: { follows: { access: 'read' } } }),
  // Writes entries, then drops and regenerates the followers' cached feeds (reading them back).
  'celebrity-fanout-push': grant({
    tables: { feeds: { access: 'readwrite' }, follows: { access: 'read' }, posts: { access: 'read', indexes: ['byAuthor'] } },
    redis: true,
  }),
  'workflow-continue': grant({ startsWorkflows: ['celebrity-fanout'] }),
  'notification-collector': grant({ tables: { notifications: { access: 'write' } }, consumes: ['notifications'] }),
  'notification-plan': none,
  // Reads the `active` set in Redis only.
  'cache-warm-page': grant({ redis: true }),
  // Generates feeds as get-feed does (entries, posts, high-tier lists) and writes them to the
  // cache; it leaves dangling entries for readers to delete, so it only reads tables.
  'cache-warm-chunk': grant({
    tables: { feeds: { access: 'read' }, follows: { access: 'read' }, posts: { access: 'read', indexes: ['byAuthor'] } },
    redis: true,
  }),
  // Reads a window's accumulators, the actors' handles, writes digests and drops accumulators.
  'notification-compose': grant({ tables: { users: { access: 'read' }, notifications: { access: 'readwrite' }, directory: { access: 'read' } } }),
  // Reads every table's stream and writes nothing but analytics records.
  'analytics-export': grant({ streams: ['users', 'follows', 'posts', 'feeds', 'notifications'], exportsAnalytics: true }),
};
