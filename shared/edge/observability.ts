// Logging and metrics for every handler, set up once: Powertools Logger (structured JSON, service
// name, cold-start flag, correlation id) and Powertools Metrics (CloudWatch EMF, namespace and
// service `feedscale`), both attached by the handler wrappers (api, sqsConsumer/streamConsumer,
// workflowTask). HTTP handlers take the API request id as correlation id; queue, stream and
// workflow handlers take the id carried in their input. Metrics also count into an in-process
// registry, which the local stack serves as its stats (`/feedscale/stats`).
import { Logger } from '@aws-lambda-powertools/logger';
import type { LogItemExtraInput, LogItemMessage } from '@aws-lambda-powertools/logger/types';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { currentInvocation, type Invocation } from './deadline.js';
import type { FeedSource } from '../services/home-feed.js';
import { FEED_READ_BATCH_MAX, FEED_READ_BATCH_MAX_AGE_MS } from '../domain/limits.js';

export const SERVICE_NAME = 'feedscale';
/** The EMF namespace of every application metric; the alarms in stacks/ read the same. */
export const METRICS_NAMESPACE = SERVICE_NAME;

/** The application metrics, named once: stacks/alarm-plan.ts alarms on some of them. Every one
 *  carries the dimension service=feedscale; those counted with more dimensions say which. */
export const METRIC = {
  /** Milliseconds per GET /v1/feed (any page). */
  feedLatency: 'FeedLatency',
  /** Per first-page feed read: 1 (served from a cache tier) or 0, so its average is the hit
   *  rate and its sample count the reads (an alarm still sees data when every read misses). */
  cacheHit: 'CacheHit',
  /** The same read by tier, 1 or 0: L1 (this container) on every read, L2 (Redis) when L1 missed. */
  l1Hit: 'L1Hit',
  l2Hit: 'L2Hit',
  /** Misses, counted in the in-process registry only (the local stack's stats): in EMF a miss
   *  is a 0 of its hit metric, which saves each read three metrics. */
  cacheMiss: 'CacheMiss',
  l1Miss: 'L1Miss',
  l2Miss: 'L2Miss',
  /** Feed entries written by fan-out; dimension tier = regular | celebrity | mega. */
  fanoutWrites: 'FanoutWrites',
  postsCreated: 'PostsCreated',
  notificationDigests: 'NotificationDigests',
  /** Workflow Task invocations that threw (each is retried or caught by its state). */
  workflowFailures: 'WorkflowFailures',
} as const;
export type MetricName = (typeof METRIC)[keyof typeof METRIC];

// process.env is an interceptor over the C environment: every read is a getenv and a new string.
// Powertools reads it on each access to its invocation-scoped stores (whether AWS_LAMBDA_MAX_-
// CONCURRENCY is set), a dozen times per invocation: ~8% of an L1-hit feed read's CPU. A function's
// environment is fixed once it starts, so the handlers read a plain copy of it (writes still work,
// and child processes are given the copy).
if (Object.getPrototypeOf(process.env) !== Object.prototype) process.env = { ...process.env };

/** Powertools Logger that takes an API invocation's Lambda context and correlation id from the
 *  invocation itself (shared/edge/deadline.ts) when it writes the invocation's first line, instead
 *  of being given them when every invocation starts. Most API invocations log nothing, and giving
 *  them (the Lambda context, the correlation id, the reset of the keys at the end: writes to
 *  Powertools' invocation-scoped stores) cost an L1-hit feed read ~4 µs through the local gateway.
 *  The lines are the same: the first one binds, before Powertools builds it. Queue, stream and
 *  workflow handlers still use Powertools' middleware (logging()), and run in no such invocation. */
class FeedLogger extends Logger {
  /** Every line goes through here (trace to critical), before Powertools builds it. */
  protected override processLogItem(logLevel: number, input: LogItemMessage, extraInput: LogItemExtraInput): void {
    bindInvocation(this);
    super.processLogItem(logLevel, input, extraInput);
  }
  /** addContext's cold-start flag: the bound invocation's own, not whether this is the logger's
   *  first addContext. */
  override getColdStart(): boolean {
    const invocation = currentInvocation();
    return invocation?.context ? invocation.coldStart : super.getColdStart();
  }
  /** Whether this process has served an invocation before (the flag Powertools keeps), now. */
  takeColdStart(): boolean {
    return super.getColdStart();
  }
}

