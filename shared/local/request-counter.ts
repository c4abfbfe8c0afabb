// Counts DynamoDB requests through one SDK middleware on the process's client: reads (requests,
// and the items they ask for or return) and writes (items written), each per table and per
// operation. The tier tests and the local stack's stats read the writes; the benchmark both.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface WriteCounts {
  /** Items written (one BatchWriteItem of 25 = 25; a TransactWriteItems' ConditionChecks excluded). */
  total: number;
  byTable: Record<string, number>;
  byOp: Record<string, number>;
}

export interface ReadCounts {
  /** Read requests sent (one BatchGetItem = one request). */
  requests: number;
  /** Items asked for by key (GetItem, BatchGetItem keys) or returned (Query, Scan). */
  items: number;
  /** Requests per operation and per table (a BatchGetItem counts once for each table it reads). */
  byOp: Record<string, number>;
  byTable: Record<string, number>;
}

const READ_OPS = new Set(['Get', 'Query', 'BatchGet', 'Scan']);

const counted = new WeakSet<DynamoDBClient>();
const writes: WriteCounts = { total: 0, byTable: {}, byOp: {} };
const reads: ReadCounts = { requests: 0, items: 0, byOp: {}, byTable: {} };

const bump = (m: Record<string, number>, k: string, n = 1) => (m[k] = (m[k] ?? 0) + n);

type Input = {
  TableName?: string;
  RequestItems?: Record<string, unknown[] | { Keys?: unknown[] }>;
  TransactItems?: Record<string, { TableName?: string }>[];
};
type Output = { Items?: unknown[] };

function addWrite(op: string, table: string, n: number): void {
  writes.total += n;
  bump(writes.byTable, table, n);
  bump(writes.byOp, op, n);
}

function countWrite(op: string, input: Input): void {
  if (op === 'Put' || op === 'Update' || op === 'Delete') addWrite(op, input.TableName ?? '?', 1);
  else if (op === 'BatchWrite') for (const [t, reqs] of Object.entries(input.RequestItems ?? {})) addWrite(op, t, (reqs as unknown[]).length);
  else if (op === 'TransactWrite') {
    for (const item of input.TransactItems ?? []) {
      const [kind, body] = Object.entries(item)[0] ?? [];
      if (kind && kind !== 'ConditionCheck') addWrite(op, body?.TableName ?? '?', 1);
    }
  }
}

function countRead(op: string, input: Input): void {
  reads.requests++;
  bump(reads.byOp, op);
  if (op === 'BatchGet') {
    for (const [t, req] of Object.entries(input.RequestItems ?? {})) {
      bump(reads.byTable, t);
      reads.items += (req as { Keys?: unknown[] }).Keys?.length ?? 0;
    }
    return;
  }
  bump(reads.byTable, input.TableName ?? '?');
  if (op === 'Get') reads.items++;
}

/** Installs the counter on a client (once per client; later calls are no-ops). */
export function countRequests(client: DynamoDBClient): void {
  if (counted.has(client)) return;
  counted.add(client);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      // The document client's commands (PutCommand, …) and the raw ones (PutItemCommand, …).
      const op = String(context.commandName).replace(/(Items?)?Command$/, '');
      const input = args.input as Input;
      if (!READ_OPS.has(op)) {
        countWrite(op, input);
        return next(args);
      }
      countRead(op, input);
      const out = await next(args);
      if (op === 'Query' || op === 'Scan') reads.items += ((out.output as Output).Items ?? []).length;
      return out;
    },
    { step: 'initialize', name: 'feedscaleRequestCounter' },
  );
}

/** A copy of the write counts so far. */
export function writeCounts(): WriteCounts {
  return { total: writes.total, byTable: { ...writes.byTable }, byOp: { ...writes.byOp } };
}

/** A copy of the read counts so far. */
export function readCounts(): ReadCounts {
  return { requests: reads.requests, items: reads.items, byOp: { ...reads.byOp }, byTable: { ...reads.byTable } };
}
