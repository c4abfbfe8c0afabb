// Online resharding: moves logical shards between physical tables while the service runs
// (`feedctl reshard`). For each source table, the logical shards leaving it are
//   1. followed: the source tables' streams are read from now on, and every change of a moving
//      row is applied to the target (a catch-up that runs until the cut-over);
//   2. copied: the source is scanned and each moving row written to the target, unless the
//      catch-up already wrote or deleted that key (its image is newer than the scan's);
//   3. verified: per logical shard, item counts and a content hash of source and target agree
//      (a key that differs is re-read after the catch-up; one that still differs stops that
//      logical shard's move, named), and dark reads of sampled partitions and their indexes
//      answer alike from both tables (dark-reads.ts);
//   4. cut over: the shard map freezes those logical shards (writes wait, shard-routing.ts) from a
//      moment written far enough ahead to reach every process first; the catch-up reads each
//      stream through, the map flips them to the target and unfreezes; the pause is measured.
// Source rows stay until `reshard --finish` deletes them, so `--rollback` can move everything
// back the same way. State lives in the control table: a stopped or crashed reshard resumes from
// the last cut-over table.
import { hostname } from 'node:os';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { controlTableName, tableName, TABLES, type Entity } from '../declarations/tables.js';
import { assign, growthMoves, inRanges, lookupOf, moveTargetProblem, rangesOfTable, reshardTargetProblem, type ShardMap, type ShardMove, type ShardRange } from '../domain/shard-map.js';
import { tableSetOfTable } from '../domain/analytics-events.js';
import { LOGICAL_SHARDS } from '../domain/regions.js';
import { config } from '../edge/config.js';
import { FAST_REFRESH_MS, readShardMap, setLogicalOfTable, slowRefreshMs, writeShardMap } from '../store/shard-map.js';
import { logicalShardOfRow } from '../store/keys.js';
import { MOVE_ATTR, moveMark } from '../store/moved-rows.js';
import { ensureTables } from './create-tables.js';
import { itemHash, keyOf, keyOfRowKey, rowKey } from './row-identity.js';
import { darkReads, sampleRowKeys, type Follower } from './dark-reads.js';
import { StreamPoller } from './streams.js';

/** A reshard whose heartbeat is older than this has stopped: another may resume it. */
const LOCK_STALE_MS = 10_000;
const HEARTBEAT_MS = 2_000;
/** Margin over a refresh interval before a map change counts as seen by every process. */
const SEEN_MARGIN_MS = 100;
/** Rounds of re-reading keys that differ before a logical shard's move is stopped. */
const VERIFY_ROUNDS = 5;
/** The longest the catch-up may take to read its streams through during a freeze before the
 *  cut-over is abandoned (unfrozen, nothing flipped) and retried. */
const DRAIN_MAX_MS = 5_000;
const STATE_KEY = { pk: 'reshard', sk: 'state' } as const;
const CATCH_UP_POLL_MS = 50;
const CATCH_UP_IDLE_MAX_MS = 250;
/** How long before a freeze counts as seen the catch-up stops starting stream reads (a read of
 *  DynamoDB Local under load takes 50-300 ms). */
const FRESH_READ_HOLD_MS = 150;
/** How often a cut-over re-checks whether the catch-up read its streams through. */
const READ_THROUGH_CHECK_MS = 10;
const ENTITIES = Object.keys(TABLES) as Entity[];

export class ReshardError extends Error {}

export interface ReshardState {
  /** What this reshard does: grow to `to` tables (from `from`), move logical shards between
   *  today's tables (`move`: rebalancing a hot table), or roll either back. */
  action: 'grow' | 'move' | 'rollback';
  /** The map's ranges before it began: what a rollback returns to and --finish cleans. */
  base?: ShardRange[];
  /** A move's logical shards and target table. */
  move?: { from: number; to: number; table: number };
  from: number;
  to: number;
  phase: 'moving' | 'moved' | 'finished' | 'rolled-back';
  /** Source tables whose logical shards were cut over. */
  done: number[];
  /** Logical shards whose move stopped on a verification mismatch, with the keys (or the dark
   *  reads, `dark read …`) that differ. */
  mismatches: { logical: number; keys: string[] }[];
  pausesMs: number[];
  rowsCopied: number;
  startedAt: string;
  owner?: string;
  heartbeatAt?: number;
}

export interface ReshardIo {
  /** One progress line. */
  progress: (line: string) => void;
  /** Set to stop after the current step (a stopped reshard resumes where it left off). */
  signal?: AbortSignal;
}

export interface ReshardTarget {
  /** DynamoDB and DynamoDB Streams endpoint (the local stack's), or undefined for AWS. */
  endpoint?: string;
  region: string;
  /** Create missing target tables (locally); in AWS the deployment creates them. */
  createTables: boolean;
}

/** A client that writes where it is told: the mover must not be re-routed by the shard map. */
function rawClients(target: ReshardTarget) {
  const dynamo = new DynamoDBClient({ region: target.region, ...(target.endpoint && { endpoint: target.endpoint }) });
  return { dynamo, doc: DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } }) };
}
type Clients = ReturnType<typeof rawClients>;

