// The one paginated Query loop of the store: DynamoDB returns at most 1 MB per call, so every
// read of a whole partition (or of the first `max` matches) follows LastEvaluatedKey.
import { QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { db } from './client.js';

export type Item = Record<string, unknown>;

/** Yields each page's items of `input`, following LastEvaluatedKey until the end. */
export async function* queryPages(input: Omit<QueryCommandInput, 'ExclusiveStartKey'>): AsyncGenerator<Item[], void> {
  let start: Record<string, unknown> | undefined;
  do {
    const out = await db().send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
    start = out.LastEvaluatedKey;
    yield (out.Items ?? []) as Item[];
  } while (start);
}

/** Every item of `input`, or the first `max` of them (a filtered query may need several pages
 *  to find `max` matches, so `Limit` alone does not bound what is returned). The result says
 *  whether the partition ended before `max` items were found. */
export async function queryAll(
  input: Omit<QueryCommandInput, 'ExclusiveStartKey'>,
  max = Infinity,
  client: DynamoDBDocumentClient = db(),
): Promise<{ items: Item[]; exhausted: boolean }> {
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const limit = Number.isFinite(max) ? { Limit: max - items.length } : {};
    const out = await client.send(new QueryCommand({ ...input, ...limit, ExclusiveStartKey: start }));
    items.push(...((out.Items ?? []) as Item[]));
    start = out.LastEvaluatedKey;
  } while (start && items.length < max);
  return { items, exhausted: !start && items.length < max };
}
