// The precomputed feed store (shared/services/feed-entries.ts) against DynamoDB Local: the 800-entry cap on reads
// and on trimming, expiry (reads skip, the local TTL sweep deletes), lazy removal of entries whose
// post was deleted, and idempotent writes (the fan-out's redelivery guarantee).
// Authors here have no followers, so the local stack's post-router, which sees these posts on the
// posts stream, writes nothing into the feeds under test.
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchWrite, db, dynamo } from '../../shared/store/client.js';
import { addToFeeds, feedEntry, readFeed, trimFeed } from '../../shared/services/feed-entries.js';
import { mintId, logicalShardOf } from '../../shared/domain/ids.js';
import { keys } from '../../shared/store/keys.js';
import { FEED_ENTRY_TTL_SECONDS, FEED_MAX_ENTRIES } from '../../shared/domain/limits.js';
import { sweepExpired } from '../../shared/local/create-tables.js';
import { createPost, type Post } from '../../shared/services/posts.js';
import type { User } from '../../shared/services/users.js';
import { feedRow, feedTableIds, inBatches, newUser, randomUserId } from '../support/fixtures-feeds.js';

const nowSeconds = () => Math.floor(Date.now() / 1000);
const newestFirst = (ids: string[]) => [...ids].sort().reverse();

/** Writes feed rows for `posts` into `userId`'s feed, as fan-out would, in BatchWriteItem calls. */
async function writeEntries(userId: string, posts: Pick<Post, 'postId' | 'authorId' | 'createdAt'>[], expiresAt?: number): Promise<void> {
  await batchWrite(
    posts.map((p) => ({
      table: keys.feedEntry(userId, p.postId).table,
      request: { PutRequest: { Item: { ...feedEntry(userId, p), ...(expiresAt !== undefined && { expiresAt }) } } },
    })),
  );
}

async function createPosts(author: User, count: number): Promise<Post[]> {
  const posts = await inBatches(Array.from({ length: count }, (_, i) => i), 50, (i) => createPost(author, `post ${i}`));
  return posts.sort((a, b) => (a.postId < b.postId ? -1 : 1));
}

/** Every page of a feed, following cursors to the end. */
async function readAll(userId: string, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await readFeed(userId, limit, cursor);
    expect(page.items.length).toBeLessThanOrEqual(limit);
    ids.push(...page.items.map((p) => p.postId));
    cursor = page.nextCursor ?? undefined;
    pages++;
    if (pages > 1000) throw new Error('feed paging does not end');
  } while (cursor);
  return { ids, pages };
}

describe('the 800-entry cap', () => {
  const OVER = FEED_MAX_ENTRIES + 5;
  let posts: Post[] = [];
  let newest800: string[] = [];
  const reader = randomUserId();

  beforeAll(async () => {
    const author = await newUser();
    posts = await createPosts(author, OVER);
    newest800 = newestFirst(posts.map((p) => p.postId)).slice(0, FEED_MAX_ENTRIES);
    await writeEntries(reader, posts);
  }, 60_000);

  it('starts from a feed table holding 805 entries of real posts', async () => {
    expect(FEED_MAX_ENTRIES).toBe(800);
    expect(await feedTableIds(reader)).toHaveLength(OVER);
  });

  // 100 divides 800; 99 does not, so the last page is cut at the cap (792 served + 8).
  it.each([100, 99])('readFeed serves at most the newest 800 entries across all pages (limit %i)', async (limit) => {
    const { ids, pages } = await readAll(reader, limit);

    expect(ids).toHaveLength(FEED_MAX_ENTRIES);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(newest800);
    expect(pages).toBe(Math.ceil(FEED_MAX_ENTRIES / limit));
  });

  it('trimFeed deletes exactly the entries beyond the newest 800 and keeps the newest', async () => {
    const owner = randomUserId();
    await writeEntries(owner, posts);

    const deleted = await trimFeed(owner);

    expect(deleted).toBe(OVER - FEED_MAX_ENTRIES);
    expect(await feedTableIds(owner)).toEqual(newest800);
    expect(await trimFeed(owner)).toBe(0);
    expect(await feedTableIds(owner)).toEqual(newest800);
  });
});

