// A day of the product as its users live it, generated from a seed with no I/O: each user comes
// back after gaps drawn from a heavy-tailed distribution whose median shortens with their activity
// rank (many returns within the hour for the busiest, days for the quietest), reads one to a few
// pages per visit, and posts and follows at their activity rank. The same plan drives the cached
// day and its uncached replay, so the two differ only in the cache.
import { FEED_L2_ACTIVE_TTL_SECONDS } from '../shared/cache/cache-keys.js';
import { AliasTable, forkRng, shuffle, type Rng } from './rng.js';
import type { Graph } from './workload.js';

export const DAY_SECONDS = 86_400;

/** Median gap between sessions of the most active user; a user at activity rank r waits
 *  GAP_MEDIAN_TOP_S × r^GAP_RANK_EXPONENT. With the log-normal's mean at e^(σ²/2) ≈ 3.1 × median,
 *  rank 1 opens ~39 sessions a day, rank 1,000 ~2.1, rank 20,000 ~0.45 (a weekly-ish user). */
const GAP_MEDIAN_TOP_S = 12 * 60;
const GAP_RANK_EXPONENT = 0.45;
/** Spread of log-gaps (log-normal σ): P(gap > 10 × median) ≈ 6%, so returns after days happen,
 *  and returns within minutes too. */
const GAP_SIGMA = 1.5;
/** Chance of reading one more page at the end of a page (scrolling on): 1.5 pages per session
 *  on average, 1 in 8 sessions reads three or more. */
const NEXT_PAGE_P = 0.35;
const MAX_PAGES = 10;
/** Time spent on a page before the next one, seconds of the simulated day. */
const PAGE_DWELL_S = 25;
/** Follows per user per day (one new followee a month and a half on average). */
const FOLLOWS_PER_USER_DAY = 0.02;
/** Simulated time before the day that is played out, unmeasured, so the day starts from the state
 *  the previous days leave (who read when): the longest cache lifetime, a reader's pages' TTL. */
export const PRIOR_SECONDS = FEED_L2_ACTIVE_TTL_SECONDS;

export interface Session {
  user: number;
  /** Seconds from the start of the day (negative: before it). */
  at: number;
  pages: number;
  /** Posts at the end of the session. */
  posts: number;
  /** Users followed at the end of the session. */
  follows: number[];
}

export interface DayPlan {
  users: number[];
  /** Sessions of the day, in time order. */
  sessions: Session[];
  /** Each user's last session before the day, if within PRIOR_SECONDS: seconds before the start. */
  lastBefore: Map<number, number>;
  reads: number;
  posts: number;
  follows: number;
}

export interface DayOptions {
  seed: number;
  /** Users taking part (a uniform sample of the graph, every activity rank). */
  users: number;
  /** Posts per user per month (the seeded history's depth: the day posts a thirtieth of it). */
  postsPerUserMonth: number;
  /** How far back `lastBefore` looks, seconds (default PRIOR_SECONDS). */
  priorSeconds?: number;
}

/** Standard normal by Box-Muller. */
function normal(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/** The median gap between two sessions of a user at this activity rank, seconds. */
export const medianGapSeconds = (rank: number) => GAP_MEDIAN_TOP_S * rank ** GAP_RANK_EXPONENT;

export function planDay(g: Graph, o: DayOptions): DayPlan {
  const rng = forkRng(o.seed, 'day');
  // A uniform sample over every activity rank, in index order (the same for a seed).
  const users = shuffle(forkRng(o.seed, 'day users'), Array.from({ length: g.n }, (_, i) => i))
    .slice(0, Math.min(o.users, g.n))
    .sort((a, b) => a - b);
  const sessions: Session[] = [];
  const lastBefore = new Map<number, number>();
  for (const u of users) {
    const median = medianGapSeconds(g.activityRank[u]!);
    const gap = () => median * Math.exp(GAP_SIGMA * normal(rng));
    // A renewal process begun well before the day (a week), so the day sees it in its stationary
    // state: who read recently when the day starts is drawn, not assumed.
    let t = -7 * DAY_SECONDS + rng.next() * gap();
    while (t < DAY_SECONDS) {
      if (t >= 0) sessions.push({ user: u, at: t, pages: pagesOf(rng), posts: 0, follows: [] });
      else if (t >= -(o.priorSeconds ?? PRIOR_SECONDS)) lastBefore.set(u, -t);
      t += gap();
    }
  }
  sessions.sort((a, b) => a.at - b.at);
  const posts = assignPosts(g, rng, users, sessions, Math.round((users.length * o.postsPerUserMonth) / 30));
  const follows = assignFollows(g, rng, users, sessions, Math.round(users.length * FOLLOWS_PER_USER_DAY));
  return { users, sessions, lastBefore, reads: sessions.reduce((n, s) => n + s.pages, 0), posts, follows };
}

function pagesOf(rng: Rng): number {
  let pages = 1;
  while (pages < MAX_PAGES && rng.next() < NEXT_PAGE_P) pages++;
  return pages;
}

/** The day's posts: authors drawn by post weight among the sample; each at the end of one of the
 *  author's sessions (an author with none that day gets a session of their own). */
function assignPosts(g: Graph, rng: Rng, users: number[], sessions: Session[], count: number): number {
  const byUser = sessionsByUser(sessions);
  const table = new AliasTable(Float64Array.from(users.map((u) => g.postWeights[u]!)));
  for (let k = 0; k < count; k++) {
    const u = users[table.sample(rng)]!;
    sessionOf(byUser, sessions, u, rng).posts++;
  }
  sessions.sort((a, b) => a.at - b.at);
  return count;
}

/** The day's follows: followers by post weight (activity) among the sample, followees by post
 *  weight among everyone they do not follow yet. */
function assignFollows(g: Graph, rng: Rng, users: number[], sessions: Session[], count: number): number {
  const byUser = sessionsByUser(sessions);
  const followers = new AliasTable(Float64Array.from(users.map((u) => g.postWeights[u]!)));
  const followees = new AliasTable(g.postWeights);
  let made = 0;
  for (let k = 0; k < count; k++) {
    const u = users[followers.sample(rng)]!;
    const target = followees.sample(rng);
    const s = sessionOf(byUser, sessions, u, rng);
    if (target === u || g.following[u]!.includes(target) || s.follows.includes(target)) continue;
    s.follows.push(target);
    made++;
  }
  sessions.sort((a, b) => a.at - b.at);
  return made;
}

function sessionsByUser(sessions: Session[]): Map<number, Session[]> {
  const byUser = new Map<number, Session[]>();
  for (const s of sessions) {
    let list = byUser.get(s.user);
    if (!list) byUser.set(s.user, (list = []));
    list.push(s);
  }
  return byUser;
}

function sessionOf(byUser: Map<number, Session[]>, sessions: Session[], u: number, rng: Rng): Session {
  const own = byUser.get(u);
  if (own?.length) return own[rng.int(own.length)]!;
  const s: Session = { user: u, at: rng.next() * DAY_SECONDS, pages: 1, posts: 0, follows: [] };
  sessions.push(s);
  byUser.set(u, [s]);
  return s;
}

/** Simulated seconds between two pages of one session. */
export const PAGE_DWELL_SECONDS = PAGE_DWELL_S;
