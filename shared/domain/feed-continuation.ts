// The pages past a cached window, kept from the read that went past it. A page there is read from
// every source at once — the precomputed feed, each high-tier author followed and, once the
// precomputed feed runs out, each followed author (history) — one request per source however
// many items it asks for. That read asks each source for a few pages' worth instead of one page
// and one item, so the session's next pages are served from what it kept: exactly the pages a
// read from DynamoDB would give, or none. A source cut short by the read (it returned all it was
// asked for, and may hold more) is known only down to its last item, its horizon: a page is
// served only when its items and the one after them are all newer than every horizon of the
// sources that page draws on, so no item a fresh read would find can be missing from it.
import { mergeFeedPage, type FeedPosition } from './feed-merge.js';
import { FEED_MAX_ENTRIES } from './limits.js';
import type { Post, PostPage } from './post.js';

/** Pages of items the read past the window asks each source for (and one more item), within
 *  BatchGetItem's 100 keys for the precomputed feed's hydration. */
export const CONTINUATION_PAGES = 3;
export const continuationItems = (limit: number) => Math.max(limit + 1, Math.min(limit * CONTINUATION_PAGES + 1, 100));

/** What a read past the window kept, newest first (ids older than the position it was read at). */
export interface Continuation {
  /** Posts from the precomputed feed. */
  pushed: Post[];
  /** The precomputed feed held nothing past what the read took of it (history was read). */
  exhausted: boolean;
  /** Posts of the precomputed feed the read took but the bound on what is kept left out (all
   *  older than every kept item): a fresh read counts them when it decides on history. */
  pushedBelow?: number;
  /** Posts pulled from the high-tier authors followed. */
  pulled: Post[];
  /** Posts of the followed authors (history), when the page read needed them. */
  history?: Post[];
  /** The newest last item of the sources of each kind that the read cut short (absent: none was):
   *  such a source is known down to that item, included. */
  horizon: { pushed?: string; pulled?: string; history?: string };
}

/** What one source gave: its posts, newest first, and whether it may hold more than that. */
export interface SourceRead {
  posts: Post[];
  cut: boolean;
}

/** The newest of the cut-short sources' last items (a source is known down to its last item). */
export function horizonOf(sources: SourceRead[]): string | undefined {
  let h: string | undefined;
  for (const s of sources) {
    const last = s.posts[s.posts.length - 1]?.postId;
    if (s.cut && last !== undefined && (h === undefined || last > h)) h = last;
  }
  return h;
}

const older = (posts: Post[], before: string, gone: (postId: string) => boolean) => posts.filter((p) => p.postId < before && !gone(p.postId));

/**
 * The page after `position` as a read from DynamoDB would give it (readFeedPage with one page and
 * one item per source), from what a read past the window kept; undefined when the kept items
 * cannot tell. `gone`: posts deleted since (a fresh read would not find them).
 */
export function pageFromContinuation(userId: string, kept: Continuation, limit: number, position: FeedPosition, gone: (postId: string) => boolean): PostPage | undefined {
  const want = limit + 1;
  // Near the precomputed feed's cap a fresh read asks it for fewer items: read afresh.
  if (position.served + want > FEED_MAX_ENTRIES) return undefined;
  const pushed = older(kept.pushed, position.before, gone);
  // A fresh read continues into history when the precomputed feed gives fewer than a page and one.
  // The posts left out below the kept ones count too: a page is served only past them (the
  // horizon check below), so they are all older than the position.
  const history = pushed.length + (kept.pushedBelow ?? 0) < want;
  // A precomputed feed the read cut short may hold more: whether history is due is not known.
  if (history && (!kept.exhausted || kept.history === undefined)) return undefined;
  const horizons = [kept.horizon.pushed, kept.horizon.pulled, history ? kept.horizon.history : undefined].filter((h): h is string => h !== undefined);
  const candidates = [...pushed, ...older(kept.pulled, position.before, gone), ...(history ? older(kept.history!, position.before, gone) : [])];
  const ids = [...new Set(candidates.map((p) => p.postId))].sort().reverse();
  // The page's items and the one after them must all be newer than every horizon; with fewer than
  // that many items, the page ends the feed only if no source was cut short.
  const deciding = ids[want - 1];
  if (horizons.length > 0 && (deciding === undefined || horizons.some((h) => deciding < h))) return undefined;
  return mergeFeedPage(userId, candidates, limit, position);
}

/** What a read past the window found, by source (see readContinuation in feed-entries.ts). */
export interface ContinuationRead {
  pushed: SourceRead;
  pulled: SourceRead[];
  /** The followed authors' posts, when the page read needed them (the precomputed feed gave
   *  fewer than a page and one). */
  history?: SourceRead[];
}

/** What is kept of a read past the window: the newest continuationItems(limit) posts of each
 *  kind (a page draws on the precomputed feed and the pulled authors, and on history only once the
 *  precomputed feed runs out); a kind that lost posts to that bound counts as cut short at the
 *  last one kept. */
export function keepContinuation(read: ContinuationRead, limit: number): Continuation {
  const bound = continuationItems(limit);
  const kind = (sources: SourceRead[]) => {
    const all = [...new Map(sources.flatMap((s) => s.posts).map((p) => [p.postId, p])).values()].sort((a, b) => (a.postId < b.postId ? 1 : -1));
    const kept = all.slice(0, bound);
    const read = horizonOf(sources);
    const cut = all.length > bound ? kept[kept.length - 1]!.postId : undefined;
    return { kept, lost: all.length - kept.length, horizon: cut !== undefined && (read === undefined || cut > read) ? cut : read };
  };
  const p = kind([read.pushed]);
  const u = kind(read.pulled);
  const h = read.history && kind(read.history);
  return {
    pushed: p.kept,
    exhausted: !read.pushed.cut,
    ...(p.lost > 0 && { pushedBelow: p.lost }),
    pulled: u.kept,
    ...(h && { history: h.kept }),
    horizon: { ...(p.horizon !== undefined && { pushed: p.horizon }), ...(u.horizon !== undefined && { pulled: u.horizon }), ...(h?.horizon !== undefined && { history: h.horizon }) },
  };
}
