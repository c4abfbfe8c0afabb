// feedctl against the local stack the test setup starts: executions of both workflows are started
// here through the Step Functions API with the SDK (as the product starts them), then listed and
// shown by feedctl; stats prints the stack's counters; bad command lines exit 2 and an absent
// stack exits 1 in one line. The history and stats renderers are also checked on AWS-shaped input
// the local stack cannot produce (causal event links, cache tiers).
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { config } from '../../shared/edge/config.js';
import { ROOT } from '../../shared/local/lambda.js';
import {
  DescribeExecutionCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { machineMatches, main, renderHistory, renderStats } from '../../shared/local/feedctl.js';
import type { MetricsSnapshot } from '../../shared/edge/observability.js';
import { until } from '../support/fixtures-wait.js';

const endpoint = inject('sfnEndpoint');
const sfn = new SFNClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });

interface Run {
  code: number;
  out: string[];
  err: string[];
}

async function feedctl(argv: string[], env: Record<string, string | undefined> = process.env): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (l) => out.push(l), stderr: (l) => err.push(l), env });
  return { code, out, err };
}

/** Starts an execution and waits, bounded, until it is no longer RUNNING. */
async function runToEnd(workflow: string, input: unknown): Promise<DescribeExecutionCommandOutput> {
  const machines = await sfn.send(new ListStateMachinesCommand({}));
  const stateMachineArn = machines.stateMachines?.find((m) => m.name === workflow)?.stateMachineArn;
  if (!stateMachineArn) throw new Error(`no state machine ${workflow} at ${endpoint}`);
  const name = `feedctl-test-${randomUUID()}`;
  const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
  // A task that fails is retried by RETRY (5 s, then 10 s) before the Catch: about 15 s.
  return until(
    async () => {
      const e = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      return e.status !== 'RUNNING' && e;
    },
    { timeoutMs: 60_000, intervalMs: 100, what: `${workflow} execution ${name} to finish` },
  );
}

const rowOf = (run: Run, name: string) => run.out.find((l) => l.split(/\s+/).includes(name));

