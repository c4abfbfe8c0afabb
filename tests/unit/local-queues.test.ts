// The local stack's SQS semantics (shared/local/queues.ts): batches, deletion on success,
// redelivery after the visibility timeout (the whole batch, or only reported failures), the
// dead-letter queue after maxReceiveCount receives, and SendMessageBatch's limits.
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { QUEUES } from '../../shared/declarations/event-sources.js';
import { LocalQueues, type Consumer, type LocalQueueOptions } from '../../shared/local/queues.js';
import { holdsFor, until } from '../support/fixtures-wait.js';

const VISIBILITY_MS = 100;

interface Delivery {
  at: number;
  records: SQSRecord[];
}

let queues: LocalQueues[] = [];
function localQueues(opts: LocalQueueOptions = {}): LocalQueues {
  const q = new LocalQueues({ visibilityTimeoutMs: VISIBILITY_MS, pollIntervalMs: 10, ...opts });
  queues.push(q);
  return q;
}

/** Wraps a consumer so every batch it receives is recorded with its time. */
function recorded(consumer: Consumer = async () => undefined): { deliveries: Delivery[]; consumer: Consumer } {
  const deliveries: Delivery[] = [];
  return {
    deliveries,
    consumer: async (event: SQSEvent) => {
      deliveries.push({ at: Date.now(), records: event.Records });
      return consumer(event);
    },
  };
}

const bodiesOf = (deliveries: Delivery[]) => deliveries.flatMap((d) => d.records.map((r) => r.body));
const countOf = (deliveries: Delivery[], body: string) => bodiesOf(deliveries).filter((b) => b === body).length;
const messages = (...bodies: string[]) => bodies.map((body) => ({ body }));

beforeEach(() => {
  // The queues log failed batches to stderr; the tests provoke them on purpose.
  vi.spyOn(console, 'error').mockImplementation(() => {});
});

afterEach(async () => {
  await Promise.all(queues.map((q) => q.stop()));
  queues = [];
  vi.restoreAllMocks();
});

