// Counts DynamoDB requests through one SDK middleware on the process's client: reads (requests,
// and the items they ask for or return) and writes (items written), each per table and per
// operation, and on demand per partition key and second (DynamoDB's 1,000 WCU cap is per
// partition). The tier tests and the local stack's stats read the writes; the benchmark both.
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

type Row = Record<string, unknown>;
type Input = {
  TableName?: string;
  Item?: Row;
  Key?: Row;
  RequestItems?: Record<string, unknown[] | { Keys?: unknown[] }>;
  TransactItems?: Record<string, { TableName?: string; Item?: Row; Key?: Row }>[];
};

/** Items written per partition key and wall-clock second, while tracking is on. */
let perKey: Map<string, Map<number, number>> | undefined;

/** The partition key value of an item or key (plain, or marshalled as { S: … } when the
 *  document client's translation ran first): pk, or the hash key of the feeds and posts tables. */
function partitionOf(table: string, row: Row | undefined): string {
  const v = row?.pk ?? row?.userId ?? row?.postId;
  const s = typeof v === 'object' && v !== null && 'S' in v ? (v as { S: unknown }).S : v;
  return `${table}|${String(s ?? '?')}`;
}

function addKeyWrite(table: string, row: Row | undefined): void {
  if (!perKey) return;
  const key = partitionOf(table, row);
  const second = Math.floor(Date.now() / 1000);
  const seconds = perKey.get(key) ?? new Map<number, number>();
  perKey.set(key, seconds);
  seconds.set(second, (seconds.get(second) ?? 0) + 1);
}
type Output = { Items?: unknown[] };

function addWrite(op: string, table: string, n: number): void {
  writes.total += n;
  bump(writes.byTable, table, n);
  bump(writes.byOp, op, n);
}

function countWrite(op: string, input: Input): void {
  if (op === 'Put' || op === 'Update' || op === 'Delete') {
    addWrite(op, input.TableName ?? '?', 1);
    addKeyWrite(input.TableName ?? '?', input.Item ?? input.Key);
  } else if (op === 'BatchWrite') {
    for (const [t, reqs] of Object.entries(input.RequestItems ?? {})) {
      addWrite(op, t, (reqs as unknown[]).length);
      for (const r of reqs as { PutRequest?: { Item?: Row }; DeleteRequest?: { Key?: Row } }[]) addKeyWrite(t, r.PutRequest?.Item ?? r.DeleteRequest?.Key);
    }
  } else if (op === 'TransactWrite') {
    for (const item of input.TransactItems ?? []) {
      const [kind, body] = Object.entries(item)[0] ?? [];
      if (!kind || kind === 'ConditionCheck') continue;
      addWrite(op, body?.TableName ?? '?', 1);
      addKeyWrite(body?.TableName ?? '?', body?.Item ?? body?.Key);
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

/** Starts (afresh) or stops counting writes per partition key and second. Off by default: a
 *  long run would keep one entry per key written. */
export function trackPartitionWrites(on: boolean): void {
  perKey = on ? new Map() : undefined;
}

export interface PartitionRate {
  /** `table|partition key`. */
  key: string;
  /** Items written to it in its busiest wall-clock second. */
  perSecond: number;
  /** Items written to it since tracking started. */
  total: number;
}

/** The partition keys written since tracking started, busiest second first. */
export function partitionWriteRates(): PartitionRate[] {
  const out: PartitionRate[] = [];
  for (const [key, seconds] of perKey ?? []) {
    let perSecond = 0;
    let total = 0;
    for (const n of seconds.values()) {
      perSecond = Math.max(perSecond, n);
      total += n;
    }
    out.push({ key, perSecond, total });
  }
  return out.sort((a, b) => b.perSecond - a.perSecond || b.total - a.total);
}