describe('feedctl against the local stack', () => {
  let succeeded: DescribeExecutionCommandOutput;
  let failed: DescribeExecutionCommandOutput;

  beforeAll(async () => {
    // A window two windows back, aligned to the test stack's windows: nothing to compose there.
    const window = config().FEED_NOTIFICATION_WINDOW_SECONDS;
    const windowStart = Math.floor(Date.now() / 1000 / window) * window - 2 * window;
    [succeeded, failed] = await Promise.all([
      runToEnd('batched-notification', { windowStart }),
      // Input that fails the first task's schema in several fields: a long error line to cut.
      runToEnd('celebrity-fanout', { kind: 'neither', post: { postId: 1, authorId: 2, createdAt: 3 }, pages: -1 }),
    ]);
    expect(succeeded.status).toBe('SUCCEEDED');
    expect(failed.status).toBe('FAILED');
  }, 90_000);

  afterAll(() => sfn.destroy());

  it('lists a finished batched-notification execution with its workflow, status, start and duration', async () => {
    const run = await feedctl(['executions', 'list', '--workflow', 'batched-notification']);

    expect(run.code).toBe(0);
    expect(run.out[0]).toMatch(/^WORKFLOW\s+EXECUTION\s+STATUS\s+STARTED \(UTC\)\s+DURATION$/);
    const row = rowOf(run, succeeded.name!);
    expect(row).toMatch(new RegExp(`^batched-notification\\s+${succeeded.name}\\s+SUCCEEDED\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ\\s+[\\d.]+m?s$`));
    expect(run.out.slice(1).every((l) => l.startsWith('batched-notification '))).toBe(true);
  });

  it('lists newest first and stops at --limit', async () => {
    const run = await feedctl(['executions', 'list', '--limit', '2']);

    expect(run.code).toBe(0);
    expect(run.out).toHaveLength(3);
    const starts = run.out.slice(1).map((l) => Date.parse(l.match(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/)![0].replace(' ', 'T')));
    expect(starts[0]).toBeGreaterThanOrEqual(starts[1]!);
  });

  it('shows an execution by ARN: header, then the Plan and ComposeShards states with their input and output', async () => {
    const run = await feedctl(['executions', 'show', succeeded.executionArn!]);

    expect(run.code).toBe(0);
    const text = run.out.join('\n');
    expect(text).toMatch(/^status\s+SUCCEEDED$/m);
    expect(text).toMatch(/^input\s+\{"windowStart":\d+\}$/m);
    expect(text).toMatch(/^output\s+\{.*"shards":\[0,1,/m);
    expect(text).toMatch(/^\s*\+\d+\.\d{3}s\s+TaskStateEntered\s+Plan\s+input \{"windowStart":\d+\}$/m);
    expect(text).toMatch(/^\s*\+\d+\.\d{3}s\s+TaskStateExited\s+Plan\s+output \{.*"shards":/m);
    expect(text).toMatch(/^\s*\+\d+\.\d{3}s\s+MapStateEntered\s+ComposeShards\s+input /m);
    expect(text).toMatch(/^\s*\+\d+\.\d{3}s\s+MapIterationStarted\s+ComposeShards\[0\]$/m);
    expect(text).toMatch(/^\s*\+\d+\.\d{3}s\s+MapIterationSucceeded\s+ComposeShards\[31\]$/m);
    expect(text).toMatch(/TaskStateEntered\s+Compose(\[\d+\])?\s+input \{.*"shard":\d+/);
    expect(text).toMatch(/ExecutionSucceeded\s+output /);
    // Iteration i composes shard i: an event marked with an index must be that iteration's.
    for (const [, index, shard] of text.matchAll(/TaskStateEntered\s+Compose\[(\d+)\]\s+input \{.*"shard":(\d+)/g)) expect(shard).toBe(index);
  });

  it('shows an execution by its bare name', async () => {
    const run = await feedctl(['executions', 'show', succeeded.name!]);

    expect(run.code).toBe(0);
    expect(run.out).toContain(`arn       ${succeeded.executionArn}`);
  });

  it('lists a failed celebrity-fanout execution under --status FAILED and not under SUCCEEDED', async () => {
    const failedRun = await feedctl(['executions', 'list', '--workflow', 'celebrity-fanout', '--status', 'FAILED']);
    const succeededRun = await feedctl(['executions', 'list', '--workflow', 'celebrity-fanout', '--status', 'SUCCEEDED']);

    expect(failedRun.code).toBe(0);
    expect(rowOf(failedRun, failed.name!)).toMatch(/^celebrity-fanout\s+\S+\s+FAILED\s/);
    expect(rowOf(succeededRun, failed.name!)).toBeUndefined();
  });

  it('shows a failed execution with its error and cause, and each failed attempt of the state', async () => {
    const run = await feedctl(['executions', 'show', failed.name!, '--workflow', 'celebrity-fanout']);

    expect(run.code).toBe(0);
    const text = run.out.join('\n');
    expect(text).toMatch(/^status\s+FAILED$/m);
    expect(text).toMatch(/^error\s+CelebrityFanoutFailed$/m);
    expect(text).toMatch(/^cause\s+a page or push task failed/m);
    expect(text).toMatch(/TaskFailed\s+ListActiveFollowers\s+error InvalidTaskInput: task input does not fit its schema/);
    expect(text).toMatch(/FailStateEntered\s+FanoutFailed\s+input \{.*"error":/);
  });

  it('cuts long JSON at about 200 characters unless --full', async () => {
    const short = await feedctl(['executions', 'show', failed.executionArn!]);
    const full = await feedctl(['executions', 'show', failed.executionArn!, '--full']);

    const cut = short.out.find((l) => /TaskFailed\s+ListActiveFollowers\s+error InvalidTaskInput/.test(l))!;
    expect(cut).toMatch(/… \(\d+ characters; --full shows all\)$/);
    const whole = full.out.find((l) => /TaskFailed\s+ListActiveFollowers\s+error InvalidTaskInput/.test(l))!;
    expect(whole).not.toContain('--full shows all');
    expect(whole.length).toBeGreaterThan(cut.length);
  });

  it('prints the stack counters: queues, streams, workflow runs and DynamoDB writes', async () => {
    const run = await feedctl(['stats']);

    expect(run.code).toBe(0);
    expect(run.out).toContainEqual(expect.stringMatching(/^queue\s+fanout\s+waiting \d+ {2}in flight \d+ {2}dead letters \d+$/));
    expect(run.out).toContainEqual(expect.stringMatching(/^stream\s+posts → post-router\s+delivered \d+ {2}failures \d+$/));
    expect(run.out).toContainEqual(expect.stringMatching(/^workflows\s+\d+ runs: .*SUCCEEDED [1-9]\d*.*FAILED [1-9]\d*/));
    expect(run.out).toContainEqual(expect.stringMatching(/^dynamodb\s+\d+ writes$/));
    // Cache hit rates show when the stack reports them (its handlers' metrics).
    const raw = (await (await fetch(`${endpoint}/feedscale/stats`)).json()) as { metrics?: { cacheHitRate?: object } };
    for (const tier of Object.keys(raw.metrics?.cacheHitRate ?? {})) {
      expect(run.out).toContainEqual(expect.stringMatching(new RegExp(`^cache\\s+${tier}\\s+hits \\d+  misses \\d+  hit rate (-|\\d+\\.\\d%)$`)));
    }
    expect(run.out.every((l) => !l.startsWith('metrics'))).toBe(true);
  });

  it('runs as a CLI: exit status 0 with output, 2 for an unknown command', () => {
    const env = { ...process.env, FEED_SFN_ENDPOINT: endpoint };
    const ok = spawnSync(process.execPath, ['--import', 'tsx', 'shared/local/feedctl.ts', 'stats'], { cwd: ROOT, env, encoding: 'utf8' });
    const bad = spawnSync(process.execPath, ['--import', 'tsx', 'shared/local/feedctl.ts', 'frobnicate'], { cwd: ROOT, env, encoding: 'utf8' });

    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^queue\s+fanout/m);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^feedctl: unknown command: frobnicate\nusage: npm run feedctl/);
  });
});

describe('feedctl command line', () => {
  it.each([
    [['frobnicate'], /unknown command: frobnicate/],
    [[], /no command given/],
    [['executions', 'list', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['executions', 'list', '--status', 'DONE'], /--status must be one of RUNNING, SUCCEEDED, FAILED, ABORTED, TIMED_OUT/],
    [['executions', 'list', '--limit', '0'], /--limit must be a whole number/],
    [['executions', 'show'], /takes one execution ARN or name/],
    [['executions', 'list', '--full'], /--full does not apply to executions list/],
    [['stats', '--aws'], /stats reads the local stack only/],
    [['executions', 'list', '--aws', '--endpoint', 'http://127.0.0.1:1'], /do not go with --aws/],
  ])('%j exits 2 with the reason and the usage on stderr', async (argv, reason) => {
    const run = await feedctl(argv);

    expect(run.code).toBe(2);
    expect(run.out).toEqual([]);
    expect(run.err[0]).toMatch(reason);
    expect(run.err[1]).toBe('usage: npm run feedctl -- <command> [flags]');
  });

  it('says in one line that no local stack is running when there is no stack.json', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'feedctl-none-'));

    const run = await feedctl(['executions', 'list', '--data-dir', dataDir], { PATH: process.env.PATH });

    expect(run.code).toBe(1);
    expect(run.err).toHaveLength(1);
    expect(run.err[0]).toMatch(/^feedctl: no local stack is running \(.*stack\.json not found\)/);
  });

  it('says in one line that nothing answers when the endpoint is closed', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });

    const list = await feedctl(['executions', 'list', '--endpoint', `http://127.0.0.1:${closedPort}`]);
    const stats = await feedctl(['stats', '--endpoint', `http://127.0.0.1:${closedPort}`]);

    for (const run of [list, stats]) {
      expect(run.code).toBe(1);
      expect(run.err).toEqual([`feedctl: no local stack answers at http://127.0.0.1:${closedPort} (from --endpoint); start one with \`npm start\`, or read AWS with --aws`]);
    }
  });
});

