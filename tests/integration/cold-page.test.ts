// What a cold first feed page costs in DynamoDB requests (the local request counter), and the
// session's next pages served from the cached window: when the precomputed feed holds a page, a
// first page with nothing cached is one feed Query, one BatchGetItem of the posts and one Query
// of the reader's high-tier list, however many celebrities the reader follows (their posts come
// from the recent-posts cache).
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { feedVariant } from '../../shared/cache/cache-keys.js';
import { controlTableName } from '../../shared/declarations/tables.js';
import { feedCache } from '../../shared/cache/feed-cache.js';
import { closeL2, l2 } from '../../shared/cache/l2.js';
import { fillRecentPosts } from '../../shared/cache/pull-cache.js';
import { countRequests, readCounts } from '../../shared/local/request-counter.js';
import { addToFeeds, readFeed } from '../../shared/services/feed-entries.js';
import { homeFeed, WINDOW_PAGES } from '../../shared/services/home-feed.js';
import { createPost, type Post } from '../../shared/services/posts.js';
import { db, dynamo } from '../../shared/store/client.js';
import { keys } from '../../shared/store/keys.js';
import { inBatches, newUsers } from '../support/fixtures-feeds.js';

/** The budget of a cold first page whose feed holds a page: feed Query, posts BatchGetItem,
 *  high-tier list Query. */
const COLD_PAGE_REQUESTS = 3;
const PAGE = 20;

beforeAll(() => countRequests(dynamo()));
afterAll(() => closeL2());

/** A reader whose precomputed feed holds `pushed` posts of regular authors, who follows
 *  `celebrities` high-tier authors with two posts each in their recent-posts lists (newer than
 *  every pushed post, so they lead the page). */
async function reader(pushed: number, celebrities: number, opts: { celebrityPostsPushed?: boolean } = {}): Promise<{ userId: string; celebrityPosts: Post[] }> {
  const [me, ...authors] = await newUsers(1 + 3 + celebrities);
  const regular = authors.slice(0, 3);
  const posts = await inBatches(Array.from({ length: pushed }, (_, i) => i), 10, (i) => createPost(regular[i % 3]!, `pushed ${i}`));
  await Promise.all(posts.map((p) => addToFeeds(p, [me!.userId])));
  const celebrityPosts: Post[] = [];
  for (const celebrity of authors.slice(3)) {
    const { table, key } = keys.highTier(me!.userId, celebrity.userId);
    await db().send(new PutCommand({ TableName: table, Item: { ...key, tier: 'celebrity' } }));
    const own = [await createPost(celebrity, 'celebrity 1'), await createPost(celebrity, 'celebrity 2')].reverse();
    await fillRecentPosts(celebrity.userId, own, true, Date.now() + 10_000);
    // A celebrity's posts are pushed to followers active at the time, as well as pulled.
    if (opts.celebrityPostsPushed) await Promise.all(own.map((p) => addToFeeds(p, [me!.userId])));
    celebrityPosts.push(...own);
  }
  await feedCache().invalidate(me!.userId);
  return { userId: me!.userId, celebrityPosts };
}

/** DynamoDB read requests `work` sent, and which (`Query Feeds_3 ×1, …` with the Redis tier's
 *  errors), so a read over budget names its extra request. */
async function requestsOf<T>(work: () => Promise<T>): Promise<{ result: T; requests: number; which: string }> {
  const before = readCounts();
  const redisBefore = l2().stats();
  const result = await work();
  const after = readCounts();
  const redis = l2().stats();
  const tables = Object.entries(after.byTable).map(([t, n]) => `${t} ×${n - (before.byTable[t] ?? 0)}`).filter((e) => !e.endsWith(' ×0'));
  const ops = Object.entries(after.byOp).map(([o, n]) => `${o} ×${n - (before.byOp[o] ?? 0)}`).filter((e) => !e.endsWith(' ×0'));
  const which = `${ops.join(', ')} on ${tables.join(', ')}; Redis errors ${redis.errors - redisBefore.errors}, short-circuited ${redis.shortCircuited - redisBefore.shortCircuited}`;
  // The shard map's re-read (a GetItem of the control table every FEED_SHARD_MAP_REFRESH_MS,
  // paid by whichever request finds the process's copy stale) is the process's, not the page's.
  const control = controlTableName();
  const mapReads = (after.byTable[control] ?? 0) - (before.byTable[control] ?? 0);
  return { result, requests: after.requests - before.requests - mapReads, which };
}

