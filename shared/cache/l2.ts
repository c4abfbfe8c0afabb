// L2: the Redis tier (ElastiCache in AWS, redis-server locally), shared by every container. A
// Redis that is down or slow must cost a cache miss, never an outage: every command is bounded by
// a 50 ms timeout and fails at once while disconnected (no offline queue, no retries), and a
// circuit breaker stops calling Redis for a cool-down after repeated failures. Every method
// therefore resolves (a miss, false, undefined) instead of throwing.
//
// The breaker is hand-written (40 lines) rather than opossum: opossum wraps one function per
// breaker, adds its own timers and percentages over rolling windows; here one breaker must guard
// every command of a client, and "N consecutive failures" is the behaviour we want to test.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { REDIS_COMMAND_TIMEOUT_MS } from '../domain/limits.js';
import { config } from '../edge/config.js';
import { logger } from '../edge/observability.js';
import { invocationsRunning } from '../edge/deadline.js';
import { cacheKeys, FEED_L2_ACTIVE_TTL_SECONDS, FEED_L2_HEAD_TTL_SECONDS, FEED_L2_TTL_SECONDS, scaledMs } from './cache-keys.js';
import { isWindowHead, WINDOW_STAMP, windowStampOf, type Intern } from './window.js';

/** Lifetimes as sent to Redis, in ms (compressed only by a benchmark's time scale). */
const pageTtlMs = () => scaledMs(FEED_L2_TTL_SECONDS * 1000);
const activeTtlMs = () => scaledMs(FEED_L2_ACTIVE_TTL_SECONDS * 1000);
const headTtlMs = () => scaledMs(FEED_L2_HEAD_TTL_SECONDS * 1000);
/** Epochs live as long as a page can, so a page never outlives the epoch that guards it. */
const epochTtlMs = activeTtlMs;

/** Consecutive failures that open the breaker: a single timeout is noise, five in a row is not. */
export const L2_BREAKER_FAILURES = 5;
/** How long an open breaker sends nothing to Redis before one probe may try again. */
export const L2_BREAKER_COOL_DOWN_MS = 2_000;
/** Only a container's first command waits for the connection (TLS to ElastiCache takes tens of
 *  ms); later commands fail at once while disconnected. */
const FIRST_CONNECT_WAIT_MS = 250;
// ioredis's own per-command timeout (commandTimeout) is not set: ours decides (see bounded), and
// its rejection freed nothing (the command stays in ioredis's queue until the connection answers
// or closes), for a second timer per command.
/** Reconnection backoff: 50 ms more per attempt, at most 1 s, so a restarted Redis is used again
 *  within about a second. */
const reconnectDelay = (attempt: number) => Math.min(50 * attempt, 1_000);

/** Logs a warning, never throwing: with Lambda multi-concurrency, Powertools refuses to log outside
 *  an invocation's scope, as in ioredis's socket callbacks; the state stays visible in stats(). */
function warn(message: string, extra: Record<string, unknown>): void {
  try {
    logger.warn(message, extra);
  } catch {
    // outside an invocation scope: nothing to log into
  }
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  failureThreshold?: number;
  coolDownMs?: number;
  now?: () => number;
  onChange?: (state: BreakerState) => void;
}

/** Closed → (N consecutive failures) → open → (cool-down) → half-open: one probe at a time;
 *  its success closes the breaker, its failure opens it for another cool-down. */
export class CircuitBreaker {
  private readonly threshold: number;
  private readonly coolDownMs: number;
  private readonly now: () => number;
  private readonly onChange: ((state: BreakerState) => void) | undefined;
  private failures = 0;
  private openedAt: number | undefined;
  private probing = false;

  constructor(opts: BreakerOptions = {}) {
    this.threshold = opts.failureThreshold ?? L2_BREAKER_FAILURES;
    this.coolDownMs = opts.coolDownMs ?? L2_BREAKER_COOL_DOWN_MS;
    this.now = opts.now ?? Date.now;
    this.onChange = opts.onChange;
  }

  state(): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    return this.now() - this.openedAt >= this.coolDownMs ? 'half-open' : 'open';
  }

  /** Whether a call may go through now; in half-open, true for a single probe until it settles. */
  allow(): boolean {
    const state = this.state();
    if (state === 'closed') return true;
    if (state === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    const was = this.state();
    this.failures = 0;
    this.openedAt = undefined;
    this.probing = false;
    if (was !== 'closed') this.onChange?.('closed');
  }

  failure(): void {
    this.failures++;
    const reopen = this.probing || (this.openedAt === undefined && this.failures >= this.threshold);
    this.probing = false;
    if (reopen) {
      this.openedAt = this.now();
      this.onChange?.('open');
    }
  }
}

