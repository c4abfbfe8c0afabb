// Counts the items each DynamoDB write request writes, per table, through an SDK middleware on
// the process's DynamoDB client: what the tier tests and the benchmark measure as "writes".
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface WriteCounts {
  total: number;
  byTable: Record<string, number>;
}

const counted = new WeakSet<DynamoDBClient>();
const counts: WriteCounts = { total: 0, byTable: {} };

function add(table: string, n: number): void {
  counts.total += n;
  counts.byTable[table] = (counts.byTable[table] ?? 0) + n;
}

type Input = {
  TableName?: string;
  RequestItems?: Record<string, unknown[]>;
  TransactItems?: Record<string, { TableName?: string }>[];
};

export function countWrites(client: DynamoDBClient): void {
  if (counted.has(client)) return;
  counted.add(client);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      // The document client's commands (PutCommand, …) and the raw ones (PutItemCommand, …).
      const op = String(context.commandName).replace(/(Items?)?Command$/, '');
      const input = args.input as Input;
      if (op === 'Put' || op === 'Update' || op === 'Delete') add(input.TableName ?? '?', 1);
      else if (op === 'BatchWrite') for (const [t, reqs] of Object.entries(input.RequestItems ?? {})) add(t, reqs.length);
      else if (op === 'TransactWrite') {
        for (const item of input.TransactItems ?? []) {
          const [kind, body] = Object.entries(item)[0] ?? [];
          if (kind && kind !== 'ConditionCheck') add(body?.TableName ?? '?', 1);
        }
      }
      return next(args);
    },
    { step: 'initialize', name: 'feedscaleWriteCounter' },
  );
}

/** A copy of the counts so far. */
export function writeCounts(): WriteCounts {
  return { total: counts.total, byTable: { ...counts.byTable } };
}
