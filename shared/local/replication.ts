// The local stand-in for DynamoDB Global Tables between the regions of a multi-region stack
// (npm start -- --regions …): each region pulls the streams of its peers' replicas of the tables
// both hold (shared/declarations/row-kinds.ts: home data inside its table set, posts everywhere)
// and applies their changes in order per stream shard. A hidden per-item version settles two
// regions writing one item by last writer wins and stops replicated writes from echoing back, as
// Global Tables do. A peer that is down is waited for: its stream keeps the records.
import { existsSync, readFileSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { DeleteItemCommand, DynamoDBClient, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent, StreamRecord } from 'aws-lambda';
import type { RegionName } from '../domain/regions.js';
import { tableReplicas } from '../declarations/row-kinds.js';
import { tableName, TABLES, type Entity } from '../declarations/tables.js';
import { StreamPoller, type StreamConsumer } from './streams.js';

/** How often a region checks whether a peer went down, came back or moved to new ports. */
const PEER_CHECK_MS = 1000;
/** How often at most a region tells its peers it wrote: peers' replica pollers, backed off up to
 *  a second when idle, poll at once on the signal, so replication lags by a poll, not a backoff. */
const WRITE_SIGNAL_MS = 20;
/** A change is retried until it applies: replication never skips a record. */
const NEVER_SKIP = Number.MAX_SAFE_INTEGER;
const BATCH_SIZE = 100;
/** Peer shards read at once: a round over a peer's ~50 streams in the time of a few reads. */
const PARALLEL_SHARDS = 8;

/** The hidden attribute holding an item's version, `<epoch ms>.<sequence>#<region>` (see
 *  formatVersion). The colon keeps it apart from every application attribute. */
export const VERSION_ATTR = 'rep:version';
/** Digits of the epoch milliseconds: fixed width, so versions compare as strings in time order. */
const MS_DIGITS = 18;
/** Writes one process stamps within one millisecond before borrowing the next (4 digits). */
const SEQUENCE_LIMIT = 10_000;
/** Placeholders of the version in a stamped UpdateExpression, unlike any the application uses. */
const VERSION_NAME = '#feedscaleRepVersion';
const VERSION_VALUE = ':feedscaleRepVersion';
/** The SET keyword of an update expression; a placeholder such as `#set` or `:set` does not match. */
const SET_CLAUSE = /(^|\s)SET\s/i;

/** A version: all local regions share one clock, so comparing versions as strings is last writer
 *  wins, and the region in it makes two regions' versions never equal. */
export function formatVersion(ms: number, sequence: number, region: string): string {
  return `${String(ms).padStart(MS_DIGITS, '0')}.${String(sequence).padStart(4, '0')}#${region}`;
}

/** The region that made a version's write. */
export const versionRegion = (version: string): string => version.slice(version.lastIndexOf('#') + 1);

let lastMs = 0;
let sequence = 0;
/** A version later than every other this process made (several writes may share a millisecond). */
function nextVersion(region: string): string {
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    sequence = 0;
  } else if (++sequence >= SEQUENCE_LIMIT) {
    lastMs++;
    sequence = 0;
  }
  return formatVersion(lastMs, sequence, region);
}

type Item = Record<string, AttributeValue>;
interface UpdateBody {
  UpdateExpression?: string;
  AttributeUpdates?: Record<string, unknown>;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Item;
}
interface WriteBody extends UpdateBody {
  Item?: Item;
  RequestItems?: Record<string, { PutRequest?: { Item: Item } }[]>;
  TransactItems?: { Put?: { Item: Item }; Update?: UpdateBody }[];
}