export async function readState(doc: DynamoDBDocumentClient): Promise<ReshardState | undefined> {
  try {
    const out = await doc.send(new GetCommand({ TableName: controlTableName(), Key: STATE_KEY, ConsistentRead: true }));
    return out.Item as ReshardState | undefined;
  } catch (err) {
    if ((err as { name?: string }).name === 'ResourceNotFoundException') throw new ReshardError(`no control table ${controlTableName()} here: is FEED_TABLE_PREFIX the stack's, and is the stack (or the deployment) up to date?`);
    throw err;
  }
}

async function saveState(doc: DynamoDBDocumentClient, state: ReshardState): Promise<void> {
  await doc.send(new PutCommand({ TableName: controlTableName(), Item: { ...STATE_KEY, ...state } }));
}

const me = () => `${hostname()}:${process.pid}`;

/** Takes the reshard lock: the state item names its owner and a heartbeat. The function it
 *  returns stops the heartbeat and resolves once the last one sent has landed, so a save after it
 *  is the item's last write (a heartbeat still in flight would otherwise land after the final
 *  save and show a stopped reshard as running for LOCK_STALE_MS, refusing its resume). */
async function lock(doc: DynamoDBDocumentClient, state: ReshardState, previous: ReshardState | undefined): Promise<() => Promise<void>> {
  const now = Date.now();
  try {
    await doc.send(
      new PutCommand({
        TableName: controlTableName(),
        Item: { ...STATE_KEY, ...state, owner: me(), heartbeatAt: now },
        ConditionExpression: 'attribute_not_exists(pk) OR heartbeatAt < :stale OR #owner = :me OR attribute_not_exists(heartbeatAt)',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':stale': now - LOCK_STALE_MS, ':me': me() },
      }),
    );
  } catch (err) {
    if ((err as { name?: string }).name === 'ConditionalCheckFailedException') {
      throw new ReshardError(`another reshard is running (${previous?.owner ?? 'unknown owner'}, ${previous?.action} to ${previous?.to} tables); nothing changed`);
    }
    throw err;
  }
  let beat: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    beat = doc
      .send(new PutCommand({ TableName: controlTableName(), Item: { ...STATE_KEY, ...state, owner: me(), heartbeatAt: Date.now() } }))
      .catch((e) => console.error(`reshard heartbeat: ${(e as Error).message}`));
  }, HEARTBEAT_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await beat;
  };
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The row as the mover writes it: marked, so stream consumers know it for a copy (moved-rows.ts). */
const marked = (item: Record<string, unknown>) => ({ ...item, [MOVE_ATTR]: moveMark() });

interface Side {
  count: number;
  /** key → content hash */
  rows: Map<string, string>;
}

/** Serializes the catch-up's and the copy's writes of one key: whichever comes second sees what
 *  the first did (the catch-up marks a key touched; the copy never overwrites a touched key). */
class KeyLocks {
  private readonly held = new Map<string, Promise<void>>();

  async with<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    const mine = [...new Set(keys)].sort();
    for (;;) {
      const busy = mine.map((k) => this.held.get(k)).filter((p): p is Promise<void> => p !== undefined);
      if (busy.length === 0) break;
      await Promise.all(busy);
    }
    let release!: () => void;
    const done = new Promise<void>((r) => (release = r));
    for (const k of mine) this.held.set(k, done);
    try {
      return await fn();
    } finally {
      for (const k of mine) this.held.delete(k);
      release();
    }
  }
}

/** Rows copied per BatchWriteItem, and batches in flight: the copy's pace. */
const COPY_BATCH = 25;
const COPY_PARALLEL = 8;
/** Old tables --finish clears at once (each with COPY_PARALLEL batches in flight). */
const FINISH_TABLES = 4;

/** Holds everything the reshard sends but the cut-over's own catch-up while a cut-over runs (the
 *  other tables' copies, verifications and catch-ups, and those still lingering): its pause is
 *  spent reading streams through, and DynamoDB Local serves one request at a time, each write and
 *  stream read slower the more stream records it holds. Cut-overs take turns, so one holds it at
 *  a time. */
class Quiet {
  private held: Promise<void> = Promise.resolve();
  private holder: CatchUp | undefined;

  async during<T>(holder: CatchUp, fn: () => Promise<T>): Promise<T> {
    let end!: () => void;
    this.held = new Promise((r) => (end = r));
    this.holder = holder;
    try {
      return await fn();
    } finally {
      this.holder = undefined;
      end();
    }
  }

  /** Resolves once no cut-over runs. */
  readonly pass = (): Promise<void> => this.held;
  /** Resolves at once for the cut-over's own catch-up, otherwise once no cut-over runs. */
  readonly passFor = (catchUp: CatchUp): Promise<void> => (this.holder === catchUp ? Promise.resolve() : this.held);
}
type Pace = () => Promise<void>;
const unpaced: Pace = () => Promise.resolve();

/** Every row of `table` whose logical shard is in `moving`, by logical shard; `eachPage` gets
 *  each scanned page's moving rows; each page waits for `pace`. */
async function scanMoving(doc: DynamoDBDocumentClient, entity: Entity, table: string, tableLogical: number, moving: Pick<ReadonlySet<number>, 'has'>, eachPage?: (items: Record<string, unknown>[]) => Promise<void>, pace: Pace = unpaced): Promise<Map<number, Side>> {
  const out = new Map<number, Side>();
  const pkName = TABLES[entity].partitionKey.name;
  let start: Record<string, unknown> | undefined;
  do {
    await pace();
    const page = await doc.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }));
    const rows: Record<string, unknown>[] = [];
    for (const item of page.Items ?? []) {
      const logical = logicalShardOfRow(entity, String(item[pkName]), tableLogical);
      if (logical === undefined || !moving.has(logical)) continue;
      const side = out.get(logical) ?? { count: 0, rows: new Map() };
      out.set(logical, side);
      side.count++;
      side.rows.set(rowKey(entity, item), itemHash(item));
      rows.push(item);
    }
    if (eachPage && rows.length > 0) await eachPage(rows);
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

