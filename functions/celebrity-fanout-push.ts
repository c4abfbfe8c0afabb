// CelebrityFanout task: writes (or removes) the post's entry in one chunk of followers' feeds.
import * as z from 'zod';
import { pushToFeeds } from '../shared/services/fan-out.js';
import { FanoutChunk } from '../shared/domain/celebrity-fanout-state.js';
import { countMetric, logger, METRIC } from '../shared/edge/observability.js';
import { workflowTask } from '../shared/edge/workflow-task.js';

export async function pushChunk(input: z.infer<typeof FanoutChunk>) {
  const written = await pushToFeeds(input.kind, input.post, input.followers);
  if (input.kind === 'add') countMetric(METRIC.fanoutWrites, written, { tier: 'celebrity' });
  logger.info('celebrity chunk pushed', { postId: input.post.postId, kind: input.kind, followers: input.followers.length, written });
  return { written };
}

export const handler = workflowTask(FanoutChunk, pushChunk);
