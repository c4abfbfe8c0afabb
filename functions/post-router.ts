// Posts stream → fan-out plan. A new post is pushed to every follower's feed (regular authors);
// a removed post is taken out of them. Each follower page becomes one job on the fan-out queue.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { streamConsumer } from '../shared/batch.js';
import { planFanout } from '../shared/fan-out.js';
import { logger } from '../shared/observability.js';

export async function routePostRecord(record: DynamoDBRecord): Promise<void> {
  const image = record.eventName === 'REMOVE' ? record.dynamodb?.OldImage : record.dynamodb?.NewImage;
  if (!image || record.eventName === 'MODIFY') return;
  const row = unmarshall(image as Record<string, AttributeValue>);
  const post = { postId: String(row.postId), authorId: String(row.authorId), createdAt: String(row.createdAt) };
  const kind = record.eventName === 'INSERT' ? 'add' : 'remove';
  const followers = await planFanout(kind, post);
  logger.info('fan-out planned', { postId: post.postId, authorId: post.authorId, kind, followers });
}

export const handler = streamConsumer(routePostRecord);
