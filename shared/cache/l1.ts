// L1: the in-process cache of serialised feed pages, one per container. Bounded by bytes, entries
// expire after a TTL, and eviction is LRU behind a TinyLFU admission filter, so a scan of one-off
// keys (a burst of cold readers) cannot flush the hot feeds out of a small cache.
//
// Why this shape: lru-cache (isaacs) gives byte-bounded LRU, but has no frequency bias; the npm
// TinyLFU/W-TinyLFU packages are little used and little maintained. So a count-min sketch (4 rows
// of 4-bit counters, conservative update, halved every 10×width accesses so old popularity fades, as in TinyLFU) sits
// in front: under eviction pressure a new key is admitted only if its estimated frequency is at
// least that of every victim it would displace; a victim that wins is moved to the recent end,
// so the next candidate meets the next victim rather than the same hot key (no frozen cache).
// Ties admit, so among equally cold keys the cache behaves as a plain LRU.
import { LRUCache } from 'lru-cache';
import { FEED_L1_TTL_MS } from './cache-keys.js';

export type L1Value = string | Buffer;

/** 64 MiB: a small share of a 1-3 GB Lambda container, room for thousands of serialised pages. */
export const L1_DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/** Sizes the frequency sketch when the caller does not: one counter per KiB of budget (a feed
 *  page of 20 posts serialises to several KiB), at least 4,096 counters per row (16 KiB). */
const SKETCH_BYTES_PER_COUNTER = 1024;
const SKETCH_MIN_WIDTH = 4096;
const SKETCH_MAX_WIDTH = 1 << 22;

export interface L1Options {
  /** Upper bound of the bytes held: keys plus values (default L1_DEFAULT_MAX_BYTES). */
  maxBytes?: number;
  /** Entry lifetime (default FEED_L1_TTL_MS). */
  ttlMs?: number;
  /** The clock, in ms (tests inject one). */
  now?: () => number;
  /** Distinct keys expected in the cache, to size the frequency sketch. */
  expectedEntries?: number;
  /** Called when a key leaves the cache (evicted, expired, deleted or cleared), not on overwrite. */
  onRemove?: (key: string) => void;
}

export interface L1Stats {
  hits: number;
  misses: number;
  /** Entries pushed out by the byte bound. */
  evictions: number;
  /** New entries refused by the admission filter. */
  rejections: number;
  bytes: number;
  entries: number;
}

interface Entry {
  value: L1Value;
  size: number;
  expiresAt: number;
}

/** Count-min sketch of access frequencies with 4-bit saturating counters and periodic halving. */
export class FrequencySketch {
  private static readonly DEPTH = 4;
  private static readonly MAX_COUNT = 15;
  private readonly counters: Uint8Array;
  private readonly mask: number;
  private readonly sampleSize: number;
  private additions = 0;

  constructor(expectedEntries: number) {
    let width = SKETCH_MIN_WIDTH;
    while (width < expectedEntries && width < SKETCH_MAX_WIDTH) width *= 2;
    this.mask = width - 1;
    this.counters = new Uint8Array(width * FrequencySketch.DEPTH);
    this.sampleSize = 10 * width;
  }

  /** The key's counter in each row, into `this.at` (one array reused: a fresh one per lookup was
   *  an allocation on every L1 read). */
  private readonly at = new Int32Array(FrequencySketch.DEPTH);

  private index(key: string): Int32Array {
    let h1 = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h1 = Math.imul(h1 ^ key.charCodeAt(i), 0x01000193);
    let h2 = h1 ^ (h1 >>> 16);
    h2 = Math.imul(h2, 0x85ebca6b);
    h2 ^= h2 >>> 13;
    h2 = Math.imul(h2, 0xc2b2ae35);
    h2 = (h2 ^ (h2 >>> 16)) | 1;
    const width = this.mask + 1;
    for (let row = 0; row < FrequencySketch.DEPTH; row++) this.at[row] = row * width + ((h1 + row * h2) & this.mask);
    return this.at;
  }

  /** Conservative update: only the counters at the key's current minimum grow, which keeps
   *  collisions from inflating the estimates of cold keys. */
  increment(key: string): void {
    const at = this.index(key);
    let min = FrequencySketch.MAX_COUNT;
    for (let row = 0; row < FrequencySketch.DEPTH; row++) min = Math.min(min, this.counters[at[row]!]!);
    if (min < FrequencySketch.MAX_COUNT) {
      for (let row = 0; row < FrequencySketch.DEPTH; row++) if (this.counters[at[row]!] === min) this.counters[at[row]!]!++;
    }
    if (++this.additions >= this.sampleSize) this.age();
  }

