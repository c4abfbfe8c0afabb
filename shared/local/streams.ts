// DynamoDB Streams for the local stack, read through DynamoDB Local's real Streams API, delivered
// as Lambda's event-source mapping does: batches of up to batchSize records per shard in order;
// on failure the batch is retried from the first failed record (ReportBatchItemFailures), and a
// record that still fails after maxRetries goes to the failure list instead of blocking its shard.
// An idle poller backs off (pollIntervalMs doubling up to IDLE_POLL_MAX_MS) so an idle stack leaves
// DynamoDB Local alone; a write to a watched table through the process's client wakes it at once.
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { inDelivery, type Delivery } from './crash-points.js';

/** Idle wait after a round that found no records, unless pollIntervalMs is given. */
const POLL_INTERVAL_MS = 100;
/** The longest idle wait: a record written by another process (the tests' own writes, feedctl)
 *  is seen within a second; writes through this process's client wake the poller at once. */
export const IDLE_POLL_MAX_MS = 1000;
/** Commands after which a watched table may have new stream records. */
const WRITE_COMMANDS = /^(Put|Update|Delete|BatchWrite|TransactWrite)(Item|Items)?Command$/;

let pollerIds = 0;

export type StreamConsumer = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | void | unknown>;

export interface StreamMappingOptions {
  tables: string[];
  batchSize: number;
  maxRetries: number;
  consumer: StreamConsumer;
  /** Idle wait after the first round that found no records; it doubles with each further idle
   *  round up to maxIdleMs. */
  pollIntervalMs?: number;
  /** The longest idle wait (default IDLE_POLL_MAX_MS). */
  maxIdleMs?: number;
  /** Where each shard resumed from last time (persisted by the caller when data is kept). */
  checkpoints?: Map<string, string>;
  /** Names this mapping's checkpoints (`<name>:<shardId>`), so two mappings reading one stream
   *  (post-router and analytics-export on the posts tables) sharing one map keep their own
   *  positions; without it, the key is the shard id alone. */
  name?: string;
  /** Shards read at once in a round (default 1: one after another, as the handlers' mappings
   *  are read). A replica poller reads some 50 streams; one after another, a round takes long
   *  enough to be most of replication's lag. Each shard is still read in order by one task. */
  parallelShards?: number;
  /** Read only what is written after start() (a reshard's catch-up): the shards found at start
   *  begin at LATEST instead of their oldest record; shards that appear later from the start. */
  fromLatest?: boolean;
  /** Awaited before each GetRecords: a reshard holds its other catch-ups while one table cuts
   *  over, so the cut-over's own reads are not queued behind theirs in DynamoDB Local. */
  beforeRead?: () => Promise<void>;
}

interface ShardCursor {
  table: string;
  streamArn: string;
  shardId: string;
  iterator: string | undefined;
  pending: _Record[];
  attempts: number;
  /** When the last read that found nothing began: everything written before it was read. */
  emptyReadStartedAt: number;
}

export interface StreamFailure {
  table: string;
  eventID: string;
  sequenceNumber: string;
}

export class StreamPoller {
  private readonly streams: DynamoDBStreamsClient;
  private readonly shards = new Map<string, ShardCursor>();
  private stopped = false;
  private loop: Promise<void> | undefined;
  readonly failures: StreamFailure[] = [];
  readonly checkpoints: Map<string, string>;
  delivered = 0;
  /** GetRecords calls made, and the idle waits scheduled in all (tests compare the two to see the
   *  back-off without measuring time). */
  getRecordsCalls = 0;
  idleWaitedMs = 0;
  /** GetRecords calls sent and not yet answered. */
  readsInFlight = 0;
  private readonly wakeName = `feedscaleStreamWake${++pollerIds}`;
  /** Ends the current idle wait; set while one runs. */
  private wakeIdle: (() => void) | undefined;
  /** A watched table was written during a round: the next idle wait is skipped. */
  private written = false;
  /** Every shard found at start has its iterator (fromLatest: the position reading starts at). */
  readonly ready: Promise<void>;
  private markReady: () => void = () => {};
  private discovered = false;

