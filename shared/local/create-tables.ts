// Creates every shard table from shared/declarations/tables.ts (idempotent: existing tables are kept) and
// sweeps expired rows, since DynamoDB Local never runs TTL deletion.
import {
  CreateTableCommand,
  ListTablesCommand,
  ScanCommand,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { batchWrite } from '../store/client.js';
import { config } from '../edge/config.js';
import { createTableInput, tableName, TABLES, type Entity } from '../declarations/tables.js';

export function allTables(): { entity: Entity; name: string }[] {
  return (Object.keys(TABLES) as Entity[]).flatMap((entity) =>
    Array.from({ length: config().FEED_SHARDS }, (_, shard) => ({ entity, name: tableName(entity, shard) })),
  );
}

async function existingTables(client: DynamoDBClient): Promise<Set<string>> {
  const names = new Set<string>();
  let start: string | undefined;
  do {
    const out = await client.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
    for (const n of out.TableNames ?? []) names.add(n);
    start = out.LastEvaluatedTableName;
  } while (start);
  return names;
}

/** Creates missing tables, a few at a time; returns how many were created. */
export async function ensureTables(client: DynamoDBClient): Promise<number> {
  const existing = await existingTables(client);
  const missing = allTables().filter((t) => !existing.has(t.name));
  const CONCURRENCY = 8;
  for (let i = 0; i < missing.length; i += CONCURRENCY) {
    await Promise.all(
      missing.slice(i, i + CONCURRENCY).map(async ({ entity, name }) => {
        const def = TABLES[entity];
        await client.send(new CreateTableCommand(createTableInput(def, name)));
        if (def.ttlAttribute) {
          await client.send(
            new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { Enabled: true, AttributeName: def.ttlAttribute } }),
          );
        }
      }),
    );
  }
  return missing.length;
}

/** Deletes rows whose TTL attribute has passed, as DynamoDB's TTL process would. */
export async function sweepExpired(client: DynamoDBClient): Promise<number> {
  let deleted = 0;
  const now = Math.floor(Date.now() / 1000);
  for (const { entity, name } of allTables()) {
    const def = TABLES[entity];
    if (!def.ttlAttribute) continue;
    const keyNames = [def.partitionKey.name, def.sortKey?.name].filter((k): k is string => !!k);
    let start: Record<string, never> | undefined;
    do {
      const out = await client.send(
        new ScanCommand({
          TableName: name,
          FilterExpression: '#ttl < :now',
          ExpressionAttributeNames: { '#ttl': def.ttlAttribute, ...Object.fromEntries(keyNames.map((k, i) => [`#k${i}`, k])) },
          ExpressionAttributeValues: { ':now': { N: String(now) } },
          ProjectionExpression: keyNames.map((_, i) => `#k${i}`).join(', '),
          ExclusiveStartKey: start,
        }),
      );
      const keys = (out.Items ?? []).map((i) => unmarshall(i));
      await batchWrite(keys.map((key) => ({ table: name, request: { DeleteRequest: { Key: key } } })));
      deleted += keys.length;
      start = out.LastEvaluatedKey as typeof start;
    } while (start);
  }
  return deleted;
}
