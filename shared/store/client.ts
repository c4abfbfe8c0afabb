// The DynamoDB document client, built once per process, and the batch helpers every writer uses:
// BatchWriteItem in chunks of 25 and BatchGetItem in chunks of 100, retrying Unprocessed* with
// exponential backoff (throttled partitions return them instead of failing the call).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  type BatchWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { config } from '../edge/config.js';
import { DYNAMO_BATCH_GET_MAX, DYNAMO_BATCH_RETRIES, DYNAMO_BATCH_WRITE_MAX } from '../domain/limits.js';

let doc: DynamoDBDocumentClient | undefined;
let raw: DynamoDBClient | undefined;

export function dynamo(): DynamoDBClient {
  raw ??= new DynamoDBClient({
    region: config().AWS_REGION,
    ...(config().DYNAMODB_ENDPOINT && { endpoint: config().DYNAMODB_ENDPOINT }),
    maxAttempts: 5,
  });
  return raw;
}

export function db(): DynamoDBDocumentClient {
  doc ??= DynamoDBDocumentClient.from(dynamo(), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return doc;
}

/** Drops the clients (tests that point at another endpoint). */
export function resetDynamo(): void {
  raw?.destroy();
  raw = undefined;
  doc = undefined;
}

type WriteRequest = NonNullable<BatchWriteCommandInput['RequestItems']>[string][number];
export interface TableWrite {
  table: string;
  request: WriteRequest;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const backoff = (attempt: number) => sleep(Math.min(1000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2));

function group<T extends { table: string }>(items: T[]): Record<string, T[]> {
  const out: Record<string, T[]> = {};
  for (const item of items) (out[item.table] ??= []).push(item);
  return out;
}

/** Writes every request, 25 per call, retrying unprocessed ones; throws if any remain after
 *  DYNAMO_BATCH_RETRIES attempts (the caller's message is then retried by its queue). Returns
 *  the number of BatchWriteItem calls made. */
export async function batchWrite(writes: TableWrite[]): Promise<number> {
  let calls = 0;
  for (let i = 0; i < writes.length; i += DYNAMO_BATCH_WRITE_MAX) {
    const chunk = writes.slice(i, i + DYNAMO_BATCH_WRITE_MAX);
    let pending: Record<string, WriteRequest[]> = Object.fromEntries(
      Object.entries(group(chunk)).map(([t, ws]) => [t, ws.map((w) => w.request)]),
    );
    for (let attempt = 0; Object.keys(pending).length > 0; attempt++) {
      if (attempt > DYNAMO_BATCH_RETRIES) {
        throw new Error(`BatchWriteItem left ${Object.values(pending).flat().length} items unprocessed`);
      }
      if (attempt > 0) await backoff(attempt);
      const out = await db().send(new BatchWriteCommand({ RequestItems: pending }));
      calls++;
      pending = (out.UnprocessedItems ?? {}) as Record<string, WriteRequest[]>;
    }
  }
  return calls;
}

export interface TableKey {
  table: string;
  key: Record<string, unknown>;
}

/** Reads every key, 100 per call, retrying unprocessed ones. Items come back keyed by table. */
export async function batchGet(keys: TableKey[]): Promise<Record<string, Record<string, unknown>[]>> {
  const result: Record<string, Record<string, unknown>[]> = {};
  for (let i = 0; i < keys.length; i += DYNAMO_BATCH_GET_MAX) {
    const chunk = keys.slice(i, i + DYNAMO_BATCH_GET_MAX);
    let pending: Record<string, { Keys: Record<string, unknown>[] }> = Object.fromEntries(
      Object.entries(group(chunk)).map(([t, ks]) => [t, { Keys: ks.map((k) => k.key) }]),
    );
    for (let attempt = 0; Object.keys(pending).length > 0; attempt++) {
      if (attempt > DYNAMO_BATCH_RETRIES) throw new Error('BatchGetItem left keys unprocessed');
      if (attempt > 0) await backoff(attempt);
      const out = await db().send(new BatchGetCommand({ RequestItems: pending }));
      for (const [table, items] of Object.entries(out.Responses ?? {})) {
        (result[table] ??= []).push(...(items as Record<string, unknown>[]));
      }
      pending = (out.UnprocessedKeys ?? {}) as typeof pending;
    }
  }
  return result;
}

/** True when a transaction or conditional write failed on its condition. */
export function isConditionFailure(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return name === 'ConditionalCheckFailedException' || name === 'TransactionCanceledException';
}

/** The per-item cancellation reasons of a TransactionCanceledException, in request order. */
export function cancellationCodes(err: unknown): (string | undefined)[] {
  const reasons = (err as { CancellationReasons?: { Code?: string }[] })?.CancellationReasons ?? [];
  return reasons.map((r) => (r.Code === 'None' ? undefined : r.Code));
}
