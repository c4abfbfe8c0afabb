// The capacity and cost model behind `npm run plan`: from a population (daily users, their read,
// post and follow rates, a power law of follower counts) and the per-operation costs the benchmark
// measured on the product's code, the request rates, DynamoDB capacity and partitions per table,
// Redis memory, Lambda concurrency and the monthly bill of four fan-out policies. Pure: no I/O.
import { DAYS_PER_MONTH, DYNAMODB_LIMITS, HOURS_PER_MONTH, PRICES } from './aws-prices.js';
import { population, tailShares, type Population } from './follower-population.js';
import { FEED_ENTRY_TTL_SECONDS, FEED_MAX_ENTRIES, FEED_PULL_AUTHORS, PAGE_LIMIT_DEFAULT } from './limits.js';
import type { OperationCost, OperationCosts } from './operation-costs.js';

export const POLICIES = ['hybrid', 'push', 'pull', 'rate'] as const;
export type Policy = (typeof POLICIES)[number];
export const POLICY_LABEL: Record<Policy, string> = {
  hybrid: 'hybrid (thresholds)',
  push: 'push-to-all',
  pull: 'pull-at-read',
  rate: 'rate-based per pair',
};

export interface PlanInputs {
  dau: number;
  readsPerUserDay: number;
  postsPerUserDay: number;
  followsPerUserDay: number;
  /** Mean accounts a user follows (= mean followers). */
  meanFollowers: number;
  /** The largest account's followers (the power law's upper cut). */
  maxFollowers: number;
  /** Power-law exponent of follower counts. */
  exponent: number;
  celebrityThreshold: number;
  megaThreshold: number;
  regions: number;
  /** Share of feed reads served by a cache (L1 or L2) without DynamoDB. */
  hitRate: number;
  peakFactor: number;
  /** σ of log(rate) of users' post and read rates (lognormal). */
  rateSigma: number;
  /** Zipf exponent of feed reads over users (which pages the cache must hold). */
  readZipf: number;
  /** Share of a celebrity's followers recently active (pushed to); default: the bench's measure. */
  activeShare?: number;
}

const SECONDS_PER_DAY = 86_400;
/** Provisioned tables auto-scaled to this utilization (DynamoDB auto scaling's default target). */
const PROVISIONED_UTILIZATION = 0.7;
/** Item sizes with DynamoDB's 100-byte per-item overhead: a feed entry (two ids, a time, a TTL),
 *  a post (a short text, as the design card's posts), one follow edge row (two are written). */
const FEED_ENTRY_BYTES = 200;
const POST_BYTES = 600;
const EDGE_BYTES = 150;
/** The product does not expire posts: a year of them is billed (an assumption of this model). */
const POST_RETENTION_DAYS = 365;
/** A post is replicated to every region (public content): one write of ≤ 1 KB in each other one. */
const POST_REPLICA_WRU = 1;
/** Bytes of a cached page beyond its value (key, TTL, dict entry), and allocator fragmentation. */
const REDIS_KEY_OVERHEAD_BYTES = 100;
const REDIS_FRAGMENTATION = 1.25;
/** ElastiCache reserves 25% of a node's memory by default (reserved-memory-percent). */
const REDIS_USABLE_SHARE = 0.75;
/** Commands/s one primary serves with headroom: Valkey with I/O threads does several times more;
 *  kept conservative so the plan sizes for it. */
const REDIS_OPS_PER_PRIMARY = 150_000;
/** One replica per primary, for Multi-AZ failover. */
const REDIS_REPLICAS = 1;
/** A pull-at-read queries followed authors this many at once: a pull adds 1/10 of its latency
 *  to the read's billed Lambda time, not all of it. */
const PULL_PARALLELISM = 10;
/** Followers per post-router (and CelebrityFanout) page. */
const FOLLOWER_PAGE = 1000;
/** CelebrityFanout state transitions per page of active followers, and per execution. */
const SFN_TRANSITIONS_PER_PAGE = 4;
const SFN_TRANSITIONS_PER_EXECUTION = 6;
/** SQS requests per fan-out job: send, receive, delete. */
const SQS_REQUESTS_PER_JOB = 3;
const EULER_GAMMA = 0.5772156649;
/** Posts a pulled author's recent-posts list holds in Redis (shared/cache/cache-keys.ts
 *  RECENT_POSTS_MAX); a list lives a day after the author's last post. */
