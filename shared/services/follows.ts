// Follows: follow and unfollow (edges, counters and high-tier entries in one store transaction,
// then backfill or removal of the followee's posts in the caller's feed), VIP marks, tier
// application to followers' high-tier lists, the active-follower index, and paged edge lists.
// All are idempotent, and a retry after a partial failure converges. The whole follow request
// (with notification, tier and cache steps) is services/follow-requests.ts; rows are store/follows.ts.
import { config } from '../edge/config.js';
import { isMultiRegion, networkRegions, selfRegion, whereServed } from '../edge/network.js';
import { logicalShardOf } from '../domain/ids.js';
import type { RegionName } from '../domain/regions.js';
import type { Post } from '../domain/post.js';
import { tableSetOfLogical } from '../domain/residency.js';
import { AfterId, decodeCursor, encodeCursor } from '../domain/cursor.js';
import { NotFoundError } from '../domain/errors.js';
import { assertCanFollow, vipMarkError } from '../domain/follow-policy.js';
import { isId } from '../domain/ids.js';
import { isHighTier } from '../domain/tier-policy.js';
import {
  deleteFollowEdges,
  deleteHighTierEntries,
  deleteVipMark,
  followerBuckets,
  getFollowSince,
  putActiveFollowerMarks,
  putFollowEdges,
  putHighTierEntries,
  putVipMark,
  queryActiveFollowerPage,
  queryEdgePage,
  queryFollowerBucketPage,
  queryHighTierFollowees,
  queryVipPage,
  type ActiveCursor,
  type Direction,
} from '../store/follows.js';
import { backfill, removeAuthorFromFeed } from './feed-entries.js';
import { callerRow, getUser, profileRow, profileRows, usersByIds, type ProfileRow, type Tier, type User } from './users.js';

export type { ActiveCursor, Direction } from '../store/follows.js';

export interface UserPage {
  items: User[];
  nextCursor: string | null;
}

/** PUT /v1/me/vips/{userId}: the caller marks one of their followers as VIP. */
export async function markVip(sub: string, followerId: string): Promise<void> {
  await setVip((await callerRow(sub)).userId, followerId, true);
}

/** DELETE /v1/me/vips/{userId}: the caller clears a follower's VIP mark. */
export async function clearVip(sub: string, followerId: string): Promise<void> {
  await setVip((await callerRow(sub)).userId, followerId, false);
}

/** Follows; true when the edge is new (false when already following). */
/** What a follow request did: `created` a new edge, or found the edge made `since` (an earlier
 *  request, perhaps one that failed before its side effects). */
export type FollowOutcome = ({ created: true } | { created: false; since?: string }) & {
  /** The followee's tier when the edge was written. */
  tier: Tier;
  /** The followee's posts the backfill put into the follower's feed, newest first. */
  backfilled: Post[];
};

export async function follow(caller: User | ProfileRow, targetId: string): Promise<FollowOutcome> {
  assertCanFollow(caller.userId, targetId);
  const target = await profileRow(targetId);
  if (!target) throw new NotFoundError(`user ${targetId} not found`);
  const tier = target.tier ?? 'regular';
  const created = await putFollowEdges(caller.userId, targetId, tier, new Date().toISOString());
  // An active reader who follows a celebrity joins its active-follower index now, not at their
  // next activity write (up to FEED_ACTIVITY_RESOLUTION_SECONDS later).
  if (tier === 'celebrity' && 'activeAt' in caller) await indexActive(targetId, [caller]);
  // Backfill runs even when the edge already existed, so a retry after a failed backfill
  // completes it (entries are idempotent).
  const backfilled = await backfill(caller.userId, targetId);
  return created ? { created, tier, backfilled } : { created, since: await getFollowSince(caller.userId, targetId), tier, backfilled };
}

export async function unfollow(caller: User | ProfileRow, targetId: string): Promise<void> {
  await getUser(targetId);
  await deleteFollowEdges(caller.userId, targetId);
  // Cleared whether or not this request removed the edge: a retry after a failure between the
  // transaction and here must still clear it (the delete is conditional, so it is idempotent).
  await setVip(targetId, caller.userId, false);
  await removeAuthorFromFeed(caller.userId, targetId);
}

/** Applies an author's tier to some followers' high-tier lists: added (only while the follower
 *  still follows) for celebrity/mega, removed for regular. */
export async function applyTier(authorId: string, tier: Tier, followerIds: string[]): Promise<void> {
  if (!isHighTier(tier)) return deleteHighTierEntries(authorId, followerIds);
  // Followers active now join a new celebrity's active-follower index straight away.
  if (tier === 'celebrity') await indexActive(authorId, await profileRows(followerIds));
  await putHighTierEntries(authorId, tier, followerIds);
}

