// Feed merging (shared/domain/feed-merge.ts): mergeIntoFirstPage brings a cached first page up to
// date with posts made since, as generating it afresh would; mergeFeedPage merges pushed and
// pulled posts into a page at read time.
import { describe, expect, it } from 'vitest';
import { decodeCursor } from '../../shared/domain/cursor.js';
import { decodeFeedCursor, mergeFeedPage, mergeIntoFirstPage } from '../../shared/domain/feed-merge.js';
import type { Post, PostPage } from '../../shared/domain/post.js';

const post = (n: number): Post => ({ postId: `0D${String(n).padStart(11, '0')}`, authorId: '0DAUTHOR00000', content: `p${n}`, createdAt: new Date(n * 1000).toISOString() });
const ids = (page: PostPage) => page.items.map((p) => Number(p.postId.slice(2)));
const full = (from: number, count: number, cursor: string | null): PostPage => ({ items: Array.from({ length: count }, (_, i) => post(from - i)), nextCursor: cursor });

describe('mergeIntoFirstPage', () => {
  it('puts newer posts on top and keeps the page at its limit, with a cursor after the last item kept', () => {
    const page = full(10, 5, 'old-cursor'); // 10..6
    const merged = mergeIntoFirstPage('U1', page, 5, [post(12), post(11)]);
    expect(ids(merged)).toEqual([12, 11, 10, 9, 8]);
    expect(decodeCursor<{ before: string; served: number }>('feed:U1', merged.nextCursor!)).toEqual({ before: post(8).postId, served: 5 });
  });

  it('leaves out posts older than the last item of a page that has more after it', () => {
    const page = full(10, 5, 'old-cursor');
    expect(mergeIntoFirstPage('U1', page, 5, [post(3)])).toBe(page);
  });

  it('takes older posts into a page that holds the whole feed, keeping it cursorless while it fits', () => {
    const page = full(10, 3, null); // 10, 9, 8
    const merged = mergeIntoFirstPage('U1', page, 5, [post(2), post(11)]);
    expect(ids(merged)).toEqual([11, 10, 9, 8, 2]);
    expect(merged.nextCursor).toBeNull();
  });

  it('gives a whole-feed page a cursor once it overflows', () => {
    const merged = mergeIntoFirstPage('U1', full(10, 3, null), 3, [post(11)]);
    expect(ids(merged)).toEqual([11, 10, 9]);
    expect(decodeCursor<{ before: string }>('feed:U1', merged.nextCursor!).before).toBe(post(9).postId);
  });

  it('adds nothing twice', () => {
    const page = full(10, 5, 'c');
    expect(mergeIntoFirstPage('U1', page, 5, [post(10), post(9)])).toBe(page);
    expect(ids(mergeIntoFirstPage('U1', page, 5, [post(11), post(11)]))).toEqual([11, 10, 9, 8, 7]);
  });
});

describe('mergeFeedPage', () => {
  it('merges pushed and pulled posts newest first, each once', () => {
    const pushed = [post(10), post(8), post(6)];
    const pulled = [post(9), post(8), post(7)];
    const page = mergeFeedPage('U1', [...pushed, ...pulled], 10);
    expect(ids(page)).toEqual([10, 9, 8, 7, 6]);
    expect(page.nextCursor).toBeNull();
  });

  it('serves only posts older than the cursor, so a post arriving meanwhile never shifts a page', () => {
    const page = mergeFeedPage('U1', [post(12), post(7), post(5), post(4)], 2, { before: post(8).postId, served: 3 });
    expect(ids(page)).toEqual([7, 5]);
  });

  it('continues after the last item served and counts what has been served', () => {
    const page = mergeFeedPage('U1', [post(7), post(5), post(4)], 2, { before: post(8).postId, served: 3 });
    expect(decodeFeedCursor('U1', page.nextCursor!)).toEqual({ before: post(5).postId, served: 5 });
  });

  it('gives no cursor when exactly a page remains', () => {
    expect(mergeFeedPage('U1', [post(3), post(2)], 2).nextCursor).toBeNull();
  });

  it('issues cursors only its reader can use', () => {
    const page = mergeFeedPage('U1', [post(3), post(2), post(1)], 2);
    expect(() => decodeFeedCursor('U2', page.nextCursor!)).toThrow();
  });
});
