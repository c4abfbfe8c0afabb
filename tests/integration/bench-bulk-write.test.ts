// The bench's seed loader (bench/bulk-write.ts) against DynamoDB Local: what it writes reads back
// through the SDK item for item (the same database, the same attribute values), a batch over
// several tables and a delete go through, and what DynamoDB refuses is a clear error.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { bulkWriter, BULK_BATCH } from '../../bench/bulk-write.js';
import { db, type TableWrite } from '../../shared/store/client.js';
import { keys } from '../../shared/store/keys.js';
import { feedEntry } from '../../shared/services/feed-entries.js';
import { idAt, mintId } from '../../shared/domain/ids.js';

const loader = bulkWriter();
afterAll(() => loader.close());

const entry = (userId: string, i: number) => {
  const post = { postId: idAt(Date.now() - i * 1000, i % 4096, 0), authorId: mintId(i % 4096), createdAt: new Date(Date.now() - i * 1000).toISOString() };
  const e = feedEntry(userId, post);
  const k = keys.feedEntry(e.userId, e.postId);
  return { k, e, write: { table: k.table, request: { PutRequest: { Item: { ...k.key, ...e } } } } satisfies TableWrite };
};
const read = (k: { table: string; key: Record<string, unknown> }) => db().send(new GetCommand({ TableName: k.table, Key: k.key })).then((o) => o.Item);

describe('bench bulk loader', () => {
  it('writes items that the SDK reads back as they were, across tables, and deletes', async () => {
    const users = [mintId(1), mintId(2000), mintId(4000)];
    const rows = users.flatMap((u, j) => Array.from({ length: 8 }, (_, i) => entry(u, j * 8 + i)));
    expect(new Set(rows.map((r) => r.k.table)).size).toBeGreaterThan(1);
    await loader.write(rows.map((r) => r.write));
    for (const r of rows) expect(await read(r.k)).toEqual({ ...r.k.key, ...r.e });

    const gone = rows[0]!;
    await loader.write([{ table: gone.k.table, request: { DeleteRequest: { Key: gone.k.key } } }]);
    expect(await read(gone.k)).toBeUndefined();
    expect(await read(rows[1]!.k)).toBeDefined();
  });

  it('refuses a batch over BatchWriteItem limit, and names what DynamoDB refused', async () => {
    const u = mintId(7);
    const many = Array.from({ length: BULK_BATCH + 1 }, (_, i) => entry(u, i).write);
    await expect(loader.write(many)).rejects.toThrow(`at most ${BULK_BATCH} writes`);
    await expect(loader.write([{ table: 'no-such-table', request: { PutRequest: { Item: { pk: 'x' } } } }])).rejects.toThrow(/BatchWriteItem refused \(400\).*ResourceNotFound/);
  });
});
