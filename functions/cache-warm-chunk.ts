// CacheWarming task: regenerates the first feed pages of one chunk of users that are no longer
// cached, into both cache tiers (pages still cached are kept current in place already).
import * as z from 'zod';
import { warmMissing } from '../shared/services/home-feed.js';
import { workflowTask } from '../shared/edge/workflow-task.js';

const Input = z.object({ correlationId: z.string().nullable().optional(), users: z.array(z.string()).max(1000) });

export async function warmChunk(input: z.infer<typeof Input>) {
  return { warmed: await warmMissing(input.users) };
}

export const handler = workflowTask(Input, warmChunk);
