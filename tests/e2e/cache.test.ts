// The feed cache on a stack of its own (its own redis-server, so the test can stop it): hits at
// both tiers, coalesced misses, freshness within 2 s after posts, follows (a followed author's
// posts merged into the cached page), unfollows and deletes (their posts taken out of it),
// reads that survive a Redis outage, and warm feeds after the CacheWarming workflow runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '../../shared/local/stack.js';
import { stackClient, until, type StackUser } from '../support/own-stack.js';

const PREFIX = `cache${process.pid}-`;
let stack: Stack;
let base = '';
let cache: typeof import('../../shared/cache/feed-cache.js');

type U = StackUser;
const client = stackClient(() => base, 'cache');
const http = client.http;
const user = () => client.user('DE');

const feed = async (u: U) => {
  const res = await http('GET', '/v1/feed', u.token);
  expect(res.status).toBe(200);
  return (res.body.items as { postId: string }[]).map((p) => p.postId);
};
const stats = () => cache.cacheStats();
/** A page of 5 of the user's feed. */
const page5 = async (u: U, cursor?: string) => {
  const res = await http('GET', `/v1/feed?limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, u.token);
  expect(res.status).toBe(200);
  return res.body as { items: { postId: string }[]; nextCursor: string | null };
};
/** Every post of the user's feed, paging by 5 until the cursor ends. */
const allPages = async (u: U): Promise<string[]> => {
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const p = await page5(u, cursor ?? undefined);
    seen.push(...p.items.map((x) => x.postId));
    cursor = p.nextCursor;
  } while (cursor);
  return seen;
};
/** When the user's cached window of 5 (L2) was generated: an edit in place keeps it, a
 *  regeneration (by a read or by warming) changes it. */
const generatedAt = async (u: U): Promise<number | undefined> => {
  const { l2 } = await import('../../shared/cache/l2.js');
  const { cacheKeys, feedVariant } = await import('../../shared/cache/cache-keys.js');
  const value = await l2().command((r) => r.hget(cacheKeys.feedPages(u.userId), feedVariant(5)));
  return value ? (JSON.parse(value) as { at: number }).at : undefined;
};

beforeAll(async () => {
  delete process.env.REDIS_URL; // this stack starts its own redis-server
  const { startStack } = await import('../../shared/local/stack.js');
  stack = await startStack({
    fresh: true,
    port: 0,
    env: { FEED_TABLE_PREFIX: PREFIX, FEED_SHARDS: '16', FEED_WARM_INTERVAL_SECONDS: '2' },
    queues: { visibilityTimeoutMs: 500 },
    sweepIntervalMs: 3_600_000,
  });
  base = stack.url;
  cache = await import('../../shared/cache/feed-cache.js');
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('feed cache', () => {
  it('serves a repeated read from L1, and from L2 once L1 is gone', async () => {
    const reader = await user();
    await feed(reader);
    const before = stats();
    await feed(reader);
    expect(stats().l1.hits - before.l1.hits).toBe(1);
    // L2 answers once L1 is gone (polled: a Redis reply slower than the 50 ms timeout counts as
    // a miss, as it should, on a loaded machine).
    await until(async () => {
      cache.feedCache().dropL1();
      await feed(reader);
      return stats().l2.hits > before.l2.hits;
    }, 5000, 'an L2 hit');
  });

  it('generates a cold feed once for 20 concurrent readers', async () => {
    const reader = await user();
    const before = stats().generated;
    await Promise.all(Array.from({ length: 20 }, () => feed(reader)));
    expect(stats().generated - before).toBe(1);
  });

  it('shows a followee’s new post long before the cached page expires', async () => {
    const [author, reader] = [await user(), await user()];
    await http('PUT', `/v1/users/${author.userId}/follow`, reader.token);
    await feed(reader); // cached for 15 minutes unless invalidated
    const post = (await http('POST', '/v1/posts', author.token, { content: 'fresh' })).body;
    // Typically well under a second (npm run bench measures post-to-visible); bounded generously
    // here so a loaded machine cannot fail it (a suite on a throttled machine took 18 s here).
    await until(async () => (await feed(reader)).includes(post.postId), 45_000, 'new post visible');
  });

  it('puts a followee’s new post into the reader’s cached page: the next read is a hit', async () => {
    const [author, reader] = [await user(), await user()];
    await http('PUT', `/v1/users/${author.userId}/follow`, reader.token);
    await feed(reader);
    // Even a reader no longer counted active (not regenerated after writes) keeps a current page.
    const { l2 } = await import('../../shared/cache/l2.js');
    const { cacheKeys } = await import('../../shared/cache/cache-keys.js');
    await l2().command((r) => r.zrem(cacheKeys.active, reader.userId));
    const before = stats().generated;
    const post = (await http('POST', '/v1/posts', author.token, { content: 'merged' })).body;
    await until(async () => (await feed(reader))[0] === post.postId, 45_000, 'new post on top of the cached page');
    expect(stats().generated - before).toBe(0);
  });

  it('puts a followed author’s posts into the follower’s cached page: the next read is a hit, paging shows every post once', async () => {
    const [a, b, reader] = [await user(), await user(), await user()];
    const post = async (u: U, content: string) => (await http('POST', '/v1/posts', u.token, { content })).body.postId as string;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await post(a, `a${i}`));
    for (let i = 0; i < 2; i++) ids.push(await post(b, `b${i}`)); // between A's posts
    for (let i = 4; i < 8; i++) ids.push(await post(a, `a${i}`));
    ids.push(await post(b, 'b2')); // the newest of all
    // The posts' own fan-out done first: a merge of one of them into the reader's page would move
    // the page's epoch on while the read below generates it, and that page would not be stored.
    await stack.settle(60_000);
    await http('PUT', `/v1/users/${a.userId}/follow`, reader.token);
    // A window: A's 8 posts hold a page of 5 and more.
    await until(async () => (await page5(reader), (await generatedAt(reader)) !== undefined), 10_000, 'the window cached');
    const generated = await generatedAt(reader);
    await http('PUT', `/v1/users/${b.userId}/follow`, reader.token);
    const newestFirst = [...ids].sort().reverse();
    expect((await page5(reader)).items.map((p) => p.postId)).toEqual(newestFirst.slice(0, 5));
    expect(await generatedAt(reader), 'the same window, edited in place').toBe(generated);
    expect(await allPages(reader)).toEqual(newestFirst);
  });

  it('takes a deleted post out of the followers’ cached pages: the next read is a hit, with a full page', async () => {
    const [author, reader] = [await user(), await user()];
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await http('POST', '/v1/posts', author.token, { content: `d${i}` })).body.postId as string);
    await stack.settle(60_000); // the posts' own fan-out done (see the test above)
    await http('PUT', `/v1/users/${author.userId}/follow`, reader.token);
    await until(async () => (await page5(reader), (await generatedAt(reader)) !== undefined), 10_000, 'the window cached');
    const generated = await generatedAt(reader);
    const gone = ids[6]!; // on the first page
    expect((await http('DELETE', `/v1/posts/${gone}`, author.token)).status).toBe(204);
    const left = ids.filter((id) => id !== gone).sort().reverse();
    // The post is hidden at once (the deletion mirror); the page is whole again once the
    // deletion's fan-out has edited it.
    await until(async () => JSON.stringify((await page5(reader)).items.map((p) => p.postId)) === JSON.stringify(left.slice(0, 5)), 45_000, 'a whole first page without the deleted post');
    expect(await generatedAt(reader), 'the same window, edited in place').toBe(generated);
    expect(await allPages(reader)).toEqual(left);
  });

  it('takes an unfollowed author’s posts out of the follower’s cached page: the next read is a hit', async () => {
    const [a, b, reader] = [await user(), await user(), await user()];
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      ids.push((await http('POST', '/v1/posts', a.token, { content: `a${i}` })).body.postId as string);
      ids.push((await http('POST', '/v1/posts', b.token, { content: `b${i}` })).body.postId as string);
    }
    await stack.settle(60_000); // the posts' own fan-out done (see above)
    await http('PUT', `/v1/users/${a.userId}/follow`, reader.token);
    await http('PUT', `/v1/users/${b.userId}/follow`, reader.token);
    await until(async () => (await page5(reader), (await generatedAt(reader)) !== undefined), 10_000, 'the window cached');
    const generated = await generatedAt(reader);
    expect((await http('DELETE', `/v1/users/${b.userId}/follow`, reader.token)).status).toBe(204);
    const aOnly = ids.filter((_, i) => i % 2 === 0).sort().reverse(); // 4 posts: fewer than a page and one
    expect(await allPages(reader)).toEqual(aOnly);
    expect(await generatedAt(reader), 'a window left with less than a page and one is dropped').not.toBe(generated);
    // Following B again and unfollowing A leaves B's 4 posts the same way; with 6 posts of B, a window.
    for (let i = 4; i < 6; i++) ids.push((await http('POST', '/v1/posts', b.token, { content: `b${i}` })).body.postId as string);
    await stack.settle(60_000);
    await http('PUT', `/v1/users/${b.userId}/follow`, reader.token);
    await until(async () => (await page5(reader), (await generatedAt(reader)) !== undefined), 10_000, 'the window cached again');
    const regenerated = await generatedAt(reader);
    expect((await http('DELETE', `/v1/users/${a.userId}/follow`, reader.token)).status).toBe(204);
    const bOnly = ids.filter((id) => !aOnly.includes(id)).sort().reverse();
    expect((await page5(reader)).items.map((p) => p.postId)).toEqual(bOnly.slice(0, 5));
    expect(await generatedAt(reader), 'the same window, edited in place').toBe(regenerated);
    expect(await allPages(reader)).toEqual(bOnly);
  });

  it('reflects follow, unfollow and delete at once', async () => {
    const [author, reader] = [await user(), await user()];
    const post = (await http('POST', '/v1/posts', author.token, { content: 'old' })).body;
    expect(await feed(reader)).toEqual([]);
    await http('PUT', `/v1/users/${author.userId}/follow`, reader.token);
    expect(await feed(reader)).toEqual([post.postId]);
    await http('DELETE', `/v1/users/${author.userId}/follow`, reader.token);
    expect(await feed(reader)).toEqual([]);
    await http('PUT', `/v1/users/${author.userId}/follow`, reader.token);
    expect(await feed(reader)).toEqual([post.postId]);
    await http('DELETE', `/v1/posts/${post.postId}`, author.token);
    await until(async () => !(await feed(reader)).includes(post.postId), 45_000, 'deleted post gone');
  });

  it('keeps answering from DynamoDB while Redis is down, loses no write, and refills after', async () => {
    const [author, reader] = [await user(), await user()];
    await http('PUT', `/v1/users/${author.userId}/follow`, reader.token);
    const redis = stack.engines.find((e) => e.name === 'redis')!;
    const port = Number(new URL(redis.endpoint).port);
    await redis.stop();
    cache.feedCache().dropL1();
    const post = (await http('POST', '/v1/posts', author.token, { content: 'during outage' }));
    expect(post.status).toBe(201);
    // Reads keep answering (the breaker's fail-fast timing is proven in l2-cache.test.ts).
    for (let i = 0; i < 8; i++) expect((await http('GET', '/v1/feed', reader.token)).status).toBe(200);
    await until(async () => (await feed(reader)).includes(post.body.postId), 5000, 'post delivered without Redis');
    const { startRedis } = await import('../../shared/local/engines.js');
    const restarted = (await startRedis({ port }))!;
    stack.engines.push(restarted);
    const l2Before = stats().l2.hits;
    await until(async () => {
      cache.feedCache().dropL1();
      await feed(reader);
      return stats().l2.hits > l2Before;
    }, 10_000, 'L2 hits after Redis returns');
  });

  it('warms active users’ feeds with the CacheWarming workflow', async () => {
    const reader = await user();
    await feed(reader); // active now
    await cache.feedCache().invalidate(reader.userId);
    cache.feedCache().dropL1();
    const l2Before = stats().l2.hits;
    const since = Date.now();
    await until(async () => {
      const done = [...stack.stepFunctions.executions.values()].filter((e) => e.name.startsWith('cache-warming') && e.status === 'SUCCEEDED' && e.startDate * 1000 > since);
      return done.length > 0;
    }, 10_000, 'a CacheWarming run');
    cache.feedCache().dropL1();
    await feed(reader);
    expect(stats().l2.hits).toBeGreaterThan(l2Before);
  });
});