const RECENT_POSTS_LIST = 100;

export type Tier = 'regular' | 'celebrity' | 'mega';
export const tierOf = (followers: number, inp: Pick<PlanInputs, 'celebrityThreshold' | 'megaThreshold'>): Tier =>
  followers >= inp.megaThreshold ? 'mega' : followers >= inp.celebrityThreshold ? 'celebrity' : 'regular';

/** Dollars of one pushed feed entry and of one author pulled at a read that missed the cache:
 *  from DynamoDB (plain pull) or from the author's recent-posts list in Redis (the product's pull,
 *  which the hybrid and the rate-based policy use). */
export interface UnitCosts {
  pushEntry: number;
  pullQuery: number;
  pullCached: number;
  /** Feeding Frenzy's threshold: push a pair when its reads ÷ posts exceeds pushEntry ÷ pullCached. */
  ratio: number;
}

/** Lambda dollars of `count` runs of an operation (billed per started ms, at least 1 ms). */
function lambdaDollars(op: OperationCost, opts: { durationScale?: number; requests?: boolean } = {}): number {
  let usd = 0;
  for (const s of op.lambda) {
    const billedMs = Math.max(1, Math.ceil(s.durationMs * (opts.durationScale ?? 1)));
    usd += s.invocations * (billedMs / 1000) * (s.memoryMB / 1024) * PRICES.lambda.perGbSecond;
    if (opts.requests !== false) usd += (s.invocations * PRICES.lambda.perMillionRequests) / 1e6;
  }
  return usd;
}

export function unitCosts(c: OperationCosts): UnitCosts {
  const d = PRICES.dynamodb;
  const f = c.ops.fanOutPerFollower;
  const storedMonths = Math.min(FEED_ENTRY_TTL_SECONDS / SECONDS_PER_DAY, 365) / DAYS_PER_MONTH;
  const pushEntry =
    (f.wru * d.perMillionWru) / 1e6 +
    lambdaDollars(f) +
    (SQS_REQUESTS_PER_JOB / c.jobFollowers) * (PRICES.sqs.perMillionRequests / 1e6) +
    (FEED_ENTRY_BYTES / 1e9) * d.storagePerGbMonth * storedMonths;
  // A pull runs inside the read's invocation: no request of its own. Redis commands are paid for
  // by the nodes (sized by peak commands), not per command.
  const pull = (q: OperationCost) => (q.rru * d.perMillionRru) / 1e6 + lambdaDollars(q, { durationScale: 1 / PULL_PARALLELISM, requests: false });
  const pullCached = pull(c.ops.authorPull);
  return { pushEntry, pullQuery: pull(c.ops.authorQuery), pullCached, ratio: pushEntry / pullCached };
}

/** What a policy does for one author–follower pair: share of the author's posts pushed to the
 *  follower's feed, and whether the follower's cache-missing reads query the author. */
export function decide(policy: Policy, tier: Tier, postRate: number, missRate: number, u: UnitCosts, activeShare: number): { push: number; pull: number } {
  switch (policy) {
    case 'push':
      return { push: 1, pull: 0 };
    case 'pull':
      return { push: 0, pull: 1 };
    case 'hybrid':
      // Celebrities: pushed to recently active followers by the workflow, pulled by every read.
      return tier === 'regular' ? { push: 1, pull: 0 } : tier === 'celebrity' ? { push: activeShare, pull: 1 } : { push: 0, pull: 1 };
    case 'rate':
      // Silberstein et al. (SIGMOD 2010): push iff posts × push cost ≤ reads × pull cost.
      return postRate * u.pushEntry <= missRate * u.pullCached ? { push: 1, pull: 0 } : { push: 0, pull: 1 };
  }
}

/** Daily counts of every operation under a policy. */
export interface Volumes {
  reads: number;
  misses: number;
  posts: number;
  follows: number;
  pushes: number;
  pulls: number;
  /** Follower pages read to plan fan-out (post-router), and active-follower pages (CelebrityFanout). */
  followerPages: number;
  workflowPages: number;
  celebrityPosts: number;
  /** Posts held in Redis recent-posts lists for the authors someone pulls through the cache. */
  listedPosts: number;
}