describe('machineMatches', () => {
  it('finds a workflow by its own name locally and as feedscale-<stage>-<workflow> in AWS, hyphenated stages too', () => {
    expect(machineMatches('celebrity-fanout', 'celebrity-fanout')).toBe(true);
    expect(machineMatches('feedscale-prod-celebrity-fanout', 'celebrity-fanout')).toBe(true);
    expect(machineMatches('feedscale-pr-12-batched-notification', 'batched-notification')).toBe(true);
    expect(machineMatches('feedscale-prod-batched-notification', 'celebrity-fanout')).toBe(false);
    expect(machineMatches('feedscale-prod-celebrity-fanout', 'fanout')).toBe(false);
    expect(machineMatches('feedscale-prod-celebrity-fanout', 'feedscale-prod-celebrity-fanout')).toBe(true);
  });

  it('without --workflow, keeps feedscale workflows and leaves other state machines of the account out', () => {
    expect(machineMatches('feedscale-dev-batched-notification', undefined)).toBe(true);
    expect(machineMatches('billing-monthly-invoices', undefined)).toBe(false);
  });
});

describe('renderHistory', () => {
  const at = (ms: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, 0, ms));
  const ev = (id: number, previousEventId: number, type: string, extra: Partial<HistoryEvent> = {}): HistoryEvent => ({ id, previousEventId, type: type as HistoryEvent['type'], timestamp: at(id), ...extra });

  it('follows causal links (as AWS records them) to mark interleaved iterations with their index', () => {
    // Two iterations of Map "Push" run at once; AWS links each event to its cause.
    const events = [
      ev(1, 0, 'ExecutionStarted', { executionStartedEventDetails: { input: '{"a":1}' } }),
      ev(2, 1, 'MapStateEntered', { stateEnteredEventDetails: { name: 'Push', input: '{}' } }),
      ev(3, 2, 'MapStateStarted'),
      ev(4, 3, 'MapIterationStarted', { mapIterationStartedEventDetails: { name: 'Push', index: 0 } }),
      ev(5, 3, 'MapIterationStarted', { mapIterationStartedEventDetails: { name: 'Push', index: 1 } }),
      ev(6, 5, 'TaskStateEntered', { stateEnteredEventDetails: { name: 'PushChunk', input: '{"chunk":1}' } }),
      ev(7, 4, 'TaskStateEntered', { stateEnteredEventDetails: { name: 'PushChunk', input: '{"chunk":0}' } }),
      ev(8, 7, 'LambdaFunctionScheduled'),
      ev(9, 8, 'LambdaFunctionFailed', { lambdaFunctionFailedEventDetails: { error: 'Boom', cause: 'chunk 0 failed' } }),
      ev(10, 6, 'TaskStateExited', { stateExitedEventDetails: { name: 'PushChunk', output: '{"ok":1}' } }),
      ev(11, 10, 'MapIterationSucceeded', { mapIterationSucceededEventDetails: { name: 'Push', index: 1 } }),
      ev(12, 9, 'MapIterationFailed', { mapIterationFailedEventDetails: { name: 'Push', index: 0 } }),
      ev(13, 12, 'MapStateFailed'),
      ev(14, 13, 'ExecutionFailed', { executionFailedEventDetails: { error: 'Boom', cause: 'chunk 0 failed' } }),
    ];

    const lines = renderHistory(events, at(0), { full: false });

    expect(lines).toEqual([
      '+0.001s  ExecutionStarted                       input {"a":1}',
      '+0.002s  MapStateEntered          Push          input {}',
      '+0.003s  MapStateStarted          Push',
      '+0.004s  MapIterationStarted      Push[0]',
      '+0.005s  MapIterationStarted      Push[1]',
      '+0.006s  TaskStateEntered         PushChunk[1]  input {"chunk":1}',
      '+0.007s  TaskStateEntered         PushChunk[0]  input {"chunk":0}',
      '+0.008s  LambdaFunctionScheduled  PushChunk[0]',
      '+0.009s  LambdaFunctionFailed     PushChunk[0]  error Boom: chunk 0 failed',
      '+0.010s  TaskStateExited          PushChunk[1]  output {"ok":1}',
      '+0.011s  MapIterationSucceeded    Push[1]',
      '+0.012s  MapIterationFailed       Push[0]',
      '+0.013s  MapStateFailed           Push',
      '+0.014s  ExecutionFailed                        error Boom: chunk 0 failed',
    ]);
  });

  it('marks no event inside overlapping iterations when every link only points at the event before', () => {
    const events = [
      ev(1, 0, 'MapIterationStarted', { mapIterationStartedEventDetails: { name: 'Push', index: 0 } }),
      ev(2, 1, 'MapIterationStarted', { mapIterationStartedEventDetails: { name: 'Push', index: 1 } }),
      ev(3, 2, 'TaskStateEntered', { stateEnteredEventDetails: { name: 'PushChunk', input: '{"chunk":0}' } }),
    ];

    const lines = renderHistory(events, at(0), { full: false });

    expect(lines[2]).toMatch(/TaskStateEntered\s+PushChunk\s+input \{"chunk":0\}$/);
    expect(lines.at(-1)).toMatch(/not marked with their index/);
  });
});

