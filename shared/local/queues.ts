// SQS semantics for the local stack: messages are received in batches, stay invisible for the
// queue's visibility timeout while a consumer works, are deleted when the consumer succeeds, are
// redelivered when it fails (whole batch, or only the items it reports in batchItemFailures), and
// move to the dead-letter queue `<name>-dlq` once received maxReceiveCount times.
// With data kept, every change is journalled (journal.ts) under .local/: a send resolves only once
// its messages are on disk, so a producer that was told "sent" (the post router, before its stream
// checkpoint advances) never loses them to a kill -9. An append-only file was chosen over tables in
// DynamoDB Local: one fdatasync covers a whole burst of sends (group commit), where DynamoDB Local
// would cost an HTTP round trip and a SQLite transaction per batch on the hot fan-out path.
import { createHash, randomUUID } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { OutgoingMessage, QueueTransport } from '../messaging/queue.js';
import { dlqName, QUEUES, type QueueName } from '../declarations/event-sources.js';
import { FileJournal, MemoryJournal, readJournal, type Journal } from './journal.js';
import { crashPoint, holdsDelivery, noteSent } from './crash-points.js';

interface StoredMessage {
  messageId: string;
  body: string;
  correlationId?: string;
  delaySeconds: number;
  sentAt: number;
  receiveCount: number;
  visibleAt: number;
}

/** One change to the queues, as journalled. `recv` carries the new receive count (not an
 *  increment) and every record names its message, so replaying a record twice changes nothing. */
export type QueueRecord =
  | { op: 'put'; q: QueueName; m: StoredMessage; dead?: true }
  | { op: 'recv'; q: QueueName; id: string; n: number }
  | { op: 'del'; q: QueueName; ids: string[] }
  | { op: 'dead'; q: QueueName; id: string };

/** Journal size that triggers a rewrite to the live messages: at ~300 bytes a record, about 30,000
 *  records, a rewrite of a few milliseconds that keeps restart replay short. */
const COMPACT_AFTER_BYTES = 8 * 1024 * 1024;

/** FEED_LOCAL_VISIBILITY_TIMEOUT_MS: every queue's visibility timeout for a whole `npm start`
 *  (the crash test's stacks: a job failed by a starved DynamoDB Local is retried in seconds, not
 *  after the fan-out queue's 180 s). */
const ENV_VISIBILITY_MS = (() => {
  const raw = process.env.FEED_LOCAL_VISIBILITY_TIMEOUT_MS;
  if (raw === undefined || raw === '') return undefined;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 100) throw new Error(`FEED_LOCAL_VISIBILITY_TIMEOUT_MS: "${raw}" is not a whole number of milliseconds ≥ 100`);
  return ms;
})();

export type Consumer = (event: SQSEvent) => Promise<SQSBatchResponse | void | unknown>;

export interface LocalQueueOptions {
  /** Overrides every queue's visibility timeout (tests shorten retries with it). */
  visibilityTimeoutMs?: number;
  /** Idle wait between polls of an empty queue. */
  pollIntervalMs?: number;
  /** Batches a queue's consumer runs at once (Lambda's concurrency for the mapping). */
  concurrency?: number;
  /** Scales DelaySeconds (1 = as in SQS; tests shorten delays with it). */
  delayScale?: number;
}

class LocalQueue {
  readonly messages: StoredMessage[] = [];
  readonly deadLetters: StoredMessage[] = [];
  constructor(
    readonly name: QueueName,
    readonly visibilityMs: number,
    readonly maxReceiveCount: number,
    readonly delayScale: number,
    private readonly log: (r: QueueRecord) => Promise<void>,
  ) {}

  send(m: OutgoingMessage): Promise<void> {
    const visibleAt = m.delaySeconds ? Date.now() + m.delaySeconds * 1000 * this.delayScale : 0;
    const stored: StoredMessage = { messageId: randomUUID(), body: m.body, correlationId: m.correlationId, delaySeconds: m.delaySeconds ?? 0, sentAt: Date.now(), receiveCount: 0, visibleAt };
    this.messages.push(stored);
    return this.log({ op: 'put', q: this.name, m: { ...stored } });
  }

  /** Up to `max` visible messages, now invisible; over-received ones go to the DLQ first. */
  receive(max: number): StoredMessage[] {
    const now = Date.now();
    const batch: StoredMessage[] = [];
    for (let i = 0; i < this.messages.length && batch.length < max; ) {
      const m = this.messages[i]!;
      if (m.visibleAt > now) {
        i++;
        continue;
      }
      if (m.receiveCount >= this.maxReceiveCount) {
        this.messages.splice(i, 1);
        this.deadLetters.push(m);
        // Not awaited: if this record is lost, the replayed message has maxReceiveCount receives
        // and moves to the DLQ on its next receive anyway.
        void this.log({ op: 'dead', q: this.name, id: m.messageId }).catch(logJournalError);
        continue;
      }
      m.receiveCount++;
      m.visibleAt = now + this.visibilityMs;
      batch.push(m);
      // Not awaited (the receive path stays free of syncs): a lost count only allows one more
      // receive after a restart, which at-least-once delivery permits.
      void this.log({ op: 'recv', q: this.name, id: m.messageId, n: m.receiveCount }).catch(logJournalError);
      i++;
    }
    return batch;
  }

