// `npm run bench [-- --quick] [--users N] [--seed S] ...`: boots a fresh local stack, loads a
// seeded power-law graph, measures every path against its baseline, prints one table and writes
// bench/results/<timestamp>.json and .svg. This entry only parses flags and sets the environment:
// the product's modules read configuration (and the logger its level) when first imported, so
// they are imported only after, through ./suite.ts.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ParseArgsConfig } from 'node:util';
import { readFlags, UsageError } from '../scripts/cli-flags.js';

export interface BenchOptions {
  quick: boolean;
  users: number;
  seed: number;
  exponent: number;
  zipf: number;
  postsPerUser: number;
  /** Repetitions of every measurement; the report shows their median. */
  reps: number;
  /** Length of one load run, ms. */
  runMs: number;
  concurrency: number[];
  /** Users whose pages are kept warm for the L1/L2 runs (the head of the Zipf distribution). */
  hotUsers: number;
  warmMs: number;
  /** Length of one run of the 100:1 Zipf mix (hit rates). */
  mixMs: number;
  /** Post-to-visible samples per repetition. */
  visibleSamples: number;
  /** Regular authors posting at once per fan-out throughput repetition. */
  fanoutAuthors: number;
  /** Jobs of 500 followers per writer-vs-raw repetition. */
  writerJobs: number;
  /** Authors probed per tier for writes per post. */
  tierAuthors: number;
  /** Run the CacheWarming and BatchedNotification workflows (not in --quick). */
  workflows: boolean;
  coldInitReps: number;
  /** Users taking part in the day of sessions (0: no day). */
  dayUsers: number;
  /** Wall time of the simulated day, ms. */
  dayMs: number;
  /** Share of the day's sessions replayed uncached. */
  dayUncachedShare: number;
  /** Readers whose cold first page is costed. */
  coldPageReaders: number;
  celebrityThreshold?: number;
  megaThreshold?: number;
  bundles: boolean;
  /** Run the multi-region section (three regions after the single-region stack; not in --quick). */
  regions: boolean;
  /** Run the resharding section (32 → 64 tables under load on a stack of its own; not in --quick). */
  reshard: boolean;
  outDir: string;
  /** Write V8 CPU profiles of the per-invocation probe's L1 and L2 reads here (--profile). */
  profileDir?: string;
}

const HELP = `usage: npm run bench [-- options]
  --quick                 a fast check (< 2 min): 1,500 users, 2 reps of shorter runs, no
                          CacheWarming/BatchedNotification runs
  --users N               users in the synthetic graph (default 10000; quick 1500)
  --seed S                seed of the graph and request mix (default 42)
  --exponent E            power-law exponent of follower counts (default 2.276, Kwak et al. 2010)
  --zipf S                Zipf exponent of feed reads over users by activity (default 1)
  --posts-per-user P      posts per user per month: the seeded month of history, and a thirtieth
                          of it posted during the day (default 3)
  --day-users N           users living the day of sessions, a uniform sample (default 3000;
                          quick 400; 0 = no day)
  --day-ms MS             wall time of the simulated day (default 75000; quick 20000)
  --reps R                repetitions per measurement, median reported (default 3; quick 2)
  --run-ms MS             length of one load run (default 2000; quick 400)
  --concurrency LIST      connections per sweep step (default 1,8,32; e.g. 1,8,32,128 for a saturated step too)
  --celebrity-threshold N / --mega-threshold N   override the thresholds scaled to the graph
  --no-bundles            skip handler bundle sizes and cold init
  --regions 0|1           the multi-region section: three local regions after the single-region
                          stack (replication lag, cross-region post-to-visible, failover, writes
                          lost across an outage; ~3 min) (default 1; quick 0)
  --reshard 0|1           the resharding section: feedctl reshard --to 64 on a stack of its own
                          under a steady workload (failed requests, lost writes, write pause,
                          time per million rows; ~5 min) (default 1; quick 0)
  --out DIR               results directory (default bench/results)
  --profile DIR           also write V8 CPU profiles of the handler's L1-hit and L2-hit reads
                          (invoked directly, as Lambda runs it) to DIR/l1.cpuprofile, l2.cpuprofile, and
                          of the stack through the first L1 and L2 runs at 32 connections
                          (DIR/gateway-l1.cpuprofile, gateway-l2.cpuprofile)`;

