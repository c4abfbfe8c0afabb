// Nothing is lost locally on a crash: a stack with data kept (`npm start -- --data-dir <tmp>`, as
// a child process in its own process group) is armed with FEED_LOCAL_CRASH_AT
// (shared/local/crash-points.ts), so it kills itself with SIGKILL exactly where work exists only in
// its journals: after the post router's fan-out send is durable but before the worker ran it,
// right after a stream checkpoint save that covers posts whose fan-out jobs have not started, and
// while the worker holds a batch in flight. Its engines (DynamoDB Local, redis-server) are killed
// with it, and it restarts on the same data, armed with the next point. Every follower's stored
// feed must end up with every acknowledged post; with the queues in memory the second kill alone
// loses a post's pushes to all 30 followers.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../shared/local/lambda.js';
import { scratchDir } from '../../shared/local/engines.js';
import { groupAlive, signalGroup } from '../../shared/local/process-group.js';
import { stackClient, until, type StackUser } from '../support/own-stack.js';
import { GENEROUS_RATE_LIMITS } from '../support/rate-limits.js';
import { inTurnWithHeavyFiles } from '../support/heavy-turn.js';
import { resetConfig } from '../../shared/edge/config.js';
import { resetDynamo } from '../../shared/store/client.js';
import * as feeds from '../../shared/store/feeds.js';

const FOLLOWERS = 30;
const SHARDS = 16;
/** The child's queues' visibility timeout: a job failed by a starved DynamoDB Local (a connect
 *  timeout) is retried within seconds instead of the fan-out queue's 180 s. */
const VISIBILITY_MS = 15_000;
/** Where each start kills itself, in order; the start after the last runs to the end. */
const CRASH_AT = ['fanout-sent:3', 'checkpoint-saved:1', 'fanout-received:1'];
/** Posts at least; posting goes on (waves of WAVE) until the last kill, up to MAX_POSTS (fewer
 *  than a feed page of 50, so one query reads every follower's entries). */
const POSTS = 12;
const WAVE = 4;
const MAX_POSTS = 48;
/** A (re)start on a loaded 2-core machine: Java's start-up dominates. */
const START_MS = 180_000;
/** From a start to its crash point: one post routed and one checkpoint save (every 5 s), slow only
 *  when DynamoDB Local is starved on a loaded machine. */
const CRASH_WAIT_MS = 120_000;
/** After the last start the queued jobs drain in seconds (a failed one is retried after
 *  VISIBILITY_MS); this bounds the wait when some are lost. */
const DRAIN_MS = 240_000;

const dataDir = scratchDir('feedscale-crash-');
let child: ChildProcess | undefined;
/** Resolves when the current child exits. */
let childExit: Promise<void> = Promise.resolve();
let base = '';
let up: Promise<void> = Promise.resolve();
let output = '';

/** Tries a start this many times: on a loaded machine DynamoDB Local can miss its own 30 s
 *  readiness deadline, which says nothing about what survived the kill. */
const START_ATTEMPTS = 3;

/** Starts the stack armed with `crashAt`; resolves once it is ready, or once it has killed itself
 *  at its crash point while starting (replayed jobs can reach one before the API is up). */
async function startChild(crashAt: string | undefined): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const began = Date.now();
    try {
      const how = await startOnce(crashAt);
      console.log(`crash test: stack ${how} in ${((Date.now() - began) / 1000).toFixed(1)} s (FEED_LOCAL_CRASH_AT=${crashAt ?? ''})`);
      return;
    } catch (err) {
      if (attempt >= START_ATTEMPTS) throw err;
      console.log(`crash test: start attempt ${attempt} failed, retrying: ${(err as Error).message.split('\n').slice(0, 3).join(' | ')}`);
      if (child?.pid && groupAlive(child.pid)) await killGroup();
    }
  }
}

const CRASHED = /FEED_LOCAL_CRASH_AT: killed at (\S+)/;

