// How a feed page is put together from its sources, and kept current: pushed entries and pulled
// posts merged newest first without duplicates, behind a cursor that is the last post id served
// (so posts arriving meanwhile, with newer ids, never shift a page), and a cached first page
// brought up to date with newer posts as generating it afresh would.
import * as z from 'zod';
import { decodeCursor, encodeCursor } from './cursor.js';
import { ID_PATTERN } from './ids.js';
import type { Post, PostPage } from './post.js';

/** Where a feed reader is: the cursor's content. */
export interface FeedPosition extends Record<string, unknown> {
  /** The last post id served. */
  before: string;
  /** Entries served so far: the precomputed part ends at FEED_MAX_ENTRIES. */
  served: number;
}

const FeedPositionSchema = z.strictObject({ before: z.string().regex(ID_PATTERN), served: z.number().int().min(0) });

const feedScope = (userId: string) => `feed:${userId}`;

export function decodeFeedCursor(userId: string, cursor: string): FeedPosition {
  return decodeCursor(feedScope(userId), cursor, FeedPositionSchema);
}

const newestFirst = (a: Post, b: Post) => (a.postId < b.postId ? 1 : -1);

/** A page of `limit` from `candidates` (pushed and pulled, possibly overlapping), newest first,
 *  only posts older than the position's `before`; the cursor, when more remain, counts what has
 *  been served. */
export function mergeFeedPage(userId: string, candidates: Post[], limit: number, position?: FeedPosition): PostPage {
  const before = position?.before;
  const unique = new Map<string, Post>();
  for (const p of candidates) if (!before || p.postId < before) unique.set(p.postId, p);
  const items = [...unique.values()].sort(newestFirst).slice(0, limit + 1);
  const page = items.slice(0, limit);
  const more = items.length > limit;
  const served = (position?.served ?? 0) + page.length;
  return { items: page, nextCursor: more ? encodeCursor(feedScope(userId), { before: page[page.length - 1]!.postId, served }) : null };
}

/** A cached first page of `userId`'s feed with `newer` posts merged in, as generating it afresh
 *  would give: newest first, no duplicates, at most `limit` items. A post older than the page's
 *  last item belongs on a later page (read from DynamoDB, not cached) and is left out; items
 *  pushed off the end reappear on the next page, since the cursor is the last item kept. Returns
 *  `page` itself when nothing was added. */
export function mergeIntoFirstPage(userId: string, page: PostPage, limit: number, newer: Post[]): PostPage {
  const last = page.nextCursor ? page.items[page.items.length - 1]?.postId : undefined;
  const unique = new Map<string, Post>();
  for (const p of page.items) unique.set(p.postId, p);
  let added = 0;
  for (const p of newer) {
    if ((last && p.postId <= last) || unique.has(p.postId)) continue;
    unique.set(p.postId, p);
    added++;
  }
  if (added === 0) return page;
  const items = [...unique.values()].sort(newestFirst);
  if (items.length <= limit) return { items, nextCursor: page.nextCursor };
  const kept = items.slice(0, limit);
  return { items: kept, nextCursor: encodeCursor(feedScope(userId), { before: kept[kept.length - 1]!.postId, served: kept.length }) };
}
