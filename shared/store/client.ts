// The DynamoDB document client, built once per process, and the batch helpers every writer uses:
// BatchWriteItem in chunks of 25 and BatchGetItem in chunks of 100, retrying Unprocessed* with
// exponential backoff (throttled partitions return them instead of failing the call).
// Every call is bounded: per attempt by connection and request timeouts, and overall by the
// deadline of the invocation it serves (shared/edge/deadline.ts); running out of either, or DynamoDB
// throttling or failing, surfaces as ServiceUnavailableError (503 `unavailable`, Retry-After).
// A client sends DYNAMO_IN_FLIGHT calls at once; the rest wait their turn before the SDK.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import pLimit, { type LimitFunction } from 'p-limit';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  UpdateCommand,
  type UpdateCommandInput,
  type BatchWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { config } from '../edge/config.js';
import { DYNAMO_BATCH_GET_MAX, DYNAMO_BATCH_RETRIES, DYNAMO_BATCH_WRITE_MAX, DYNAMO_IN_FLIGHT } from '../domain/limits.js';
import { ServiceUnavailableError } from '../domain/errors.js';
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from '../domain/limits.js';
import { currentDeadline } from '../edge/deadline.js';
import { routeCommand } from './shard-routing.js';
import { hideMoveMarks } from './moved-rows.js';
import { isMultiRegion, regionDynamoEndpoint, selfRegion } from '../edge/network.js';
import type { RegionName } from '../domain/regions.js';

let doc: DynamoDBDocumentClient | undefined;
let raw: DynamoDBClient | undefined;
/** The turns of this region's client (db() and dynamo() share its sockets). */
let turns: LimitFunction | undefined;

/** TCP (and TLS) connection to the regional endpoint: milliseconds when healthy; a second means
 *  the endpoint is unreachable and the attempt is retried. */
const DYNAMO_CONNECT_TIMEOUT_MS = 1_000;
/** The SDK's request handler: both timeouts per attempt, and as many sockets as calls in flight. */
const requestHandler = () => ({
  connectionTimeout: DYNAMO_CONNECT_TIMEOUT_MS,
  requestTimeout: config().FEED_DYNAMO_TIMEOUT_MS,
  // Without it the SDK only logs a warning when requestTimeout passes.
  throwOnRequestTimeout: true,
  httpAgent: { maxSockets: DYNAMO_IN_FLIGHT },
  httpsAgent: { maxSockets: DYNAMO_IN_FLIGHT },
});

/**
 * The client without the SDK's logger middleware. The functions give the SDK no logger, yet the
 * middleware builds its log record after every call all the same (its default logger has an
 * `info` that discards it): a copy of the input and of the whole output, walked field by field
 * against the operation's schema to mask sensitive members. For a BatchGetItem of 80 posts that
 * was 10–25% of the call's CPU here (`.local`-style probe, 300 calls alternated four times:
 * 1.9–3.0 ms against 1.7–2.7 ms); the SDK has no setting that skips it.
 */
export function withoutSdkLogRecords<C extends DynamoDBClient>(client: C): C {
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}

export function dynamo(): DynamoDBClient {
  raw ??= bounded(
    withoutSdkLogRecords(
      new DynamoDBClient({
        region: config().AWS_REGION,
        ...(config().DYNAMODB_ENDPOINT && { endpoint: config().DYNAMODB_ENDPOINT }),
        maxAttempts: 5,
        requestHandler: requestHandler(),
      }),
    ),
    (turns ??= pLimit(DYNAMO_IN_FLIGHT)),
  );
  return raw;
}

export function db(): DynamoDBDocumentClient {
  doc ??= bounded(
    DynamoDBDocumentClient.from(dynamo(), {
      marshallOptions: { removeUndefinedValues: true },
    }),
    (turns ??= pLimit(DYNAMO_IN_FLIGHT)),
  );
  return doc;
}

const THROTTLED = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded']);
const FAILED = new Set(['InternalServerError', 'ServiceUnavailable', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'AbortError']);
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** The 503 an error of DynamoDB stands for: throttling, a server error, a timeout or abort, a
 *  network failure; undefined for anything the caller must handle (conditions, validation). */
