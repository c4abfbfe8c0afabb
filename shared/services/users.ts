// Users: profile creation (one per token subject, unique handles), look-ups, follower counts
// (summed from sharded counters), the fan-out tier an author's count puts them in, and activity.
// The rows themselves are read and written by shared/store/users.ts.
import { randomUUID } from 'node:crypto';
import { recordActive } from '../cache/pull-cache.js';
import { config } from '../edge/config.js';
import { BadRequestError, ConflictError, ForbiddenError, MisdirectedError, NotFoundError, RegionUnavailableError } from '../domain/errors.js';
import { isId, logicalShardOf, mintId } from '../domain/ids.js';
import { homeRegionOf, type RegionName } from '../domain/regions.js';
import { logicalShardInSet, tableSetByName, tableSetFor, tableSetOfLogical, type TableSet } from '../domain/residency.js';
import { isMultiRegion, whereServed } from '../edge/network.js';
import { claimHandle, claimSubjectHint, getSubjectHint, releaseHandle } from '../store/directory.js';
import { subjectHash } from '../store/keys.js';
import { REGION_RETRY_AFTER_SECONDS } from '../domain/limits.js';
import { tierOf, type Tier } from '../domain/tier-policy.js';
import {
  getProfile,
  getProfiles,
  getProfilesWithCounts,
  getUserIdBySubject,
  putNewProfile,
  putProfileActivity,
  sumFollowerCounters,
  type ProfileRow,
} from '../store/users.js';

export type { Tier } from '../domain/tier-policy.js';
export type { ProfileRow } from '../store/users.js';

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

