// Ids (shared/domain/ids.ts): 13 Crockford base-32 characters, time-sortable, carrying a logical shard.
// The module keeps a clock high-water mark and a sequence, so every test imports a fresh copy and
// mints at times it chooses.
import { describe, expect, it, vi } from 'vitest';

type Ids = typeof import('../../shared/domain/ids.js');

async function freshIds(): Promise<Ids> {
  vi.resetModules();
  return import('../../shared/domain/ids.js');
}

const EPOCH_MS = Date.UTC(2025, 0, 1);
const T = Date.UTC(2026, 4, 17, 12, 30, 0, 250);

describe('mintId', () => {
  it('mints 13-character ids matching ID_PATTERN on every logical shard', async () => {
    const { ID_PATTERN, isId, mintId } = await freshIds();
    for (let shard = 0; shard < 4096; shard++) {
      const id = mintId(shard, T + shard);
      expect(id).toHaveLength(13);
      expect(id, `shard ${shard}`).toMatch(ID_PATTERN);
      expect(isId(id)).toBe(true);
    }
  });

  it.each([0, 1, 4095])('embeds logical shard %i so that logicalShardOf recovers it', async (shard) => {
    const { logicalShardOf, mintId } = await freshIds();
    expect(logicalShardOf(mintId(shard))).toBe(shard);
    expect(logicalShardOf(mintId(shard, T))).toBe(shard);
  });

  it('recovers the logical shard of ids minted on every shard', async () => {
    const { logicalShardOf, mintId } = await freshIds();
    for (let shard = 0; shard < 4096; shard++) expect(logicalShardOf(mintId(shard, T))).toBe(shard);
  });

  it('sorts ids minted later after earlier ones, whatever their shards', async () => {
    const { mintId } = await freshIds();
    const minted: string[] = [];
    // Shards deliberately go from high to low as time advances: time must dominate the order.
    for (let i = 0; i < 500; i++) minted.push(mintId(4095 - ((i * 97) % 4096), T + i));
    for (let i = 1; i < minted.length; i++) expect(minted[i]! > minted[i - 1]!, `id ${i}`).toBe(true);
    const earlier = mintId(4095, T + 999);
    const later = mintId(0, T + 1000);
    expect(later > earlier).toBe(true);
  });

  it('mints unique, strictly increasing ids for a burst of 2,048 in one millisecond', async () => {
    const { mintId } = await freshIds();
    const burst = Array.from({ length: 2048 }, () => mintId(7, T));
    expect(new Set(burst).size).toBe(burst.length);
    for (let i = 1; i < burst.length; i++) expect(burst[i]! > burst[i - 1]!, `id ${i} after id ${i - 1}`).toBe(true);
  });

  it('keeps ids unique and increasing beyond 2,048 in one millisecond (a clock stepped back pins it)', async () => {
    const { mintId } = await freshIds();
    mintId(7, T + 5_000); // the clock was ahead; it now reads 5 s earlier, so every mint lands on T + 5 s
    const burst = Array.from({ length: 5_000 }, (_, i) => mintId(7, T + i));
    expect(new Set(burst).size).toBe(burst.length);
    for (let i = 1; i < burst.length; i++) expect(burst[i]! > burst[i - 1]!, `id ${i} after id ${i - 1}`).toBe(true);
  });

  it('never goes back in time when the clock does', async () => {
    const { mintId, timestampOf } = await freshIds();
    const first = mintId(3, T);
    const second = mintId(3, T - 60_000);
    expect(timestampOf(first)).toBe(T);
    expect(timestampOf(second)).toBe(T);
  });

  it.each([-1, 4096, 1.5, Number.NaN])('rejects logical shard %s', async (shard) => {
    const { mintId } = await freshIds();
    expect(() => mintId(shard, T)).toThrow(RangeError);
  });

  it('still mints valid ids at the end of the documented 41-bit range (2094)', async () => {
    const { ID_PATTERN, logicalShardOf, mintId, timestampOf } = await freshIds();
    for (const t of [Date.UTC(2059, 10, 1), Date.UTC(2060, 0, 1), Date.UTC(2094, 0, 1)]) {
      const id = mintId(4095, t);
      expect(id, new Date(t).toISOString()).toMatch(ID_PATTERN);
      expect(logicalShardOf(id)).toBe(4095);
      expect(timestampOf(id)).toBe(t);
    }
  });
});

describe('timestampOf', () => {
  it('returns the millisecond an id was minted at', async () => {
    const { mintId, timestampOf } = await freshIds();
    for (const t of [EPOCH_MS, EPOCH_MS + 1, T, T + 1, Date.UTC(2040, 1, 29, 23, 59, 59, 999)]) {
      for (const shard of [0, 2048, 4095]) expect(timestampOf(mintId(shard, t))).toBe(t);
    }
  });

  it('refuses strings that are not ids', async () => {
    const { logicalShardOf, timestampOf } = await freshIds();
    for (const bad of ['', 'abc', '0B4WQ9Y8X200', '0B4WQ9Y8X2001X', '0B4WQ9Y8X200U', '0b4wq9y8x2001']) {
      expect(() => timestampOf(bad), bad).toThrow(RangeError);
      expect(() => logicalShardOf(bad), bad).toThrow(RangeError);
    }
  });
});

describe('minIdAt', () => {
  it('is at most any id minted at that millisecond, and above every id of the millisecond before', async () => {
    const { minIdAt, mintId } = await freshIds();
    const before = [0, 1, 4095].map((s) => mintId(s, T - 1));
    const at = [0, 1, 2048, 4095].map((s) => mintId(s, T));
    const bound = minIdAt(T);
    for (const id of at) expect(bound <= id, `${bound} <= ${id}`).toBe(true);
    for (const id of before) expect(bound > id, `${bound} > ${id}`).toBe(true);
  });

  it('is itself a well-formed id at that millisecond on logical shard 0', async () => {
    const { ID_PATTERN, logicalShardOf, minIdAt, timestampOf } = await freshIds();
    const bound = minIdAt(T);
    expect(bound).toMatch(ID_PATTERN);
    expect(timestampOf(bound)).toBe(T);
    expect(logicalShardOf(bound)).toBe(0);
  });
});
