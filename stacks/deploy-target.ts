// Where a stage deploys: one AWS region per stage, taken from the stage name's suffix
// (`prod-eu-west-1`) or FEED_REGION and checked against shared/domain/regions.ts, plus the stage's
// production flag and its deploy-time settings. Pure (no Pulumi): sst.config.ts's app() and the
// unit tests call it; a bad setting stops the deploy with the variable's name.
import { loadConfig } from '../shared/edge/config.js';
import { LOGICAL_SHARDS, REGIONS, type RegionName } from '../shared/domain/regions.js';

export const APP_NAME = 'feedscale';
/** Non-production stages without a region suffix or FEED_REGION land in the primary region. */
export const DEFAULT_REGION: RegionName = 'us-east-1';

/** `production`, `prod`, `prod-eu-west-1`, ...: data is retained, tables get PITR and deletion
 *  protection, and `sst remove` refuses to run. */
export function isProductionStage(stage: string): boolean {
  return stage === 'production' || stage.startsWith('prod');
}

export interface DnsSettings {
  /** The network hostname (`api.example.com`); each region also answers `<region>.<domain>`. */
  domain: string;
  /** The Route 53 public hosted zone holding `domain` (created outside feedscale). */
  zoneId: string;
}

export interface JwtSettings {
  issuer: string;
  audiences: string[];
}

export interface DeployTarget {
  app: string;
  stage: string;
  region: RegionName;
  /** Every region of the network this stage belongs to (FEED_REGIONS; default: this region
   *  alone). Tables replicate only among these, as shared/declarations/row-kinds.ts allows. */
  regions: RegionName[];
  /** The stage without its region suffix: the name every region of one network shares, so a
   *  table and its replicas carry one name. */
  network: string;
  production: boolean;
  /** Physical shard tables per entity of the initial layout (FEED_SHARDS, validated as the app
   *  validates it): what every function's FEED_SHARDS says and the shard map starts from. */
  shards: number;
  /** Tables per entity the stage provisions (FEED_SHARD_TABLES; default `shards`): the initial
   *  ones plus those `feedctl reshard --to N` grows into, so a reshard finds them deployed. */
  shardTables: number;
  /** FEED_TABLE_PREFIX of every function (`<app>-<network>-`): table names equal
   *  shared/declarations/tables.ts tableName(), in every region of the network. */
  tablePrefix: string;
  /** An external OIDC issuer; undefined → the stage creates a Cognito user pool. */
  jwt: JwtSettings | undefined;
  /** Subscribed to the alarm topic when set. */
  alarmEmail: string | undefined;
  /** Route 53 routing in front of the regional APIs (FEED_API_DOMAIN, FEED_DNS_ZONE_ID);
   *  undefined: no DNS is created and each region answers on its execute-api URL. */
  dns: DnsSettings | undefined;
  /** The product's tunables (FEED_* variables of shared/edge/config.ts) set in the deploy
   *  environment, validated here and passed to every function, so the code deployed runs with
   *  the values the deployment (ASL, schedules) was built from. */
  settings: Record<string, string>;
}

/** FEED_* variables that describe the deployment itself rather than tune the product: set by
 *  the stacks (prefix, shards, region, JWT, secret) or meaningless in AWS (local-only). */
const NOT_SETTINGS = new Set([
  'FEED_REGION',
  'FEED_REGIONS',
  'FEED_SHARDS',
  'FEED_SHARD_TABLES',
  'FEED_TABLE_PREFIX',
  'FEED_JWT_ISSUER',
  'FEED_JWT_AUDIENCE',
  'FEED_CURSOR_SECRET',
  'FEED_DEV_JWT_SECRET',
  'FEED_LOCAL',
  'FEED_ALARM_EMAIL',
  'FEED_SFN_ENDPOINT',
  'FEED_API_DOMAIN',
  'FEED_DNS_ZONE_ID',
]);

type Env = Record<string, string | undefined>;

function regionFromStage(stage: string): RegionName | undefined {
  return REGIONS.find((r) => stage === r.name || stage.endsWith(`-${r.name}`))?.name;
}

function isRegion(name: string): name is RegionName {
  return REGIONS.some((r) => r.name === name);
}

