// A day of sessions (bench/day-model.ts) played against the stack in compressed time: the headline
// hit rate (every read counted, a user's first of the day included) and the DynamoDB requests per
// feed request, warming's own included; then a sample of the same sessions replayed with both
// cache tiers off (the same day uncached), and what a cold first page costs.
//
// Compressed: the cache's lifetimes (L1 60 s, L2 15 min and 7 days for readers' pages, the active
// hour, the deletions remembered) through compressCacheTime(), the activity resolution
// (FEED_ACTIVITY_RESOLUTION_SECONDS, 1 h) and the CacheWarming schedule (every 15 min, started
// here). Not compressed: FEED_ACTIVE_WINDOW_HOURS (whole hours; at least 1 h = days of this day,
// so every reader counts as active for celebrity pushes), the recent-posts lists' 24 h, feed TTLs.
import { Redis } from 'ioredis';
import { compressCacheTime, feedCache, FeedCache, type CachedFeed } from '../../shared/cache/feed-cache.js';
import { ACTIVE_RETENTION_SECONDS, cacheKeys, FEED_CACHE_VERSION, FEED_L2_ACTIVE_TTL_SECONDS, feedVariant } from '../../shared/cache/cache-keys.js';
import { resetConfig } from '../../shared/edge/config.js';
import { homeFeed, warmCounts, warmFeeds } from '../../shared/services/home-feed.js';
import { queryEntries } from '../../shared/store/feeds.js';
import { DAY_SECONDS, PAGE_DWELL_SECONDS, planDay, type DayPlan, type Session } from '../day-model.js';
import { fmt, live, type BenchContext } from '../context.js';
import { httpJson } from '../http.js';
import type { CacheMemory, DayResult } from '../results.js';
import { TARGETS } from '../report.js';
import { pool } from '../seed.js';
import { quiesce, settle } from '../settle.js';
import { median, percentile, sleep } from '../stats.js';
import { cacheDelta, cacheSnapshot } from '../summaries.js';
import { commandDelta, countWork, requestsOf, workCommands, workCounts } from '../work-counter.js';
import { inInvocation } from './baselines.js';
import { PAGE } from './constants.js';

/** Sessions running at once at most; a later one waits (and its lateness is reported). */
const MAX_SESSIONS_IN_FLIGHT = 64;
/** Concurrency of the uncached replay. */
const REPLAY_CONCURRENCY = 8;
/** The CacheWarming schedule, in simulated seconds (the deployed 15-minute schedule). */
const WARM_EVERY_S = 900;
/** The activity resolution, simulated (FEED_ACTIVITY_RESOLUTION_SECONDS' default). */
const ACTIVITY_RESOLUTION_S = 3600;
/** The prologue's generations: users per warming call, and calls at once (DynamoDB Local answers
 *  ~1k requests/s on two cores; 4 × 16 generations of 3 requests keep it busy, not queued). */
const PROLOGUE_CHUNK = 16;
const PROLOGUE_CONCURRENCY = 4;
/** Tries of a prologue chunk: on a loaded machine a DynamoDB Local connection can time out (the
 *  store answers 503), or a Redis command (the page is then not stored); warming the chunk's
 *  missing pages again is harmless. */
const PROLOGUE_TRIES = 4;
const PROLOGUE_RETRY_MS = 500;
/** Feed-page keys counted per SCAN step when the cache's memory is measured. */
const SCAN_COUNT = 1000;