/** The tier for a follower count under the configured thresholds (see domain/tier-policy.ts). */
export function tierFor(count: number, current: Tier = 'regular'): Tier {
  const { FEED_CELEBRITY_THRESHOLD: celebrity, FEED_MEGA_THRESHOLD: mega } = config();
  return tierOf(count, current, { celebrity, mega });
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

/** A minted id is random within its shard; a collision is rare, three in a row is a fault. */
const ID_COLLISION_RETRIES = 3;

export async function createUser(sub: string, input: NewUser): Promise<User> {
  const homeRegion = homeRegionOf(input.country, sub);
  if (!homeRegion) throw new BadRequestError(`country ${input.country} is not an ISO 3166-1 alpha-2 code`, 'invalid_request');
  // The first sign-up of a subject decides its home set for good, network-wide.
  const known = await getSubjectHint(sub);
  const set = tableSetByName(known ?? (await claimSubjectHint(sub, tableSetFor(homeRegion, input.country).name)));
  await assertServedHere(set, `the account of this token (home region ${set.home})`);
  const subjectKey = subjectHash(sub);
  for (let attempt = 0; ; attempt++) {
    const minted = mintId(logicalShardInSet(set, randomUUID()));
    const handle = await claimHandle(input.handle, minted, subjectKey);
    if (!handle.mine) throw new ConflictError(`handle ${input.handle} is taken`, 'handle_taken');
    const row: ProfileRow = {
      userId: handle.userId,
      handle: input.handle,
      displayName: input.displayName,
      country: input.country.toUpperCase(),
      homeRegion: set.home,
      followingCount: 0,
      tier: 'regular',
      createdAt: new Date().toISOString(),
    };
    const outcome = await putNewProfile(sub, set, row);
    if (outcome === 'created') return toUser(row, 0);
    await releaseHandle(input.handle, row.userId);
    if (outcome === 'subject-taken') throw new ConflictError('this account already has a profile', 'profile_exists');
    if (attempt >= ID_COLLISION_RETRIES) throw new Error(`user id collided ${attempt + 1} times`);
  }
}

/** Throws unless this region serves the set's users now: 421 home_region naming the region that
 *  does, or 503 region_unavailable when none may (the home region down, and no failover region
 *  allowed or up). */
export async function assertServedHere(set: TableSet, what: string): Promise<void> {
  const serving = await whereServed(set);
  if (serving.at === 'here') return;
  if (serving.at === 'elsewhere') throw new MisdirectedError(serving.region, serving.api, what);
  throw new RegionUnavailableError(`${what} is served by ${set.home}, which is down, and ${set.failover ? `its failover region ${set.failover} is down too` : 'may not fail over outside its residency zone'}; retry later`, REGION_RETRY_AFTER_SECONDS);
}

/** Profiles with their summed follower counts, in the given order; unknown ids are left out. */
export async function usersByIds(ids: string[]): Promise<User[]> {
  const valid = ids.filter(isId);
  const { rows, counts } = await getProfilesWithCounts(valid);
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
  return isId(userId) ? getProfile(userId) : undefined;
}

/** Profile rows (no counters) for ids; unknown ids are left out. */
export async function profileRows(userIds: string[]): Promise<ProfileRow[]> {
  return getProfiles(userIds.filter(isId));
}

/** The user id of a token subject, served here: 421 or 503 when its home set is served by
 *  another region or by none (assertServedHere); undefined before the subject signs up. */
export async function findUserIdBySubject(sub: string): Promise<string | undefined> {
  const setName = await getSubjectHint(sub);
  if (!setName) return undefined;
  const set = tableSetByName(setName);
  await assertServedHere(set, `the account of this token (home region ${set.home})`);
  return getUserIdBySubject(sub, set);
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

/** Forgets every caller row kept by cachedCallerRow (tools, the bench's refill of its hot set):
 *  each caller's next read looks them up again. */
export function forgetCachedCallers(): void {
  callers.clear();
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

/** A user's follower count: the sum of their counter items (a strongly consistent read). */
export async function followerCount(userId: string): Promise<number> {
  return Math.max(0, await sumFollowerCounters(userId));
}

/** Records activity at most once per FEED_ACTIVITY_RESOLUTION_SECONDS (the row in hand tells
 *  whether it is due, so a recent reader costs no write). True when it wrote. */
export async function touchActivity(row: ProfileRow, nowSeconds = Math.floor(Date.now() / 1000)): Promise<boolean> {
  const resolution = config().FEED_ACTIVITY_RESOLUTION_SECONDS;
  if (row.activeAt !== undefined && nowSeconds - row.activeAt < resolution) return false;
  const wrote = await putProfileActivity(row.userId, nowSeconds, resolution);
  // Not written means recorded recently by another request: remember that either way, so this
  // row does not try again.
  row.activeAt = nowSeconds;
  if (wrote) await recordActive(row.userId, nowSeconds);
  return wrote;
}

/** The ids among `userIds` whose home data this region serves now: each region pushes a post
 *  (replicated to it) to its own users' feeds only, and to a down region's users it fails over. */
export async function servedHere(userIds: string[]): Promise<string[]> {
  if (!isMultiRegion()) return userIds;
  const bySet = new Map<TableSet, boolean>();
  for (const id of userIds) bySet.set(tableSetOfLogical(logicalShardOf(id)), false);
  for (const set of bySet.keys()) bySet.set(set, (await whereServed(set)).at === 'here');
  return userIds.filter((id) => bySet.get(tableSetOfLogical(logicalShardOf(id))));
}

/** Where each user's home data is served now: undefined for this region, else the region; a user
 *  whose data no region may serve now (their region down, no failover) throws 503, so a queued
 *  delivery to them is retried later instead of dropped. */
export async function servingRegions(userIds: string[]): Promise<Map<string, RegionName | undefined>> {
  const out = new Map<string, RegionName | undefined>();
  if (!isMultiRegion()) return out;
  const bySet = new Map<TableSet, Promise<Awaited<ReturnType<typeof whereServed>>>>();
  for (const id of userIds) {
    const set = tableSetOfLogical(logicalShardOf(id));
    if (!bySet.has(set)) bySet.set(set, whereServed(set));
    const serving = await bySet.get(set)!;
    if (serving.at === 'nowhere') throw new RegionUnavailableError(`user ${id}'s region ${set.home} is down`, REGION_RETRY_AFTER_SECONDS);
    out.set(id, serving.at === 'elsewhere' ? serving.region : undefined);
  }
  return out;
}
