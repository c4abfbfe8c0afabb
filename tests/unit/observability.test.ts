// The metrics helper (shared/edge/observability.ts) and its wiring in the handler wrappers: what each
// invocation flushes as CloudWatch EMF (namespace, dimensions, values), that concurrent
// invocations in one process keep their metrics apart (Lambda's multi-concurrency mode, as the
// local stack runs), that nothing is thrown or printed for an invocation without metrics, and the
// in-process registry behind the local stack's stats.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';

// Multi-concurrency mode, decided when the InvokeStore is first created (fixtures-lambda does).
vi.hoisted(() => {
  process.env.AWS_LAMBDA_MAX_CONCURRENCY ??= '1000';
});

import { NotFoundError } from '../../shared/domain/errors.js';
import { FEED_READ_BATCH_MAX, FEED_READ_BATCH_MAX_AGE_MS } from '../../shared/domain/limits.js';
import { api } from '../../shared/edge/http.js';
import { sqsConsumer } from '../../shared/edge/consumers.js';
import {
  countMetric,
  currentCorrelationId,
  emitMetricsTo,
  emittedMetrics,
  flushFeedReadMetrics,
  logger,
  METRIC,
  METRICS_NAMESPACE,
  metrics,
  metricsSnapshot,
  recordFeedRead,
  resetMetricsRegistry,
  SERVICE_NAME,
  type EmfDocument,
} from '../../shared/edge/observability.js';
import { correlationOf, workflowTask } from '../../shared/edge/workflow-task.js';
import { APP_METRICS } from '../../stacks/alarm-plan.js';
import { METRICS_NAMESPACE as PLAN_NAMESPACE } from '../../stacks/plan.js';
import { httpEvent, invokeLambda, testContext } from '../support/fixtures-lambda.js';

/** The EMF documents flushed so far, without the cold-start documents. */
const docs = () => emittedMetrics().filter((d) => !('ColdStart' in d));
const directive = (d: EmfDocument) => d._aws.CloudWatchMetrics[0]!;
const metricNames = (d: EmfDocument) => directive(d).Metrics.map((m) => m.Name).sort();

/** Sends EMF to stdout and captures what is written there. */
function emfToStdout(): string[] {
  emitMetricsTo('stdout');
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write);
  return lines;
}

/** A Task handler whose work counts what it is given. */
const counting = workflowTask(z.object({ posts: z.number() }), async ({ posts }) => {
  countMetric(METRIC.postsCreated, posts);
  return { ok: true };
});

beforeEach(() => {
  emitMetricsTo('memory');
  resetMetricsRegistry();
});
afterEach(() => {
  emitMetricsTo(undefined);
  vi.restoreAllMocks();
});

