// The multi-region section: three local regions (npm start -- --regions us-east-1,us-west-2,
// eu-west-1), started once the single-region stack is gone (two stacks at once would share the
// machine's 2 cores), each with its own DynamoDB Local, redis-server and API. Measured as a
// client sees it, over HTTP: replication lag, post-to-visible for followers at home and abroad,
// failover time after a region's processes are killed, and acknowledged writes lost across the
// outage and the region's return. The regions are stopped in every case, failure included.
import { execFile, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { scratchDir } from '../../shared/local/engines.js';
import { ROOT } from '../../shared/local/lambda.js';
import { readRegions, regionDown, REGION_START_TIMEOUT_MS, spawnNetwork, type RegionEntry } from '../../shared/local/multi-region.js';
import { groupAlive, signalGroup } from '../../shared/local/process-group.js';
import { GENEROUS_RATE_LIMITS } from '../../tests/support/rate-limits.js';
import { fmt, type BenchContext } from '../context.js';
import { httpJson } from '../http.js';
import { percentile, sleep } from '../stats.js';
import { PAGE } from './constants.js';

const NETWORK = ['us-east-1', 'us-west-2', 'eu-west-1'] as const;
type Region = (typeof NETWORK)[number];
/** The region taken down, and the one its users fail over to (their residency zone's other). */
const HOME: Region = 'us-east-1';
const FAILOVER: Region = 'us-west-2';

/** Three regions' engines starting at once on a loaded 2-core machine (one region's own bound is
 *  REGION_START_TIMEOUT_MS; the parent adds its own start-up). */
const START_TIMEOUT_MS = REGION_START_TIMEOUT_MS + 30_000;
/** SIGTERM lets each region stop its engines; past this the groups are killed. */
const STOP_TIMEOUT_MS = 20_000;
/** Replication: every region's author posts this many times, each read back in the 2 others:
 *  3 × 9 × 2 = 54 samples, 9 for each ordered pair of regions. */
const REPLICATION_ROUNDS = 9;
/** Post-to-visible: posts by a us-east-1 author, each polled for by one follower per region. */
const VISIBLE_POSTS = 20;
/** A sample not seen within this counts as a timeout, at Infinity in its percentiles. */
const SAMPLE_TIMEOUT_MS = 10_000;
/** Poll period of a sample: its resolution is this plus one GET. Two or three pollers at a time
 *  keep the polling itself to ~100 requests/s over the three regions. */
const POLL_MS = 25;
/** The client of a failed-over user retries at this period (the figure's resolution). */
const FAILOVER_RETRY_MS = 100;
/** Well past the 10 s goal: a failover slower than this is reported as not happening. */
const FAILOVER_TIMEOUT_MS = 60_000;
/** Posts acknowledged by each writer before the kill, during the outage and after the return. */
const OUTAGE_POSTS = 5;
/** Every acknowledged post must be in every region within this of the last write. */
const CONVERGE_TIMEOUT_MS = 60_000;
/** Reads in flight at once while checking convergence. */
const CHECK_CONCURRENCY = 8;
/** Subjects drawn until one hashes to the wanted North American region (half do). */
const SIGNUP_ATTEMPTS = 30;
/** Waits for a follow, a replicated profile or a region serving a user again. */
const READY_TIMEOUT_MS = 60_000;

export interface Latencies {
  p50: number;
  p95: number;
  samples: number;
  timeouts: number;
  /** Every sample, ms (a timeout as null in the JSON). */
  samplesMs: number[];
}

export interface RegionsResult {
  regions: string[];
  startMs: number;
  /** Acknowledged POST in one region → GET /v1/posts/{id} answers 200 in another: how many
   *  samples per pair of regions ("from→to"), and each pair's samples (ms), so a slow pair shows. */
  replication: Latencies & { pairs: Record<string, number>; byPair?: Record<string, number[]> };
  /** POST sent by a us-east-1 author → the post in a follower's GET /v1/feed at their home:
   *  followers in us-east-1 (same) and in us-west-2 and eu-west-1 (cross). */
  visible: { posts: number; same: Latencies; cross: Latencies };
  /** SIGKILL of us-east-1's process group → first 201 of a us-east-1 user's POST at us-west-2. */
  failover: { ms: number; killMs: number; attempts: number };
  /** Every post acknowledged in the phase (before, during and after the outage) read back in
   *  every region once the region is back. */
  lost: { acknowledged: number; before: number; during: number; after: number; checks: number; missing: number; missingPosts: string[]; convergeMs: number; restartMs: number };
  wallMs: number;
}

interface Net {
  dataDir: string;
  env: NodeJS.ProcessEnv;
  entries: RegionEntry[];
  /** A token of a subject with no account: public reads in any region. */
  reader: string;
}

interface Client {
  token: string;
  userId: string;
  home: Region;
}

interface Acked {
  postId: string;
  stage: 'before' | 'during' | 'after';
}

const api = (net: Net, name: Region) => net.entries.find((e) => e.name === name)!.api;
const regionAt = (net: Net, base: string) => net.entries.find((e) => e.api === base)?.name as Region | undefined;

/** The section: the regions up, the four figures in order (the outage last: it changes the
 *  network), the regions stopped whatever happened. */
export async function regions(ctx: BenchContext): Promise<void> {
  const began = Date.now();
  const dataDir = scratchDir('feedscale-bench-regions-');
  const env = regionEnv();
  let parent: ChildProcess | undefined;
  try {
    const t = Date.now();
    const started = await startNetwork(dataDir, env);
    parent = started.parent;
    const startMs = Date.now() - t;
    ctx.log(`regions: ${NETWORK.join(', ')} up in ${fmt(startMs / 1000)} s`);
    const reader = ((await httpJson(started.entries[0]!.api, 'POST', '/v1/dev/token', undefined, { sub: 'bench-region-reader' })).json as { token: string }).token;
    const net: Net = { dataDir, env, entries: started.entries, reader };
    const acked: Acked[] = [];
    const people = await signUpPeople(net);
    const replication = await replicationLag(ctx, net, people.authors, acked);
    const visible = await crossRegionVisible(ctx, net, people.authors[0]!, people.followers, acked);
    const outage = await outageAndReturn(ctx, net, people.authors, acked);
    ctx.results.regions = { regions: [...NETWORK], startMs, replication, visible, ...outage, wallMs: Date.now() - began };
  } finally {
    await stopNetwork(parent, dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The regions run as `npm start -- --regions` would: none of the single-region stack's settings
 *  (its engines, thresholds, schedules, limits off) carry over. 16 tables per entity and no
 *  analytics export keep three regions within the machine; rate limits stay on, far above the
 *  phase's bursts. */
function regionEnv(): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(FEED_|DYNAMODB_ENDPOINT$|REDIS_URL$)/.test(k)));
  return { ...inherited, ...GENEROUS_RATE_LIMITS, POWERTOOLS_LOG_LEVEL: 'ERROR', FEED_SHARDS: '16', FEED_ANALYTICS_DIR: '' };
}

const tsx = path.join(ROOT, 'node_modules/.bin/tsx');

async function startNetwork(dataDir: string, env: NodeJS.ProcessEnv): Promise<{ parent: ChildProcess; entries: RegionEntry[] }> {
  try {
    const { parent } = await spawnNetwork(NETWORK, dataDir, env, START_TIMEOUT_MS);
    return { parent, entries: readRegions(dataDir) ?? [] };
  } catch (err) {
    await stopNetwork(undefined, dataDir);
    throw err;
  }
}

/** SIGTERM to the parent (it stops every region listed in stack.json, a restarted one included),
 *  then SIGKILL to any region group still there after STOP_TIMEOUT_MS. */
async function stopNetwork(parent: ChildProcess | undefined, dataDir: string): Promise<void> {
  const groups = (readRegions(dataDir) ?? []).map((e) => e.pid);
  if (parent?.pid && parent.exitCode === null) {
    const exited = new Promise((r) => parent.once('exit', r));
    signalGroup(parent.pid, 'SIGTERM');
    await Promise.race([exited, sleep(STOP_TIMEOUT_MS)]);
  }
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (groups.some(groupAlive) && Date.now() < deadline) await sleep(100);
  for (const pid of [...groups, ...(parent?.pid ? [parent.pid] : [])]) if (groupAlive(pid)) signalGroup(pid, 'SIGKILL');
}

/** One author per region (the us-east-1 one first) and one follower of that author per region. */
async function signUpPeople(net: Net): Promise<{ authors: Client[]; followers: Client[] }> {
  const homes = [['us-east-1', 'US'], ['us-west-2', 'US'], ['eu-west-1', 'FR']] as const;
  const authors = await Promise.all(homes.map(([region, country]) => signUpIn(net, region, country)));
  const followers = await Promise.all(homes.map(([region, country]) => signUpIn(net, region, country)));
  await Promise.all(followers.map((f) => until(`${f.home} follower following the author`, () => call(net, f, 'PUT', `/v1/users/${authors[0]!.userId}/follow`), (r) => r?.status === 204)));
  return { authors, followers };
}

/** A user homed in `region`, signed up as a client would: at that region's API, and again at
 *  the API a 421 home_region names; North American subjects are drawn until one is homed there. */
async function signUpIn(net: Net, region: Region, country: string): Promise<Client> {
  for (let attempt = 0; attempt < SIGNUP_ATTEMPTS; attempt++) {
    const sub = `bench-${region}-${Math.random().toString(36).slice(2)}`;
    const token = ((await httpJson(api(net, region), 'POST', '/v1/dev/token', undefined, { sub })).json as { token: string }).token;
    const handle = `b${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const body = { handle, displayName: handle, country };
    let base = api(net, region);
    let res = await httpJson(base, 'POST', '/v1/users', token, body);
    const redirect = homeRegionApi(res);
    if (redirect) {
      base = redirect;
      res = await httpJson(base, 'POST', '/v1/users', token, body);
    }
    if (res.status !== 201) throw new Error(`POST /v1/users (${country}) answered ${res.status}: ${JSON.stringify(res.json).slice(0, 200)}`);
    if (regionAt(net, base) === region) return { token, userId: (res.json as { userId: string }).userId, home: region };
  }
  throw new Error(`no ${country} subject homed in ${region} after ${SIGNUP_ATTEMPTS} sign-ups`);
}

function homeRegionApi(res: { status: number; json: unknown }): string | undefined {
  const error = (res.json as { error?: { code?: string; api?: string } } | undefined)?.error;
  return res.status === 421 && error?.code === 'home_region' ? error.api : undefined;
}

/** A request as the client sends it: at the user's home API, repeated once at the API a 421
 *  home_region names. A region that does not answer yields undefined. */
async function call(net: Net, user: Client, method: string, route: string, body?: unknown, base = api(net, user.home)) {
  try {
    const res = await httpJson(base, method, route, user.token, body);
    const redirect = homeRegionApi(res);
    return redirect ? await httpJson(redirect, method, route, user.token, body) : res;
  } catch {
    return undefined;
  }
}

/** Polls until `check` passes or READY_TIMEOUT_MS passes (then throws, naming the wait). */
async function until<T>(what: string, probe: () => Promise<T>, check: (v: T) => boolean, timeoutMs = READY_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s (last ${JSON.stringify(value)?.slice(0, 200)})`);
    await sleep(POLL_MS * 10);
  }
}