/** Adds `SET <version> = :version` to an update: into its SET clause, or as a clause of its own. */
function stampUpdate(update: UpdateBody, version: string): void {
  if (update.AttributeUpdates && !update.UpdateExpression) {
    update.AttributeUpdates[VERSION_ATTR] = { Action: 'PUT', Value: { S: version } };
    return;
  }
  const expression = update.UpdateExpression ?? '';
  const assign = `SET ${VERSION_NAME} = ${VERSION_VALUE}`;
  update.UpdateExpression = SET_CLAUSE.test(expression)
    ? expression.replace(SET_CLAUSE, (_all, before: string) => `${before}${assign}, `)
    : `${expression} ${assign}`.trim();
  update.ExpressionAttributeNames = { ...update.ExpressionAttributeNames, [VERSION_NAME]: VERSION_ATTR };
  update.ExpressionAttributeValues = { ...update.ExpressionAttributeValues, [VERSION_VALUE]: { S: version } };
}

/** Stamps every item a write operation (one of STAMPED) puts or updates. */
function stampWrite(operation: string, body: WriteBody, version: string): void {
  const stamp = (item: Item | undefined) => item && (item[VERSION_ATTR] = { S: version });
  switch (operation) {
    case 'PutItem':
      stamp(body.Item);
      return;
    case 'UpdateItem':
      stampUpdate(body, version);
      return;
    case 'BatchWriteItem':
      for (const requests of Object.values(body.RequestItems ?? {})) for (const r of requests) stamp(r.PutRequest?.Item);
      return;
    case 'TransactWriteItems':
      for (const t of body.TransactItems ?? []) {
        stamp(t.Put?.Item);
        if (t.Update) stampUpdate(t.Update, version);
      }
  }
}

interface ReadOutput {
  Item?: Record<string, unknown>;
  Attributes?: Record<string, unknown>;
  Items?: Record<string, unknown>[];
  Responses?: Record<string, Record<string, unknown>[]> | { Item?: Record<string, unknown> }[];
  CancellationReasons?: { Item?: Record<string, unknown> }[];
}

/** Deletes the version from every item of a result (plain or AttributeValue maps alike), or of an
 *  error carrying items (ReturnValuesOnConditionCheckFailure). */
function hideVersions(result: unknown): void {
  if (typeof result !== 'object' || result === null) return;
  const out = result as ReadOutput;
  const hide = (item: Record<string, unknown> | undefined) => item && delete item[VERSION_ATTR];
  hide(out.Item);
  hide(out.Attributes);
  out.Items?.forEach(hide);
  out.CancellationReasons?.forEach((r) => hide(r.Item));
  if (Array.isArray(out.Responses)) out.Responses.forEach((r) => hide(r.Item));
  else for (const items of Object.values(out.Responses ?? {})) items.forEach(hide);
}

/** The operations that put or update items (deletes carry no version: see applyChange). */
const STAMPED = new Set(['PutItem', 'UpdateItem', 'BatchWriteItem', 'TransactWriteItems']);
/** A request's JSON body as text; undefined for a body that is neither text nor bytes. */
function bodyText(body: unknown): string | undefined {
  if (typeof body === 'string') return body;
  return body instanceof Uint8Array ? new TextDecoder().decode(body) : undefined;
}

const STAMP_MIDDLEWARE = 'feedscaleReplicaVersionStamp';
const HIDE_MIDDLEWARE = 'feedscaleReplicaVersionHide';

/** Versions every write `client` makes as one of `region`'s own (the client of the region's
 *  functions, and of the shared document client), and hides the versions from what it reads.
 *  Stamped at the build step, on the request's JSON (AttributeValue maps whether the command was a
 *  raw or a document one), before its length is computed. Returns the undo. */
export function versionWrites(client: DynamoDBClient, region: string): () => void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      const operation = String(request.headers?.['x-amz-target'] ?? '').split('.')[1] ?? '';
      const text = STAMPED.has(operation) ? bodyText(request.body) : undefined;
      if (text !== undefined) {
        const body = JSON.parse(text) as WriteBody;
        stampWrite(operation, body, nextVersion(region));
        // Put back as it came: a string, or bytes (the SDK's JSON codec serializes to bytes).
        request.body = typeof request.body === 'string' ? JSON.stringify(body) : new TextEncoder().encode(JSON.stringify(body));
      }
      return next(args);
    },
    { step: 'build', priority: 'high', name: STAMP_MIDDLEWARE, override: true },
  );
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        const out = await next(args);
        hideVersions(out.output);
        return out;
      } catch (err) {
        hideVersions(err);
        throw err;
      }
    },
    { step: 'initialize', name: HIDE_MIDDLEWARE, override: true },
  );
  return () => {
    client.middlewareStack.remove(STAMP_MIDDLEWARE);
    client.middlewareStack.remove(HIDE_MIDDLEWARE);
  };
}

