// Queue and stream consumers: records are processed one by one (in order, so each record's log
// lines carry its own correlation id) and failures are reported per record, so only the failed
// messages are redelivered (SQS) or retried from the failed record (streams). Every invocation
// logs as JSON and flushes its metrics (shared/edge/observability.ts).
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import middy from '@middy/core';
import type { Context, DynamoDBRecord, DynamoDBStreamEvent, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { logger, logging, metering } from './observability.js';

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

/** An SQS consumer; the sender's correlation id travels as the `correlationId` attribute. */
export function sqsConsumer(work: (record: SQSRecord) => Promise<unknown>): Middy<SQSEvent> {
  return consumer<SQSEvent, SQSRecord>(EventType.SQS, (r) => r.messageAttributes?.correlationId?.stringValue, work);
}

/** A DynamoDB Streams consumer; the writer's correlation id travels as the item's
 *  `correlationId` attribute (new image, or old image for removals). */
export function streamConsumer(work: (record: DynamoDBRecord) => Promise<unknown>): Middy<DynamoDBStreamEvent> {
  return consumer<DynamoDBStreamEvent, DynamoDBRecord>(
    EventType.DynamoDBStreams,
    (r) => (r.dynamodb?.NewImage ?? r.dynamodb?.OldImage)?.correlationId?.S,
    work,
  );
}