/** Follows the source tables' streams, applying every change of a moving row to the target. */
class CatchUp implements Follower {
  /** Keys (entity:row) the catch-up wrote or deleted, with the count of changes at the last: the
   *  copy must not overwrite them with its older image, and dark reads skip what changed. */
  readonly touched = new Map<string, number>();
  seq = 0;
  readonly locks = new KeyLocks();
  applied = 0;
  private readonly pollers: StreamPoller[] = [];

  constructor(
    private readonly clients: Clients,
    private readonly target: ReshardTarget,
    private readonly source: number,
    private readonly dest: number,
    private readonly sourceLogical: number,
    private readonly moving: ReadonlySet<number>,
    private readonly quiet: Quiet,
  ) {}

  async start(): Promise<void> {
    for (const entity of ENTITIES) {
      const poller = new StreamPoller(this.clients.dynamo, this.target.endpoint ?? `https://streams.dynamodb.${this.target.region}.amazonaws.com`, this.target.region, {
        tables: [tableName(entity, this.source)],
        batchSize: 1000,
        maxRetries: Number.MAX_SAFE_INTEGER,
        consumer: (event) => this.apply(entity, event),
        fromLatest: true,
        // Woken at once when a cut-over needs it (readThrough); otherwise an idle stream is read
        // a few times a second, so a large stream does not keep DynamoDB busy.
        pollIntervalMs: CATCH_UP_POLL_MS,
        maxIdleMs: CATCH_UP_IDLE_MAX_MS,
        name: `reshard-${entity}-${this.source}`,
        beforeRead: async () => {
          await this.quiet.passFor(this);
          await this.held;
        },
      });
      poller.start();
      this.pollers.push(poller);
    }
    await Promise.all(this.pollers.map((p) => p.ready));
  }

  private async apply(entity: Entity, event: DynamoDBStreamEvent): Promise<void> {
    const pkName = TABLES[entity].partitionKey.name;
    const target = tableName(entity, this.dest);
    for (const r of event.Records) {
      const keys = unmarshall(r.dynamodb!.Keys as unknown as Record<string, AttributeValue>);
      const logical = logicalShardOfRow(entity, String(keys[pkName]), this.sourceLogical);
      if (logical === undefined || !this.moving.has(logical)) continue;
      const k = `${entity}:${rowKey(entity, keys)}`;
      await this.locks.with([k], async () => {
        this.touched.set(k, ++this.seq);
        if (r.eventName === 'REMOVE') {
          await this.clients.doc.send(new DeleteCommand({ TableName: target, Key: keys }));
        } else {
          const image = unmarshall(r.dynamodb!.NewImage as unknown as Record<string, AttributeValue>);
          await this.clients.doc.send(new PutCommand({ TableName: target, Item: marked(image) }));
        }
      });
      this.applied++;
    }
  }

  lastChange(key: string): number | undefined {
    return this.touched.get(key);
  }

  private held: Promise<void> = Promise.resolve();

  /** Holds new stream reads until `at`, and waits (until then at most) for those under way to be
   *  answered: at `at` every stream is read afresh at once, instead of a read begun just before
   *  `at` having to be answered and then repeated. */
  async freshReadsAt(at: number): Promise<void> {
    let release!: () => void;
    this.held = new Promise((r) => (release = r));
    try {
      while (Date.now() < at && this.pollers.some((p) => p.readsInFlight > 0)) await sleep(READ_THROUGH_CHECK_MS);
      await sleep(Math.max(0, at - Date.now()));
    } finally {
      release();
    }
  }

  /** Resolves once every stream has been read through since `ms` (all earlier writes applied). */
  async readThrough(ms: number, maxMs: number): Promise<boolean> {
    const until = Date.now() + maxMs;
    for (;;) {
      if (this.pollers.every((p) => p.readThrough(ms))) return true;
      if (Date.now() > until) return false;
      for (const p of this.pollers) if (!p.readThrough(ms)) p.wake();
      await sleep(READ_THROUGH_CHECK_MS);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.pollers.map((p) => p.stop()));
  }
}

export interface MoveGroup {
  source: number;
  dest: number;
  logicals: number[];
}

/** The moves grouped by source table (one cut-over per source table). */
export function groupMoves(moves: ShardMove[]): MoveGroup[] {
  const groups = new Map<string, MoveGroup>();
  for (const m of moves) {
    const k = `${m.source}>${m.target}`;
    const g = groups.get(k) ?? { source: m.source, dest: m.target, logicals: [] };
    groups.set(k, g);
    g.logicals.push(m.logical);
  }
  return [...groups.values()].sort((a, b) => a.source - b.source || a.dest - b.dest);
}

const rangeText = (logicals: number[]) => {
  const sorted = [...logicals].sort((a, b) => a - b);
  return sorted.length === sorted.at(-1)! - sorted[0]! + 1 ? `${sorted[0]}-${sorted.at(-1)}` : `${sorted.length} shards from ${sorted[0]}`;
};

