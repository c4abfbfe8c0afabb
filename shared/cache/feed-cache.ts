// The feed read path's cache: L1 (this container) → L2 (Redis) → generate (DynamoDB), writing
// through to both tiers. A hot feed must not stampede DynamoDB, so concurrent misses of one page
// share one generation: in a container through a map of in-flight loads, across containers
// through a short Redis lock whose holder generates while the others poll L2 for its result.
import { setTimeout as sleep } from 'node:timers/promises';
import { config } from '../edge/config.js';
import { cacheKeys, FEED_L1_TTL_MS, hashTagOf, LOCK_TTL_MS, scaledMs, setCacheTimeScale } from './cache-keys.js';
import { L1Cache, type L1Options, type L1Stats } from './l1.js';
import { DROP_PAGE, l2, type FeedRead, type L2Cache, type L2Stats } from './l2.js';
import { isWindowHead, WINDOW_HEAD, type Intern } from './window.js';

export type CacheTier = 'l1' | 'l2' | 'generated';
export interface CachedFeed {
  value: string;
  tier: CacheTier;
}

/** Waiters poll L2 this often: a generation takes tens of ms, so a waiter sees the holder's page
 *  a few ms after it lands, at a cost of one small Lua call per poll. */
const WAIT_POLL_MS = 15;

export interface FeedCacheOptions {
  /** Options of this cache's own L1 (maxBytes, ttlMs, clock). */
  l1?: Omit<L1Options, 'onRemove'>;
  /** The L2 tier (default: the process-wide l2()). */
  l2?: L2Cache;
  lockTtlMs?: number;
  pollIntervalMs?: number;
}

export interface FeedCacheStats {
  l1: { hits: number; misses: number };
  l2: { hits: number; misses: number };
  /** Pages past the first: served from a cached window, or read from DynamoDB. */
  deeper: { hits: number; misses: number };
  /** generate() calls made for readers (a miss at both tiers). */
  generated: number;
  /** Pages generated with no reader waiting (warming, refreshes after writes). */
  warmed: number;
  /** Warms not generated because Redis could not be asked for the user's epoch: a page it cannot
   *  keep would cost DynamoDB reads for nothing (see warm). */
  warmsSkipped: number;
  /** Reads that joined a load already in flight in this container. */
  coalesced: number;
  /** Loads that found another container's lock and waited for its page. */
  lockWaits: number;
  /** Waits that ended without the page appearing (the waiter then generated itself). */
  lockWaitTimeouts: number;
  /** Generated pages not written to L2: an invalidation came first, or Redis was unusable. */
  l2WritesSkipped: number;
  /** In-place updates whose outcome in L2 was unknown (a reply lost to the timeout, or Redis
   *  unusable): the user's pages were dropped instead, so none is left without the change. */
  updatesDropped: number;
  l1Tier: L1Stats;
  l2Tier: L2Stats;
}

/** A flight's promise until its load has started (load reads only the flight's other fields). */
const NO_LOAD: Promise<CachedFeed> = Promise.resolve({ value: '', tier: 'generated' });

interface Flight {
  userId: string;
  promise: Promise<CachedFeed>;
  /** Set when the user's feed is invalidated or overwritten meanwhile: the result is then handed
   *  to the readers that were already waiting, but not stored in L1. */
  superseded: boolean;
}

export class FeedCache {
  private readonly l1: L1Cache;
  private readonly l2: L2Cache;
  private readonly lockTtlMs: number;
  private readonly pollMs: number;
  private readonly flights = new Map<string, Flight>();
  /** L1 keys held per user, so invalidation drops them without scanning the whole L1. */
  private readonly l1KeysByUser = new Map<string, Set<string>>();
  private counts = { l1Hits: 0, l1Misses: 0, l2Hits: 0, l2Misses: 0, deeperHits: 0, deeperMisses: 0, generated: 0, warmed: 0, warmsSkipped: 0, coalesced: 0, lockWaits: 0, lockWaitTimeouts: 0, l2WritesSkipped: 0, updatesDropped: 0 };

  constructor(opts: FeedCacheOptions = {}) {
    this.l1 = new L1Cache({ ...opts.l1, onRemove: (key) => this.forget(key) });
    this.l2 = opts.l2 ?? l2();
    this.lockTtlMs = opts.lockTtlMs ?? LOCK_TTL_MS;
    this.pollMs = opts.pollIntervalMs ?? WAIT_POLL_MS;
  }