// Lua scripts: each touches keys of one user only (one hash tag), so they also run on a cluster.

/** KEYS pages, epoch, lock, heads; ARGV field, lock token ('' = do not lock), lock ttl ms, reader
 *  ttl ms ('' = keep), head cut ('' = whole value), head close, head ttl ms. A hit extends the
 *  pages' TTL to the reader TTL (FEED_L2_ACTIVE_TTL_SECONDS): a user who reads keeps their pages,
 *  kept current in place, until their next session. With a cut, a value that holds it is sent
 *  only up to it, closed with `head close` (a first page's read takes a window's head: see
 *  WINDOW_HEAD), and the head is kept in `heads` (at most head ttl, never past the pages), where
 *  the next reads take it with a plain HGET (readFeed); every script that writes a page drops its
 *  head, and every change of the user's pages drops them all (BEGIN_UPDATE, INVALIDATE_FEED).
 *  → {value|nil, epoch ('' on a hit), 1 if the lock was taken}. */
const READ_FEED = `
local cut = ARGV[5] ~= ''
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then
  if ARGV[4] ~= '' and redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
  if cut then
    local i = string.find(v, ARGV[5], 1, true)
    if i then
      v = string.sub(v, 1, i - 1) .. ARGV[6]
      local fresh = redis.call('EXISTS', KEYS[4]) == 0
      redis.call('HSET', KEYS[4], ARGV[1], v)
      if fresh then
        local t = redis.call('PTTL', KEYS[1])
        local ttl = tonumber(ARGV[7])
        if t > 0 and t < ttl then ttl = t end
        redis.call('PEXPIRE', KEYS[4], ttl)
      end
    end
  end
  return {v, '', 0}
end
local e = redis.call('GET', KEYS[2]) or '0'
if ARGV[2] ~= '' and redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3], 'NX') then return {false, e, 1} end
return {false, e, 0}`;

/** KEYS pages, epoch, lock, heads; ARGV field, value, ttl ms, expected epoch ('' = any), lock token
 *  ('' = none). Writes unless an invalidation changed the epoch meanwhile; the hash's TTL is set
 *  only by its first field (PEXPIRE NX), so no page outlives its TTL (FEED_L2_TTL_SECONDS, a
 *  reader's own generation FEED_L2_ACTIVE_TTL_SECONDS) unless read. Drops the page's head.
 *  Releases the lock if held. → 1 if written. */
const WRITE_FEED = `
local wrote = 0
if ARGV[4] == '' or (redis.call('GET', KEYS[2]) or '0') == ARGV[4] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3], 'NX')
  redis.call('HDEL', KEYS[4], ARGV[1])
  wrote = 1
end
if ARGV[5] ~= '' and redis.call('GET', KEYS[3]) == ARGV[5] then redis.call('DEL', KEYS[3]) end
return wrote`;

/** KEYS pages, epoch, heads; ARGV new epoch, epoch ttl ms. */
const INVALIDATE_FEED = `
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1`;

/** The new value that drops a page in replaceFeeds (no page serializes to an empty string). */
export const DROP_PAGE = '';

/** KEYS pages, epoch, heads; ARGV new epoch, epoch ttl ms, then (field, expected, new value)
 *  triples. Replaces each page that still holds what was expected, drops one that changed
 *  meanwhile or whose new value is empty (DROP_PAGE; either way its head goes), and starts a new
 *  epoch, so a generation that began before the change cannot write its older page over it.
 *  `expected` is '^' and the page's beginning up to its stamp (a stamped window: see
 *  windowStampOf), so a fan-out's edit sends ~20 KB less per follower, or '=' and the whole
 *  value. → number of pages replaced. */
const REPLACE_FEEDS = `
local replaced = 0
for i = 3, #ARGV, 3 do
  redis.call('HDEL', KEYS[3], ARGV[i])
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  local exp = ARGV[i + 1]
  local same = false
  if cur then
    if string.byte(exp, 1) == 94 then
      same = string.sub(cur, 1, #exp - 1) == string.sub(exp, 2)
    else
      same = cur == string.sub(exp, 2)
    end
  end
  if same and ARGV[i + 2] ~= '' then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    replaced = replaced + 1
  else
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return replaced`;

/** KEYS pages; ARGV field, ttl ms. Keeps the pages `ttl` from now if they hold `field` (a hit's
 *  extension, without the page's bytes going through Lua). */
const KEEP_FEED = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;

