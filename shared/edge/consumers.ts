// Queue and stream consumers: records are processed one by one (in order, so each record's log
// lines carry its own correlation id) and failures are reported per record, so only the failed
// messages are redelivered (SQS) or retried from the failed record (streams). Each message body
// or stream image is parsed by the consumer's zod schema before the work sees it. Every
// invocation logs as JSON and flushes its metrics (shared/edge/observability.ts).
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import middy from '@middy/core';
import type { Context, DynamoDBRecord, DynamoDBStreamEvent, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import { logger, logging, metering } from './observability.js';

/** A record whose body or image does not fit its schema: retrying cannot fix it. It is still
 *  reported as a batch item failure, never dropped: after its retries it reaches the queue's DLQ
 *  (or the stream's on-failure destination), where it can be inspected and replayed once the
 *  producer or the schema is fixed; dropping it would silently lose a post's fan-out. */
export class MalformedRecordError extends Error {
  override name = 'MalformedRecordError';
}

function parseRecord<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new MalformedRecordError(`${what} does not fit its schema: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

type Middy<E> = middy.MiddyfiedHandler<E, SQSBatchResponse, Error, Context>;

function consumer<E extends { Records: R[] }, R>(
  type: (typeof EventType)[keyof typeof EventType],
  correlationOf: (record: R) => string | undefined,
  work: (record: R) => Promise<unknown>,
): Middy<E> {
  const perRecord = async (record: R) => {
    // Set for every record, also to nothing: a record without an id must not inherit the
    // previous record's.
    logger.setCorrelationId(correlationOf(record));
    try {
      return await work(record);
    } catch (err) {
      logger.error('record failed', err as Error);
      throw err;
    }
  };
  return middy<E, SQSBatchResponse, Error, Context>()
    .use(logging() as middy.MiddlewareObj<E, SQSBatchResponse>)
    .use(metering() as middy.MiddlewareObj<E, SQSBatchResponse>)
    // A processor per invocation: it keeps per-invocation state, and under Lambda's
    // multi-concurrency mode that state may only be created inside an invocation.
    .handler(async (event, context) =>
      processPartialResponse(event as never, perRecord as never, new BatchProcessor(type), {
        context,
        processInParallel: false,
      }),
    );
}

/** An SQS consumer of JSON messages parsed by `schema`; the sender's correlation id travels as
 *  the `correlationId` attribute. */
export function sqsConsumer<S extends z.ZodType>(
  schema: S,
  work: (body: z.infer<S>, record: SQSRecord) => Promise<unknown>,
): Middy<SQSEvent> {
  return consumer<SQSEvent, SQSRecord>(EventType.SQS, (r) => r.messageAttributes?.correlationId?.stringValue, async (record) => {
    let json: unknown;
    try {
      json = JSON.parse(record.body);
    } catch {
      throw new MalformedRecordError(`message ${record.messageId} is not JSON`);
    }
    return work(parseRecord(schema, json, `message ${record.messageId}`), record);
  });
}

/** A stream record's change with its images unmarshalled and parsed (absent when the stream
 *  record carries none: no NewImage on REMOVE, no OldImage on INSERT). */
export interface StreamChange<T> {
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  newImage?: T;
  oldImage?: T;
}

/** A DynamoDB Streams consumer whose images are parsed by `schema`; the writer's correlation id
 *  travels as the item's `correlationId` attribute (new image, or old image for removals).
 *  `view` gives each record as the consumer is to see it, or undefined for one it skips (a
 *  reshard's copies: shared/services/stream-changes.ts). */
export function streamConsumer<S extends z.ZodType>(
  schema: S,
  work: (change: StreamChange<z.infer<S>>, record: DynamoDBRecord) => Promise<unknown>,
  view: (record: DynamoDBRecord) => Promise<DynamoDBRecord | undefined>,
): Middy<DynamoDBStreamEvent> {
  const image = (raw: unknown, what: string) =>
    raw === undefined ? undefined : parseRecord(schema, unmarshall(raw as Record<string, AttributeValue>), what);
  return consumer<DynamoDBStreamEvent, DynamoDBRecord>(
    EventType.DynamoDBStreams,
    (r) => (r.dynamodb?.NewImage ?? r.dynamodb?.OldImage)?.correlationId?.S,
    async (received) => {
      const record = await view(received);
      if (!record) return undefined;
      const eventName = record.eventName;
      if (!eventName) throw new MalformedRecordError(`stream record ${record.eventID} has no eventName`);
      const change: StreamChange<z.infer<S>> = { eventName };
      const newImage = image(record.dynamodb?.NewImage, `new image of ${record.eventID}`);
      const oldImage = image(record.dynamodb?.OldImage, `old image of ${record.eventID}`);
      if (newImage !== undefined) change.newImage = newImage;
      if (oldImage !== undefined) change.oldImage = oldImage;
      return work(change, record);
    },
  );
}