/** performance.now() when `probe` first answered true, polled every POLL_MS; undefined when it
 *  did not within SAMPLE_TIMEOUT_MS. */
async function firstSeen(probe: () => Promise<boolean>): Promise<number | undefined> {
  const deadline = performance.now() + SAMPLE_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (await probe().catch(() => false)) return performance.now();
    await sleep(POLL_MS);
  }
  return undefined;
}

const latencies = (samples: number[]): Latencies => ({
  p50: percentile(samples, 0.5),
  p95: percentile(samples, 0.95),
  samples: samples.length,
  timeouts: samples.filter((s) => s === Infinity).length,
  samplesMs: samples.map((s) => Math.round(s)),
});

async function postAt(base: string, user: Client, content: string): Promise<{ postId: string; ackedAt: number }> {
  const res = await httpJson(base, 'POST', '/v1/posts', user.token, { content });
  if (res.status !== 201) throw new Error(`POST /v1/posts at ${base} answered ${res.status}: ${JSON.stringify(res.json).slice(0, 200)}`);
  return { postId: (res.json as { postId: string }).postId, ackedAt: performance.now() };
}

/** The public read of a post in `region` (straight from its Posts table: no cache in the way). */
const postIn = async (net: Net, region: Region, postId: string) => (await httpJson(api(net, region), 'GET', `/v1/posts/${postId}`, net.reader)).status === 200;

