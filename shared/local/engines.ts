// Starts and stops the real database engines (DynamoDB Local, redis-server) that the local stack and the
// integration tests run against, so neither needs Docker nor a cloud account. Every child is tied to this
// process: it is killed on stop(), on exit and on the usual termination signals, never left running.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

export interface Engine {
  name: string;
  endpoint: string;
  pid: number;
  stop(): Promise<void>;
}

export class EngineMissingError extends Error {
  override name = 'EngineMissingError';
}

export const JAVA_MISSING =
  'Java 17+ is required for DynamoDB Local: install it (Debian/Ubuntu: sudo apt-get install -y default-jre-headless; macOS: brew install openjdk@17) or set DYNAMODB_ENDPOINT to an existing DynamoDB';
export const REDIS_MISSING =
  'redis-server is required by the tests: install it (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis)';

/** DynamoDB Local opening kept data (hundreds of tables) while other regions' engines start on
 *  the same 2 cores has taken over 30 s. */
const DYNAMO_READY_MS = 90_000;
const REDIS_READY_MS = 10_000;
const STOP_GRACE_MS = 10_000;
const OUTPUT_LINES = 40;
// Package directories that are usually not on a non-login root PATH.
const REDIS_FALLBACKS = ['/usr/bin/redis-server', '/usr/sbin/redis-server'];

// ---------------------------------------------------------------- lookup

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Resolves a command the way a shell would, reading PATH at call time (or the one given). */
export function which(cmd: string, pathEnv: string = process.env.PATH ?? ''): string | undefined {
  if (cmd.includes('/')) return isExecutable(cmd) ? resolve(cmd) : undefined;
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, cmd);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Returns the java binary, or throws EngineMissingError. Running `java -version` rather than trusting PATH
 * catches the macOS /usr/bin/java stub that exists without any JDK behind it.
 */
export function requireJava(pathEnv: string = process.env.PATH ?? ''): string {
  const java = which('java', pathEnv);
  if (!java) throw new EngineMissingError(JAVA_MISSING);
  const probe = spawnSync(java, ['-version'], { stdio: 'ignore', timeout: 15_000 });
  if (probe.error || probe.status !== 0) throw new EngineMissingError(JAVA_MISSING);
  return java;
}

function findRedisServer(pathEnv: string = process.env.PATH ?? ''): string | undefined {
  return which('redis-server', pathEnv) ?? REDIS_FALLBACKS.find(isExecutable);
}

function requireRedisServer(): string {
  const redis = findRedisServer();
  if (!redis) throw new EngineMissingError(REDIS_MISSING);
  return redis;
}

function javaUsable(): boolean {
  try {
    requireJava();
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- ports

/** Asks the kernel for a free port; another process may still grab it before we bind, hence retries below. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.unref();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? done(port) : fail(new Error('could not allocate a free port'))));
    });
  });
}

function canConnect(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

// ---------------------------------------------------------------- child bookkeeping

const live = new Set<ChildProcess>();
let hooksInstalled = false;

function killAllNow(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

// A signal that kills the parent skips 'exit', so the children would be orphaned. When nobody else handles
// the signal we kill them and re-raise it, so the parent dies exactly as it would have; when the app has its
// own handler, shutdown is its call and the 'exit' hook still backs it up.
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  killAllNow();
  process.removeListener(signal, onSignal);
  process.kill(process.pid, signal);
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
}

interface Started {
  child: ChildProcess;
  tail(): string;
  exited(): boolean;
}

/** Spawns a child tied to this process, keeping the last lines of its output for error messages. */
function startChild(command: string, args: string[], cwd?: string): Started {
  installExitHooks();
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  const lines: string[] = [];
  let done = false;
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split(/\r?\n/).filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - OUTPUT_LINES));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const gone = () => {
    done = true;
    live.delete(child);
  };
  child.once('error', (err) => {
    lines.push(`spawn failed: ${err.message}`);
    gone();
  });
  child.once('exit', gone);
  live.add(child);
  return { child, tail: () => lines.join('\n'), exited: () => done || child.exitCode !== null || child.signalCode !== null };
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((done) => {
    const timer = setTimeout(() => done(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done(true);
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    if (!(await waitForExit(child, STOP_GRACE_MS))) {
      child.kill('SIGKILL');
      await waitForExit(child, STOP_GRACE_MS);
    }
  }
  live.delete(child);
}

function toEngine(name: string, endpoint: string, started: Started): Engine {
  const { child } = started;
  if (child.pid === undefined) throw new Error(`${name} did not start: ${started.tail()}`);
  return { name, endpoint, pid: child.pid, stop: () => stopChild(child) };
}

// ---------------------------------------------------------------- readiness

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

interface Readiness {
  timeoutMs: number;
  ready: () => Promise<boolean>;
  /** Output meaning the engine will never come up even though its process lives on. */
  fatal?: RegExp;
}

/** Polls `ready` until it says yes, the child dies or fails, or time runs out; kills the child on failure. */
async function awaitReady(name: string, started: Started, { timeoutMs, ready, fatal }: Readiness) {
  const deadline = Date.now() + timeoutMs;
  const failed = () => fatal?.test(started.tail()) ?? false;
  while (Date.now() < deadline) {
    if (started.exited() || failed()) break;
    if (await ready()) return;
    await sleep(200);
  }
  const why = started.exited()
    ? 'exited before it was ready'
    : failed()
      ? 'failed to start'
      : `was not ready after ${timeoutMs / 1000} s`;
  await stopChild(started.child);
  throw new Error(`${name} ${why}; last output:\n${started.tail() || '(none)'}`);
}

function dynamoAnswers(client: DynamoDBClient): Promise<boolean> {
  return client
    .send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(2_000) })
    .then(() => true, () => false);
}

function redisPongs(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
    socket.once('error', () => finish(false));
  });
}

