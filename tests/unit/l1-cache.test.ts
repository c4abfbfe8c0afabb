// L1 (shared/cache/l1.ts): a byte-bounded, TTL'd LRU with a TinyLFU admission filter. The clock is
// injected, so expiry is tested without sleeping.
import { describe, expect, it } from 'vitest';
import { FrequencySketch, L1Cache } from '../../shared/cache/l1.js';

const KB = 'x'.repeat(1_000);

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('L1 byte bound', () => {
  it('never holds more bytes than maxBytes, counting key and value bytes', () => {
    const cache = new L1Cache({ maxBytes: 10_000 });
    for (let i = 0; i < 200; i++) {
      cache.set(`key-${i}`, KB);
      expect(cache.stats().bytes).toBeLessThanOrEqual(10_000);
    }
    const { entries, bytes, evictions, rejections } = cache.stats();
    expect(entries).toBe(9); // 9 entries of about 1,006 bytes fit, a tenth does not
    expect(bytes).toBeGreaterThan(10_000 - 1_007);
    expect(evictions + rejections).toBe(200 - 9);
    expect(evictions).toBeGreaterThan(150); // equally cold keys are admitted: mostly plain LRU
  });

  it('measures strings in UTF-8 bytes and Buffers by length', () => {
    const cache = new L1Cache({ maxBytes: 1_000 });
    cache.set('s', 'é'.repeat(100)); // 200 bytes + 1
    cache.set('b', Buffer.alloc(300)); // 300 bytes + 1
    expect(cache.stats().bytes).toBe(201 + 301);
    expect(cache.get('b')).toEqual(Buffer.alloc(300));
  });

  it('takes the caller-given size instead of measuring the value', () => {
    const cache = new L1Cache({ maxBytes: 1_000 });
    cache.set('k', 'short', 500);
    expect(cache.stats().bytes).toBe(501);
  });

  it('refuses an entry larger than the whole cache and drops the older value of that key', () => {
    const cache = new L1Cache({ maxBytes: 1_000 });
    cache.set('big', 'old');
    expect(cache.set('big', 'y'.repeat(1_000))).toBe(false);
    expect(cache.get('big')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0, rejections: 1 });
  });
});

describe('L1 TTL', () => {
  it('serves an entry until its TTL has passed, then misses', () => {
    const t = clock();
    const cache = new L1Cache({ ttlMs: 60_000, now: t.now });
    cache.set('feed', 'page');
    t.advance(59_999);
    expect(cache.get('feed')).toBe('page');
    t.advance(1);
    expect(cache.get('feed')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, entries: 0, bytes: 0 });
  });

  it('restarts the TTL when a key is written again', () => {
    const t = clock();
    const cache = new L1Cache({ ttlMs: 1_000, now: t.now });
    cache.set('feed', 'v1');
    t.advance(900);
    cache.set('feed', 'v2');
    t.advance(900);
    expect(cache.get('feed')).toBe('v2');
  });

  it('admits a cold key over an expired entry, however popular that entry was', () => {
    const t = clock();
    const cache = new L1Cache({ maxBytes: 2_100, ttlMs: 1_000, now: t.now });
    cache.set('hot', KB);
    for (let i = 0; i < 10; i++) cache.get('hot');
    cache.set('warm', KB);
    t.advance(1_000);
    expect(cache.set('cold', KB)).toBe(true);
    expect(cache.get('cold')).toBe(KB);
  });
});

