// DynamoDB that is stalled (a TCP proxy that accepts connections and never answers) or down (a
// port nobody listens on): the API answers 503 `unavailable` with Retry-After before the
// invocation's deadline, aborts its in-flight requests, and never answers a bare 500.
import { createServer, type Server, type Socket } from 'node:net';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ServiceUnavailableError } from '../../shared/domain/errors.js';
import { resetConfig } from '../../shared/edge/config.js';
import type { HttpResult } from '../../shared/edge/http.js';
import { freePort } from '../../shared/local/engines.js';
import { DYNAMO_IN_FLIGHT, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../../shared/domain/limits.js';
import { DEADLINE_RESERVE_MS, withDeadline } from '../../shared/edge/deadline.js';
import { keys } from '../../shared/store/keys.js';
import { randomUserId } from '../support/fixtures-feeds.js';
import { db, resetDynamo } from '../../shared/store/client.js';
import { httpEvent, invokeLambda, testContext } from '../support/fixtures-lambda.js';
import { until } from '../support/fixtures-wait.js';
import { countInFlight } from '../support/fixtures-in-flight.js';

let stalled: Server;
const sockets = new Set<Socket>();
let accepted = 0;
const realEndpoint = process.env.DYNAMODB_ENDPOINT;
const testTimeoutMs = process.env.FEED_DYNAMO_TIMEOUT_MS;

function pointDynamoAt(endpoint: string, env: Record<string, string> = {}): void {
  Object.assign(process.env, { DYNAMODB_ENDPOINT: endpoint, ...env });
  resetConfig();
  resetDynamo();
}

/** A Lambda context whose invocation ends `ms` from now. */
function contextEnding(ms: number) {
  const end = Date.now() + ms;
  return { ...testContext(), getRemainingTimeInMillis: () => Math.max(0, end - Date.now()) };
}

beforeAll(async () => {
  stalled = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    // Reads (and drops) the request, so the client's close is seen; never writes a byte back.
    socket.resume();
  });
  await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
});

afterEach(() => {
  pointDynamoAt(realEndpoint ?? '', { FEED_DYNAMO_TIMEOUT_MS: testTimeoutMs ?? '3000' });
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => stalled.close(() => resolve()));
});

const stalledUrl = () => `http://127.0.0.1:${(stalled.address() as { port: number }).port}`;

describe('a stalled DynamoDB', () => {
  it('answers 503 unavailable with Retry-After before the invocation deadline', async () => {
    pointDynamoAt(stalledUrl());
    const { handler } = await import('../../functions/get-me.js');
    const remainingMs = 2_000;
    const started = Date.now();

    const res = (await invokeLambda(handler, httpEvent({ method: 'GET', path: '/v1/me', sub: 'stalled-reader' }), contextEnding(remainingMs))) as HttpResult;
    const elapsed = Date.now() - started;

    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body as string).error.code).toBe('unavailable');
    expect(res.headers?.['retry-after']).toBe(String(UNAVAILABLE_RETRY_AFTER_SECONDS));
    // The store gives up DEADLINE_RESERVE_MS (here half the time) before the end.
    expect(elapsed).toBeGreaterThanOrEqual(remainingMs - DEADLINE_RESERVE_MS - 50);
    expect(elapsed).toBeLessThan(remainingMs - 200);
  });

  it('aborts the request it gave up on, leaving no connection behind', async () => {
    pointDynamoAt(stalledUrl());
    const { handler } = await import('../../functions/get-me.js');
    const before = accepted;
    await invokeLambda(handler, httpEvent({ method: 'GET', path: '/v1/me', sub: 'stalled-reader-2' }), contextEnding(1_000));
    expect(accepted).toBeGreaterThan(before);
    await until(() => sockets.size === 0, { timeoutMs: 2_000, what: 'the stalled connections to close' });
  });

  it('still ends a call outside any invocation through the per-attempt timeout', async () => {
    pointDynamoAt(stalledUrl(), { FEED_DYNAMO_TIMEOUT_MS: '200' });
    const before = accepted;
    const started = Date.now();
    const err = await db()
      .send(new GetCommand({ TableName: 'anything', Key: { pk: 'x', sk: 'y' } }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect(accepted - before, 'each timed-out attempt is retried on a new connection').toBeGreaterThan(1);
    expect(Date.now() - started).toBeLessThan(8_000);
  });
});

describe('a DynamoDB that refuses connections', () => {
  it('answers 503 unavailable, not 500', async () => {
    pointDynamoAt(`http://127.0.0.1:${await freePort()}`);
    const { handler } = await import('../../functions/get-me.js');
    const res = (await invokeLambda(handler, httpEvent({ method: 'GET', path: '/v1/me', sub: 'refused-reader' }), contextEnding(5_000))) as HttpResult;
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['retry-after']).toBe(String(UNAVAILABLE_RETRY_AFTER_SECONDS));
  });
});

describe('more calls at once than the client has sockets', () => {
  let counting: ReturnType<typeof countInFlight> | undefined;
  afterEach(() => {
    counting?.stop();
  });

  it('hands the SDK DYNAMO_IN_FLIGHT at a time and answers every one', async () => {
    const seen = (counting = countInFlight());
    const calls = 6 * DYNAMO_IN_FLIGHT;
    const out = await Promise.all(
      Array.from({ length: calls }, () => {
        const { table, key } = keys.profile(randomUserId());
        return db().send(new GetCommand({ TableName: table, Key: key }));
      }),
    );
    expect(out).toHaveLength(calls);
    expect(seen.max).toBe(DYNAMO_IN_FLIGHT);
  });

  it('answers a call still waiting for its turn at its deadline, and never sends it', async () => {
    pointDynamoAt(stalledUrl(), { FEED_DYNAMO_TIMEOUT_MS: '60000' });
    const get = (pk: string) => db().send(new GetCommand({ TableName: 'anything', Key: { pk, sk: 'y' } }));
    const within = (ms: number, pk: string) => withDeadline(contextEnding(DEADLINE_RESERVE_MS + ms), () => get(pk)).catch((e: unknown) => e);
    // Every turn taken, for 1.5 s, by a call the stalled server never answers.
    const holding = Array.from({ length: DYNAMO_IN_FLIGHT }, (_, i) => within(1_500, `held-${i}`));
    await until(() => sockets.size === DYNAMO_IN_FLIGHT, { timeoutMs: 5_000, what: 'every turn to hold a connection' });
    const seen = (counting = countInFlight());
    const started = Date.now();
    const err = await within(300, 'waiting');
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect(Date.now() - started).toBeLessThan(1_200);
    for (const held of await Promise.all(holding)) expect(held).toBeInstanceOf(ServiceUnavailableError);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen.max, 'the call that waited was never sent').toBe(0);
  });
});
