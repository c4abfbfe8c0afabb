// Configuration, read once at start-up from the environment, typed, with every default in one
// place. A missing or malformed value fails fast with the variable's name. The README lists each.
import * as z from 'zod';
import { REDIS_COMMAND_TIMEOUT_MS } from '../domain/limits.js';
import { REGIONS, type RegionName } from '../domain/regions.js';
import { parseCursorKeys, type CursorKey } from '../domain/cursor-keys.js';
import { CURSOR_SECRET_RESOURCE, linkedSecret } from './linked-secret.js';

const REGION_NAMES = new Set<string>(REGIONS.map((r) => r.name));
/** A comma-separated list of region names; an unknown name fails the start-up, named. */
const regionList = z.string().transform((value, ctx) => {
  const names = value.split(',').map((n) => n.trim()).filter(Boolean);
  for (const n of names) if (!REGION_NAMES.has(n)) ctx.addIssue({ code: 'custom', message: `${n} is not one of ${[...REGION_NAMES].join(', ')}` });
  return names as RegionName[];
});
const int = (def: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(def);

const schema = z.object({
  /** Physical shard tables per entity. A power of two from 16 to 4096, so that every physical
   *  table lies inside one region's logical range (see shared/domain/regions.ts). */
  FEED_SHARDS: int(32, 16, 4096).refine((n) => (n & (n - 1)) === 0, 'must be a power of two'),
  /** Prefix of every DynamoDB table name (stage-specific in AWS). */
  FEED_TABLE_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]*$/).default('feedscale-'),
  /** Posts of a followee copied into a new follower's feed. */
  FEED_FOLLOW_BACKFILL: int(100, 0, 800),
  /** Follower counts from which an author is a celebrity / mega-celebrity (fan-out tiers). */
  FEED_CELEBRITY_THRESHOLD: int(100_000, 1, 1e12),
  FEED_MEGA_THRESHOLD: int(10_000_000, 1, 1e12),
  /** Followers from which an account's in-edges are spread over several partition keys (README
   *  "Celebrity edges": 10,000 moves in seconds, and a burst reaching it spends at most ~20 s on
   *  one partition); 1e12 turns bucketing off. */
  FEED_EDGE_BUCKET_THRESHOLD: int(10_000, 1, 1e12),
  /** Grace of an edge layout move: longer than a layout cached by a process (5 s) plus the
   *  longest follow or unfollow request (10 s), so no write decided on the old layout lands late. */
  FEED_EDGE_MOVE_GRACE_SECONDS: z.coerce.number().min(0).max(900).default(30),
  /** A user's last activity is written at most once per this many seconds. */
  FEED_ACTIVITY_RESOLUTION_SECONDS: int(3600, 1, 86_400),
  /** Followers active within this many hours get a celebrity's posts pushed. */
  FEED_ACTIVE_WINDOW_HOURS: int(24, 1, 24 * 30),
  /** Inline Map concurrency of the CelebrityFanout workflow (Step Functions allows 40). */
  FEED_FANOUT_MAX_CONCURRENCY: int(10, 1, 40),
  /** How often the CacheWarming workflow runs (a 15-minute schedule in AWS). */
  FEED_WARM_INTERVAL_SECONDS: int(900, 1, 86_400),
  /** Length of a notification digest window. */
  FEED_NOTIFICATION_WINDOW_SECONDS: int(1800, 1, 86_400),
  /** Set by the deployment: the region this stage serves. A request for a user homed in another
   *  region's table set is answered 421 home_region with that region's API (shared/edge/network.ts). */
  FEED_REGION: z.enum(REGIONS.map((r) => r.name) as [RegionName, ...RegionName[]]).optional(),
  /** Set by the deployment: every region of the network (comma-separated), FEED_REGION among
   *  them. Unset: a network of FEED_REGION alone, which serves every table set itself. */
  FEED_REGIONS: regionList.optional(),
  /** Set by the deployment: each region's API base URL, `us-east-1=https://…,eu-west-1=https://…`:
   *  where a misdirected request is sent, and what the health probe of a region calls. */
  FEED_REGION_API_URLS: z.string().optional(),
  /** Set by the local multi-region stack only: the folder where each region publishes its API and
   *  DynamoDB endpoints (<dir>/<region>/stack.json), read instead of FEED_REGION_API_URLS. */
  FEED_LOCAL_REGIONS_DIR: z.string().optional(),
  /** Set by the local stack only: enables POST /v1/dev/token and local defaults for secrets. */
  FEED_LOCAL: z.enum(['0', '1']).default('0'),
  /** HS256 secret of tokens minted by the local stack's /v1/dev/token. */
  FEED_DEV_JWT_SECRET: z.string().min(16).optional(),
  /** JWT issuer and audience: checked by API Gateway in AWS and by the local server. */
  FEED_JWT_ISSUER: z.string().min(1).default('feedscale-local'),
  FEED_JWT_AUDIENCE: z.string().min(1).default('feedscale'),
  /** HMAC keys of pagination cursors: `kid1:secret1,kid0:secret0` (first signs, all verify) or
   *  one secret (key id k0). In AWS the linked sst.Secret FeedCursorSecret holds it instead;
   *  required outside the local stack. */
  FEED_CURSOR_SECRET: z.string().min(16).optional(),
  /** Redis of the L2 cache tier; unset: the tier is off and reads go to DynamoDB. */
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional().or(z.literal('').transform(() => undefined)),
  /** Timeout of every Redis command: a slower reply counts as a miss, so a slow Redis never
   *  slows reads (the test setup raises it, so results do not depend on the machine's load). */
  FEED_REDIS_TIMEOUT_MS: int(REDIS_COMMAND_TIMEOUT_MS, 1, 10_000),
  /** Byte budget of the in-process feed cache (L1) of each container. */
  FEED_L1_MAX_BYTES: int(64 * 1024 * 1024, 1024 * 1024, 1024 * 1024 * 1024),
  /** Per-user rate limits (shared/edge/rate-limit.ts): tokens per minute and burst of each
   *  bucket; the README's Limits table gives the reason for each default. */
  FEED_RATE_POST_PER_MINUTE: int(6, 1, 1e9),
  FEED_RATE_POST_BURST: int(20, 1, 1e9),
  FEED_RATE_FOLLOW_PER_MINUTE: int(20, 1, 1e9),
  FEED_RATE_FOLLOW_BURST: int(40, 1, 1e9),
  FEED_RATE_SIGNUP_PER_MINUTE: int(5, 1, 1e9),
  FEED_RATE_SIGNUP_BURST: int(5, 1, 1e9),
  FEED_RATE_VIP_PER_MINUTE: int(60, 1, 1e9),
  FEED_RATE_VIP_BURST: int(60, 1, 1e9),
  FEED_RATE_READ_PER_MINUTE: int(300, 1, 1e9),
  FEED_RATE_READ_BURST: int(100, 1, 1e9),
  /** Without Redis each container limits on its own, at the rates divided by this. */
  FEED_RATE_FALLBACK_DIVISOR: int(4, 1, 1000),
  /** `off` disables the per-user limits (benchmarks); API Gateway's throttling still applies. */
  FEED_RATE_LIMITS: z.enum(['on', 'off']).default('on'),
  /** Per-attempt DynamoDB request timeout; attempts are retried within the request's deadline. */
  FEED_DYNAMO_TIMEOUT_MS: int(3_000, 100, 60_000),
  /** How stale a process's copy of the shard map may be while nothing moves (README
   *  "Resharding"): a reshard waits this long after announcing itself before its first freeze. */
  FEED_SHARD_MAP_REFRESH_MS: int(5_000, 200, 60_000),
  /** DynamoDB endpoint override (DynamoDB Local, or any compatible endpoint). */
  DYNAMODB_ENDPOINT: z.string().url().optional(),
  /** Region of the AWS SDK clients (Lambda sets it). */
  AWS_REGION: z.string().default('us-east-1'),
});