  /** Deletes acknowledged messages; resolves once the deletion is durable, so a message acked
   *  before a crash is not delivered again after it. */
  delete(ids: Set<string>): Promise<void> {
    if (ids.size === 0) return Promise.resolve();
    for (let i = this.messages.length - 1; i >= 0; i--) if (ids.has(this.messages[i]!.messageId)) this.messages.splice(i, 1);
    return this.log({ op: 'del', q: this.name, ids: [...ids] });
  }

  /** Applies a journalled record (replay after a restart). */
  replay(r: QueueRecord): void {
    const at = (id: string) => this.messages.findIndex((m) => m.messageId === id);
    switch (r.op) {
      case 'put':
        if (at(r.m.messageId) !== -1 || this.deadLetters.some((m) => m.messageId === r.m.messageId)) return;
        // A message received before the crash has no consumer any more: visible at once, as
        // if its visibility timeout had passed. A delayed one keeps its delay.
        (r.dead ? this.deadLetters : this.messages).push({ ...r.m, visibleAt: r.m.receiveCount > 0 ? 0 : r.m.visibleAt });
        return;
      case 'recv': {
        const m = this.messages[at(r.id)];
        if (m) {
          m.receiveCount = Math.max(m.receiveCount, r.n);
          m.visibleAt = 0;
        }
        return;
      }
      case 'del': {
        const ids = new Set(r.ids);
        for (let i = this.messages.length - 1; i >= 0; i--) if (ids.has(this.messages[i]!.messageId)) this.messages.splice(i, 1);
        return;
      }
      case 'dead': {
        const i = at(r.id);
        if (i !== -1) this.deadLetters.push(...this.messages.splice(i, 1));
        return;
      }
    }
  }

  /** The live state as records (what a compacted journal holds). */
  snapshot(): QueueRecord[] {
    return [
      ...this.messages.map((m): QueueRecord => ({ op: 'put', q: this.name, m: { ...m } })),
      ...this.deadLetters.map((m): QueueRecord => ({ op: 'put', q: this.name, m: { ...m }, dead: true })),
    ];
  }

  get inFlight(): number {
    const now = Date.now();
    return this.messages.filter((m) => m.visibleAt > now).length;
  }
}

function logJournalError(err: unknown): void {
  console.error(`queue journal: ${(err as Error).message}`);
}