/** A stream consumer that sees images without their versions, as the functions' mappings do. */
export function withoutVersions(consumer: StreamConsumer): StreamConsumer {
  return (event) => consumer({ Records: event.Records.map(recordWithoutVersion) });
}

function recordWithoutVersion(record: DynamoDBRecord): DynamoDBRecord {
  const change = record.dynamodb;
  if (!change) return record;
  const strip = (image: NonNullable<StreamRecord['NewImage']>) => {
    const { [VERSION_ATTR]: _version, ...rest } = image;
    return rest;
  };
  return {
    ...record,
    dynamodb: { ...change, ...(change.NewImage && { NewImage: strip(change.NewImage) }), ...(change.OldImage && { OldImage: strip(change.OldImage) }) },
  };
}

/** The tables this region and `peer` both hold a replica of. */
export function sharedTables(self: RegionName, peer: RegionName, shards: number): string[] {
  return (Object.keys(TABLES) as Entity[]).flatMap((entity) =>
    Array.from({ length: shards }, (_, s) => s).flatMap((s) => {
      const holders = tableReplicas(entity, s, shards);
      return holders.includes(self) && holders.includes(peer) ? [tableName(entity, s)] : [];
    }),
  );
}

/** What became of the changes a region read from its peers: written here, skipped as a
 *  replicated write coming back, or not written because the item here is newer. */
export interface ReplicationCounts {
  applied: number;
  echoes: number;
  superseded: number;
}

type Outcome = keyof ReplicationCounts;
type Change = NonNullable<DynamoDBRecord['dynamodb']>;

const versionOf = (image: Change['NewImage']): string | undefined => image?.[VERSION_ATTR]?.S;

/** When a change was made, for a write that carries no version of its own (from seconds, or a
 *  Date as the SDK decodes it). */
function madeAtMs(change: Change): number {
  const at = change.ApproximateCreationDateTime as unknown;
  if (at instanceof Date) return at.getTime();
  return typeof at === 'number' ? at * 1000 : Date.now();
}

/** The version of a write made in `peer` by a client that does not stamp: its stream record's
 *  time, or just after the version such an update left in place, so that it is not taken for
 *  older than the write it changed. Every region reading the record computes the same. */
function unstampedVersion(change: Change, peer: RegionName): string {
  const byTime = formatVersion(madeAtMs(change), 0, peer);
  const kept = versionOf(change.OldImage);
  if (!kept || kept < byTime) return byTime;
  const [ms, seq] = kept.slice(0, kept.indexOf('#')).split('.').map(Number) as [number, number];
  return seq + 1 < SEQUENCE_LIMIT ? formatVersion(ms, seq + 1, peer) : formatVersion(ms + 1, 0, peer);
}

/** A put or delete whose condition says the item here is newer: superseded, not an error. */
async function conditionally(write: () => Promise<unknown>): Promise<Outcome> {
  try {
    await write();
    return 'applied';
  } catch (err) {
    if ((err as { name?: string }).name === 'ConditionalCheckFailedException') return 'superseded';
    throw err;
  }
}

