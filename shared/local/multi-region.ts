// The local multi-region stack: `npm start -- --regions a,b,c` runs one stack process per region
// (its own DynamoDB Local, redis-server and API port), each in its own process group, so killing
// one group is a region outage. The parent writes <data-dir>/stack.json with a `regions` list;
// `feedctl region down|up` kills and restarts one region's group from that file.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { writeFileAtomically } from './journal.js';
import path from 'node:path';
import { REGIONS, type RegionName } from '../domain/regions.js';
import { LOCAL_NODE_FLAGS, ROOT } from './lambda.js';
import { groupAlive, signalGroup } from './process-group.js';

export interface RegionEntry {
  name: RegionName;
  api: string;
  dynamodb: string;
  redis: string | null;
  pid: number;
  stepFunctions: string;
  /** Where the region keeps its data, log (stack.log) and its own stack.json. */
  dataDir: string;
}

/** The variables a region's stack is configured by, kept for its restarts. */
const SETTING = /^(FEED_|POWERTOOLS_|AWS_REGION$)/;

/** A region's stack starts DynamoDB Local and redis-server: allow for a loaded machine. */
export const REGION_START_TIMEOUT_MS = 180_000;
const POLL_MS = 200;

export class RegionArgumentError extends Error {}

/** `--regions` value: names from the six, without repeats, in the order given. */
export function parseRegionList(value: string): RegionName[] {
  const names = value.split(',').map((n) => n.trim()).filter(Boolean);
  if (names.length === 0) throw new RegionArgumentError('--regions needs at least one region name');
  const known = REGIONS.map((r) => r.name) as string[];
  for (const n of names) {
    if (!known.includes(n)) throw new RegionArgumentError(`unknown region ${n} (one of ${known.join(', ')})`);
  }
  if (new Set(names).size !== names.length) throw new RegionArgumentError(`--regions names a region twice: ${value}`);
  return names as RegionName[];
}

export const regionDir = (dataDir: string, name: RegionName) => path.join(dataDir, 'regions', name);

/** Starts one region's stack process in its own process group and waits for its stack.json. */
export async function startRegion(dataDir: string, name: RegionName, network: readonly RegionName[], opts: { restart?: boolean } = {}): Promise<RegionEntry> {
  let env: NodeJS.ProcessEnv = process.env;
  const dir = regionDir(dataDir, name);
  mkdirSync(dir, { recursive: true });
  const ownFile = path.join(dir, 'stack.json');
  rmSync(ownFile, { force: true });
  // A restart (`region up`, from another process) must run the region as it was started: same
  // shard count, limits and settings, or it would read its kept tables through another mapping.
  const settingsFile = path.join(dir, 'settings.json');
  const kept = opts.restart ? (readJson(settingsFile) as Record<string, string> | undefined) : undefined;
  if (kept) env = { ...env, ...kept };
  else writeFileAtomically(settingsFile, JSON.stringify(Object.fromEntries(Object.entries(env).filter(([k, v]) => SETTING.test(k) && v !== undefined)), null, 2));
  const log = openSync(path.join(dir, 'stack.log'), 'a');
  // Each region starts its own engines: endpoints given to the parent are not the region's.
  const { REDIS_URL: _redis, DYNAMODB_ENDPOINT: _dynamo, FEED_SFN_ENDPOINT: _sfn, ...inherited } = env;
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), [...LOCAL_NODE_FLAGS, 'shared/local/start.ts', '--data-dir', dir], {
    cwd: ROOT,
    // PORT=0: each region's API on a free port; the region's data is always kept, so an outage
    // (SIGKILL of the group) and `region up` keep what it had written.
    env: { ...inherited, FEED_REGION: name, FEED_REGIONS: network.join(','), PORT: '0', FEED_LOCAL_PEERS: network.filter((r) => r !== name).join(','), FEED_LOCAL_REGIONS_DIR: path.join(dataDir, 'regions') },
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.unref();
  const deadline = Date.now() + REGION_START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`region ${name} exited with ${child.exitCode} while starting (${path.join(dir, 'stack.log')}):\n${logTail(dir)}`);
    const own = readJson(ownFile) as { api?: string; dynamodb?: string; redis?: string | null; stepFunctions?: string; pid?: number } | undefined;
    if (own?.api && own.dynamodb && own.stepFunctions) {
      return { name, api: own.api, dynamodb: own.dynamodb, redis: own.redis ?? null, stepFunctions: own.stepFunctions, pid: child.pid!, dataDir: dir };
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  signalGroup(child.pid!, 'SIGKILL');
  throw new Error(`region ${name} did not start within ${REGION_START_TIMEOUT_MS / 1000} s; see ${path.join(dir, 'stack.log')}`);
}

/** Starts every region at once (their engines start in parallel) and writes stack.json. */
export async function startRegions(dataDir: string, names: readonly RegionName[], opts: { fresh?: boolean } = {}): Promise<RegionEntry[]> {
  if (opts.fresh) for (const name of names) rmSync(regionDir(dataDir, name), { recursive: true, force: true });
  const started = await Promise.allSettled(names.map((name) => startRegion(dataDir, name, names)));
  const entries = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    stopRegions(entries);
    throw failed.reason;
  }
  writeRegions(dataDir, entries);
  return entries;
}

