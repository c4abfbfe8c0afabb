// The cached window's serialization (shared/services/home-feed.ts): each serialization is stamped
// at its head, and a window parsed once is found again by that stamp, however its string came
// back (an L2 hit is a new string each time), while a changed window is parsed afresh. A followed
// author's backfilled posts merge into a window as a fresh generation orders them.
import { describe, expect, it } from 'vitest';
import { isWindowHead, WINDOW_HEAD, windowStampOf } from '../../shared/cache/window.js';
import { continuationVariant, feedVariant } from '../../shared/cache/cache-keys.js';
import { idAt } from '../../shared/domain/ids.js';
import { decode, encodeWindow, internWindow, withBackfill, withoutAuthor, withoutPost } from '../../shared/services/home-feed.js';

const post = (n: number) => ({ postId: `p${n}`, authorId: 'a', content: `post ${n}`, createdAt: '2026-12-01T00:00:00.000Z' });
const window = (n: number) => ({ page: { items: [post(n)], nextCursor: null }, pulled: [], at: 1 });

describe('cached windows', () => {
  it('are stamped at their head, a different stamp on every serialization, and stay plain JSON', () => {
    const a = encodeWindow(window(1));
    const b = encodeWindow(window(1));
    expect(a).toMatch(/^\{"s":"[A-Za-z0-9_-]{16}",/);
    expect(a.slice(0, 23)).not.toBe(b.slice(0, 23));
    expect(JSON.parse(a)).toMatchObject(window(1));
    const withRest = encodeWindow({ ...window(1), rest: '[]', beyond: true, pulledOnly: [] });
    expect(Object.keys(JSON.parse(withRest) as object).at(-1)).toBe('rest'); // a first page's L2 read stops there
  });

  it('have a head that is parsed apart from the whole window', () => {
    const whole = encodeWindow({ ...window(6), rest: JSON.stringify([post(5)]), beyond: true });
    const head = `${whole.slice(0, whole.indexOf(WINDOW_HEAD.cut))}${WINDOW_HEAD.close}`;
    expect(decode(head).cached).toMatchObject({ head: 1, page: window(6).page });
    expect(decode(head).cached.rest).toBeUndefined();
    expect(decode(whole).cached.rest).toBe(JSON.stringify([post(5)]));
  });

  it('are parsed once: the same serialization as another string is the parse already made', () => {
    const value = encodeWindow(window(2));
    const again = (' ' + value).slice(1); // the same characters in another string, as Redis returns them
    expect(decode(again)).toBe(decode(value));
  });

  it('are told by their stamp and head from the bytes Redis sends as from the string', () => {
    const whole = encodeWindow({ ...window(7), rest: JSON.stringify([post(6)]), beyond: true });
    const head = `${whole.slice(0, whole.indexOf(WINDOW_HEAD.cut))}${WINDOW_HEAD.close}`;
    for (const value of [whole, head, '{"s":"short"}', 'page-1', '']) {
      expect(windowStampOf(Buffer.from(value))).toBe(windowStampOf(value));
      expect(isWindowHead(Buffer.from(value))).toBe(isWindowHead(value));
    }
    expect(windowStampOf(whole)).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(isWindowHead(head)).toBe(true);
  });

  it('read from L2 as bytes, are the string this process parsed before when it did, else decoded', () => {
    const value = encodeWindow({ ...window(8), rest: '[]', beyond: true });
    const head = `${value.slice(0, value.indexOf(WINDOW_HEAD.cut))}${WINDOW_HEAD.close}`;
    decode(value);
    expect(internWindow(Buffer.from(value))).toBe(decode(value).text);
    // A head and its window share a stamp, not a string.
    const fromHead = internWindow(Buffer.from(head));
    expect(fromHead).toBe(head);
    expect(internWindow(Buffer.from(head))).toBe(fromHead);
    // Another serialization, and a value with no stamp, are decoded.
    const other = encodeWindow(window(8));
    expect(internWindow(Buffer.from(other))).toBe(other);
    expect(internWindow(Buffer.from('page-1'))).toBe('page-1');
    expect(internWindow('page-1')).toBe('page-1');
  });

  it('are parsed afresh when changed: a window re-serialized after a merge is its new content', () => {
    const first = decode(encodeWindow(window(3))).cached;
    const merged = { ...first, page: { items: [post(4), post(3)], nextCursor: null } };
    const decoded = decode(encodeWindow(merged)).cached;
    expect(decoded.page.items.map((p) => p.postId)).toEqual(['p4', 'p3']);
    expect(decoded.s).not.toBe(first.s);
  });

  it('written before the stamp existed are still read, by their whole string', () => {
    const legacy = JSON.stringify(window(5));
    expect(decode(legacy).cached.page.items[0]!.postId).toBe('p5');
    expect(decode((' ' + legacy).slice(1))).toBe(decode(legacy));
  });
});

describe('a followed author’s backfill in cached pages (withBackfill)', () => {
  const at = (n: number) => idAt(Date.UTC(2026, 10, 1) + n * 60_000, 7);
  const p = (n: number, authorId: string) => ({ postId: at(n), authorId, content: `post ${n}`, createdAt: new Date(Date.UTC(2026, 10, 1) + n * 60_000).toISOString() });
  const reader = idAt(Date.UTC(2026, 9, 1), 3);
  // A window of limit 5 over author A's posts 1–4 and 7–10 (the feed before the follow).
  const a = [10, 9, 8, 7, 4, 3, 2, 1].map((n) => p(n, 'A'));
  const windowOf = (items: ReturnType<typeof p>[]) =>
    encodeWindow({ page: { items: items.slice(0, 5), nextCursor: 'c' }, pulled: [], at: 1, rest: JSON.stringify(items.slice(5)), beyond: false, pulledOnly: [] });
  const ids = (value: string) => {
    const { page, rest } = decode(value).cached;
    return [...page.items, ...(JSON.parse(rest!) as { postId: string }[])].map((x) => x.postId);
  };

  it('merges the new author’s posts into a window as a fresh generation orders them, newest first', () => {
    const b = [11, 6, 5].map((n) => p(n, 'B'));
    const merged = withBackfill(reader, feedVariant(5), windowOf(a), b)!;
    expect(ids(merged)).toEqual([11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1].map(at));
    expect(decode(merged).cached.page.items.map((x) => x.postId)).toEqual([11, 10, 9, 8, 7].map(at));
    expect(decode(merged).cached.page.nextCursor).not.toBeNull();
  });

  it('leaves a window unchanged when it already holds every backfilled post (a repeated follow)', () => {
    expect(withBackfill(reader, feedVariant(5), windowOf(a), a.slice(0, 3))).toBeUndefined();
  });

  it('drops a first page continued from history, and what a read past the window kept', () => {
    const firstOnly = encodeWindow({ page: { items: a.slice(0, 5), nextCursor: 'c' }, pulled: [], at: 1 });
    expect(withBackfill(reader, feedVariant(5), firstOnly, [p(11, 'B')])).toBeNull();
    expect(withBackfill(reader, continuationVariant(5), JSON.stringify({ pushed: [], exhausted: true, pulled: [], horizon: {} }), [p(11, 'B')])).toBeNull();
  });
});

describe('a deleted post out of cached pages (withoutPost)', () => {
  const at = (n: number) => idAt(Date.UTC(2026, 10, 1) + n * 60_000, 7);
  const p = (n: number) => ({ postId: at(n), authorId: 'A', content: `post ${n}`, createdAt: new Date(Date.UTC(2026, 10, 1) + n * 60_000).toISOString() });
  const reader = idAt(Date.UTC(2026, 9, 1), 3);
  const windowOf = (ns: number[], extra: object = {}) => {
    const items = ns.map(p);
    return encodeWindow({ page: { items: items.slice(0, 5), nextCursor: 'c' }, pulled: [], at: 1, rest: JSON.stringify(items.slice(5)), beyond: true, pulledOnly: [], ...extra });
  };
  const ids = (value: string) => {
    const { page, rest } = decode(value).cached;
    return [...page.items, ...(JSON.parse(rest!) as { postId: string }[])].map((x) => x.postId);
  };

  it('takes the post out of a window, the first page refilled from the window’s next items', () => {
    const out = withoutPost(reader, feedVariant(5), windowOf([10, 9, 8, 7, 6, 5, 4, 3]), at(9))!;
    expect(ids(out)).toEqual([10, 8, 7, 6, 5, 4, 3].map(at));
    expect(decode(out).cached.page.items.map((x) => x.postId)).toEqual([10, 8, 7, 6, 5].map(at));
    expect(decode(out).cached.beyond).toBe(true);
  });

  it('leaves a page without the post unchanged', () => {
    expect(withoutPost(reader, feedVariant(5), windowOf([10, 9, 8, 7, 6, 5]), at(1))).toBeUndefined();
    expect(withoutPost(reader, continuationVariant(5), JSON.stringify({ pushed: [p(2)], exhausted: true, pulled: [], horizon: {} }), at(1))).toBeUndefined();
  });

  it('drops a page it cannot refill: a window left without a page and one, a first page continued from history, what a read past the window kept', () => {
    expect(withoutPost(reader, feedVariant(5), windowOf([10, 9, 8, 7, 6, 5]), at(9))).toBeNull();
    const firstOnly = encodeWindow({ page: { items: [10, 9, 8].map(p), nextCursor: null }, pulled: [], at: 1 });
    expect(withoutPost(reader, feedVariant(5), firstOnly, at(9))).toBeNull();
    expect(withoutPost(reader, continuationVariant(5), JSON.stringify({ pushed: [p(2), p(1)], exhausted: true, pulled: [], horizon: {} }), at(1))).toBeNull();
  });
});

describe('an unfollowed author out of cached pages (withoutAuthor)', () => {
  const at = (n: number) => idAt(Date.UTC(2026, 10, 1) + n * 60_000, 7);
  const p = (n: number, authorId: string) => ({ postId: at(n), authorId, content: `post ${n}`, createdAt: new Date(Date.UTC(2026, 10, 1) + n * 60_000).toISOString() });
  const reader = idAt(Date.UTC(2026, 9, 1), 3);
  const [A, B, C] = [idAt(Date.UTC(2026, 8, 1), 1), idAt(Date.UTC(2026, 8, 2), 1), idAt(Date.UTC(2026, 8, 3), 1)];
  // A's posts 9, 6, 3; B's 10, 8, 7, 5, 4, 2, 1; C (a celebrity the window pulled from) post 11.
  const items = [p(11, C), p(10, B), p(9, A), p(8, B), p(7, B), p(6, A), p(5, B), p(4, B), p(3, A), p(2, B), p(1, B)];
  const window = encodeWindow({ page: { items: items.slice(0, 5), nextCursor: 'c' }, pulled: [C], at: 1, rest: JSON.stringify(items.slice(5)), beyond: true, pulledOnly: [at(11)] });

  it('takes the author’s posts out of a window, the first page refilled from its next items', () => {
    const out = decode(withoutAuthor(reader, feedVariant(5), window, A)!).cached;
    expect(out.page.items.map((x) => x.postId)).toEqual([11, 10, 8, 7, 5].map(at));
    expect((JSON.parse(out.rest!) as { postId: string }[]).map((x) => x.postId)).toEqual([4, 2, 1].map(at));
    expect(out.pulled).toEqual([C]);
  });

  it('takes a pulled author out of the authors the window pulls from, with their posts', () => {
    const out = decode(withoutAuthor(reader, feedVariant(5), window, C)!).cached;
    expect(out.pulled).toEqual([]);
    expect(out.pulledOnly).toEqual([]);
    expect(out.page.items.map((x) => x.postId)).toEqual([10, 9, 8, 7, 6].map(at));
  });

  it('leaves a window without the author unchanged, and drops one left with less than a page and one', () => {
    expect(withoutAuthor(reader, feedVariant(5), window, idAt(Date.UTC(2026, 8, 4), 1))).toBeUndefined();
    expect(withoutAuthor(reader, feedVariant(5), window, B)).toBeNull(); // 4 posts left
  });
});
