// High-tier authors' recent-posts lists (shared/cache/pull-cache.ts) on the real redis-server:
// what a list answers, how the first reader fills it from DynamoDB's answer, and what keeps a
// fill from leaving out a new post or bringing back a deleted one.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { closeL2 } from '../../shared/cache/l2.js';
import { cachedRecentPosts, checkSyncedPage, fillRecentPosts, newPostsOf, recordDeletion, recordRecentPost, syncPostMirror } from '../../shared/cache/pull-cache.js';
import { createPost, type Post } from '../../shared/services/posts.js';
import { pullSources } from '../../shared/services/pull.js';
import { newUser } from '../support/fixtures-feeds.js';

afterAll(() => closeL2());

const author = () => `A${randomUUID().replace(/-/g, '').slice(0, 12).toUpperCase()}`;
/** Post n of an author; ids sort by n, as time-sortable ids do. */
const post = (authorId: string, n: number): Post => ({ postId: `0D${String(n).padStart(11, '0')}`, authorId, content: `post ${n}`, createdAt: new Date(1_700_000_000_000 + n).toISOString() });
const ids = (posts: Post[] | undefined) => posts?.map((p) => Number(p.postId.slice(2)));
/** Newest first, as DynamoDB's byAuthor query answers. */
const history = (a: string, ...ns: number[]) => ns.map((n) => post(a, n));
const LONG_AGO = () => Date.now() + 10_000; // a read that started well after any post recorded here

describe('recent-posts lists', () => {
  it('answers nothing without a list', async () => {
    expect(await cachedRecentPosts(author(), 1)).toBeUndefined();
  });

  it('serves any count from a complete list, and only what it holds from a partial one', async () => {
    const [a, b] = [author(), author()];
    await fillRecentPosts(a, history(a, 3, 2, 1), true, LONG_AGO());
    expect(ids(await cachedRecentPosts(a, 20))).toEqual([3, 2, 1]);
    expect(ids(await cachedRecentPosts(a, 2))).toEqual([3, 2]);
    expect(ids(await cachedRecentPosts(a, 20, post(a, 3).postId))).toEqual([2, 1]);
    await fillRecentPosts(b, history(b, 9, 8, 7), false, LONG_AGO());
    expect(ids(await cachedRecentPosts(b, 3))).toEqual([9, 8, 7]);
    expect(await cachedRecentPosts(b, 4)).toBeUndefined();
    expect(ids(await newPostsOf([a, b]))).toEqual([3, 2, 1, 9, 8, 7]);
  });

  it('does not fill from a read that may predate the author’s last post', async () => {
    const a = author();
    await recordRecentPost(post(a, 4));
    await fillRecentPosts(a, history(a, 3, 2, 1), true, Date.now()); // the read may lack post 4
    expect(ids(await cachedRecentPosts(a, 1))).toEqual([4]);
    expect(await cachedRecentPosts(a, 2)).toBeUndefined();
  });

  it('extends a list that new posts started with the older posts, then keeps taking new ones', async () => {
    const a = author();
    await recordRecentPost(post(a, 4));
    await fillRecentPosts(a, history(a, 4, 3, 2, 1), true, LONG_AGO());
    expect(ids(await cachedRecentPosts(a, 10))).toEqual([4, 3, 2, 1]);
    await recordRecentPost(post(a, 5));
    expect(ids(await cachedRecentPosts(a, 10))).toEqual([5, 4, 3, 2, 1]);
    await fillRecentPosts(a, history(a, 5, 4, 3, 2, 1, 0), true, LONG_AGO()); // complete: no change
    expect(ids(await cachedRecentPosts(a, 10))).toEqual([5, 4, 3, 2, 1]);
  });

  it('leaves out a post deleted while it was being read', async () => {
    const a = author();
    await recordDeletion(post(a, 2));
    await fillRecentPosts(a, history(a, 3, 2, 1), true, LONG_AGO());
    expect(ids(await cachedRecentPosts(a, 10))).toEqual([3, 1]);
  });
  it('is filled by the first pull of a high-tier author from DynamoDB, and never for other authors', async () => {
    const [celebrity, regular] = [await newUser(), await newUser()];
    const posts: Post[] = [];
    for (let i = 0; i < 3; i++) posts.push(await createPost(celebrity, `c${i}`), await createPost(regular, `r${i}`));
    const newest = (u: { userId: string }) => posts.filter((p) => p.authorId === u.userId).map((p) => p.postId).reverse();
    expect((await pullSources.recentPosts(celebrity.userId, 2, undefined, true)).map((p) => p.postId)).toEqual(newest(celebrity).slice(0, 2));
    expect((await cachedRecentPosts(celebrity.userId, 10))?.map((p) => p.postId)).toEqual(newest(celebrity));
    expect((await pullSources.recentPosts(regular.userId, 2, undefined, false)).map((p) => p.postId)).toEqual(newest(regular).slice(0, 2));
    expect(await cachedRecentPosts(regular.userId, 1)).toBeUndefined();
  });
});

describe('checking a cached page against the mirror', () => {
  it('answers a page checked before from its last check until the mirror changes, then checks again', async () => {
    const pulledFrom = author();
    const other = author();
    const page = { items: [post(other, 7), post(other, 6), post(other, 5)] };
    const cached = { page, pulled: [pulledFrom], at: Date.now() - 1_000 };
    await syncPostMirror();
    const first = checkSyncedPage(cached);
    expect(first).toEqual({ page });
    // Unchanged mirror: the same answer, not a new one.
    expect(checkSyncedPage(cached)).toBe(first);
    // A deletion this process recorded: the next check leaves the post out.
    await recordDeletion(post(other, 6));
    expect(checkSyncedPage(cached)).toEqual({ page: { items: [post(other, 7), post(other, 5)] } });
    // A post by an author the page pulled from: the page is stale.
    await recordRecentPost({ ...post(pulledFrom, 8), createdAt: new Date().toISOString() });
    expect(checkSyncedPage(cached)).toEqual({ stale: [pulledFrom] });
  });
});