/** Puts the current API invocation's context and correlation id on `target`, once per invocation.
 *  The keys of the invocation before (in one-invocation-at-a-time Lambda they outlive it) go first. */
function bindInvocation(target: Logger): void {
  const invocation = currentInvocation();
  if (invocation?.context === undefined || invocation.logBound) return;
  invocation.logBound = true;
  target.resetKeys();
  target.addContext(invocation.context);
  target.setCorrelationId(invocation.correlationId);
}

export const logger = new FeedLogger({ serviceName: SERVICE_NAME });

/** The logger's Lambda-context middleware, shared so every queue, stream and workflow handler is
 *  wired the same way. */
export function logging(): MiddlewareObj {
  return injectLambdaContext(logger, { resetKeys: true }) as MiddlewareObj;
}

/** POWERTOOLS_LOGGER_SAMPLE_RATE: the logger redraws, per invocation, whether it logs at DEBUG. */
const sampling = Number(process.env.POWERTOOLS_LOGGER_SAMPLE_RATE ?? 0) > 0;

/** Starts an API invocation: the record its logs and metrics are taken from (the first one of the
 *  process also counts the cold start, as Powertools' metrics middleware does). */
export function openInvocation(context: Context, correlationId: string | undefined, deadline: number | undefined): Invocation {
  const invocation: Invocation = { deadline, context, correlationId, coldStart: logger.takeColdStart(), logBound: false, metricsStored: false };
  if (invocation.coldStart) metrics().captureColdStartMetric(context.functionName);
  return invocation;
}

/** What an API invocation does first inside its scope, as Powertools' logger middleware does: the
 *  DEBUG sampling redrawn (when POWERTOOLS_LOGGER_SAMPLE_RATE is set) and the event logged (when
 *  POWERTOOLS_LOGGER_LOG_EVENT asks). */
export function beginInvocation(event: unknown): void {
  if (sampling) logger.refreshSampleRateCalculation();
  if (logger.shouldLogEvent()) logger.logEventIfEnabled(event);
}

/** Ends an API invocation: flushes the metrics it stored, if any. */
export function closeInvocation(invocation: Invocation): void {
  if (invocation.metricsStored) metrics().publishStoredMetrics();
}

/** The correlation id of the current invocation, to forward in messages this handler sends. */
export function currentCorrelationId(): string | undefined {
  const invocation = currentInvocation();
  if (invocation?.context) return invocation.correlationId;
  // Outside any invocation (a script, a test calling a service) there is none; under the
  // multi-concurrency mode the logger then throws "No context available" instead of answering.
  try {
    const id = logger.getCorrelationId();
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

// ---- metrics ----

export type EmfDocument = ReturnType<Metrics['serializeMetrics']>;

/** EMF documents kept in memory when output is 'memory' (the newest; older ones are dropped). */
const EMF_KEPT = 200;
let chosenOutput: 'stdout' | 'memory' | undefined;
const emitted: EmfDocument[] = [];
/** Where EMF goes unless emitMetricsTo chose: memory on the local stack and in tests (FEED_LOCAL=1,
 *  set before any handler runs), where nothing ships stdout to CloudWatch and EMF lines would
 *  bury the logs; stdout everywhere else. */
const output = () => chosenOutput ?? (process.env.FEED_LOCAL === '1' ? 'memory' : 'stdout');

/** Keeps a document in memory, the newest EMF_KEPT. */
function keep(doc: EmfDocument): void {
  emitted.push(doc);
  if (emitted.length > EMF_KEPT) emitted.splice(0, emitted.length - EMF_KEPT);
}

/** Powertools Metrics with three changes: an invocation that recorded nothing flushes nothing
 *  (Powertools would print a warning on every such invocation — most API calls); an API
 *  invocation is marked when it stores something, and flushed only then; and EMF can be kept in
 *  memory instead of stdout, where the local stack's console would drown in it. */
class FeedMetrics extends Metrics {
  // Each of the four ways to store something marks the API invocation (they store independently:
  // none calls another), so it flushes at its end; one that stores nothing skips the flush (its
  // scoped stores' reads and clears).
  override addMetric(...args: Parameters<Metrics['addMetric']>): this {
    stored();
    return super.addMetric(...args);
  }
  override addDimension(...args: Parameters<Metrics['addDimension']>): this {
    stored();
    return super.addDimension(...args);
  }
  override addDimensions(...args: Parameters<Metrics['addDimensions']>): this {
    stored();
    return super.addDimensions(...args);
  }
  override addMetadata(...args: Parameters<Metrics['addMetadata']>): this {
    stored();
    return super.addMetadata(...args);
  }

  override publishStoredMetrics(): this {
    if (!this.hasStoredMetrics()) {
      this.clearDimensions();
      this.clearMetadata();
      return this;
    }
    if (output() === 'stdout') return super.publishStoredMetrics();
    try {
      if (!this.isDisabled()) keep(this.serializeMetrics());
    } finally {
      this.clearMetrics();
      this.clearDimensions();
      this.clearMetadata();
    }
    return this;
  }

  /** Publishes a document built elsewhere (the feed reads' batch) where this instance publishes
   *  its own: stdout as one JSON line (as Powertools prints it), or memory. */
  publishDocument(doc: EmfDocument): void {
    if (this.isDisabled()) return;
    if (output() === 'stdout') process.stdout.write(`${JSON.stringify(doc)}\n`);
    else keep(doc);
  }

  /** Metrics with their own dimensions (and the cold-start metric) go out at once, the same way. */
  override singleMetric(): Metrics {
    return new FeedMetrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, singleMetric: true, logger });
  }
}

