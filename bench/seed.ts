// Loads a generated graph into DynamoDB Local before the rest of the stack runs. Profiles, edges,
// counters, posts and feed entries are written with the product's key scheme (shared/store/keys.ts),
// item shapes (ProfileRow, Post, feedEntry) — item for item what createUser, follow() and a push
// fan-out store — in BatchWriteItems of 25 (bench/bulk-write.ts), because 20,000 profile
// transactions, 100,000 follow transactions and 10,000 posts through the stream would take
// DynamoDB Local most of an hour.
// The live write path (POST → stream → post-router → queue → fan-out-worker) is measured by the
// bench itself, on top of this graph.
import pLimit from 'p-limit';
import { CreateTableCommand, UpdateTableCommand, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { dynamo, type TableWrite } from '../shared/store/client.js';
import { signDevToken } from '../shared/edge/auth.js';
import { idAt, logicalShardOf } from '../shared/domain/ids.js';
import { keys, subjectHash } from '../shared/store/keys.js';
import { cardOf } from '../shared/store/users.js';
import { tableSetOfLogical } from '../shared/domain/residency.js';
import { allTables, primeStream } from '../shared/local/create-tables.js';
import { homeRegionOf, logicalShardIn } from '../shared/domain/regions.js';
import { createTableInput, STREAM_VIEW, TABLES } from '../shared/declarations/tables.js';
import { feedEntry } from '../shared/services/feed-entries.js';
import type { Post } from '../shared/services/posts.js';
import { tierFor, type ProfileRow } from '../shared/services/users.js';
import { BULK_BATCH, bulkWriter, type BulkWriter } from './bulk-write.js';
import { forkRng } from './rng.js';
import type { Graph } from './workload.js';

export interface SeededUser {
  index: number;
  userId: string;
  sub: string;
  token: string;
}

export interface Seeded {
  users: SeededUser[];
  postIds: string[];
  items: { users: number; edges: number; highTier: number; posts: number; feedEntries: number };
}

/** Countries and shares: a mix over every region, so all 32 shards get data. */
const COUNTRIES: [string, number][] = [
  ['US', 28], ['CA', 4], ['MX', 4], ['BR', 8], ['AR', 2], ['GB', 6], ['DE', 6], ['FR', 5], ['ES', 3], ['IT', 3],
  ['IN', 10], ['JP', 5], ['ID', 4], ['AU', 2], ['NG', 4], ['EG', 2], ['AE', 2], ['ZA', 2],
];

/** Batches in flight at once: DynamoDB Local on two cores gains little beyond 8. */
const SEED_CONCURRENCY = 8;

/** Runs `work` on every item, `concurrency` at a time, in order. */
export async function pool<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<unknown>): Promise<void> {
  const limit = pLimit(concurrency);
  await Promise.all(items.map((item, i) => limit(() => work(item, i))));
}

/** Writes in batches of one table each, round-robin over the tables. */
async function writeAll(loader: BulkWriter, writes: TableWrite[], onProgress: (done: number) => void): Promise<void> {
  const byTable = new Map<string, TableWrite[]>();
  for (const w of writes) {
    let list = byTable.get(w.table);
    if (!list) byTable.set(w.table, (list = []));
    list.push(w);
  }
  // Round-robin over the tables, so concurrent batches mostly touch different ones.
  const perTable = [...byTable.values()].map((list) => {
    const out: TableWrite[][] = [];
    for (let i = 0; i < list.length; i += BULK_BATCH) out.push(list.slice(i, i + BULK_BATCH));
    return out;
  });
  const chunks: TableWrite[][] = [];
  for (let round = 0; chunks.length < perTable.reduce((n, l) => n + l.length, 0); round++) {
    for (const list of perTable) if (list[round]) chunks.push(list[round]!);
  }
  let done = 0;
  await pool(chunks, SEED_CONCURRENCY, async (chunk) => {
    await loader.write(chunk);
    done += chunk.length;
    onProgress(done);
  });
}

