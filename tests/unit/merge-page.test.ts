// mergeIntoFirstPage (shared/services/feed-entries.ts): bringing a cached first page up to date with posts made
// since, as generating it afresh would.
import { describe, expect, it } from 'vitest';
import { decodeCursor } from '../../shared/domain/cursor.js';
import { mergeIntoFirstPage } from '../../shared/services/feed-entries.js';
import type { Post, PostPage } from '../../shared/services/posts.js';

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
