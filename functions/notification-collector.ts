// Notifications queue → per-recipient accumulators of the open window (idempotent set updates).
import type { SQSRecord } from 'aws-lambda';
import { sqsConsumer } from '../shared/batch.js';
import { accumulate, NotificationEvent } from '../shared/notifications.js';

export async function collectRecord(record: SQSRecord): Promise<void> {
  await accumulate(NotificationEvent.parse(JSON.parse(record.body)));
}

export const handler = sqsConsumer(collectRecord);
