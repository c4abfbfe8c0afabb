// User rows: profiles, the token-subject and handle directories, sharded follower counters,
// activity and tier marks on the profile. Every DynamoDB call about a user's own rows is here;
// callers pass ids, and keys.ts decides the table and key of each row.
import { GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchGet, cancellationCodes, db, isConditionFailure, updateIf } from './client.js';
import { keys, parseUsersKey } from './keys.js';
import { FOLLOWER_COUNTER_SHARDS } from '../domain/limits.js';
import type { RegionName } from '../domain/regions.js';
import type { Tier } from '../domain/tier-policy.js';

/** The stored profile row (without the follower count, which lives in counter items). */
export interface ProfileRow {
  userId: string;
  handle: string;
  displayName: string;
  country: string;
  homeRegion: RegionName;
  followingCount: number;
  tier?: Tier;
  /** A tier change whose follower jobs are not yet all sent (see services/tiers.ts). */
  tierPending?: Tier;
  /** Epoch seconds of the last recorded activity (feed read, post). */
  activeAt?: number;
  vipCount?: number;
  createdAt: string;
}

/** What creating a profile found: the id, the subject or the handle already taken. */
export type NewProfileOutcome = 'created' | 'id-taken' | 'subject-taken' | 'handle-taken';

const absent = 'attribute_not_exists(pk)';

/** Writes a profile with its subject and handle claims in one conditional transaction. */
export async function putNewProfile(sub: string, row: ProfileRow): Promise<NewProfileOutcome> {
  const profile = keys.profile(row.userId);
  const subject = keys.subject(sub);
  const handle = keys.handle(row.handle);
  try {
    await db().send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: profile.table, Item: { ...profile.key, ...row }, ConditionExpression: absent } },
          { Put: { TableName: subject.table, Item: { ...subject.key, userId: row.userId }, ConditionExpression: absent } },
          { Put: { TableName: handle.table, Item: { ...handle.key, userId: row.userId }, ConditionExpression: absent } },
        ],
      }),
    );
    return 'created';
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const [idTaken, subjectTaken, handleTaken] = cancellationCodes(err);
    if (subjectTaken) return 'subject-taken';
    if (handleTaken) return 'handle-taken';
    if (idTaken) return 'id-taken';
    throw err;
  }
}

const counterKeys = (userId: string) => Array.from({ length: FOLLOWER_COUNTER_SHARDS }, (_, k) => keys.followerCounter(userId, k));

/** Profile rows and summed follower counters of these ids, in one batched read; ids without a
 *  profile are absent from `rows`. */
export async function getProfilesWithCounts(userIds: string[]): Promise<{ rows: Map<string, ProfileRow>; counts: Map<string, number> }> {
  const found = await batchGet(userIds.flatMap((id) => [keys.profile(id), ...counterKeys(id)]));
  const rows = new Map<string, ProfileRow>();
  const counts = new Map<string, number>();
  for (const item of Object.values(found).flat()) {
    const row = parseUsersKey(item.pk as string);
    if (row.kind === 'profile') rows.set(row.userId, item as unknown as ProfileRow);
    else if (row.kind === 'followerCounter') counts.set(row.userId, (counts.get(row.userId) ?? 0) + Number(item.count ?? 0));
  }
  return { rows, counts };
}

export async function getProfile(userId: string): Promise<ProfileRow | undefined> {
  const { table, key } = keys.profile(userId);
  const out = await db().send(new GetCommand({ TableName: table, Key: key }));
  return out.Item as ProfileRow | undefined;
}

/** Profile rows (no counters) for ids; unknown ids are left out. */
export async function getProfiles(userIds: string[]): Promise<ProfileRow[]> {
  const found = await batchGet(userIds.map((id) => keys.profile(id)));
  return Object.values(found).flat() as unknown as ProfileRow[];
}

/** The user id a token subject created, if any. */
export async function getUserIdBySubject(sub: string): Promise<string | undefined> {
  const { table, key } = keys.subject(sub);
  const out = await db().send(new GetCommand({ TableName: table, Key: key }));
  return out.Item?.userId as string | undefined;
}

/** Sum of a user's follower counter items (a strongly consistent read). */
export async function sumFollowerCounters(userId: string): Promise<number> {
  const found = await batchGet(counterKeys(userId));
  let sum = 0;
  for (const item of Object.values(found).flat()) sum += Number(item.count ?? 0);
  return sum;
}

/** Sets the profile's activeAt to `nowSeconds` unless it was set within `resolutionSeconds`
 *  (by another request); true when it wrote. */
export async function putProfileActivity(userId: string, nowSeconds: number, resolutionSeconds: number): Promise<boolean> {
  const { table, key } = keys.profile(userId);
  return updateIf({
    TableName: table,
    Key: key,
    UpdateExpression: 'SET activeAt = :now',
    ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(activeAt) OR activeAt <= :due)',
    ExpressionAttributeValues: { ':now': nowSeconds, ':due': nowSeconds - resolutionSeconds },
  });
}

/** Moves a profile from tier `current` to `next`, marking the change pending until its follower
 *  jobs are sent; false when the stored tier is no longer `current` (a concurrent change). */
export async function putTierChange(userId: string, current: Tier, next: Tier): Promise<boolean> {
  const { table, key } = keys.profile(userId);
  return updateIf({
    TableName: table,
    Key: key,
    UpdateExpression: 'SET tier = :next, tierPending = :next',
    ConditionExpression: 'attribute_not_exists(tier) OR tier = :cur',
    ExpressionAttributeValues: { ':next': next, ':cur': current },
  });
}

/** Clears a pending tier change once its jobs are sent (a no-op if another change replaced it). */
export async function clearTierPending(userId: string, pending: Tier): Promise<void> {
  const { table, key } = keys.profile(userId);
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
}