describe('EMF per invocation', () => {
  it('flushes an invocation’s counts as one document in namespace feedscale with dimension service only', async () => {
    const handler = workflowTask(z.object({}), async () => {
      countMetric(METRIC.postsCreated);
      countMetric(METRIC.postsCreated, 2);
      countMetric(METRIC.notificationDigests, 5);
    });

    await invokeLambda(handler, {});

    expect(docs()).toHaveLength(1);
    const doc = docs()[0]!;
    expect(directive(doc).Namespace).toBe('feedscale');
    expect(directive(doc).Dimensions).toEqual([['service']]);
    expect(doc.service).toBe('feedscale');
    expect(metricNames(doc)).toEqual(['NotificationDigests', 'PostsCreated']);
    expect(directive(doc).Metrics.every((m) => m.Unit === 'Count')).toBe(true);
    expect(doc.PostsCreated).toEqual([1, 2]);
    expect(doc.NotificationDigests).toBe(5);
  });

  it('emits a metric with dimensions in a document of its own, leaving the invocation’s document without them', async () => {
    const handler = workflowTask(z.object({}), async () => {
      countMetric(METRIC.fanoutWrites, 500, { tier: 'celebrity' });
      countMetric(METRIC.postsCreated);
    });

    await invokeLambda(handler, {});

    const fanout = docs().find((d) => 'FanoutWrites' in d)!;
    expect(directive(fanout).Dimensions).toEqual([['service', 'tier']]);
    expect(fanout).toMatchObject({ service: 'feedscale', tier: 'celebrity', FanoutWrites: 500 });
    const rest = docs().find((d) => 'PostsCreated' in d)!;
    expect(directive(rest).Dimensions).toEqual([['service']]);
    expect(rest).not.toHaveProperty('tier');
    expect(rest).not.toHaveProperty('FanoutWrites');
  });

  it('flushes nothing, warns nothing and throws nothing for an invocation that counted nothing', async () => {
    const warned = vi.spyOn(logger, 'warn');
    const handler = api({ auth: false }, async () => ({ status: 200, body: { ok: true } }));

    const res = await invokeLambda(handler, httpEvent({ method: 'GET' }));

    expect(res.statusCode).toBe(200);
    expect(docs()).toEqual([]);
    expect(warned).not.toHaveBeenCalled();
  });

  it('keeps concurrent invocations’ metrics apart and flushes each invocation’s own', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const started: string[] = [];
    const handler = workflowTask(z.object({ posts: z.number() }), async ({ posts }) => {
      countMetric(METRIC.postsCreated, posts);
      started.push(String(posts));
      await gate; // both invocations are inside, each with one value stored
      countMetric(METRIC.postsCreated, posts);
    });

    const a = invokeLambda(handler, { posts: 1 });
    const b = invokeLambda(handler, { posts: 7 });
    await vi.waitFor(() => expect(started).toHaveLength(2));
    release();
    await Promise.all([a, b]);

    expect(docs().map((d) => d.PostsCreated).sort()).toEqual([
      [1, 1],
      [7, 7],
    ]);
  });

  it('flushes when the work throws: an HTTP error answer, a failed record, a failed workflow task', async () => {
    vi.spyOn(logger, 'error').mockImplementation(() => {});
    const http = api({ auth: false }, async () => {
      countMetric(METRIC.postsCreated);
      throw new NotFoundError('post');
    });
    const consumer = sqsConsumer(z.unknown(), async (body) => {
      countMetric(METRIC.notificationDigests);
      if (body === 'poison') throw new Error('poison');
    });
    const message = (messageId: string, body: string) => ({ messageId, body, messageAttributes: {}, eventSource: 'aws:sqs' });
    const task = workflowTask(z.object({}), async () => {
      throw new Error('boom');
    });

    expect((await invokeLambda(http, httpEvent({ method: 'GET' }))).statusCode).toBe(404);
    const batch = await invokeLambda(consumer, { Records: [message('m1', '"poison"'), message('m2', '{}')] } as never);
    await expect(invokeLambda(task, {})).rejects.toThrow('boom');

    expect(batch.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
    expect(docs().map((d) => metricNames(d))).toEqual([['PostsCreated'], ['NotificationDigests'], ['WorkflowFailures']]);
    expect(docs()[1]!.NotificationDigests).toEqual([1, 1]);
    expect(docs()[2]!.WorkflowFailures).toBe(1);
  });

  it('prints the document to stdout as one JSON line when output is stdout (as Lambda ships it to CloudWatch)', async () => {
    const lines = emfToStdout();

    await invokeLambda(counting, { posts: 3 });

    const emf = lines.filter((l) => l.includes('"_aws"'));
    expect(emf).toHaveLength(1);
    expect(emf[0]!.endsWith('\n')).toBe(true);
    expect(JSON.parse(emf[0]!)).toMatchObject({ service: 'feedscale', PostsCreated: 3 });
    expect(emittedMetrics()).toEqual([]);
  });

  it('counts a cold start once, on the first invocation, with the function name', async () => {
    vi.resetModules();
    process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
    try {
      const fresh = await import('../../shared/edge/observability.js');
      const { workflowTask: freshTask } = await import('../../shared/edge/workflow-task.js');
      fresh.emitMetricsTo('memory');
      const handler = freshTask(z.object({}), async () => fresh.countMetric(fresh.METRIC.postsCreated));

      await invokeLambda(handler, {}, testContext('feedscale-prod-create-post'));
      await invokeLambda(handler, {}, testContext('feedscale-prod-create-post'));

      const cold = fresh.emittedMetrics().filter((d) => 'ColdStart' in d);
      expect(cold).toHaveLength(1);
      expect(cold[0]).toMatchObject({ ColdStart: 1, function_name: 'feedscale-prod-create-post', service: 'feedscale' });
      expect(fresh.emittedMetrics().filter((d) => 'PostsCreated' in d)).toHaveLength(2);
    } finally {
      delete process.env.AWS_LAMBDA_INITIALIZATION_TYPE;
    }
  });
});

