// The queue and stream edges (shared/edge/consumers.ts): message bodies and stream images reach the
// work parsed by the consumer's schema, and a record that does not fit is reported as a batch item
// failure (so it reaches the DLQ) while the rest of the batch is processed; a workflow Task's input
// that does not fit is a named, non-retryable error.
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { sqsConsumer, streamConsumer, type StreamChange } from '../../shared/edge/consumers.js';
import { logger } from '../../shared/edge/observability.js';
import { workflowTask } from '../../shared/edge/workflow-task.js';
import { routePostRecord } from '../../functions/post-router.js';
import { invokeLambda } from '../support/fixtures-lambda.js';

const Job = z.strictObject({ postId: z.string(), followers: z.array(z.string()).min(1) });

const message = (messageId: string, body: string) =>
  ({ messageId, body, messageAttributes: {}, eventSource: 'aws:sqs' }) as unknown as SQSRecord;

function streamRecord(eventID: string, eventName: 'INSERT' | 'MODIFY' | 'REMOVE', images: { newImage?: object; oldImage?: object }): DynamoDBRecord {
  return {
    eventID,
    eventName,
    eventSource: 'aws:dynamodb',
    dynamodb: {
      SequenceNumber: eventID,
      ...(images.newImage && { NewImage: marshall(images.newImage) }),
      ...(images.oldImage && { OldImage: marshall(images.oldImage) }),
    },
  } as unknown as DynamoDBRecord;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('sqsConsumer', () => {
  it('hands the work each message body parsed by the schema', async () => {
    const seen: z.infer<typeof Job>[] = [];
    const consumer = sqsConsumer(Job, async (job) => {
      seen.push(job);
    });

    const res = await invokeLambda(consumer, { Records: [message('m1', '{"postId":"p1","followers":["a","b"]}')] } as never);

    expect(res.batchItemFailures).toEqual([]);
    expect(seen).toEqual([{ postId: 'p1', followers: ['a', 'b'] }]);
  });

  it('reports a body that is not JSON or does not fit the schema as failed, without running the work, and processes the rest', async () => {
    const errors = vi.spyOn(logger, 'error').mockImplementation(() => {});
    const seen: string[] = [];
    const consumer = sqsConsumer(Job, async (job) => {
      seen.push(job.postId);
    });
    const records = [
      message('bad-json', '{"postId":'),
      message('ok', '{"postId":"p2","followers":["a"]}'),
      message('bad-shape', '{"postId":"p3","followers":[]}'),
      message('unknown-field', '{"postId":"p4","followers":["a"],"extra":1}'),
    ];

    const res = await invokeLambda(consumer, { Records: records } as never);

    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'bad-json' }, { itemIdentifier: 'bad-shape' }, { itemIdentifier: 'unknown-field' }]);
    expect(seen).toEqual(['p2']);
    expect(errors.mock.calls.map(([, err]) => (err as Error).name)).toEqual(['MalformedRecordError', 'MalformedRecordError', 'MalformedRecordError']);
  });
});

describe('streamConsumer', () => {
  const Row = z.object({ id: z.string(), n: z.number() });

  it('hands the work the unmarshalled images parsed by the schema, extra attributes stripped', async () => {
    const seen: StreamChange<z.infer<typeof Row>>[] = [];
    const consumer = streamConsumer(
      Row,
      async (change) => {
        seen.push(change);
      },
      async (r) => r,
    );
    const records = [
      streamRecord('1', 'INSERT', { newImage: { id: 'a', n: 1, correlationId: 'c1' } }),
      streamRecord('2', 'MODIFY', { newImage: { id: 'a', n: 2 }, oldImage: { id: 'a', n: 1 } }),
      streamRecord('3', 'REMOVE', { oldImage: { id: 'a', n: 2 } }),
    ];

    const res = await invokeLambda(consumer, { Records: records } as never);

    expect(res.batchItemFailures).toEqual([]);
    expect(seen).toEqual([
      { eventName: 'INSERT', newImage: { id: 'a', n: 1 } },
      { eventName: 'MODIFY', newImage: { id: 'a', n: 2 }, oldImage: { id: 'a', n: 1 } },
      { eventName: 'REMOVE', oldImage: { id: 'a', n: 2 } },
    ]);
  });

  it('reports a record whose image does not fit the schema as failed, without running the work', async () => {
    vi.spyOn(logger, 'error').mockImplementation(() => {});
    const seen: string[] = [];
    const consumer = streamConsumer(
      Row,
      async (change) => {
        seen.push(change.newImage!.id);
      },
      async (r) => r,
    );
    const records = [streamRecord('1', 'INSERT', { newImage: { id: 'a', n: 'one' } }), streamRecord('2', 'INSERT', { newImage: { id: 'b', n: 2 } })];

    const res = await invokeLambda(consumer, { Records: records } as never);

    expect(res.batchItemFailures).toEqual([{ itemIdentifier: '1' }]);
    expect(seen).toEqual(['b']);
  });

  it('skips a record its view leaves out, without failing it', async () => {
    const seen: string[] = [];
    const consumer = streamConsumer(
      Row,
      async (change) => {
        seen.push(change.newImage!.id);
      },
      async (r) => (r.eventID === '1' ? undefined : r),
    );
    const records = [streamRecord('1', 'INSERT', { newImage: { id: 'a', n: 1 } }), streamRecord('2', 'INSERT', { newImage: { id: 'b', n: 2 } })];

    const res = await invokeLambda(consumer, { Records: records } as never);

    expect(res.batchItemFailures).toEqual([]);
    expect(seen).toEqual(['b']);
  });
});

describe('post-router', () => {
  it('routes nothing for a modified post image', async () => {
    // A MODIFY carries both images; routing either would re-fan-out an existing post.
    const post = { postId: '0AAAAAAAAAAAA', authorId: '0AAAAAAAAAAAB', content: 'x', createdAt: '2026-01-01T00:00:00.000Z' };
    await expect(routePostRecord({ eventName: 'MODIFY', newImage: post, oldImage: post })).resolves.toBeUndefined();
  });
});

describe('workflowTask', () => {
  it('refuses an input that does not fit its schema with a named InvalidTaskInput error, without running the work', async () => {
    vi.spyOn(logger, 'error').mockImplementation(() => {});
    const seen: unknown[] = [];
    const task = workflowTask(z.strictObject({ authorId: z.string() }), async (input) => {
      seen.push(input);
    });

    const failure = await invokeLambda(task, { authorId: 7 }).catch((err: unknown) => err as Error);

    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).name).toBe('InvalidTaskInput');
    expect((failure as Error).message).toContain('authorId');
    expect(seen).toEqual([]);
  });
});
