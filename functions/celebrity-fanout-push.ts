// CelebrityFanout task: writes (or removes) the post's entry in one chunk of followers' feeds.
import { z } from 'zod';
import { pushToFeeds } from '../shared/fan-out.js';
import { FanoutChunk } from '../shared/celebrity.js';
import { workflowTask } from '../shared/workflow-task.js';

export async function pushChunk(input: z.infer<typeof FanoutChunk>) {
  return { written: await pushToFeeds(input.kind, input.post, input.followers) };
}

export const handler = workflowTask(FanoutChunk, pushChunk);