  /** The page from the nearest tier that has it, else from `generate` (once, however many ask).
   *  `intern`: see Intern. Not an async function: one returning the load's promise wrapped it in
   *  a promise of its own (and two more turns of the microtask queue) on every L2 hit. */
  getOrGenerate(userId: string, variant: string, generate: () => Promise<string>, intern?: Intern): Promise<CachedFeed> {
    const key = cacheKeys.feedL1(userId, variant);
    const cached = this.l1.get(key);
    if (cached !== undefined) {
      this.counts.l1Hits++;
      return Promise.resolve({ value: typeof cached === 'string' ? cached : cached.toString('utf8'), tier: 'l1' });
    }
    this.counts.l1Misses++;
    const inFlight = this.flights.get(key);
    if (inFlight) {
      this.counts.coalesced++;
      return inFlight.promise;
    }
    const flight: Flight = { userId, superseded: false, promise: NO_LOAD };
    // load forgets the flight when it ends (in its own finally: a .finally() on its promise was
    // one more promise and microtask per L2 hit).
    this.flights.set(key, flight);
    flight.promise = this.load(userId, variant, key, generate, flight, intern);
    return flight.promise;
  }

  /** The page from the nearest tier that has it, without generating or locking (a deeper page
   *  served from a cached window); an L2 hit is kept in L1 for the session's next page. */
  async peek(userId: string, variant: string, intern?: Intern): Promise<CachedFeed | undefined> {
    const key = cacheKeys.feedL1(userId, variant);
    const cached = this.l1.get(key);
    const local = cached === undefined || typeof cached === 'string' ? cached : cached.toString('utf8');
    // A head (a first page from L2) lacks the later pages: the whole window is in L2.
    if (local !== undefined && !isWindowHead(local)) return { value: local, tier: 'l1' };
    const read = await this.l2.readFeed(userId, variant, { counted: false, extend: true, intern });
    if (read.status !== 'hit') return undefined;
    return this.l2Hit(key, userId, read, !this.flights.has(key));
  }

  /** Counts a page past the first: served from a cached window (hit) or read from DynamoDB. */
  countDeeper(hit: boolean): void {
    if (hit) this.counts.deeperHits++;
    else this.counts.deeperMisses++;
  }

  /**
   * Generates one page into both tiers without a reader waiting (the warming workflow, and feeds
   * refreshed after a write). Guarded like a reader's generation: the epoch is read before
   * `generate` reads DynamoDB, so a post merged into the user's pages meanwhile (which the page
   * may lack) stops the write. While Redis cannot answer that read (down, slow, or its breaker
   * open) nothing is generated: the page could not be stored for any reader, and its DynamoDB
   * reads would land when DynamoDB is already answering the readers' misses (a day of the bench
   * whose breaker opened for 2 s spent 515 reads on 169 such pages, 0.09 per feed request).
   * `reader`: the page is a reader's (a user active in the last hour), kept as long as a read
   * page. → true if the page was stored.
   */
  async warm(userId: string, variant: string, generate: () => Promise<string>, opts: { reader?: boolean } = {}): Promise<boolean> {
    const epoch = await this.l2.feedEpoch(userId);
    if (epoch === undefined) {
      this.counts.warmsSkipped++;
      return false;
    }
    this.counts.warmed++;
    return this.store(userId, variant, epoch, await generate(), opts.reader);
  }

  /** Stores what `produce` reads from DynamoDB as the user's `variant` at both tiers, under
   *  warm()'s guard (the epoch read first: a change to the user's pages meanwhile stops the
   *  write); → produce's result, and whether the value was stored. */
  async keep<R>(userId: string, variant: string, produce: () => Promise<{ value: string; result: R }>, opts: { reader?: boolean } = {}): Promise<{ result: R; stored: boolean }> {
    const epoch = await this.l2.feedEpoch(userId);
    const { value, result } = await produce();
    return { result, stored: await this.store(userId, variant, epoch, value, opts.reader) };
  }

  /** Writes a generated page through both tiers unless the user's epoch moved on since `epoch`
   *  was read (or could not be read). → true if stored. */
  private async store(userId: string, variant: string, epoch: string | undefined, value: string, reader: boolean | undefined): Promise<boolean> {
    const stored = epoch !== undefined && (await this.l2.writeFeed(userId, variant, value, { epoch, reader }));
    if (stored) this.remember(cacheKeys.feedL1(userId, variant), userId, value);
    else this.counts.l2WritesSkipped++;
    return stored;
  }

  /** Write-through of a page known to be current (tools, tests): both tiers, unguarded. A page
   *  generated while posts may arrive goes through warm() instead. */
  async put(userId: string, variant: string, value: string): Promise<void> {
    const key = cacheKeys.feedL1(userId, variant);
    const flight = this.flights.get(key);
    if (flight) {
      flight.superseded = true;
      this.flights.delete(key);
    }
    this.remember(key, userId, value);
    await this.l2.writeFeed(userId, variant, value);
  }

