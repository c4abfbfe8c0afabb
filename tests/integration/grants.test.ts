// Least privilege, checked against real behaviour: every function runs through the local Lambda
// runtime (one invocation at a time, so each AWS call is attributed to the function running),
// against DynamoDB Local, while recorders note each table, index, queue, workflow and Redis use.
// The recorded usage must equal shared/declarations/grants.ts in both directions: a handler that touches an
// ungranted resource fails here before it fails in AWS, and so does a grant nobody uses.
import { cacheKeys } from '../../shared/cache/cache-keys.js';
import { l2 } from '../../shared/cache/l2.js';
import { recordActive } from '../../shared/cache/pull-cache.js';
import { randomUUID } from 'node:crypto';
import { DeleteItemCommand, GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { db, dynamo } from '../../shared/store/client.js';
import { useQueueTransport, type OutgoingMessage } from '../../shared/messaging/queue.js';
import { sfn } from '../../shared/messaging/workflow-starts.js';
import { config, resetConfig } from '../../shared/edge/config.js';
import { MAPPINGS, type QueueName } from '../../shared/declarations/event-sources.js';
import { feedEntry } from '../../shared/services/feed-entries.js';
import { FUNCTIONS, type FunctionName } from '../../shared/declarations/functions.js';
import { CONTROL_TABLE_ACTIONS, GRANTS, TABLE_ACTIONS, type Access } from '../../shared/declarations/grants.js';
import { mintId, logicalShardOf, timestampOf } from '../../shared/domain/ids.js';
import { resetRateLimiter } from '../../shared/edge/rate-limit.js';
import { keys } from '../../shared/store/keys.js';
import { FEED_TRIM_ONE_IN } from '../../shared/domain/limits.js';
import { invoke } from '../../shared/local/lambda.js';
import { ROUTES } from '../../shared/declarations/routes.js';
import { shardOfId } from '../../shared/domain/sharding.js';
import { controlTableName, TABLES, type Entity } from '../../shared/declarations/tables.js';
import murmurhash from 'murmurhash';

// Low tier thresholds let a handful of followers make an author a celebrity (2) or a
// mega-celebrity (3), so every fan-out path runs; an hour-long notification window cannot close
// between collecting and composing. config() is read lazily, after this.
const savedEnv = { ...process.env };
process.env.FEED_CELEBRITY_THRESHOLD = '2';
process.env.FEED_MEGA_THRESHOLD = '3';
process.env.FEED_NOTIFICATION_WINDOW_SECONDS = '3600';
resetConfig();

/** Grants the scenario cannot reach at test scale, each with its reason; kept short on purpose. */
const UNREACHED: { fn: FunctionName; sendsTo?: QueueName; why: string }[] = [
  { fn: 'fan-out-worker', sendsTo: 'fanout', why: 'a notify-plan job continues on the queue only past 5,000 followers' },
];

interface Usage {
  /** entity → IAM actions on the base table */
  tables: Map<Entity, Set<string>>;
  /** entity → index names queried */
  indexes: Map<Entity, Set<string>>;
  streams: Set<Entity>;
  sendsTo: Set<QueueName>;
  consumes: Set<QueueName>;
  startsWorkflows: Set<string>;
  redis: boolean;
}
/** The test composes the window still open, whose digest id is its end (later than now), which
 *  the API refuses as `upTo`; production composes windows once they have ended. */
const readableUpTo = (id: string | undefined) => (id && timestampOf(id) <= Date.now() ? id : mintId(0));

const usage = new Map<FunctionName, Usage>();
const use = (fn: FunctionName): Usage => {
  let u = usage.get(fn);
  if (!u) {
    u = { tables: new Map(), indexes: new Map(), streams: new Set(), sendsTo: new Set(), consumes: new Set(), startsWorkflows: new Set(), redis: false };
    usage.set(fn, u);
  }
  return u;
};
let current: FunctionName | undefined;

/** Runs one invocation with the recorders attributing every call to `fn`. */
async function run(fn: FunctionName, event: unknown): Promise<unknown> {
  if (current) throw new Error(`${current} is still running: invocations must not overlap`);
  current = fn;
  use(fn);
  // Each function runs in containers of its own: no read tokens leased by another function's
  // invocation (shared/edge/rate-limit.ts) may spare this one its Redis call.
  resetRateLimiter();
  try {
    return await invoke(fn, event);
  } finally {
    current = undefined;
  }
}

// ---- recorders -----------------------------------------------------------------------------

function entityOf(table: string): Entity {
  for (const [entity, def] of Object.entries(TABLES) as [Entity, (typeof TABLES)[Entity]][]) {
    if (new RegExp(`^${config().FEED_TABLE_PREFIX}${def.baseName}_\\d+$`).test(table)) return entity;
  }
  throw new Error(`table ${table} is not a shard table of shared/declarations/tables.ts`);
}

/** Document-client and low-level command names → the IAM action they are authorised as. */
const ACTION: Record<string, string> = {
  Get: 'GetItem', GetItem: 'GetItem', Put: 'PutItem', PutItem: 'PutItem', Update: 'UpdateItem', UpdateItem: 'UpdateItem',
  Delete: 'DeleteItem', DeleteItem: 'DeleteItem', Query: 'Query', Scan: 'Scan', BatchGet: 'BatchGetItem',
  BatchGetItem: 'BatchGetItem', BatchWrite: 'BatchWriteItem', BatchWriteItem: 'BatchWriteItem',
};
const TRANSACT_ITEM: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem', Get: 'GetItem' };

function recordDynamo(fn: FunctionName, command: string, input: Record<string, unknown>): void {
  const u = use(fn);
  const onTable = (table: string, action: string) => {
    // The shard map: every role may read it (CONTROL_TABLE_ACTIONS), none may do more.
    if (table === controlTableName()) {
      if (!CONTROL_TABLE_ACTIONS.includes(`dynamodb:${action}`)) throw new Error(`${fn} used dynamodb:${action} on the control table`);
      return;
    }
    const entity = entityOf(table);
    if (!u.tables.has(entity)) u.tables.set(entity, new Set());
    u.tables.get(entity)!.add(`dynamodb:${action}`);
  };
  const name = command.replace(/Command$/, '');
  if (name === 'TransactWrite' || name === 'TransactWriteItems' || name === 'TransactGet' || name === 'TransactGetItems') {
    for (const item of input.TransactItems as Record<string, { TableName: string }>[]) {
      for (const [kind, body] of Object.entries(item)) onTable(body.TableName, TRANSACT_ITEM[kind] ?? `unknown:${kind}`);
    }
    return;
  }
  const action = ACTION[name] ?? `unknown:${name}`;
  if (input.RequestItems) {
    for (const table of Object.keys(input.RequestItems as object)) onTable(table, action);
    return;
  }
  const table = input.TableName as string;
  if (typeof input.IndexName === 'string') {
    // A Query on an index is authorised against the index's ARN only.
    const entity = entityOf(table);
    if (!u.indexes.has(entity)) u.indexes.set(entity, new Set());
    u.indexes.get(entity)!.add(input.IndexName);
    return;
  }
  onTable(table, action);
}

const outbox: { queue: QueueName; message: OutgoingMessage }[] = [];
const redisPatches: (() => void)[] = [];

function installRecorders(): void {
  dynamo().middlewareStack.add(
    (next, context) => async (args) => {
      if (current) recordDynamo(current, context.commandName ?? 'unknown', args.input as Record<string, unknown>);
      return next(args);
    },
    { step: 'initialize', name: 'grantsRecorder' },
  );
  useQueueTransport({
    async send(queue, messages) {
      if (current) use(current).sendsTo.add(queue);
      outbox.push(...messages.map((message) => ({ queue, message })));
    },
  });
  // Executions are recorded and answered here; the scenario runs the workflows' tasks itself.
  sfn().middlewareStack.add(
    () => async (args) => {
      const arn = String((args.input as { stateMachineArn?: string }).stateMachineArn);
      if (current) use(current).startsWorkflows.add(arn.slice(arn.lastIndexOf(':') + 1));
      return { output: { executionArn: `${arn}:execution:${randomUUID()}`, startDate: new Date(), $metadata: {} }, response: {} } as never;
    },
    { step: 'initialize', name: 'grantsRecorder' },
  );
  for (const proto of [Redis.prototype, Cluster.prototype] as { sendCommand: (...a: unknown[]) => unknown }[]) {
    const original = proto.sendCommand;
    proto.sendCommand = function (this: unknown, ...a: unknown[]) {
      if (current) use(current).redis = true;
      return original.apply(this, a);
    };
    redisPatches.push(() => {
      proto.sendCommand = original;
    });
  }
}

// ---- events, as API Gateway, SQS and DynamoDB Streams deliver them --------------------------

interface HttpResponse {
  statusCode: number;
  body: unknown;
}

async function http(
  fn: FunctionName,
  opts: { sub?: string; params?: Record<string, string>; body?: unknown; query?: Record<string, string>; headers?: Record<string, string> } = {},
  expected = [200, 201, 204],
): Promise<HttpResponse> {
  const route = ROUTES.find((r) => r.fn === fn);
  if (!route) throw new Error(`no route for ${fn}`);
  const rawPath = route.path.replace(/\{(\w+)\}/g, (_m, p: string) => opts.params?.[p] ?? '');
  const requestId = randomUUID();
  const now = Date.now();
  const event = {
    version: '2.0',
    routeKey: `${route.method} ${route.path}`,
    rawPath,
    rawQueryString: new URLSearchParams(opts.query ?? {}).toString(),
    headers: { 'content-type': 'application/json', ...opts.headers },
    ...(opts.query && { queryStringParameters: opts.query }),
    ...(opts.params && { pathParameters: opts.params }),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method: route.method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'grants-test' },
      requestId,
      routeKey: `${route.method} ${route.path}`,
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
      ...(opts.sub && { authorizer: { jwt: { claims: { sub: opts.sub }, scopes: null } } }),
    },
    ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }),
    isBase64Encoded: false,
  };
  const res = (await run(fn, event)) as { statusCode: number; body?: string };
  const out = { statusCode: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
  if (!expected.includes(out.statusCode)) throw new Error(`${fn} answered ${out.statusCode}: ${res.body}`);
  return out;
}

