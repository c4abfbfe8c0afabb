// The synthetic social graph and request mix, generated from a seed with no I/O: follower counts
// from a power law (Kwak et al., WWW 2010: exponent ≈ 2.276 on Twitter), activity ranks whose Zipf
// weights drive who reads, who posts and who follows much, posts spread over the last days, and
// fan-out tiers from thresholds scaled to the graph (a few accounts cross each). A user whose
// follows would leave their month of feed shorter than a few pages follows suggested active
// accounts at sign-up, as products' onboarding has them do, so a page is normally precomputed.
import { AliasTable, forkRng, powerLawDegree, shuffle, zipfWeights, type Rng } from './rng.js';

export interface WorkloadOptions {
  users: number;
  seed: number;
  /** Power-law exponent of the follower-count distribution. */
  exponent: number;
  /** Zipf exponent of feed reads over users ranked by activity. */
  zipf: number;
  /** Posts in the seeded history, per user. */
  postsPerUser: number;
  /** History spread (posts are dated over the last this many days; feed entries live 30). */
  postDays: number;
  /** Follower counts from which an author is a celebrity / mega-celebrity; default: scaled to the
   *  graph so that about one account in 1,000 is high-tier and max(2, n/10,000) are mega. */
  celebrityThreshold?: number;
  megaThreshold?: number;
}

export type Tier = 'regular' | 'celebrity' | 'mega';

export interface Graph {
  n: number;
  /** followers[i]: the users following i. */
  followers: Uint32Array[];
  /** following[i]: the users i follows. */
  following: Uint32Array[];
  /** 1 = most active. */
  activityRank: Uint32Array;
  /** Feed-read weight of each user: Zipf over activity rank. */
  readWeights: Float64Array;
  /** Post weight (also follow propensity) of each user: a damped Zipf over activity rank. */
  postWeights: Float64Array;
  posts: { author: number; ms: number }[];
  thresholds: { celebrity: number; mega: number };
  tiers: Tier[];
  edges: number;
}

/** Activity drives posting and following less steeply than reading: the most active reader does
 *  not write a thousand times more than the median user. rank^-0.5 gives the busiest account
 *  ~70 of 20,000 posts and ~250 followees, the quietest one or two. */
const WRITE_ACTIVITY_EXPONENT = 0.5;
/** Posts a month from the accounts a user follows below which sign-up suggestions top them up
 *  (drawn by post weight: onboarding suggests active accounts): a month of feed then holds the
 *  first page and most of the cached window after it (20 + 61 items; a session reads 1.5 pages on
 *  average), so reads are served from the precomputed feed, not the followed authors' history.
 *  At 10,000 users (the full run): ~140,000 follows and ~790,000 feed entries seeded; every
 *  session of the day finds a page, and most of its later pages fall within the window. */
const SIGNUP_FEED_DEPTH = 65;
/** Suggested follows per user at most (a user of one quiet followee is topped up in a few). */
const SIGNUP_FOLLOWS_MAX = 20;
/** Followers drawn by rejection from the alias table while k is small; above this, a weighted
 *  draw without replacement over everyone (Efraimidis–Spirakis) avoids long rejection runs. */
const REJECTION_MAX_K = 64;

function weightedDistinct(rng: Rng, table: AliasTable, weights: Float64Array, k: number, exclude: number): number[] {
  const n = weights.length;
  if (k <= REJECTION_MAX_K) {
    const chosen = new Set<number>();
    for (let guard = 0; chosen.size < k && guard < k * 1000; guard++) {
      const j = table.sample(rng);
      if (j !== exclude) chosen.add(j);
    }
    return [...chosen];
  }
  // Keys u^(1/w): the k largest are a weighted sample without replacement.
  const keys = new Float64Array(n);
  for (let j = 0; j < n; j++) keys[j] = j === exclude ? -1 : Math.log(1 - rng.next()) / weights[j]!;
  const idx = Array.from({ length: n }, (_, j) => j);
  idx.sort((x, y) => keys[y]! - keys[x]!);
  return idx.slice(0, k);
}

