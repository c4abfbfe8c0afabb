// Notifications queue → per-recipient accumulators of the open window (idempotent set updates).
import type { SQSRecord } from 'aws-lambda';
import { sqsConsumer } from '../shared/edge/consumers.js';
import { accumulate, NotificationEvent } from '../shared/services/notifications.js';
import { logger } from '../shared/edge/observability.js';

export async function collectRecord(record: SQSRecord): Promise<void> {
  const event = NotificationEvent.parse(JSON.parse(record.body));
  const stored = await accumulate(event);
  logger.info('notifications collected', { type: event.type, actorId: event.actorId, postId: event.postId, recipients: event.recipients.length, stored });
}

export const handler = sqsConsumer(collectRecord);