export function volumes(inp: PlanInputs, pop: Population, policy: Policy, u: UnitCosts, activeShare: number): Volumes {
  const miss = 1 - inp.hitRate;
  const reads = inp.dau * inp.readsPerUserDay;
  const v: Volumes = { reads, misses: reads * miss, posts: inp.dau * inp.postsPerUserDay, follows: inp.dau * inp.followsPerUserDay, pushes: 0, pulls: 0, followerPages: 0, workflowPages: 0, celebrityPosts: 0, listedPosts: 0 };
  const qp = pop.postRates.length;
  const qr = pop.readRates.length;
  for (const b of pop.bins) {
    const tier = tierOf(b.k, inp);
    const authors = (inp.dau * b.share) / qp;
    for (const p of pop.postRates) {
      let pushedShare = 0;
      let pulled = false;
      for (const r of pop.readRates) {
        const { push, pull } = decide(policy, tier, p, r * miss, u, activeShare);
        const pairs = (authors * b.k) / qr;
        v.pushes += pairs * p * push;
        v.pulls += pairs * r * miss * pull;
        pushedShare += push / qr;
        pulled ||= pull > 0;
      }
      const posts = authors * p;
      // Lists exist for authors who posted within their day-long TTL.
      if (pulled && policy !== 'pull') v.listedPosts += authors * (1 - Math.exp(-p)) * RECENT_POSTS_LIST;
      if (policy === 'hybrid' && tier === 'celebrity') {
        v.celebrityPosts += posts;
        v.workflowPages += posts * Math.ceil((b.k * pushedShare) / FOLLOWER_PAGE);
      } else if (pushedShare > 0) v.followerPages += posts * Math.ceil(b.k / FOLLOWER_PAGE);
    }
  }
  // The hybrid pulls at most FEED_PULL_AUTHORS high-tier authors per read (most recent first).
  if (policy === 'hybrid') v.pulls = Math.min(v.pulls, v.misses * FEED_PULL_AUTHORS);
  return v;
}

/** `op` with `times` × `part` taken out of its units (never below zero), e.g. a cold read without
 *  its pulls. */
function without(op: OperationCost, part: OperationCost, times: number): OperationCost {
  const tables: OperationCost['tables'] = {};
  for (const [e, t] of Object.entries(op.tables)) {
    tables[e] = { rru: Math.max(0, t.rru - times * (part.tables[e]?.rru ?? 0)), wru: Math.max(0, t.wru - times * (part.tables[e]?.wru ?? 0)) };
  }
  const pullMs = (times * (part.lambda[0]?.durationMs ?? 0)) / PULL_PARALLELISM;
  return {
    ...op,
    rru: Math.max(0, op.rru - times * part.rru),
    wru: Math.max(0, op.wru - times * part.wru),
    requests: Math.max(0, op.requests - times * part.requests),
    redisCommands: Math.max(0, op.redisCommands - times * part.redisCommands),
    tables,
    lambda: op.lambda.map((s) => ({ ...s, durationMs: Math.max(1, s.durationMs - pullMs) })),
  };
}

/** The operations a policy's day consists of, with their daily counts. */
export function dailyOperations(v: Volumes, c: OperationCosts, policy: Policy, inp: PlanInputs): { name: string; count: number; op: OperationCost; pullInRead?: boolean }[] {
  const page = without(c.ops.feedReadCold, c.ops.authorPull, c.pulledAuthorsPerColdRead);
  // Pull-at-read has no precomputed feed: a missed read lists what the reader follows instead.
  const missBase = policy === 'pull' ? { ...c.ops.followerPage, lambda: page.lambda } : page;
  const replica: OperationCost = { ...c.ops.postCreate, rru: 0, wru: POST_REPLICA_WRU, requests: 1, redisCommands: 0, lambda: [], tables: { posts: { rru: 0, wru: POST_REPLICA_WRU } } };
  return [
    { name: 'feed read, cache hit', count: v.reads - v.misses, op: c.ops.feedReadL2 },
    { name: 'feed read, cache miss', count: v.misses, op: missBase },
    { name: 'author pulled at read', count: v.pulls, op: policy === 'pull' ? c.ops.authorQuery : c.ops.authorPull, pullInRead: true },
    { name: 'follower page (fan-out planning)', count: v.followerPages + v.workflowPages, op: c.ops.followerPage },
    { name: 'post', count: v.posts, op: c.ops.postCreate },
    { name: 'post replica (other regions)', count: v.posts * (inp.regions - 1), op: replica },
    { name: 'feed entry pushed', count: v.pushes, op: c.ops.fanOutPerFollower },
    { name: 'follow', count: v.follows, op: c.ops.follow },
  ];
}