/** Copies and verifies one group; returns the logical shards whose rows agree. */
async function copyAndVerify(clients: Clients, group: MoveGroup, catchUp: CatchUp, sourceLogical: number, destLogical: number, state: ReshardState, io: ReshardIo, followMs: number, pace: Pace): Promise<number[]> {
  const moving = new Set(group.logicals);
  const t0 = Date.now();
  const sources = new Map<Entity, Map<number, Side>>();
  const copied = { rows: 0 };
  for (const entity of ENTITIES) {
    const dest = tableName(entity, group.dest);
    // The target may hold rows of these shards from an earlier, stopped attempt (or from before
    // a rollback): rows the source no longer has are deleted below, the rest overwritten.
    sources.set(
      entity,
      await scanMoving(clients.doc, entity, tableName(entity, group.source), sourceLogical, moving, async (items) => {
        await inPool(batchesOf(items), COPY_PARALLEL, async (chunk) => {
          await pace();
          const ks = chunk.map((item) => `${entity}:${rowKey(entity, item)}`);
          await catchUp.locks.with(ks, async () => {
            const fresh = chunk.filter((_, i) => !catchUp.touched.has(ks[i]!));
            await writeAll(clients.doc, dest, fresh);
            copied.rows += fresh.length;
          });
        });
      }, pace),
    );
  }
  state.rowsCopied += copied.rows;
  io.progress(`table ${group.source} → ${group.dest}: logical ${rangeText(group.logicals)} copied (${copied.rows} rows in ${secs(Date.now() - t0)}; streams followed in ${secs(followMs)})`);
  const t1 = Date.now();
  const bad = new Map<number, string[]>();
  for (const entity of ENTITIES) {
    const src = sources.get(entity)!;
    const dst = await scanMoving(clients.doc, entity, tableName(entity, group.dest), destLogical, moving, undefined, pace);
    for (const logical of group.logicals) {
      const a = src.get(logical)?.rows ?? new Map<string, string>();
      const b = dst.get(logical)?.rows ?? new Map<string, string>();
      const differ = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k));
      if (differ.length > 0) bad.set(logical, [...(bad.get(logical) ?? []), ...differ.map((k) => `${entity}:${k}`)]);
    }
  }
  if (bad.size > 0) await settle(clients, group, catchUp, bad);
  const agreeing = new Set(group.logicals.filter((l) => !bad.has(l)));
  const samples = new Map(ENTITIES.map((entity) => [entity, sampleRowKeys([...agreeing].flatMap((l) => [...(sources.get(entity)!.get(l)?.rows.keys() ?? [])]))]));
  const dark = await darkReads(clients.doc, { source: group.source, dest: group.dest, sourceLogical, destLogical, moving: agreeing, samples, follower: catchUp, pace });
  for (const [logical, lines] of dark.differ) bad.set(logical, [...(bad.get(logical) ?? []), ...lines]);
  io.progress(`table ${group.source} → ${group.dest}: verified in ${secs(Date.now() - t1)} (${dark.reads} dark reads, ${dark.differ.size === 0 ? 'all agree' : `${[...dark.differ.values()].flat().length} differ`})`);
  for (const [logical, keys] of bad) {
    state.mismatches.push({ logical, keys: keys.slice(0, 10) });
    io.progress(`table ${group.source} → ${group.dest}: logical shard ${logical} NOT moved: ${keys.length} differences (${keys.slice(0, 3).join(', ').replace(/\u0000/g, '/')}${keys.length > 3 ? ', …' : ''})`);
  }
  return group.logicals.filter((l) => !bad.has(l));
}

/** `items` in BatchWriteItem-sized slices. */
const batchesOf = <T>(items: T[]): T[][] => Array.from({ length: Math.ceil(items.length / COPY_BATCH) }, (_, i) => items.slice(i * COPY_BATCH, (i + 1) * COPY_BATCH));

/** Runs `fn` over `items`, `width` at a time. */
async function inPool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

type WriteRequest = { PutRequest: { Item: Record<string, unknown> } } | { DeleteRequest: { Key: Record<string, unknown> } };

/** BatchWriteItem of `items` into `table` (each marked as the mover's), retrying what comes back
 *  unprocessed. */
const writeAll = (doc: DynamoDBDocumentClient, table: string, items: Record<string, unknown>[]) => batchAll(doc, table, items.map((item) => ({ PutRequest: { Item: marked(item) } })));

/** BatchWriteItem of `requests` (at most 25) into `table`, retrying what comes back unprocessed. */
async function batchAll(doc: DynamoDBDocumentClient, table: string, requests: WriteRequest[]): Promise<void> {
  let pending = requests;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) await sleep(Math.min(1000, 25 * 2 ** attempt));
    const out = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
    pending = (out.UnprocessedItems?.[table] ?? []) as typeof pending;
  }
}

/** Brings differing keys into agreement: under the key's lock, the source's current row (or its
 *  absence) is written to the target; later changes follow through the catch-up. A key that still
 *  differs after VERIFY_ROUNDS is left in `bad`. */