/** The day, cached, in compressed time. */
export async function day(ctx: BenchContext): Promise<void> {
  const { o, graph } = ctx;
  const lv = live(ctx);
  if (!lv.stack.redisUrl) throw new Error('no Redis in this stack');
  const plan = planDay(graph, { seed: o.seed, users: o.dayUsers, postsPerUserMonth: o.postsPerUser });
  const scale = DAY_SECONDS / (o.dayMs / 1000);
  ctx.log(`day: ${plan.users.length} users, ${plan.sessions.length} sessions, ${plan.reads} feed reads, ${plan.posts} posts, ${plan.follows} follows; a day in ${fmt(o.dayMs / 1000, 0)} s (×${fmt(scale, 0)})`);
  countWork();
  const redis = new Redis(lv.stack.redisUrl, { maxRetriesPerRequest: 1 });
  const env = process.env.FEED_ACTIVITY_RESOLUTION_SECONDS;
  compressCacheTime(scale);
  process.env.FEED_ACTIVITY_RESOLUTION_SECONDS = String(Math.max(1, Math.round(ACTIVITY_RESOLUTION_S / scale)));
  resetConfig();
  const firstTier = recordFirstLookups();
  try {
    await prologue(ctx, plan, scale, redis);
    const c0 = cacheSnapshot();
    const w0 = workCounts();
    const cmd0 = workCommands();
    const warm0 = { ...warmCounts };
    firstTier.clear();
    const run = await playDay(ctx, plan, scale);
    await settle(lv.stack, { timeoutMs: o.quick ? 20_000 : 60_000 });
    await quiesce();
    const c = cacheDelta(c0!, cacheSnapshot()!);
    const deeper = feedCache().stats().deeper;
    const w = workCounts();
    const memory = await cacheMemory(redis);
    ctx.results.day = summarizeDay(plan, scale, run, c, { read: w.read - w0.read, warm: w.warm - w0.warm }, {
      onFanOut: warmCounts.onFanOut - warm0.onFanOut,
      scheduled: warmCounts.scheduled - warm0.scheduled,
      skipped: warmCounts.skipped - warm0.skipped,
    }, deeper, firstTier.tiers(), memory);
    const cmd = workCommands();
    ctx.results.day.dbCommands = { read: commandDelta(cmd0.read, cmd.read), warm: commandDelta(cmd0.warm, cmd.warm) };
    const d = ctx.results.day;
    const listed = (m: Record<string, number>) => Object.entries(m).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
    ctx.log(`day: DynamoDB read requests of feed reads: ${listed(d.dbCommands!.read)}; of warming: ${listed(d.dbCommands!.warm)}`);
    ctx.log(`day: hit rate ${fmt(100 * d.hitRate, 1)}% of ${d.feedRequests} feed requests (first pages ${fmt(100 * d.firstPageHitRate, 1)}%, deeper ${fmt(100 * d.deeperHitRate, 1)}%, a user's first read of the day ${fmt(100 * d.firstOfDayHitRate, 1)}%); ${fmt(d.dbPerRequest, 2)} DynamoDB requests per feed request (warming ${fmt(d.warmPerRequest, 2)}); cached pages of ${memory.users} users, ${fmt(memory.bytesPerUser / 1024, 1)} KiB each, Redis ${fmt(memory.usedBytes / 2 ** 20, 1)} MiB; Redis ${c.l2Errors} timeouts, ${c.l2ShortCircuited} short-circuited`);
  } finally {
    firstTier.restore();
    compressCacheTime(1);
    if (env === undefined) delete process.env.FEED_ACTIVITY_RESOLUTION_SECONDS;
    else process.env.FEED_ACTIVITY_RESOLUTION_SECONDS = env;
    resetConfig();
    redis.disconnect();
  }
}

/**
 * The state the previous days leave: each user whose last session was within the reader TTL
 * before the day read their first page then — their page lives the rest of that TTL (kept current
 * in place since, so generating it now gives the page they would hold), and they count as active
 * if that was within the hour. Unmeasured (earlier days' reads are their cost, not this day's).
 */
