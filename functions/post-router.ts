// Posts stream → fan-out by the author's tier (shared/services/post-routing.ts): every
// follower's feed (regular), the CelebrityFanout workflow (celebrity), or VIP followers only and
// pull at read time (mega). Inserted and removed posts are routed; modified images are not.
// Traced in X-Ray (shared/edge/tracing.ts): a subsegment per post routed, annotated with its tier.
import * as z from 'zod';
import { streamConsumer, type StreamChange } from '../shared/edge/consumers.js';
import { Id } from '../shared/edge/http.js';
import { routePost } from '../shared/services/post-routing.js';
import { logger } from '../shared/edge/observability.js';
import { traced, tracer, tracing } from '../shared/edge/tracing.js';
import { serviceChange } from '../shared/services/stream-changes.js';

/** A posts-table row as a Post: other attributes (the correlation id) are stripped. */
export const PostImage = z.object({ postId: Id, authorId: Id, content: z.string(), createdAt: z.iso.datetime() });

export async function routePostRecord(change: StreamChange<z.infer<typeof PostImage>>): Promise<void> {
  const post = change.eventName === 'REMOVE' ? change.oldImage : change.eventName === 'INSERT' ? change.newImage : undefined;
  if (!post) return;
  const kind = change.eventName === 'INSERT' ? 'add' : 'remove';
  const tier = await traced('routePost', { postId: post.postId, kind }, async () => {
    const routed = await routePost(kind, post);
    tracer.putAnnotation('tier', routed);
    return routed;
  });
  logger.info('post routed', { postId: post.postId, authorId: post.authorId, kind, tier });
}

export const handler = streamConsumer(PostImage, routePostRecord, serviceChange).use(tracing());