/**
 * An HGET whose reply is wanted as bytes, queued on ioredis's own connection without its command
 * machinery: the read of every L2 hit. Through the gateway at c=32, ioredis's `hgetBuffer` (a
 * Command with its promise and reply transform, sendCommand's checks, 6.0's tracing closures)
 * cost 3.8 µs of CPU per L2 hit more than this (47.9 → 44.1 µs; L2 at 72.7 → 79.1% of an L1 hit,
 * six alternated rounds), of the 13 µs an L2 hit cost above an L1 hit. The connection (TLS, AUTH,
 * reconnection), the reply decoder and the queue stay ioredis's: a queue item is anything
 * `Respondable` (ioredis's own type for it: a name and arguments, and `resolve` for the reply, a
 * Buffer or null, `reject` for an error reply or a dropped connection). ioredis would send a
 * command left unanswered again after a reconnect, through its own Command's methods, but this
 * client never does: with maxRetriesPerRequest 0 a dropped connection fails every command in flight
 * (see the client's options). Not traced through ioredis's diagnostics channel. Its reply settles
 * the waiting command itself (L2Cache.bounded), with no promise of its own nor a `then` on one:
 * 54.1 → 52.0 µs of CPU per L2 hit through the gateway at c=32, L2 at 74.6 → 77.3% of an L1 hit
 * (eight alternated rounds).
 */
class HgetBytes {
  readonly name = 'hget';
  readonly args: [string, string];

  constructor(
    key: string,
    field: string,
    private readonly waiting: Waiting,
  ) {
    this.args = [key, field];
  }

  /** The reply: a Buffer, or null when the field is not there. */
  resolve(reply: Buffer | null): void {
    this.waiting.settle(reply);
  }

  /** An error reply, or the connection dropped. */
  reject(): void {
    this.waiting.settle(FAILED_REPLY);
  }

  /** The command in RESP: an array of three bulk strings. */
  toWritable(): string {
    const [key, field] = this.args;
    return `*3\r\n$4\r\nhget\r\n$${Buffer.byteLength(key)}\r\n${key}\r\n$${Buffer.byteLength(field)}\r\n${field}\r\n`;
  }
}

/** An item of ioredis's queue of commands awaiting their reply. */
type QueueItem = Parameters<Redis['commandQueue']['push']>[0];

/** Sends HGET as bytes, its reply settling `waiting` with no promise of its own (see HgetBytes);
 *  fails it at once when the connection cannot take a command. */
function sendHgetBytes(r: ScriptedRedis, key: string, field: string, waiting: Waiting): void {
  const stream = r.stream;
  if (r.status !== 'ready' || !stream.writable || !r.condition) return waiting.settle(FAILED_REPLY);
  const command = new HgetBytes(key, field, waiting);
  stream.write(command.toWritable());
  // `stream` undefined, as sendCommand queues a command of its own.
  r.commandQueue.push({ command, stream: undefined as unknown as QueueItem['stream'], select: r.condition.select });
}

/** HGET as bytes, as a promise (see sendHgetBytes). */
function hgetBytes(r: ScriptedRedis, key: string, field: string): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const waiting: Waiting = {
      settled: false,
      settle: (reply) => (reply === FAILED_REPLY ? reject(new Error(`Redis HGET failed (${r.status})`)) : resolve(reply as Buffer | null)),
    };
    sendHgetBytes(r, key, field, waiting);
  });
}

/** A page's value (its bytes with `bytes`), and the user's pages kept `ttlMs` from now if it is
 *  there: two commands issued together, one round trip's wait. */
async function hgetKeeping(r: ScriptedRedis, pages: string, field: string, ttlMs: number, bytes: boolean): Promise<string | Buffer | null> {
  const [value] = await Promise.all([bytes ? hgetBytes(r, pages, field) : r.hget(pages, field), r.feedKeep(pages, field, ttlMs)]);
  return value;
}

/** KEYS pages, epoch, heads; ARGV new epoch, epoch ttl ms. → HGETALL of the pages. Drops every
 *  head: a head is read without its pages (readFeed), so it must go with any change to them, also
 *  when the window it was cut from is gone (evicted) and the change finds nothing to edit. */
const BEGIN_UPDATE = `
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[3])
return redis.call('HGETALL', KEYS[1])`;

/** KEYS lock; ARGV token. Deletes the lock only if this token still holds it. */
const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

