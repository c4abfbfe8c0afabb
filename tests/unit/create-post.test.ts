// Creating a post (shared/services/posts.ts createPost over shared/store/posts.ts), without
// engines: the document client is mocked (aws-sdk-client-mock, reset after each test) to answer
// as DynamoDB does when an Idempotency-Key or a minted id is already taken.
import { createHash } from 'node:crypto';
import { DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConflictError } from '../../shared/domain/errors.js';
import { logicalShardOf, mintId } from '../../shared/domain/ids.js';
import { createPost as createPostNow } from '../../shared/services/posts.js';
import { resetDynamo } from '../../shared/store/client.js';
import { invokeLambda } from '../support/fixtures-lambda.js';

const ddb = mockClient(DynamoDBDocumentClient);
/** createPost as a handler calls it: inside an invocation, which the logger's correlation id needs. */
const createPost = (...args: Parameters<typeof createPostNow>) => invokeLambda(() => createPostNow(...args), undefined);
const author = { userId: mintId(5) };
const hash = (s: string) => createHash('sha256').update(s).digest('base64url');
const stored = { postId: mintId(5), authorId: author.userId, content: 'hello', createdAt: '2026-01-01T00:00:00.000Z' };

/** A transaction cancelled because its first item's condition (the idempotency record) failed. */
const keyTaken = () =>
  Object.assign(new Error('Transaction cancelled'), {
    name: 'TransactionCanceledException',
    CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }],
  });
const idTaken = () => Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });

beforeEach(() => resetDynamo());
afterEach(() => {
  ddb.reset();
  resetDynamo();
});
afterAll(() => ddb.restore());

describe('createPost', () => {
  it('returns the post the first request created when the same Idempotency-Key comes again', async () => {
    ddb.on(TransactWriteCommand).rejects(keyTaken());
    ddb.on(GetCommand).resolves({ Item: { post: stored, requestHash: hash('hello') } });

    const post = await createPost(author, 'hello', 'key-1');

    expect(post).toEqual(stored);
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input.ConsistentRead).toBe(true);
  });

  it('refuses the same Idempotency-Key with another body', async () => {
    ddb.on(TransactWriteCommand).rejects(keyTaken());
    ddb.on(GetCommand).resolves({ Item: { post: stored, requestHash: hash('hello') } });

    const attempt = createPost(author, 'another body', 'key-1');

    await expect(attempt).rejects.toBeInstanceOf(ConflictError);
    await expect(attempt).rejects.toMatchObject({ code: 'idempotency_key_reused' });
  });

  it('asks for a retry while the first request with the key has not finished', async () => {
    ddb.on(TransactWriteCommand).rejects(keyTaken());
    ddb.on(GetCommand).resolves({});

    await expect(createPost(author, 'hello', 'key-1')).rejects.toMatchObject({ code: 'idempotency_in_progress' });
  });

  it('mints a fresh id on the author’s shard when the first one is taken', async () => {
    ddb.on(PutCommand).rejectsOnce(idTaken()).resolves({});

    const post = await createPost(author, 'hello');

    const puts = ddb.commandCalls(PutCommand).map((c) => c.args[0].input.Item!.postId as string);
    expect(puts).toHaveLength(2);
    expect(puts[0]).not.toBe(puts[1]);
    expect(post.postId).toBe(puts[1]);
    expect(logicalShardOf(post.postId)).toBe(logicalShardOf(author.userId));
  });

  it('writes the post and its idempotency record in one transaction', async () => {
    ddb.on(TransactWriteCommand).resolves({});

    const post = await createPost(author, 'hello', 'key-2');

    const items = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(items.map((i) => i.Put!.Item)).toEqual([expect.objectContaining({ post, requestHash: hash('hello') }), expect.objectContaining(post)]);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });
});
