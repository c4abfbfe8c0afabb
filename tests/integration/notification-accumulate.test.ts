// The notification collector's accumulate (shared/services/notifications.ts) against DynamoDB Local:
// one event of FANOUT_JOB_FOLLOWERS recipients reaches every recipient's accumulator, with at most
// NOTIFY_ACCUMULATE_CONCURRENCY updates in flight. All 500 at once queued behind the SDK client's
// 50 sockets, where its request timeout runs too: on a slow table they timed out and the whole
// message was redelivered, again and again (the bench saw minutes of it).
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { db } from '../../shared/store/client.js';
import { keys, notifyBucket } from '../../shared/store/keys.js';
import { accumulate, windowOf } from '../../shared/services/notifications.js';
import { FANOUT_JOB_FOLLOWERS, NOTIFY_ACCUMULATE_CONCURRENCY } from '../../shared/domain/limits.js';
import { randomUserId } from '../support/fixtures-feeds.js';

const MIDDLEWARE = 'countUpdatesInFlight';

afterEach(() => {
  db().middlewareStack.remove(MIDDLEWARE);
});

/** Counts the client's UpdateItem calls in flight from now on, and the most at once. */
function countInFlight(): { max: number; calls: number } {
  const seen = { max: 0, calls: 0 };
  let now = 0;
  db().middlewareStack.add(
    (next, context) => async (args) => {
      if (!/^Update(Item)?Command$/.test(String(context.commandName))) return next(args);
      seen.calls++;
      seen.max = Math.max(seen.max, ++now);
      try {
        return await next(args);
      } finally {
        now--;
      }
    },
    { step: 'initialize', name: MIDDLEWARE },
  );
  return seen;
}

describe('accumulate', () => {
  it('stores a full message of recipients, a bounded number of updates at a time', async () => {
    const recipients = Array.from({ length: FANOUT_JOB_FOLLOWERS }, () => randomUserId());
    const actorId = randomUserId();
    const now = Math.floor(Date.now() / 1000);
    const seen = countInFlight();
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