function sqsRecord(queue: QueueName, m: OutgoingMessage): SQSRecord {
  const id = randomUUID();
  return {
    messageId: id,
    receiptHandle: id,
    body: m.body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'local', ApproximateFirstReceiveTimestamp: String(Date.now()) },
    messageAttributes: m.correlationId ? { correlationId: { dataType: 'String', stringValue: m.correlationId } } : {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:local:000000000000:${queue}`,
    awsRegion: 'local',
  };
}

/** Delivers every queued message to its queue's consumer (MAPPINGS), until no queue holds any. */
async function drain(): Promise<void> {
  for (let round = 0; outbox.length > 0; round++) {
    if (round > 20) throw new Error('queues did not drain');
    const sent = outbox.splice(0);
    for (const m of MAPPINGS) {
      if (m.kind !== 'queue') continue;
      const mine = sent.filter((s) => s.queue === m.queue);
      for (let i = 0; i < mine.length; i += m.batchSize) {
        const res = (await run(m.fn, { Records: mine.slice(i, i + m.batchSize).map((s) => sqsRecord(m.queue, s.message)) })) as { batchItemFailures: unknown[] };
        use(m.fn).consumes.add(m.queue);
        expect(res.batchItemFailures).toEqual([]);
      }
    }
  }
}

async function rawItem(table: string, key: Record<string, string>): Promise<Record<string, AttributeValue>> {
  const out = await dynamo().send(new GetItemCommand({ TableName: table, Key: Object.fromEntries(Object.entries(key).map(([k, v]) => [k, { S: v }])), ConsistentRead: true }));
  if (!out.Item) throw new Error(`no item ${JSON.stringify(key)} in ${table}`);
  return out.Item;
}

/** A posts-stream record delivered to the stream's consumer (MAPPINGS), as Lambda would. */
async function streamPost(eventName: 'INSERT' | 'REMOVE', image: Record<string, AttributeValue>): Promise<void> {
  const table = keys.post(image.postId!.S!).table;
  const record: DynamoDBRecord = {
    eventID: randomUUID(),
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'local',
    dynamodb: {
      ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
      Keys: { postId: image.postId! } as never,
      ...(eventName === 'INSERT' ? { NewImage: image as never } : { OldImage: image as never }),
      SequenceNumber: String(Date.now()),
      SizeBytes: 100,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
    eventSourceARN: `arn:aws:dynamodb:local:000000000000:table/${table}/stream/local`,
  };
  for (const m of MAPPINGS) {
    if (m.kind !== 'stream' || m.entity !== 'posts') continue;
    const res = (await run(m.fn, { Records: [record] })) as { batchItemFailures: unknown[] };
    use(m.fn).streams.add(m.entity);
    expect(res.batchItemFailures).toEqual([]);
  }
}

/** One record of each other entity's stream, delivered to that stream's consumers (MAPPINGS):
 *  the posts stream is exercised by streamPost. */
async function streamEveryTable(userId: string): Promise<void> {
  for (const m of MAPPINGS) {
    if (m.kind !== 'stream' || m.entity === 'posts') continue;
    const table = `${config().FEED_TABLE_PREFIX}${TABLES[m.entity].baseName}_${shardOfId(userId)}`;
    const key = { [TABLES[m.entity].partitionKey.name]: { S: userId }, ...(TABLES[m.entity].sortKey && { [TABLES[m.entity].sortKey!.name]: { S: 'x' } }) };
    const record = { eventID: randomUUID(), eventName: 'MODIFY', eventSource: 'aws:dynamodb', awsRegion: 'local', dynamodb: { Keys: key, NewImage: key, SequenceNumber: String(Date.now()), StreamViewType: 'NEW_AND_OLD_IMAGES' }, eventSourceARN: `arn:aws:dynamodb:local:000000000000:table/${table}/stream/local` };
    const res = (await run(m.fn, { Records: [record] })) as { batchItemFailures: unknown[] };
    use(m.fn).streams.add(m.entity);
    expect(res.batchItemFailures).toEqual([]);
  }
}

/** A follower id whose feed the fan-out trims when it receives `postId` (hash-chosen, 1 in 32). */
function trimmedFollower(postId: string, logical: number): string {
  for (;;) {
    const id = mintId(logical);
    if (murmurhash.v3(`${id}:${postId}`) % FEED_TRIM_ONE_IN === 0) return id;
  }
}

// ---- the scenario ----------------------------------------------------------------------------

interface Post {
  postId: string;
  authorId: string;
  createdAt: string;
}

beforeAll(async () => {
  installRecorders();
  const tag = randomUUID().slice(0, 8);
  const user = async (name: string, country: string) => {
    const sub = `grants-${name}-${tag}`;
    const res = await http('create-user', { sub, body: { handle: `g${name}${tag}`, displayName: name, country } }, [201]);
    return { sub, id: (res.body as { userId: string }).userId };
  };
  const [a, b, c, d, e, f] = [await user('a', 'FR'), await user('b', 'US'), await user('c', 'BR'), await user('d', 'JP'), await user('e', 'KE'), await user('f', 'DE')];

  await http('health');
  await http('openapi');
  await http('dev-token', { body: { sub: 'grants' } });
  await http('get-me', { sub: b.sub });
  await http('get-user', { sub: b.sub, params: { userId: a.id } });

  // a stays regular; d becomes a celebrity at 2 followers, e a mega-celebrity at 3.
  for (const [follower, author] of [[b, a], [c, a], [b, d], [c, d], [b, e], [c, e], [f, e]] as const) {
    await http('follow-user', { sub: follower.sub, params: { userId: author.id } }, [204]);
  }
  await drain();
  await http('set-vip', { sub: e.sub, params: { userId: c.id } }, [204]);
  await http('clear-vip', { sub: e.sub, params: { userId: c.id } }, [204]);
  await http('set-vip', { sub: e.sub, params: { userId: b.id } }, [204]);
  await http('list-followers', { sub: b.sub, params: { userId: a.id }, query: { limit: '1' } });
  await http('list-following', { sub: b.sub, params: { userId: b.id } });

  const headers = { 'idempotency-key': `grants-${tag}` };
  const regular = (await http('create-post', { sub: a.sub, body: { content: 'regular' }, headers }, [201])).body as Post;
  await http('create-post', { sub: a.sub, body: { content: 'regular' }, headers }, [201]); // replayed
  const celebrity = (await http('create-post', { sub: d.sub, body: { content: 'celebrity' } }, [201])).body as Post;
  const mega = (await http('create-post', { sub: e.sub, body: { content: 'mega' } }, [201])).body as Post;
  for (const p of [regular, celebrity, mega]) await streamPost('INSERT', await rawItem(keys.post(p.postId).table, { postId: p.postId }));
  // A job whose follower's feed gets trimmed (the worker picks 1 in 32 by hash).
  const regularRef = { postId: regular.postId, authorId: regular.authorId, createdAt: regular.createdAt };
  const trimmedByWorker = trimmedFollower(regular.postId, logicalShardOf(f.id));
  outbox.push({ queue: 'fanout', message: { body: JSON.stringify({ kind: 'add', post: regularRef, followers: [trimmedByWorker] }) } });
  await drain();
  // Following an author who has posts backfills them; posting while following a celebrity puts
  // the author in that celebrity's active-follower index.
  await http('follow-user', { sub: f.sub, params: { userId: a.id } }, [204]);
  await http('create-post', { sub: c.sub, body: { content: 'active' } }, [201]);
  await drain();

  // The CelebrityFanout tasks, with the inputs its states pass; one follower's feed gets trimmed.
  await http('get-feed', { sub: b.sub }); // b is now active, so in d's active-follower index
  const post = { postId: celebrity.postId, authorId: celebrity.authorId, createdAt: celebrity.createdAt };
  const plan = { kind: 'add', post, correlationId: null };
  await run('celebrity-fanout-page', plan);
  const trimmed = trimmedFollower(celebrity.postId, logicalShardOf(b.id));
  await run('celebrity-fanout-push', { ...plan, followers: [b.id, trimmed] });
  await run('workflow-continue', { workflow: 'celebrity-fanout', input: { ...plan, next: { bucket: 1 }, pages: 200 } });

  // The BatchedNotification tasks for the window the collector just filled.
  const windowStart = Math.floor(Date.now() / 1000 / config().FEED_NOTIFICATION_WINDOW_SECONDS) * config().FEED_NOTIFICATION_WINDOW_SECONDS;
  await run('notification-plan', { correlationId: null });
  await run('notification-compose', { windowStart, shard: shardOfId(b.id), correlationId: null });
  const digests = (await http('list-notifications', { sub: b.sub })).body as { items: { notificationId: string }[] };
  await http('mark-notifications-read', { sub: b.sub, body: { upTo: readableUpTo(digests.items[0]?.notificationId) } }, [204]);

  // A celebrity post's removal takes it out of the followers' feeds and cached pages. Pushed again
  // to an active follower with no cached page, it generates their page at once (reading entries,
  // posts and high-tier lists): b is marked active and b's page dropped explicitly, so this does
  // not depend on how fast Redis answered earlier. A fan-out write then puts the post into b's
  // cached page (reading the post).
  await recordActive(b.id, Math.floor(Date.now() / 1000));
  await run('celebrity-fanout-push', { ...plan, kind: 'remove', followers: [b.id] });
  await l2().invalidateFeed(b.id);
  await run('celebrity-fanout-push', { ...plan, followers: [b.id] });
  const regen = { kind: 'add', post, followers: [b.id] };
  await run('fan-out-worker', { Records: [sqsRecord('fanout', { body: JSON.stringify(regen) })] });

  // The CacheWarming tasks: b read its feed, so b is in the active set.
  const warm = (await run('cache-warm-page', { correlationId: null })) as { chunks: string[][] };
  expect(Array.isArray(warm.chunks)).toBe(true);
  // With the high-tier authors' recent-posts lists gone (expired), the warm generation reads their
  // posts from the posts index (and fills the lists), whatever earlier reads left in Redis. b's
  // page is gone too (expired): warming regenerates only the pages that are no longer cached.
  await l2().command((r) => r.del(cacheKeys.recentPosts(d.id), cacheKeys.recentPosts(e.id)));
  await l2().invalidateFeed(b.id);
  await run('cache-warm-chunk', { correlationId: null, users: [b.id] });

  // A feed entry whose post is gone: reading the feed deletes it.
  const gone = { postId: mintId(logicalShardOf(a.id)), authorId: a.id, createdAt: new Date().toISOString() };
  await db().send(new PutCommand({ TableName: keys.feedEntry(b.id, gone.postId).table, Item: feedEntry(b.id, gone) }));
  await http('get-feed', { sub: b.sub, query: { limit: '5' } });
  await http('get-post', { sub: b.sub, params: { postId: regular.postId } });
  await http('list-user-posts', { sub: b.sub, params: { userId: a.id } });

  // Unfollowing d drops it below the celebrity threshold: its followers' lists change through jobs.
  await http('unfollow-user', { sub: b.sub, params: { userId: d.id } }, [204]);
  await drain();

  const removed = await rawItem(keys.post(regular.postId).table, { postId: regular.postId });
  await http('delete-post', { sub: a.sub, params: { postId: regular.postId } }, [204]);
  await streamPost('REMOVE', removed);
  await drain();
  await streamEveryTable(a.id);
  // Clean-up outside any invocation (not recorded): nothing else reads these rows.
  for (const [owner, postId] of [[trimmed, celebrity.postId], [trimmedByWorker, regular.postId]] as const) {
    await dynamo().send(new DeleteItemCommand({ TableName: keys.feedEntry(owner, postId).table, Key: { userId: { S: owner }, postId: { S: postId } } }));
  }
}, 120_000);

afterAll(() => {
  useQueueTransport(undefined);
  for (const undo of redisPatches) undo();
  process.env = savedEnv;
  resetConfig();
});

// ---- the comparison --------------------------------------------------------------------------

function accessOf(actions: Set<string> | undefined): Access | undefined {
  if (!actions || actions.size === 0) return undefined;
  const read = [...actions].some((a) => TABLE_ACTIONS.read.includes(a));
  const write = [...actions].some((a) => TABLE_ACTIONS.write.includes(a));
  return read && write ? 'readwrite' : write ? 'write' : 'read';
}

const sorted = (xs: Iterable<string>) => [...xs].sort();
const fns = () => Object.keys(FUNCTIONS) as FunctionName[];

describe('grants match what each handler does', () => {
  it('the scenario invokes every function', () => {
    expect(fns().filter((fn) => !usage.has(fn))).toEqual([]);
  });

  it('uses only DynamoDB actions that a grant can give', () => {
    const granted = new Set([...TABLE_ACTIONS.read, ...TABLE_ACTIONS.write]);
    const odd = [...usage].flatMap(([fn, u]) => [...u.tables].flatMap(([entity, actions]) => [...actions].filter((a) => !granted.has(a)).map((a) => `${fn} ${entity} ${a}`)));
    expect(odd).toEqual([]);
  });

  it('grants each function exactly the tables, access and indexes it uses', () => {
    const problems: string[] = [];
    for (const fn of fns()) {
      const u = use(fn);
      const g = GRANTS[fn];
      const entities = new Set<Entity>([...u.tables.keys(), ...u.indexes.keys(), ...(Object.keys(g.tables) as Entity[])]);
      for (const entity of entities) {
        const used = accessOf(u.tables.get(entity));
        // A one-region scenario checks `access`; what only several regions use (acrossRegions)
        // is granted but not exercised here.
        const grantedAccess = g.tables[entity]?.access;
        if (!used && !grantedAccess && g.tables[entity]?.acrossRegions) continue;
        if (used !== grantedAccess) problems.push(`${fn}: ${entity} used ${used ?? 'not at all'} [${sorted(u.tables.get(entity) ?? [])}], granted ${grantedAccess ?? 'nothing'}`);
        const usedIdx = sorted(u.indexes.get(entity) ?? []);
        const grantedIdx = sorted(g.tables[entity]?.indexes ?? []);
        if (usedIdx.join() !== grantedIdx.join()) problems.push(`${fn}: ${entity} indexes used [${usedIdx}], granted [${grantedIdx}]`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('grants each function exactly the queues, streams and workflows it uses', () => {
    const problems: string[] = [];
    const compare = (fn: FunctionName, what: string, used: Iterable<string>, granted: readonly string[], unreached: string[] = []) => {
      const u = sorted(new Set([...used, ...unreached]));
      const g = sorted(granted);
      if (u.join() !== g.join()) problems.push(`${fn}: ${what} used [${u}], granted [${g}]`);
    };
    for (const fn of fns()) {
      const u = use(fn);
      const g = GRANTS[fn];
      compare(fn, 'sendsTo', u.sendsTo, g.sendsTo, UNREACHED.filter((x) => x.fn === fn && x.sendsTo).map((x) => x.sendsTo!));
      compare(fn, 'consumes', u.consumes, g.consumes);
      compare(fn, 'streams', u.streams, g.streams);
      compare(fn, 'startsWorkflows', u.startsWorkflows, g.startsWorkflows);
    }
    expect(problems).toEqual([]);
  });

  it('joins the VPC exactly the functions that talk to Redis', () => {
    const talkers = fns().filter((fn) => use(fn).redis);
    expect(talkers).toEqual(fns().filter((fn) => GRANTS[fn].redis));
  });

  it('keeps every unreached grant granted (the exception list cannot hide a removal)', () => {
    for (const x of UNREACHED) if (x.sendsTo) expect(GRANTS[x.fn].sendsTo).toContain(x.sendsTo);
  });
});