/** The flags and their kinds; every other flag is an error naming it. */
const FLAGS = {
  quick: { type: 'boolean' },
  users: { type: 'string' },
  seed: { type: 'string' },
  exponent: { type: 'string' },
  zipf: { type: 'string' },
  'posts-per-user': { type: 'string' },
  'day-users': { type: 'string' },
  'day-ms': { type: 'string' },
  reps: { type: 'string' },
  'run-ms': { type: 'string' },
  concurrency: { type: 'string' },
  'celebrity-threshold': { type: 'string' },
  'mega-threshold': { type: 'string' },
  'no-bundles': { type: 'boolean' },
  regions: { type: 'string' },
  reshard: { type: 'string' },
  out: { type: 'string' },
  profile: { type: 'string' },
  help: { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];


function parse(argv: string[]): BenchOptions {
  const flags = readFlags(argv, FLAGS);
  if (flags.help) {
    console.log(HELP);
    process.exit(0);
  }
  const quick = flags.quick === true;
  const num = (k: Exclude<keyof typeof FLAGS, 'quick' | 'no-bundles' | 'help'>, def: number, check: (n: number) => boolean = (n) => n > 0) => {
    const v = flags[k];
    if (v === undefined) return def;
    const n = Number(v);
    if (v === '' || !Number.isFinite(n) || !check(n)) throw new UsageError(`--${k} needs a valid number (got ${v})`);
    return n;
  };
  const optional = (k: 'celebrity-threshold' | 'mega-threshold') => (flags[k] !== undefined ? num(k, 0, (n) => Number.isInteger(n) && n >= 1) : undefined);
  // --quick stops at 32 connections, where its targets are read (L2 vs L1, the p95s): 128 would
  // add ~6 s for a peak that differs from 32's by the machine's noise.
  const concurrency = (flags.concurrency ?? '1,8,32').split(',').map(Number);
  if (concurrency.some((c) => !Number.isInteger(c) || c < 1 || c > 1024)) throw new UsageError('--concurrency takes integers 1..1024, comma-separated');
  const users = num('users', quick ? 1500 : 10_000, (n) => Number.isInteger(n) && n >= 100 && n <= 1_000_000);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  return {
    quick,
    users,
    seed: num('seed', 42, (n) => Number.isInteger(n) && n >= 0),
    exponent: num('exponent', 2.276, (n) => n > 2 && n < 5),
    zipf: num('zipf', 1, (n) => n >= 0 && n <= 3),
    postsPerUser: num('posts-per-user', 3, (n) => n > 0 && n <= 20),
    reps: num('reps', quick ? 2 : 3, (n) => Number.isInteger(n) && n >= 1 && n <= 15),
    runMs: num('run-ms', quick ? 400 : 2000, (n) => n >= 200 && n <= 60_000),
    concurrency,
    hotUsers: Math.min(quick ? 100 : 200, Math.floor(users / 4)),
    warmMs: quick ? 1500 : 4000,
    mixMs: quick ? 1000 : 4000,
    visibleSamples: quick ? 4 : 10,
    fanoutAuthors: quick ? 3 : 8,
    writerJobs: quick ? 1 : 4,
    tierAuthors: quick ? 1 : 3,
    workflows: !quick,
    coldInitReps: quick ? 1 : 2,
    dayUsers: Math.min(users, num('day-users', quick ? 400 : 3000, (n) => Number.isInteger(n) && n >= 0)),
    dayMs: num('day-ms', quick ? 20_000 : 75_000, (n) => n >= 5_000 && n <= 600_000),
    // The uncached replay costs ~3–4 DynamoDB requests per read on an engine that answers ~1k/s:
    // a sample keeps it to seconds, and a per-request mean needs no more.
    dayUncachedShare: quick ? 0.25 : 0.2,
    coldPageReaders: quick ? 40 : 150,
    celebrityThreshold: optional('celebrity-threshold'),
    megaThreshold: optional('mega-threshold'),
    bundles: flags['no-bundles'] !== true,
    regions: num('regions', quick ? 0 : 1, (n) => n === 0 || n === 1) === 1,
    reshard: num('reshard', quick ? 0 : 1, (n) => n === 0 || n === 1) === 1,
    outDir: path.resolve(flags.out ?? path.join(root, 'bench', 'results')),
    ...(flags.profile !== undefined && { profileDir: path.resolve(flags.profile) }),
  };
}

let opts: BenchOptions;
try {
  opts = parse(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  console.error(`bench: ${err.message} (npm run bench -- --help lists the flags)`);
  process.exit(2);
}

// A fresh stack of its own: never an engine from the caller's environment.
delete process.env.DYNAMODB_ENDPOINT;
delete process.env.REDIS_URL;
// Handlers log at ERROR during the run (the logger reads this at import); progress is ours.
process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

const { runBench } = await import('./suite.js');
const code = await runBench(opts).catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  return 1;
});
process.exit(code);
