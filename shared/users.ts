// Users: profile creation (one per token subject, unique handles), look-ups, and the tier an
// author's follower count puts them in.
import { randomUUID } from 'node:crypto';
import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { batchGet, cancellationCodes, db, isConditionFailure } from './adapters/dynamodb.js';
import { config } from './config.js';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from './errors.js';
import { isId, mintId } from './ids.js';
import { keys } from './keys.js';
import { homeRegionOf, logicalShardIn, type RegionName } from './regions.js';

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

interface ProfileRow {
  pk: string;
  sk: string;
  userId: string;
  handle: string;
  displayName: string;
  country: string;
  homeRegion: RegionName;
  followerCount: number;
  followingCount: number;
  createdAt: string;
}

export function tierOf(followerCount: number): Tier {
  if (followerCount >= config().FEED_MEGA_THRESHOLD) return 'mega';
  if (followerCount >= config().FEED_CELEBRITY_THRESHOLD) return 'celebrity';
  return 'regular';
}

export function toUser(row: Record<string, unknown>): User {
  const r = row as unknown as ProfileRow;
  return {
    userId: r.userId,
    handle: r.handle,
    displayName: r.displayName,
    homeRegion: r.homeRegion,
    followerCount: r.followerCount,
    followingCount: r.followingCount,
    tier: tierOf(r.followerCount),
    createdAt: r.createdAt,
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
  for (let attempt = 0; ; attempt++) {
    const userId = mintId(logicalShardIn(homeRegion, randomUUID()));
    const row: ProfileRow = {
      ...keys.profile(userId).key,
      userId,
      handle: input.handle,
      displayName: input.displayName,
      country: input.country.toUpperCase(),
      homeRegion,
      followerCount: 0,
      followingCount: 0,
      createdAt: new Date().toISOString(),
    };
    const subject = keys.subject(sub);
    const handle = keys.handle(input.handle);
    const absent = 'attribute_not_exists(pk)';
    try {
      await db().send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: keys.profile(userId).table, Item: row, ConditionExpression: absent } },
            { Put: { TableName: subject.table, Item: { ...subject.key, userId }, ConditionExpression: absent } },
            { Put: { TableName: handle.table, Item: { ...handle.key, userId }, ConditionExpression: absent } },
          ],
        }),
      );
      return toUser(row as unknown as Record<string, unknown>);
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const [idTaken, subjectTaken, handleTaken] = cancellationCodes(err);
      if (subjectTaken) throw new ConflictError('this account already has a profile', 'profile_exists');
      if (handleTaken) throw new ConflictError(`handle ${input.handle} is taken`, 'handle_taken');
      if (!idTaken || attempt >= ID_COLLISION_RETRIES) throw err;
    }
  }
}

export async function findUser(userId: string): Promise<User | undefined> {
  if (!isId(userId)) return undefined;
  const { table, key } = keys.profile(userId);
  const out = await db().send(new GetCommand({ TableName: table, Key: key }));
  return out.Item ? toUser(out.Item) : undefined;
}

export async function getUser(userId: string): Promise<User> {
  const user = await findUser(userId);
  if (!user) throw new NotFoundError(`user ${userId} not found`);
  return user;
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

/** The caller's profile for actions that need one (posting, following): 403 without it. */
export async function requireProfile(sub: string): Promise<User> {
  const userId = await findUserIdBySubject(sub);
  const user = userId ? await findUser(userId) : undefined;
  if (!user) throw new ForbiddenError('create a profile with POST /v1/users first');
  return user;
}

/** Profiles for ids, in the given order; ids without a profile are left out. */
export async function usersByIds(ids: string[]): Promise<User[]> {
  const found = await batchGet(ids.map((id) => keys.profile(id)));
  const byId = new Map<string, User>();
  for (const rows of Object.values(found)) for (const row of rows) byId.set(row.userId as string, toUser(row));
  return ids.flatMap((id) => byId.get(id) ?? []);
}