describe('L1 frequency bias (TinyLFU admission)', () => {
  it('keeps a frequently read key through a scan of one-hit keys', () => {
    const cache = new L1Cache({ maxBytes: 10 * 1_010 });
    cache.set('hot', KB);
    for (let i = 0; i < 10; i++) expect(cache.get('hot')).toBe(KB);

    for (let i = 0; i < 1_000; i++) {
      const key = `scan-${i}`;
      expect(cache.get(key)).toBeUndefined(); // the read path: a miss, then the write
      cache.set(key, KB);
    }

    expect(cache.get('hot')).toBe(KB);
    // The cache did not freeze: the newest one-hit keys still got in, around the hot one.
    const recent = Array.from({ length: 20 }, (_, i) => cache.get(`scan-${980 + i}`)).filter(Boolean);
    expect(recent.length).toBeGreaterThanOrEqual(8);
    expect(cache.stats().rejections).toBeGreaterThan(0);
  });

  it('evicts in LRU order among keys of equal frequency', () => {
    const cache = new L1Cache({ maxBytes: 3 * 1_002 });
    for (const key of ['k1', 'k2', 'k3']) cache.set(key, KB);
    cache.get('k1'); // k2 is now the least recently used, and as cold as k4
    cache.get('k4');
    expect(cache.set('k4', KB)).toBe(true);
    expect(cache.get('k2')).toBeUndefined();
    expect(cache.get('k1')).toBe(KB);
    expect(cache.get('k3')).toBe(KB);
  });

  it('refuses a new key that would displace a more frequent one', () => {
    const cache = new L1Cache({ maxBytes: 2 * 1_002 });
    cache.set('k1', KB);
    cache.set('k2', KB);
    for (let i = 0; i < 5; i++) {
      cache.get('k1');
      cache.get('k2');
    }
    expect(cache.set('k3', KB)).toBe(false);
    expect(cache.get('k3')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ entries: 2, evictions: 0, rejections: 1 });
  });

  it('counts a read once: the write-back of a miss the lookup counted adds nothing', () => {
    const cache = new L1Cache({ maxBytes: 1_003 }); // one entry of a 3-byte key and KB
    cache.set('hot', KB);
    cache.get('hot'); // hot: two accesses (its write and a read)
    // One read of a new key: its lookup misses and counts it, its write-back does not count again,
    // so it stays below the resident key and is refused (counted twice it would tie, and ties admit).
    expect(cache.get('new')).toBeUndefined();
    expect(cache.set('new', KB, undefined, true)).toBe(false);
    expect(cache.stats()).toMatchObject({ entries: 1, rejections: 1 });
    // A second read brings it level with the resident key: ties admit.
    expect(cache.get('new')).toBeUndefined();
    expect(cache.set('new', KB, undefined, true)).toBe(true);
    expect(cache.get('hot')).toBeUndefined();
  });

  it('ages frequencies, so yesterday\'s popularity fades', () => {
    const sketch = new FrequencySketch(4_096); // halves after 10 × 4,096 increments
    for (let i = 0; i < 12; i++) sketch.increment('popular');
    expect(sketch.estimate('popular')).toBe(12);
    for (let i = 0; i < 40_960; i++) sketch.increment(`other-${i % 50}`);
    expect(sketch.estimate('popular')).toBeLessThanOrEqual(6);
  });
});

describe('L1 stats, delete and clear', () => {
  it('counts hits, misses, evictions, bytes and entries', () => {
    const cache = new L1Cache({ maxBytes: 2 * 1_002 });
    cache.set('k1', KB);
    cache.set('k2', KB);
    cache.get('k1');
    cache.get('nope');
    cache.set('k3', KB); // evicts k2, the least recently used
    expect(cache.stats()).toEqual({ hits: 1, misses: 1, evictions: 1, rejections: 0, bytes: 2 * 1_002, entries: 2 });
  });

  it('reports every removal but an overwrite to onRemove', () => {
    const removed: string[] = [];
    const t = clock();
    const cache = new L1Cache({ maxBytes: 2 * 1_002, ttlMs: 1_000, now: t.now, onRemove: (k) => removed.push(k) });
    cache.set('k1', KB);
    cache.set('k1', KB); // an overwrite: not a removal
    cache.set('k2', KB);
    cache.get('k3');
    cache.set('k3', KB); // as frequent as k1 now: evicts it
    cache.delete('k2');
    t.advance(1_000);
    cache.get('k3'); // expired
    cache.set('k4', KB);
    cache.clear();
    expect(removed).toEqual(['k1', 'k2', 'k3', 'k4']);
    expect(cache.stats()).toMatchObject({ bytes: 0, entries: 0 });
  });
});