describe('an API invocation', () => {
  /** The JSON log lines written while `run` runs (the tests log at ERROR, which goes to stderr). */
  async function logLines(run: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stderr.write);
    await run();
    return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  it('puts its context on the logger only when it logs, each line with its own request id', async () => {
    const added = vi.spyOn(logger, 'addContext');
    const quiet = api({ auth: false }, async () => ({ status: 200, body: {} }));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const inside: string[] = [];
    const talkative = api({ auth: false }, async () => {
      logger.error('before');
      inside.push('in');
      await gate; // both invocations are inside, each having logged once
      logger.error('after');
      return { status: 200, body: {} };
    });

    const a = httpEvent({ method: 'GET' });
    const b = httpEvent({ method: 'GET' });
    const lines = await logLines(async () => {
      await invokeLambda(quiet, httpEvent({ method: 'GET' }));
      expect(added).not.toHaveBeenCalled();
      const ran = [invokeLambda(talkative, a, testContext('feedscale-test-a')), invokeLambda(talkative, b, testContext('feedscale-test-b'))];
      await vi.waitFor(() => expect(inside).toHaveLength(2));
      release();
      await Promise.all(ran);
    });
    const byFunction = (name: string) => lines.filter((l) => l.function_name === name).map((l) => [l.message, l.correlation_id]);
    expect(byFunction('feedscale-test-a')).toEqual([['before', a.requestContext.requestId], ['after', a.requestContext.requestId]]);
    expect(byFunction('feedscale-test-b')).toEqual([['before', b.requestContext.requestId], ['after', b.requestContext.requestId]]);
    expect(lines).toHaveLength(4);
    expect(lines.every((l) => l.cold_start === false && typeof l.function_request_id === 'string')).toBe(true);
    expect(added).toHaveBeenCalledTimes(2);
  });

  it('forwards its request id as the correlation id of what it sends, without logging', async () => {
    const added = vi.spyOn(logger, 'addContext');
    let forwarded: string | undefined;
    const handler = api({ auth: false }, async () => {
      forwarded = currentCorrelationId();
      return { status: 200, body: {} };
    });
    const event = httpEvent({ method: 'GET' });

    await invokeLambda(handler, event);

    expect(forwarded).toBe(event.requestContext.requestId);
    expect(added).not.toHaveBeenCalled();
  });

  it('flushes metrics only when it stored some', async () => {
    const flushed = vi.spyOn(Object.getPrototypeOf(metrics()) as { publishStoredMetrics: () => unknown }, 'publishStoredMetrics');
    const quiet = api({ auth: false }, async () => ({ status: 200, body: {} }));
    const counting = api({ auth: false }, async () => {
      countMetric(METRIC.postsCreated);
      return { status: 200, body: {} };
    });

    await invokeLambda(quiet, httpEvent({ method: 'GET' }));
    expect(flushed).not.toHaveBeenCalled();
    await invokeLambda(counting, httpEvent({ method: 'GET' }));

    expect(flushed).toHaveBeenCalledTimes(1);
    expect(docs().map((d) => d.PostsCreated)).toEqual([1]);
  });
});

