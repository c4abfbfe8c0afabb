// SQS semantics for the local stack: messages are received in batches, stay invisible for the
// queue's visibility timeout while a consumer works, are deleted when the consumer succeeds, are
// redelivered when it fails (whole batch, or only the items it reports in batchItemFailures), and
// move to the dead-letter queue `<name>-dlq` once received maxReceiveCount times.
import { createHash, randomUUID } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { OutgoingMessage, QueueTransport } from '../messaging/queue.js';
import { dlqName, QUEUES, type QueueName } from '../declarations/event-sources.js';

interface StoredMessage {
  messageId: string;
  body: string;
  correlationId?: string;
  delaySeconds: number;
  sentAt: number;
  receiveCount: number;
  visibleAt: number;
}

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
  ) {}

  send(m: OutgoingMessage): void {
    const visibleAt = m.delaySeconds ? Date.now() + m.delaySeconds * 1000 * this.delayScale : 0;
    this.messages.push({ messageId: randomUUID(), body: m.body, correlationId: m.correlationId, delaySeconds: m.delaySeconds ?? 0, sentAt: Date.now(), receiveCount: 0, visibleAt });
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
        continue;
      }
      m.receiveCount++;
      m.visibleAt = now + this.visibilityMs;
      batch.push(m);
      i++;
    }
    return batch;
  }

  delete(ids: Set<string>): void {
    for (let i = this.messages.length - 1; i >= 0; i--) if (ids.has(this.messages[i]!.messageId)) this.messages.splice(i, 1);
  }

  get inFlight(): number {
    const now = Date.now();
    return this.messages.filter((m) => m.visibleAt > now).length;
  }
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

  constructor(private readonly opts: LocalQueueOptions = {}) {
    for (const [name, spec] of Object.entries(QUEUES) as [QueueName, (typeof QUEUES)[QueueName]][]) {
      this.queues.set(name, new LocalQueue(name, opts.visibilityTimeoutMs ?? spec.visibilityTimeoutSeconds * 1000, spec.maxReceiveCount, opts.delayScale ?? 1));
    }
  }

  private queue(name: QueueName): LocalQueue {
    const q = this.queues.get(name);
    if (!q) throw new Error(`unknown queue ${name}`);
    return q;
  }

  async send(queue: QueueName, messages: OutgoingMessage[]): Promise<void> {
    if (messages.length > 10) throw new Error('SendMessageBatch takes at most 10 messages');
    if (messages.some((m) => (m.delaySeconds ?? 0) < 0 || (m.delaySeconds ?? 0) > 900)) throw new Error('DelaySeconds must be 0..900');
    if (messages.some((m) => Buffer.byteLength(m.body) > 256 * 1024)) throw new Error('message exceeds 256 KiB');
    const q = this.queue(queue);
    for (const m of messages) q.send(m);
    this.wakeAll();
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
          const batch = q.receive(batchSize);
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
          const failed = await this.deliver(queue, batch, consumer);
          q.delete(new Set(batch.map((m) => m.messageId).filter((id) => !failed.has(id))));
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

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeAll();
    await Promise.allSettled(this.running);
  }
}

