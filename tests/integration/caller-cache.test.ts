// The feed read's caller lookup (cachedCallerRow): kept in the process for a minute, so a cached
// feed read costs no DynamoDB request; forgetCachedCallers drops the kept rows, and the next read
// of each caller looks them up again.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { countRequests, readCounts } from '../../shared/local/request-counter.js';
import { cachedCallerRow, createUser, forgetCachedCallers } from '../../shared/services/users.js';
import { dynamo } from '../../shared/store/client.js';

beforeAll(() => countRequests(dynamo()));

/** DynamoDB read requests `work` sent. */
async function readsOf(work: () => Promise<unknown>): Promise<number> {
  const before = readCounts().requests;
  await work();
  return readCounts().requests - before;
}

describe('the caller row kept for feed reads', () => {
  it('reads DynamoDB on the first lookup only, and again after forgetCachedCallers', async () => {
    const sub = `test-${randomUUID()}`;
    const user = await createUser(sub, { handle: `cc${Date.now().toString(36)}${process.pid.toString(36)}`.slice(0, 30), displayName: 'Caller', country: 'US' });

    expect(await readsOf(() => cachedCallerRow(sub))).toBeGreaterThan(0);
    expect(await readsOf(() => cachedCallerRow(sub))).toBe(0);
    expect((await cachedCallerRow(sub)).userId).toBe(user.userId);

    forgetCachedCallers();

    expect(await readsOf(() => cachedCallerRow(sub))).toBeGreaterThan(0);
    expect(await readsOf(() => cachedCallerRow(sub))).toBe(0);
  });
});
