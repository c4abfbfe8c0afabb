// The multi-region local stack (npm start -- --regions …): one stack process per region with its
// own engines and API, listed in stack.json; a region outage (feedctl region down) and its
// return (region up) on kept data; users minted in their residency table set. Started once for
// the whole file: three regions' engines are the heaviest thing the suite starts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logicalShardOf } from '../../shared/domain/ids.js';
import { tableSetOfLogical } from '../../shared/domain/residency.js';
import { ROOT } from '../../shared/local/lambda.js';
import type { RegionEntry } from '../../shared/local/multi-region.js';
import { GENEROUS_RATE_LIMITS } from '../support/rate-limits.js';

const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1'] as const;
/** Three regions' DynamoDB Local and redis-server starting at once on a loaded 2-core machine. */
const START_MS = 240_000;
const tsx = path.join(ROOT, 'node_modules/.bin/tsx');

let dataDir: string;
let parent: ChildProcess;
let output = '';
let regions: RegionEntry[];

const api = (name: string) => regions.find((r) => r.name === name)!.api;
const feedctl = (...args: string[]) =>
  spawnSync(tsx, ['shared/local/feedctl.ts', 'region', ...args, '--data-dir', dataDir], { cwd: ROOT, encoding: 'utf8', timeout: START_MS });

async function request(base: string, method: string, route: string, opts: { token?: string; body?: unknown } = {}) {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: { ...(opts.token && { authorization: `Bearer ${opts.token}` }), ...(opts.body !== undefined && { 'content-type': 'application/json' }) },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** A new user of `country` signed up at `base`. North American users are spread over two
 *  regions by their subject, so a subject homed in the other one is answered 409 wrong_region:
 *  another subject is drawn (each has even odds). */
async function signUp(base: string, country: string) {
  for (let attempt = 0; ; attempt++) {
    const sub = `sub-${country}-${Math.random().toString(36).slice(2)}`;
    const { body } = await request(base, 'POST', '/v1/dev/token', { body: { sub } });
    const handle = `r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    const res = await request(base, 'POST', '/v1/users', { token: body.token, body: { handle, displayName: handle, country } });
    if (res.status === 409 && res.body?.error?.code === 'wrong_region' && attempt < 30) continue;
    return { ...res, token: body.token as string };
  }
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'feedscale-regions-'));
  // 16 tables per entity and no analytics export: three regions and their replication share the
  // machine with the rest of the suite.
  const env: NodeJS.ProcessEnv = { ...process.env, ...GENEROUS_RATE_LIMITS, POWERTOOLS_LOG_LEVEL: 'ERROR', FEED_SHARDS: '16', FEED_ANALYTICS_DIR: '' };
  parent = spawn(tsx, ['shared/local/start.ts', '--regions', REGIONS.join(','), '--data-dir', dataDir], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`regions not ready in ${START_MS} ms:\n${output.slice(-3000)}`)), START_MS);
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      if (/regions ready in/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    parent.stdout!.on('data', collect);
    parent.stderr!.on('data', collect);
    parent.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start -- --regions exited with ${code}:\n${output.slice(-3000)}`));
    });
  });
  regions = JSON.parse(readFileSync(path.join(dataDir, 'stack.json'), 'utf8')).regions;
}, START_MS + 10_000);