// A port picked by freePort() can be taken before the engine binds it; a fresh port usually fixes that.
// A port given by the caller is checked first: an engine already listening there would answer our readiness
// probe in place of the one we start, which cannot bind and would be mistaken for ready.
async function withPortRetry(fixed: number | undefined, start: (port: number) => Promise<Engine>) {
  if (fixed !== undefined) {
    if (await canConnect(fixed)) throw new Error(`port ${fixed} is already in use on 127.0.0.1`);
    return start(fixed);
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      lastError = err;
      const portTaken = /already in use/i.test(String(err)) || (await canConnect(port));
      if (!portTaken) throw err;
    }
  }
  throw lastError;
}

/** Memory-backed file systems a scratch directory is made on first (see scratchDir). */
export const SCRATCH_ROOTS: readonly string[] = ['/dev/shm'];

/**
 * A new directory for engine data that must outlive the engines' processes but not the machine
 * (the tests' stacks with data kept, the bench's regions): on tmpfs when the machine has one,
 * else in the system's temporary directory. DynamoDB Local with a data dir syncs every write to
 * its SQLite file, about four fsync calls per item (strace), so on this machine's disk it wrote
 * 593 items/s in BatchWriteItems of 25 against 2,042 on tmpfs, and after a restart the crash
 * test's fan-out stored ~40 feed entries a second. On tmpfs a sync returns at once; the data still
 * survives a kill -9 of every process, which is what those tests check. `npm start` keeps its
 * data on disk (.local/), where it also survives a reboot.
 */
export function scratchDir(prefix: string, roots: readonly string[] = SCRATCH_ROOTS): string {
  for (const root of roots) {
    try {
      return mkdtempSync(join(root, prefix));
    } catch {
      // No such file system here, or not writable: the next one.
    }
  }
  return mkdtempSync(join(tmpdir(), prefix));
}

// ---------------------------------------------------------------- DynamoDB Local

// When Jetty cannot bind, DynamoDB Local's main thread dies but the JVM keeps running; only its output tells.
const DYNAMO_FATAL = /Exception in thread "main"|BindException/;

function dynamoLocalPaths(): { jar: string; lib: string } {
  const pkg = createRequire(import.meta.url).resolve('amplify-dynamodb-simulator/package.json');
  const emulator = join(dirname(pkg), 'emulator');
  return { jar: join(emulator, 'DynamoDBLocal.jar'), lib: join(emulator, 'DynamoDBLocal_lib') };
}

/** The JVM's collector for DynamoDB Local: the throughput collector rather than Java 17's default
 *  G1, which served the engine slower on this 2-core machine: `npm run bench -- --quick` took
 *  121-124 s with G1 and 110-115 s with this (seeding 16-17 → 14-16 s; L2 hits at c=32 45-56% →
 *  66% of L1's, the engine sharing the cores with the API). */