function toRecord(queue: string, m: StoredMessage): SQSRecord {
  return {
    messageId: m.messageId,
    receiptHandle: `${m.messageId}:${m.receiveCount}`,
    body: m.body,
    attributes: {
      ApproximateReceiveCount: String(m.receiveCount),
      SentTimestamp: String(m.sentAt),
      SenderId: 'local',
      ApproximateFirstReceiveTimestamp: String(m.sentAt),
    },
    messageAttributes: m.correlationId ? { correlationId: { dataType: 'String', stringValue: m.correlationId } } : {},
    md5OfBody: createHash('md5').update(m.body).digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:local:000000000000:${queue}`,
    awsRegion: 'local',
  };
}

export class LocalQueues implements QueueTransport {
  private readonly queues = new Map<QueueName, LocalQueue>();
  private readonly running = new Set<Promise<void>>();
  private stopped = false;
  private readonly wakers = new Set<() => void>();
  private compacting: Promise<void> | undefined;

  constructor(
    private readonly opts: LocalQueueOptions = {},
    private readonly journal: Journal<QueueRecord> = new MemoryJournal(),
    replay: QueueRecord[] = [],
  ) {
    const log = (r: QueueRecord) => this.journal.append(r);
    for (const [name, spec] of Object.entries(QUEUES) as [QueueName, (typeof QUEUES)[QueueName]][]) {
      const visibilityMs = opts.visibilityTimeoutMs ?? ENV_VISIBILITY_MS ?? spec.visibilityTimeoutSeconds * 1000;
      this.queues.set(name, new LocalQueue(name, visibilityMs, spec.maxReceiveCount, opts.delayScale ?? 1, log));
    }
    for (const r of replay) this.queues.get(r.q)?.replay(r);
  }

  /** Queues whose messages survive a kill -9: replayed from `file`, journalled to it. */
  static async durable(file: string, opts: LocalQueueOptions = {}): Promise<LocalQueues> {
    const replayed = new LocalQueues(opts, new MemoryJournal(), readJournal<QueueRecord>(file));
    const journal = await FileJournal.open(file, replayed.snapshot());
    await replayed.stop();
    return new LocalQueues(opts, journal, replayed.snapshot());
  }

  private snapshot(): QueueRecord[] {
    return [...this.queues.values()].flatMap((q) => q.snapshot());
  }

  /** Rewrites the journal to the live messages once it has grown past COMPACT_AFTER_BYTES. */
  private maybeCompact(): void {
    if (this.compacting || this.journal.appendedBytes < COMPACT_AFTER_BYTES) return;
    this.compacting = this.journal
      .compact(this.snapshot())
      .catch(logJournalError)
      .finally(() => (this.compacting = undefined));
  }

  private queue(name: QueueName): LocalQueue {
    const q = this.queues.get(name);
    if (!q) throw new Error(`unknown queue ${name}`);
    return q;
  }

  /** Resolves once every message is stored (durably, when data is kept), as SendMessageBatch
   *  answers only after SQS has stored them. */
  async send(queue: QueueName, messages: OutgoingMessage[]): Promise<void> {
    if (messages.length > 10) throw new Error('SendMessageBatch takes at most 10 messages');
    if (messages.some((m) => (m.delaySeconds ?? 0) < 0 || (m.delaySeconds ?? 0) > 900)) throw new Error('DelaySeconds must be 0..900');
    if (messages.some((m) => Buffer.byteLength(m.body) > 256 * 1024)) throw new Error('message exceeds 256 KiB');
    const q = this.queue(queue);
    const stored = messages.map((m) => q.send(m));
    noteSent(queue, q.messages.slice(-messages.length).map((m) => m.messageId));
    this.wakeAll();
    await Promise.all(stored);
    if (queue === 'fanout') crashPoint('fanout-sent');
    if (messages.some((m) => (m.delaySeconds ?? 0) > 0)) crashPoint('delayed-sent');
  }

  /** Ids of the messages of `queue` never received: jobs that have not started (the crash
   *  hook's checkpoint-saved condition). */
  unstarted(queue: QueueName): string[] {
    return this.queue(queue).messages.filter((m) => m.receiveCount === 0).map((m) => m.messageId);
  }

  private wakeAll(): void {
    for (const wake of this.wakers) wake();
    this.wakers.clear();
  }

  /** Delivers a queue's messages to `consumer` until stop(). */
  consume(queue: QueueName, batchSize: number, consumer: Consumer): void {
    const q = this.queue(queue);
    const concurrency = this.opts.concurrency ?? 4;
    for (let worker = 0; worker < concurrency; worker++) {
      const loop = (async () => {
        while (!this.stopped) {
          const batch = holdsDelivery(queue) ? [] : q.receive(batchSize);
          if (batch.length === 0) {
            await new Promise<void>((resolve) => {
              const wake = () => {
                clearTimeout(t);
                this.wakers.delete(wake);
                resolve();
              };
              const t = setTimeout(wake, this.opts.pollIntervalMs ?? 50);
              this.wakers.add(wake);
            });
            continue;
          }
          if (queue === 'fanout') crashPoint('fanout-received');
          const failed = await this.deliver(queue, batch, consumer);
          await q.delete(new Set(batch.map((m) => m.messageId).filter((id) => !failed.has(id)))).catch(logJournalError);
          this.maybeCompact();
        }
      })();
      this.running.add(loop);
    }
  }

  /** Runs the consumer on one batch; returns the ids to redeliver. */
  private async deliver(queue: QueueName, batch: StoredMessage[], consumer: Consumer): Promise<Set<string>> {
    try {
      const res = (await consumer({ Records: batch.map((m) => toRecord(queue, m)) })) as SQSBatchResponse | undefined;
      return new Set((res?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (err) {
      console.error(`queue ${queue}: batch failed: ${(err as Error).stack ?? err}`);
      return new Set(batch.map((m) => m.messageId));
    }
  }

  /** Messages waiting or in flight, and dead letters, per queue (feedctl and tests). */
  stats(): Record<string, { waiting: number; inFlight: number; deadLetters: number }> {
    const out: Record<string, { waiting: number; inFlight: number; deadLetters: number }> = {};
    for (const [name, q] of this.queues) {
      out[name] = { waiting: q.messages.length - q.inFlight, inFlight: q.inFlight, deadLetters: q.deadLetters.length };
    }
    return out;
  }

  /** Messages still waiting (delayed or visible), for inspection. */
  pending(queue: QueueName): { body: string; delaySeconds: number; visibleAt: number }[] {
    return this.queue(queue).messages.map(({ body, delaySeconds, visibleAt }) => ({ body, delaySeconds, visibleAt }));
  }

  deadLetters(queue: QueueName): { messageId: string; body: string; receiveCount: number }[] {
    return this.queue(queue).deadLetters.map(({ messageId, body, receiveCount }) => ({ messageId, body, receiveCount }));
  }

  /** True when no queue holds a message that is due or in flight; messages sent with a delay
   *  that has not passed yet do not count (used to wait for quiescence). */
  idle(): boolean {
    const now = Date.now();
    return [...this.queues.values()].every((q) => q.messages.every((m) => m.receiveCount === 0 && m.visibleAt > now));
  }

  /** Stops the consumers after their batches in flight, then closes the journal. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeAll();
    await Promise.allSettled(this.running);
    await this.compacting;
    await this.journal.close();
  }
}

