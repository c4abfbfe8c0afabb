// What the benchmark's phases share: the options, the results being filled, the graph, progress
// logging, what the boot phases started (engine, stack, load generator, the readers' pools) and
// the closers the teardown runs. A phase is a named function over this context;
// bench/phases/index.ts lists them in order, and runPhases() runs that list.
import os from 'node:os';
import type { Engine } from '../shared/local/engines.js';
import type { Stack } from '../shared/local/stack.js';
import type { BuiltBundle } from './bundles.js';
import type { LoadGenerator } from './load.js';
import { machineSpeed } from './machine-speed.js';
import type { Pick, RunSpec } from './load-protocol.js';
import type { Results, RunMeasure } from './results.js';
import { RssSampler } from './rss.js';
import type { BenchOptions } from './run.js';
import type { Seeded } from './seed.js';
import type { describeGraph, Graph } from './workload.js';

/** The stack and the load generator once the boot phases have run, with the seeded users. */
export interface Live {
  stack: Stack;
  load: LoadGenerator;
  tokens: string[];
  userIds: string[];
  /** Users by read weight (Zipf), heaviest first; the hot set is its head, the cold pool the rest. */
  byReadWeight: number[];
  hot: number[];
  coldPool: number[];
  zipfAll: Pick;
  zipfHot: Pick;
  /** Enough responses for a p99 in a full run; in a quick one, enough to see the path at all. */
  minOk: number;
  /** A feed-read load run against the stack; every call takes the next seed. */
  spec: (p: Partial<RunSpec> & { pick: Pick }) => RunSpec;
  /** One load run with the DynamoDB reads and cache counters it cost, once its requests are done. */
  measure: (r: RunSpec) => Promise<RunMeasure>;
}

export interface BenchContext {
  o: BenchOptions;
  results: Results;
  began: number;
  log: (msg: string) => void;
  /** log(), at most every 2 s unless forced. */
  tick: (msg: string, force?: boolean) => void;
  rss: RssSampler;
  graph: Graph;
  described: ReturnType<typeof describeGraph>;
  /** Environment of the local stack (and of this process, which runs the handlers). */
  stackEnv: Record<string, string>;
  /** The stack's scratch directory (made once the engines are found; removed by the teardown). */
  dataDir: string;
  /** Handler bundles, built in the background from the start; undefined when off or failed. */
  bundles: Promise<BuiltBundle[] | undefined>;
  engine?: Engine;
  seeded?: Seeded;
  stack?: Stack;
  live?: Live;
  /** What the phases started (engines, servers, clients), closed by the teardown phase in
   *  reverse order: a phase that starts something pushes its closer here. */
  closers: (() => Promise<void> | void)[];
}

export interface Phase {
  name: string;
  run: (ctx: BenchContext) => Promise<void>;
  /** Run only when this holds (checked when the phase's turn comes). */
  when?: (ctx: BenchContext) => boolean | Promise<boolean>;
  /** A failure here leaves nothing to measure: the later phases are skipped, the teardown still
   *  runs, and the run fails. */
  critical?: boolean;
  /** Runs even after a critical failure (the teardown). */
  always?: boolean;
}

/** The stack and load generator, or an error naming the phase that needed them. */
export function live(ctx: BenchContext): Live {
  if (!ctx.live) throw new Error('the stack is not running');
  return ctx.live;
}

export function createContext(o: BenchOptions, graph: Graph, described: BenchContext['described']): BenchContext {
  const began = Date.now();
  const log = (msg: string) => console.log(`[${((Date.now() - began) / 1000).toFixed(1).padStart(6)} s] ${msg}`);
  let lastTick = 0;
  const tick = (msg: string, force = false) => {
    if (!force && Date.now() - lastTick < 2000) return;
    lastTick = Date.now();
    log(msg);
  };
  const results: Results = {
    meta: {
      startedAt: new Date(began).toISOString(),
      command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.replace(/ -- $/, ''),
      options: { ...o },
      machine: {
        cpus: os.cpus().length,
        model: os.cpus()[0]?.model ?? 'unknown',
        memoryGB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
        loadAvgStart: os.loadavg(),
        speedStart: machineSpeed(),
      },
      graph: { ...described },
    },
    sweep: {},
    rss: { peak: 0, maxRss: 0, peakByPhase: {}, engines: {} },
    errors: [],
  };
  const stackEnv = {
    FEED_LOCAL: '1',
    FEED_CELEBRITY_THRESHOLD: String(graph.thresholds.celebrity),
    FEED_MEGA_THRESHOLD: String(graph.thresholds.mega),
    // One notification window for the whole run: the digest workflow is run (and timed) on
    // purpose at the end, not by the schedule in the middle of a measurement.
    FEED_NOTIFICATION_WINDOW_SECONDS: '86400',
    // Likewise the CacheWarming schedule (every 15 min by default): run once, on purpose.
    FEED_WARM_INTERVAL_SECONDS: '86400',
    // The load's busiest synthetic users read far faster than a person: per-user rate limits
    // (shared/edge/rate-limit.ts) would measure 429s, not the feed.
    FEED_RATE_LIMITS: 'off',
  };
  const rss = new RssSampler();
  return { o, results, began, log, tick, rss, graph, described, stackEnv, dataDir: '', bundles: Promise.resolve(undefined), closers: [] };
}

/** Runs the phases in order. A failing phase is recorded and the next one runs; after a critical
 *  failure only the `always` phases run, and then the error is thrown. */
export async function runPhases(ctx: BenchContext, phases: readonly Phase[]): Promise<void> {
  let fatal: Error | undefined;
  for (const p of phases) {
    if (fatal && !p.always) continue;
    if (p.when && !(await p.when(ctx))) continue;
    ctx.rss.setPhase(p.name);
    const t = Date.now();
    try {
      await p.run(ctx);
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      ctx.results.errors.push({ phase: p.name, message });
      ctx.log(`${p.name}: FAILED — ${message}`);
      if (p.critical) fatal = err as Error;
    }
    ctx.log(`${p.name}: done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  if (fatal) throw fatal;
}

/** A figure for the progress log: fixed decimals, 'n/a' when not finite. */
export const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
