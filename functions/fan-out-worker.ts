// Fan-out queue → feed entries: one job (a page of followers of one post) per message, written
// with BatchWriteItem; a failed message is reported alone and redelivered. Traced in X-Ray
// (shared/edge/tracing.ts): a subsegment per job, annotated with its kind and post.
import { sqsConsumer } from '../shared/edge/consumers.js';
import { FanoutJob, runFanoutJob } from '../shared/services/fan-out.js';
import { logger } from '../shared/edge/observability.js';
import { traced, tracing } from '../shared/edge/tracing.js';

export async function runFanoutRecord(job: FanoutJob): Promise<void> {
  const written = await traced('runFanoutJob', { kind: job.kind, ...('post' in job ? { postId: job.post.postId } : { authorId: job.authorId }) }, () => runFanoutJob(job));
  logger.info('fan-out job done', {
    kind: job.kind,
    ...('post' in job ? { postId: job.post.postId } : { authorId: job.authorId, ...('tier' in job && { tier: job.tier }) }),
    ...('followers' in job && { followers: job.followers.length }),
    written,
  });
}

export const handler = sqsConsumer(FanoutJob, runFanoutRecord).use(tracing());