export type Config = z.infer<typeof schema> & {
  isLocal: boolean;
  devJwtSecret: string;
  /** The cursor signing key's secret (cursorKeys[0]). */
  cursorSecret: string;
  /** Every cursor key, the signing one first (shared/domain/cursor-keys.ts). */
  cursorKeys: readonly CursorKey[];
};

const LOCAL_DEV_SECRET = 'feedscale-local-development-secret';

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration: ${problems.join('; ')}`);
  }
  const c = parsed.data;
  if (c.FEED_MEGA_THRESHOLD < c.FEED_CELEBRITY_THRESHOLD) {
    throw new Error('invalid configuration: FEED_MEGA_THRESHOLD must be at least FEED_CELEBRITY_THRESHOLD');
  }
  const isLocal = c.FEED_LOCAL === '1';
  const cursorKeys = loadCursorKeys(c.FEED_CURSOR_SECRET ?? linkedSecret(CURSOR_SECRET_RESOURCE, env) ?? (isLocal ? LOCAL_DEV_SECRET : undefined));
  return Object.freeze({
    ...c,
    isLocal,
    devJwtSecret: c.FEED_DEV_JWT_SECRET ?? LOCAL_DEV_SECRET,
    cursorSecret: cursorKeys[0]!.secret,
    cursorKeys,
  });
}

function loadCursorKeys(value: string | undefined): CursorKey[] {
  if (!value) throw new Error(`invalid configuration: FEED_CURSOR_SECRET (or the linked secret ${CURSOR_SECRET_RESOURCE}) is required`);
  try {
    return parseCursorKeys(value);
  } catch (err) {
    throw new Error(`invalid configuration: FEED_CURSOR_SECRET: ${(err as Error).message}`);
  }
}

let current: Config | undefined;
/** The process-wide configuration, read on first use. */
export function config(): Config {
  current ??= loadConfig();
  return current;
}
/** Re-reads the environment (the local stack and tests set variables before first use). */
export function resetConfig(): void {
  current = undefined;
}