async function settle(clients: Clients, group: MoveGroup, catchUp: CatchUp, bad: Map<number, string[]>): Promise<void> {
  for (let round = 0; round < VERIFY_ROUNDS && bad.size > 0; round++) {
    await catchUp.readThrough(Date.now(), DRAIN_MAX_MS);
    for (const [logical, keys] of bad) {
      const left: string[] = [];
      for (const k of keys) {
        const [entityName, rest] = [k.slice(0, k.indexOf(':')), k.slice(k.indexOf(':') + 1)] as [Entity, string];
        const key = keyOfRowKey(entityName, rest);
        const [a, b] = await Promise.all(
          [group.source, group.dest].map(async (t) => (await clients.doc.send(new GetCommand({ TableName: tableName(entityName, t), Key: key, ConsistentRead: true }))).Item),
        );
        if ((a ? itemHash(a) : undefined) === (b ? itemHash(b) : undefined)) continue;
        if (round === VERIFY_ROUNDS - 1) {
          left.push(k);
          continue;
        }
        await catchUp.locks.with([k], async () => {
          const now = (await clients.doc.send(new GetCommand({ TableName: tableName(entityName, group.source), Key: key, ConsistentRead: true }))).Item;
          const dest = tableName(entityName, group.dest);
          if (now) await clients.doc.send(new PutCommand({ TableName: dest, Item: marked(now) }));
          else await clients.doc.send(new DeleteCommand({ TableName: dest, Key: key }));
        });
        left.push(k);
      }
      if (left.length === 0) bad.delete(logical);
      else bad.set(logical, left);
    }
  }
}

/** A cut-over's pause (the scheduled freeze begins → flip written) and where it went. */
interface Pause {
  ms: number;
  /** Holding for writes sent just before the freeze (and for a late freeze write), reading the
   *  streams through, writing the flip. */
  parts: { held: number; drain: number; flip: number };
}

/** How far ahead a cut-over schedules its freeze: every process re-reads the map within
 *  FAST_REFRESH_MS of the freeze being written (plus SEEN_MARGIN_MS for that read), and the write
 *  itself takes up to ~150 ms on a loaded DynamoDB Local (~10 ms in AWS). */
const FREEZE_AHEAD_MS = FAST_REFRESH_MS + SEEN_MARGIN_MS + 150;
/** From the freeze on, how long a write sent just before it may still be on its way to the source
 *  (a put on a loaded DynamoDB Local takes up to ~40 ms; in AWS ~10 ms), and the hosts' clocks
 *  apart (Amazon Time Sync keeps them within about a millisecond). */
const IN_FLIGHT_MS = 50;

/** Freezes the group's logical shards, reads the catch-up through, flips them to the target,
 *  unfreezes. Returns the pause, or undefined if the catch-up could not read through in time
 *  (unfrozen, nothing flipped: the group is tried again). The freeze is written ahead of the
 *  moment it begins (`frozenFrom`), so every process holds its writes from that moment on: the
 *  pause is the in-flight margin, the read-through and the flip. */
async function cutOver(group: MoveGroup, logicals: number[], catchUp: CatchUp): Promise<Pause | undefined> {
  const frozen: ShardRange[] = logicals.map((l) => ({ from: l, to: l, table: group.source }));
  // Caught up first, so the freeze only waits for what arrives in its own few hundred ms.
  await catchUp.readThrough(Date.now(), DRAIN_MAX_MS);
  const before = await readShardMap();
  const frozenFrom = Date.now() + FREEZE_AHEAD_MS;
  const frozenMap: ShardMap = { ...before, version: before.version + 1, frozen, frozenFrom };
  await writeShardMap(frozenMap, before.version);
  // A process that read the map just before the write sees it FAST_REFRESH_MS later: if the write
  // itself ran late, writes may reach the source until then. Every write that left before the
  // freeze held is on its way to the source and reaches the stream before the catch-up reads
  // through; the catch-up stops starting reads a little before, so each stream is read once.
  const seenAt = Math.max(frozenFrom, Date.now() + FAST_REFRESH_MS + SEEN_MARGIN_MS) + IN_FLIGHT_MS;
  await sleep(seenAt - FRESH_READ_HOLD_MS - Date.now());
  await catchUp.freshReadsAt(seenAt);
  const through = await catchUp.readThrough(seenAt, DRAIN_MAX_MS);
  const drainedAt = Date.now();
  const { frozenFrom: _scheduled, ...unscheduled } = frozenMap;
  if (!through) {
    await writeShardMap({ ...unscheduled, version: frozenMap.version + 1, frozen: [] }, frozenMap.version);
    return undefined;
  }
  let ranges = frozenMap.ranges;
  for (const l of logicals) ranges = assign({ ...frozenMap, ranges }, l, l, group.dest);
  await writeShardMap({ ...unscheduled, version: frozenMap.version + 1, ranges, frozen: [] }, frozenMap.version);
  const end = Date.now();
  return { ms: end - frozenFrom, parts: { held: seenAt - frozenFrom, drain: drainedAt - seenAt, flip: end - drainedAt } };
}

/** Announces a move (processes refresh their map often) and waits until every one does. */
async function announce(map: ShardMap, tables: number, io: ReshardIo): Promise<ShardMap> {
  if (map.moving && map.tables === tables) return map;
  const next = { ...map, version: map.version + 1, tables: Math.max(map.tables, tables), moving: true };
  await writeShardMap(next, map.version);
  io.progress(`shard map version ${next.version}: move announced; waiting ${Math.round((slowRefreshMs() + SEEN_MARGIN_MS) / 100) / 10} s for every process to read it`);
  await sleep(slowRefreshMs() + SEEN_MARGIN_MS);
  return next;
}

