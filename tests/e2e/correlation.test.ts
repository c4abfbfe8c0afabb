// One post's journey, followed through the logs: the API request id of POST /v1/posts is the
// correlation_id of every log line the post causes downstream — the posts stream (post-router),
// the fan-out queue (fan-out-worker), the notifications queue (notification-collector) and, for a
// celebrity author, the CelebrityFanout workflow's tasks. The handlers of the shared test stack
// run in the global-setup process, out of reach of this file, so it starts its own stack in this
// process (same DynamoDB Local and Redis, its own tables by prefix) and reads the JSON lines the
// handlers write to stdout.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InvokeStore } from '@aws/lambda-invoke-store';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Stack } from '../../shared/local/stack.js';
import { eventually } from '../support/client.js';
import { assertConforms } from '../support/openapi.js';

interface LogLine {
  level: string;
  message: string;
  service: string;
  timestamp: string;
  cold_start?: boolean;
  function_name?: string;
  function_request_id?: string;
  correlation_id?: string;
  postId?: string;
  kind?: string;
  tier?: string;
  [key: string]: unknown;
}

// The handlers' logger is built once per process, at import, from POWERTOOLS_LOG_LEVEL (ERROR in
// tests, tests/support/setup.ts), and each invocation returns to that level; so INFO is set
// before anything imports it.
const levelBefore = vi.hoisted(() => {
  const before = process.env.POWERTOOLS_LOG_LEVEL;
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
  return before;
});

const logs: LogLine[] = [];
const realWrite = process.stdout.write;
const envBefore = { ...process.env };
const dataDir = mkdtempSync(path.join(tmpdir(), 'feedscale-corr-'));
let stack: Stack;

