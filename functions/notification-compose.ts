// BatchedNotification task: composes one page of a shard's digests for a closed window.
import * as z from 'zod';
import { composeDigests } from '../shared/services/notifications.js';
import { workflowTask } from '../shared/edge/workflow-task.js';

const Input = z.object({
  windowStart: z.number().int(),
  shard: z.number().int().min(0),
  correlationId: z.string().nullable().optional(),
  next: z.object({ bucket: z.number().int().min(0), after: z.string().optional() }).nullable().optional(),
});

export async function composeShard(input: z.infer<typeof Input>) {
  const { next, digests } = await composeDigests(input.windowStart, input.shard, input.next ?? undefined);
  return { windowStart: input.windowStart, shard: input.shard, correlationId: input.correlationId ?? null, next, digests };
}

export const handler = workflowTask(Input, composeShard);