function stored(): void {
  const invocation = currentInvocation();
  if (invocation) invocation.metricsStored = true;
}

let instance: Metrics | undefined;
/** One instance per process. Under Lambda's multi-concurrency mode (AWS_LAMBDA_MAX_CONCURRENCY,
 *  as the local stack runs) Powertools keeps the stored metrics of each invocation apart, in the
 *  invocation's InvokeStore scope, and the middleware flushes each invocation's own. Built on
 *  first use, not at import: in that mode the constructor already reaches for the InvokeStore,
 *  which the runtime (or the local stack) may create only after this module has loaded. */
export function metrics(): Metrics {
  instance ??= new FeedMetrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, logger });
  return instance;
}

/** The metrics middleware: flushes the invocation's metrics as one EMF document when it ends
 *  (errors too) and counts cold starts (ColdStart, dimension function_name). */
export function metering(): MiddlewareObj {
  let inner: MiddlewareObj | undefined;
  const mw = () => (inner ??= logMetrics(metrics(), { throwOnEmptyMetrics: false, captureColdStartMetric: true }) as MiddlewareObj);
  return {
    before: (request) => mw().before!(request),
    after: (request) => mw().after!(request),
    onError: (request) => mw().onError!(request),
  };
}

/** Chooses where EMF goes: stdout, which Lambda ships to CloudWatch Logs, or memory (see
 *  emittedMetrics); undefined goes back to the default (memory when FEED_LOCAL=1). */
export function emitMetricsTo(target: 'stdout' | 'memory' | undefined): void {
  chosenOutput = target;
}

/** The EMF documents flushed while output was 'memory', oldest first. */
export function emittedMetrics(): readonly EmfDocument[] {
  return emitted;
}

// The in-process registry: sums per metric and dimension set since start-up. In Lambda it is one
// container's view and nobody reads it; in the local stack every function shares the process, so
// it is the whole stack's.
type Dimensions = Record<string, string>;
const LATENCY_SAMPLES = 1000;
const counters = new Map<string, number>();
const timings = new Map<string, { count: number; totalMs: number; maxMs: number; recent: number[] }>();

const seriesKey = (name: string, dims: Dimensions) => {
  const entries = Object.entries(dims).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? name : `${name}{${entries.map(([k, v]) => `${k}=${v}`).join(',')}}`;
};

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/** Stores one value in this invocation's metrics; false when it was refused. A metric must never
 *  fail the request it describes, so a bad value is logged instead of thrown. */