export interface TableCapacity {
  entity: string;
  /** Per region, at peak. */
  peakRcu: number;
  peakWcu: number;
  storageGB: number;
  partitions: number;
  /** Tables needed per region at DynamoDB's default 40K RCU/WCU per-table quota. */
  tables: number;
}

export interface HandlerLoad {
  handler: string;
  invocationsPerDay: number;
  gbSecondsPerDay: number;
  /** Concurrent executions per region at peak (invocations/s × seconds). */
  peakConcurrency: number;
}

export interface PolicyPlan {
  policy: Policy;
  volumes: Volumes;
  /** Dollars a day of the policy's pushes and pulls at the unit costs (what the policies trade). */
  fanoutPerDay: number;
  rates: { avg: Record<'reads' | 'misses' | 'posts' | 'pushes' | 'pulls' | 'rru' | 'wru' | 'redisOps', number>; peak: Record<'reads' | 'pushes' | 'rru' | 'wru' | 'redisOps', number> };
  tables: TableCapacity[];
  redis: { pagesCached: number; memoryGiB: number; primariesPerRegion: number; nodes: number };
  lambda: HandlerLoad[];
  bill: Bill;
}

export interface Bill {
  dynamodbOnDemand: number;
  dynamodbProvisioned: number;
  dynamodbStorage: number;
  redis: number;
  lambda: number;
  apiGateway: number;
  messaging: number;
  /** With on-demand DynamoDB. */
  total: number;
  perDau: number;
}

/** Users whose pages the cache must hold so that they carry `hit` of all reads, reads being Zipf(s)
 *  over `n` users: the head n* with H_s(n*) / H_s(n) = hit (continuous approximation). */
export function cachedPagesForHitRate(n: number, hit: number, s: number): number {
  if (hit <= 0) return 0;
  if (Math.abs(s - 1) < 1e-9) return Math.min(n, Math.exp(hit * (Math.log(n) + EULER_GAMMA) - EULER_GAMMA));
  return Math.min(n, (1 + hit * (n ** (1 - s) - 1)) ** (1 / (1 - s)));
}

function storageByEntity(v: Volumes, inp: PlanInputs): Record<string, number> {
  const feedEntries = Math.min(v.pushes * (FEED_ENTRY_TTL_SECONDS / SECONDS_PER_DAY), inp.dau * FEED_MAX_ENTRIES);
  return {
    feeds: (feedEntries * FEED_ENTRY_BYTES) / 1e9,
    posts: (v.posts * POST_RETENTION_DAYS * POST_BYTES * inp.regions) / 1e9,
    follows: (inp.dau * inp.meanFollowers * 2 * EDGE_BYTES) / 1e9,
  };
}

export function tableCapacity(entity: string, rruDay: number, wruDay: number, storageGB: number, inp: PlanInputs): TableCapacity {
  const L = DYNAMODB_LIMITS;
  const perRegion = (x: number) => (x / SECONDS_PER_DAY / inp.regions) * inp.peakFactor;
  const peakRcu = perRegion(rruDay);
  const peakWcu = perRegion(wruDay);
  const gb = storageGB / inp.regions;
  return {
    entity,
    peakRcu,
    peakWcu,
    storageGB: gb,
    partitions: Math.max(1, Math.ceil(peakRcu / L.partitionRcu + peakWcu / L.partitionWcu), Math.ceil(gb / L.partitionGB)),
    tables: Math.max(1, Math.ceil(Math.max(peakRcu / L.tableRcu, peakWcu / L.tableWcu))),
  };
}

