// CacheWarming task: a page of users active in the last hour, in chunks for the warming Map.
import * as z from 'zod';
import { workflowTask } from '../shared/edge/workflow-task.js';
import { readersToWarm } from '../shared/services/warm-readers.js';
import { WARM_CHUNK, WARM_CHUNKS_PER_PAGE } from '../workflows/cache-warming.js';

const Input = z.object({
  correlationId: z.string().nullable().optional(),
  next: z.object({ score: z.number(), userId: z.string() }).nullable().optional(),
  pages: z.number().int().min(0).optional(),
});

export async function listActiveUsers(input: z.infer<typeof Input>) {
  const { chunks, next } = await readersToWarm(WARM_CHUNK, WARM_CHUNKS_PER_PAGE, input.next ?? undefined);
  return { correlationId: input.correlationId ?? null, chunks, next: next ?? null, pages: (input.pages ?? 0) + 1 };
}

export const handler = workflowTask(Input, listActiveUsers);
