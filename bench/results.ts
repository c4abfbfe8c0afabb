// The shape of bench/results/<timestamp>.json: every measured figure with its raw runs, so the
// table, the chart and any later comparison read from one object.
import type { BundleResult } from './bundles.js';
import type { CpuTierResult } from './invoke-cpu.js';
import type { MachineSpeed } from './machine-speed.js';
import type { RunResult } from './load-protocol.js';
import type { EdgeBurstRun } from './phases/edges.js';
import type { RegionsResult } from './phases/regions.js';
import type { ReshardResult } from './phases/reshard.js';

export type ReadPath = 'l1' | 'l2' | 'cold' | 'bare';
export const READ_PATHS: ReadPath[] = ['l1', 'l2', 'cold', 'bare'];
export const PATH_LABEL: Record<ReadPath, string> = {
  l1: 'L1 hit',
  l2: 'L2 hit',
  cold: 'cold (DynamoDB)',
  bare: 'bare node:http',
};

/** One load run with what it cost the stack. */
export interface RunMeasure extends RunResult {
  /** DynamoDB read requests per HTTP request. */
  dbReads: number;
  /** Feed-cache counters over the run (absent when the cache is not wired). */
  cache?: CacheDelta;
}

export interface CacheDelta {
  lookups: number;
  l1Hits: number;
  l1Misses: number;
  l2Hits: number;
  l2Misses: number;
  generated: number;
  coalesced: number;
  /** Redis commands that failed or timed out (REDIS_COMMAND_TIMEOUT_MS), and calls the open
   *  breaker answered without Redis: each sends the read to DynamoDB instead. */
  l2Errors: number;
  l2ShortCircuited: number;
}

/** Median over repetitions of each figure. */
export interface RunSummary {
  p50: number;
  p95: number;
  p99: number;
  rps: number;
  dbReads: number;
  /** Share of reads served by the intended tier (L1 runs: L1 hits; L2 runs: L2 hits; cold runs:
   *  generated), from the cache counters. */
  purity?: number;
  /** Redis timeouts/failures and breaker short-circuits over all repetitions. */
  l2Errors?: number;
  l2ShortCircuited?: number;
  errors: number;
  runs: RunMeasure[];
}

export interface LoopSummary {
  opsPerSec: number;
  p50: number;
  p95: number;
  p99: number;
  runs: { opsPerSec: number; p50: number; p95: number; p99: number }[];
}

export interface TierProbe {
  author: string;
  followers: number;
  /** Followers whose activity index entry is live (what the celebrity workflow pushes to). */
  activeFollowers?: number;
  /** Feed entries written for the post (the fan-out writes). */
  feedWrites: number;
  /** Other items written by the time fan-out finished: the post, the author's activity, … */
  otherWrites: number;
  /** Followers whose notification the post queues (batched into digests, written afterwards). */
  notificationRecipients: number;
  /** Items plain push-to-all would write for the same post's fan-out (one per follower). */
  pushAllWrites: number;
  /** POST → fan-out done (queues empty, workflow finished), ms. */
  settleMs: number;
  workflowMs?: number;
}

/** A day of sessions, cached (bench/phases/day.ts). */
export interface DayResult {
  users: number;
  sessions: number;
  /** Simulated seconds per wall second. */
  scale: number;
  wallMs: number;
  feedRequests: number;
  firstPages: number;
  non2xx: number;
  posts: number;
  follows: number;
  /** Users whose last session before the day was within the reader TTL (the prologue). */
  priorReaders: number;
  /** The day's DynamoDB read requests by command and table (`Query Feeds`), feed reads and
   *  warming apart, largest first. */
  dbCommands?: { read: Record<string, number>; warm: Record<string, number> };
  /** Feed requests served from a cache tier (first pages and pages of a cached window), over every
   *  feed request of the day, a user's first included. */
  hitRate: number;
  firstPageHitRate: number;
  deeperHitRate: number;
  /** Users' first reads of the day, and the share of them that hit (warmed or kept). */
  firstOfDay: number;
  firstOfDayHitRate: number;
  l1Hits: number;
  l2Hits: number;
  generated: number;
  deeperHits: number;
  /** DynamoDB read requests of feed reads and of warming over the day. */
  dbRead: number;
  dbWarm: number;
  dbPerRequest: number;
  warmPerRequest: number;
  warmed: { onFanOut: number; scheduled: number; skipped: number };
  warmingRuns: number;
  /** How late sessions started against their compressed time (the machine keeping up). */
  lateP95Ms: number;
  lateMedianMs: number;
  /** Redis memory of the cached pages at the end of the day (the reader TTL's cost). */
  memory?: CacheMemory;
  /** L2 commands that failed (50 ms timeout on a loaded machine) or were short-circuited by the
   *  breaker: each is a miss, or a page not stored, that a quiet Redis would not have caused. */
  l2Errors?: number;
  l2ShortCircuited?: number;
}