describe('a cold first page', () => {
  it('costs at most three DynamoDB requests when the feed holds a page, with celebrities pulled from the recent-posts cache', async () => {
    const { userId, celebrityPosts } = await reader(PAGE + 5, 6);

    const { result, requests, which } = await requestsOf(() => homeFeed(userId, PAGE));

    expect(result.source).toBe('generated');
    expect(result.page.items).toHaveLength(PAGE);
    expect(result.page.items.slice(0, celebrityPosts.length).map((p) => p.postId).sort()).toEqual(celebrityPosts.map((p) => p.postId).sort());
    expect(requests, which).toBeLessThanOrEqual(COLD_PAGE_REQUESTS);
  });

  it('costs at most three DynamoDB requests when a page’s worth of the feed are celebrity posts pushed to an active follower', async () => {
    const { userId } = await reader(PAGE - 10, 6, { celebrityPostsPushed: true }); // 10 + 12 entries

    const { result, requests, which } = await requestsOf(() => homeFeed(userId, PAGE));

    expect(result.page.items).toHaveLength(PAGE);
    expect(requests, which).toBeLessThanOrEqual(COLD_PAGE_REQUESTS);
  });

  it('costs at most three DynamoDB requests when the feed holds more than the cached window', async () => {
    const { userId } = await reader(WINDOW_PAGES * PAGE + 10, 2);

    const { result, requests, which } = await requestsOf(() => homeFeed(userId, PAGE));

    expect(result.page.items).toHaveLength(PAGE);
    expect(requests, which).toBeLessThanOrEqual(COLD_PAGE_REQUESTS);
  });
});

describe('the pages after a cached first page', () => {
  it('are served from the cached window without a DynamoDB request, as DynamoDB would give them', async () => {
    const { userId } = await reader(3 * PAGE + 10, 2);
    const first = await homeFeed(userId, PAGE);
    const fromDynamo2 = await readFeed(userId, PAGE, first.page.nextCursor!);

    const second = await requestsOf(() => homeFeed(userId, PAGE, first.page.nextCursor!));
    const third = await requestsOf(() => homeFeed(userId, PAGE, second.result.page.nextCursor!));

    expect(second.requests).toBe(0);
    expect(second.result.source).not.toBe('dynamodb');
    expect(second.result.page.items.map((p) => p.postId)).toEqual(fromDynamo2.items.map((p) => p.postId));
    expect(third.result.page.items.map((p) => p.postId)).toEqual((await readFeed(userId, PAGE, second.result.page.nextCursor!)).items.map((p) => p.postId));
    expect(third.requests).toBe(0);
  });

  it('are served from the cached window after a first page that came from L2 (which sends only the window’s head)', async () => {
    const { userId } = await reader(3 * PAGE + 10, 2);
    const first = await homeFeed(userId, PAGE);
    feedCache().dropL1(); // another container: L2 holds the window, this L1 nothing
    const again = await homeFeed(userId, PAGE);
    const { value } = (await feedCache().peek(userId, feedVariant(PAGE)))!;
    feedCache().dropL1();
    const head = await feedCache().getOrGenerate(userId, feedVariant(PAGE), () => Promise.reject(new Error('not generated')));

    expect(again.source).toBe('l2');
    expect(again.page).toEqual(first.page);
    expect(head.tier).toBe('l2');
    expect(head.value.length).toBeLessThan(value.length / 2); // a page of four, without the rest
    const second = await requestsOf(() => homeFeed(userId, PAGE, first.page.nextCursor!));
    expect(second.requests).toBe(0);
    expect(second.result.source).not.toBe('dynamodb');
    expect(second.result.page.items.map((p) => p.postId)).toEqual((await readFeed(userId, PAGE, first.page.nextCursor!)).items.map((p) => p.postId));
  });

  it('come from DynamoDB once the window is used up', async () => {
    const { userId } = await reader(3 * PAGE + 10, 0);
    let page = (await homeFeed(userId, PAGE)).page;
    for (let i = 0; i < 2; i++) page = (await homeFeed(userId, PAGE, page.nextCursor!)).page;

    const fourth = await homeFeed(userId, PAGE, page.nextCursor!);

    expect(fourth.source).toBe('dynamodb');
    expect(fourth.page.items).toHaveLength(10); // 70 pushed entries: 60 served from the window
  });

  it('past the window come from one read per few pages: the read’s own page, then the next two without a request, as DynamoDB gives them', async () => {
    const { userId } = await reader(8 * PAGE, 2);
    let page = (await homeFeed(userId, PAGE)).page;
    for (let i = 0; i < WINDOW_PAGES - 1; i++) page = (await homeFeed(userId, PAGE, page.nextCursor!)).page;
    const reads: { source: string; requests: number }[] = [];
    for (let i = 0; i < 4; i++) {
      const expected = await readFeed(userId, PAGE, page.nextCursor!);
      const got = await requestsOf(() => homeFeed(userId, PAGE, page.nextCursor!));
      expect(got.result.page.items.map((p) => p.postId), `page ${WINDOW_PAGES + 1 + i}`).toEqual(expected.items.map((p) => p.postId));
      reads.push({ source: got.result.source, requests: got.requests });
      page = got.result.page;
    }
    // 160 pushed entries and 4 celebrity posts (on the first page): pages 5-7 from one read of 61
    // per source (the celebrities from their lists), page 8 read afresh.
    expect(reads).toEqual([
      { source: 'dynamodb', requests: COLD_PAGE_REQUESTS },
      { source: 'l1', requests: 0 },
      { source: 'l1', requests: 0 },
      { source: 'dynamodb', requests: COLD_PAGE_REQUESTS },
    ]);
  });
});