describe('feed reads', () => {
  /** The document of one read, flushed at once. */
  const read = async (source: 'l1' | 'l2' | 'generated' | 'dynamodb', ms = 12) => {
    recordFeedRead(ms, source);
    flushFeedReadMetrics();
    return docs().at(-1)!;
  };
  /** A clock the batch reads, from 2026-12-01 00:00:55 UTC on. */
  const clock = (start = Date.UTC(2026, 11, 1, 0, 0, 55)) => {
    let now = start;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    return { advance: (ms: number) => (now += ms), start };
  };

  it('records latency in milliseconds and, for first pages, a hit of each tier as 1 or 0 (no miss metrics)', async () => {
    const l1 = await read('l1', 3.5);
    expect(directive(l1).Metrics).toContainEqual({ Name: 'FeedLatency', Unit: 'Milliseconds' });
    expect(l1).toMatchObject({ FeedLatency: 3.5, CacheHit: 1, L1Hit: 1 });
    expect(l1).not.toHaveProperty('L2Hit');

    expect(await read('l2')).toMatchObject({ CacheHit: 1, L1Hit: 0, L2Hit: 1 });
    const generated = await read('generated');
    expect(generated).toMatchObject({ CacheHit: 0, L1Hit: 0, L2Hit: 0 });
    expect(metricNames(generated).sort()).toEqual(['CacheHit', 'FeedLatency', 'L1Hit', 'L2Hit']);

    const deeper = await read('dynamodb', 40);
    expect(metricNames(deeper)).toEqual(['FeedLatency']);
  });

  it('emits exactly what the alarms read: names, namespace and the service dimension', async () => {
    const doc = await read('generated');

    expect(PLAN_NAMESPACE).toBe(METRICS_NAMESPACE);
    expect(directive(doc).Namespace).toBe(PLAN_NAMESPACE);
    expect(directive(doc).Dimensions).toEqual([['service']]);
    expect(doc.service).toBe(SERVICE_NAME);
    for (const name of Object.values(APP_METRICS)) expect(metricNames(doc)).toContain(name);
  });

  it('adds nothing to the invocation: a feed read flushes no document of its own', async () => {
    const handler = api({ auth: false }, async () => {
      recordFeedRead(2, 'l1');
      return { status: 200, body: { ok: true } };
    });

    for (let i = 0; i < 3; i++) expect((await invokeLambda(handler, httpEvent({}))).statusCode).toBe(200);

    expect(docs()).toEqual([]);
    expect(metricsSnapshot().counters).toMatchObject({ CacheHit: 3, L1Hit: 3 });
  });

  it(`flushes ${FEED_READ_BATCH_MAX} reads as one document, every value a sample: statistics as if each read had its own`, () => {
    clock();
    const sources = ['l1', 'l2', 'generated', 'dynamodb'] as const;
    for (let i = 0; i < FEED_READ_BATCH_MAX - 1; i++) recordFeedRead(i + 0.5, sources[i % 4]!);
    expect(docs()).toEqual([]);

    recordFeedRead(99.5, 'l1');

    expect(docs()).toHaveLength(1);
    const doc = docs()[0]!;
    const values = (name: string) => doc[name] as unknown as number[];
    expect(values('FeedLatency')).toEqual(Array.from({ length: FEED_READ_BATCH_MAX }, (_, i) => i + 0.5));
    // 100 reads: 25 of each source, the last an L1 hit in place of a deeper page.
    expect(values('CacheHit')).toHaveLength(76);
    expect(values('CacheHit').filter((v) => v === 1)).toHaveLength(51);
    expect(values('L1Hit').filter((v) => v === 1)).toHaveLength(26);
    expect(values('L2Hit')).toEqual(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? 1 : 0)));
    expect(Math.max(...Object.values(doc).filter(Array.isArray).map((a) => a.length))).toBeLessThanOrEqual(FEED_READ_BATCH_MAX);

    recordFeedRead(1, 'l1');
    expect(docs()).toHaveLength(1);
  });

  it('keeps a document within one minute, stamped with its first read, and flushes a batch older than the age limit', () => {
    const t = clock();
    recordFeedRead(1, 'l1');
    t.advance(4_000); // 00:00:59
    recordFeedRead(2, 'l2');
    expect(docs()).toEqual([]);

    t.advance(2_000); // 00:01:01: another minute, so the batch of 00:00 goes first
    recordFeedRead(3, 'l1');

    expect(docs()).toHaveLength(1);
    expect(docs()[0]!._aws.Timestamp).toBe(t.start);
    expect(docs()[0]).toMatchObject({ FeedLatency: [1, 2], CacheHit: [1, 1], L1Hit: [1, 0], L2Hit: 1 });

    t.advance(FEED_READ_BATCH_MAX_AGE_MS - 1); // 00:01:10.999, just within the age limit of 00:01:01's batch
    recordFeedRead(4, 'l1');
    expect(docs()).toHaveLength(1);
    t.advance(1);
    recordFeedRead(5, 'l1');

    expect(docs()).toHaveLength(2);
    expect(docs()[1]).toMatchObject({ FeedLatency: [3, 4, 5], L1Hit: [1, 1, 1] });
    expect(docs()[1]!._aws.Timestamp).toBe(t.start + 6_000);
  });

  it('prints a flushed batch to stdout as one JSON line when output is stdout', () => {
    const lines = emfToStdout();

    recordFeedRead(7, 'l2');
    recordFeedRead(9, 'l1');
    flushFeedReadMetrics();

    const emf = lines.filter((l) => l.includes('"_aws"'));
    expect(emf).toHaveLength(1);
    expect(emf[0]!.endsWith('\n')).toBe(true);
    expect(JSON.parse(emf[0]!)).toMatchObject({ service: 'feedscale', FeedLatency: [7, 9], CacheHit: [1, 1], L2Hit: 1 });
    expect(emittedMetrics()).toEqual([]);
  });

  it('drops an invalid latency with a warning and keeps the batch whole', () => {
    const warned = vi.spyOn(logger, 'warn').mockImplementation(() => {});

    expect(() => recordFeedRead(Number.NaN, 'l1')).not.toThrow();
    recordFeedRead(4, 'l1');
    flushFeedReadMetrics();

    expect(warned).toHaveBeenCalledWith('metric not recorded', expect.objectContaining({ metric: 'FeedLatency' }));
    expect(docs()).toHaveLength(1);
    expect(docs()[0]).toMatchObject({ FeedLatency: 4, CacheHit: 1, L1Hit: 1 });
  });

  it('writes latencies to the microsecond', () => {
    recordFeedRead(1.23456789, 'l1');
    recordFeedRead(0.0004, 'l1');
    flushFeedReadMetrics();

    expect(docs()[0]).toMatchObject({ FeedLatency: [1.235, 0] });
    expect(metricsSnapshot().timings.FeedLatency!.maxMs).toBe(1.2);
  });
});

