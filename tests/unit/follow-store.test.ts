// The follow store (shared/store/follows.ts) against a mocked DynamoDB document client: which
// transaction a follow writes, how a repeated follow and concurrent conflicts are handled, and
// how a VIP mark's cancellation reasons are read. No engine is called.
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TRANSACTION_CONFLICT_RETRIES } from '../../shared/domain/limits.js';
import { deleteFollowEdges, putFollowEdges, putVipMark } from '../../shared/store/follows.js';
import { keys } from '../../shared/store/keys.js';
import { resetDynamo } from '../../shared/store/client.js';
import { mintId } from '../../shared/domain/ids.js';

const ddb = mockClient(DynamoDBDocumentClient);
// reset() installs a fresh stub; the store's client is rebuilt so it sends through that one.
afterEach(() => {
  ddb.reset();
  resetDynamo();
});
afterAll(() => {
  ddb.restore();
  resetDynamo();
});

const follower = mintId(1);
const followee = mintId(2);

/** A cancelled transaction with one reason code per item ('None' where that item was fine). */
const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

const transactItems = (call = 0) => ddb.commandCalls(TransactWriteCommand)[call]!.args[0].input.TransactItems!;

describe('putFollowEdges', () => {
  it('writes both edges, both counters and the high-tier entry of a celebrity in one transaction', async () => {
    ddb.on(TransactWriteCommand).resolves({});

    const created = await putFollowEdges(follower, followee, 'celebrity', '2026-01-01T00:00:00.000Z');

    expect(created).toBe(true);
    const items = transactItems();
    expect(items).toHaveLength(5);
    expect(items[0]!.Put).toMatchObject({ TableName: keys.outEdge(follower, followee).table, Item: keys.outEdge(follower, followee).key });
    expect(items[1]!.Put).toMatchObject({ Item: keys.inEdge(followee, follower).key });
    expect(items[4]!.Put).toMatchObject({ Item: { ...keys.highTier(follower, followee).key, tier: 'celebrity' } });
  });

  it('writes no high-tier entry for a regular followee', async () => {
    ddb.on(TransactWriteCommand).resolves({});

    await putFollowEdges(follower, followee, 'regular', '2026-01-01T00:00:00.000Z');

    expect(transactItems()).toHaveLength(4);
  });

  it('reports an existing edge as not created, without retrying', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None', 'None', 'None'));

    expect(await putFollowEdges(follower, followee, 'regular', 'now')).toBe(false);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });

  it('retries a conflicting transaction and succeeds once the conflict clears', async () => {
    ddb.on(TransactWriteCommand).rejectsOnce(cancelled('None', 'None', 'None', 'TransactionConflict')).resolves({});

    expect(await putFollowEdges(follower, followee, 'regular', 'now')).toBe(true);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(2);
  });

  it(`gives up after ${TRANSACTION_CONFLICT_RETRIES} retries of conflicts and rethrows`, async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('None', 'None', 'None', 'TransactionConflict'));

    await expect(putFollowEdges(follower, followee, 'regular', 'now')).rejects.toThrow('Transaction cancelled');
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(TRANSACTION_CONFLICT_RETRIES + 1);
  });
});

describe('deleteFollowEdges', () => {
  it('reports a missing edge as not applied', async () => {
    ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None', 'None', 'None', 'None', 'None'));

    expect(await deleteFollowEdges(follower, followee)).toBe(false);
  });
});

describe('putVipMark', () => {
  it.each([
    [['None', 'None', 'None'], 'marked'],
    [['ConditionalCheckFailed', 'None', 'None'], 'already'],
    [['None', 'ConditionalCheckFailed', 'None'], 'limit'],
    [['None', 'None', 'ConditionalCheckFailed'], 'not-follower'],
    [['None', 'ConditionalCheckFailed', 'ConditionalCheckFailed'], 'not-follower'],
  ])('reads cancellation reasons %j as %s', async (codes, outcome) => {
    if (codes.every((c) => c === 'None')) ddb.on(TransactWriteCommand).resolves({});
    else ddb.on(TransactWriteCommand).rejects(cancelled(...codes));

    expect(await putVipMark(followee, follower)).toBe(outcome);
  });
});