interface ScriptedRedis extends Redis {
  feedRead(pages: string, epoch: string, lock: string, heads: string, field: string, token: string, ttlMs: number, readerTtlMs: number | '', cut: string, close: string, headTtlMs: number): Promise<[string | null, string, number]>;
  feedWrite(pages: string, epoch: string, lock: string, heads: string, field: string, value: string, ttl: number, expected: string, token: string): Promise<number>;
  feedInvalidate(pages: string, epoch: string, heads: string, newEpoch: string, ttl: number): Promise<number>;
  feedReplace(pages: string, epoch: string, heads: string, newEpoch: string, ttl: number, ...triples: string[]): Promise<number>;
  feedBeginUpdate(pages: string, epoch: string, heads: string, newEpoch: string, ttl: number): Promise<string[]>;
  compareAndDelete(lock: string, token: string): Promise<number>;
  feedKeep(pages: string, field: string, ttlMs: number): Promise<number>;
}

/** What REPLACE_FEEDS compares a page with: a whole window by its stamp (unique to one
 *  serialization), a head (which shares its window's stamp but is not the window) or any other
 *  value by all of it. */
function expectation(value: string): string {
  const stamp = isWindowHead(value) ? undefined : windowStampOf(value);
  return stamp ? `^${WINDOW_STAMP.open}${stamp}"` : `=${value}`;
}

export type LockAttempt = { status: 'acquired'; token: string } | { status: 'held' } | { status: 'unavailable' };

/** The outcome of reading a cached feed page (and, on a miss, trying to take its lock). `epoch`
 *  is the user's invalidation epoch at the time: pass it back to writeFeed. */
/** A value's head: the value up to the first `cut`, closed with `close`. */
export interface ValueHead {
  cut: string;
  close: string;
}

export type FeedRead =
  /** `bytes`: the value's UTF-8 length, when the reply's bytes gave it (see `intern`). */
  | { status: 'hit'; value: string; bytes?: number }
  | { status: 'locked'; epoch: string; token: string }
  | { status: 'held'; epoch: string }
  | { status: 'miss'; epoch: string }
  | { status: 'unavailable' };

export interface L2Stats {
  hits: number;
  misses: number;
  /** Commands that failed or timed out. */
  errors: number;
  /** Calls answered without Redis because the breaker was open. */
  shortCircuited: number;
  breakerOpen: boolean;
}

export interface L2Options {
  commandTimeoutMs?: number;
  /** How long the first command waits for the first connection (default 250 ms). */
  connectWaitMs?: number;
  failureThreshold?: number;
  coolDownMs?: number;
  now?: () => number;
}

type Outcome<T> = { ok: true; value: T } | { ok: false };
const FAILED = { ok: false } as const;
/** A rejected command, told apart from any reply. */
const FAILED_REPLY = Symbol('failed reply');

/** A command waiting for its reply; `settle` takes the reply, or FAILED_REPLY. */
interface Waiting {
  settled: boolean;
  settle: (reply: unknown) => void;
}
/** A Redis operation: its reply's promise, or nothing when it settles `command` itself (a
 *  command queued without a promise of its own: see sendHgetBytes). */