/** Writes rows in bulk (writeAll through a loader of its own). */
export async function bulkLoad(writes: TableWrite[], onProgress: (done: number) => void = () => {}): Promise<void> {
  const loader = bulkWriter();
  try {
    await writeAll(loader, writes, onProgress);
  } finally {
    loader.close();
  }
}

const put = (target: { table: string; key: Record<string, unknown> }, attrs: Record<string, unknown> = {}): TableWrite => ({
  table: target.table,
  request: { PutRequest: { Item: { ...target.key, ...attrs } } },
});

/**
 * Creates every table from shared/declarations/tables.ts as ensureTables() does (same keys, indexes and TTL),
 * but with its stream off: the seeded rows then leave no stream records behind, so the stack's
 * poller has nothing old to route and DynamoDB Local writes them about twice as fast.
 * enableStreams() turns the streams on before the stack starts; the tables end up as declared.
 */
export async function createTablesForSeeding(): Promise<number> {
  const tables = allTables();
  await pool(tables, SEED_CONCURRENCY, async ({ entity, name }) => {
    const def = TABLES[entity];
    const { StreamSpecification: _stream, ...input } = createTableInput(def, name);
    await dynamo().send(new CreateTableCommand(input));
    if (def.ttlAttribute) {
      await dynamo().send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { Enabled: true, AttributeName: def.ttlAttribute } }));
    }
  });
  return tables.length;
}

/** Turns every table's stream on (as declared: STREAM_VIEW) and gives each one stream record at
 *  once (primeStream: DynamoDB Local writes slowly to a table whose first stream record comes
 *  after many others'; measured here: follows written after 20,000 users rows ran at ~150 items/s
 *  instead of ~2,000, posts at ~50/s). */
export async function enableStreams(): Promise<void> {
  const when = Date.now() - 86_400_000;
  await pool(allTables(), 2 * SEED_CONCURRENCY, async ({ name }) => {
    await dynamo().send(new UpdateTableCommand({ TableName: name, StreamSpecification: { StreamEnabled: true, StreamViewType: STREAM_VIEW } }));
  });
  await pool(allTables(), 2 * SEED_CONCURRENCY, ({ entity, name }) => primeStream(dynamo(), entity, name));
}

/** Mints the users' identities (deterministic for a seed) and their dev tokens. */
export async function identities(g: Graph, seed: number): Promise<{ users: SeededUser[]; countries: string[]; createdMs: number[] }> {
  const rng = forkRng(seed, 'countries');
  const total = COUNTRIES.reduce((s, [, w]) => s + w, 0);
  const base = Date.now() - 90 * 86_400_000;
  const users: SeededUser[] = [];
  const countries: string[] = [];
  const createdMs: number[] = [];
  for (let i = 0; i < g.n; i++) {
    let x = rng.next() * total;
    const country = COUNTRIES.find(([, w]) => (x -= w) < 0)?.[0] ?? 'US';
    const sub = `bench-${seed}-${i}`;
    const region = homeRegionOf(country, sub)!;
    // One distinct millisecond per user: ids are unique without the process-wide sequence.
    const ms = base + i;
    users.push({ index: i, userId: idAt(ms, logicalShardIn(region, sub), 0), sub, token: await signDevToken(sub) });
    countries.push(country);
    createdMs.push(ms);
  }
  return { users, countries, createdMs };
}

export interface SeedProgress {
  (phase: string, done: number, total: number): void;
}

export async function seedGraph(g: Graph, seed: number, progress: SeedProgress): Promise<Seeded> {
  const loader = bulkWriter();
  try {
    return await seedRows(loader, g, seed, progress);
  } finally {
    loader.close();
  }
}

