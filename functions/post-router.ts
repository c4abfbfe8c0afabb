// Posts stream → fan-out by the author's tier. Regular: every follower's feed through fan-out
// jobs. Celebrity: the CelebrityFanout workflow pushes to recently active followers. Mega: no
// fan-out but to VIP followers; everyone else pulls at read time. Celebrity and mega followers
// are notified after a delay; regular followers with the fan-out. Removals take the same routes.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { startWorkflow } from '../shared/messaging/workflow-starts.js';
import { streamConsumer } from '../shared/edge/consumers.js';
import { recordDeletion, recordRecentPost } from '../shared/cache/pull-cache.js';
import { planFanout, planHighTierNotification, planVipFanout, type PostRef } from '../shared/services/fan-out.js';
import { toPost, type Post } from '../shared/services/posts.js';
import { logger } from '../shared/edge/observability.js';
import { profileRow } from '../shared/services/users.js';

export async function routePost(kind: 'add' | 'remove', post: Post): Promise<string> {
  const tier = (await profileRow(post.authorId))?.tier ?? 'regular';
  if (kind === 'remove') await recordDeletion(post);
  else if (tier !== 'regular') await recordRecentPost(post);
  const ref: PostRef = { postId: post.postId, authorId: post.authorId, createdAt: post.createdAt };
  if (tier === 'regular') {
    await planFanout(kind, ref);
  } else if (tier === 'celebrity') {
    await startWorkflow('celebrity-fanout', { kind, post: ref }, `${kind}-${post.postId}`);
  } else {
    await planVipFanout(kind, ref);
  }
  if (kind === 'add' && tier !== 'regular') await planHighTierNotification(ref);
  return tier;
}

export async function routePostRecord(record: DynamoDBRecord): Promise<void> {
  const image = record.eventName === 'REMOVE' ? record.dynamodb?.OldImage : record.dynamodb?.NewImage;
  if (!image || record.eventName === 'MODIFY') return;
  const row = unmarshall(image as Record<string, AttributeValue>);
  const post = toPost(row);
  const kind = record.eventName === 'INSERT' ? 'add' : 'remove';
  const tier = await routePost(kind, post);
  logger.info('post routed', { postId: post.postId, authorId: post.authorId, kind, tier });
}

export const handler = streamConsumer(routePostRecord);
