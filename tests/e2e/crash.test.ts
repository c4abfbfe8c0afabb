// Nothing is lost locally on a crash: a stack with data kept (`npm start -- --data-dir <tmp>`, as
// a child process in its own process group) is killed with SIGKILL — DynamoDB Local and
// redis-server with it — several times during a burst of posts, each time just after it saved its
// stream checkpoints (the moment that used to lose queued fan-out jobs), and restarted on the same
// data. Every follower's feed must end up with every acknowledged post.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../shared/local/lambda.js';
import { stackClient, until, type StackUser } from '../support/own-stack.js';
import { GENEROUS_RATE_LIMITS } from '../support/rate-limits.js';
import { resetConfig } from '../../shared/edge/config.js';
import { resetDynamo } from '../../shared/store/client.js';
import * as feeds from '../../shared/store/feeds.js';

const POSTS = 20;
const FOLLOWERS = 30;
/** Kills happen once this many posts are acknowledged (and the checkpoint file was saved). */
const KILL_AFTER_POSTS = [6, 13, POSTS];
/** Posts sent at once. */
const WAVE = 4;
/** Posting goes on while kills are pending, up to this many (fewer than a feed page of 50). */
const MAX_POSTS = 48;
/** A (re)start on a loaded 2-core machine: Java's start-up dominates. */
const START_MS = 180_000;
/** The stack saves checkpoints every 5 s; one save after the trigger is waited for at most this. */
const CHECKPOINT_WAIT_MS = 20_000;

const dataDir = mkdtempSync(path.join(tmpdir(), 'feedscale-crash-'));
const checkpointFile = path.join(dataDir, 'stream-checkpoints.json');
let child: ChildProcess | undefined;
let base = '';
let up: Promise<void> = Promise.resolve();
let output = '';

/** Tries a start this many times: on a loaded machine DynamoDB Local can miss its own 30 s
 *  readiness deadline, which says nothing about what survived the kill. */
const START_ATTEMPTS = 3;

async function startChild(): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const began = Date.now();
    try {
      await startOnce();
      console.log(`crash test: stack ready in ${((Date.now() - began) / 1000).toFixed(1)} s`);
      return;
    } catch (err) {
      if (attempt >= START_ATTEMPTS) throw err;
      console.log(`crash test: start attempt ${attempt} failed, retrying: ${(err as Error).message.split('\n').slice(0, 3).join(' | ')}`);
      if (child?.pid && groupAlive(child.pid)) await killGroup();
    }
  }
}

