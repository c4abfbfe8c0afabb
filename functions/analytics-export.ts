// Every shard table's stream → the analytics store of the row's residency zone (shared/services/
// analytics.ts). A batch's rows are delivered together after the last record is read; if that
// fails the whole invocation fails, and the mapping retries the batch (bisecting it), then sends
// it to the stream-failure queue. Redelivered rows carry the same event ids and count once.
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type middy from '@middy/core';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import * as z from 'zod';
import { MalformedRecordError, streamConsumer, type StreamChange } from '../shared/edge/consumers.js';
import { logger } from '../shared/edge/observability.js';
import { ExportBatch } from '../shared/services/analytics.js';
import { tableOfStreamArn } from '../shared/domain/analytics-events.js';
import { serviceChange } from '../shared/services/stream-changes.js';

/** Any item of any table: the store keeps the image as it is. */
export const AnyImage = z.record(z.string(), z.unknown());

// Each invocation's batch, found from its records' event ids (the local stack runs invocations
// of one function concurrently, as Lambda's multi-concurrency mode may).
const batches = new Map<string, ExportBatch>();

export async function exportRecord(change: StreamChange<z.infer<typeof AnyImage>>, record: DynamoDBRecord): Promise<void> {
  const table = tableOfStreamArn(record.eventSourceARN ?? '');
  const sequenceNumber = record.dynamodb?.SequenceNumber;
  if (!table || !sequenceNumber || !record.dynamodb?.Keys) throw new MalformedRecordError(`stream record ${record.eventID} has no table, sequence number or keys`);
  const batch = batches.get(record.eventID ?? '');
  if (!batch) throw new Error(`stream record ${record.eventID} arrived outside its invocation`);
  batch.add({
    table,
    sequenceNumber,
    eventName: change.eventName,
    ...createdMs(record.dynamodb.ApproximateCreationDateTime as unknown),
    keys: unmarshall(record.dynamodb.Keys as Record<string, AttributeValue>),
    ...(change.newImage && { newImage: change.newImage }),
  });
}

/** Lambda's event carries epoch seconds; records read through the SDK (the local stack's
 *  poller) carry a Date. */
function createdMs(value: unknown): { createdMs?: number } {
  if (value instanceof Date) return { createdMs: value.getTime() };
  if (typeof value === 'number') return { createdMs: Math.round(value * 1000) };
  return {};
}

const release = (event: DynamoDBStreamEvent) => {
  for (const r of event.Records) batches.delete(r.eventID ?? '');
};

const deliverBatch: middy.MiddlewareObj<DynamoDBStreamEvent> = {
  before: ({ event }) => {
    const batch = new ExportBatch();
    for (const r of event.Records) batches.set(r.eventID ?? '', batch);
  },
  after: async ({ event }) => {
    const batch = batches.get(event.Records[0]?.eventID ?? '');
    release(event);
    if (!batch) return;
    const { delivered } = await batch.flush();
    const lagMs = Math.max(0, ...batch.rows.map((r) => r.exported_ms - r.ts_ms));
    logger.info('analytics exported', { delivered, skipped: batch.skipped, lagMs });
  },
  onError: ({ event }) => release(event),
};

export const handler = streamConsumer(AnyImage, exportRecord, serviceChange).use(deliverBatch as never);