describe('in-process registry', () => {
  it('sums counts per metric and dimension set, and derives the cache hit rates', () => {
    countMetric(METRIC.postsCreated);
    countMetric(METRIC.postsCreated);
    countMetric(METRIC.fanoutWrites, 500, { tier: 'regular' });
    countMetric(METRIC.fanoutWrites, 20, { tier: 'regular' });
    countMetric(METRIC.fanoutWrites, 3, { tier: 'mega' });
    for (const source of ['l1', 'l1', 'l2', 'generated'] as const) recordFeedRead(10, source);

    const snap = metricsSnapshot();

    expect(snap.counters).toMatchObject({
      PostsCreated: 2,
      'FanoutWrites{tier=regular}': 520,
      'FanoutWrites{tier=mega}': 3,
      CacheHit: 3,
      CacheMiss: 1,
      L1Hit: 2,
      L1Miss: 2,
      L2Hit: 1,
      L2Miss: 1,
    });
    expect(snap.cacheHitRate).toEqual({ overall: 0.75, l1: 0.5, l2: 0.5 });
    expect(snap.timings.FeedLatency).toEqual({ count: 4, avgMs: 10, p95Ms: 10, maxMs: 10 });
  });

  it('reports no hit rate before any feed read, and p95 of the recent latencies', () => {
    for (let ms = 1; ms <= 100; ms++) recordFeedRead(ms, 'dynamodb');

    const snap = metricsSnapshot();

    expect(snap.cacheHitRate).toEqual({ overall: null, l1: null, l2: null });
    expect(snap.timings.FeedLatency).toMatchObject({ count: 100, p95Ms: 95, maxMs: 100, avgMs: 50.5 });
  });

  it('never throws into the caller: an invalid value is logged and the request goes on', () => {
    const warned = vi.spyOn(logger, 'warn').mockImplementation(() => {});

    expect(() => countMetric(METRIC.postsCreated, Number.NaN)).not.toThrow();
    expect(() => countMetric(METRIC.postsCreated, 'x' as unknown as number)).not.toThrow();

    expect(warned).toHaveBeenCalledWith('metric not recorded', expect.objectContaining({ metric: 'PostsCreated' }));
  });
});

describe('the environment', () => {
  it('is a plain object once the handlers load: reads are property loads, not getenv calls, and every variable is kept', () => {
    // Powertools reads process.env on every access to its invocation-scoped stores.
    expect(Object.getPrototypeOf(process.env)).toBe(Object.prototype);
    expect(process.env.AWS_LAMBDA_MAX_CONCURRENCY).toBe('1000');
    expect(process.env.PATH).toBeTruthy();
  });
});

describe('workflow correlation id', () => {
  it('is read from the top of the input, or from the execution input a ContinueAsNew task wraps', () => {
    expect(correlationOf({ correlationId: 'req-1', post: {} })).toBe('req-1');
    expect(correlationOf({ workflow: 'celebrity-fanout', input: { correlationId: 'req-2', next: {} } })).toBe('req-2');
    expect(correlationOf({ correlationId: null })).toBeUndefined();
    expect(correlationOf(undefined)).toBeUndefined();
  });
});

describe('log lines and tracing', () => {
  const TRACE_ID = '1-5759e988-bd862e3fe1be46a994272793';
  const saved = process.env._X_AMZN_TRACE_ID;
  afterEach(() => {
    if (saved === undefined) delete process.env._X_AMZN_TRACE_ID;
    else process.env._X_AMZN_TRACE_ID = saved;
  });

  it('carry the X-Ray trace id (from _X_AMZN_TRACE_ID, as Lambda sets it with active tracing) beside the correlation id', async () => {
    process.env._X_AMZN_TRACE_ID = `Root=${TRACE_ID};Parent=557abcec3ee5a047;Sampled=1`;
    const lines: string[] = [];
    // Powertools prints ERROR lines through console.error, to stderr.
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, 'write').mockImplementation(((chunk: string | Uint8Array) => {
        lines.push(String(chunk));
        return true;
      }) as typeof stream.write);
    }
    const failing = api({ auth: false }, async () => {
      throw new Error('boom');
    });
    const event = httpEvent({ method: 'GET' });

    await invokeLambda(failing, event);

    const logged = lines.filter((l) => l.includes('unhandled error')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ xray_trace_id: TRACE_ID, correlation_id: event.requestContext.requestId });
  });
});