async function seedRows(loader: BulkWriter, g: Graph, seed: number, progress: SeedProgress): Promise<Seeded> {
  const { users, countries, createdMs } = await identities(g, seed);
  const since = new Date(Date.now() - 86_400_000).toISOString();

  // Profiles, directory rows and follower counters: what createUser and follow() leave behind.
  const userWrites: TableWrite[] = [];
  for (const u of users) {
    const followerCount = g.followers[u.index]!.length;
    const row: ProfileRow = {
      userId: u.userId,
      handle: `b${seed}_${u.index}`,
      displayName: `Bench user ${u.index}`,
      country: countries[u.index]!,
      homeRegion: homeRegionOf(countries[u.index]!, u.sub)!,
      followingCount: g.following[u.index]!.length,
      tier: tierFor(followerCount),
      createdAt: new Date(createdMs[u.index]!).toISOString(),
    };
    userWrites.push(put(keys.profile(u.userId), { ...row }));
    const set = tableSetOfLogical(logicalShardOf(u.userId));
    userWrites.push(put(keys.subject(u.sub, set), { userId: u.userId }));
    userWrites.push(put(keys.subjectHint(u.sub), { set: set.name }));
    userWrites.push(put(keys.handle(row.handle), { userId: u.userId, subject: subjectHash(u.sub) }));
    userWrites.push(put(keys.card(u.userId), { ...cardOf(row) }));
    if (followerCount > 0) userWrites.push(put(keys.followerCounter(u.userId, 0), { count: followerCount }));
  }
  await writeAll(loader, userWrites, (d) => progress('users', d, userWrites.length));

  // Both edge rows per follow, plus the follower's high-tier list entry for celebrity and mega
  // followees (what follow() writes in its transaction when the followee is high-tier).
  const edgeWrites: TableWrite[] = [];
  let highTier = 0;
  for (let i = 0; i < g.n; i++) {
    const author = users[i]!.userId;
    const tier = tierFor(g.followers[i]!.length);
    for (const f of g.followers[i]!) {
      const follower = users[f]!.userId;
      edgeWrites.push(put(keys.outEdge(follower, author), { since }));
      edgeWrites.push(put(keys.inEdge(author, follower), { since }));
      if (tier !== 'regular') {
        edgeWrites.push(put(keys.highTier(follower, author), { tier }));
        highTier++;
      }
    }
  }
  await writeAll(loader, edgeWrites, (d) => progress('follows', d, edgeWrites.length));

  // Posts, and their fan-out as the hybrid does it at posting time: a regular author's post in
  // every follower's feed; a celebrity's only in recently active followers' (nobody is active
  // yet); a mega-celebrity's in its VIPs' (none seeded). Entries that would be expired are not
  // written, as addToFeeds does.
  const postIds: string[] = [];
  const postWrites: TableWrite[] = [];
  const feedWrites: TableWrite[] = [];
  const nowSeconds = Math.floor(Date.now() / 1000);
  g.posts.forEach((p, k) => {
    const authorId = users[p.author]!.userId;
    const post: Post = {
      // A post takes its author's logical shard; one distinct millisecond per post keeps ids unique.
      postId: idAt(p.ms, logicalShardOf(authorId), 0),
      authorId,
      content: `bench post ${k} by user ${p.author}: ${'lorem ipsum dolor sit amet '.repeat(1 + (k % 4))}`.trim(),
      createdAt: new Date(p.ms).toISOString(),
    };
    postIds.push(post.postId);
    postWrites.push(put(keys.post(post.postId), { ...post }));
    if (tierFor(g.followers[p.author]!.length) !== 'regular') return;
    for (const f of g.followers[p.author]!) {
      const entry = feedEntry(users[f]!.userId, post);
      if (entry.expiresAt > nowSeconds) feedWrites.push(put(keys.feedEntry(entry.userId, entry.postId), { ...entry }));
    }
  });
  await writeAll(loader, postWrites, (d) => progress('posts', d, postWrites.length));
  await writeAll(loader, feedWrites, (d) => progress('feed entries', d, feedWrites.length));

  return {
    users,
    postIds,
    items: { users: userWrites.length, edges: edgeWrites.length - highTier, highTier, posts: postWrites.length, feedEntries: feedWrites.length },
  };
}
