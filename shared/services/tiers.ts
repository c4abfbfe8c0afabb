// Tier changes. An author's tier follows their follower count (with hysteresis, see tierFor);
// when it changes, every follower's high-tier list is updated through fan-out 'tier' jobs, so
// their feeds start (or stop) pulling the author's posts at read time.
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { db, isConditionFailure } from '../store/client.js';
import { planTierChange } from './fan-out.js';
import { keys } from '../store/keys.js';
import { followerCount, profileRow, tierFor, type ProfileRow, type Tier } from './users.js';

/** Re-derives a user's tier from their follower count; on a change, stores it and sends every
 *  follower a 'tier' job that updates their high-tier list. `tierPending` marks a change whose
 *  jobs are not yet all sent, so a crash in between is finished by the next reconcile. */
export async function reconcileTier(userId: string): Promise<Tier> {
  const row = (await profileRow(userId)) as (ProfileRow & { tierPending?: Tier }) | undefined;
  if (!row) return 'regular';
  const current = row.tier ?? 'regular';
  const next = tierFor(await followerCount(userId), current);
  const { table, key } = keys.profile(userId);
  if (next !== current) {
    try {
      await db().send(
        new UpdateCommand({
          TableName: table,
          Key: key,
          UpdateExpression: 'SET tier = :next, tierPending = :next',
          ConditionExpression: 'attribute_not_exists(tier) OR tier = :cur',
          ExpressionAttributeValues: { ':next': next, ':cur': current },
        }),
      );
    } catch (err) {
      if (isConditionFailure(err)) return reconcileTier(userId);
      throw err;
    }
  } else if (!row.tierPending) {
    return current;
  }
  const pending = next !== current ? next : row.tierPending!;
  await planTierChange(userId, pending);
  await db()
    .send(
      new UpdateCommand({
        TableName: table,
        Key: key,
        UpdateExpression: 'REMOVE tierPending',
        ConditionExpression: 'tierPending = :p',
        ExpressionAttributeValues: { ':p': pending },
      }),
    )
    .catch((err) => {
      if (!isConditionFailure(err)) throw err;
    });
  return pending;
}