export function readRegions(dataDir: string): RegionEntry[] | undefined {
  const stack = readJson(path.join(dataDir, 'stack.json')) as { regions?: RegionEntry[] } | undefined;
  return stack?.regions;
}

/** `pid`: the parent (npm start) process, which stops every region on Ctrl-C. */
export function writeRegions(dataDir: string, entries: readonly RegionEntry[], pid = process.pid): void {
  mkdirSync(dataDir, { recursive: true });
  writeFileAtomically(path.join(dataDir, 'stack.json'), JSON.stringify({ pid, regions: entries }, null, 2));
}

/** One console line per region. */
export function regionLine(e: RegionEntry): string {
  return `${e.name.padEnd(15)} api ${e.api}/v1  dynamodb ${e.dynamodb}  redis ${e.redis ?? 'off'}  pid ${e.pid}`;
}

/** A region outage: SIGKILL of its process group (the stack, DynamoDB Local, redis-server). */
export async function regionDown(dataDir: string, name: RegionName): Promise<RegionEntry> {
  const entry = findRegion(dataDir, name);
  if (!alive(entry.pid)) throw new Error(`region ${name} is already down (pid ${entry.pid} has exited)`);
  signalGroup(entry.pid, 'SIGKILL');
  // Returns once every process of the group has ended: a restart must find DynamoDB Local's
  // files and ports released.
  const deadline = Date.now() + GROUP_EXIT_TIMEOUT_MS;
  while (groupAlive(entry.pid)) {
    if (Date.now() > deadline) throw new Error(`region ${name}'s processes (group ${entry.pid}) did not exit within ${GROUP_EXIT_TIMEOUT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return entry;
}

/** SIGKILL takes effect at once, but a loaded machine may take a while to end a JVM's threads. */
const GROUP_EXIT_TIMEOUT_MS = 30_000;

/** Restarts a region that is down, on its kept data, and records its new endpoints. */
export async function regionUp(dataDir: string, name: RegionName): Promise<RegionEntry> {
  const entry = findRegion(dataDir, name);
  if (alive(entry.pid)) throw new Error(`region ${name} is up (pid ${entry.pid})`);
  const stack = readJson(path.join(dataDir, 'stack.json')) as { pid?: number; regions?: RegionEntry[] } | undefined;
  const started = await startRegion(dataDir, name, (stack?.regions ?? []).map((e) => e.name), { restart: true });
  writeRegions(dataDir, (stack?.regions ?? []).map((e) => (e.name === name ? started : e)), stack?.pid);
  return started;
}

export function stopRegions(entries: readonly RegionEntry[]): void {
  for (const e of entries) if (alive(e.pid)) signalGroup(e.pid, 'SIGTERM');
}

/** How often the parent checks its regions' processes. */
const WATCH_MS = 1000;

/** Reports each region's transitions between up and down, every WATCH_MS. */
export function watchRegions(dataDir: string, report: (line: string) => void): NodeJS.Timeout {
  const wasUp = new Map<string, boolean>();
  return setInterval(() => {
    for (const e of readRegions(dataDir) ?? []) {
      const up = alive(e.pid);
      if (wasUp.has(e.name) && wasUp.get(e.name) !== up) report(up ? `${regionLine(e)}  (up again)` : `${e.name} is down (pid ${e.pid} exited)`);
      wasUp.set(e.name, up);
    }
  }, WATCH_MS);
}

function findRegion(dataDir: string, name: RegionName): RegionEntry {
  const entries = readRegions(dataDir);
  if (!entries) throw new Error(`no multi-region stack is running (${path.join(dataDir, 'stack.json')} lists no regions); start one with npm start -- --regions …`);
  const entry = entries.find((e) => e.name === name);
  if (!entry) throw new Error(`region ${name} is not part of the running stack (${entries.map((e) => e.name).join(', ')})`);
  return entry;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The end of a region's log, for an error that says why it did not start. */
function logTail(dir: string): string {
  const file = path.join(dir, 'stack.log');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-15).join('\n') : '';
}

function readJson(file: string): unknown {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** `npm start -- --regions …` as a child process group of its own (the tests' and the bench's
 *  network): resolves once every region is ready; `output()` is the console output so far. */
export async function spawnNetwork(names: readonly RegionName[], dataDir: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ parent: ChildProcess; output: () => string }> {
  const parent = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['shared/local/start.ts', '--regions', names.join(','), '--data-dir', dataDir], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  parent.stdout!.on('data', collect);
  parent.stderr!.on('data', collect);
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the regions did not start within ${timeoutMs / 1000} s:\n${output.slice(-3000)}`)), timeoutMs);
    const ready = () => {
      if (!/regions ready in/.test(output)) return;
      clearTimeout(timer);
      resolve();
    };
    parent.stdout!.on('data', ready);
    parent.stderr!.on('data', ready);
    parent.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start -- --regions exited with ${code}:\n${output.slice(-3000)}`));
    });
  });
  try {
    await started;
  } catch (err) {
    // The parent stops every region it started on SIGTERM.
    if (parent.pid && parent.exitCode === null) process.kill(-parent.pid, 'SIGTERM');
    throw err;
  }
  return { parent, output: () => output };
}
