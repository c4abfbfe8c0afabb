// The pages past a cached window (shared/domain/feed-continuation.ts): what one read past the
// window keeps serves the next pages exactly as a read from DynamoDB would give them, or not at
// all. Checked against a model of readFeedPage over random feeds: a precomputed feed, high-tier
// authors pulled at read time and followed authors read once the precomputed feed runs out, at
// page sizes that put each source's cut and the bound on what is kept inside the pages read.
import { describe, expect, it } from 'vitest';
import { continuationItems, keepContinuation, pageFromContinuation, type ContinuationRead } from '../../shared/domain/feed-continuation.js';
import { decodeFeedCursor, mergeFeedPage, type FeedPosition } from '../../shared/domain/feed-merge.js';
import { FEED_MAX_ENTRIES } from '../../shared/domain/limits.js';
import type { Post, PostPage } from '../../shared/domain/post.js';

const USER = 'U1';
const post = (n: number, author = 'A'): Post => ({ postId: `0D${String(n).padStart(11, '0')}`, authorId: author, content: `p${n}`, createdAt: new Date(n * 1000).toISOString() });
const ids = (page: PostPage | undefined) => page?.items.map((p) => Number(p.postId.slice(2)));

/** A feed's sources: every post of each, newest first. */
interface Feed {
  pushed: Post[];
  pulled: Post[][];
  history: Post[][];
}

const olderThan = (posts: Post[], before: string | undefined, n: number) => posts.filter((p) => !before || p.postId < before).slice(0, n);

/** readContinuation as it reads for a page of `page`: `n` of each source after `before`, history
 *  when the precomputed feed gives fewer than the page and one (readFeedPage: n = page + 1). */
function read(feed: Feed, before: string | undefined, n: number, page = n - 1): ContinuationRead & { exhausted: boolean } {
  const all = olderThan(feed.pushed, before, Infinity);
  const pushed = all.slice(0, n);
  const exhausted = all.length < n;
  // History only when the page itself needs it (readContinuation; readFeedPage when n = page + 1).
  const history = all.length < page + 1;
  const source = (posts: Post[]) => {
    const got = olderThan(posts, before, n);
    return { posts: got, cut: got.length >= n };
  };
  return { pushed: { posts: pushed, cut: !exhausted }, pulled: feed.pulled.map(source), ...(history && { history: feed.history.map(source) }), exhausted };
}

/** The page a read from DynamoDB gives after `position`. */
function fresh(feed: Feed, limit: number, position?: FeedPosition): PostPage {
  const r = read(feed, position?.before, limit + 1);
  return mergeFeedPage(USER, [...r.pushed.posts, ...r.pulled.flatMap((s) => s.posts), ...(r.history ?? []).flatMap((s) => s.posts)], limit, position);
}

/** A seeded generator (mulberry32): the same feeds on every run. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random feed over post ids 1..400: each post in some sources (a pushed post may also be a
 *  pulled or followed author's, as in a real feed). */
function randomFeed(rnd: () => number): Feed {
  const pulled = Array.from({ length: Math.floor(rnd() * 4) }, () => [] as Post[]);
  const history = Array.from({ length: Math.floor(rnd() * 5) }, () => [] as Post[]);
  const pushed: Post[] = [];
  const pushedShare = rnd();
  for (let n = 400; n >= 1; n--) {
    const r = rnd();
    if (r < pushedShare * 0.5) pushed.push(post(n));
    if (pulled.length > 0 && rnd() < 0.15) pulled[Math.floor(rnd() * pulled.length)]!.push(post(n, 'H'));
    if (history.length > 0 && rnd() < 0.2) history[Math.floor(rnd() * history.length)]!.push(post(n, 'F'));
  }
  return { pushed, pulled, history };
}

describe('pages past the cached window', () => {
  it('are the pages a read from DynamoDB gives, or none, over 300 random feeds and page sizes', () => {
    const rnd = random(15);
    let served = 0;
    let declined = 0;
    for (let f = 0; f < 300; f++) {
      const feed = randomFeed(rnd);
      const limit = [1, 2, 3, 5, 10, 20][Math.floor(rnd() * 6)]!;
      // A reader past the window: the window's last page's cursor, then page after page.
      let position: FeedPosition | undefined = { before: post(400 - Math.floor(rnd() * 100)).postId, served: 80 };
      const kept = keepContinuation(read(feed, position.before, continuationItems(limit), limit), limit);
      for (let page = 0; page < 8 && position; page++) {
        const expected = fresh(feed, limit, position);
        const got = pageFromContinuation(USER, kept, limit, position, () => false);
        if (page === 0) expect(got, `feed ${f}: the read's own page`).toBeDefined();
        if (got) {
          served++;
          expect(ids(got), `feed ${f}, page ${page} (limit ${limit})`).toEqual(ids(expected));
          expect(got.nextCursor === null).toBe(expected.nextCursor === null);
        } else declined++;
        position = expected.nextCursor ? decodeFeedCursor(USER, expected.nextCursor) : undefined;
      }
    }
    // Both outcomes are exercised: later pages come from what was kept, and the kept items run out.
    expect(served).toBeGreaterThan(600);
    expect(declined).toBeGreaterThan(100);
  });

  it('serve the next pages without a read while the kept items reach, then decline', () => {
    const feed: Feed = { pushed: Array.from({ length: 200 }, (_, i) => post(300 - i)), pulled: [], history: [] };
    const first: FeedPosition = { before: post(301).postId, served: 80 };
    const kept = keepContinuation(read(feed, first.before, continuationItems(20), 20), 20);
    expect(kept.pushed).toHaveLength(61);
    const pages: (number[] | undefined)[] = [];
    let position: FeedPosition | undefined = first;
    for (let i = 0; i < 4 && position; i++) {
      const page = pageFromContinuation(USER, kept, 20, position, () => false);
      pages.push(ids(page));
      position = page?.nextCursor ? decodeFeedCursor(USER, page.nextCursor) : undefined;
    }
    // The third page needs item 240 after it, the 61st and last kept; the fourth is read afresh.
    expect(pages.map((p) => p?.[0])).toEqual([300, 280, 260, undefined]);
  });

  it('leave out posts deleted since they were kept, as a fresh read would', () => {
    const feed: Feed = { pushed: Array.from({ length: 100 }, (_, i) => post(100 - i)), pulled: [], history: [] };
    const at: FeedPosition = { before: post(101).postId, served: 80 };
    const kept = keepContinuation(read(feed, at.before, continuationItems(5), 5), 5);
    const gone = new Set([post(99).postId]);
    expect(ids(pageFromContinuation(USER, kept, 5, at, (id) => gone.has(id)))).toEqual([100, 98, 97, 96, 95]);
  });

  it('are read afresh near the precomputed feed’s cap, where a read asks it for fewer entries', () => {
    const feed: Feed = { pushed: Array.from({ length: 100 }, (_, i) => post(100 - i)), pulled: [], history: [] };
    const kept = keepContinuation(read(feed, post(101).postId, continuationItems(20), 20), 20);
    expect(pageFromContinuation(USER, kept, 20, { before: post(101).postId, served: FEED_MAX_ENTRIES - 20 }, () => false)).toBeUndefined();
    expect(pageFromContinuation(USER, kept, 20, { before: post(101).postId, served: FEED_MAX_ENTRIES - 21 }, () => false)).toBeDefined();
  });
});
