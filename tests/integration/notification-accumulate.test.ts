// The notification collector's accumulate (shared/services/notifications.ts) against DynamoDB Local:
// one event of FANOUT_JOB_FOLLOWERS recipients reaches every recipient's accumulator, with at most
// NOTIFY_ACCUMULATE_CONCURRENCY updates in flight, so one message never takes every turn of the
// process's client (the local stack runs many invocations in one process). Before either bound,
// all 500 went at once and timed out queued behind the SDK's sockets, even on an idle DynamoDB
// Local, and the whole message was redelivered.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { db } from '../../shared/store/client.js';
import { keys, notifyBucket } from '../../shared/store/keys.js';
import { accumulate, windowOf } from '../../shared/services/notifications.js';
import { FANOUT_JOB_FOLLOWERS, NOTIFY_ACCUMULATE_CONCURRENCY } from '../../shared/domain/limits.js';
import { randomUserId } from '../support/fixtures-feeds.js';
import { countInFlight } from '../support/fixtures-in-flight.js';

let counting: ReturnType<typeof countInFlight> | undefined;
afterEach(() => {
  counting?.stop();
});

describe('accumulate', () => {
  it('stores a full message of recipients, a bounded number of updates at a time', async () => {
    const recipients = Array.from({ length: FANOUT_JOB_FOLLOWERS }, () => randomUserId());
    const actorId = randomUserId();
    const now = Math.floor(Date.now() / 1000);
    const seen = (counting = countInFlight((name) => /^Update(Item)?Command$/.test(name)));
    const stored = await accumulate({ type: 'follow', actorId, recipients }, now);
    expect(stored).toBe(recipients.length);
    expect(seen.calls).toBe(recipients.length);
    expect(seen.max).toBeGreaterThan(1);
    expect(seen.max).toBeLessThanOrEqual(NOTIFY_ACCUMULATE_CONCURRENCY);
    const windowStart = windowOf(now);
    for (const r of [recipients[0]!, recipients[FANOUT_JOB_FOLLOWERS - 1]!]) {
      const { table, key } = keys.notifyAccumulator(windowStart, notifyBucket(r), r);
      const { Item } = await db().send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }));
      expect(Item, `accumulator of ${r}`).toBeDefined();
    }
  });
});
