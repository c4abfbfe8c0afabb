// Notifications queue → per-recipient accumulators of the open window (idempotent set updates).
import { sqsConsumer } from '../shared/edge/consumers.js';
import { accumulate, NotificationEvent } from '../shared/services/notifications.js';
import { logger } from '../shared/edge/observability.js';

export async function collectRecord(event: NotificationEvent): Promise<void> {
  const stored = await accumulate(event);
  logger.info('notifications collected', { type: event.type, actorId: event.actorId, postId: event.postId, recipients: event.recipients.length, stored });
}

export const handler = sqsConsumer(NotificationEvent, collectRecord);