function record(name: MetricName, unit: Unit, value: number, dims: Dimensions): boolean {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    logger.warn('metric not recorded', { metric: name, error: `${String(value)} is not a finite number` });
    return false;
  }
  try {
    if (Object.keys(dims).length === 0) {
      metrics().addMetric(name, unit, value);
    } else {
      const single = metrics().singleMetric();
      single.addDimensions(dims);
      single.addMetric(name, unit, value);
    }
  } catch (err) {
    logger.warn('metric not recorded', { metric: name, error: (err as Error).message });
    return false;
  }
  return true;
}

/** Adds `value` to a Count metric, in this invocation's EMF and in the in-process registry.
 *  Without dimensions it joins the invocation's document (dimension service only, which is what
 *  alarms read); with dimensions it is emitted at once in a document of its own. */
export function countMetric(name: MetricName, value = 1, dims: Dimensions = {}): void {
  if (!record(name, MetricUnit.Count, value, dims)) return;
  tally(seriesKey(name, dims), value);
}

/** Adds to a series of the in-process registry only. */
function tally(key: string, value: number): void {
  counters.set(key, (counters.get(key) ?? 0) + value);
}

/** Adds a duration (ms) to a series of the in-process registry only. */
function time(key: string, ms: number): void {
  let t = timings.get(key);
  if (!t) timings.set(key, (t = { count: 0, totalMs: 0, maxMs: 0, recent: [] }));
  t.count++;
  t.totalMs += ms;
  t.maxMs = Math.max(t.maxMs, ms);
  t.recent.push(ms);
  if (t.recent.length > LATENCY_SAMPLES) t.recent.shift();
}

// ---- feed reads: one EMF document per batch of reads, not per read ----
//
// A feed read is the API's most frequent call, and its metrics were one EMF document per read:
// through the local gateway that document (Powertools' per-invocation stores, the serialization,
// the flush) cost an L1 hit ~30 µs of its ~130, and in AWS each document is a log event that
// CloudWatch Logs ingests and bills by the byte. EMF takes up to FEED_READ_BATCH_MAX values per
// metric in one document, and CloudWatch counts each value as a sample, so a document of a batch
// of reads gives the alarms and dashboards the same statistics (Sum, SampleCount, Average,
// percentiles) as one document per read. Powertools keeps its metrics per invocation and flushes
// them when the invocation ends; a batch that outlives invocations is what it has no notion of,
// so the batch and its document are written here (the document as Powertools writes its own).

interface FeedReadBatch {
  /** Time of the batch's first read (ms): its document's timestamp. */
  at: number;
  FeedLatency: number[];
  CacheHit: number[];
  L1Hit: number[];
  L2Hit: number[];
}
const newBatch = (at: number): FeedReadBatch => ({ at, FeedLatency: [], CacheHit: [], L1Hit: [], L2Hit: [] });
let feedReads: FeedReadBatch | undefined;
const FEED_READ_UNITS: Record<keyof Omit<FeedReadBatch, 'at'>, Unit> = {
  FeedLatency: MetricUnit.Milliseconds,
  CacheHit: MetricUnit.Count,
  L1Hit: MetricUnit.Count,
  L2Hit: MetricUnit.Count,
};
const minuteOf = (ms: number) => Math.floor(ms / 60_000);

/** One GET /v1/feed: its latency, and for first pages (the ones served through the cache) which
 *  tier answered (home-feed.ts's FeedSource), as 1s and 0s of CacheHit, L1Hit and (after an L1
 *  miss) L2Hit. Deeper pages (source 'dynamodb') bypass the cache and count no hit or miss. Counted
 *  in the registry at once, and in this container's batch, whose document is flushed when it holds
 *  FEED_READ_BATCH_MAX reads, when a read falls into another minute than its first (a document's
 *  samples share one timestamp), or when it is FEED_READ_BATCH_MAX_AGE_MS old. */