async function prologue(ctx: BenchContext, plan: DayPlan, scale: number, redis: Redis): Promise<void> {
  const { userIds } = live(ctx);
  const prior = [...plan.lastBefore.entries()];
  const chunks: [number, number][][] = [];
  for (let i = 0; i < prior.length; i += PROLOGUE_CHUNK) chunks.push(prior.slice(i, i + PROLOGUE_CHUNK));
  let unwritten = 0;
  await pool(chunks, PROLOGUE_CONCURRENCY, async (chunk) => {
    // A warm whose Redis command timed out (or met the open breaker) stores nothing, silently,
    // as it should in production; here the day's start must hold every one of these pages, so
    // the pages still missing after a try are warmed again.
    let pending = chunk.map(([u]) => userIds[u]!);
    for (let attempt = 1; pending.length > 0; attempt++) {
      try {
        await warmFeeds(pending);
        // Redis unable to tell: every one of them is tried again.
        pending = (await feedCache().uncached(pending, feedVariant(PAGE))) ?? pending;
      } catch (err) {
        if (attempt >= PROLOGUE_TRIES) throw err;
      }
      if (pending.length === 0) break;
      if (attempt >= PROLOGUE_TRIES) {
        unwritten += pending.length;
        break;
      }
      await sleep(PROLOGUE_RETRY_MS * attempt);
    }
    const m = redis.multi();
    for (const [u, ago] of chunk) {
      const id = userIds[u]!;
      m.pexpire(cacheKeys.feedPages(id), Math.max(1, Math.round(((FEED_L2_ACTIVE_TTL_SECONDS - ago) * 1000) / scale)));
      if (ago <= ACTIVE_RETENTION_SECONDS) m.zadd(cacheKeys.active, Date.now() / 1000 - ago / scale, id);
    }
    await m.exec();
  });
  // The prologue's L1 copies live one compressed minute; let them go, as a day's start would.
  feedCache().dropL1();
  await quiesce();
  ctx.log(`day: prologue — ${prior.length} users read within the ${fmt(FEED_L2_ACTIVE_TTL_SECONDS / 86_400, 1)} days before the day (of ${plan.users.length})${unwritten ? `; ${unwritten} of their pages could not be stored (Redis timing out) and are missing at the day's start` : ''}`);
}

/** What the cached pages hold in Redis: users with a page, their pages' bytes (MEMORY USAGE of
 *  each user's hash and its heads), and the whole server's used_memory (the TTL's cost, in bytes). */
async function cacheMemory(redis: Redis): Promise<CacheMemory> {
  let cursor = '0';
  let users = 0;
  let bytes = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `feed:{*}:${FEED_CACHE_VERSION}`, 'COUNT', SCAN_COUNT);
    cursor = next;
    if (keys.length === 0) continue;
    const p = redis.pipeline();
    // Each user's pages hash and the heads cut from it (absent for most: a head lives an hour).
    for (const k of keys) p.call('MEMORY', 'USAGE', k).call('MEMORY', 'USAGE', `${k}:heads`);
    const usage = (await p.exec()) ?? [];
    for (let i = 0; i + 1 < usage.length; i += 2) {
      const [err, n] = usage[i]!;
      if (err || typeof n !== 'number') continue;
      const heads = usage[i + 1]![1];
      users++;
      bytes += n + (typeof heads === 'number' ? heads : 0);
    }
  } while (cursor !== '0');
  const used = /used_memory:(\d+)/.exec(await redis.info('memory'));
  return { users, pageBytes: bytes, bytesPerUser: users ? bytes / users : 0, usedBytes: used ? Number(used[1]) : NaN };
}

/** What playing the day counts: the result's counters, plus how late each session started. */
type DayRun = Pick<DayResult, 'wallMs' | 'feedRequests' | 'firstPages' | 'non2xx' | 'posts' | 'follows'> & {
  lateMs: number[];
  warmingRuns: number;
};

/** Plays the sessions at their compressed times, and the CacheWarming schedule beside them. */
async function playDay(ctx: BenchContext, plan: DayPlan, scale: number): Promise<DayRun> {
  const { stack } = live(ctx);
  const run: DayRun = { wallMs: 0, feedRequests: 0, firstPages: 0, non2xx: 0, posts: 0, follows: 0, lateMs: [], warmingRuns: 0 };
  const t0 = performance.now();
  const wallOf = (simSeconds: number) => (simSeconds * 1000) / scale;
  let stop = false;
  const warming = (async () => {
    for (let k = 1; !stop; k++) {
      const due = wallOf(k * WARM_EVERY_S) - (performance.now() - t0);
      if (due > 0) await sleep(due);
      if (stop) break;
      const exec = stack.stepFunctions.startExecution(stack.stepFunctions.arnOf('cache-warming'), JSON.stringify({}), `bench-day-warming-${k}-${Date.now()}`);
      run.warmingRuns++;
      while (exec.status === 'RUNNING' && !stop) await sleep(20);
    }
  })();
  try {
    await playSessions(ctx, plan, scale, run, t0);
  } finally {
    stop = true;
    await warming;
  }
  run.wallMs = performance.now() - t0;
  return run;
}

async function playSessions(ctx: BenchContext, plan: DayPlan, scale: number, run: DayRun, t0: number): Promise<void> {
  const wallOf = (simSeconds: number) => (simSeconds * 1000) / scale;
  let inFlight = 0;
  const running = new Set<Promise<void>>();
  let next = 0;
  for (const s of plan.sessions) {
    const due = wallOf(s.at) - (performance.now() - t0);
    if (due > 0) await sleep(due);
    while (inFlight >= MAX_SESSIONS_IN_FLIGHT) await Promise.race(running);
    run.lateMs.push(Math.max(0, performance.now() - t0 - wallOf(s.at)));
    inFlight++;
    const p = playSession(ctx, s, wallOf(PAGE_DWELL_SECONDS), run).finally(() => {
      inFlight--;
      running.delete(p);
    });
    running.add(p);
    if (++next % 500 === 0) ctx.tick(`day: ${next}/${plan.sessions.length} sessions, ${run.feedRequests} feed requests, simulated ${fmt(((performance.now() - t0) * scale) / 3_600_000, 1)} h`);
  }
  await Promise.all(running);
}

