// The seed's loader: BatchWriteItem sent to DynamoDB Local in DynamoDB's own JSON protocol over a
// keep-alive agent, instead of through the SDK client. Written by hand because the seed shares two
// cores with DynamoDB Local, whose JVM does the seed's real work: the SDK's per-request work (its
// schema serializer, middleware, signing) cost the seeder 54–62 µs of CPU per item, this 15–21,
// and the JVM then spends less per item too (142–154 µs against 181–216). A 5,000-user seed,
// alternated three times on one machine: 75–81 s against 89–100 s, its feed entries at
// 8.4–9.3k items/s against 5.9–7.1k (.local measurement, `process.cpuUsage` and /proc). DynamoDB
// Local checks no signature, so a request carries only the credential scope of its Authorization
// header (DynamoDB Local keeps one database per access key and region: the SDK client's). A loader
// for DynamoDB Local only: it refuses to run without DYNAMODB_ENDPOINT.
import http from 'node:http';
import { marshall } from '@aws-sdk/util-dynamodb';
import { config } from '../shared/edge/config.js';
import type { TableWrite } from '../shared/store/client.js';
import { sleep } from './stats.js';

/** BatchWriteItem's own limit. */
export const BULK_BATCH = 25;
/** Tries of one batch (its unprocessed items, or a refused request) before the seed fails. */
const TRIES = 8;
const BACKOFF_MS = 50;
/** Statuses DynamoDB Local answers when busy: the batch is sent again. */
const RETRYABLE = new Set([500, 502, 503, 504]);
const THROTTLED = /ProvisionedThroughputExceeded|Throttling|RequestLimitExceeded/;

type Item = Record<string, unknown>;
type Request = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } };

export interface BulkWriter {
  /** Writes one batch (≤ 25 writes, any tables), sending unprocessed items again until none are left. */
  write(writes: readonly TableWrite[]): Promise<void>;
  close(): void;
}

export function bulkWriter(): BulkWriter {
  const endpoint = process.env.DYNAMODB_ENDPOINT;
  if (!endpoint) throw new Error('the bulk loader writes to DynamoDB Local only: DYNAMODB_ENDPOINT is not set');
  const url = new URL(endpoint);
  const agent = new http.Agent({ keepAlive: true });
  const date = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const accessKey = process.env.AWS_ACCESS_KEY_ID ?? 'local';
  const headers = {
    'content-type': 'application/x-amz-json-1.0',
    'x-amz-target': 'DynamoDB_20120810.BatchWriteItem',
    'x-amz-date': date,
    authorization: `AWS4-HMAC-SHA256 Credential=${accessKey}/${date.slice(0, 8)}/${config().AWS_REGION}/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=${'0'.repeat(64)}`,
  };

  function send(body: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        { agent, host: url.hostname, port: url.port, method: 'POST', path: '/', headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  async function write(writes: readonly TableWrite[]): Promise<void> {
    if (writes.length > BULK_BATCH) throw new Error(`a batch holds at most ${BULK_BATCH} writes, not ${writes.length}`);
    let pending: Record<string, unknown[]> = {};
    for (const w of writes) (pending[w.table] ??= []).push(wire(w.request as Request));
    for (let attempt = 1; Object.keys(pending).length > 0; attempt++) {
      if (attempt > TRIES) throw new Error(`BatchWriteItem left ${Object.values(pending).flat().length} items unprocessed after ${TRIES} tries`);
      if (attempt > 1) await sleep(BACKOFF_MS * 2 ** (attempt - 2));
      const { status, text } = await send(JSON.stringify({ RequestItems: pending }));
      if (status === 200) {
        pending = (JSON.parse(text) as { UnprocessedItems?: Record<string, unknown[]> }).UnprocessedItems ?? {};
      } else if (!RETRYABLE.has(status) && !THROTTLED.test(text)) {
        throw new Error(`BatchWriteItem refused (${status}): ${text.slice(0, 300)}`);
      }
    }
  }

  return { write, close: () => agent.destroy() };
}

/** One write request with its item (or key) in DynamoDB's attribute-value form. */
function wire(r: Request): unknown {
  const opts = { removeUndefinedValues: true };
  return 'PutRequest' in r ? { PutRequest: { Item: marshall(r.PutRequest.Item, opts) } } : { DeleteRequest: { Key: marshall(r.DeleteRequest.Key, opts) } };
}
