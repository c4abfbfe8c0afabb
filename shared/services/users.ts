// Users: profile creation (one per token subject, unique handles), look-ups, follower counts
// (summed from sharded counters), the fan-out tier an author's count puts them in, and activity.
import { randomUUID } from 'node:crypto';
import { GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchGet, cancellationCodes, db, isConditionFailure, type TableKey } from '../store/client.js';
import { recordActive } from '../cache/pull-cache.js';
import { config } from '../edge/config.js';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../domain/errors.js';
import { isId, mintId } from '../domain/ids.js';
import { keys } from '../store/keys.js';
import { FOLLOWER_COUNTER_SHARDS, TIER_HYSTERESIS } from '../domain/limits.js';
import { homeRegionOf, logicalShardIn, type RegionName } from '../domain/regions.js';

export type Tier = 'regular' | 'celebrity' | 'mega';

export interface User {
  userId: string;
  handle: string;
  displayName: string;
  homeRegion: RegionName;
  followerCount: number;
  followingCount: number;
  tier: Tier;
  createdAt: string;
}

/** The stored profile row (without the follower count, which lives in counter items). */
export interface ProfileRow {
  userId: string;
  handle: string;
  displayName: string;
  country: string;
  homeRegion: RegionName;
  followingCount: number;
  tier?: Tier;
  /** Epoch seconds of the last recorded activity (feed read, post). */
  activeAt?: number;
  vipCount?: number;
  createdAt: string;
}

/** The tier for a follower count, given the current one: upgrades at the thresholds, downgrades
 *  only below TIER_HYSTERESIS of them. */
export function tierFor(count: number, current: Tier = 'regular'): Tier {
  const { FEED_CELEBRITY_THRESHOLD: celebrity, FEED_MEGA_THRESHOLD: mega } = config();
  const rank = { regular: 0, celebrity: 1, mega: 2 } as const;
  const up: Tier = count >= mega ? 'mega' : count >= celebrity ? 'celebrity' : 'regular';
  if (rank[up] >= rank[current]) return up;
  const down: Tier = count >= mega * TIER_HYSTERESIS ? 'mega' : count >= celebrity * TIER_HYSTERESIS ? 'celebrity' : 'regular';
  return rank[down] < rank[current] ? down : current;
}

export function toUser(row: ProfileRow, followerCount: number): User {
  return {
    userId: row.userId,
    handle: row.handle,
    displayName: row.displayName,
    homeRegion: row.homeRegion,
    followerCount,
    followingCount: row.followingCount,
    tier: row.tier ?? 'regular',
    createdAt: row.createdAt,
  };
}

export interface NewUser {
  handle: string;
  displayName: string;
  country: string;
}

const ID_COLLISION_RETRIES = 3;

export async function createUser(sub: string, input: NewUser): Promise<User> {
  const homeRegion = homeRegionOf(input.country, sub);
  if (!homeRegion) throw new BadRequestError(`country ${input.country} is not an ISO 3166-1 alpha-2 code`, 'invalid_request');
  const served = config().FEED_REGION;
  if (served && homeRegion !== served) {
    throw new ConflictError(`accounts from ${input.country.toUpperCase()} are served by ${homeRegion}, not ${served}`, 'wrong_region');
  }
  for (let attempt = 0; ; attempt++) {
    const userId = mintId(logicalShardIn(homeRegion, randomUUID()));
    const row: ProfileRow = {
      userId,
      handle: input.handle,
      displayName: input.displayName,
      country: input.country.toUpperCase(),
      homeRegion,
      followingCount: 0,
      tier: 'regular',
      createdAt: new Date().toISOString(),
    };
    const profile = keys.profile(userId);
    const subject = keys.subject(sub);
    const handle = keys.handle(input.handle);
    const absent = 'attribute_not_exists(pk)';
    try {
      await db().send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: profile.table, Item: { ...profile.key, ...row }, ConditionExpression: absent } },
            { Put: { TableName: subject.table, Item: { ...subject.key, userId }, ConditionExpression: absent } },
            { Put: { TableName: handle.table, Item: { ...handle.key, userId }, ConditionExpression: absent } },
          ],
        }),
      );
      return toUser(row, 0);
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const [idTaken, subjectTaken, handleTaken] = cancellationCodes(err);
      if (subjectTaken) throw new ConflictError('this account already has a profile', 'profile_exists');
      if (handleTaken) throw new ConflictError(`handle ${input.handle} is taken`, 'handle_taken');
      if (!idTaken || attempt >= ID_COLLISION_RETRIES) throw err;
    }
  }
}

/** Profiles with their summed follower counts, in the given order; unknown ids are left out. */
export async function usersByIds(ids: string[]): Promise<User[]> {
  const valid = ids.filter(isId);
  const wanted: TableKey[] = valid.flatMap((id) => [
    keys.profile(id),
    ...Array.from({ length: FOLLOWER_COUNTER_SHARDS }, (_, k) => keys.followerCounter(id, k)),
  ]);
  const found = await batchGet(wanted);
  const rows = new Map<string, ProfileRow>();
  const counts = new Map<string, number>();
  for (const items of Object.values(found)) {
    for (const item of items) {
      const pk = item.pk as string;
      if (pk.startsWith('user#')) rows.set(item.userId as string, item as unknown as ProfileRow);
      else if (pk.startsWith('fc#')) {
        const id = pk.split('#')[1]!;
        counts.set(id, (counts.get(id) ?? 0) + Number(item.count ?? 0));
      }
    }
  }
  return valid.flatMap((id) => {
    const row = rows.get(id);
    return row ? [toUser(row, Math.max(0, counts.get(id) ?? 0))] : [];
  });
}