/** An HTTP call of the day; a call that fails outright (a timeout on an overloaded machine) is an
 *  answer of status 0, counted with the non-2xx, so one slow call does not end the day. */
async function call(base: string, method: string, pathname: string, token?: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  try {
    return await httpJson(base, method, pathname, token, body);
  } catch {
    return { status: 0, json: undefined };
  }
}

/** One session: its pages, a pause on each, then its posts and follows. */
async function playSession(ctx: BenchContext, s: Session, dwellMs: number, run: DayRun): Promise<void> {
  const { stack, tokens, userIds } = live(ctx);
  let cursor: string | null = null;
  for (let page = 0; page < s.pages; page++) {
    if (page > 0) {
      if (!cursor) break;
      await sleep(dwellMs);
    }
    const res = await call(stack.url, 'GET', `/v1/feed?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, tokens[s.user]);
    run.feedRequests++;
    if (page === 0) run.firstPages++;
    if (res.status !== 200) {
      run.non2xx++;
      break;
    }
    cursor = (res.json as { nextCursor: string | null }).nextCursor;
  }
  for (let k = 0; k < s.posts; k++) {
    const res = await call(stack.url, 'POST', '/v1/posts', tokens[s.user], { content: `a post of the day by ${s.user}` });
    if (res.status === 201) run.posts++;
  }
  for (const f of s.follows) {
    const res = await call(stack.url, 'PUT', `/v1/users/${userIds[f]}/follow`, tokens[s.user]);
    if (res.status < 300) run.follows++;
  }
}

/** Records the tier of each user's first first-page lookup (a user's first read of the day). */
function recordFirstLookups() {
  const original = FeedCache.prototype.getOrGenerate;
  const first = new Map<string, CachedFeed['tier']>();
  FeedCache.prototype.getOrGenerate = async function (this: FeedCache, userId: string, variant: string, generate: () => Promise<string>) {
    const out = await original.call(this, userId, variant, generate);
    if (!first.has(userId)) first.set(userId, out.tier);
    return out;
  };
  return {
    clear: () => first.clear(),
    tiers: () => [...first.values()],
    restore: () => {
      FeedCache.prototype.getOrGenerate = original;
    },
  };
}

function summarizeDay(
  plan: DayPlan,
  scale: number,
  run: DayRun,
  c: ReturnType<typeof cacheDelta>,
  db: { read: number; warm: number },
  warmed: { onFanOut: number; scheduled: number; skipped: number },
  deeper: { hits: number; misses: number },
  firstTiers: CachedFeed['tier'][],
  memory: CacheMemory,
): DayResult {
  const firstPageHits = c.l1Hits + c.l2Hits;
  const deeperReads = Math.max(0, run.feedRequests - run.firstPages);
  const firstOfDay = firstTiers.length;
  return {
    users: plan.users.length,
    sessions: plan.sessions.length,
    scale,
    wallMs: run.wallMs,
    feedRequests: run.feedRequests,
    firstPages: run.firstPages,
    non2xx: run.non2xx,
    posts: run.posts,
    follows: run.follows,
    priorReaders: plan.lastBefore.size,
    hitRate: (firstPageHits + deeper.hits) / Math.max(1, run.feedRequests),
    firstPageHitRate: firstPageHits / Math.max(1, c.lookups),
    deeperHitRate: deeperReads ? deeper.hits / deeperReads : NaN,
    firstOfDay,
    firstOfDayHitRate: firstTiers.filter((t) => t !== 'generated').length / Math.max(1, firstOfDay),
    l1Hits: c.l1Hits,
    l2Hits: c.l2Hits,
    generated: c.generated,
    deeperHits: deeper.hits,
    dbRead: db.read,
    dbWarm: db.warm,
    dbPerRequest: (db.read + db.warm) / Math.max(1, run.feedRequests),
    warmPerRequest: db.warm / Math.max(1, run.feedRequests),
    warmed,
    warmingRuns: run.warmingRuns,
    lateP95Ms: percentile(run.lateMs, 0.95),
    lateMedianMs: median(run.lateMs),
    memory,
    l2Errors: c.l2Errors,
    l2ShortCircuited: c.l2ShortCircuited,
  };
}

/** The same day's sessions (a sample of them, in order), replayed with both cache tiers off. */
export async function dayUncached(ctx: BenchContext): Promise<void> {
  const { o, graph } = ctx;
  const d = ctx.results.day;
  if (!d) throw new Error('the day did not run');
  const plan = planDay(graph, { seed: o.seed, users: o.dayUsers, postsPerUserMonth: o.postsPerUser });
  const every = Math.max(1, Math.round(1 / o.dayUncachedShare));
  const sample = plan.sessions.filter((_, i) => i % every === 0);
  const original = { getOrGenerate: FeedCache.prototype.getOrGenerate, peek: FeedCache.prototype.peek };
  FeedCache.prototype.getOrGenerate = async (_u: string, _v: string, generate: () => Promise<string>) => ({ value: await generate(), tier: 'generated' });
  FeedCache.prototype.peek = async () => undefined;
  const lv = live(ctx);
  let requests = 0;
  let non2xx = 0;
  const t0 = performance.now();
  const w0 = workCounts();
  try {
    await pool(sample, REPLAY_CONCURRENCY, async (s) => {
      let cursor: string | null = null;
      for (let page = 0; page < s.pages && (page === 0 || cursor); page++) {
        const res = await call(lv.stack.url, 'GET', `/v1/feed?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, lv.tokens[s.user]);
        requests++;
        if (res.status !== 200) {
          non2xx++;
          break;
        }
        cursor = (res.json as { nextCursor: string | null }).nextCursor;
      }
    });
    await quiesce();
  } finally {
    FeedCache.prototype.getOrGenerate = original.getOrGenerate;
    FeedCache.prototype.peek = original.peek;
  }
  const w = workCounts();
  const perRequest = (w.read - w0.read) / Math.max(1, requests);
  ctx.results.dayUncached = { sessions: sample.length, feedRequests: requests, non2xx, dbPerRequest: perRequest, wallMs: performance.now() - t0, every };
  ctx.log(`day uncached: 1 session in ${every} replayed (${requests} feed requests): ${fmt(perRequest, 2)} DynamoDB requests per feed request; cached day ${fmt(d.dbPerRequest, 2)} → ${fmt(100 * (1 - d.dbPerRequest / perRequest), 1)}% fewer`);
}

