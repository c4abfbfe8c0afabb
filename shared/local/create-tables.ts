// Creates every shard table from shared/declarations/tables.ts (idempotent: existing tables are kept) and
// sweeps expired rows, since DynamoDB Local never runs TTL deletion.
import {
  CreateTableCommand,
  DeleteItemCommand,
  PutItemCommand,
  ListTablesCommand,
  ScanCommand,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { idAt } from '../domain/ids.js';
import { batchWrite } from '../store/client.js';
import { config } from '../edge/config.js';
import { controlTableInput, controlTableName, createTableInput, tableName, TABLES, type Entity } from '../declarations/tables.js';
import { freshShardMap, setLogicalOfTable, shardMap } from '../store/shard-map.js';

/** Every shard table, for `tables` per entity (the shard map's count: FEED_SHARDS until a
 *  reshard grows it). */
export function allTables(tables: number = shardMap().tables): { entity: Entity; name: string }[] {
  return (Object.keys(TABLES) as Entity[]).flatMap((entity) =>
    Array.from({ length: tables }, (_, shard) => ({ entity, name: tableName(entity, shard) })),
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

/** Creates the control table and missing shard tables (`tables` per entity: the stored shard
 *  map's count by default), a few at a time; returns how many were created. Created tables from
 *  index `primeFrom` on (those no function writes until a reshard reaches them) get their stream's
 *  first record at once (primeStream). */
export async function ensureTables(client: DynamoDBClient, tables?: number, primeFrom = Number.POSITIVE_INFINITY): Promise<number> {
  const existing = await existingTables(client);
  let created = 0;
  if (!existing.has(controlTableName())) {
    await client.send(new CreateTableCommand(controlTableInput()));
    created++;
  }
  const missing = allTables(tables ?? (await freshShardMap(true)).tables).filter((t) => !existing.has(t.name));
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
        if (Number(/_(\d+)$/.exec(name)![1]) >= primeFrom) await primeStream(client, entity, name);
      }),
    );
  }
  return created + missing.length;
}

/** Gives a table's stream its first record now. DynamoDB Local finds a table's stream shard on
 *  every write by scanning its stream store from the oldest record, so a table whose first record
 *  comes after N records of other tables pays O(N) per write for good (bench/seed.ts measured
 *  ~150 items/s instead of ~2,000). A row put and deleted at once places it early: tables created
 *  together at a stack's start (the FEED_SHARD_TABLES a reshard grows into included) all write
 *  fast. The posts row is a well-formed post by an author with no followers: routed to nobody. */
export async function primeStream(client: DynamoDBClient, entity: Entity, name: string): Promise<void> {
  const def = TABLES[entity];
  const when = Date.now() - 86_400_000;
  const logical = setLogicalOfTable(Number(/_(\d+)$/.exec(name)![1]));
  const key: Record<string, string> =
    entity === 'posts' ? { postId: idAt(when, logical, 0) } : { [def.partitionKey.name]: 'bench#prime', ...(def.sortKey && { [def.sortKey.name]: 'prime' }) };
  const item = entity === 'posts' ? { ...key, authorId: idAt(when, logical, 1), content: 'prime', createdAt: new Date(when).toISOString() } : key;
  await client.send(new PutItemCommand({ TableName: name, Item: marshall(item) }));
  await client.send(new DeleteItemCommand({ TableName: name, Key: marshall(key) }));
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