export function asUnavailable(err: unknown): ServiceUnavailableError | undefined {
  if (err instanceof ServiceUnavailableError) return err;
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; CancellationReasons?: { Code?: string }[] };
  if (typeof e !== 'object' || e === null) return undefined;
  // A failed condition decides a transaction's outcome whatever else was throttled.
  const reasons = e.name === 'TransactionCanceledException' ? (e.CancellationReasons ?? []).map((r) => r.Code) : [];
  const throttledTransaction = reasons.some((c) => c === 'ThrottlingError' || c === 'ProvisionedThroughputExceeded') && !reasons.includes('ConditionalCheckFailed');
  const unavailable =
    THROTTLED.has(e.name ?? '') ||
    FAILED.has(e.name ?? '') ||
    NETWORK.has(e.code ?? '') ||
    (e.$metadata?.httpStatusCode ?? 0) >= 500 ||
    throttledTransaction;
  return unavailable ? new ServiceUnavailableError('the service is temporarily unavailable; retry later', UNAVAILABLE_RETRY_AFTER_SECONDS, { cause: err }) : undefined;
}

type Send = (command: unknown, options?: unknown, cb?: unknown) => Promise<unknown>;

/** Bounds every send() of `client` by the current deadline: the request is aborted (no retry after
 *  the SDK sees the abort) and the caller is answered at the deadline even if the SDK is sleeping
 *  between retries or the call is still waiting for its turn. Errors that mean "unavailable"
 *  become ServiceUnavailableError. Routes each command by the shard map and hides a reshard's
 *  marks from what it answers.
 *  A call is handed to the SDK only in its turn (`turns`, DYNAMO_IN_FLIGHT at once, as many as the
 *  SDK has sockets): the SDK starts its connection and request timeouts when a call is made, not
 *  when it gets a socket, so calls queued past its sockets timed out on a table that was only slow
 *  (a socket "not connected within 1 s"), and were retried, adding to the load. */
function bounded<C extends { send: unknown }>(client: C, turns: LimitFunction): C {
  const target = client as unknown as { send: Send };
  const send = target.send.bind(target);
  target.send = async (original, options, cb) => {
    if (typeof options === 'function' || cb !== undefined) return send(original, options, cb);
    const at = currentDeadline();
    try {
      // Sent to the table that holds its rows now (a reshard may have moved them).
      const routed = await routeCommand(original);
      const { command } = routed;
      // What a read answers never shows a reshard's mark (moved-rows.ts).
      const restore = (out: unknown) => {
        const restored = routed.restore ? routed.restore(out) : out;
        hideMoveMarks(restored);
        return restored;
      };
      if (at === undefined) return restore(await turns(() => send(command, options)));
      const left = at - Date.now();
      if (left <= 0) throw new DeadlineExceededError();
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(new DeadlineExceededError()), left);
      const expired = new Promise<never>((_, reject) => abort.signal.addEventListener('abort', () => reject(new DeadlineExceededError()), { once: true }));
      // A call whose deadline passed while it waited gives its turn up unsent.
      const inTurn = () => (abort.signal.aborted ? Promise.reject(new DeadlineExceededError()) : send(command, { ...(options as object), abortSignal: abort.signal }));
      try {
        return restore(await Promise.race([turns(inTurn), expired]));
      } finally {
        clearTimeout(timer);
      }
    } catch (err) {
      throw asUnavailable(err) ?? err;
    }
  };
  return client;
}

/** The invocation's DynamoDB deadline passed. */
class DeadlineExceededError extends Error {
  override name = 'TimeoutError';
  constructor() {
    super('the request deadline passed before DynamoDB answered');
  }
}

/** Drops the clients (tests that point at another endpoint). */
export function resetDynamo(): void {
  raw?.destroy();
  raw = undefined;
  doc = undefined;
  turns = undefined;
}

