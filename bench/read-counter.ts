// Counts DynamoDB read requests (GetItem, Query, BatchGetItem, Scan) and the keys or items they
// touch, through a middleware on the process's DynamoDB client — the read-side twin of
// shared/local/write-counter.ts, for "DynamoDB reads per feed request".
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface ReadCounts {
  /** Read requests sent (one BatchGetItem = one request). */
  requests: number;
  /** Items asked for by key (GetItem, BatchGetItem keys) or returned (Query, Scan). */
  items: number;
  byOp: Record<string, number>;
}

const counts: ReadCounts = { requests: 0, items: 0, byOp: {} };
const counted = new WeakSet<DynamoDBClient>();

type Input = { RequestItems?: Record<string, { Keys?: unknown[] }> };
type Output = { Items?: unknown[]; Count?: number };

export function countReads(client: DynamoDBClient): void {
  if (counted.has(client)) return;
  counted.add(client);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      // Document-client names (GetCommand) and raw ones (GetItemCommand) alike.
      const op = String(context.commandName).replace(/(Items?)?Command$/, '');
      if (op !== 'Get' && op !== 'Query' && op !== 'BatchGet' && op !== 'Scan') return next(args);
      counts.requests++;
      counts.byOp[op] = (counts.byOp[op] ?? 0) + 1;
      if (op === 'Get') counts.items++;
      if (op === 'BatchGet') {
        for (const t of Object.values((args.input as Input).RequestItems ?? {})) counts.items += t.Keys?.length ?? 0;
      }
      const out = await next(args);
      if (op === 'Query' || op === 'Scan') counts.items += ((out.output as Output).Items ?? []).length;
      return out;
    },
    { step: 'initialize', name: 'benchReadCounter' },
  );
}

export function readCounts(): ReadCounts {
  return { requests: counts.requests, items: counts.items, byOp: { ...counts.byOp } };
}