/** Keeps the handlers' JSON log lines (and hides them); anything else passes through. */
function captureStdout(): void {
  process.stdout.write = function (this: typeof process.stdout, chunk: unknown, ...rest: unknown[]) {
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : undefined;
    const kept = (text ?? '').split('\n').filter((line) => {
      if (!line.startsWith('{')) return false;
      try {
        const parsed = JSON.parse(line) as LogLine;
        if (parsed.service !== 'feedscale' || typeof parsed.message !== 'string') return false;
        logs.push(parsed);
        return true;
      } catch {
        return false;
      }
    });
    if (text !== undefined && kept.length > 0 && kept.length === text.split('\n').filter(Boolean).length) {
      const done = rest.find((a): a is () => void => typeof a === 'function');
      if (done) process.nextTick(done);
      return true;
    }
    return (realWrite as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof process.stdout.write;
}

beforeAll(async () => {
  // Powertools keeps per-invocation state in the InvokeStore (AWS_LAMBDA_MAX_CONCURRENCY is set),
  // so it must exist before anything logs outside an invocation.
  await InvokeStore.getInstanceAsync();
  captureStdout();
  const { startStack } = await import('../../shared/local/stack.js');
  const starting = startStack({
    fresh: true,
    port: 0,
    dataDir,
    env: {
      FEED_TABLE_PREFIX: 'corr-',
      // The fewest tables the sharding allows: half the tables to create and streams to poll.
      FEED_SHARDS: '16',
      // Two followers make a celebrity, so one stack has both a regular and a celebrity author.
      FEED_CELEBRITY_THRESHOLD: '2',
      // No digest runs during the test: they would only add unrelated lines.
      FEED_NOTIFICATION_WINDOW_SECONDS: '3600',
    },
    queues: { visibilityTimeoutMs: 500 },
    sweepIntervalMs: 3_600_000,
  });
  // Load the handlers while the tables are created (startStack has already applied the env).
  const { loadHandler } = await import('../../shared/local/lambda.js');
  const { FUNCTIONS } = await import('../../shared/declarations/functions.js');
  [stack] = await Promise.all([starting, ...Object.keys(FUNCTIONS).map((fn) => loadHandler(fn as keyof typeof FUNCTIONS))]);
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  process.stdout.write = realWrite;
  // startStack applied this stack's settings to the process environment; take them back.
  for (const key of Object.keys(process.env)) if (!(key in envBefore)) delete process.env[key];
  Object.assign(process.env, envBefore);
  if (levelBefore === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
  else process.env.POWERTOOLS_LOG_LEVEL = levelBefore;
});

// ---- a client for this file's stack ----

interface Reply {
  status: number;
  body: any;
  requestId: string;
}

async function call(method: string, urlPath: string, opts: { token?: string; body?: unknown } = {}): Promise<Reply> {
  const res = await fetch(`${stack.url}${urlPath}`, {
    method,
    headers: {
      ...(opts.token && { authorization: `Bearer ${opts.token}` }),
      ...(opts.body !== undefined && { 'content-type': 'application/json' }),
    },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  const body = text ? JSON.parse(text) : undefined;
  assertConforms(method, urlPath, res.status, body);
  return { status: res.status, body, requestId: res.headers.get('apigw-requestid') ?? '' };
}

interface User {
  token: string;
  userId: string;
}

let n = 0;
async function newUser(): Promise<User> {
  const tok = await call('POST', '/v1/dev/token', { body: { sub: `corr-${process.pid}-${Date.now()}-${n}` } });
  const handle = `corr${process.pid}_${Date.now().toString(36)}_${n++}`.slice(0, 30);
  const res = await call('POST', '/v1/users', { token: tok.body.token, body: { handle, displayName: handle, country: 'US' } });
  expect(res.status).toBe(201);
  return { token: tok.body.token, userId: res.body.userId };
}

async function follow(follower: User, followee: User): Promise<void> {
  expect((await call('PUT', `/v1/users/${followee.userId}/follow`, { token: follower.token })).status).toBe(204);
}

/** Posts; returns the post id and the API request id of the call. */
async function post(author: User, content: string): Promise<{ postId: string; requestId: string }> {
  const res = await call('POST', '/v1/posts', { token: author.token, body: { content } });
  expect(res.status).toBe(201);
  expect(res.requestId).toMatch(/^[0-9a-f-]{36}$/);
  return { postId: res.body.postId, requestId: res.requestId };
}

const feedOf = async (u: User): Promise<string[]> =>
  (await call('GET', '/v1/feed', { token: u.token })).body.items.map((p: { postId: string }) => p.postId);

/** The first log line of `fn` with this message about this post, once it has been written. */
const lineOf = (fn: string, message: string, postId: string) =>
  eventually(async () => logs.find((l) => l.function_name === `feedscale-local-${fn}` && l.message === message && l.postId === postId), 10_000, `${fn} "${message}" for ${postId}`);

function expectStructured(line: LogLine, fn: string): void {
  expect(line).toMatchObject({ level: 'INFO', service: 'feedscale', function_name: `feedscale-local-${fn}` });
  expect(typeof line.cold_start).toBe('boolean');
  expect(Number.isNaN(Date.parse(line.timestamp))).toBe(false);
  expect(line.function_request_id).toMatch(/^[0-9a-f-]{36}$/);
}

describe('one post’s journey in the logs', () => {
  it('carries the create-post request id through the posts stream, the fan-out queue and the notifications queue', async () => {
    const alice = await newUser();
    const bob = await newUser();
    await follow(bob, alice);

    const first = await post(alice, 'followed through the logs');
    const second = await post(alice, 'a second request, a second id');
    await eventually(async () => (await feedOf(bob)).includes(first.postId) && (await feedOf(bob)).includes(second.postId), 10_000, 'both posts in the follower feed');

    for (const p of [first, second]) {
      const routed = await lineOf('post-router', 'post routed', p.postId);
      const pushed = await lineOf('fan-out-worker', 'fan-out job done', p.postId);
      const collected = await lineOf('notification-collector', 'notifications collected', p.postId);
      expectStructured(routed, 'post-router');
      expectStructured(pushed, 'fan-out-worker');
      expectStructured(collected, 'notification-collector');
      expect(routed).toMatchObject({ correlation_id: p.requestId, tier: 'regular', kind: 'add' });
      expect(pushed).toMatchObject({ correlation_id: p.requestId, kind: 'add', written: 1 });
      expect(collected).toMatchObject({ correlation_id: p.requestId, type: 'post', actorId: alice.userId });
    }
    // Every line about a post carries that post's request id, none the other's.
    expect(first.requestId).not.toBe(second.requestId);
    for (const line of logs.filter((l) => l.postId === first.postId || l.postId === second.postId)) {
      expect(line.correlation_id).toBe(line.postId === first.postId ? first.requestId : second.requestId);
    }
  });

  it('carries it through the CelebrityFanout workflow’s tasks for a celebrity author', async () => {
    const carol = await newUser();
    const dave = await newUser();
    const erin = await newUser();
    await feedOf(dave); // dave is active: the celebrity tier pushes to him
    await follow(dave, carol);
    await follow(erin, carol); // the second follower makes carol a celebrity
    await eventually(async () => (await call('GET', `/v1/users/${carol.userId}`, { token: carol.token })).body.tier === 'celebrity', 10_000, 'celebrity tier');
    await stack.settle(); // the tier jobs have reached the followers (and dave's active entry)

    const p = await post(carol, 'pushed by the workflow');

    const routed = await lineOf('post-router', 'post routed', p.postId);
    const listed = await lineOf('celebrity-fanout-page', 'celebrity followers listed', p.postId);
    const pushed = await lineOf('celebrity-fanout-push', 'celebrity chunk pushed', p.postId);
    expect(routed).toMatchObject({ correlation_id: p.requestId, tier: 'celebrity' });
    expectStructured(listed, 'celebrity-fanout-page');
    expectStructured(pushed, 'celebrity-fanout-push');
    expect(listed).toMatchObject({ correlation_id: p.requestId, followers: 1 });
    expect(pushed).toMatchObject({ correlation_id: p.requestId, kind: 'add', written: 1 });
    expect(await feedOf(dave)).toContain(p.postId);
  });

  it('counts what the journey did in the local stack’s stats', async () => {
    await stack.settle();
    const stats = (await (await fetch(`${process.env.FEED_SFN_ENDPOINT}/feedscale/stats`)).json()) as {
      metrics: { counters: Record<string, number>; timings: Record<string, { count: number }>; cacheHitRate: { overall: number | null } };
    };

    // Exactly the three posts; fan-out writes at least once per follower (a redelivered job —
    // visibility timeout 500 ms here — writes the same entries again and counts them again).
    expect(stats.metrics.counters.PostsCreated).toBe(3);
    expect(stats.metrics.counters['FanoutWrites{tier=regular}']).toBeGreaterThanOrEqual(2);
    expect(stats.metrics.counters['FanoutWrites{tier=celebrity}']).toBeGreaterThanOrEqual(1);
    expect(stats.metrics.timings.FeedLatency!.count).toBeGreaterThan(0);
    expect(stats.metrics.cacheHitRate.overall).not.toBeNull();
  });
});