export function deployTarget(stage: string, env: Env = process.env): DeployTarget {
  const fail = (message: string): never => {
    throw new Error(`feedscale deploy (stage ${stage}): ${message}`);
  };
  const production = isProductionStage(stage);
  const fromStage = regionFromStage(stage);
  const fromEnv = env.FEED_REGION || undefined;
  if (fromEnv !== undefined && !isRegion(fromEnv)) {
    fail(`FEED_REGION=${fromEnv} is not one of ${REGIONS.map((r) => r.name).join(', ')}`);
  }
  if (fromStage && fromEnv && fromStage !== fromEnv) fail(`stage names ${fromStage} but FEED_REGION=${fromEnv}`);
  // A production deploy to a region nobody named would put user data in the wrong place.
  if (production && !fromStage && !fromEnv) fail('production stages name their region: --stage prod-<region> or FEED_REGION');
  const region = (fromStage ?? fromEnv ?? DEFAULT_REGION) as RegionName;

  const regions = networkRegions(env.FEED_REGIONS, region, fail);
  const network = fromStage && stage !== fromStage ? stage.slice(0, -(fromStage.length + 1)) : stage;
  const tablePrefix = `${APP_NAME}-${network}-`;
  const settings = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[0].startsWith('FEED_') && !NOT_SETTINGS.has(e[0]) && !!e[1]),
  );
  let shards = 0;
  try {
    shards = loadConfig({ ...settings, FEED_LOCAL: '1', FEED_SHARDS: env.FEED_SHARDS, FEED_TABLE_PREFIX: tablePrefix }).FEED_SHARDS;
  } catch (err) {
    fail((err as Error).message);
  }

  // Digits only: Number() would also take `0x40` or `6.4e1`, which no operator means.
  const shardTables = !env.FEED_SHARD_TABLES ? shards : /^\d+$/.test(env.FEED_SHARD_TABLES) ? Number(env.FEED_SHARD_TABLES) : NaN;
  const badTables = shardTablesProblem(shardTables, shards);
  if (badTables) fail(`FEED_SHARD_TABLES=${env.FEED_SHARD_TABLES} ${badTables}`);

  const issuer = env.FEED_JWT_ISSUER || undefined;
  const audience = env.FEED_JWT_AUDIENCE || undefined;
  if (!issuer !== !audience) fail('set both FEED_JWT_ISSUER and FEED_JWT_AUDIENCE, or neither (a Cognito user pool is created)');
  // API Gateway's JWT authorizer fetches the issuer's discovery document over HTTPS.
  if (issuer && !/^https:\/\/\S+$/.test(issuer)) fail(`FEED_JWT_ISSUER must be an https:// URL, got ${issuer}`);
  const jwt = issuer && audience ? { issuer, audiences: audience.split(',').map((a) => a.trim()).filter(Boolean) } : undefined;

  const alarmEmail = env.FEED_ALARM_EMAIL || undefined;
  if (alarmEmail && !/^[^@\s]+@[^@\s]+$/.test(alarmEmail)) fail(`FEED_ALARM_EMAIL is not an email address: ${alarmEmail}`);

  const dns = dnsSettings(env, fail);

  return { app: APP_NAME, stage, region, regions, network, production, shards, shardTables, tablePrefix, jwt, alarmEmail, dns, settings };
}

/** One table per logical shard at most: a table below that holds no whole logical shard. */
export const SHARD_TABLES_MAX = LOGICAL_SHARDS;

/** Why a count of provisioned tables per entity cannot serve a reshard from `shards` tables
 *  (undefined: it can). Reshards double the tables, so only powers of two from `shards` up are
 *  table counts a shard map can reach. */
export function shardTablesProblem(shardTables: number, shards: number): string | undefined {
  const powerOfTwo = Number.isInteger(shardTables) && shardTables > 0 && (shardTables & (shardTables - 1)) === 0;
  if (!powerOfTwo || shardTables < shards || shardTables > SHARD_TABLES_MAX) {
    return `must be a power of two from FEED_SHARDS (${shards}) to ${SHARD_TABLES_MAX}`;
  }
  return undefined;
}

/** A DNS name of 2+ labels, lower case, as Route 53 and ACM take it. */
const HOSTNAME = /^(?=.{4,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
/** Route 53 hosted zone ids: `Z` followed by upper-case letters and digits. */
const ZONE_ID = /^Z[A-Z0-9]{1,31}$/;

/** FEED_API_DOMAIN and FEED_DNS_ZONE_ID: both (routing is created) or neither (none is). */
function dnsSettings(env: Env, fail: (message: string) => never): DnsSettings | undefined {
  const domain = env.FEED_API_DOMAIN || undefined;
  const zoneId = env.FEED_DNS_ZONE_ID || undefined;
  if (!domain !== !zoneId) fail('set both FEED_API_DOMAIN and FEED_DNS_ZONE_ID, or neither (no DNS is created)');
  if (!domain || !zoneId) return undefined;
  if (!HOSTNAME.test(domain)) fail(`FEED_API_DOMAIN is not a lower-case DNS name: ${domain}`);
  if (!ZONE_ID.test(zoneId)) fail(`FEED_DNS_ZONE_ID is not a Route 53 hosted zone id (Z...): ${zoneId}`);
  return { domain, zoneId };
}

/** FEED_REGIONS: comma-separated region names, the deploying region among them. */
function networkRegions(value: string | undefined, region: RegionName, fail: (message: string) => never): RegionName[] {
  if (!value) return [region];
  const names = value.split(',').map((n) => n.trim()).filter(Boolean);
  for (const n of names) if (!isRegion(n)) fail(`FEED_REGIONS names ${n}, which is not one of ${REGIONS.map((r) => r.name).join(', ')}`);
  if (!names.includes(region)) fail(`FEED_REGIONS=${value} does not include this stage's region ${region}`);
  return REGIONS.map((r) => r.name).filter((n) => names.includes(n));
}
