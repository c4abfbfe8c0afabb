// What each kind of row is and where it may live: the residency table that stacks/ deploys
// (which tables replicate to which regions) and the local stack's replication follow. A table
// replicates as a whole (Global Tables cannot pick items), so an entity's tables are either home
// data (replicated inside one table set's regions) or public content (replicated everywhere).
import { PUBLIC_REPLICAS, tableSetOfLogical, type TableSet } from '../domain/residency.js';
import type { RegionName } from '../domain/regions.js';
import { logicalRangeOf } from '../domain/sharding.js';
import type { Entity } from './tables.js';

/** home: private, in the owner's table set only. public: replicated to every region. regional:
 *  kept by one table set about users homed elsewhere (an index of its own users' relations). */
export type Residency = 'home' | 'public' | 'regional';

/** How each entity's tables replicate. */
export const ENTITY_RESIDENCY: Record<Entity, Exclude<Residency, 'regional'>> = {
  users: 'home',
  follows: 'home',
  feeds: 'home',
  notifications: 'home',
  posts: 'public',
  directory: 'public',
};

export interface RowKind {
  /** The key prefix (or key shape) in shared/store/keys.ts. */
  key: string;
  entity: Entity;
  residency: Residency;
  why: string;
  /** Where the row lives today differs from its residency: what is missing, shown in the README. */
  gap?: string;
}

export const ROW_KINDS: readonly RowKind[] = [
  { key: 'user#<id> profile', entity: 'users', residency: 'home', why: 'the profile holds the country and the account’s private settings' },
  {
    key: 'sub#<sha256(subject)> → user',
    entity: 'users',
    residency: 'home',
    why: 'maps the identity provider’s subject to the account: pseudonymous, so still personal data; kept in the home set, on a shard chosen by the subject’s hash',
  },
  {
    key: 'sub#<sha256(subject)> hint',
    entity: 'directory',
    residency: 'public',
    why: 'tells any region which table set serves a token, so a request reaching the wrong region is sent home: the set’s name only (no user id, no profile), claimed once in the hash’s authority region so one subject has one home',
  },
  {
    key: 'handle#<handle>',
    entity: 'directory',
    residency: 'public',
    why: 'handles are shown to everyone and unique across the network: claimed by a conditional write in one authority region per handle (the region creating its directory table), then replicated',
  },
  {
    key: 'card#<id>',
    entity: 'directory',
    residency: 'public',
    why: 'the public profile card (handle, display name, home region, tier) that other regions show in lists and use to route a followed author’s posts',
  },
  { key: 'idem#<user>#<key>', entity: 'users', residency: 'home', why: 'remembers a user’s requests (Idempotency-Key) for a day' },
  {
    key: 'fc#<user>#<k> / <region>',
    entity: 'directory',
    residency: 'public',
    why: 'follower counts are on the public profile card; each region counts the follows it serves in its own items, summed over the regions',
  },
  { key: 'out#<follower> → followee', entity: 'follows', residency: 'home', why: 'whom a user follows is private to the follower' },
  { key: 'hi#<user> → author', entity: 'follows', residency: 'home', why: 'the high-tier authors a user’s feed pulls: derived from the user’s follows' },
  {
    key: 'in#<followee>[#<bucket>] → follower',
    entity: 'follows',
    residency: 'regional',
    why: 'the followers of an author that a region’s users made, written by the follower’s region on the author’s shard there (replicated within its zone when the zone holds that table), so each region fans out to its own followers from the replicated post',
  },
  {
    key: 'tierseen#<author>',
    entity: 'follows',
    residency: 'regional',
    why: 'the tier of an author homed in another zone that this region last applied to its own followers’ high-tier lists',
  },
  {
    key: 'inl#<followee> (edge layout)',
    entity: 'follows',
    residency: 'regional',
    why: 'how many in#<followee>#<bucket> partitions hold the followers indexed beside it (README "Celebrity edges")',
  },
  { key: 'vip#<author> → follower', entity: 'follows', residency: 'home', why: 'VIP marks are the author’s own choice' },
  { key: 'af#<author>#<bucket> → follower', entity: 'follows', residency: 'regional', why: 'recently active followers of an author among the set’s users, for the celebrity push' },
  { key: 'feed entry (owner, post)', entity: 'feeds', residency: 'home', why: 'a user’s feed reveals whom they follow' },
  { key: 'acc#<window>#<bucket> → recipient', entity: 'notifications', residency: 'home', why: 'a recipient’s pending notification events' },
  { key: 'ntf#<recipient> / nread#<recipient>', entity: 'notifications', residency: 'home', why: 'a recipient’s digests and read mark' },
  { key: 'post (postId)', entity: 'posts', residency: 'public', why: 'posts and their deletion are public content, readable in every region' },
];

/** The regions holding a physical table, the one that creates it (and owns its set) first;
 *  `shards` is FEED_SHARDS, whatever table index a reshard has reached. */
export function tableReplicas(entity: Entity, shard: number, shards: number): readonly RegionName[] {
  const set = tableSetOf(shard, shards);
  if (ENTITY_RESIDENCY[entity] === 'home') return set.replicas;
  return [set.home, ...PUBLIC_REPLICAS.filter((r) => r !== set.home)];
}

/** The table set whose logical range holds a physical table. `shards` is the initial layout
 *  (FEED_SHARDS); a table a reshard added (index `shards` or more) holds part of the range table
 *  `shard % shards` started with (growth by doubling: table t + T takes the upper half of table
 *  t's range), so it belongs to that table's set and replicates as it does. */
export function tableSetOf(shard: number, shards: number): TableSet {
  const [lo, hi] = logicalRangeOf(shard % shards, shards);
  const set = tableSetOfLogical(lo);
  if (tableSetOfLogical(hi) !== set) throw new RangeError(`table ${shard} of ${shards} spans two table sets`);
  return set;
}

/** The region where a table's rows are claimed (a conditional write that must see every earlier
 *  claim: handles, subject hints): the first region of the network holding the table, which is
 *  the one creating it. Global Tables settle concurrent writes by last writer wins, so a claim made
 *  anywhere else could be silently overwritten by a concurrent claim elsewhere. */
export function authorityRegion(entity: Entity, shard: number, shards: number, network: readonly RegionName[]): RegionName | undefined {
  return tableReplicas(entity, shard, shards).find((r) => network.includes(r));
}