  /** Empties this container's L1 (as a fresh container would start); L2 is untouched. */
  dropL1(): void {
    this.l1.clear();
    this.l1KeysByUser.clear();
  }

  /** Drops every cached page of the user from L1 and L2. Loads already in flight still answer
   *  their readers but store nothing, and later reads start a fresh load. */
  async invalidate(userId: string): Promise<void> {
    this.dropLocal(userId);
    await this.l2.invalidateFeed(userId);
    // Again once L2 is done: a load that read the old page from L2 meanwhile must not keep it.
    this.dropLocal(userId);
  }

  /**
   * Rewrites the user's cached pages in place: `edit` gets each page L2 holds and returns its new
   * value (undefined: unchanged; null: drop this page). Each page is replaced only if nobody
   * changed it meanwhile (one that did is dropped), and the user's epoch moves on, so a generation that started before the
   * change cannot store its older page; when L2's outcome cannot be known, every page of the
   * user is dropped instead. This container's L1 copies are dropped (the next read
   * takes the new page from L2) and its loads in flight store nothing. → 'none' when the user
   * had no cached page (the caller may warm one), 'dropped' when the pages were dropped.
   */
  async update(userId: string, edit: (variant: string, value: string) => string | null | undefined): Promise<'edited' | 'none' | 'dropped'> {
    this.dropLocal(userId);
    // Without Redis there is no L2 page to edit (and none to warm: 'none' would only add work).
    const outcome = this.l2.enabled ? await this.editInL2(userId, edit) : 'edited';
    if (outcome === 'dropped') {
      // Whether the pages were edited is unknown: a reply that came after the timeout (the
      // command may still have run, or may run later) or a Redis the breaker holds off. Kept,
      // a page would miss this change until it expires, whatever merges come after (each adds
      // only its own post), so every page of the user is dropped instead (queued behind the
      // commands whose replies were lost, so it runs after them).
      this.counts.updatesDropped++;
      await this.l2.invalidateFeed(userId);
    }
    // Again once L2 is done: a load that read the old page from L2 meanwhile must not keep it.
    this.dropLocal(userId);
    return outcome;
  }

  /** The L2 half of update(): 'edited' when every page is known to be edited or dropped, 'none'
   *  when the user had no cached page, 'dropped' when the outcome is unknown. */
  private async editInL2(userId: string, edit: (variant: string, value: string) => string | null | undefined): Promise<'edited' | 'none' | 'dropped'> {
    const pages = await this.l2.beginFeedUpdate(userId);
    if (pages === undefined) return 'dropped';
    const entries = Object.entries(pages);
    if (entries.length === 0) return 'none';
    const changes: { variant: string; expected: string; value: string }[] = [];
    for (const [variant, value] of entries) {
      const next = edit(variant, value);
      if (next === null) changes.push({ variant, expected: value, value: DROP_PAGE });
      else if (next !== undefined && next !== value) changes.push({ variant, expected: value, value: next });
    }
    return changes.length === 0 || (await this.l2.replaceFeeds(userId, changes)) !== undefined ? 'edited' : 'dropped';
  }

  /** Those of the users that hold no cached page of `variant` in L2; undefined when Redis cannot
   *  tell (warming then waits for its next run: see warm). */
  async uncached(userIds: string[], variant: string): Promise<string[] | undefined> {
    const held = await this.l2.feedsCached(userIds, variant);
    return held && userIds.filter((_, i) => !held[i]);
  }

  /** Replaces one page that a reader found and brought up to date, at both tiers, unless it changed
   *  meanwhile (then it is dropped from L2 and this container keeps no copy). */
  async replace(userId: string, variant: string, expected: string, value: string): Promise<void> {
    const replaced = await this.l2.replaceFeeds(userId, [{ variant, expected, value }]);
    const key = cacheKeys.feedL1(userId, variant);
    if (replaced === 1 && !this.flights.has(key)) this.remember(key, userId, value);
    else this.l1.delete(key);
  }

  /** Forgets the user's pages in this container: L1 copies, and loads in flight (superseded). */
  private dropLocal(userId: string): void {
    for (const [key, flight] of this.flights) {
      if (flight.userId !== userId) continue;
      flight.superseded = true;
      this.flights.delete(key);
    }
    for (const key of [...(this.l1KeysByUser.get(userId) ?? [])]) this.l1.delete(key);
  }

  stats(): FeedCacheStats {
    const c = this.counts;
    return {
      l1: { hits: c.l1Hits, misses: c.l1Misses },
      l2: { hits: c.l2Hits, misses: c.l2Misses },
      deeper: { hits: c.deeperHits, misses: c.deeperMisses },
      generated: c.generated,
      warmed: c.warmed,
      warmsSkipped: c.warmsSkipped,
      coalesced: c.coalesced,
      lockWaits: c.lockWaits,
      lockWaitTimeouts: c.lockWaitTimeouts,
      l2WritesSkipped: c.l2WritesSkipped,
      updatesDropped: c.updatesDropped,
      l1Tier: this.l1.stats(),
      l2Tier: this.l2.stats(),
    };
  }