type Op<T> = (redis: ScriptedRedis, command: Waiting) => Promise<T> | void;
/** The commands issued in one turn of the event loop, on one connection (see L2Cache.bounded). */
interface Turn {
  stream: ScriptedRedis['stream'];
  /** Its writes are held until the turn ends. */
  corked: boolean;
  waiting: Waiting[];
  /** Commands of `waiting` without their reply yet. */
  unsettled: number;
  /** Fails the ones still waiting once the command timeout has passed; undefined while none is. */
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class L2Cache {
  private client: ScriptedRedis | undefined;
  private firstConnect: Promise<void> | undefined;
  private readonly breaker: CircuitBreaker;
  private readonly commandTimeoutMs: number;
  private readonly connectWaitMs: number;
  private counts = { hits: 0, misses: 0, errors: 0, shortCircuited: 0 };

  /** `url` undefined or empty: the tier is off, reads miss and writes do nothing. */
  constructor(
    readonly url: string | undefined,
    opts: L2Options = {},
  ) {
    this.commandTimeoutMs = opts.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS;
    this.connectWaitMs = opts.connectWaitMs ?? FIRST_CONNECT_WAIT_MS;
    this.breaker = new CircuitBreaker({
      ...(opts.failureThreshold !== undefined && { failureThreshold: opts.failureThreshold }),
      ...(opts.coolDownMs !== undefined && { coolDownMs: opts.coolDownMs }),
      ...(opts.now && { now: opts.now }),
      onChange: (state) => warn(`Redis circuit breaker ${state}`, { redis: this.url }),
    });
  }

  get enabled(): boolean {
    return Boolean(this.url);
  }

  breakerState(): BreakerState {
    return this.breaker.state();
  }

  stats(): L2Stats {
    return { ...this.counts, breakerOpen: this.breaker.state() !== 'closed' };
  }

  private redis(url: string): ScriptedRedis {
    if (this.client) return this.client;
    const client = new Redis(url, {
      // A dropped connection fails the commands in flight (their outcome is unknown, and the
      // callers treat it so) instead of sending them again on the next one: HgetBytes relies on it.
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      // Each command goes out as it is issued. ioredis's auto-pipelining (one Pipeline per tick)
      // cost more than the writes it saves: a fan-out-shaped burst of 500 Lua updates took 6.2 ms
      // and 8.1–11.3 µs of CPU per command with it, 3.9–4.6 ms and 5.8–7.8 µs without; L2 feed
      // reads in one process at 32 at once, 13,146 → 26,146 per second (bench `l2 vs redis`).
      // The socket still sends what queues behind a write in progress in one writev.
      enableAutoPipelining: false,
      connectTimeout: 1_000,
      retryStrategy: reconnectDelay,
    }) as ScriptedRedis;
    let lastLogged = 0;
    client.on('error', (err: Error) => {
      // Reconnection attempts fail every second while Redis is down: log one line a minute.
      if (Date.now() - lastLogged > 60_000) {
        lastLogged = Date.now();
        warn('Redis connection error', { redis: url, error: err.message });
      }
    });
    client.defineCommand('feedRead', { numberOfKeys: 4, lua: READ_FEED });
    client.defineCommand('feedWrite', { numberOfKeys: 4, lua: WRITE_FEED });
    client.defineCommand('feedInvalidate', { numberOfKeys: 3, lua: INVALIDATE_FEED });
    client.defineCommand('feedReplace', { numberOfKeys: 3, lua: REPLACE_FEEDS });
    client.defineCommand('feedBeginUpdate', { numberOfKeys: 3, lua: BEGIN_UPDATE });
    client.defineCommand('compareAndDelete', { numberOfKeys: 1, lua: UNLOCK });
    client.defineCommand('feedKeep', { numberOfKeys: 1, lua: KEEP_FEED });
    this.firstConnect = new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        client.off('ready', done).off('error', done);
        resolve();
      };
      const timer = setTimeout(done, this.connectWaitMs);
      client.once('ready', done).once('error', done);
    });
    this.client = client;
    return client;
  }

  /** Connects now and waits for the connection, at most `timeoutMs`: call it at start-up (a
   *  Lambda's init phase) so the first request does not pay for the connection. → connected. */
  async connect(timeoutMs = 2_000): Promise<boolean> {
    if (!this.url) return false;
    const redis = this.redis(this.url);
    const isReady = () => redis.status === 'ready';
    if (isReady()) return true;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        redis.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      redis.once('ready', done);
    });
    return isReady();
  }

  /** Runs one Redis operation behind the breaker; never throws. `force`: sent even while the
   *  breaker is open (a write that keeps cached pages correct; see invalidateFeed). */
  private run<T>(op: Op<T>, force = false): Promise<Outcome<T>> {
    if (!this.url) return Promise.resolve(FAILED);
    if (!this.breaker.allow() && !force) {
      this.counts.shortCircuited++;
      return Promise.resolve(FAILED);
    }
    const redis = this.redis(this.url);
    if (redis.status !== 'ready') return (this.firstConnect ?? Promise.resolve()).then(() => this.bounded(redis, op));
    return this.bounded(redis, op);
  }

  /** This turn of the event loop's commands (see currentTurn and bounded). */
  private turn: Turn | undefined;

  /**
   * The turn of the event loop a command is issued in. Its commands are held in the socket and
   * sent in one write once the turn's I/O has been handled (setImmediate runs right after the poll
   * phase that read the requests): a container serving many requests at once wrote each
   * request's command on its own (a system call, and a wake-up of Redis, per command). But while
   * this process answers one invocation only (Lambda's one invocation at a time), the turn's first
   * command goes out at once: held, it cost a lone invocation's L2 hit as deployed 165–203 µs of
   * CPU against 110–150. With other invocations running (multi-concurrency, the local gateway),
   * the first is held too: through the gateway at c=32, 1.3 µs of CPU less per L2 hit and L2 hits
   * at 77.6% of L1 hits' requests/s against 75.3% with the first sent at once (eight alternating
   * rounds in one process). ioredis's own auto-pipelining batches a turn too, but holds every
   * command and builds a Pipeline per batch, which cost more than the writes it saved (see
   * enableAutoPipelining below).
   */
  private currentTurn(redis: ScriptedRedis): Turn {
    const stream = redis.stream;
    const turn = this.turn;
    if (turn?.stream === stream) {
      if (!turn.corked && !stream.destroyed) {
        stream.cork();
        turn.corked = true;
      }
      // Every earlier command of the turn has its reply (a turn begun in a check phase lasts
      // through the next poll phase): this one gets a timer of its own.
      turn.timer ??= this.expireLater(turn);
      return turn;
    }
    const next: Turn = { stream, corked: false, waiting: [], unsettled: 0, timer: undefined };
    if (invocationsRunning() > 1 && !stream.destroyed) {
      stream.cork();
      next.corked = true;
    }
    this.turn = next;
    setImmediate(() => {
      if (this.turn === next) this.turn = undefined;
      if (next.corked) stream.uncork();
    });
    next.timer = this.expireLater(next);
    return next;
  }

  /** The turn's timeout, from now. */
  private expireLater(turn: Turn): ReturnType<typeof setTimeout> {
    return setTimeout(() => setImmediate(() => this.expire(turn)), this.commandTimeoutMs);
  }

  /** The turn's command timeout passed: every command of it still waiting fails. */
  private expire(turn: Turn): void {
    for (const command of turn.waiting) if (!command.settled) command.settle(FAILED_REPLY);
  }

  /**
   * Sends `op` in this turn's write and settles it: its reply, or FAILED (counted, and told to the
   * breaker) when it fails or the command timeout passes without it. The commands of one turn,
   * sent within the same loop iteration, share one timer, cleared once every command of the turn
   * has its reply: with a timer per command (a Timeout, its insertion in the timer list and its
   * removal), 32 reads at once in one process cost 11.7 µs of CPU per read, with a timer per turn
   * 8.5 µs; a container behind the gateway sends ten or more commands per turn. Not one interval
   * watching them all (shared/edge/watch.ts, as the API's invocations are): with the watch, 32 reads at once in one process served 35,000–36,000 reads/s at p95
   * 3.5–3.9 ms against 46,000–50,000 at 1.6–1.7 ms with a timer each. One promise per command:
   * the async wrapper it had besides cost an L2 hit a promise and two turns of the microtask
   * queue. The verdict waits for the event loop's next poll phase (setImmediate): on a busy loop
   * a timer fires late, in the timers phase, which runs before the poll phase that reads a reply
   * already waiting in the socket. Judged at once, such replies count as timeouts, a few in a row
   * open the breaker, and a loaded container sends its reads to DynamoDB just when it can least
   * afford them.
   */
  private bounded<T>(redis: ScriptedRedis, op: Op<T>): Promise<Outcome<T>> {
    const turn = this.currentTurn(redis);
    return new Promise<Outcome<T>>((resolve) => {
      const command: Waiting = {
        settled: false,
        settle: (value) => {
          if (command.settled) return;
          command.settled = true;
          if (--turn.unsettled === 0) {
            clearTimeout(turn.timer);
            turn.timer = undefined;
          }
          if (value === FAILED_REPLY) {
            this.counts.errors++;
            this.breaker.failure();
            resolve(FAILED);
            return;
          }
          this.breaker.success();
          resolve({ ok: true, value: value as T });
        },
      };
      turn.waiting.push(command);
      turn.unsettled++;
      try {
        op(redis, command)?.then(command.settle, () => command.settle(FAILED_REPLY));
      } catch {
        command.settle(FAILED_REPLY);
      }
    });
  }

  /** Any other Redis command, behind the same timeout and breaker; undefined when Redis is off
   *  or failing (callers fall back to DynamoDB). */
  async command<T>(op: (redis: Redis) => Promise<T>): Promise<T | undefined> {
    const out = await this.run((r) => op(r));
    return out.ok ? out.value : undefined;
  }

  private count(hit: boolean): void {
    if (hit) this.counts.hits++;
    else this.counts.misses++;
  }

  async get(key: string): Promise<string | undefined> {
    const out = await this.run((r) => r.get(key));
    const value = out.ok ? (out.value ?? undefined) : undefined;
    this.count(value !== undefined);
    return value;
  }

  /** SET with a TTL; false when Redis is off or failing (the write is simply not cached). */
  async set(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    return (await this.run((r) => r.set(key, value, 'EX', ttlSeconds))).ok;
  }

  /** Deletes keys; resolves to the number deleted (0 when Redis is off or failing). */
  async del(...keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const out = await this.run((r) => r.del(...keys));
    return out.ok ? out.value : 0;
  }

  /** SET NX PX with a fresh token, telling a lock held by someone else from an unusable Redis. */
  async acquire(key: string, ttlMs: number): Promise<LockAttempt> {
    const token = randomUUID();
    const out = await this.run((r) => r.set(key, token, 'PX', ttlMs, 'NX'));
    if (!out.ok) return { status: 'unavailable' };
    return out.value === 'OK' ? { status: 'acquired', token } : { status: 'held' };
  }

  /** The lock's token if taken; undefined if it is held by someone else or Redis is unusable. */
  async tryLock(key: string, ttlMs: number): Promise<string | undefined> {
    const attempt = await this.acquire(key, ttlMs);
    return attempt.status === 'acquired' ? attempt.token : undefined;
  }

  /** Releases the lock only if `token` still holds it (it may have expired and been re-taken). */
  async unlock(key: string, token: string): Promise<boolean> {
    const out = await this.run((r) => r.compareAndDelete(key, token));
    return out.ok && out.value === 1;
  }

  /**
   * Reads one cached page; on a miss, with `lockTtlMs`, also tries to take its generation lock,
   * all in one round trip. `counted: false` keeps a waiter's polls out of the hit/miss counts. A
   * reader's hit (`extend`, by default when counted) keeps the user's pages FEED_L2_ACTIVE_TTL_SECONDS;
   * a hit of a head kept before does not (the read that cut it did, at most an hour before).
   * `intern`: a hit's value is what it makes of the reply (see Intern), given the reply's bytes
   * where a plain HGET read it.
   */
  async readFeed(userId: string, variant: string, opts: { lockTtlMs?: number; counted?: boolean; extend?: boolean; head?: ValueHead; intern?: Intern } = {}): Promise<FeedRead> {
    // A head cut before is a plain HGET: READ_FEED cost Redis ~12 µs of CPU per read (a script
    // call with eleven arguments) where an HGET costs ~3.5, and this is the read of every L2 hit.
    // Served without its pages' TTL check: every change of the pages drops the heads (see
    // BEGIN_UPDATE), so a head is current whether or not its window is still there; and the
    // pages' TTL is extended when a head is cut again (heads live an hour at most).
    // Likewise a whole window (a later page's read): through the script, Redis copied the ~20 KB
    // into Lua and out again, ~45 µs of its CPU per read; an HGET, and a PEXPIRE when the read
    // keeps the pages (the script's extension was due on every read: a TTL only counts down from
    // the reader TTL), cost it a few. A miss goes on to the script, for the epoch and the lock.
    const extend = opts.extend ?? opts.counted !== false;
    const intern = opts.intern;
    if (opts.head || !opts.lockTtlMs) {
      // The reply as bytes only for a caller that interns them.
      const bytes = intern !== undefined;
      const kept = await this.run((r, command): Promise<string | Buffer | null> | void => {
        if (!opts.head && extend) return hgetKeeping(r, cacheKeys.feedPages(userId), variant, activeTtlMs(), bytes);
        const key = opts.head ? cacheKeys.feedHeads(userId) : cacheKeys.feedPages(userId);
        if (!bytes) return r.hget(key, variant);
        sendHgetBytes(r, key, variant, command);
      });
      if (kept.ok && kept.value !== null) {
        if (opts.counted !== false) this.count(true);
        const reply = kept.value;
        if (typeof reply === 'string') return { status: 'hit', value: intern ? intern(reply) : reply };
        return { status: 'hit', value: intern ? intern(reply) : reply.toString(), bytes: reply.length };
      }
      if (!kept.ok) {
        if (opts.counted !== false) this.count(false);
        return { status: 'unavailable' };
      }
    }
    const token = opts.lockTtlMs ? randomUUID() : '';
    const out = await this.run((r) =>
      r.feedRead(
        cacheKeys.feedPages(userId),
        cacheKeys.feedEpoch(userId),
        cacheKeys.feedLock(userId, variant),
        cacheKeys.feedHeads(userId),
        variant,
        token,
        opts.lockTtlMs ?? 0,
        extend ? activeTtlMs() : '',
        opts.head?.cut ?? '',
        opts.head?.close ?? '',
        headTtlMs(),
      ),
    );
    const read: FeedRead = !out.ok
      ? { status: 'unavailable' }
      : out.value[0] !== null
        ? { status: 'hit', value: intern ? intern(out.value[0]) : out.value[0] }
        : out.value[2] === 1
          ? { status: 'locked', epoch: out.value[1], token }
          : { status: token ? 'held' : 'miss', epoch: out.value[1] };
    if (opts.counted !== false) this.count(read.status === 'hit');
    return read;
  }

  /**
   * Write-through of one page. With `epoch` (from readFeed) the write is skipped if the feed was
   * invalidated since, so a generation that raced an invalidation cannot cache a stale page.
   * With `lockToken` the generation lock is released in the same round trip. → true if written.
   */
  async writeFeed(userId: string, variant: string, value: string, opts: { epoch?: string; lockToken?: string; reader?: boolean } = {}): Promise<boolean> {
    const out = await this.run((r) =>
      r.feedWrite(
        cacheKeys.feedPages(userId),
        cacheKeys.feedEpoch(userId),
        cacheKeys.feedLock(userId, variant),
        cacheKeys.feedHeads(userId),
        variant,
        value,
        opts.reader ? activeTtlMs() : pageTtlMs(),
        opts.epoch ?? '',
        opts.lockToken ?? '',
      ),
    );
    return out.ok && out.value === 1;
  }

  /** Starts a new epoch for the user's pages (a generation that began before cannot store its
   *  page) and returns every cached page by variant, in one round trip ({} when none; undefined
   *  when Redis is unusable). */
  async beginFeedUpdate(userId: string): Promise<Record<string, string> | undefined> {
    const out = await this.run((r) => r.feedBeginUpdate(cacheKeys.feedPages(userId), cacheKeys.feedEpoch(userId), cacheKeys.feedHeads(userId), randomUUID(), epochTtlMs()));
    if (!out.ok) return undefined;
    const pages: Record<string, string> = {};
    for (let i = 0; i + 1 < out.value.length; i += 2) pages[out.value[i]!] = out.value[i + 1]!;
    return pages;
  }

  /** Replaces cached pages that still hold `expected` (compare-and-set; one that changed meanwhile
   *  is dropped, and so is one whose new value is DROP_PAGE) and starts a new epoch, in one round
   *  trip. → pages replaced, or undefined when Redis was unusable (nothing known changed). */
  async replaceFeeds(userId: string, pages: { variant: string; expected: string; value: string }[]): Promise<number | undefined> {
    const out = await this.run((r) =>
      r.feedReplace(cacheKeys.feedPages(userId), cacheKeys.feedEpoch(userId), cacheKeys.feedHeads(userId), randomUUID(), epochTtlMs(), ...pages.flatMap((p) => [p.variant, expectation(p.expected), p.value])),
    );
    return out.ok ? out.value : undefined;
  }

  /** Drops every cached page of a user (one DEL of the hash, with its heads) and starts a new epoch. Sent even
   *  while the breaker is open: the breaker guards reads' latency, and a slow Redis still runs a
   *  command whose reply came too late, while skipping this would leave pages that miss a write
   *  for FEED_L2_TTL_SECONDS. A disconnected client still fails at once (no offline queue). */
  async invalidateFeed(userId: string): Promise<boolean> {
    const out = await this.run((r) => r.feedInvalidate(cacheKeys.feedPages(userId), cacheKeys.feedEpoch(userId), cacheKeys.feedHeads(userId), randomUUID(), epochTtlMs()), true);
    return out.ok;
  }

  /** Which of these users hold a cached page of `variant`, in one pipelined round trip; undefined
   *  when Redis is unusable (or any of its answers failed). Warming asks first, so it regenerates only the pages that are gone. */
  async feedsCached(userIds: string[], variant: string): Promise<boolean[] | undefined> {
    if (userIds.length === 0) return [];
    const out = await this.run((r) => {
      const p = r.pipeline();
      for (const u of userIds) p.hexists(cacheKeys.feedPages(u), variant);
      return p.exec();
    });
    // A pipeline on a connection that cannot take it resolves with an error per command.
    if (!out.ok || !out.value || out.value.some(([err]) => err)) return undefined;
    return out.value.map(([, v]) => v === 1);
  }

  /** The user's current invalidation epoch (as readFeed reports it), to pass to writeFeed for a
   *  page generated after this read; undefined when Redis is unusable. */
  async feedEpoch(userId: string): Promise<string | undefined> {
    const out = await this.run((r) => r.get(cacheKeys.feedEpoch(userId)));
    return out.ok ? (out.value ?? '0') : undefined;
  }

  /** Closes the connection; the instance can be used again (it reconnects lazily). */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.firstConnect = undefined;
    if (!client) return;
    client.removeAllListeners('error');
    client.on('error', () => {});
    if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
    else client.disconnect();
  }
}

/** An L2 tier on `url` (tests, tools); the service uses the process-wide l2(). */
export function createL2(url: string | undefined, opts: L2Options = {}): L2Cache {
  return new L2Cache(url, opts);
}

let shared: L2Cache | undefined;
/** The process-wide L2 tier on REDIS_URL (off when unset), built on first use. */
export function l2(): L2Cache {
  shared ??= createL2(config().REDIS_URL, { commandTimeoutMs: config().FEED_REDIS_TIMEOUT_MS });
  return shared;
}

/** Closes the process-wide client (shutdown, tests); the next l2() builds a new one. */
export async function closeL2(): Promise<void> {
  const current = shared;
  shared = undefined;
  await current?.close();
}