/** Starts `npm start -- --data-dir` as a process group leader and waits for "ready". */
function startOnce(crashAt: string | undefined): Promise<'ready' | 'crashed while starting'> {
  // The fewest shards allowed: what is tested does not depend on their number, and half the tables
  // (and streams to poll) start faster and leave a loaded machine's DynamoDB Local more room.
  // Digests on their deployed 30-minute window (as the suite's, tests/support/stack-env.ts), never
  // a short one: every start resumes the digest runs the kill interrupted and catches up the
  // windows it missed, and on a loaded machine runs every 3 s outlast their window and pile up,
  // starving DynamoDB Local until every fan-out batch times out (the failure CI showed with 3 s
  // windows: 40 jobs in flight, none done, for 4 min).
  const env: NodeJS.ProcessEnv = { ...process.env, ...GENEROUS_RATE_LIMITS, PORT: '0', POWERTOOLS_LOG_LEVEL: 'ERROR', FEED_ANALYTICS_DIR: '', FEED_SHARDS: String(SHARDS), FEED_LOCAL_VISIBILITY_TIMEOUT_MS: String(VISIBILITY_MS), FEED_NOTIFICATION_WINDOW_SECONDS: '1800' };
  // Its own engines: not the shared test stack's.
  for (const name of ['DYNAMODB_ENDPOINT', 'REDIS_URL', 'FEED_SFN_ENDPOINT', 'FEED_LOCAL_CRASH_AT']) delete env[name];
  if (crashAt) env.FEED_LOCAL_CRASH_AT = crashAt;
  const proc = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['shared/local/start.ts', '--data-dir', dataDir], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child = proc;
  output = '';
  childExit = new Promise((resolve) => proc.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stack not ready in ${START_MS} ms:\n${output.slice(-3000)}`)), START_MS);
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      if (/ready in/.test(output)) {
        clearTimeout(timer);
        base = JSON.parse(readFileSync(path.join(dataDir, 'stack.json'), 'utf8')).api;
        resolve('ready');
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      // tsx runs the stack in a child node process: the crash point kills that one, and tsx
      // exits after it with a code, not a signal.
      if (CRASHED.test(output)) resolve('crashed while starting');
      else if (signal !== 'SIGKILL') reject(new Error(`stack exited (${code ?? signal}):\n${output.slice(-3000)}`));
    });
  });
}

/** SIGKILL to the whole group: whatever of the stack, DynamoDB Local and redis-server still runs. */
async function killGroup(): Promise<void> {
  const proc = child!;
  const exited = proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((r) => proc.once('exit', r));
  signalGroup(proc.pid!, 'SIGKILL');
  await exited;
  // The engines are in the group too: the restart reuses their data files once they have ended.
  await until(async () => !groupAlive(proc.pid!), 10_000, 'the process group gone');
}

/** Waits for the running stack to kill itself at its crash point; returns the point it named, or
 *  a note that it did not (the test then goes on to count lost pushes, and fails on the points). */
async function crashOf(): Promise<string> {
  const ended = await Promise.race([childExit.then(() => 'exited'), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), CRASH_WAIT_MS).unref())]);
  const point = CRASHED.exec(output)?.[1];
  if (point) return point;
  console.log(`crash test: no crash point reached within ${CRASH_WAIT_MS} ms (${ended})`);
  return `none (${ended})`;
}

const client = stackClient(() => base, 'crash');

/** A request that survives the stack's restarts: a refused or cut connection waits for the next
 *  start and retries (the post's Idempotency-Key makes a retried create return the same post). */
async function call(method: string, p: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(`${base}${p}`, {
        method,
        headers: { ...headers, ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (res.status >= 500 && attempt < 20) throw new Error(`status ${res.status}`);
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    } catch (err) {
      if (attempt >= 20) throw err;
      await up;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** The follower's feed entries as stored (Feed_{shard} in the stack's DynamoDB Local): the pushes
 *  themselves, not GET /v1/feed, whose cold-cache regeneration would hide a lost push. */
async function pushedTo(u: StackUser): Promise<Set<string>> {
  const { entries } = await feeds.queryEntries(u.userId, 100, Math.floor(Date.now() / 1000));
  return new Set(entries.map((e) => e.postId));
}

/** The last stack's fan-out queue, to tell jobs still queued (a slow machine) from jobs lost. */
async function queueStats(): Promise<string> {
  try {
    const { stepFunctions } = JSON.parse(readFileSync(path.join(dataDir, 'stack.json'), 'utf8')) as { stepFunctions: string };
    const stats = (await (await fetch(`${stepFunctions}/feedscale/stats`)).json()) as { queues: Record<string, unknown> };
    return JSON.stringify({ fanout: stats.queues.fanout, streams: (stats as { streams?: unknown }).streams });
  } catch (err) {
    return `unknown (${(err as Error).message})`;
  }
}

/** Points this process's store client at the running child's DynamoDB Local. */
async function useChildDynamo(): Promise<void> {
  const { dynamodb } = JSON.parse(readFileSync(path.join(dataDir, 'stack.json'), 'utf8')) as { dynamodb: string };
  process.env.DYNAMODB_ENDPOINT = dynamodb;
  process.env.FEED_LOCAL = '1';
  process.env.FEED_SHARDS = String(SHARDS);
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  process.env.AWS_REGION ??= 'us-east-1';
  resetConfig();
  resetDynamo();
}

// Its own stack never runs beside another file's (tests/support/heavy-turn.ts).
inTurnWithHeavyFiles();

afterAll(async () => {
  if (child?.pid && groupAlive(child.pid)) {
    signalGroup(child.pid, 'SIGTERM');
    await until(async () => !groupAlive(child!.pid!), 30_000, 'stack stopped').catch(() => signalGroup(child!.pid!, 'SIGKILL'));
  }
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

describe('a kill -9 of the local stack with data kept', () => {
  it(`loses no feed push: ${POSTS}+ posts × ${FOLLOWERS} followers, killed at ${CRASH_AT.join(', ')}`, async () => {
    await startChild(CRASH_AT[0]);
    const author = await client.user();
    const followers = await Promise.all(Array.from({ length: FOLLOWERS }, () => client.user()));
    for (const f of followers) expect((await call('PUT', `/v1/users/${author.userId}/follow`, f.token)).status).toBeLessThan(300);

    const posted: string[] = [];
    const crashedAt: string[] = [];
    const killer = (async () => {
      for (let i = 0; i < CRASH_AT.length; i++) {
        crashedAt.push(await crashOf());
        let restarted!: () => void;
        up = new Promise<void>((r) => (restarted = r));
        await killGroup();
        await startChild(CRASH_AT[i + 1]);
        restarted();
      }
    })();
    // Waves of concurrent posts until the last kill (the crash points wait for routed posts): at
    // least POSTS, at most MAX_POSTS. A wave cut by a kill is retried with the same keys.
    let killsDone = false;
    void killer.then(
      () => (killsDone = true),
      () => (killsDone = true),
    );
    for (let n = 0; posted.length < POSTS || (!killsDone && posted.length + WAVE <= MAX_POSTS); n += WAVE) {
      const results = await Promise.all(
        Array.from({ length: WAVE }, (_, k) => call('POST', '/v1/posts', author.token, { content: `burst ${n + k}` }, { 'idempotency-key': `crash-${process.pid}-${n + k}` })),
      );
      for (const res of results) {
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        posted.push(res.body.postId as string);
      }
    }
    await killer;

    await useChildDynamo();
    let missing = Number.POSITIVE_INFINITY;
    await until(
      async () => {
        // A loaded machine's DynamoDB Local may time a read out: that is no answer, ask again.
        const stored = await Promise.all(followers.map(pushedTo)).catch(() => undefined);
        if (!stored) return false;
        missing = stored.reduce((n, feed) => n + posted.filter((id) => !feed.has(id)).length, 0);
        return missing === 0;
      },
      DRAIN_MS,
      'every post pushed to every follower’s feed',
    ).catch((err: Error) => console.log(`crash test: ${err.message}`));

    const stored = await Promise.all(followers.map(pushedTo)).catch(() => [] as Set<string>[]);
    const lostEverywhere = posted.filter((id) => stored.length > 0 && stored.every((feed) => !feed.has(id))).length;
    console.log(
      `crash test: killed at ${crashedAt.join(', ')}; ${posted.length} posts × ${FOLLOWERS} followers = ${posted.length * FOLLOWERS} pushes expected, ${missing} lost ` +
        `(${lostEverywhere} posts reached no follower); at the end: ${await queueStats()}`,
    );
    expect(missing).toBe(0);
    expect(crashedAt).toEqual(CRASH_AT);
    expect(new Set(posted).size).toBe(posted.length);
    expect(posted.length).toBeGreaterThanOrEqual(POSTS);
  }, 600_000);
});