  private async load(userId: string, variant: string, key: string, generate: () => Promise<string>, flight: Flight, intern: Intern | undefined): Promise<CachedFeed> {
    try {
      let read: FeedRead = await this.l2.readFeed(userId, variant, { lockTtlMs: this.lockTtlMs, head: WINDOW_HEAD, intern });
      if (read.status === 'hit') {
        this.counts.l2Hits++;
        return this.l2Hit(key, userId, read, !flight.superseded);
      }
      this.counts.l2Misses++;
      if (read.status === 'held') {
        // Another container generates this page: wait for it in L2, at most one lock lifetime.
        this.counts.lockWaits++;
        const deadline = Date.now() + this.lockTtlMs;
        while (read.status === 'held' && Date.now() < deadline) {
          await sleep(this.pollMs);
          read = await this.l2.readFeed(userId, variant, { lockTtlMs: this.lockTtlMs, counted: false, head: WINDOW_HEAD, intern });
        }
        if (read.status === 'hit') {
          return this.l2Hit(key, userId, read, !flight.superseded);
        }
        if (read.status === 'held') this.counts.lockWaitTimeouts++;
      }
      // 'locked': ours to generate. 'held' after the wait: the holder died or is slow; generate
      // anyway (still guarded by the epoch). 'unavailable': Redis is down, DynamoDB answers alone.
      const epoch = read.status === 'unavailable' ? undefined : read.epoch;
      const token = read.status === 'locked' ? read.token : undefined;
      let value: string;
      try {
        this.counts.generated++;
        value = await generate();
      } catch (err) {
        if (token) await this.l2.unlock(cacheKeys.feedLock(userId, variant), token);
        throw err;
      }
      if (!flight.superseded) this.remember(key, userId, value, undefined, true);
      const written = epoch !== undefined && (await this.l2.writeFeed(userId, variant, value, { epoch, reader: true, ...(token && { lockToken: token }) }));
      if (!written) this.counts.l2WritesSkipped++;
      return { value, tier: 'generated' };
    } finally {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    }
  }

  /** An L2 hit as served (interned by L2: see Intern), kept in L1 when `keep`. */
  private l2Hit(key: string, userId: string, hit: { value: string; bytes?: number }, keep: boolean): CachedFeed {
    if (keep) this.remember(key, userId, hit.value, hit.bytes, true);
    return { value: hit.value, tier: 'l2' };
  }

  /** Keeps a page in L1 (`bytes`: its UTF-8 length, when known; `read`: a reader's, whose L1
   *  lookup counted the access already). Counted again, a read cost an L2 hit ~1 µs of CPU: the
   *  sketch's four counters, out of the processor's cache by the time Redis answered (55.9 → 54.7
   *  µs through the gateway at c=32, twelve alternated rounds). */
  private remember(key: string, userId: string, value: string, bytes?: number, read = false): void {
    if (!this.l1.set(key, value, bytes, read)) return;
    let keys = this.l1KeysByUser.get(userId);
    if (!keys) this.l1KeysByUser.set(userId, (keys = new Set()));
    keys.add(key);
  }

  /** L1 dropped `key` (evicted, expired, deleted): forget it in the per-user index. */
  private forget(key: string): void {
    const userId = hashTagOf(key);
    if (userId === undefined) return;
    const keys = this.l1KeysByUser.get(userId);
    if (!keys) return;
    keys.delete(key);
    if (keys.size === 0) this.l1KeysByUser.delete(userId);
  }
}

let shared: FeedCache | undefined;
/** The process-wide feed cache: an L1 of FEED_L1_MAX_BYTES in front of l2(). */
export function feedCache(): FeedCache {
  shared ??= new FeedCache({ l1: { maxBytes: config().FEED_L1_MAX_BYTES, ttlMs: scaledMs(FEED_L1_TTL_MS) } });
  return shared;
}

/** Per-tier hit and miss counters of the process-wide feed cache. */
export function cacheStats(): FeedCacheStats {
  return feedCache().stats();
}

/** Compresses every cache lifetime by `scale` (a benchmark playing a day in minutes; see
 *  setCacheTimeScale) and starts a fresh process-wide cache whose L1 uses the compressed TTL. */
export function compressCacheTime(scale: number): void {
  setCacheTimeScale(scale);
  shared = undefined;
}

/** Drops the process-wide feed cache (tests); the next feedCache() starts empty. */
export function resetFeedCache(): void {
  shared = undefined;
}
