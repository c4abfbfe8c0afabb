// How many partition keys an account's follower edges are spread over, and which layouts a write
// must touch while they move from one count to the next. Pure policy: the store keeps the layout
// row and the edges (shared/store/follows.ts), keys.ts decides a follower's bucket.
import { EDGE_BUCKETS_MAX, EDGE_BUCKETS_MIN } from './limits.js';

/** An account's edge layout: `buckets` is what readers read. While a move runs, `target` is the
 *  layout being filled (writes reach it from `dualAt`, copying from `copyAt`); after the flip,
 *  `prev` is still written until `prevUntil`, for readers that have not seen the flip, and its
 *  leftovers are removed from `cleanAt`. Times are epoch milliseconds. */
export interface EdgeLayout {
  buckets: number;
  target?: number;
  dualAt?: number;
  copyAt?: number;
  /** Copy progress: old buckets below `bucket` are done, and `bucket` itself up to `after`. */
  copied?: { bucket: number; after?: string };
  prev?: number;
  prevUntil?: number;
  cleanAt?: number;
  /** When a move step last ran (a stalled move is queued again). */
  stepAt?: number;
  /** Steps taken: each step advances only from the count it read, so a redelivered step message
   *  does not start a second chain of steps. */
  step?: number;
}

export const UNBUCKETED: EdgeLayout = Object.freeze({ buckets: 1 });

const nextPowerOfTwo = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/** Buckets for an account with `followers`: one below the threshold; from it, EDGE_BUCKETS_MIN,
 *  doubling as each bucket passes one threshold's worth of followers, at most EDGE_BUCKETS_MAX.
 *  Powers of two, so a move from N to 2N splits every bucket in two (a follower in bucket b stays
 *  there or goes to b + N). */
export function bucketsFor(followers: number, threshold: number): number {
  if (followers < threshold) return 1;
  return Math.min(EDGE_BUCKETS_MAX, Math.max(EDGE_BUCKETS_MIN, nextPowerOfTwo(Math.ceil(followers / threshold))));
}

/** The layout an account should move to next, or undefined: only ever growing, one move at a
 *  time (an account that shrinks keeps its buckets: a move costs a copy of every edge). */
export function nextMove(layout: EdgeLayout, followers: number, threshold: number): number | undefined {
  if (layout.target !== undefined || layout.prev !== undefined) return undefined;
  const want = bucketsFor(followers, threshold);
  return want > layout.buckets ? want : undefined;
}

/** The bucket counts a new edge is written under at `now`: the read layout, the target once
 *  dual writes began, the previous one until stale readers are gone. */
export function putLayouts(layout: EdgeLayout, now: number): number[] {
  const out = [layout.buckets];
  if (layout.target !== undefined && now >= (layout.dualAt ?? 0)) out.push(layout.target);
  if (layout.prev !== undefined && now < (layout.prevUntil ?? 0)) out.push(layout.prev);
  return out;
}

/** The bucket counts an unfollow deletes under: every layout the account may hold an edge in, so
 *  an unfollow decided just before dual writes began still removes an edge written just after. */
export function deleteLayouts(layout: EdgeLayout): number[] {
  return [layout.buckets, ...(layout.target !== undefined ? [layout.target] : []), ...(layout.prev !== undefined ? [layout.prev] : [])];
}

/** The phase a layout is in, for the mover. */
export type MovePhase = 'settled' | 'waiting' | 'copying' | 'draining' | 'cleaning';
export function movePhase(layout: EdgeLayout, now: number): MovePhase {
  if (layout.target !== undefined) return now < (layout.copyAt ?? 0) ? 'waiting' : 'copying';
  if (layout.prev !== undefined) return now < (layout.cleanAt ?? 0) ? 'draining' : 'cleaning';
  return 'settled';
}

/** The times of a move started at `now`: writes decided before a process could see the move
 *  are committed within one grace period, so dual writes start after one; writes decided
 *  before dual writes began commit within another, so copying starts after two. */
export function moveTimes(now: number, graceMs: number): Required<Pick<EdgeLayout, 'dualAt' | 'copyAt'>> {
  return { dualAt: now + graceMs, copyAt: now + 2 * graceMs };
}

/** The times after a flip at `now`: the old layout is written one more grace period (readers
 *  that cached it see every edge), and cleaned after another (writes decided before then land). */
export function flipTimes(now: number, graceMs: number): Required<Pick<EdgeLayout, 'prevUntil' | 'cleanAt'>> {
  return { prevUntil: now + graceMs, cleanAt: now + 2 * graceMs };
}