export function recordFeedRead(latencyMs: number, source: FeedSource): void {
  if (typeof latencyMs !== 'number' || !Number.isFinite(latencyMs)) {
    logger.warn('metric not recorded', { metric: METRIC.feedLatency, error: `${String(latencyMs)} is not a finite number` });
    return;
  }
  const now = Date.now();
  if (feedReads && minuteOf(now) !== minuteOf(feedReads.at)) flushFeedReadMetrics();
  const batch = (feedReads ??= newBatch(now));
  // Microseconds are all a latency alarm needs; a full double is 18 characters in the document.
  batch.FeedLatency.push(Math.round(latencyMs * 1000) / 1000);
  time(METRIC.feedLatency, latencyMs);
  if (source !== 'dynamodb') {
    const cached = source !== 'generated';
    batch.CacheHit.push(cached ? 1 : 0);
    tally(METRIC.cacheHit, cached ? 1 : 0);
    tally(METRIC.cacheMiss, cached ? 0 : 1);
    batch.L1Hit.push(source === 'l1' ? 1 : 0);
    tally(METRIC.l1Hit, source === 'l1' ? 1 : 0);
    tally(METRIC.l1Miss, source === 'l1' ? 0 : 1);
    if (source !== 'l1') {
      batch.L2Hit.push(cached ? 1 : 0);
      tally(METRIC.l2Hit, cached ? 1 : 0);
      tally(METRIC.l2Miss, cached ? 0 : 1);
    }
  }
  if (batch.FeedLatency.length >= FEED_READ_BATCH_MAX || now - batch.at >= FEED_READ_BATCH_MAX_AGE_MS) flushFeedReadMetrics();
}

/** Writes this container's batch of feed reads as one EMF document (namespace feedscale, dimension
 *  service, as the alarms read), if it holds any; a metric with one value is written as a number,
 *  as Powertools writes it. */
export function flushFeedReadMetrics(): void {
  const batch = feedReads;
  feedReads = undefined;
  if (!batch || batch.FeedLatency.length === 0) return;
  const names = (Object.keys(FEED_READ_UNITS) as (keyof typeof FEED_READ_UNITS)[]).filter((n) => batch[n].length > 0);
  const doc = {
    _aws: {
      Timestamp: batch.at,
      CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [['service']], Metrics: names.map((Name) => ({ Name, Unit: FEED_READ_UNITS[Name] })) }],
    },
    service: SERVICE_NAME,
    ...Object.fromEntries(names.map((n) => [n, batch[n].length === 1 ? batch[n][0] : batch[n]])),
  } as EmfDocument;
  (metrics() as FeedMetrics).publishDocument(doc);
}

const rate = (hits: number, misses: number) => (hits + misses > 0 ? Math.round((1000 * hits) / (hits + misses)) / 1000 : null);

export interface MetricsSnapshot {
  /** Sums per series: `Name` or `Name{dim=value}`. */
  counters: Record<string, number>;
  /** Durations: count, mean, the p95 and max of the most recent LATENCY_SAMPLES. */
  timings: Record<string, { count: number; avgMs: number; p95Ms: number; maxMs: number }>;
  /** Hit rates of first feed pages (0..1; null before any read): overall, L1, L2 after an L1 miss. */
  cacheHitRate: { overall: number | null; l1: number | null; l2: number | null };
}

/** The registry as the local stack's stats show it. */
export function metricsSnapshot(): MetricsSnapshot {
  const c = (name: MetricName) => counters.get(name) ?? 0;
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return {
    counters: Object.fromEntries([...counters].sort(([a], [b]) => a.localeCompare(b))),
    timings: Object.fromEntries(
      [...timings].map(([key, t]) => {
        const sorted = [...t.recent].sort((a, b) => a - b);
        const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)] ?? 0;
        return [key, { count: t.count, avgMs: round(t.totalMs / t.count), p95Ms: round(p95), maxMs: round(t.maxMs) }];
      }),
    ),
    cacheHitRate: {
      overall: rate(c(METRIC.cacheHit), c(METRIC.cacheMiss)),
      l1: rate(c(METRIC.l1Hit), c(METRIC.l1Miss)),
      l2: rate(c(METRIC.l2Hit), c(METRIC.l2Miss)),
    },
  };
}

/** Empties the registry, the feed reads' batch and the kept EMF documents (tests). */
export function resetMetricsRegistry(): void {
  feedReads = undefined;
  counters.clear();
  timings.clear();
  emitted.length = 0;
}