export function generateGraph(opts: WorkloadOptions): Graph {
  const n = opts.users;
  if (!Number.isInteger(n) || n < 100) throw new Error('--users must be an integer of at least 100');
  if (!(opts.exponent > 2)) throw new Error('--exponent must be above 2 (the mean follower count is finite only then)');

  // Activity: a seeded permutation of ranks.
  const ranks = shuffle(forkRng(opts.seed, 'activity'), Array.from({ length: n }, (_, i) => i + 1));
  const activityRank = Uint32Array.from(ranks);
  const readByRank = zipfWeights(n, opts.zipf);
  const writeByRank = zipfWeights(n, WRITE_ACTIVITY_EXPONENT);
  const readWeights = new Float64Array(n);
  const postWeights = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    readWeights[i] = readByRank[activityRank[i]! - 1]!;
    postWeights[i] = writeByRank[activityRank[i]! - 1]!;
  }

  // Follower counts, then who follows: the more active a user, the more accounts they follow.
  const degreeRng = forkRng(opts.seed, 'degrees');
  const inDegree = Array.from({ length: n }, () => powerLawDegree(degreeRng, opts.exponent, 1, n - 1));
  const followRng = forkRng(opts.seed, 'follows');
  const followTable = new AliasTable(postWeights);
  const followers: Uint32Array[] = [];
  const followingLists: number[][] = Array.from({ length: n }, () => []);
  let edges = 0;
  for (let i = 0; i < n; i++) {
    const f = weightedDistinct(followRng, followTable, postWeights, inDegree[i]!, i).sort((a, b) => a - b);
    followers.push(Uint32Array.from(f));
    for (const j of f) followingLists[j]!.push(i);
    edges += f.length;
  }

  // Posts: authors by activity, dated over the last postDays, one distinct millisecond each.
  const postRng = forkRng(opts.seed, 'posts');
  const postTable = new AliasTable(postWeights);
  const count = Math.round(opts.postsPerUser * n);
  const span = opts.postDays * 86_400_000;
  const end = Date.now() - 60_000;
  const times = Array.from({ length: count }, () => Math.floor(end - postRng.next() * span)).sort((a, b) => a - b);
  for (let i = 1; i < times.length; i++) if (times[i]! <= times[i - 1]!) times[i] = times[i - 1]! + 1;
  const posts = times.map((ms) => ({ author: postTable.sample(postRng), ms }));

  // Accounts likely high-tier (the celebrity threshold below, before suggestions) are pulled, not
  // pushed: they neither count towards a feed's depth nor are suggested.
  const byDegree = [...inDegree].sort((a, b) => b - a);
  const pulledFrom = opts.celebrityThreshold ?? Math.max(2, byDegree[Math.max(0, Math.ceil(n / 1000) - 1)]!);
  edges += suggestFollows(forkRng(opts.seed, 'sign-up follows'), postTable, posts, 30 / opts.postDays, { inDegree: [...inDegree], pulledFrom }, followingLists);
  const following = followingLists.map((l) => Uint32Array.from(l).sort());
  const followersOf: number[][] = Array.from({ length: n }, () => []);
  following.forEach((l, f) => l.forEach((a) => followersOf[a]!.push(f)));
  for (let i = 0; i < n; i++) followers[i] = Uint32Array.from(followersOf[i]!);

  // Thresholds scaled to the graph: the in-degree at rank n/1,000 (celebrity) and at rank
  // max(2, n/10,000) (mega), so "a few" accounts cross each, as in the real distribution.
  const sorted = followers.map((f) => f.length).sort((a, b) => b - a);
  const celebrity = opts.celebrityThreshold ?? Math.max(2, sorted[Math.max(0, Math.ceil(n / 1000) - 1)]!);
  let mega = opts.megaThreshold ?? Math.max(celebrity + 1, sorted[Math.max(1, Math.ceil(n / 10_000)) - 1]!);
  if (mega < celebrity) mega = celebrity;
  const tiers: Tier[] = followers.map((f) => (f.length >= mega ? 'mega' : f.length >= celebrity ? 'celebrity' : 'regular'));

  return { n, followers, following, activityRank, readWeights, postWeights, posts, thresholds: { celebrity, mega }, tiers, edges };
}

/** Tops up each user whose followees post fewer than SIGNUP_FEED_DEPTH a month (posts scaled to
 *  a month by `monthly`) with suggested accounts drawn by post weight; returns the follows added.
 *  An account stops being suggested one follower short of `pulledFrom`, so suggestions never make
 *  a celebrity (whose posts would be pulled, not pushed). */
function suggestFollows(
  rng: Rng,
  table: AliasTable,
  posts: { author: number }[],
  monthly: number,
  degrees: { inDegree: number[]; pulledFrom: number },
  followingLists: number[][],
): number {
  const { inDegree, pulledFrom } = degrees;
  const perMonth = new Float64Array(followingLists.length);
  for (const p of posts) if (inDegree[p.author]! < pulledFrom) perMonth[p.author]! += monthly;
  let added = 0;
  followingLists.forEach((list, u) => {
    const has = new Set(list);
    let depth = list.reduce((d, a) => d + perMonth[a]!, 0);
    for (let k = 0, guard = 0; depth < SIGNUP_FEED_DEPTH && k < SIGNUP_FOLLOWS_MAX && guard < 1000; guard++) {
      const a = table.sample(rng);
      if (a === u || has.has(a) || inDegree[a]! >= pulledFrom - 1) continue;
      has.add(a);
      list.push(a);
      inDegree[a]!++;
      depth += perMonth[a]!;
      added++;
      k++;
    }
  });
  return added;
}

/** A compact description for the report. */
export function describeGraph(g: Graph) {
  const inDeg = g.followers.map((f) => f.length).sort((a, b) => b - a);
  const outDeg = g.following.map((f) => f.length).sort((a, b) => b - a);
  const count = (t: Tier) => g.tiers.filter((x) => x === t).length;
  const fanout = g.posts.reduce((sum, p) => sum + g.followers[p.author]!.length, 0);
  return {
    users: g.n,
    edges: g.edges,
    meanFollowers: g.edges / g.n,
    maxFollowers: inDeg[0] ?? 0,
    medianFollowers: inDeg[Math.floor(g.n / 2)] ?? 0,
    maxFollowing: outDeg[0] ?? 0,
    posts: g.posts.length,
    /** Feed entries plain push-to-all would write for the seeded posts. */
    pushAllEntries: fanout,
    thresholds: g.thresholds,
    tiers: { regular: count('regular'), celebrity: count('celebrity'), mega: count('mega') },
  };
}