/** Applies one change of `peer`'s stream to the same table here (see applyChanges). */
async function applyChange(applier: DynamoDBClient, peer: RegionName, table: string, r: DynamoDBRecord): Promise<Outcome> {
  const change = r.dynamodb!;
  const names = { '#rv': VERSION_ATTR };
  if (r.eventName === 'REMOVE') {
    // The version the delete saw: a later write survives it here, as it did where it was made.
    const seen = versionOf(change.OldImage);
    const condition = seen && { ConditionExpression: 'attribute_not_exists(#rv) OR #rv <= :old', ExpressionAttributeNames: names, ExpressionAttributeValues: { ':old': { S: seen } } };
    return conditionally(() => applier.send(new DeleteItemCommand({ TableName: table, Key: change.Keys as Item, ...condition })));
  }
  const version = versionOf(change.NewImage);
  // No version, or one the change did not renew: a write made in the peer by a client that does
  // not stamp (the bench's seeding, an operator's tool), versioned as the peer's by its time.
  const unstamped = !version || (r.eventName === 'MODIFY' && version === versionOf(change.OldImage));
  // Every region pulls every origin itself: a write the peer only applied is not taken from it.
  if (!unstamped && versionRegion(version) !== peer) return 'echoes';
  const incoming = unstamped ? unstampedVersion(change, peer) : version;
  const item = { ...(change.NewImage as Item), [VERSION_ATTR]: { S: incoming } };
  return conditionally(() =>
    applier.send(
      new PutItemCommand({
        TableName: table,
        Item: item,
        ConditionExpression: 'attribute_not_exists(#rv) OR #rv <= :rv',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ':rv': { S: incoming } },
      }),
    ),
  );
}

/** Writes each change of `peer`'s stream into the same table here, through `applier`, a client
 *  that neither stamps nor signals (a replicated write keeps its version and goes no further):
 *  the later version of an item wins, a replicated write coming back is skipped, and a delete
 *  removes only what is not newer than the version it deleted. */
export function applyChanges(applier: DynamoDBClient, peer: RegionName, counts: ReplicationCounts, onApplied?: () => void) {
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const before = counts.applied;
    try {
      for (const [i, r] of event.Records.entries()) {
        const table = r.eventSourceARN!.split('/')[1]!;
        try {
          counts[await applyChange(applier, peer, table, r)]++;
        } catch (err) {
          // This record and the rest of the batch are retried, in order; a record that never
          // applies holds its stream shard, so it is named in the region's log.
          console.error(`replication: ${table} ${r.eventName} not applied (retried): ${(err as Error).message}`);
          return { batchItemFailures: event.Records.slice(i).map((x) => ({ itemIdentifier: x.dynamodb!.SequenceNumber! })) };
        }
      }
      return { batchItemFailures: [] };
    } finally {
      if (counts.applied > before) onApplied?.();
    }
  };
}

interface PeerLink {
  endpoint: string;
  poller: StreamPoller;
  /** Watches the peer's write signal (writesFile) and wakes the poller on it. */
  watcher?: FSWatcher;
}

/** The file a region touches after its writes (at most every WRITE_SIGNAL_MS). */
const writesFile = (regionsDir: string, region: RegionName) => path.join(regionsDir, region, 'writes');

/** Touches this region's write signal after each write through `local` (the stack's client). Like
 *  the stream poller's in-process wake-up, across processes: a file its peers watch (inotify). */
function signalWrites(local: DynamoDBClient, file: string): () => void {
  const name = 'feedscaleReplicaWriteSignal';
  let last = 0;
  let pending: NodeJS.Timeout | undefined;
  const touch = () => {
    last = Date.now();
    pending = undefined;
    try {
      writeFileSync(file, String(last));
    } catch {
      // The signal only shortens a wait: a peer still polls within a second.
    }
  };
  touch();
  local.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      if (/^(Put|Update|Delete|BatchWrite|TransactWrite)/.test(String(context.commandName))) {
        const wait = last + WRITE_SIGNAL_MS - Date.now();
        if (wait <= 0) touch();
        else pending ??= setTimeout(touch, wait);
      }
      return out;
    },
    { step: 'initialize', name },
  );
  return () => {
    clearTimeout(pending);
    local.middlewareStack.remove(name);
  };
}

/** Wakes `poller` whenever the peer's write signal changes; undefined until the peer made it. */
function watchPeer(regionsDir: string, peer: RegionName, poller: StreamPoller): FSWatcher | undefined {
  try {
    const watcher = watch(writesFile(regionsDir, peer), () => poller.wake());
    watcher.on('error', () => watcher.close());
    return watcher;
  } catch {
    return undefined;
  }
}

