// Residency zones and the table sets that enforce them. A user's private (home) data lives on a
// logical shard of their home region; which regions hold a copy of it is decided per contiguous
// range of logical shards (a "table set"), because DynamoDB Global Tables replicate whole tables,
// never chosen items. Public content replicates to every region. stacks/ and the local stack's
// replication read this module, so what deploys and what runs locally replicate the same way.
import murmurhash from 'murmurhash';
import { EU_EEA_COUNTRIES, REGIONS, regionSpec, type RegionName } from './regions.js';

export type ZoneName = 'us' | 'eu-gdpr' | 'eu-other' | 'apac' | 'sa' | 'me';

export interface TableSet {
  /** Names the set in table tags, logs and the README. */
  name: string;
  zone: ZoneName;
  /** The region whose compute serves the set's users while it is up. */
  home: RegionName;
  /** Inclusive logical shard range: whole physical tables with 16 or more tables (multiples of 256). */
  logical: readonly [number, number];
  /** Every region that holds a replica of the set's home-data tables, the home region first. */
  replicas: readonly RegionName[];
  /** The region that serves the set's users while the home region is down; undefined: none (GDPR
   *  data has no failover region outside the EU, and the EU zone has one region deployed). */
  failover: RegionName | undefined;
}

/**
 * The six regions' ranges (shared/domain/regions.ts), with eu-west-1's split in two: EU/EEA users
 * (GDPR) on 2048-2815, other European users on 2816-3071, whose data may fail over to us-east-1.
 * Single-region zones outside the EU fail over to the nearest US region (ap-southeast-1 →
 * us-west-2, sa-east-1 → us-east-1) and me-central-1 to eu-west-1: each such replica is the
 * residency decision an operator reviews here, in one table.
 */
export const TABLE_SETS: readonly TableSet[] = [
  { name: 'us-east-1', zone: 'us', home: 'us-east-1', logical: [0, 1023], replicas: ['us-east-1', 'us-west-2'], failover: 'us-west-2' },
  { name: 'us-west-2', zone: 'us', home: 'us-west-2', logical: [1024, 2047], replicas: ['us-west-2', 'us-east-1'], failover: 'us-east-1' },
  { name: 'eu-west-1-gdpr', zone: 'eu-gdpr', home: 'eu-west-1', logical: [2048, 2815], replicas: ['eu-west-1'], failover: undefined },
  { name: 'eu-west-1-other', zone: 'eu-other', home: 'eu-west-1', logical: [2816, 3071], replicas: ['eu-west-1', 'us-east-1'], failover: 'us-east-1' },
  { name: 'ap-southeast-1', zone: 'apac', home: 'ap-southeast-1', logical: [3072, 3583], replicas: ['ap-southeast-1', 'us-west-2'], failover: 'us-west-2' },
  { name: 'sa-east-1', zone: 'sa', home: 'sa-east-1', logical: [3584, 3839], replicas: ['sa-east-1', 'us-east-1'], failover: 'us-east-1' },
  { name: 'me-central-1', zone: 'me', home: 'me-central-1', logical: [3840, 4095], replicas: ['me-central-1', 'eu-west-1'], failover: 'eu-west-1' },
];

/** Regions inside the EU, where GDPR users' home data may be stored. */
export const EU_REGIONS: ReadonlySet<RegionName> = new Set(['eu-west-1']);

export function tableSetOfLogical(logical: number): TableSet {
  const set = TABLE_SETS.find((s) => logical >= s.logical[0] && logical <= s.logical[1]);
  if (!set) throw new RangeError(`logical shard ${logical} out of range`);
  return set;
}

/** A set by its name (as the directory's subject hints store it). */
export function tableSetByName(name: string): TableSet {
  const set = TABLE_SETS.find((s) => s.name === name);
  if (!set) throw new RangeError(`unknown table set ${name}`);
  return set;
}

/** The table set a new user's id is minted in: their home region's, split by GDPR in eu-west-1. */
export function tableSetFor(homeRegion: RegionName, country: string): TableSet {
  const sets = TABLE_SETS.filter((s) => s.home === homeRegion);
  if (sets.length === 1) return sets[0]!;
  const zone: ZoneName = EU_EEA_COUNTRIES.has(country.toUpperCase()) ? 'eu-gdpr' : 'eu-other';
  return sets.find((s) => s.zone === zone)!;
}

/** The table sets a region serves: its own while up, plus those it takes over for `down` regions. */
export function setsServedBy(region: RegionName, down: ReadonlySet<RegionName> = new Set()): TableSet[] {
  if (down.has(region)) return [];
  return TABLE_SETS.filter((s) => s.home === region || (down.has(s.home) && s.failover === region));
}

/** Where a set's users are served now: the home region, its failover region when the home is
 *  down, or undefined (home data unavailable: 503 region_unavailable). */
export function servingRegion(set: TableSet, down: ReadonlySet<RegionName>): RegionName | undefined {
  if (!down.has(set.home)) return set.home;
  if (set.failover && !down.has(set.failover)) return set.failover;
  return undefined;
}

/** Every region holds a replica of public content. */
export const PUBLIC_REPLICAS: readonly RegionName[] = REGIONS.map((r) => r.name);

/** Checks the table above against the regions' ranges: each set inside its home region's range,
 *  the sets covering every logical shard once, GDPR sets replicated only inside the EU. */
export function residencyProblems(sets: readonly TableSet[] = TABLE_SETS): string[] {
  const problems: string[] = [];
  const sorted = [...sets].sort((a, b) => a.logical[0] - b.logical[0]);
  let next = 0;
  for (const s of sorted) {
    if (s.logical[0] !== next) problems.push(`${s.name} starts at ${s.logical[0]}, expected ${next}`);
    next = s.logical[1] + 1;
    const [lo, hi] = regionSpec(s.home).logical;
    if (s.logical[0] < lo || s.logical[1] > hi) problems.push(`${s.name} lies outside ${s.home}'s range`);
    if (s.logical[0] % 256 !== 0 || (s.logical[1] + 1) % 256 !== 0) problems.push(`${s.name} does not cover whole tables of 16`);
    if (s.replicas[0] !== s.home) problems.push(`${s.name} lists ${s.replicas[0]} before its home region`);
    if (s.failover && !s.replicas.includes(s.failover)) problems.push(`${s.name} fails over to ${s.failover}, which holds no replica`);
    if (s.zone === 'eu-gdpr') {
      for (const r of s.replicas) if (!EU_REGIONS.has(r)) problems.push(`${s.name} (GDPR) replicates to ${r}, outside the EU`);
    }
  }
  if (next !== 4096) problems.push(`the sets end at ${next - 1}, not 4095`);
  return problems;
}

/** A logical shard of the set, chosen by MurmurHash3 of `seed` (spreads a set's users evenly). */
export function logicalShardInSet(set: TableSet, seed: string): number {
  const [lo, hi] = set.logical;
  return lo + (murmurhash.v3(seed, 0x5eed) % (hi - lo + 1));
}
