// User rows: profiles, the token-subject and handle directories, sharded follower counters,
// activity and tier marks on the profile. Every DynamoDB call about a user's own rows is here;
// callers pass ids, and keys.ts decides the table and key of each row.
import { GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchGet, cancellationCodes, db, isConditionFailure, updateIf } from './client.js';
import { counterRegions, keys, parseUsersKey } from './keys.js';
import { cardPut, getCardIn, getCards, type ProfileCard } from './directory.js';
import { isMultiRegion, selfRegion } from '../edge/network.js';
import { logicalShardOf } from '../domain/ids.js';
import { tableSetOfLogical, type TableSet } from '../domain/residency.js';
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

/** What creating a profile found: the id or the subject already taken (the handle is claimed
 *  beforehand in the directory, store/directory.ts). */
export type NewProfileOutcome = 'created' | 'id-taken' | 'subject-taken';

const absent = 'attribute_not_exists(pk)';

/** Writes a profile with its subject entry and public card in one conditional transaction, in
 *  the region serving the user's table set. */
export async function putNewProfile(sub: string, set: TableSet, row: ProfileRow): Promise<NewProfileOutcome> {
  const profile = keys.profile(row.userId);
  const subject = keys.subject(sub, set);
  try {
    await db().send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: profile.table, Item: { ...profile.key, ...row }, ConditionExpression: absent } },
          { Put: { TableName: subject.table, Item: { ...subject.key, userId: row.userId }, ConditionExpression: absent } },
          { Put: { ...cardPut(cardOf(row)), ConditionExpression: absent } },
        ],
      }),
    );
    return 'created';
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
    const [idTaken, subjectTaken] = cancellationCodes(err);
    if (subjectTaken) return 'subject-taken';
    if (idTaken) return 'id-taken';
    throw err;
  }
}

/** The public part of a profile row. */
export const cardOf = (row: ProfileRow): ProfileCard => ({
  userId: row.userId,
  handle: row.handle,
  displayName: row.displayName,
  homeRegion: row.homeRegion,
  tier: row.tier ?? 'regular',
  createdAt: row.createdAt,
});

/** A profile row standing in for a user whose home data this region does not hold: the card's
 *  public fields, nothing private (no country, activity or following count). */
const rowOfCard = (card: ProfileCard): ProfileRow => ({ ...card, country: '', followingCount: 0 });

/** Whether this region holds a replica of the user's home data (always, in one region). */
export function heldHere(userId: string): boolean {
  const self = selfRegion();
  return !isMultiRegion() || !self || tableSetOfLogical(logicalShardOf(userId)).replicas.includes(self);
}

const counterKeys = (userId: string) =>
  Array.from({ length: FOLLOWER_COUNTER_SHARDS }, (_, k) => counterRegions().map((region) => keys.followerCounter(userId, k, region))).flat();

/** Profile rows (cards for users homed outside this region's replicas) and summed follower
 *  counters of these ids, in one batched read; ids without a profile are absent from `rows`. */
export async function getProfilesWithCounts(userIds: string[]): Promise<{ rows: Map<string, ProfileRow>; counts: Map<string, number> }> {
  const held = userIds.filter(heldHere);
  const away = userIds.filter((id) => !heldHere(id));
  const [found, cards] = await Promise.all([batchGet([...held.map((id) => keys.profile(id)), ...userIds.flatMap(counterKeys)]), getCards(away)]);
  const rows = new Map<string, ProfileRow>();
  const counts = new Map<string, number>();
  for (const item of Object.values(found).flat()) {
    const row = parseUsersKey(item.pk as string);
    if (row.kind === 'profile') rows.set(row.userId, item as unknown as ProfileRow);
    else if (row.kind === 'followerCounter') counts.set(row.userId, (counts.get(row.userId) ?? 0) + Number(item.count ?? 0));
  }
  for (const [id, card] of cards) rows.set(id, rowOfCard(card));
  return { rows, counts };
}

/** A user's profile row; for a user whose home data this region does not hold, their card, and
 *  for one not here yet (signed up moments ago in another region), their card read there. */
export async function getProfile(userId: string): Promise<ProfileRow | undefined> {
  if (heldHere(userId)) {
    const { table, key } = keys.profile(userId);
    const row = (await db().send(new GetCommand({ TableName: table, Key: key }))).Item as ProfileRow | undefined;
    if (row || !isMultiRegion()) return row;
  } else {
    const card = (await getCards([userId])).get(userId);
    if (card) return rowOfCard(card);
  }
  const home = tableSetOfLogical(logicalShardOf(userId)).home;
  const card = home === selfRegion() ? undefined : await getCardIn(home, userId);
  return card && rowOfCard(card);
}

/** Profile rows (no counters) for ids, cards standing in as in getProfile; unknown ids are left out. */
export async function getProfiles(userIds: string[]): Promise<ProfileRow[]> {
  const [found, cards] = await Promise.all([batchGet(userIds.filter(heldHere).map((id) => keys.profile(id))), getCards(userIds.filter((id) => !heldHere(id)))]);
  return [...(Object.values(found).flat() as unknown as ProfileRow[]), ...[...cards.values()].map(rowOfCard)];
}

/** The user id a token subject created in its home table set, if any. */
export async function getUserIdBySubject(sub: string, set: TableSet): Promise<string | undefined> {
  const { table, key } = keys.subject(sub, set);
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
  const changed = await updateIf({
    TableName: table,
    Key: key,
    UpdateExpression: 'SET tier = :next, tierPending = :next',
    ConditionExpression: 'attribute_not_exists(tier) OR tier = :cur',
    ExpressionAttributeValues: { ':next': next, ':cur': current },
  });
  // The card follows (other regions route the author's posts by it). Written after the profile:
  // a retry of the tier change rewrites it, and a card briefly behind routes as before.
  if (changed) {
    const card = keys.card(userId);
    await db().send(new UpdateCommand({ TableName: card.table, Key: card.key, UpdateExpression: 'SET tier = :next', ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeValues: { ':next': next } })).catch((err) => {
      if (!isConditionFailure(err)) throw err;
    });
  }
  return changed;
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