describe('renderStats', () => {
  it('prints the handlers\' metrics: cache tiers with hit rates, feed latency, the other counters', () => {
    const metrics: MetricsSnapshot = {
      counters: { CacheHit: 17, CacheMiss: 3, L1Hit: 12, L1Miss: 8, L2Hit: 5, L2Miss: 3, 'FanoutWrites{tier=regular}': 40, PostsCreated: 4 },
      timings: { FeedLatency: { count: 20, avgMs: 4.2, p95Ms: 9.5, maxMs: 12 } },
      cacheHitRate: { overall: 0.85, l1: 0.6, l2: 0.625 },
    };

    const lines = renderStats({
      queues: { fanout: { waiting: 1, inFlight: 2, deadLetters: 3 }, notifications: { waiting: 0, inFlight: 0, deadLetters: 0 } },
      streams: [{ delivered: 5, failures: 0 }],
      workflows: { FAILED: 1, SUCCEEDED: 4 },
      dynamodbWrites: 42,
      metrics,
    });

    expect(lines).toEqual([
      'queue      fanout         waiting 1  in flight 2  dead letters 3',
      'queue      notifications  waiting 0  in flight 0  dead letters 0',
      'stream     posts → post-router  delivered 5  failures 0',
      'workflows  5 runs: SUCCEEDED 4  FAILED 1',
      'dynamodb   42 writes',
      'cache      overall  hits 17  misses 3  hit rate 85.0%',
      'cache      l1       hits 12  misses 8  hit rate 60.0%',
      'cache      l2       hits 5  misses 3  hit rate 62.5%',
      'latency    FeedLatency  count 20  avg 4.2 ms  p95 9.5 ms  max 12 ms',
      'metric     FanoutWrites{tier=regular}  40',
      'metric     PostsCreated                4',
    ]);
  });

  it('shows other objects counting hits and misses as cache tiers, and keeps sections it does not know', () => {
    const lines = renderStats({
      cache: { l1: { hits: 85, misses: 15 }, l2: { hits: 0, misses: 0, errors: 2, breakerOpen: false } },
      sweeps: 7,
    });

    expect(lines).toEqual([
      'cache      l1  hits 85  misses 15  hit rate 85.0%',
      'cache      l2  hits 0  misses 0  hit rate -  errors 2  breakerOpen false',
      'sweeps     7',
    ]);
  });
});