/** Capacity and bill of one policy. */
export function planPolicy(inp: PlanInputs, pop: Population, c: OperationCosts, policy: Policy, u: UnitCosts): PolicyPlan {
  const v = volumes(inp, pop, policy, u, inp.activeShare ?? c.celebrityActiveShare);
  const ops = dailyOperations(v, c, policy, inp);
  let rru = 0;
  let wru = 0;
  let redisOps = 0;
  const byEntity: Record<string, { rru: number; wru: number }> = {};
  const handlers = new Map<string, { inv: number; gbs: number; sec: number }>();
  for (const { count, op, pullInRead } of ops) {
    rru += count * op.rru;
    wru += count * op.wru;
    redisOps += count * op.redisCommands;
    for (const [e, t] of Object.entries(op.tables)) {
      const acc = (byEntity[e] ??= { rru: 0, wru: 0 });
      acc.rru += count * t.rru;
      acc.wru += count * t.wru;
    }
    for (const s of op.lambda) {
      const h = handlers.get(s.handler) ?? { inv: 0, gbs: 0, sec: 0 };
      const ms = pullInRead ? s.durationMs / PULL_PARALLELISM : Math.max(1, Math.ceil(s.durationMs));
      const inv = pullInRead ? 0 : count * s.invocations;
      const seconds = (pullInRead ? count : count * s.invocations) * (ms / 1000);
      h.inv += inv;
      h.sec += seconds;
      h.gbs += seconds * (s.memoryMB / 1024);
      handlers.set(s.handler, h);
    }
  }
  const storage = storageByEntity(v, inp);
  const entities = [...new Set([...Object.keys(byEntity), ...Object.keys(storage)])].sort();
  const tables = entities.map((e) => tableCapacity(e, byEntity[e]?.rru ?? 0, byEntity[e]?.wru ?? 0, storage[e] ?? 0, inp));
  const lambda = [...handlers.entries()].map(([handler, h]) => ({
    handler,
    invocationsPerDay: h.inv,
    gbSecondsPerDay: h.gbs,
    peakConcurrency: (h.sec / SECONDS_PER_DAY / inp.regions) * inp.peakFactor,
  }));
  const redis = redisSizing(inp, c, redisOps, v.listedPosts);
  const bill = billOf(inp, v, { jobFollowers: c.jobFollowers, rru, wru, storageGB: Object.values(storage).reduce((a, b) => a + b, 0), lambda, redisNodes: redis.nodes });
  const avg = (x: number) => x / SECONDS_PER_DAY;
  return {
    policy,
    volumes: v,
    fanoutPerDay: v.pushes * u.pushEntry + v.pulls * (policy === 'pull' ? u.pullQuery : u.pullCached),
    rates: {
      avg: { reads: avg(v.reads), misses: avg(v.misses), posts: avg(v.posts), pushes: avg(v.pushes), pulls: avg(v.pulls), rru: avg(rru), wru: avg(wru), redisOps: avg(redisOps) },
      peak: { reads: avg(v.reads) * inp.peakFactor, pushes: avg(v.pushes) * inp.peakFactor, rru: avg(rru) * inp.peakFactor, wru: avg(wru) * inp.peakFactor, redisOps: avg(redisOps) * inp.peakFactor },
    },
    tables,
    redis,
    lambda,
    bill,
  };
}

function redisSizing(inp: PlanInputs, c: OperationCosts, redisOpsDay: number, listedPosts: number): PolicyPlan['redis'] {
  const E = PRICES.elasticache;
  const pagesCached = cachedPagesForHitRate(inp.dau, inp.hitRate, inp.readZipf);
  const postBytes = c.pageBytes / PAGE_LIMIT_DEFAULT;
  const memoryGiB = ((pagesCached * (c.pageBytes + REDIS_KEY_OVERHEAD_BYTES) + listedPosts * postBytes) * REDIS_FRAGMENTATION) / 2 ** 30;
  const peakOpsPerRegion = (redisOpsDay / SECONDS_PER_DAY / inp.regions) * inp.peakFactor;
  const primariesPerRegion = Math.max(1, Math.ceil(memoryGiB / inp.regions / (E.nodeGiB * REDIS_USABLE_SHARE)), Math.ceil(peakOpsPerRegion / REDIS_OPS_PER_PRIMARY));
  return { pagesCached, memoryGiB, primariesPerRegion, nodes: primariesPerRegion * (1 + REDIS_REPLICAS) * inp.regions };
}

/** HTTP API requests of a month, spread evenly over the regions (each region's account tiers alone). */
export function apiGatewayDollars(requestsPerMonth: number, regions: number): number {
  const a = PRICES.apiGateway;
  const perRegion = requestsPerMonth / regions;
  return (regions * (Math.min(perRegion, a.firstTierRequests) * a.firstTierPerMillion + Math.max(0, perRegion - a.firstTierRequests) * a.beyondPerMillion)) / 1e6;
}

