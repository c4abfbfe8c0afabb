// The residency table and the topology stacks/ deploys from it, checked offline: GDPR users' home
// data never replicates outside the EU, public content reaches every region, and each table set's
// users are minted, replicated and failed over inside their set.
import { describe, expect, it } from 'vitest';
import { EU_EEA_COUNTRIES, REGIONS, type RegionName } from '../../shared/domain/regions.js';
import {
  EU_REGIONS,
  logicalShardInSet,
  residencyProblems,
  servingRegion,
  setsServedBy,
  TABLE_SETS,
  tableSetFor,
  tableSetOfLogical,
  type TableSet,
} from '../../shared/domain/residency.js';
import { ENTITY_RESIDENCY, ROW_KINDS, tableSetOf } from '../../shared/declarations/row-kinds.js';
import { TABLES, type Entity } from '../../shared/declarations/tables.js';
import { buildPlan, networkTables, tableArgs } from '../../stacks/plan.js';
import { deployTarget } from '../../stacks/deploy-target.js';
import { registeredWorkflows } from '../../stacks/workflow-specs.js';

const ALL = REGIONS.map((r) => r.name);
const entities = Object.keys(TABLES) as Entity[];
const set = (name: string): TableSet => TABLE_SETS.find((s) => s.name === name)!;
const network = (regions: readonly RegionName[], shards = 32) => deployTarget(`dev-${regions[0]}`, { FEED_REGIONS: regions.join(','), FEED_SHARDS: String(shards) });

describe('table sets', () => {
  it('cover every logical shard once, each inside its home region, GDPR replicated only in the EU', () => {
    expect(residencyProblems()).toEqual([]);
  });

  it('report a GDPR set that would replicate outside the EU, and a gap in the ranges', () => {
    const leaky = TABLE_SETS.map((s) => (s.zone === 'eu-gdpr' ? { ...s, replicas: [...s.replicas, 'us-east-1' as const] } : s));
    expect(residencyProblems(leaky).join('\n')).toMatch(/GDPR\) replicates to us-east-1/);
    expect(residencyProblems(TABLE_SETS.slice(1)).join('\n')).toMatch(/starts at 1024, expected 0/);
  });

  it('mint EU/EEA users in the GDPR set and other European users in the set that may fail over', () => {
    for (const country of EU_EEA_COUNTRIES) expect(tableSetFor('eu-west-1', country).zone).toBe('eu-gdpr');
    for (const country of ['GB', 'CH', 'ua']) expect(tableSetFor('eu-west-1', country).zone).toBe('eu-other');
    expect(tableSetFor('us-west-2', 'US').name).toBe('us-west-2');
    for (const seed of ['a', 'b', 'c', 'd']) {
      const logical = logicalShardInSet(set('eu-west-1-gdpr'), seed);
      expect(tableSetOfLogical(logical).zone).toBe('eu-gdpr');
    }
  });

  it('fail over inside the set: US East to US West, GDPR nowhere', () => {
    const down = new Set<RegionName>(['us-east-1']);
    expect(servingRegion(set('us-east-1'), down)).toBe('us-west-2');
    expect(servingRegion(set('eu-west-1-other'), new Set(['eu-west-1']))).toBe('us-east-1');
    expect(servingRegion(set('eu-west-1-gdpr'), new Set(['eu-west-1']))).toBeUndefined();
    expect(setsServedBy('us-west-2', down).map((s) => s.name).sort()).toEqual(['us-east-1', 'us-west-2']);
    expect(setsServedBy('us-east-1', down)).toEqual([]);
  });
});

describe('row kinds', () => {
  it('live in an entity whose tables replicate as the row needs, or name their gap', () => {
    for (const row of ROW_KINDS) {
      const fits = row.residency === 'regional' ? ENTITY_RESIDENCY[row.entity] === 'home' : ENTITY_RESIDENCY[row.entity] === row.residency;
      if (!fits) expect(row.gap, row.key).toBeTruthy();
    }
    for (const e of entities) expect(ROW_KINDS.some((r) => r.entity === e), e).toBe(true);
  });
});

describe('the deployed topology', () => {
  it('never replicates a GDPR set’s home-data table outside the EU, at any shard count', () => {
    for (const shards of [16, 32, 64]) {
      for (const t of networkTables(network(ALL, shards))) {
        if (t.tableSet === 'eu-west-1-gdpr' && ENTITY_RESIDENCY[t.entity] === 'home') {
          for (const r of t.regions) expect(EU_REGIONS.has(r), `${t.name} in ${r}`).toBe(true);
        }
      }
    }
  });

  it('gives every region a replica of every public table, and every home table a replica in each of its set’s regions', () => {
    for (const t of networkTables(network(ALL))) {
      if (ENTITY_RESIDENCY[t.entity] === 'public') expect([...t.regions].sort()).toEqual([...ALL].sort());
      else expect([...t.regions].sort()).toEqual([...set(t.tableSet).replicas].sort());
    }
  });

  it('creates each replicated table once, in its set’s home region, with Global Table replicas in the other holders', () => {
    const target = network(ALL);
    const created = ALL.flatMap((region) => buildPlan(deployTarget(`dev-${region}`, { FEED_REGIONS: ALL.join(',') }), registeredWorkflows({})).tables.map((t) => ({ region, t })));
    const holders = new Map(networkTables(target).map((t) => [t.name, t.regions]));
    for (const { region, t } of created) {
      const held = holders.get(t.name)!;
      if (held.includes(region)) {
        expect(region, t.name).toBe(held[0]);
        expect(region).toBe(tableSetOf(t.shard, target.shards).home);
        expect(tableArgs(t).replicas.map((r) => r.regionName)).toEqual(held.slice(1));
      } else {
        // A region's own copy of a table it holds no replica of: never replicated anywhere.
        expect(t.replicas, `${t.name} in ${region}`).toEqual([]);
      }
    }
    // Every region has every table name: its own, a replica, or its own copy.
    for (const region of ALL) {
      const names = new Set(created.filter((c) => c.region === region).map((c) => c.t.name));
      for (const [name, held] of holders) expect(names.has(name) || (held.includes(region) && held[0] !== region), `${name} in ${region}`).toBe(true);
    }
  });

  it('replicates only among the network’s regions: a US-only network holds no GDPR table', () => {
    const us = networkTables(network(['us-east-1', 'us-west-2']));
    for (const t of us) {
      for (const r of t.regions) expect(['us-east-1', 'us-west-2']).toContain(r);
      if (t.tableSet === 'eu-west-1-gdpr' && ENTITY_RESIDENCY[t.entity] === 'home') expect(t.regions).toEqual([]);
    }
  });

  it('shares one table name across the regions of a network', () => {
    expect(deployTarget('prod-eu-west-1', { FEED_REGIONS: 'eu-west-1,us-east-1' }).tablePrefix).toBe('feedscale-prod-');
    expect(deployTarget('prod-us-east-1', { FEED_REGIONS: 'eu-west-1,us-east-1' }).tablePrefix).toBe('feedscale-prod-');
  });

  it('refuses a region outside the six, or a network without the stage’s region, naming it', () => {
    expect(() => deployTarget('dev-us-east-1', { FEED_REGIONS: 'us-east-1,mars-1' })).toThrow(/FEED_REGIONS names mars-1/);
    expect(() => deployTarget('dev-us-east-1', { FEED_REGIONS: 'us-west-2' })).toThrow(/does not include this stage's region us-east-1/);
  });
});