  constructor(
    private readonly dynamo: DynamoDBClient,
    endpoint: string,
    region: string,
    private readonly opts: StreamMappingOptions,
  ) {
    this.streams = new DynamoDBStreamsClient({ endpoint, region });
    this.checkpoints = opts.checkpoints ?? new Map();
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  start(): void {
    this.watchWrites();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
    this.dynamo.middlewareStack.remove(this.wakeName);
    this.streams.destroy();
  }

  /** Ends an idle wait now (a watched table was written, or the poller stops). */
  wake(): void {
    this.written = true;
    this.wakeIdle?.();
  }

  /** Wakes the poller after each successful write to one of its tables through the process's
   *  DynamoDB client (the handlers' and the document client's: they share its middleware). */
  private watchWrites(): void {
    const tables = new Set(this.opts.tables);
    this.dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (WRITE_COMMANDS.test(String(context.commandName)) && writesTo(args.input as WriteInput, tables)) this.wake();
        return out;
      },
      { step: 'initialize', name: this.wakeName },
    );
  }

  /** Waits pollIntervalMs × 2^(idle rounds - 1), at most maxIdleMs, or until woken. */
  private async idleWait(idleRounds: number): Promise<void> {
    if (this.written || this.stopped) return;
    const base = this.opts.pollIntervalMs ?? POLL_INTERVAL_MS;
    const ms = Math.max(base, Math.min(this.opts.maxIdleMs ?? IDLE_POLL_MAX_MS, base * 2 ** Math.min(idleRounds - 1, 20)));
    this.idleWaitedMs += ms;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakeIdle = done;
    });
    this.wakeIdle = undefined;
  }

  /** True when every shard has been read to its end by a read that began at or after `ms`: every
   *  record written before `ms` has been delivered. */
  readThrough(ms: number): boolean {
    return [...this.shards.values()].every((s) => s.pending.length === 0 && s.emptyReadStartedAt >= ms);
  }

  /** True when every known shard has nothing buffered (tests wait on it). */
  get caughtUp(): boolean {
    return [...this.shards.values()].every((s) => s.pending.length === 0);
  }

  private async discover(): Promise<void> {
    for (const table of this.opts.tables) {
      const t = await this.dynamo.send(new DescribeTableCommand({ TableName: table }));
      const streamArn = t.Table?.LatestStreamArn;
      if (!streamArn) continue;
      const d = await this.streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
      for (const shard of d.StreamDescription?.Shards ?? []) {
        const shardId = shard.ShardId!;
        if (this.shards.has(shardId)) continue;
        const cursor: ShardCursor = { table, streamArn, shardId, iterator: undefined, pending: [], attempts: 0, emptyReadStartedAt: 0 };
        cursor.iterator = await this.iteratorFor(cursor, this.opts.fromLatest === true && !this.discovered);
        this.shards.set(shardId, cursor);
      }
    }
  }

  private checkpointKey(shard: ShardCursor): string {
    return this.opts.name ? `${this.opts.name}:${shard.shardId}` : shard.shardId;
  }

  /** An iterator just after the shard's checkpoint, or at its oldest record (its newest with
   *  `latest`). */
  private async iteratorFor(shard: ShardCursor, latest = false): Promise<string | undefined> {
    // A checkpoint saved before mappings were named is keyed by the shard id alone.
    const after = this.checkpoints.get(this.checkpointKey(shard)) ?? this.checkpoints.get(shard.shardId);
    const it = await this.streams.send(
      new GetShardIteratorCommand({
        StreamArn: shard.streamArn,
        ShardId: shard.shardId,
        ...(after ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after } : { ShardIteratorType: latest ? 'LATEST' : 'TRIM_HORIZON' }),
      }),
    );
    return it.ShardIterator;
  }

  private async run(): Promise<void> {
    let lastDiscovery = 0;
    let idleRounds = 0;
    while (!this.stopped) {
      try {
        if (Date.now() - lastDiscovery > 10_000) {
          await this.discover();
          lastDiscovery = Date.now();
          this.discovered = true;
          this.markReady();
        }
        // Cleared before the round: a write during it means its records may be missed by a shard
        // already read this round, so the next round starts without waiting.
        this.written = false;
        const busy = await this.pollRound();
        idleRounds = busy ? 0 : idleRounds + 1;
        if (!busy) await this.idleWait(idleRounds);
      } catch (err) {
        if (this.stopped) break;
        console.error(`stream poller: ${(err as Error).message}`);
        lastDiscovery = 0;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** Reads every shard once, `parallelShards` at a time; true when any found records. */
  private async pollRound(): Promise<boolean> {
    const queue = [...this.shards.values()];
    let busy = false;
    const worker = async () => {
      for (let shard = queue.shift(); shard && !this.stopped; shard = queue.shift()) {
        if (await this.pollShard(shard)) busy = true;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.opts.parallelShards ?? 1) }, worker));
    return busy;
  }

  /** Reads and delivers one batch of a shard; true when it found records. */
  private async pollShard(shard: ShardCursor): Promise<boolean> {
    if (shard.pending.length === 0) {
      if (!shard.iterator) {
        this.shards.delete(shard.shardId);
        return false;
      }
      let out;
      await this.opts.beforeRead?.();
      const startedAt = Date.now();
      try {
        this.getRecordsCalls++;
        this.readsInFlight++;
        out = await this.streams.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: this.opts.batchSize }));
      } catch (err) {
        // DynamoDB Local answers TrimmedDataAccessException for an iterator taken while its shard
        // was empty, once the first record arrives; expired iterators need renewing too. Both are
        // recovered by a fresh iterator from the checkpoint.
        const name = (err as { name?: string }).name;
        if (name !== 'TrimmedDataAccessException' && name !== 'ExpiredIteratorException') throw err;
        shard.iterator = await this.iteratorFor(shard);
        return true;
      } finally {
        this.readsInFlight--;
      }
      shard.iterator = out.NextShardIterator;
      shard.pending = out.Records ?? [];
      if (shard.pending.length === 0) {
        shard.emptyReadStartedAt = startedAt;
        return false;
      }
    }
    const batch = shard.pending.slice(0, this.opts.batchSize);
    const delivery: Delivery = { covered: false };
    const failedAt = await inDelivery(delivery, () => this.deliver(shard, batch));
    const done = failedAt === -1 ? batch.length : failedAt;
    if (done > 0) {
      // Advanced only for records whose handler returned: the post router returns once its
      // fan-out jobs and workflow starts are durable (queues.ts, stepfunctions.ts), so a saved
      // checkpoint never covers work that a kill -9 could lose.
      shard.pending.splice(0, done);
      shard.attempts = 0;
      this.checkpoints.set(this.checkpointKey(shard), batch[done - 1]!.dynamodb!.SequenceNumber!);
      this.delivered += done;
      delivery.covered = failedAt === -1;
    }
    if (failedAt !== -1 && done === 0) {
      shard.attempts++;
      if (shard.attempts > this.opts.maxRetries) {
        const poison = shard.pending.shift()!;
        this.failures.push({ table: shard.table, eventID: poison.eventID!, sequenceNumber: poison.dynamodb!.SequenceNumber! });
        this.checkpoints.set(this.checkpointKey(shard), poison.dynamodb!.SequenceNumber!);
        shard.attempts = 0;
      } else {
        await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** shard.attempts)));
      }
    }
    return true;
  }

  /** Index of the first failed record of the batch, or -1 when all succeeded. */
  private async deliver(shard: ShardCursor, batch: _Record[]): Promise<number> {
    const records = batch.map((r) => ({ ...r, eventSourceARN: shard.streamArn }) as unknown as DynamoDBRecord);
    try {
      const res = (await this.opts.consumer({ Records: records })) as DynamoDBBatchResponse | undefined;
      const failed = new Set((res?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      if (failed.size === 0) return -1;
      const at = batch.findIndex((r) => failed.has(r.dynamodb!.SequenceNumber!));
      return at === -1 ? 0 : at;
    } catch (err) {
      console.error(`stream ${shard.table}: batch failed: ${(err as Error).stack ?? err}`);
      return 0;
    }
  }
}

type WriteInput = { TableName?: string; RequestItems?: Record<string, unknown>; TransactItems?: Record<string, { TableName?: string }>[] };

/** Whether a write command's input touches one of `tables`. */
function writesTo(input: WriteInput, tables: Set<string>): boolean {
  if (input.TableName) return tables.has(input.TableName);
  if (input.RequestItems) return Object.keys(input.RequestItems).some((t) => tables.has(t));
  return (input.TransactItems ?? []).some((item) => Object.values(item).some((op) => op?.TableName !== undefined && tables.has(op.TableName)));
}