/** Each region's author posts at home in turn, REPLICATION_ROUNDS times; each post is polled for
 *  in the two other regions from its acknowledgement, one post at a time so that the polling of
 *  several does not load the regions it measures. */
async function replicationLag(ctx: BenchContext, net: Net, authors: Client[], acked: Acked[]): Promise<RegionsResult['replication']> {
  const samples: number[] = [];
  const pairs: Record<string, number> = {};
  const byPair: Record<string, number[]> = {};
  for (let round = 0; round < REPLICATION_ROUNDS; round++) {
    for (const a of authors) {
      const { postId, ackedAt } = await postAt(api(net, a.home), a, `replicated? ${round}`);
      acked.push({ postId, stage: 'before' });
      await Promise.all(
        NETWORK.filter((r) => r !== a.home).map(async (r) => {
          const at = await firstSeen(() => postIn(net, r, postId));
          const lag = at === undefined ? Infinity : at - ackedAt;
          const pair = `${a.home}→${r}`;
          samples.push(lag);
          pairs[pair] = (pairs[pair] ?? 0) + 1;
          (byPair[pair] ??= []).push(Math.round(lag));
        }),
      );
    }
    ctx.tick(`regions: replication round ${round + 1}/${REPLICATION_ROUNDS}`);
  }
  const result = { ...latencies(samples), pairs, byPair };
  const slowest = Object.entries(byPair).map(([pair, xs]) => [pair, Math.max(...xs)] as const).sort((x, y) => y[1] - x[1])[0];
  ctx.log(`regions: replication lag p50 ${fmt(result.p50, 0)} · p95 ${fmt(result.p95, 0)} ms (${result.samples} samples, ${result.timeouts} timeouts)${slowest ? `; slowest pair ${slowest[0]} (max ${fmt(slowest[1], 0)} ms)` : ''}`);
  return result;
}

