// The product's DynamoDB clients (shared/store/client.ts) carry no SDK logger middleware: given no
// logger, it still copied and masked every call's input and output for a record nobody reads.
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { dynamo, withoutSdkLogRecords } from '../../shared/store/client.js';

const hasLogger = (c: DynamoDBClient) => c.middlewareStack.identify().some((m) => m.startsWith('loggerMiddleware'));

describe('DynamoDB clients', () => {
  it('a new SDK client has the logger middleware; withoutSdkLogRecords takes it out', () => {
    const client = new DynamoDBClient({ region: 'us-east-1' });
    expect(hasLogger(client)).toBe(true);
    expect(hasLogger(withoutSdkLogRecords(client))).toBe(false);
  });

  it('the product’s client has none, and still answers', async () => {
    expect(hasLogger(dynamo())).toBe(false);
    const out = await dynamo().send(new GetItemCommand({ TableName: 'feedscale-none', Key: { id: { S: 'x' } } })).catch((e: Error) => e);
    expect((out as Error).name).toBe('ResourceNotFoundException');
  });
});
