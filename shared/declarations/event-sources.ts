// Queues and event-source mappings: which stream or queue feeds which function, with batch sizes,
// retries and dead-letter queues. stacks/ creates the queues and Lambda mappings from this; the
// local stack polls the same streams and delivers queue messages with the same settings.
import type { FunctionName } from './functions.js';
import type { Entity } from './tables.js';

export interface QueueSpec {
  /** Longer than the consumer's timeout × 2, as AWS recommends for Lambda consumers. */
  visibilityTimeoutSeconds: number;
  /** Receives before a message moves to the queue's dead-letter queue `<name>-dlq`. */
  maxReceiveCount: number;
  retentionSeconds: number;
}

export const QUEUES = {
  /** Fan-out jobs: one page of followers of one post each. */
  fanout: { visibilityTimeoutSeconds: 180, maxReceiveCount: 5, retentionSeconds: 4 * 24 * 3600 },
  /** Notification events (new follower, new post by a followed author) for the digests. */
  notifications: { visibilityTimeoutSeconds: 180, maxReceiveCount: 5, retentionSeconds: 4 * 24 * 3600 },
} satisfies Record<string, QueueSpec>;
export type QueueName = keyof typeof QUEUES;
export const dlqName = (queue: string) => `${queue}-dlq`;

/** Where stream records go after their retries are spent (a queue nobody consumes, alarmed). */
export const STREAM_FAILURE_QUEUE = 'stream-failures';

export type Mapping =
  | {
      kind: 'stream';
      entity: Entity;
      fn: FunctionName;
      batchSize: number;
      maxRetries: number;
      bisectOnError: boolean;
      startingPosition: 'TRIM_HORIZON' | 'LATEST';
      /** AWS only: the stream events delivered (an event-source filter); the others never
       *  invoke the function. Must include every event the handler acts on. */
      eventNames: readonly ('INSERT' | 'MODIFY' | 'REMOVE')[];
    }
  | {
      kind: 'queue';
      queue: QueueName;
      fn: FunctionName;
      batchSize: number;
      maxBatchingWindowSeconds: number;
      /** AWS only: the most concurrent invocations the mapping's pollers start (scaling config,
       *  2-1000); at most the function's reserved concurrency, so messages wait in the queue
       *  instead of being throttled (a throttled receive still counts toward maxReceiveCount). */
      maxConcurrency: number;
    };

/** Every table kind is exported to analytics but the directory: its cards and counters are public
 *  copies of what the users and follows tables export. */
const ANALYTICS_ENTITIES: readonly Entity[] = ['users', 'follows', 'posts', 'feeds', 'notifications'];

export const MAPPINGS: readonly Mapping[] = [
  // A stream batch is retried from the failed record; bisecting isolates a poison record and
  // after 10 retries it goes to STREAM_FAILURE_QUEUE instead of blocking its shard.
  // post-router acts on new posts (INSERT, NewImage) and deletions (REMOVE, OldImage) only.
  { kind: 'stream', entity: 'posts', fn: 'post-router', batchSize: 100, maxRetries: 10, bisectOnError: true, startingPosition: 'TRIM_HORIZON', eventNames: ['INSERT', 'REMOVE'] },
  // The analytics export reads every table's stream (inserts, updates and deletes alike): 500
  // records are one Firehose PutRecordBatch; a failed batch is retried whole, bisected, then
  // dead-lettered, and since it has its own mappings a lagging export never delays fan-out.
  ...ANALYTICS_ENTITIES.map(
    (entity): Mapping => ({ kind: 'stream', entity, fn: 'analytics-export', batchSize: 500, maxRetries: 10, bisectOnError: true, startingPosition: 'TRIM_HORIZON', eventNames: ['INSERT', 'MODIFY', 'REMOVE'] }),
  ),
  // 10 jobs × 500 followers = 5,000 entries, ~200 BatchWriteItem calls: well inside 60 s.
  { kind: 'queue', queue: 'fanout', fn: 'fan-out-worker', batchSize: 10, maxBatchingWindowSeconds: 0, maxConcurrency: 200 },
  // A message holds up to 500 recipients: 10 messages = 5,000 conditional updates per batch.
  { kind: 'queue', queue: 'notifications', fn: 'notification-collector', batchSize: 10, maxBatchingWindowSeconds: 1, maxConcurrency: 50 },
];