export interface ReplicationOptions {
  self: RegionName;
  peers: readonly RegionName[];
  /** Where every region of the stack keeps its data: <regionsDir>/<peer>/stack.json names the
   *  peer's DynamoDB endpoint and process. */
  regionsDir: string;
  shards: number;
  /** The region's own client (its writes signal the peers); changes are applied through a
   *  client of its own to the same endpoint. */
  local: DynamoDBClient;
  checkpoints: Map<string, string>;
  awsRegion: string;
  /** Called after a batch applied changes: the region's own stream pollers are woken, not left
   *  to notice within their idle back-off. */
  onApplied?: () => void;
}

export interface Replication {
  stop: () => Promise<void>;
  counts: ReplicationCounts;
  /** GetRecords calls made on the peers' streams so far (a round reads each shared stream once). */
  reads: () => number;
}

/** Pulls every peer's changes while this region runs; returns a stop function. */
export function startReplication(opts: ReplicationOptions): Replication {
  const links = new Map<RegionName, PeerLink>();
  const counts: ReplicationCounts = { applied: 0, echoes: 0, superseded: 0 };
  const { endpoint, region, credentials } = opts.local.config;
  const applier = new DynamoDBClient({ endpoint, region, credentials });
  const unsignal = signalWrites(opts.local, writesFile(opts.regionsDir, opts.self));
  const check = async () => {
    for (const peer of opts.peers) {
      const peerEndpoint = endpointOf(opts.regionsDir, peer);
      const link = links.get(peer);
      if (link && link.endpoint === peerEndpoint) {
        link.watcher ??= watchPeer(opts.regionsDir, peer, link.poller);
        continue;
      }
      if (link) {
        links.delete(peer);
        link.watcher?.close();
        await link.poller.stop();
      }
      if (!peerEndpoint) continue;
      const tables = sharedTables(opts.self, peer, opts.shards);
      if (tables.length === 0) continue;
      const client = new DynamoDBClient({ endpoint: peerEndpoint, region: opts.awsRegion, maxAttempts: 1 });
      const consumer = applyChanges(applier, peer, counts, opts.onApplied);
      // Named by peer: shard ids of two peers' streams never share a checkpoint.
      const poller = new StreamPoller(client, peerEndpoint, opts.awsRegion, { tables, batchSize: BATCH_SIZE, maxRetries: NEVER_SKIP, consumer, checkpoints: opts.checkpoints, name: `replica-${peer}`, parallelShards: PARALLEL_SHARDS });
      poller.start();
      links.set(peer, { endpoint: peerEndpoint, poller, watcher: watchPeer(opts.regionsDir, peer, poller) });
    }
  };
  let running = check();
  const timer = setInterval(() => {
    running = running.then(check).catch((e) => console.error(`replication: ${(e as Error).message}`));
  }, PEER_CHECK_MS);
  return {
    counts,
    reads: () => [...links.values()].reduce((n, l) => n + l.poller.getRecordsCalls, 0),
    stop: async () => {
      clearInterval(timer);
      unsignal();
      await running.catch(() => undefined);
      for (const l of links.values()) l.watcher?.close();
      await Promise.all([...links.values()].map((l) => l.poller.stop()));
      applier.destroy();
    },
  };
}

/** A peer's DynamoDB endpoint while its process runs; undefined while it is down. */
function endpointOf(regionsDir: string, peer: RegionName): string | undefined {
  const file = path.join(regionsDir, peer, 'stack.json');
  if (!existsSync(file)) return undefined;
  try {
    const stack = JSON.parse(readFileSync(file, 'utf8')) as { dynamodb?: string; pid?: number };
    if (!stack.dynamodb || !stack.pid) return undefined;
    process.kill(stack.pid, 0);
    return stack.dynamodb;
  } catch {
    return undefined;
  }
}
