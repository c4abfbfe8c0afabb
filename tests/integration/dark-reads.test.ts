// Dark reads (shared/local/dark-reads.ts) on DynamoDB Local, tables of this file's own prefix:
// the reads the service makes, made against the source and the target of a move, agree when the
// target is a faithful copy, and name the read that differs when the target's index answers
// otherwise, is missing, or a row is missing; a row the catch-up applied between the two reads
// is no difference.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { resetConfig } from '../../shared/edge/config.js';
import { mintId } from '../../shared/domain/ids.js';
import { createTableInput, tableName, TABLES, type Entity } from '../../shared/declarations/tables.js';
import { darkReads, sampleRowKeys, type DarkReadPlan, type Follower } from '../../shared/local/dark-reads.js';
import { rowKey } from '../../shared/local/row-identity.js';

const saved = process.env.FEED_TABLE_PREFIX;
const dynamo = new DynamoDBClient({ endpoint: process.env.DYNAMODB_ENDPOINT, region: 'us-east-1' });
const doc = DynamoDBDocumentClient.from(dynamo);

const LOGICAL = 10;
const author = mintId(LOGICAL);
const reader = mintId(LOGICAL);
const posts = [0, 1, 2].map((i) => ({ postId: mintId(LOGICAL), authorId: author, text: `post ${i}`, createdAt: 1_700_000_000_000 + i }));
const feed = posts.map((p) => ({ userId: reader, postId: p.postId, authorId: author, authorPost: `${author}#${p.postId}` }));

/** Table numbers: 0 the source, 1 a faithful copy, 2 its index projects only keys, 3 has no index. */
async function create(entity: Entity, n: number, change: (input: ReturnType<typeof createTableInput>) => void = () => undefined) {
  const input = createTableInput(TABLES[entity], tableName(entity, n));
  change(input);
  await dynamo.send(new CreateTableCommand(input));
}
const put = (entity: Entity, n: number, items: Record<string, unknown>[]) =>
  Promise.all(items.map((Item) => doc.send(new PutCommand({ TableName: tableName(entity, n), Item }))));

const quiet: Follower = { seq: 0, lastChange: () => undefined, readThrough: async () => true };
const plan = (dest: number, follower: Follower = quiet, samples = new Map<Entity, string[]>([['posts', [rowKey('posts', posts[0]!)]]])): DarkReadPlan => ({
  source: 0,
  dest,
  sourceLogical: 0,
  destLogical: 0,
  moving: new Set([LOGICAL]),
  samples,
  follower,
});

beforeAll(async () => {
  process.env.FEED_TABLE_PREFIX = `dark${process.pid}-`;
  resetConfig();
  for (const n of [0, 1]) await create('posts', n);
  await create('posts', 2, (i) => (i.GlobalSecondaryIndexes![0]!.Projection = { ProjectionType: 'KEYS_ONLY' }));
  await create('posts', 3, (i) => {
    delete i.GlobalSecondaryIndexes;
    i.AttributeDefinitions = i.AttributeDefinitions!.filter((a) => a.AttributeName === 'postId');
  });
  for (const n of [0, 1]) await create('feeds', n);
  for (const n of [0, 1, 2, 3]) await put('posts', n, posts);
  for (const n of [0, 1]) await put('feeds', n, feed);
}, 60_000);

afterAll(() => {
  if (saved === undefined) delete process.env.FEED_TABLE_PREFIX;
  else process.env.FEED_TABLE_PREFIX = saved;
  resetConfig();
  dynamo.destroy();
});

describe('dark reads before a cut-over', () => {
  it('agree when the target answers every read, partition and index, as the source does', async () => {
    const samples = new Map<Entity, string[]>([['posts', [rowKey('posts', posts[0]!)]], ['feeds', [rowKey('feeds', feed[0]!)]]]);
    const result = await darkReads(doc, plan(1, quiet, samples));
    // Posts: the post by id and the author's posts by index; Feeds: the feed and its byAuthor index.
    expect(result.reads).toBe(4);
    expect(result.differ.size).toBe(0);
  });

  it("name the index whose answers differ when the target's index projects other attributes", async () => {
    const result = await darkReads(doc, plan(2));
    expect(result.differ.get(LOGICAL)).toEqual([expect.stringMatching(new RegExp(`^dark read Posts.byAuthor authorId=${author}: source 3 rows, target 3; first difference at `))]);
  }, 20_000);

  it('name the read the target refuses when it lacks the index', async () => {
    const result = await darkReads(doc, plan(3));
    expect(result.differ.get(LOGICAL)).toEqual([expect.stringMatching(/^dark read Posts.byAuthor authorId=\S+: target: ValidationException/)]);
  });

  it('name a row missing from the target', async () => {
    await doc.send(new DeleteCommand({ TableName: tableName('feeds', 1), Key: { userId: reader, postId: feed[1]!.postId } }));
    try {
      const result = await darkReads(doc, plan(1, quiet, new Map([['feeds', [rowKey('feeds', feed[0]!)]]])));
      expect(result.differ.get(LOGICAL)).toEqual([
        expect.stringMatching(/^dark read Feeds userId=\S+: source 3 rows, target 2/),
        expect.stringMatching(/^dark read Feeds.byAuthor userId=\S+: source 3 rows, target 2/),
      ]);
    } finally {
      await put('feeds', 1, [feed[1]!]);
    }
  }, 20_000);

  it('count no difference for a row the catch-up applied between the two reads', async () => {
    const late = { postId: mintId(LOGICAL), authorId: author, text: 'late', createdAt: 1_700_000_000_100 };
    // The row lands in the source after its read and reaches the target through the catch-up.
    const following = (remembers: boolean): Follower => {
      const f = {
        seq: 0,
        lastChange: (k: string) => (remembers && k === `posts:${rowKey('posts', late)}` ? f.seq : undefined),
        readThrough: async () => {
          if (f.seq === 0) {
            await put('posts', 0, [late]);
            await put('posts', 1, [late]);
            f.seq = 1;
          }
          return true;
        },
      };
      return f;
    };
    try {
      expect((await darkReads(doc, plan(1, following(true)))).differ.size).toBe(0);
      // The same answers without the catch-up's record of the change do differ: the record is what
      // tells a change under way from a missing row.
      await doc.send(new DeleteCommand({ TableName: tableName('posts', 0), Key: { postId: late.postId } }));
      await doc.send(new DeleteCommand({ TableName: tableName('posts', 1), Key: { postId: late.postId } }));
      const unremembered = following(false);
      unremembered.readThrough = async () => {
        await put('posts', 1, [late]);
        return true;
      };
      expect((await darkReads(doc, plan(1, unremembered))).differ.get(LOGICAL)).toEqual([expect.stringMatching(/^dark read Posts.byAuthor .*source 3 rows, target 4/)]);
    } finally {
      await doc.send(new DeleteCommand({ TableName: tableName('posts', 1), Key: { postId: late.postId } }));
    }
  }, 20_000);

  it('sample one row per partition, spread over the rows', () => {
    const keys = Array.from({ length: 40 }, (_, i) => `p${Math.floor(i / 2)}\u0000s${i}`);
    expect(sampleRowKeys(keys, 4)).toEqual(['p0\u0000s0', 'p5\u0000s10', 'p10\u0000s20', 'p15\u0000s30']);
    expect(sampleRowKeys(keys.slice(0, 3), 4)).toEqual(['p0\u0000s0', 'p1\u0000s2']);
  });
});
