// CelebrityFanout task: one page of the author's recently active followers (the index's buckets
// read in parallel, merged in id order), split into chunks for the throttled Map that pushes them.
import * as z from 'zod';
import { FanoutPlan } from '../shared/domain/celebrity-fanout-state.js';
import { activeFollowerPage } from '../shared/services/follows.js';
import { servedHere } from '../shared/services/users.js';
import { FANOUT_JOB_FOLLOWERS } from '../shared/domain/limits.js';
import { logger } from '../shared/edge/observability.js';
import { workflowTask } from '../shared/edge/workflow-task.js';
import { CHUNKS_PER_PAGE } from '../workflows/celebrity-fanout.js';

export async function listActiveFollowers(input: z.infer<typeof FanoutPlan>) {
  const page = await activeFollowerPage(input.post.authorId, CHUNKS_PER_PAGE * FANOUT_JOB_FOLLOWERS, input.next ?? undefined);
  // Each region pushes the replicated post to the active followers it serves.
  const ids = await servedHere(page.ids);
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += FANOUT_JOB_FOLLOWERS) chunks.push(ids.slice(i, i + FANOUT_JOB_FOLLOWERS));
  logger.info('celebrity followers listed', { postId: input.post.postId, kind: input.kind, followers: ids.length, more: page.next !== undefined });
  return { ...input, chunks, next: page.next ?? null, pages: (input.pages ?? 0) + 1 };
}

export const handler = workflowTask(FanoutPlan, listActiveFollowers);