export async function findUser(userId: string): Promise<User | undefined> {
  return (await usersByIds([userId]))[0];
}

export async function getUser(userId: string): Promise<User> {
  const user = await findUser(userId);
  if (!user) throw new NotFoundError(`user ${userId} not found`);
  return user;
}

/** The stored profile row alone (no counters): for paths that need tier or activity. */
export async function profileRow(userId: string): Promise<ProfileRow | undefined> {
  if (!isId(userId)) return undefined;
  const { table, key } = keys.profile(userId);
  const out = await db().send(new GetCommand({ TableName: table, Key: key }));
  return out.Item as ProfileRow | undefined;
}

/** Profile rows (no counters) for ids; unknown ids are left out. */
export async function profileRows(userIds: string[]): Promise<ProfileRow[]> {
  const found = await batchGet(userIds.filter(isId).map((id) => keys.profile(id)));
  return Object.values(found).flat() as unknown as ProfileRow[];
}

export async function findUserIdBySubject(sub: string): Promise<string | undefined> {
  const { table, key } = keys.subject(sub);
  const out = await db().send(new GetCommand({ TableName: table, Key: key }));
  return out.Item?.userId as string | undefined;
}

/** The caller's own profile; 404 before one exists. */
export async function getMe(sub: string): Promise<User> {
  const userId = await findUserIdBySubject(sub);
  const user = userId ? await findUser(userId) : undefined;
  if (!user) throw new NotFoundError('no profile for this token yet; create one with POST /v1/users');
  return user;
}

// Feed reads look their caller up on every request; a cache hit should cost no database read,
// so the caller's row is kept in process for as long as an L1 feed page (60 s). Only fields that
// do not change under a reader (id, activity, which this process updates itself) are used from it.
const CALLER_TTL_MS = 60_000;
const CALLER_CACHE_MAX = 100_000;
const callers = new Map<string, { row: ProfileRow; at: number }>();

/** callerRow for reads: served from the process's short-lived cache when it can. */
export async function cachedCallerRow(sub: string): Promise<ProfileRow> {
  const hit = callers.get(sub);
  if (hit && Date.now() - hit.at < CALLER_TTL_MS) return hit.row;
  const row = await callerRow(sub, 404);
  callers.delete(sub);
  if (callers.size >= CALLER_CACHE_MAX) callers.delete(callers.keys().next().value!);
  callers.set(sub, { row, at: Date.now() });
  return row;
}

/** The caller's profile row for actions that need one (posting, following, reading the feed);
 *  `status` is the error when there is none (403 for actions, 404 for reads). */
export async function callerRow(sub: string, status: 403 | 404 = 403): Promise<ProfileRow> {
  const userId = await findUserIdBySubject(sub);
  const row = userId ? await profileRow(userId) : undefined;
  if (row) return row;
  if (status === 404) throw new NotFoundError('no profile for this token yet; create one with POST /v1/users');
  throw new ForbiddenError('create a profile with POST /v1/users first');
}

/** Sum of a user's follower counter items (a strongly consistent read). */
export async function followerCount(userId: string): Promise<number> {
  const found = await batchGet(Array.from({ length: FOLLOWER_COUNTER_SHARDS }, (_, k) => keys.followerCounter(userId, k)));
  let sum = 0;
  for (const items of Object.values(found)) for (const item of items) sum += Number(item.count ?? 0);
  return Math.max(0, sum);
}

/** Records activity at most once per FEED_ACTIVITY_RESOLUTION_SECONDS (the row in hand tells
 *  whether it is due, so a recent reader costs no write). True when it wrote. */
export async function touchActivity(row: ProfileRow, nowSeconds = Math.floor(Date.now() / 1000)): Promise<boolean> {
  const resolution = config().FEED_ACTIVITY_RESOLUTION_SECONDS;
  if (row.activeAt !== undefined && nowSeconds - row.activeAt < resolution) return false;
  const { table, key } = keys.profile(row.userId);
  try {
    await db().send(
      new UpdateCommand({
        TableName: table,
        Key: key,
        UpdateExpression: 'SET activeAt = :now',
        ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(activeAt) OR activeAt <= :due)',
        ExpressionAttributeValues: { ':now': nowSeconds, ':due': nowSeconds - resolution },
      }),
    );
    row.activeAt = nowSeconds;
    await recordActive(row.userId, nowSeconds);
    return true;
  } catch (err) {
    // Recorded recently by another request: remember that, so this row does not try again.
    if (isConditionFailure(err)) {
      row.activeAt = nowSeconds;
      return false;
    }
    throw err;
  }
}