/** The shard map's periodic re-read (shared/store/shard-map.ts), as the work counter names it. */
const SHARD_MAP_READ = 'Get Control';

/** What a cold first page costs, per reader: the day's readers in turn, their cached pages dropped,
 *  each first page generated alone (no other request counted with it). */
export async function coldPage(ctx: BenchContext): Promise<void> {
  const { o, graph } = ctx;
  const { userIds } = live(ctx);
  countWork();
  const plan = planDay(graph, { seed: o.seed, users: o.dayUsers, postsPerUserMonth: o.postsPerUser });
  const readers = [...new Set(plan.sessions.map((s) => s.user))].slice(0, o.coldPageReaders);
  const holds: number[] = [];
  const short: number[] = [];
  /** The requests of reads over the target, in order: what the extra one was. */
  const over: string[] = [];
  /** Re-reads of the shard map that fell inside a measured read: the process's, not the page's
   *  (one GetItem of the control table every FEED_SHARD_MAP_REFRESH_MS, whatever the traffic,
   *  paid by whichever request finds the copy stale). Counted apart. */
  let mapReads = 0;
  for (const u of readers) {
    const id = userIds[u]!;
    const { entries } = await queryEntries(id, PAGE + 1, Math.floor(Date.now() / 1000));
    await feedCache().invalidate(id);
    const { commands } = await inInvocation(() => requestsOf(() => homeFeed(id, PAGE)));
    const own = commands.filter((c) => c !== SHARD_MAP_READ);
    mapReads += commands.length - own.length;
    (entries.length > PAGE ? holds : short).push(own.length);
    if (entries.length > PAGE && own.length > TARGETS.coldPageRequests) over.push(commands.join(' → '));
  }
  const stats = (xs: number[]) => ({ readers: xs.length, mean: xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length), p50: median(xs), max: xs.length ? Math.max(...xs) : NaN });
  ctx.results.coldPage = { holdsPage: stats(holds), short: stats(short), mapReads, ...(over.length > 0 && { over }) };
  const r = ctx.results.coldPage;
  ctx.log(`cold page: feed holds a page ${r.holdsPage.readers} readers, mean ${fmt(r.holdsPage.mean, 2)} max ${r.holdsPage.max} DynamoDB requests; shorter feeds (history) ${r.short.readers} readers, mean ${fmt(r.short.mean, 2)} max ${r.short.max}; shard-map re-reads among them ${mapReads}`);
  for (const line of over.slice(0, 5)) ctx.log(`cold page over ${TARGETS.coldPageRequests} requests: ${line}`);
}

/** The day phases run when a day is configured. */
export const dayOn = (ctx: BenchContext) => ctx.o.dayUsers > 0;
export const dayRan = (ctx: BenchContext) => ctx.results.day !== undefined;