/** Starts `npm start -- --data-dir` as a process group leader and waits for "ready". */
function startOnce(): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...GENEROUS_RATE_LIMITS, PORT: '0', POWERTOOLS_LOG_LEVEL: 'ERROR' };
  // Its own engines: not the shared test stack's.
  for (const name of ['DYNAMODB_ENDPOINT', 'REDIS_URL', 'FEED_SFN_ENDPOINT']) delete env[name];
  const proc = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['shared/local/start.ts', '--data-dir', dataDir], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child = proc;
  output = '';
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stack not ready in ${START_MS} ms:\n${output.slice(-3000)}`)), START_MS);
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      if (/ready in/.test(output)) {
        clearTimeout(timer);
        base = JSON.parse(readFileSync(path.join(dataDir, 'stack.json'), 'utf8')).api;
        resolve();
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`stack exited (${code ?? signal}):\n${output.slice(-3000)}`));
    });
  });
}

/** SIGKILL to the whole group: the stack, DynamoDB Local and redis-server die at once. */
async function killGroup(): Promise<void> {
  const proc = child!;
  const exited = proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((r) => proc.once('exit', r));
  process.kill(-proc.pid!, 'SIGKILL');
  await exited;
  // The engines are in the group too; give the kernel a moment to reap them before the restart
  // reuses their data files.
  await until(async () => !groupAlive(proc.pid!), 10_000, 'the process group gone');
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

const mtime = () => {
  try {
    return statSync(checkpointFile).mtimeMs;
  } catch {
    return 0;
  }
};

/** True once the checkpoint file changed since the last call while the fan-out queue holds jobs
 *  (the stack's own stats, served beside its Step Functions API). */
let lastSave = 0;
async function checkpointSavedWithBacklog(): Promise<boolean> {
  const saved = mtime();
  if (saved === lastSave) return false;
  lastSave = saved;
  try {
    const { stepFunctions } = JSON.parse(readFileSync(path.join(dataDir, 'stack.json'), 'utf8')) as { stepFunctions: string };
    const stats = (await (await fetch(`${stepFunctions}/feedscale/stats`)).json()) as { queues: Record<string, { waiting: number; inFlight: number }> };
    return stats.queues.fanout!.waiting + stats.queues.fanout!.inFlight > 0;
  } catch {
    return false;
  }
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

/** Points this process's store client at the running child's DynamoDB Local. */
async function useChildDynamo(): Promise<void> {
  const { dynamodb } = JSON.parse(readFileSync(path.join(dataDir, 'stack.json'), 'utf8')) as { dynamodb: string };
  process.env.DYNAMODB_ENDPOINT = dynamodb;
  process.env.FEED_LOCAL = '1';
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  process.env.AWS_REGION ??= 'us-east-1';
  resetConfig();
  resetDynamo();
}

afterAll(async () => {
  if (child?.pid && groupAlive(child.pid)) {
    process.kill(-child.pid, 'SIGTERM');
    await until(async () => !groupAlive(child!.pid!), 30_000, 'stack stopped').catch(() => process.kill(-child!.pid!, 'SIGKILL'));
  }
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

describe('a kill -9 of the local stack with data kept', () => {
  it(`loses no feed push: ${POSTS}+ posts × ${FOLLOWERS} followers, ${KILL_AFTER_POSTS.length} kills during the burst`, async () => {
    await startChild();
    const author = await client.user();
    const followers = await Promise.all(Array.from({ length: FOLLOWERS }, () => client.user()));
    for (const f of followers) expect((await call('PUT', `/v1/users/${author.userId}/follow`, f.token)).status).toBeLessThan(300);

    const posted: string[] = [];
    let kills = 0;
    let killedWithBacklog = 0;
    const killer = (async () => {
      for (const after of KILL_AFTER_POSTS) {
        await until(async () => posted.length >= after, START_MS, `${after} posts acknowledged`);
        // Just after a checkpoint save, while fan-out jobs are still queued: the moment that lost
        // them when queues lived in memory (the checkpoint already covered their posts).
        const backlog = await until(async () => (await checkpointSavedWithBacklog()) || undefined, CHECKPOINT_WAIT_MS, 'a save with jobs queued').catch(() => false);
        if (backlog) killedWithBacklog++;
        let restarted!: () => void;
        up = new Promise<void>((r) => (restarted = r));
        await killGroup();
        kills++;
        await startChild();
        restarted();
      }
    })();
    // Waves of concurrent posts keep the fan-out queue busy until the last kill, so saves find
    // jobs queued; at least POSTS posts, at most MAX_POSTS (one feed page holds them all).
    let killsDone = false;
    void killer.finally(() => (killsDone = true));
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
        const stored = await Promise.all(followers.map(pushedTo));
        missing = stored.reduce((n, feed) => n + posted.filter((id) => !feed.has(id)).length, 0);
        return missing === 0;
      },
      240_000,
      'every post pushed to every follower’s feed',
    ).catch((err: Error) => console.log(`crash test: ${err.message}`));

    console.log(`crash test: ${kills} kills (${killedWithBacklog} with fan-out jobs queued), ${posted.length} posts × ${FOLLOWERS} followers = ${posted.length * FOLLOWERS} pushes expected, ${missing} lost`);
    expect(kills).toBe(KILL_AFTER_POSTS.length);
    expect(new Set(posted).size).toBe(posted.length);
    expect(posted.length).toBeGreaterThanOrEqual(POSTS);
    expect(missing).toBe(0);
  }, 900_000);
});