/** Users with cached pages, their pages' bytes in Redis, and the server's used_memory. */
export interface CacheMemory {
  users: number;
  pageBytes: number;
  bytesPerUser: number;
  usedBytes: number;
}

export interface Results {
  meta: {
    startedAt: string;
    finishedAt?: string;
    durationMs?: number;
    command: string;
    options: Record<string, unknown>;
    machine: {
      cpus: number;
      model: string;
      memoryGB: number;
      node: string;
      platform: string;
      loadAvgStart: number[];
      loadAvgEnd?: number[];
      /** How fast the machine was at the start and the end of the run (bench/machine-speed.ts). */
      speedStart?: MachineSpeed;
      speedEnd?: MachineSpeed;
    };
    graph?: Record<string, unknown>;
    cacheWired?: boolean;
  };
  bundles?: BundleResult[];
  /** A follow burst on one account past FEED_EDGE_BUCKET_THRESHOLD, bucketing off then on. */
  edges?: { threshold: number; concurrency: number; runs: EdgeBurstRun[] };
  seeding?: {
    ms: number;
    items: Record<string, number>;
    itemsPerSec: number;
    posts: number;
    pushAllEntries: number;
  };
  /** DynamoDB Local GetItem at c=1 on the seeded data: the engine alone, then with the stack
   *  (stream pollers, queues) running idle beside it. */
  engine?: { alone: LoopSummary; withStack: LoopSummary };
  sweep: Partial<Record<ReadPath, Record<string, RunSummary>>>;
  /** CPU per feed-read invocation with the handler invoked directly, one at a time, as Lambda
   *  runs it (bench/invoke-cpu.ts): L1 hit, L2 hit, cold. */
  invocationCpu?: CpuTierResult[];
  mix?: {
    /** 1 − generated / lookups over the measured window. */
    hitRate: number;
    /** The same without first reads of users never read before in the run (steady state). */
    steadyHitRate: number;
    /** Share of the window's reads that were first reads. */
    firstReadShare: number;
    l1HitRate: number;
    l2HitRate: number;
    dbReadsPerRead: number;
    rps: number;
    p50: number;
    p95: number;
    p99: number;
    readWriteRatio: number;
    runs: RunMeasure[];
  };
  strategies?: Record<'hybrid' | 'push' | 'pull', RunSummary> & { connections: number };
  writesPerPost?: { hybrid: number; push: number; pull: number; source: string };
  tiers?: Partial<Record<'regular' | 'celebrity' | 'mega', TierProbe[]>>;
  l2VsRaw?: { l2: LoopSummary; raw: LoopSummary; concurrency: number; valueBytes: number };
  visible?: { p50: number; p95: number; samples: number; timeouts: number; rounds: { p50: number; p95: number; samplesMs: number[] }[] };
  fanout?: { entriesPerSec: number; rounds: { entries: number; ms: number; entriesPerSec: number }[]; authors: number; followers: number };
  writer?: { writer: number; raw: number; ratio: number; entries: number; concurrency: number; rounds: { writer: number; raw: number }[] };
  workflows?: {
    celebrityFanout?: { executions: number; medianMs: number; pushes: number };
    batchedNotification?: { ms: number; status: string; digests: number; recipients?: number };
    cacheWarming?: { ms: number; status: string; pages: number };
  };
  day?: DayResult;
  /** A sample of the day's sessions (1 in `every`) replayed with both cache tiers off. */
  dayUncached?: { sessions: number; feedRequests: number; non2xx: number; dbPerRequest: number; wallMs: number; every: number };
  /** Three local regions after the single-region stack: replication, cross-region
   *  post-to-visible, failover, writes lost across an outage (bench/phases/regions.ts). */
  regions?: RegionsResult;
  /** feedctl reshard 32 → 64 under a steady HTTP workload on a stack of its own
   *  (bench/phases/reshard.ts). */
  reshard?: ReshardResult;
  /** DynamoDB requests of a cold first page, per reader, by whether their feed holds a page. */
  coldPage?: Record<'holdsPage' | 'short', { readers: number; mean: number; p50: number; max: number }> & {
    /** The requests, in order, of each read over the target when the feed held a page. */
    over?: string[];
    /** Re-reads of the shard map that fell inside the measured reads (the process's periodic
     *  GetItem of the control table, not the page's; not in the per-reader counts). */
    mapReads?: number;
  };
  rss: { peak: number; maxRss: number; peakByPhase: Record<string, number>; engines: Record<string, number> };
  errors: { phase: string; message: string }[];
}