type WriteRequest = NonNullable<BatchWriteCommandInput['RequestItems']>[string][number];
export interface TableWrite {
  table: string;
  request: WriteRequest;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const backoff = (attempt: number) => sleep(Math.min(1000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2));

function group<T extends { table: string }>(items: T[]): Record<string, T[]> {
  const out: Record<string, T[]> = {};
  for (const item of items) (out[item.table] ??= []).push(item);
  return out;
}

/** Writes every request, 25 per call, retrying unprocessed ones; throws if any remain after
 *  DYNAMO_BATCH_RETRIES attempts (the caller's message is then retried by its queue). Returns
 *  the number of BatchWriteItem calls made. */
export async function batchWrite(writes: TableWrite[]): Promise<number> {
  let calls = 0;
  for (let i = 0; i < writes.length; i += DYNAMO_BATCH_WRITE_MAX) {
    const chunk = writes.slice(i, i + DYNAMO_BATCH_WRITE_MAX);
    let pending: Record<string, WriteRequest[]> = Object.fromEntries(
      Object.entries(group(chunk)).map(([t, ws]) => [t, ws.map((w) => w.request)]),
    );
    for (let attempt = 0; Object.keys(pending).length > 0; attempt++) {
      if (attempt > DYNAMO_BATCH_RETRIES) {
        throw new Error(`BatchWriteItem left ${Object.values(pending).flat().length} items unprocessed`);
      }
      if (attempt > 0) await backoff(attempt);
      const out = await db().send(new BatchWriteCommand({ RequestItems: pending }));
      calls++;
      pending = (out.UnprocessedItems ?? {}) as Record<string, WriteRequest[]>;
    }
  }
  return calls;
}

export interface TableKey {
  table: string;
  key: Record<string, unknown>;
}

/** Reads every key, 100 per call, retrying unprocessed ones. Items come back keyed by table. */
export async function batchGet(keys: TableKey[]): Promise<Record<string, Record<string, unknown>[]>> {
  const result: Record<string, Record<string, unknown>[]> = {};
  for (let i = 0; i < keys.length; i += DYNAMO_BATCH_GET_MAX) {
    const chunk = keys.slice(i, i + DYNAMO_BATCH_GET_MAX);
    let pending: Record<string, { Keys: Record<string, unknown>[] }> = Object.fromEntries(
      Object.entries(group(chunk)).map(([t, ks]) => [t, { Keys: ks.map((k) => k.key) }]),
    );
    for (let attempt = 0; Object.keys(pending).length > 0; attempt++) {
      if (attempt > DYNAMO_BATCH_RETRIES) throw new Error('BatchGetItem left keys unprocessed');
      if (attempt > 0) await backoff(attempt);
      const out = await db().send(new BatchGetCommand({ RequestItems: pending }));
      for (const [table, items] of Object.entries(out.Responses ?? {})) {
        (result[table] ??= []).push(...(items as Record<string, unknown>[]));
      }
      pending = (out.UnprocessedKeys ?? {}) as typeof pending;
    }
  }
  return result;
}

/** True when a transaction or conditional write failed on its condition. */
export function isConditionFailure(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return name === 'ConditionalCheckFailedException' || name === 'TransactionCanceledException';
}

/** A conditional update: false when its condition failed, the outcome its caller branches on. */
export async function updateIf(input: UpdateCommandInput): Promise<boolean> {
  try {
    await db().send(new UpdateCommand(input));
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/** The per-item cancellation reasons of a TransactionCanceledException, in request order. */
export function cancellationCodes(err: unknown): (string | undefined)[] {
  const reasons = (err as { CancellationReasons?: { Code?: string }[] })?.CancellationReasons ?? [];
  return reasons.map((r) => (r.Code === 'None' ? undefined : r.Code));
}

const remote = new Map<string, DynamoDBDocumentClient>();
/** Told of each client made for another region: the local replication stand-in stamps the
 *  writes it sends there as that region's own (Global Tables keep such metadata themselves). */
let remoteClientHook: ((raw: DynamoDBClient, region: RegionName) => void) | undefined;
export function onRemoteClient(hook: ((raw: DynamoDBClient, region: RegionName) => void) | undefined): void {
  remoteClientHook = hook;
}

/** The document client of a region of the network: this region's own, or another region's (its
 *  local stack endpoint, or AWS's regional endpoint), bounded like db(). */
export function dbIn(region: RegionName): DynamoDBDocumentClient {
  if (region === selfRegion() || !isMultiRegion()) return db();
  const endpoint = regionDynamoEndpoint(region);
  const id = `${region} ${endpoint ?? ''}`;
  let client = remote.get(id);
  if (!client) {
    const raw = withoutSdkLogRecords(
      new DynamoDBClient({
        region: endpoint ? config().AWS_REGION : region,
        ...(endpoint && { endpoint }),
        maxAttempts: 2,
        requestHandler: requestHandler(),
      }),
    );
    remoteClientHook?.(raw, region);
    client = bounded(DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } }), pLimit(DYNAMO_IN_FLIGHT));
    remote.set(id, client);
  }
  return client;
}
