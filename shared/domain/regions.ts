// The six regions of the design, each owning a fixed range of the 4,096 logical shards, and the
// country → home-region table. A user's rows live on a logical shard of their home region, so an
// EU/EEA user's data is only ever written to eu-west-1's tables. stacks/ deploys from this module.
import murmurhash from 'murmurhash';

export const LOGICAL_SHARDS = 4096;

export type RegionName =
  | 'us-east-1'
  | 'us-west-2'
  | 'eu-west-1'
  | 'ap-southeast-1'
  | 'sa-east-1'
  | 'me-central-1';

export interface RegionSpec {
  name: RegionName;
  /** Inclusive range of logical shards. Boundaries are multiples of 256, so with 16 or more
   *  physical tables (a power of two) no physical table spans two regions. */
  logical: readonly [number, number];
  label: string;
}

/** Ranges follow the design card's split of 32 tables (0-7, 8-15, 16-23, 24-27, 28-29, 30-31). */
export const REGIONS: readonly RegionSpec[] = [
  { name: 'us-east-1', logical: [0, 1023], label: 'US East (primary)' },
  { name: 'us-west-2', logical: [1024, 2047], label: 'US West' },
  { name: 'eu-west-1', logical: [2048, 3071], label: 'EU (GDPR)' },
  { name: 'ap-southeast-1', logical: [3072, 3583], label: 'Asia Pacific' },
  { name: 'sa-east-1', logical: [3584, 3839], label: 'South America' },
  { name: 'me-central-1', logical: [3840, 4095], label: 'Africa / Middle East' },
];

const EU_EEA = 'AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO';
const OTHER_EUROPE =
  'GB CH AD MC SM VA GI IM JE GG FO AX GL SJ AL BA ME MK RS XK MD UA BY RU TR GE AM AZ';
const NORTH_AMERICA =
  'US CA MX GT BZ SV HN NI CR PA CU DO HT JM BS BB TT AG DM GD KN LC VC AI AW BM BQ CW KY MF MS PM PR SX TC VG VI BL GP MQ UM';
const SOUTH_AMERICA = 'AR BO BR CL CO EC GY PY PE SR UY VE FK GF GS';
const ASIA_PACIFIC =
  'CN HK MO TW JP KR KP MN IN PK BD LK NP BT MV AF SG MY ID TH VN PH KH LA MM BN TL AU NZ PG FJ SB VU NC PF WS TO TV KI NR MH FM PW CK NU TK WF AS GU MP NF CX CC IO HM PN KZ KG TJ TM UZ';
const AFRICA_MIDDLE_EAST =
  'AE SA QA BH KW OM YE IQ IR IL PS JO LB SY EG LY TN DZ MA EH MR ML NE TD SD SS ER DJ ET SO KE UG RW BI TZ MZ MW ZM ZW BW NA ZA LS SZ AO CD CG GA GQ CM CF NG BJ TG GH CI LR SL GN GW SN GM CV ST MG MU SC KM RE YT SH BF TF BV AQ';

const table = new Map<string, readonly RegionName[]>();
const assign = (codes: string, regions: readonly RegionName[]) => {
  for (const code of codes.split(' ')) table.set(code, regions);
};
assign(EU_EEA, ['eu-west-1']);
assign(OTHER_EUROPE, ['eu-west-1']);
// North America is served by two regions; a user's region is picked by hash, as residency allows.
assign(NORTH_AMERICA, ['us-east-1', 'us-west-2']);
assign(SOUTH_AMERICA, ['sa-east-1']);
assign(ASIA_PACIFIC, ['ap-southeast-1']);
assign(AFRICA_MIDDLE_EAST, ['me-central-1']);

export const EU_EEA_COUNTRIES: ReadonlySet<string> = new Set(EU_EEA.split(' '));

export function regionSpec(name: RegionName): RegionSpec {
  const spec = REGIONS.find((r) => r.name === name);
  if (!spec) throw new Error(`unknown region ${name}`);
  return spec;
}

/** Home region of a user from their ISO 3166-1 alpha-2 country; `seed` spreads users of
 *  multi-region countries. Undefined for an unknown code. */
export function homeRegionOf(country: string, seed: string): RegionName | undefined {
  const regions = table.get(country.toUpperCase());
  if (!regions) return undefined;
  return regions[murmurhash.v3(seed) % regions.length];
}

/** A logical shard inside the region's range, chosen by MurmurHash3 of `seed`. */
export function logicalShardIn(region: RegionName, seed: string): number {
  const [lo, hi] = regionSpec(region).logical;
  return lo + (murmurhash.v3(seed, 0x5eed) % (hi - lo + 1));
}

/** The region that owns a logical shard. */
export function regionOfLogical(logical: number): RegionName {
  const spec = REGIONS.find((r) => logical >= r.logical[0] && logical <= r.logical[1]);
  if (!spec) throw new Error(`logical shard ${logical} out of range`);
  return spec.name;
}