describe('LocalQueues', () => {
  it('delivers batches no larger than the batch size, every message once', async () => {
    const q = localQueues({ concurrency: 3 });
    const { deliveries, consumer } = recorded();
    const sent = Array.from({ length: 25 }, (_, i) => `m${i}`);
    for (let i = 0; i < sent.length; i += 10) await q.send('fanout', messages(...sent.slice(i, i + 10)));
    q.consume('fanout', 4, consumer);

    await until(() => bodiesOf(deliveries).length >= sent.length && q.idle(), { what: 'all 25 messages delivered' });

    for (const d of deliveries) {
      expect(d.records.length).toBeGreaterThan(0);
      expect(d.records.length).toBeLessThanOrEqual(4);
    }
    expect(bodiesOf(deliveries).sort()).toEqual([...sent].sort());
  });

  it('deletes a batch its consumer handled without error', async () => {
    const q = localQueues();
    const { deliveries, consumer } = recorded();
    await q.send('fanout', messages('a', 'b', 'c'));
    q.consume('fanout', 10, consumer);

    await until(() => q.idle(), { what: 'queue empty' });

    expect(q.stats().fanout).toEqual({ waiting: 0, inFlight: 0, deadLetters: 0 });
    await holdsFor(() => bodiesOf(deliveries).length === 3, 3 * VISIBILITY_MS, 'no redelivery after the visibility timeout');
  });

  it('redelivers the whole batch after the visibility timeout when the consumer throws, and not before', async () => {
    const q = localQueues();
    let calls = 0;
    const { deliveries, consumer } = recorded(async () => {
      if (++calls === 1) throw new Error('consumer crashed');
    });
    await q.send('fanout', messages('a', 'b', 'c'));
    q.consume('fanout', 10, consumer);

    await until(() => deliveries.length >= 2 && q.idle(), { what: 'the failed batch redelivered and handled' });

    const [first, second] = deliveries;
    expect(first!.records.map((r) => r.body).sort()).toEqual(['a', 'b', 'c']);
    expect(second!.records.map((r) => r.body).sort()).toEqual(['a', 'b', 'c']);
    expect(second!.records.map((r) => r.messageId).sort()).toEqual(first!.records.map((r) => r.messageId).sort());
    // Invisible for the timeout from the receive, which happens just before the first call.
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(VISIBILITY_MS - 2);
    expect(deliveries).toHaveLength(2);
  });

  it('redelivers only the items a consumer reports in batchItemFailures', async () => {
    const q = localQueues();
    let failedOnce = false;
    const { deliveries, consumer } = recorded(async (event) => {
      const bad = event.Records.find((r) => r.body === 'b');
      if (bad && !failedOnce) {
        failedOnce = true;
        return { batchItemFailures: [{ itemIdentifier: bad.messageId }] };
      }
      return { batchItemFailures: [] };
    });
    await q.send('fanout', messages('a', 'b', 'c', 'd'));
    q.consume('fanout', 10, consumer);

    await until(() => countOf(deliveries, 'b') === 2 && q.idle(), { what: 'b redelivered' });

    expect(deliveries).toHaveLength(2);
    expect(deliveries[1]!.records.map((r) => r.body)).toEqual(['b']);
    for (const body of ['a', 'c', 'd']) expect(countOf(deliveries, body), body).toBe(1);
    expect(deliveries[1]!.at - deliveries[0]!.at).toBeGreaterThanOrEqual(VISIBILITY_MS - 2);
  });

  it(`moves a message that failed maxReceiveCount (${QUEUES.fanout.maxReceiveCount}) times to the dead-letter queue and stops delivering it`, async () => {
    const max = QUEUES.fanout.maxReceiveCount;
    expect(max).toBe(5);
    const q = localQueues();
    const receiveCounts: string[] = [];
    const { deliveries, consumer } = recorded(async (event) => ({
      batchItemFailures: event.Records.filter((r) => r.body === 'poison').map((r) => {
        receiveCounts.push(r.attributes.ApproximateReceiveCount);
        return { itemIdentifier: r.messageId };
      }),
    }));
    await q.send('fanout', messages('poison', 'fine'));
    q.consume('fanout', 10, consumer);

    const dead = await until(() => q.deadLetters('fanout').length > 0 && q.deadLetters('fanout'), {
      timeoutMs: 5_000,
      what: 'the poison message in the dead-letter queue',
    });

    expect(dead).toEqual([{ messageId: expect.any(String), body: 'poison', receiveCount: max }]);
    expect(countOf(deliveries, 'poison')).toBe(max);
    expect(countOf(deliveries, 'fine')).toBe(1);
    expect(receiveCounts).toEqual(['1', '2', '3', '4', '5']);
    expect(q.stats().fanout).toEqual({ waiting: 0, inFlight: 0, deadLetters: 1 });
    await holdsFor(() => countOf(deliveries, 'poison') === max, 3 * VISIBILITY_MS, 'no delivery after dead-lettering');
  });

  it('counts receives in ApproximateReceiveCount', async () => {
    const q = localQueues();
    let calls = 0;
    const { deliveries, consumer } = recorded(async () => {
      if (++calls < 3) throw new Error('not yet');
    });
    await q.send('fanout', messages('x'));
    q.consume('fanout', 10, consumer);

    await until(() => deliveries.length === 3 && q.idle(), { what: 'three receives' });

    expect(deliveries.map((d) => d.records[0]!.attributes.ApproximateReceiveCount)).toEqual(['1', '2', '3']);
  });

  it('carries the correlation id as messageAttributes.correlationId.stringValue', async () => {
    const q = localQueues();
    const { deliveries, consumer } = recorded();
    await q.send('fanout', [{ body: 'with', correlationId: 'req-42' }, { body: 'without' }]);
    q.consume('fanout', 10, consumer);

    await until(() => bodiesOf(deliveries).length === 2, { what: 'both messages' });

    const records = deliveries.flatMap((d) => d.records);
    const withId = records.find((r) => r.body === 'with')!;
    const withoutId = records.find((r) => r.body === 'without')!;
    expect(withId.messageAttributes.correlationId).toEqual({ dataType: 'String', stringValue: 'req-42' });
    expect(withoutId.messageAttributes.correlationId).toBeUndefined();
  });

  it('builds SQS records with distinct ids, the body’s MD5 and the queue’s ARN', async () => {
    const q = localQueues();
    const { deliveries, consumer } = recorded();
    await q.send('fanout', messages('hello', 'hello'));
    q.consume('fanout', 10, consumer);

    await until(() => bodiesOf(deliveries).length === 2, { what: 'both messages' });

    const [a, b] = deliveries.flatMap((d) => d.records);
    expect(a!.messageId).not.toBe(b!.messageId);
    expect(a!.md5OfBody).toBe('5d41402abc4b2a76b9719d911017c592');
    expect(a!.eventSource).toBe('aws:sqs');
    expect(a!.eventSourceARN).toMatch(/:fanout$/);
  });

  it('refuses more than 10 messages in one send and enqueues none of them', async () => {
    const q = localQueues();
    await expect(q.send('fanout', messages(...Array.from({ length: 11 }, (_, i) => `m${i}`)))).rejects.toThrow(/10/);
    expect(q.stats().fanout!.waiting).toBe(0);
    await expect(q.send('fanout', messages(...Array.from({ length: 10 }, (_, i) => `m${i}`)))).resolves.toBeUndefined();
    expect(q.stats().fanout!.waiting).toBe(10);
  });

  it('refuses a body over 256 KiB and accepts one of exactly 256 KiB', async () => {
    const q = localQueues();
    await expect(q.send('fanout', messages('x'.repeat(256 * 1024 + 1)))).rejects.toThrow(/256 KiB/);
    // Bytes, not characters: 100,000 three-byte characters are 300,000 bytes.
    await expect(q.send('fanout', messages('€'.repeat(100_000)))).rejects.toThrow(/256 KiB/);
    expect(q.stats().fanout!.waiting).toBe(0);
    await q.send('fanout', messages('x'.repeat(256 * 1024)));
    expect(q.stats().fanout!.waiting).toBe(1);
  });

  it('refuses a batch holding an oversized body as a whole, enqueuing none of its messages', async () => {
    const q = localQueues();
    await expect(q.send('fanout', messages('small', 'x'.repeat(256 * 1024 + 1)))).rejects.toThrow(/256 KiB/);
    expect(q.stats().fanout!.waiting).toBe(0);
  });

  it('stop() waits for the batch in flight, then no worker receives again', async () => {
    const q = localQueues();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { deliveries, consumer } = recorded(() => gate);
    await q.send('fanout', messages('first'));
    q.consume('fanout', 10, consumer);
    await until(() => deliveries.length === 1, { what: 'the first batch in flight' });

    let stopped = false;
    const stopping = q.stop().then(() => (stopped = true));
    await holdsFor(() => !stopped, 50, 'stop() pending while a batch is in flight');
    release();
    await stopping;

    expect(q.stats().fanout).toEqual({ waiting: 0, inFlight: 0, deadLetters: 0 });
    await q.send('fanout', messages('after-stop'));
    await holdsFor(() => deliveries.length === 1 && q.stats().fanout!.waiting === 1, 5 * 10 + VISIBILITY_MS, 'nothing delivered after stop()');
  });
});
