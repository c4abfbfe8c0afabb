// The public directory (replicated to every region): handle claims and token-subject hints, each
// claimed by a conditional write in its authority region (row-kinds.ts authorityRegion) so two
// regions never both win, and the users' public profile cards, written by the region serving the
// user. Reads are of this region's replica.
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { authorityRegion } from '../declarations/row-kinds.js';
import { config } from '../edge/config.js';
import { isMultiRegion, networkRegions } from '../edge/network.js';
import { RegionUnavailableError } from '../domain/errors.js';
import type { RegionName } from '../domain/regions.js';
import type { Tier } from '../domain/tier-policy.js';
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from '../domain/limits.js';
import { batchGet, db, dbIn, isConditionFailure } from './client.js';
import { keys } from './keys.js';

/** The public part of a profile, shown and used by every region. */
export interface ProfileCard {
  userId: string;
  handle: string;
  displayName: string;
  homeRegion: RegionName;
  tier?: Tier;
  createdAt: string;
}

/** The client of the region where a directory row is claimed (this one in a one-region network). */
function authority(shard: number): { client: ReturnType<typeof db>; region?: RegionName } {
  if (!isMultiRegion()) return { client: db() };
  const region = authorityRegion('directory', shard, config().FEED_SHARDS, networkRegions());
  if (!region) throw new Error(`no region of the network holds directory table ${shard}`);
  return { client: dbIn(region), region };
}

/** Sends a claim to its authority region: 503 region_unavailable while that region is down. */
async function sendThere<T>(shard: number, what: string, send: (client: ReturnType<typeof db>) => Promise<T>): Promise<T> {
  const { client, region } = authority(shard);
  try {
    return await send(client);
  } catch (err) {
    if (!region || isConditionFailure(err)) throw err;
    throw new RegionUnavailableError(`${what} is decided in ${region}, which cannot be reached; retry later`, UNAVAILABLE_RETRY_AFTER_SECONDS);
  }
}

/** A conditional put in the authority region; on a failed condition, the item that won. */
async function claim(shard: number, what: string, put: PutCommand, read: GetCommand): Promise<Record<string, unknown> | undefined> {
  return sendThere(shard, what, async (client) => {
    try {
      await client.send(put);
      return undefined;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      return (await client.send(read)).Item ?? {};
    }
  });
}

/** What a claim found: ours (new, or made earlier by the same subject), or another's. */
export type ClaimOutcome = { mine: true; userId: string } | { mine: false };

/** Claims a handle for `userId` on behalf of the subject hashed in `subjectKey`; a claim the
 *  same subject made before (a retried sign-up) is returned as ours, with its user id. */
export async function claimHandle(handle: string, userId: string, subjectKey: string): Promise<ClaimOutcome> {
  const { table, shard, key } = keys.handle(handle);
  const existing = await claim(
    shard,
    `handle ${handle}`,
    new PutCommand({ TableName: table, Item: { ...key, userId, subject: subjectKey }, ConditionExpression: 'attribute_not_exists(pk) OR subject = :s', ExpressionAttributeValues: { ':s': subjectKey } }),
    new GetCommand({ TableName: table, Key: key, ConsistentRead: true }),
  );
  if (!existing) return { mine: true, userId };
  return existing.subject === subjectKey ? { mine: true, userId: existing.userId as string } : { mine: false };
}

/** Gives a handle back (a sign-up that could not complete); only the claim of `userId`. */
export async function releaseHandle(handle: string, userId: string): Promise<void> {
  const { table, shard, key } = keys.handle(handle);
  await sendThere(shard, `handle ${handle}`, (client) =>
    client.send(new DeleteCommand({ TableName: table, Key: key, ConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId } })).catch((err) => {
      if (!isConditionFailure(err)) throw err;
    }),
  );
}

/** Claims the subject's home table set; answers the set already claimed (the first sign-up of a
 *  subject decides its home for good). */
export async function claimSubjectHint(sub: string, set: string): Promise<string> {
  const { table, shard, key } = keys.subjectHint(sub);
  const existing = await claim(
    shard,
    'this account’s home region',
    new PutCommand({ TableName: table, Item: { ...key, set }, ConditionExpression: 'attribute_not_exists(pk)' }),
    new GetCommand({ TableName: table, Key: key, ConsistentRead: true }),
  );
  return existing ? (existing.set as string) : set;
}

/** The home table set of a subject, from this region's replica or else its authority region's;
 *  undefined: not signed up. */
export async function getSubjectHint(sub: string): Promise<string | undefined> {
  const { table, shard, key } = keys.subjectHint(sub);
  const here = (await db().send(new GetCommand({ TableName: table, Key: key }))).Item?.set as string | undefined;
  if (here || !isMultiRegion()) return here;
  // Not here yet (a sign-up moments ago, replicating): the authority region has every claim.
  return sendThere(shard, 'this account’s home region', async (client) => (await client.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item?.set as string | undefined);
}

/** Cards of these ids from this region's replica; unknown ids are left out. */
export async function getCards(userIds: string[]): Promise<Map<string, ProfileCard>> {
  const found = await batchGet(userIds.map((id) => keys.card(id)));
  const cards = new Map<string, ProfileCard>();
  for (const item of Object.values(found).flat()) cards.set(item.userId as string, item as unknown as ProfileCard);
  return cards;
}

/** The card item written with a profile (in its transaction) or on a tier change. */
export function cardPut(card: ProfileCard) {
  const { table, key } = keys.card(card.userId);
  return { TableName: table, Item: { ...key, ...card } };
}

export async function putCard(card: ProfileCard): Promise<void> {
  await db().send(new PutCommand(cardPut(card)));
}

/** One card, read in `region` (strongly): a user who signed up there moments ago, whose card is
 *  still replicating here. */
export async function getCardIn(region: RegionName, userId: string): Promise<ProfileCard | undefined> {
  if (!networkRegions().includes(region)) return undefined;
  const { table, key } = keys.card(userId);
  try {
    return (await dbIn(region).send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item as ProfileCard | undefined;
  } catch {
    return undefined;
  }
}