/** Whether `postId` is on the first page of the follower's feed, read at their home region. */
async function inFeed(net: Net, f: Client, postId: string): Promise<boolean> {
  const res = await httpJson(api(net, f.home), 'GET', `/v1/feed?limit=${PAGE}`, f.token);
  return res.status === 200 && (res.json as { items: { postId: string }[] }).items.some((i) => i.postId === postId);
}

/** POST by the us-east-1 author → the post on each follower's first page at their home region,
 *  timed from the POST as the single-region post-to-visible is. */
async function crossRegionVisible(ctx: BenchContext, net: Net, author: Client, followers: Client[], acked: Acked[]): Promise<RegionsResult['visible']> {
  const same: number[] = [];
  const cross: number[] = [];
  for (let k = 0; k < VISIBLE_POSTS; k++) {
    // Each follower has a cached first page already, as a reader would.
    await Promise.all(followers.map((f) => inFeed(net, f, '')));
    const t0 = performance.now();
    const { postId } = await postAt(api(net, author.home), author, `visible everywhere? ${k}`);
    acked.push({ postId, stage: 'before' });
    await Promise.all(
      followers.map(async (f) => {
        const at = await firstSeen(() => inFeed(net, f, postId));
        (f.home === author.home ? same : cross).push(at === undefined ? Infinity : at - t0);
      }),
    );
    ctx.tick(`regions: post-to-visible ${k + 1}/${VISIBLE_POSTS}`);
  }
  const result = { posts: VISIBLE_POSTS, same: latencies(same), cross: latencies(cross) };
  ctx.log(`regions: post-to-visible p95 same-region ${fmt(result.same.p95, 0)} ms, cross-region ${fmt(result.cross.p95, 0)} ms`);
  return result;
}

/** Writes right before the kill, the failover, writes during the outage (the us-east-1 author
 *  through us-west-2, the other regions' authors at home), the return, writes after it, then
 *  every acknowledged post read back in every region. */
async function outageAndReturn(ctx: BenchContext, net: Net, authors: Client[], acked: Acked[]): Promise<Pick<RegionsResult, 'failover' | 'lost'>> {
  const [east, west, eu] = authors as [Client, Client, Client];
  // The failover region must hold the user's home data before their home goes away.
  await until('the us-east-1 author known in us-west-2', () => httpJson(api(net, FAILOVER), 'GET', `/v1/users/${east.userId}`, net.reader), (r) => r.status === 200);
  // Acknowledged in us-east-1 and killed at once: some are still in its stream, not yet pulled.
  for (let i = 0; i < OUTAGE_POSTS; i++) {
    for (const a of [east, eu]) acked.push({ postId: (await postAt(api(net, a.home), a, `before the outage ${i}`)).postId, stage: 'before' });
  }
  const failover = await failOver(ctx, net, east, acked);
  for (let i = 0; i < OUTAGE_POSTS; i++) {
    for (const [a, base] of [[east, api(net, FAILOVER)], [west, api(net, west.home)], [eu, api(net, eu.home)]] as const) {
      acked.push({ postId: (await postAt(base, a, `during the outage ${i}`)).postId, stage: 'during' });
    }
  }
  const t = Date.now();
  await bringHomeBack(net);
  const restartMs = Date.now() - t;
  ctx.log(`regions: ${HOME} back in ${fmt(restartMs / 1000)} s`);
  for (let i = 0; i < OUTAGE_POSTS; i++) {
    const res = await until(`a post by the us-east-1 author after the return`, () => call(net, east, 'POST', '/v1/posts', { content: `after the outage ${i}` }), (r) => r?.status === 201);
    acked.push({ postId: (res!.json as { postId: string }).postId, stage: 'after' });
  }
  const lost = await readBackEverywhere(ctx, net, acked);
  return { failover, lost: { ...lost, restartMs } };
}