  estimate(key: string): number {
    const at = this.index(key);
    let min = FrequencySketch.MAX_COUNT;
    for (let row = 0; row < FrequencySketch.DEPTH; row++) min = Math.min(min, this.counters[at[row]!]!);
    return min;
  }

  /** Halves every counter, so that popularity measured long ago fades (TinyLFU's reset). */
  private age(): void {
    for (let i = 0; i < this.counters.length; i++) this.counters[i]! >>= 1;
    this.additions = Math.floor(this.additions / 2);
  }

  clear(): void {
    this.counters.fill(0);
    this.additions = 0;
  }
}

/** peek()'s options for an entry whether or not lru-cache deems it stale (L1 keeps its own
 *  expiry), one object for every call. */
const STALE_TOO = { allowStale: true } as const;

const byteLength = (value: L1Value): number => (typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength);

export class L1Cache {
  readonly maxBytes: number;
  readonly ttlMs: number;
  private readonly now: () => number;
  private readonly lru: LRUCache<string, Entry>;
  private readonly sketch: FrequencySketch;
  private readonly onRemove: ((key: string) => void) | undefined;
  private counts = { hits: 0, misses: 0, evictions: 0, rejections: 0 };

  constructor(opts: L1Options = {}) {
    this.maxBytes = opts.maxBytes ?? L1_DEFAULT_MAX_BYTES;
    this.ttlMs = opts.ttlMs ?? FEED_L1_TTL_MS;
    if (!(this.maxBytes > 0)) throw new Error(`L1 maxBytes must be positive, got ${this.maxBytes}`);
    if (!(this.ttlMs > 0)) throw new Error(`L1 ttlMs must be positive, got ${this.ttlMs}`);
    this.now = opts.now ?? Date.now;
    this.onRemove = opts.onRemove;
    this.sketch = new FrequencySketch(opts.expectedEntries ?? this.maxBytes / SKETCH_BYTES_PER_COUNTER);
    this.lru = new LRUCache<string, Entry>({
      maxSize: this.maxBytes,
      maxEntrySize: this.maxBytes,
      sizeCalculation: (entry) => entry.size,
      dispose: (_entry, key, reason) => {
        if (reason === 'evict') this.counts.evictions++;
        if (reason !== 'set') this.onRemove?.(key);
      },
    });
  }

  get(key: string): L1Value | undefined {
    this.sketch.increment(key);
    const entry = this.lru.get(key);
    if (entry && entry.expiresAt > this.now()) {
      this.counts.hits++;
      return entry.value;
    }
    if (entry) this.lru.delete(key);
    this.counts.misses++;
    return undefined;
  }

  /**
   * Stores `value` unless the admission filter refuses it (returns false). `sizeBytes` is the
   * value's byte length when the caller already knows it; the key's length is always added.
   * `counted`: the access was counted already (by the get that missed, in the same read), so a
   * read counts once in the frequency sketch, as a warmed page does.
   */
  set(key: string, value: L1Value, sizeBytes?: number, counted = false): boolean {
    if (!counted) this.sketch.increment(key);
    const size = Buffer.byteLength(key) + (sizeBytes ?? byteLength(value));
    if (size > this.maxBytes || !this.admits(key, size)) {
      this.counts.rejections++;
      this.lru.delete(key); // never leave an older value behind a refused newer one
      return false;
    }
    this.lru.set(key, { value, size, expiresAt: this.now() + this.ttlMs });
    return true;
  }

  /** TinyLFU admission: true unless storing `size` bytes would evict a more frequent live entry. */
  private admits(key: string, size: number): boolean {
    const current = this.lru.peek(key, STALE_TOO);
    let free = this.maxBytes - this.lru.calculatedSize + (current?.size ?? 0);
    if (free >= size) return true;
    const candidate = this.sketch.estimate(key);
    const now = this.now();
    for (const victim of this.lru.rkeys()) {
      if (free >= size) break;
      if (victim === key) continue;
      const entry = this.lru.peek(victim, STALE_TOO);
      if (!entry) continue;
      if (entry.expiresAt > now && this.sketch.estimate(victim) > candidate) {
        this.lru.get(victim); // the winner moves to the recent end; see the module comment
        return false;
      }
      free += entry.size;
    }
    return true;
  }

  delete(key: string): boolean {
    return this.lru.delete(key);
  }

  /** Drops every entry (not the frequency history: popularity outlives a flush). */
  clear(): void {
    this.lru.clear();
  }

  stats(): L1Stats {
    return { ...this.counts, bytes: this.lru.calculatedSize, entries: this.lru.size };
  }
}