afterAll(async () => {
  if (parent?.pid) {
    const exited = parent.exitCode !== null ? Promise.resolve() : new Promise((r) => parent.once('exit', r));
    process.kill(-parent.pid, 'SIGTERM');
    await exited;
  }
  // Whatever a failed test left running: every region's group.
  for (const r of regions ?? []) {
    try {
      process.kill(-r.pid, 'SIGKILL');
    } catch {
      // Stopped with the parent.
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

describe('npm start -- --regions', () => {
  it('starts one stack per region, each with its own engines and API, listed in stack.json', async () => {
    expect(regions.map((r) => r.name)).toEqual([...REGIONS]);
    expect(new Set(regions.map((r) => r.dynamodb)).size).toBe(3);
    expect(new Set(regions.map((r) => r.redis)).size).toBe(3);
    for (const r of regions) {
      expect(r).toMatchObject({ api: expect.stringMatching(/^http:/), dynamodb: expect.stringMatching(/^http:/), redis: expect.stringMatching(/^redis:/), pid: expect.any(Number) });
      expect((await request(r.api, 'GET', '/v1/health')).status).toBe(200);
    }
    for (const name of REGIONS) expect(output).toMatch(new RegExp(`${name}\\s+api http://\\S+/v1\\s+dynamodb http://\\S+\\s+redis redis://\\S+\\s+pid \\d+`));
  });

  it('mints EU/EEA users in the GDPR table set and other European users in the set that may fail over', async () => {
    const de = await signUp(api('eu-west-1'), 'DE');
    const gb = await signUp(api('eu-west-1'), 'GB');
    expect(de.status).toBe(201);
    expect(gb.status).toBe(201);
    expect(tableSetOfLogical(logicalShardOf(de.body.userId)).name).toBe('eu-west-1-gdpr');
    expect(tableSetOfLogical(logicalShardOf(gb.body.userId)).name).toBe('eu-west-1-other');
  });

  it('takes a region down with feedctl region down while the others keep serving, and brings it back on its data', async () => {
    const user = await signUp(api('eu-west-1'), 'FR');
    expect(user.status).toBe(201);

    const down = feedctl('down', 'eu-west-1');
    expect(down.status, down.stderr).toBe(0);
    await expect(request(api('eu-west-1'), 'GET', '/v1/health')).rejects.toThrow();
    expect((await request(api('us-east-1'), 'GET', '/v1/health')).status).toBe(200);
    expect(feedctl('list').stdout).toMatch(/eu-west-1 .* down/);

    const up = feedctl('up', 'eu-west-1');
    expect(up.status, up.stderr).toBe(0);
    regions = JSON.parse(readFileSync(path.join(dataDir, 'stack.json'), 'utf8')).regions;
    const me = await request(api('eu-west-1'), 'GET', '/v1/me', { token: user.token });
    expect(me.status).toBe(200);
    expect(me.body.userId).toBe(user.body.userId);
  }, START_MS);

  it('lets feedctl read one region of the stack with --region, and asks for one without it', () => {
    const { FEED_SFN_ENDPOINT: _shared, ...env } = process.env;
    const stats = (...args: string[]) => spawnSync(tsx, ['shared/local/feedctl.ts', 'stats', '--data-dir', dataDir, ...args], { cwd: ROOT, encoding: 'utf8', env, timeout: 60_000 });
    const one = stats('--region', 'us-west-2');
    expect(one.status, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/queue\s+fanout/);
    const none = stats();
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/several regions \(us-east-1, us-west-2, eu-west-1\): name one with --region/);
  });

  it('refuses an unknown region name in one line, and feedctl refuses a region not running', () => {
    const bad = spawnSync(tsx, ['shared/local/start.ts', '--regions', 'us-east-1,mars-1', '--data-dir', dataDir], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^unknown region mars-1 \(one of us-east-1, .*\)$/);
    const absent = feedctl('down', 'sa-east-1');
    expect(absent.status).toBe(1);
    expect(absent.stderr).toMatch(/region sa-east-1 is not part of the running stack/);
  });
});

describe('replication between the regions (the Global Tables stand-in)', () => {
  const post = async (region: string, token: string, text: string) => {
    const res = await request(api(region), 'POST', '/v1/posts', { token, body: { content: text } });
    expect(res.status).toBe(201);
    return res.body.postId as string;
  };
  /** Polls a region for a post until it answers `status` (bounded by the test's time). */
  const seen = async (region: string, postId: string, status: number, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await request(api(region), 'GET', `/v1/posts/${postId}`, { token: reader });
      if (res.status === status) return res;
      if (Date.now() > deadline) throw new Error(`${region}: post ${postId} answered ${res.status}, not ${status}, after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  let reader: string;

  beforeAll(async () => {
    reader = (await request(api('eu-west-1'), 'POST', '/v1/dev/token', { body: { sub: 'replication-reader' } })).body.token;
  });

  it('carries a post written in one region to every region, and its deletion too', async () => {
    const author = await signUp(api('us-east-1'), 'US');
    expect(author.status).toBe(201);
    const postId = await post('us-east-1', author.token, 'seen everywhere');
    for (const r of ['us-west-2', 'eu-west-1']) expect((await seen(r, postId, 200)).body.content).toBe('seen everywhere');

    expect((await request(api('us-east-1'), 'DELETE', `/v1/posts/${postId}`, { token: author.token })).status).toBe(204);
    for (const r of ['us-west-2', 'eu-west-1']) await seen(r, postId, 404);
  }, START_MS);

  it('keeps a GDPR user’s home data in the EU: their profile is in no US region’s tables, their post is everywhere', async () => {
    const de = await signUp(api('eu-west-1'), 'DE');
    const postId = await post('eu-west-1', de.token, 'from the EU');
    await seen('us-east-1', postId, 200);
    for (const r of ['us-east-1', 'us-west-2']) expect((await request(api(r), 'GET', `/v1/users/${de.body.userId}`, { token: reader })).status).toBe(404);
  }, START_MS);

  it('delivers what a region missed while it was down once it is back', async () => {
    const author = await signUp(api('us-west-2'), 'US');
    const down = feedctl('down', 'eu-west-1');
    expect(down.status, down.stderr).toBe(0);
    const postId = await post('us-west-2', author.token, 'written during the outage');
    await seen('us-east-1', postId, 200);

    const up = feedctl('up', 'eu-west-1');
    expect(up.status, up.stderr).toBe(0);
    regions = JSON.parse(readFileSync(path.join(dataDir, 'stack.json'), 'utf8')).regions;
    expect((await seen('eu-west-1', postId, 200)).body.content).toBe('written during the outage');
  }, START_MS);
});