describe('expiry', () => {
  it('readFeed does not return entries whose expiresAt has passed, and sweepExpired deletes them', async () => {
    const author = await newUser();
    const [live, expired] = await createPosts(author, 2); // `expired` is the newer one
    const reader = randomUserId();
    await writeEntries(reader, [live!]);
    await writeEntries(reader, [expired!], nowSeconds() - 60);
    expect(await feedTableIds(reader)).toHaveLength(2);

    const page = await readFeed(reader, 1);

    expect(page.items.map((p) => p.postId)).toEqual([live!.postId]);
    expect(page.nextCursor).toBeNull();
    expect((await readFeed(reader, 20)).items.map((p) => p.postId)).toEqual([live!.postId]);

    // A stack of another test file may sweep the same tables at the same moment (its sweeper
    // runs on a timer), so what this sweep counts is not asserted: the expired row is gone.
    await sweepExpired(dynamo());

    expect(await feedRow(reader, expired!.postId)).toBeUndefined();
    expect(await feedRow(reader, live!.postId)).toBeDefined();
  });

  it('readFeed fills a page past a run of expired entries', async () => {
    const author = await newUser();
    const posts = await createPosts(author, 12);
    const reader = randomUserId();
    await writeEntries(reader, posts.slice(0, 4));
    await writeEntries(reader, posts.slice(4), nowSeconds() - 1); // the 8 newest have expired

    const page = await readFeed(reader, 3);

    expect(page.items.map((p) => p.postId)).toEqual(newestFirst(posts.slice(0, 4).map((p) => p.postId)).slice(0, 3));
    expect(page.nextCursor).not.toBeNull();
  });
});

describe('deleted posts', () => {
  it('are skipped and their entries removed on read, and the page is still full when more entries exist', async () => {
    const author = await newUser();
    const posts = await createPosts(author, 10);
    const reader = randomUserId();
    await writeEntries(reader, posts);
    const gone = [posts[9]!, posts[8]!, posts[5]!]; // the two newest and one in the middle
    for (const p of gone) await db().send(new DeleteCommand({ TableName: keys.post(p.postId).table, Key: keys.post(p.postId).key }));

    const first = await readFeed(reader, 5);

    const kept = newestFirst(posts.filter((p) => !gone.includes(p)).map((p) => p.postId));
    expect(first.items.map((p) => p.postId)).toEqual(kept.slice(0, 5));
    expect(first.nextCursor).not.toBeNull();
    for (const p of gone) expect(await feedRow(reader, p.postId), `entry of deleted ${p.postId}`).toBeUndefined();

    const second = await readFeed(reader, 5, first.nextCursor!);
    expect(second.items.map((p) => p.postId)).toEqual(kept.slice(5));
    expect(second.nextCursor).toBeNull();
    expect(await feedTableIds(reader)).toEqual(kept);
  });
});

describe('addToFeeds', () => {
  it('writes nothing new when the same post is added to the same feeds again', async () => {
    const author = await newUser();
    const [post] = await createPosts(author, 1);
    const readers = [randomUserId(), randomUserId(), randomUserId()];

    expect(await addToFeeds(post!, readers)).toBe(3);
    const before = await Promise.all(readers.map((r) => feedRow(r, post!.postId)));
    expect(await addToFeeds(post!, readers)).toBe(3);

    for (const [i, r] of readers.entries()) {
      expect(await feedTableIds(r)).toEqual([post!.postId]);
      expect(await feedRow(r, post!.postId)).toEqual(before[i]);
    }
    expect(before[0]).toMatchObject({
      userId: readers[0],
      postId: post!.postId,
      authorId: author.userId,
      authorPost: `${author.userId}#${post!.postId}`,
      expiresAt: Math.floor(Date.parse(post!.createdAt) / 1000) + FEED_ENTRY_TTL_SECONDS,
    });
  });

  it('skips posts whose entries would already have expired', async () => {
    const authorId = randomUserId();
    const createdAt = new Date(Date.now() - (FEED_ENTRY_TTL_SECONDS + 60) * 1000).toISOString();
    const old = { postId: mintId(logicalShardOf(authorId)), authorId, createdAt };
    const reader = randomUserId();

    expect(await addToFeeds(old, [reader])).toBe(0);
    expect(await feedTableIds(reader)).toEqual([]);
  });
});