/** The high-tier authors a user follows (bounded by how many they follow). */
export const highTierFollowees = (userId: string) => queryHighTierFollowees(userId);

/** Marks or clears a follower as VIP of an author (at most VIPS_MAX). Idempotent. */
export async function setVip(authorId: string, followerId: string, on: boolean): Promise<void> {
  if (!isId(followerId)) throw new NotFoundError(`user ${followerId} not found`);
  if (!on) {
    await deleteVipMark(authorId, followerId);
    return;
  }
  const error = vipMarkError(await putVipMark(authorId, followerId), followerId);
  if (error) throw error;
}

/** One page of an author's VIP followers, in id order. */
export const vipPage = (authorId: string, limit: number, after?: string) => queryVipPage(authorId, limit, after);

/** One page of ids on a user's edge list, in id order (a user's followers merged over their
 *  edge buckets). */
export const edgePage = (userId: string, direction: Direction, limit: number, after?: string) => queryEdgePage(userId, direction, limit, after);

/** How many buckets a user's followers are spread over (README "Celebrity edges"). */
export const followerBucketCount = (userId: string) => followerBuckets(userId);

/** One page of one bucket of a user's followers, in id order: fan-out pages buckets in parallel. */
export const followerBucketPage = (userId: string, bucket: number, buckets: number, limit: number, after?: string) =>
  queryFollowerBucketPage(userId, bucket, buckets, limit, after);

const activeWindowSeconds = () => config().FEED_ACTIVE_WINDOW_HOURS * 3600;
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Adds those of these followers active within FEED_ACTIVE_WINDOW_HOURS to the author's
 *  active-follower index. */
export async function indexActive(authorId: string, followers: Pick<ProfileRow, 'userId' | 'activeAt'>[]): Promise<number> {
  const window = activeWindowSeconds();
  const now = nowSeconds();
  const active = followers.filter((f) => f.activeAt !== undefined && f.activeAt + window > now);
  await putActiveFollowerMarks(active.map((f) => ({ authorId, followerId: f.userId, expiresAt: f.activeAt! + window })));
  return active.length;
}

/** Records in each celebrity followee's active-follower index that the user was just active
 *  (one write per celebrity followed, off the request's critical path of reads). */
export async function indexActivity(userId: string, activeAt: number): Promise<number> {
  const expiresAt = activeAt + activeWindowSeconds();
  const celebrities = (await queryHighTierFollowees(userId)).filter((a) => a.tier === 'celebrity');
  await putActiveFollowerMarks(celebrities.map(({ authorId }) => ({ authorId, followerId: userId, expiresAt })));
  return celebrities.length;
}

/** One page of an author's followers active within FEED_ACTIVE_WINDOW_HOURS, bucket by bucket,
 *  without touching inactive followers. */
export function activeFollowerPage(authorId: string, limit: number, from: ActiveCursor = { bucket: 0 }): Promise<{ ids: string[]; next?: ActiveCursor }> {
  return queryActiveFollowerPage(authorId, limit, from, nowSeconds());
}

/** Where else a user's edge list is kept, in a network of several regions. Whom a user follows is
 *  their home data: read in the region serving them when this one holds no replica of it. A
 *  user's followers are indexed by each follower's region on the user's shard: one copy per
 *  replica group of that table, each read where it is kept (the table set's serving region for
 *  the group this region is not part of). */
async function edgeRegions(userId: string, direction: Direction): Promise<RegionName[]> {
  const self = selfRegion();
  if (!isMultiRegion() || !self) return [];
  const set = tableSetOfLogical(logicalShardOf(userId));
  const serving = await whereServed(set);
  const group = set.replicas.filter((r) => networkRegions().includes(r));
  if (direction === 'following') return group.includes(self) || serving.at !== 'elsewhere' ? [] : [serving.region];
  const others = networkRegions().filter((r) => r !== self && !group.includes(r));
  if (group.includes(self)) return others;
  const groupAt = serving.at === 'elsewhere' ? serving.region : group.find((r) => r !== self);
  return groupAt ? [groupAt, ...others] : others;
}

export async function listEdges(userId: string, direction: Direction, limit: number, cursor?: string): Promise<UserPage> {
  await getUser(userId);
  const scope = `${direction}:${userId}`;
  const after = cursor ? decodeCursor(scope, cursor, AfterId).after : undefined;
  const { ids } = await queryEdgePage(userId, direction, limit + 1, after, await edgeRegions(userId, direction));
  const more = ids.length > limit;
  const pageIds = ids.slice(0, limit);
  return {
    items: await usersByIds(pageIds),
    nextCursor: more ? encodeCursor(scope, { after: pageIds[pageIds.length - 1]! }) : null,
  };
}
