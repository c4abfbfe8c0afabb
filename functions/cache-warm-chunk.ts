// CacheWarming task: regenerates one chunk of users' first feed pages into both cache tiers.
import * as z from 'zod';
import { warmFeeds } from '../shared/services/home-feed.js';
import { workflowTask } from '../shared/edge/workflow-task.js';

const Input = z.object({ correlationId: z.string().nullable().optional(), users: z.array(z.string()).max(1000) });

export async function warmChunk(input: z.infer<typeof Input>) {
  return { warmed: await warmFeeds(input.users) };
}

export const handler = workflowTask(Input, warmChunk);
