// Cached first pages after a burst of posts (issue: a page size cached during the burst kept
// missing posts until it expired): every page size's first page, and every paging sequence from
// it, shows every post of the burst exactly once, newest first. Runs on a stack of its own with
// the production Redis command timeout (50 ms), as `npm start` has it, and Redis holds writes
// now and then for longer than that (CLIENT PAUSE), as a busy machine does: the held commands
// run, but their replies time out, which is what left pages behind without a post.
import { setTimeout as sleep } from 'node:timers/promises';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '../../shared/local/stack.js';
import { db } from '../../shared/store/client.js';
import { feedsTable } from '../../shared/store/keys.js';
import { until } from '../support/own-stack.js';
import { useOwnRedis } from '../support/shared-redis.js';

const PREFIX = `burst${process.pid}-`;
const BURST = 25;
/** Page sizes checked: 7 as in the report, 20 (the default) and 100 (the largest), and 5. */
const LIMITS = [7, 20, 100, 5];
/** What the reader asks for while the posts arrive: each is a cached variant being generated and
 *  merged into at the same time. */
const READS_DURING_BURST = ['?limit=100', '?limit=7', '', '?limit=20'];

/** A slow Redis: writes held SLOW_MS out of every SLOW_EVERY_MS, long enough for several replies
 *  in a row to time out, which opens the breaker (writes are then not even sent, for 2 s). */
const SLOW_MS = 300;
const SLOW_EVERY_MS = 500;
/** The posts made while Redis is slow: n8 to n16. */
const SLOW_FROM = 8;
const SLOW_UNTIL = 17;

let stack: Stack;
/** A redis-server of its own: the pauses below hold every client of the server, and on the
 *  shared one they held the commands of the files running beside this one. */
const ownRedis = useOwnRedis();
interface User {
  token: string;
  userId: string;
}

/** One request; a reply the machine was too slow to give (5xx) comes back as undefined. */
async function http(method: string, path: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { ...headers, ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch(() => undefined);
  if (!res || res.status >= 500) return undefined;
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Retries an idempotent request until it answers `status` (a loaded machine times some out). */
const retried = (what: string, status: number, request: () => ReturnType<typeof http>) =>
  until(async () => {
    const res = await request();
    return res?.status === status && res;
  }, 30_000, what);

let users = 0;
async function newUser(): Promise<User> {
  const sub = `burst-${process.pid}-${users++}`;
  const { body } = await retried('token', 200, () => http('POST', '/v1/dev/token', undefined, { sub }));
  const handle = `b${process.pid}_${users}`.slice(0, 30);
  // A retry after a timed-out creation finds the user made (409): their id is then read back.
  await until(async () => [201, 409].includes((await http('POST', '/v1/users', body.token, { handle, displayName: 'burst', country: 'DE' }))?.status ?? 0), 30_000, 'user');
  const me = await retried('me', 200, () => http('GET', '/v1/me', body.token));
  return { token: body.token, userId: me.body.userId };
}

const feedPage = async (u: User, query: string) => (await retried(`feed${query}`, 200, () => http('GET', `/v1/feed${query}`, u.token))).body;
const feedIds = async (u: User, query: string): Promise<string[]> => (await feedPage(u, query)).items.map((p: { postId: string }) => p.postId);

const pushedCount = async (userId: string) => {
  const out = await db().send(
    new QueryCommand({ TableName: feedsTable(userId), KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId }, Select: 'COUNT' }),
  );
  return out.Count ?? 0;
};

/** Every item of the feed, paging with `limit` from the (cached) first page to the end. */
async function pageThrough(u: User, limit: number): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 50; pages++) {
    const page: { items: { postId: string }[]; nextCursor: string | null } = await feedPage(u, `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    seen.push(...page.items.map((p) => p.postId));
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  return seen;
}

beforeAll(async () => {
  const { startStack } = await import('../../shared/local/stack.js');
  process.env.REDIS_URL = ownRedis.url;
  stack = await startStack({
    fresh: true,
    port: 0,
    // The test DynamoDB Local with tables of its own; handlers with the production Redis command
    // timeout.
    env: { FEED_TABLE_PREFIX: PREFIX, FEED_REDIS_TIMEOUT_MS: '50' },
    // A fan-out job is received again after this long: on a throttled machine one took longer
    // than 500 ms, was received five times while still running and went to the dead letters.
    queues: { visibilityTimeoutMs: 5_000 },
    sweepIntervalMs: 3_600_000,
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('feed cache after a burst of posts', () => {
  it('shows every post exactly once, newest first, at every page size and when paging', async () => {
    const [author, reader] = [await newUser(), await newUser()];
    await retried('follow', 204, () => http('PUT', `/v1/users/${author.userId}/follow`, reader.token));
    let reading = true;
    const reads = (async () => {
      for (let i = 0; reading; i++) await http('GET', `/v1/feed${READS_DURING_BURST[i % READS_DURING_BURST.length]}`, reader.token);
    })();
    // Redis is slow in the middle of the burst only: pages cached before it must take the posts
    // made while it is slow, or be dropped.
    const redis = new Redis(process.env.REDIS_URL!);
    let slow = false;
    const slowRedis = (async () => {
      while (reading) {
        if (slow) await redis.call('CLIENT', 'PAUSE', String(SLOW_MS), 'WRITE');
        await sleep(SLOW_EVERY_MS);
      }
    })();

    const posted: string[] = [];
    for (let i = 0; i < BURST; i++) {
      slow = i >= SLOW_FROM && i < SLOW_UNTIL;
      const headers = { 'idempotency-key': `${author.userId}-n${i}` };
      posted.push((await retried(`post n${i}`, 201, () => http('POST', '/v1/posts', author.token, { content: `n${i}` }, headers))).body.postId);
    }
    // Every entry pushed (a read alone can show the posts earlier, pulled as history).
    await until(async () => (await pushedCount(reader.userId)) === BURST, 150_000, 'every entry pushed');
    reading = false;
    await Promise.all([reads, slowRedis]);
    redis.disconnect();

    const newestFirst = [...posted].reverse();
    const names = (ids: string[]) => ids.map((id) => `n${posted.indexOf(id)}`).join(' ');
    for (const limit of LIMITS) {
      // The last merges land moments after the last entry: a bounded poll, which a page that
      // missed a post fails, since it kept missing it until it expired (15 minutes).
      const want = names(newestFirst.slice(0, limit));
      let got = '';
      await until(async () => (got = names(await feedIds(reader, `?limit=${limit}`))) === want, 5_000, `first page of ${limit}`).catch(() => {});
      expect(got, `first page of ${limit}`).toBe(want);
    }
    for (const limit of LIMITS) expect(names(await pageThrough(reader, limit)), `paging by ${limit}`).toBe(names(newestFirst));
  }, 300_000);
});