/** Moves each group; saves state after each cut-over. */
async function moveGroups(clients: Clients, target: ReshardTarget, groups: MoveGroup[], state: ReshardState, io: ReshardIo): Promise<void> {
  const late: Promise<void>[] = [];
  try {
    await moveEach(clients, target, groups, state, io, late);
  } finally {
    await Promise.all(late);
  }
}

/** Source tables moved at once: their copies and verifications overlap; cut-overs take turns
 *  (each rewrites the map twice, conditioned on its version). */
const PARALLEL_TABLES = 2;

async function moveEach(clients: Clients, target: ReshardTarget, groups: MoveGroup[], state: ReshardState, io: ReshardIo, late: Promise<void>[]): Promise<void> {
  const queue = groups.filter((g) => !state.done.includes(g.source));
  const quiet = new Quiet();
  let turn: Promise<unknown> = Promise.resolve();
  /** Runs `fn` after every cut-over begun before it, with the other tables' work held. */
  const inTurn = <T>(catchUp: CatchUp, fn: () => Promise<T>): Promise<T> => {
    const run = turn.then(() => quiet.during(catchUp, fn), () => quiet.during(catchUp, fn));
    turn = run.catch(() => undefined);
    return run;
  };
  const worker = async () => {
    for (let group = queue.shift(); group; group = queue.shift()) {
      if (io.signal?.aborted) throw new ReshardError(`stopped after ${state.done.length} of ${groups.length} tables; run the same command again to resume`);
      await moveGroup(clients, target, group, groups.length, state, io, late, inTurn, quiet);
    }
  };
  const results = await Promise.allSettled(Array.from({ length: PARALLEL_TABLES }, worker));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Follows, copies, verifies and cuts over one source table's moving logical shards. */
async function moveGroup(clients: Clients, target: ReshardTarget, group: MoveGroup, total: number, state: ReshardState, io: ReshardIo, late: Promise<void>[], inTurn: <T>(catchUp: CatchUp, fn: () => Promise<T>) => Promise<T>, quiet: Quiet): Promise<void> {
  const map = await readShardMap();
  const sourceLogical = setLogicalOfTable(group.source);
  const destLogical = setLogicalOfTable(group.dest);
  const moving = new Set(group.logicals.filter((l) => map.ranges.some((r) => r.table === group.source && l >= r.from && l <= r.to)));
  if (moving.size > 0) {
    const catchUp = new CatchUp(clients, target, group.source, group.dest, sourceLogical, moving, quiet);
    const t0 = Date.now();
    await catchUp.start();
    const followMs = Date.now() - t0;
    let lingering = false;
    try {
      const verified = await copyAndVerify(clients, { ...group, logicals: [...moving] }, catchUp, sourceLogical, destLogical, state, io, followMs, quiet.pass);
      let pause: Pause | undefined;
      for (let attempt = 0; attempt < 3 && pause === undefined && verified.length > 0; attempt++) pause = await inTurn(catchUp, () => cutOver(group, verified, catchUp));
      if (verified.length > 0 && pause === undefined) throw new ReshardError(`table ${group.source}: the catch-up could not read its streams through during the freeze; run again to retry`);
      if (pause !== undefined) state.pausesMs.push(pause.ms);
      const parts = pause ? `: held ${pause.parts.held}, drain ${pause.parts.drain}, flip ${pause.parts.flip}` : '';
      io.progress(`table ${group.source} → ${group.dest}: logical ${rangeText(verified.length ? verified : group.logicals)} cut over (pause ${pause?.ms ?? 0} ms${parts}; ${catchUp.applied} changes caught up) [${state.done.length + 1}/${total}]`);
      // A write that read the map before the freeze and was still on its way when the catch-up
      // read through lands in the source after the flip: the catch-up keeps following the source
      // for as long as a DynamoDB request may take, while the next table moves.
      late.push(sleep(config().FEED_DYNAMO_TIMEOUT_MS).then(() => catchUp.stop()));
      lingering = true;
    } finally {
      if (!lingering) await catchUp.stop();
    }
  }
  state.done.push(group.source);
  await saveState(clients.doc, state);
}

export interface ReshardReport {
  state: ReshardState;
  map: ShardMap;
}

/** Runs `fn` with DynamoDB clients of its own, closed after. */
async function withClients<T>(target: ReshardTarget, fn: (clients: Clients) => Promise<T>): Promise<T> {
  const clients = rawClients(target);
  try {
    return await fn(clients);
  } finally {
    clients.dynamo.destroy();
  }
}

/** Runs `fn` holding the reshard lock for `state`; the heartbeat stops and the state is saved
 *  without it after, whatever happened. */
export async function locked<T>(clients: Pick<Clients, 'doc'>, state: ReshardState, previous: ReshardState | undefined, fn: () => Promise<T>): Promise<T> {
  const unlock = await lock(clients.doc, state, previous);
  try {
    return await fn();
  } finally {
    await unlock();
    await saveState(clients.doc, { ...state, heartbeatAt: 0 }).catch(() => undefined);
  }
}

/** Lifts a freeze a stopped reshard left (nothing of it was flipped: writes go on where they were). */
async function liftFreeze(map: ShardMap): Promise<ShardMap> {
  if (map.frozen.length === 0) return map;
  const next = { ...map, version: map.version + 1, frozen: [] };
  await writeShardMap(next, map.version);
  return next;
}

/** Moves `groups`, marks the map done (not moving) and the state moved; throws when logical
 *  shards were left behind on a verification mismatch (the state stays moving: run it again). */
async function moveAndSettle(clients: Clients, target: ReshardTarget, groups: MoveGroup[], state: ReshardState, io: ReshardIo): Promise<ShardMap> {
  await moveGroups(clients, target, groups, state, io);
  let map = await readShardMap();
  map = { ...map, version: map.version + 1, moving: false };
  await writeShardMap(map, map.version - 1);
  state.phase = state.mismatches.length > 0 ? 'moving' : 'moved';
  await saveState(clients.doc, state);
  if (state.mismatches.length > 0) throw new ReshardError(`${state.mismatches.length} logical shards were not moved (their rows differ); run again to retry them`);
  return map;
}

/** Grows the tables to `to` (or resumes that growth). */
export async function reshard(to: number, target: ReshardTarget, io: ReshardIo): Promise<ReshardReport> {
  return withClients(target, async (clients) => {
    const previous = await readState(clients.doc);
    let map = await readShardMap();
    const resuming = previous?.phase === 'moving' && previous.action === 'grow';
    if (resuming && previous.to !== to) throw new ReshardError(`a reshard to ${previous.to} tables is in progress: resume it with --to ${previous.to}, or roll it back with --rollback`);
    if (previous?.phase === 'moved') throw new ReshardError(`the reshard to ${previous.to} tables is moved but not finished: run --finish (or --rollback) first`);
    if (!resuming) {
      const problem = reshardTargetProblem(map, to);
      if (problem) throw new ReshardError(`${problem}; nothing changed`);
    }
    const from = resuming ? previous.from : map.tables;
    const state: ReshardState = resuming
      ? { ...previous, mismatches: [] }
      : { action: 'grow', from, to, phase: 'moving', done: [], mismatches: [], pausesMs: [], rowsCopied: 0, startedAt: new Date().toISOString(), base: map.ranges };
    return locked(clients, state, previous, async () => {
      map = await liftFreeze(map);
      if (target.createTables) await ensureTables(clients.dynamo, to);
      const plan = growthMoves({ ...map, tables: from, ranges: resuming ? planBase(from) : map.ranges }, to);
      map = await announce(map, to, io);
      io.progress(`reshard ${from} → ${to} tables: ${plan.length} logical shards to move in ${groupMoves(plan).length} cut-overs${state.done.length ? `, ${state.done.length} done` : ''}`);
      return { state, map: await moveAndSettle(clients, target, groupMoves(plan), state, io) };
    });
  });
}

/** The ranges a reshard started from (a state saved before they were kept: the contiguous layout
 *  of `from` tables, where every growth starts). */
const baseOf = (state: ReshardState): ShardRange[] => state.base ?? planBase(state.from);

/** Tables holding rows of logical shards that have moved off them since `base`. */
function tablesMovedFrom(base: ShardRange[], map: ShardMap): number[] {
  const now = lookupOf(map);
  const tables = new Set<number>();
  for (const r of base) for (let l = r.from; l <= r.to; l++) if (now[l] !== r.table) tables.add(r.table);
  return [...tables].sort((a, b) => a - b);
}

/** Moves logical shards `from`..`to` to existing table `table` (or resumes that move): the same
 *  follow, copy, verify and cut-over as a growth, for one source table. */
export async function move(from: number, to: number, table: number, target: ReshardTarget, io: ReshardIo): Promise<ReshardReport> {
  return withClients(target, async (clients) => {
    const previous = await readState(clients.doc);
    let map = await readShardMap();
    const same = previous?.action === 'move' && previous.move?.from === from && previous.move.to === to && previous.move.table === table;
    const resuming = previous?.phase === 'moving' && same;
    if (previous?.phase === 'moving' && !resuming) throw new ReshardError(`a ${previous.action} (${previous.action === 'move' ? `logical ${previous.move?.from}-${previous.move?.to} to table ${previous.move?.table}` : `to ${previous.to} tables`}) is in progress: run it again to resume, or roll it back with --rollback`);
    if (previous?.phase === 'moved') throw new ReshardError(`the last ${previous.action} is moved but not finished: run --finish (or --rollback) first`);
    const shards = config().FEED_SHARDS;
    const base = resuming ? baseOf(previous) : map.ranges;
    const problem = moveTargetProblem({ ...map, ranges: base }, from, to, table, (t) => tableSetOfTable(t, shards).name);
    if (problem) throw new ReshardError(`${problem}; nothing changed`);
    const source = lookupOf({ ...map, ranges: base })[from]!;
    const state: ReshardState = resuming
      ? { ...previous, mismatches: [] }
      : { action: 'move', from: map.tables, to: map.tables, phase: 'moving', done: [], mismatches: [], pausesMs: [], rowsCopied: 0, startedAt: new Date().toISOString(), base, move: { from, to, table } };
    return locked(clients, state, previous, async () => {
      map = await liftFreeze(map);
      map = await announce(map, map.tables, io);
      const logicals = Array.from({ length: to - from + 1 }, (_, i) => from + i);
      io.progress(`move logical ${from}-${to} from table ${source} to table ${table}: 1 cut-over`);
      return { state, map: await moveAndSettle(clients, target, [{ source, dest: table, logicals }], state, io) };
    });
  });
}

/** The map a growth started from: every logical shard back on the table it had (its range in the
 *  contiguous layout of `from` tables). */
function planBase(from: number): ShardRange[] {
  const per = LOGICAL_SHARDS / from;
  return Array.from({ length: from }, (_, t) => ({ from: t * per, to: t * per + per - 1, table: t }));
}

/** Moves every logical shard a growth moved back to its old table. */
export async function rollback(target: ReshardTarget, io: ReshardIo): Promise<ReshardReport> {
  return withClients(target, async (clients) => {
    const previous = await readState(clients.doc);
    if (!previous || previous.phase === 'finished' || previous.phase === 'rolled-back') {
      throw new ReshardError(previous?.phase === 'finished' ? `the reshard to ${previous.to} tables is finished: its old rows are gone, it cannot be rolled back` : 'no reshard to roll back');
    }
    const state: ReshardState = { ...previous, action: 'rollback', phase: 'moving', done: previous.action === 'rollback' ? previous.done : [], mismatches: [] };
    return locked(clients, state, previous, async () => {
      let map = await liftFreeze(await readShardMap());
      const now = lookupOf(map);
      const back: ShardMove[] = [];
      for (const r of baseOf(state)) for (let l = r.from; l <= r.to; l++) if (now[l] !== r.table) back.push({ logical: l, source: now[l]!, target: r.table });
      map = await announce(map, map.tables, io);
      io.progress(`rollback to ${state.from} tables: ${back.length} logical shards to move back in ${groupMoves(back).length} cut-overs`);
      await moveGroups(clients, target, groupMoves(back), state, io);
      map = await readShardMap();
      map = { ...map, version: map.version + 1, tables: state.from, moving: false };
      await writeShardMap(map, map.version - 1);
      // The new tables stay (a deployment declares them: FEED_SHARD_TABLES) and hold nothing the
      // map names; a later growth overwrites or deletes what they still hold as it verifies.
      state.phase = 'rolled-back';
      await saveState(clients.doc, state);
      return { state, map };
    });
  });
}

/** Deletes the moved rows from their old tables: the reshard can no longer be rolled back. */
export async function finish(target: ReshardTarget, io: ReshardIo): Promise<ReshardReport> {
  return withClients(target, async (clients) => {
    const previous = await readState(clients.doc);
    if (previous?.phase !== 'moved') {
      throw new ReshardError(previous?.phase === 'moving' ? `the reshard to ${previous.to} tables is still moving: run it to the end (or --rollback) first` : 'no moved reshard to finish');
    }
    const state: ReshardState = { ...previous };
    return locked(clients, state, previous, async () => {
      const map = await readShardMap();
      let deleted = 0;
      // Tables are independent: FINISH_TABLES of them at once, so one table's scan overlaps
      // another's deletes (one after another, the deletes of a 32 → 64 reshard's 13,500 moved rows
      // took ~21 s locally, most of it waiting on scans of tables with little left to delete).
      await inPool(tablesMovedFrom(baseOf(state), map), FINISH_TABLES, async (t) => {
        deleted += await deleteMovedRows(clients, map, t);
        io.progress(`table ${t}: moved rows deleted (${deleted} so far)`);
      });
      state.phase = 'finished';
      await saveState(clients.doc, state);
      io.progress(`finished: ${deleted} moved rows deleted from the old tables; ${map.tables} tables in use`);
      return { state, map };
    });
  });
}

/** Deletes from table `t` the rows of logical shards it no longer holds; returns how many. */
async function deleteMovedRows(clients: Clients, map: ShardMap, t: number): Promise<number> {
  const held = rangesOfTable(map, t);
  let deleted = 0;
  for (const entity of ENTITIES) {
    const table = tableName(entity, t);
    await scanMoving(clients.doc, entity, table, setLogicalOfTable(t), { has: (logical: number) => !inRanges(held, logical) }, async (items) => {
      await inPool(batchesOf(items), COPY_PARALLEL, (batch) => batchAll(clients.doc, table, batch.map((item) => ({ DeleteRequest: { Key: keyOf(entity, item) } }))));
      deleted += items.length;
    });
  }
  return deleted;
}

/** Lines describing the shard map and any reshard. */
export async function status(target: ReshardTarget): Promise<string[]> {
  return withClients(target, async (clients) => {
    const map = await readShardMap();
    const state = await readState(clients.doc);
    const lines = [`shard map version ${map.version}: ${map.tables} tables per entity, ${map.ranges.length} ranges${map.moving ? ', a move is under way' : ''}${map.frozen.length ? `, ${map.frozen.length} logical shards frozen` : ''}`];
    if (!state) return [...lines, 'no reshard has run'];
    const running = state.heartbeatAt && Date.now() - state.heartbeatAt < LOCK_STALE_MS;
    const pauses = [...state.pausesMs].sort((a, b) => a - b);
    lines.push(
      `reshard (${state.action}) ${state.from} → ${state.to} tables: ${state.phase}${state.phase === 'moving' ? (running ? `, running (${state.owner})` : ', stopped: run it again to resume') : ''}; started ${state.startedAt}`,
      `  cut-overs done: ${state.done.length}; rows copied ${state.rowsCopied}; pause p50 ${pauses[Math.floor(pauses.length / 2)] ?? 0} ms, max ${pauses.at(-1) ?? 0} ms`,
    );
    for (const m of state.mismatches) lines.push(`  logical shard ${m.logical} not moved: rows or reads differ (${m.keys.slice(0, 3).join(', ').replace(/\u0000/g, '/')})`);
    if (state.phase === 'moved') lines.push('  next: --finish deletes the moved rows from the old tables (no rollback after that), or --rollback');
    return lines;
  });
}