/** SIGKILL of us-east-1's group, then the author's POST at us-west-2 every FAILOVER_RETRY_MS
 *  until 201: the failover time runs from the kill to that 201. */
async function failOver(ctx: BenchContext, net: Net, user: Client, acked: Acked[]): Promise<RegionsResult['failover']> {
  const t0 = performance.now();
  await regionDown(net.dataDir, HOME);
  const killMs = performance.now() - t0;
  let attempts = 0;
  while (performance.now() - t0 < FAILOVER_TIMEOUT_MS) {
    const sent = performance.now();
    attempts++;
    const res = await httpJson(api(net, FAILOVER), 'POST', '/v1/posts', user.token, { content: 'the first post after the failover' }).catch(() => undefined);
    if (res?.status === 201) {
      acked.push({ postId: (res.json as { postId: string }).postId, stage: 'during' });
      const ms = performance.now() - t0;
      ctx.log(`regions: failover in ${fmt(ms / 1000, 2)} s (${attempts} attempts; the kill took ${fmt(killMs, 0)} ms)`);
      return { ms, killMs, attempts };
    }
    await sleep(Math.max(0, FAILOVER_RETRY_MS - (performance.now() - sent)));
  }
  ctx.log(`regions: no failover within ${FAILOVER_TIMEOUT_MS / 1000} s`);
  return { ms: Infinity, killMs, attempts };
}

const feedctlRegion = promisify(execFile);

/** `feedctl region up` in a process of the regions' own environment (a restart inherits its
 *  caller's, and this process carries the single-region stack's), then the new endpoints. */
async function bringHomeBack(net: Net): Promise<void> {
  await feedctlRegion(tsx, ['shared/local/feedctl.ts', 'region', 'up', HOME, '--data-dir', net.dataDir], { cwd: ROOT, env: net.env, timeout: START_TIMEOUT_MS });
  net.entries = readRegions(net.dataDir) ?? net.entries;
}

/** Every acknowledged post in every region, re-read until all are found or CONVERGE_TIMEOUT_MS
 *  passes; what is still missing then is lost. */
async function readBackEverywhere(ctx: BenchContext, net: Net, acked: Acked[]): Promise<Omit<RegionsResult['lost'], 'restartMs'>> {
  const t = Date.now();
  let pending = acked.flatMap((p) => NETWORK.map((region) => ({ ...p, region })));
  const checks = pending.length;
  for (;;) {
    const found = new Set<number>();
    for (let i = 0; i < pending.length; i += CHECK_CONCURRENCY) {
      await Promise.all(pending.slice(i, i + CHECK_CONCURRENCY).map(async (c, j) => (await postIn(net, c.region, c.postId).catch(() => false)) && found.add(i + j)));
    }
    pending = pending.filter((_, i) => !found.has(i));
    if (pending.length === 0 || Date.now() - t > CONVERGE_TIMEOUT_MS) break;
    await sleep(POLL_MS * 10);
  }
  const count = (stage: Acked['stage']) => acked.filter((p) => p.stage === stage).length;
  const result = {
    acknowledged: acked.length,
    before: count('before'),
    during: count('during'),
    after: count('after'),
    checks,
    missing: pending.length,
    missingPosts: pending.slice(0, 20).map((c) => `${c.stage} ${c.postId} in ${c.region}`),
    convergeMs: Date.now() - t,
  };
  ctx.log(`regions: ${result.acknowledged} acknowledged posts × ${NETWORK.length} regions read back: ${result.missing} missing (converged in ${fmt(result.convergeMs / 1000)} s)`);
  return result;
}
