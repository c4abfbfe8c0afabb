// Shard routing (shared/domain/sharding.ts) and regions (shared/domain/regions.ts): logical shards map onto
// physical tables in contiguous ranges, growth splits ranges without moving rows between old
// tables, and a user's rows stay inside their home region's tables.
import { afterEach, describe, expect, it } from 'vitest';
import { resetConfig } from '../../shared/edge/config.js';
import { logicalShardOf, mintId } from '../../shared/domain/ids.js';
import {
  EU_EEA_COUNTRIES,
  LOGICAL_SHARDS,
  REGIONS,
  homeRegionOf,
  logicalShardIn,
  regionOfLogical,
  regionSpec,
  type RegionName,
} from '../../shared/domain/regions.js';
import { logicalRangeOf, physicalShard, shardOfId, shardOfKey } from '../../shared/domain/sharding.js';

const TABLE_COUNTS = [16, 32, 64, 4096];
const seeds = (n: number, prefix = 'seed') => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

const savedShards = process.env.FEED_SHARDS;
afterEach(() => {
  if (savedShards === undefined) delete process.env.FEED_SHARDS;
  else process.env.FEED_SHARDS = savedShards;
  resetConfig();
});

function useShards(n: number): void {
  process.env.FEED_SHARDS = String(n);
  resetConfig();
}

describe('physicalShard', () => {
  it('maps the 4,096 logical shards onto 32 tables in contiguous ranges of 128', () => {
    for (let logical = 0; logical < LOGICAL_SHARDS; logical++) {
      expect(physicalShard(logical, 32), `logical ${logical}`).toBe(Math.floor(logical / 128));
    }
    for (let table = 0; table < 32; table++) expect(logicalRangeOf(table, 32)).toEqual([128 * table, 128 * table + 127]);
  });

  it('uses FEED_SHARDS (32 by default) when no table count is given', () => {
    delete process.env.FEED_SHARDS;
    resetConfig();
    expect(physicalShard(4095)).toBe(31);
    expect(logicalRangeOf(1)).toEqual([128, 255]);

    useShards(64);
    expect(physicalShard(4095)).toBe(63);
    expect(logicalRangeOf(1)).toEqual([64, 127]);
  });

  it('agrees with logicalRangeOf for every table count: each logical shard is in its table’s range', () => {
    for (const shards of TABLE_COUNTS) {
      const held = new Map<number, number>();
      for (let logical = 0; logical < LOGICAL_SHARDS; logical++) {
        const table = physicalShard(logical, shards);
        const [lo, hi] = logicalRangeOf(table, shards);
        expect(logical >= lo && logical <= hi, `${shards} tables, logical ${logical} on table ${table}`).toBe(true);
        held.set(table, (held.get(table) ?? 0) + 1);
      }
      expect(held.size).toBe(shards);
      for (const count of held.values()) expect(count).toBe(LOGICAL_SHARDS / shards);
    }
  });

  it('splits each range when doubling 32 → 64 tables: new table 2k or 2k+1 holds only shards of old table k', () => {
    for (let logical = 0; logical < LOGICAL_SHARDS; logical++) {
      const oldTable = physicalShard(logical, 32);
      const newTable = physicalShard(logical, 64);
      expect([2 * oldTable, 2 * oldTable + 1], `logical ${logical}`).toContain(newTable);
    }
    for (let k = 0; k < 32; k++) {
      const [lo, hi] = logicalRangeOf(k, 32);
      expect([logicalRangeOf(2 * k, 64)[0], logicalRangeOf(2 * k + 1, 64)[1]]).toEqual([lo, hi]);
    }
  });
});

