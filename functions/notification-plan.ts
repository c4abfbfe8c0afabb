// BatchedNotification task: picks the window that just closed and lists the shards to compose.
import * as z from 'zod';
import { config } from '../shared/edge/config.js';
import { notificationShards, windowOf } from '../shared/services/notifications.js';
import { workflowTask } from '../shared/edge/workflow-task.js';

const Input = z.object({ correlationId: z.string().nullable().optional(), windowStart: z.number().int().optional() });

export async function planDigests(input: z.infer<typeof Input>) {
  const now = Math.floor(Date.now() / 1000);
  const windowStart = input.windowStart ?? windowOf(now) - config().FEED_NOTIFICATION_WINDOW_SECONDS;
  return {
    correlationId: input.correlationId ?? null,
    windowStart,
    shards: await notificationShards(),
  };
}

export const handler = workflowTask(Input, planDigests);
