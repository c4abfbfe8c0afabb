// Posts stream → fan-out by the author's tier. Regular: every follower's feed through fan-out
// jobs. Celebrity: the CelebrityFanout workflow pushes to recently active followers. Mega: no
// fan-out but to VIP followers; everyone else pulls at read time. Celebrity and mega followers
// are notified after a delay; regular followers with the fan-out. Removals take the same routes.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { startWorkflow } from '../shared/adapters/workflows.js';
import { streamConsumer } from '../shared/batch.js';
import { planFanout, planHighTierNotification, planVipFanout, type PostRef } from '../shared/fan-out.js';
import { logger } from '../shared/observability.js';
import { profileRow } from '../shared/users.js';

export async function routePost(kind: 'add' | 'remove', post: PostRef): Promise<string> {
  const tier = (await profileRow(post.authorId))?.tier ?? 'regular';
  if (tier === 'regular') {
    await planFanout(kind, post);
  } else if (tier === 'celebrity') {
    await startWorkflow('celebrity-fanout', { kind, post }, `${kind}-${post.postId}`);
  } else {
    await planVipFanout(kind, post);
  }
  if (kind === 'add' && tier !== 'regular') await planHighTierNotification(post);
  return tier;
}

export async function routePostRecord(record: DynamoDBRecord): Promise<void> {
  const image = record.eventName === 'REMOVE' ? record.dynamodb?.OldImage : record.dynamodb?.NewImage;
  if (!image || record.eventName === 'MODIFY') return;
  const row = unmarshall(image as Record<string, AttributeValue>);
  const post = { postId: String(row.postId), authorId: String(row.authorId), createdAt: String(row.createdAt) };
  const kind = record.eventName === 'INSERT' ? 'add' : 'remove';
  const tier = await routePost(kind, post);
  logger.info('post routed', { postId: post.postId, authorId: post.authorId, kind, tier });
}

export const handler = streamConsumer(routePostRecord);