describe('regions', () => {
  it('cover the logical shards 0..4095 without gap or overlap', () => {
    const sorted = [...REGIONS].sort((a, b) => a.logical[0] - b.logical[0]);
    expect(sorted[0]!.logical[0]).toBe(0);
    expect(sorted[sorted.length - 1]!.logical[1]).toBe(LOGICAL_SHARDS - 1);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.logical[0]).toBe(sorted[i - 1]!.logical[1] + 1);
  });

  it.each(TABLE_COUNTS)('place every one of %i physical tables in exactly one region', (shards) => {
    for (let table = 0; table < shards; table++) {
      const [lo, hi] = logicalRangeOf(table, shards);
      const owners = REGIONS.filter((r) => !(hi < r.logical[0] || lo > r.logical[1]));
      expect(owners.map((r) => r.name), `${shards} tables, table ${table}`).toHaveLength(1);
      expect(regionOfLogical(lo)).toBe(regionOfLogical(hi));
    }
  });

  it('give the design card’s table split with 32 tables', () => {
    const tablesOf = (name: RegionName) => {
      const [lo, hi] = regionSpec(name).logical;
      return [physicalShard(lo, 32), physicalShard(hi, 32)];
    };
    expect(tablesOf('us-east-1')).toEqual([0, 7]);
    expect(tablesOf('us-west-2')).toEqual([8, 15]);
    expect(tablesOf('eu-west-1')).toEqual([16, 23]);
    expect(tablesOf('ap-southeast-1')).toEqual([24, 27]);
    expect(tablesOf('sa-east-1')).toEqual([28, 29]);
    expect(tablesOf('me-central-1')).toEqual([30, 31]);
  });

  it('give each of the 30 EU/EEA countries the home region eu-west-1, whatever the seed', () => {
    expect(EU_EEA_COUNTRIES.size).toBe(30);
    for (const country of EU_EEA_COUNTRIES) {
      for (const seed of seeds(20)) expect(homeRegionOf(country, seed), `${country} ${seed}`).toBe('eu-west-1');
      expect(homeRegionOf(country.toLowerCase(), 'x')).toBe('eu-west-1');
    }
  });

  it('keep users minted on an eu-west-1 logical shard on tables inside eu-west-1’s range', () => {
    const [euLo, euHi] = regionSpec('eu-west-1').logical;
    for (const shards of TABLE_COUNTS) {
      useShards(shards);
      for (const seed of seeds(500, `eu-${shards}`)) {
        const logical = logicalShardIn('eu-west-1', seed);
        expect(logical >= euLo && logical <= euHi, `logical ${logical}`).toBe(true);
        const userId = mintId(logical);
        expect(logicalShardOf(userId)).toBe(logical);
        const [lo, hi] = logicalRangeOf(shardOfId(userId));
        expect(lo >= euLo && hi <= euHi, `${shards} tables: ${seed} on table ${shardOfId(userId)} [${lo}, ${hi}]`).toBe(true);
      }
    }
  });

  it('draw a region’s logical shards across its whole range', () => {
    for (const region of REGIONS) {
      const drawn = new Set(seeds(4000).map((s) => logicalShardIn(region.name, s)));
      for (const l of drawn) expect(l >= region.logical[0] && l <= region.logical[1]).toBe(true);
      // 4,000 draws over at most 1,024 shards touch nearly all of them.
      expect(drawn.size).toBeGreaterThan((region.logical[1] - region.logical[0] + 1) * 0.9);
    }
  });

  it('spread US users over us-east-1 and us-west-2', () => {
    const counts = new Map<string, number>();
    for (const seed of seeds(1000)) {
      const region = homeRegionOf('US', seed)!;
      counts.set(region, (counts.get(region) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['us-east-1', 'us-west-2']);
    for (const n of counts.values()) expect(n).toBeGreaterThan(350);
  });

  it('send other continents to their region', () => {
    expect(homeRegionOf('GB', 'x')).toBe('eu-west-1');
    expect(homeRegionOf('BR', 'x')).toBe('sa-east-1');
    expect(homeRegionOf('JP', 'x')).toBe('ap-southeast-1');
    expect(homeRegionOf('NG', 'x')).toBe('me-central-1');
  });

  it('know no region for an unknown country code', () => {
    for (const code of ['ZZ', 'XX', '', 'USA', 'E', '12']) expect(homeRegionOf(code, 'seed'), code).toBeUndefined();
  });

  it('name the owner of each logical shard and refuse shards outside 0..4095', () => {
    expect(regionOfLogical(0)).toBe('us-east-1');
    expect(regionOfLogical(2048)).toBe('eu-west-1');
    expect(regionOfLogical(4095)).toBe('me-central-1');
    expect(() => regionOfLogical(4096)).toThrow();
    expect(() => regionOfLogical(-1)).toThrow();
  });
});

describe('shardOfKey', () => {
  it('places the same key on the same table every time', () => {
    for (const key of ['handle#alice', 'sub#abc', '', 'handle#ünïcødé']) {
      for (const shards of TABLE_COUNTS) expect(shardOfKey(key, shards)).toBe(shardOfKey(key, shards));
    }
  });

  it('spreads keys over every table', () => {
    for (const shards of [16, 32, 64]) {
      const used = new Set(seeds(5000, 'handle#user').map((k) => shardOfKey(k, shards)));
      expect(used.size).toBe(shards);
      for (const s of used) expect(s >= 0 && s < shards).toBe(true);
    }
  });

  it('moves a key only into one of the two halves of its table when tables double', () => {
    for (const key of seeds(2000, 'handle#h')) {
      const k = shardOfKey(key, 32);
      expect([2 * k, 2 * k + 1]).toContain(shardOfKey(key, 64));
    }
  });
});