const DYNAMO_JVM_OPTIONS = ['-XX:+UseParallelGC'];

function dynamoArgs(port: number, dataDir: string | undefined): string[] {
  const { jar, lib } = dynamoLocalPaths();
  const storage = dataDir ? ['-dbPath', dataDir, '-sharedDb'] : ['-inMemory'];
  return [...DYNAMO_JVM_OPTIONS, `-Djava.library.path=${lib}`, '-jar', jar, '-port', String(port), '-disableTelemetry', ...storage];
}

function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}

async function launchDynamo(java: string, port: number, dataDir: string | undefined): Promise<Engine> {
  const endpoint = `http://127.0.0.1:${port}`;
  // cwd = the emulator dir: DynamoDB Local resolves some of its own files relative to it.
  const started = startChild(java, dynamoArgs(port, dataDir), dirname(dynamoLocalPaths().jar));
  const client = localDynamoClient(endpoint);
  try {
    await awaitReady(`DynamoDB Local (port ${port})`, started, {
      timeoutMs: DYNAMO_READY_MS,
      ready: () => dynamoAnswers(client),
      fatal: DYNAMO_FATAL,
    });
  } finally {
    client.destroy();
  }
  return toEngine('dynamodb-local', endpoint, started);
}

export async function startDynamo(opts: { dataDir?: string; port?: number } = {}): Promise<Engine> {
  const java = requireJava();
  const dataDir = opts.dataDir ? resolve(opts.dataDir) : undefined;
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  return withPortRetry(opts.port, (port) => launchDynamo(java, port, dataDir));
}

// ---------------------------------------------------------------- Redis

async function launchRedis(redis: string, port: number): Promise<Engine> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'];
  const started = startChild(redis, args);
  await awaitReady(`redis-server (port ${port})`, started, { timeoutMs: REDIS_READY_MS, ready: () => redisPongs(port) });
  return toEngine('redis', `redis://127.0.0.1:${port}`, started);
}

/** Undefined when redis-server is not installed, so callers can fall back to an in-process cache. */
export async function startRedis(opts: { port?: number } = {}): Promise<Engine | undefined> {
  const redis = findRedisServer();
  if (!redis) return undefined;
  return withPortRetry(opts.port, (port) => launchRedis(redis, port));
}

// ---------------------------------------------------------------- test setup

interface RunResult {
  code: number | null;
  output: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return new Promise((done) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (err) => done({ code: null, output: `${output}\n${err.message}` }));
    child.once('close', (code) => done({ code, output }));
  });
}

function lastLines(text: string, count = 15): string {
  return text.trim().split('\n').slice(-count).join('\n');
}

// Other test workers may run apt at the same time: wait for the dpkg lock instead of failing on it.
const APT_LOCK_WAIT = ['-o', 'DPkg::Lock::Timeout=300'];
let aptUpdated: Promise<void> | undefined;

async function aptGet(args: string[]): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const result = await run('apt-get', [...APT_LOCK_WAIT, ...args], env);
  if (result.code !== 0) {
    throw new Error(`apt-get ${args.join(' ')} failed (exit ${result.code}):\n${lastLines(result.output)}`);
  }
}

function aptUpdateOnce(): Promise<void> {
  aptUpdated ??= aptGet(['update', '-qq']).catch((err: unknown) => {
    aptUpdated = undefined;
    throw err;
  });
  return aptUpdated;
}

function canAptInstall(): boolean {
  return process.getuid?.() === 0 && which('apt-get') !== undefined;
}

function missingPackages(): string[] {
  const missing: string[] = [];
  if (!javaUsable()) missing.push('default-jre-headless');
  if (!findRedisServer()) missing.push('redis-server');
  return missing;
}

let ensuring: Promise<void> | undefined;

async function installMissingEngines(): Promise<void> {
  const missing = missingPackages();
  if (missing.length > 0 && canAptInstall()) {
    await aptUpdateOnce();
    await aptGet(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
  }
  requireJava();
  requireRedisServer();
}

/** Makes sure Java and redis-server are installed, installing them with apt when running as root. */
export function ensureTestEngines(): Promise<void> {
  ensuring ??= installMissingEngines().catch((err: unknown) => {
    ensuring = undefined;
    throw err;
  });
  return ensuring;
}