function billOf(inp: PlanInputs, v: Volumes, x: { jobFollowers: number; rru: number; wru: number; storageGB: number; lambda: HandlerLoad[]; redisNodes: number }): Bill {
  const d = PRICES.dynamodb;
  const dynamodbOnDemand = ((x.rru * d.perMillionRru + x.wru * d.perMillionWru) / 1e6) * DAYS_PER_MONTH;
  const perSecond = (day: number) => day / SECONDS_PER_DAY / PROVISIONED_UTILIZATION;
  const dynamodbProvisioned = (perSecond(x.rru) * d.perRcuHour + perSecond(x.wru) * d.perWcuHour) * HOURS_PER_MONTH;
  const dynamodbStorage = x.storageGB * d.storagePerGbMonth;
  const redis = x.redisNodes * PRICES.elasticache.perNodeHour * HOURS_PER_MONTH;
  const lambda = x.lambda.reduce((s, h) => s + (h.gbSecondsPerDay * PRICES.lambda.perGbSecond + (h.invocationsPerDay * PRICES.lambda.perMillionRequests) / 1e6), 0) * DAYS_PER_MONTH;
  const apiGateway = apiGatewayDollars((v.reads + v.posts + v.follows) * DAYS_PER_MONTH, inp.regions);
  const sqs = ((v.pushes / x.jobFollowers) * SQS_REQUESTS_PER_JOB * PRICES.sqs.perMillionRequests) / 1e6;
  const sfn = ((v.celebrityPosts * SFN_TRANSITIONS_PER_EXECUTION + v.workflowPages * SFN_TRANSITIONS_PER_PAGE) * PRICES.stepFunctions.perThousandTransitions) / 1000;
  const messaging = (sqs + sfn) * DAYS_PER_MONTH;
  const total = dynamodbOnDemand + dynamodbStorage + redis + lambda + apiGateway + messaging;
  return { dynamodbOnDemand, dynamodbProvisioned, dynamodbStorage, redis, lambda, apiGateway, messaging, total, perDau: total / inp.dau };
}

/** The design card's monthly cost table (2B users), for comparison. */
export const DESIGN_COSTS = {
  dynamodb: 1.2e6,
  redis: 0.8e6,
  compute: 3.2e6,
  /** S3 9.5M, CloudFront 2.5M, data transfer 1.8M, ML/analytics 1.0M: media and analytics, which
   *  this product does not serve; carried as the design states them. */
  notModelled: 9.5e6 + 2.5e6 + 1.8e6 + 1.0e6,
  total: 20e6,
  perDau: 0.01,
  dau: 2e9,
} as const;

export interface Plan {
  inputs: PlanInputs;
  population: { kmin: number; celebrities: number; megas: number; edgesToHighTier: number; edgesToMega: number };
  units: UnitCosts;
  policies: Record<Policy, PolicyPlan>;
  /** The hybrid's monthly total against its celebrity threshold (mega threshold kept, or raised to it). */
  sweep: { threshold: number; total: number }[];
}

/** Celebrity thresholds tried by the sweep, per decade. */
const SWEEP_PER_DECADE = 4;

export function plan(inp: PlanInputs, c: OperationCosts): Plan {
  const u = unitCosts(c);
  const popOf = (x: PlanInputs) => population({ ...x, edges: [x.celebrityThreshold, x.megaThreshold] });
  const pop = popOf(inp);
  const policies = Object.fromEntries(POLICIES.map((p) => [p, planPolicy(inp, pop, c, p, u)])) as Record<Policy, PolicyPlan>;
  const sweep: Plan['sweep'] = [];
  const lo = Math.max(1, Math.ceil(Math.log10(pop.kmin)));
  for (let e = lo * SWEEP_PER_DECADE; e <= Math.log10(inp.maxFollowers) * SWEEP_PER_DECADE; e++) {
    const threshold = Math.round(10 ** (e / SWEEP_PER_DECADE));
    const x = { ...inp, celebrityThreshold: threshold, megaThreshold: Math.max(threshold, inp.megaThreshold) };
    sweep.push({ threshold, total: planPolicy(x, popOf(x), c, 'hybrid', u).bill.total });
  }
  const high = tailShares(inp.exponent, pop.kmin, pop.kmax, inp.celebrityThreshold);
  const mega = tailShares(inp.exponent, pop.kmin, pop.kmax, inp.megaThreshold);
  return {
    inputs: inp,
    population: { kmin: pop.kmin, celebrities: (high.users - mega.users) * inp.dau, megas: mega.users * inp.dau, edgesToHighTier: high.edges, edgesToMega: mega.edges },
    units: u,
    policies,
    sweep,
  };
}
