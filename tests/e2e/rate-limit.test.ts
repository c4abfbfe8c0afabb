// Per-user rate limits through the API, on a stack of its own with tight post and follow limits
// (the shared test stack runs with generous ones, tests/support/stack-env.ts): a burst from one
// user gets 201s then 429s with Retry-After, writes nothing for the 429s, and leaves another
// user's requests alone; follow and unfollow share one bucket, which bounds a flapping follower.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '../../shared/local/stack.js';
import { stackClient, type StackUser } from '../support/own-stack.js';

const TIGHT = {
  FEED_TABLE_PREFIX: `ratelimit${process.pid}-`,
  FEED_SHARDS: '16',
  FEED_RATE_POST_PER_MINUTE: '1',
  FEED_RATE_POST_BURST: '3',
  FEED_RATE_FOLLOW_PER_MINUTE: '1',
  FEED_RATE_FOLLOW_BURST: '2',
  // Redis decides every take here: one that timed out would fall back to the container's own
  // bucket (tested in tests/unit/rate-limit.test.ts), which lets one more post through.
  FEED_REDIS_TIMEOUT_MS: '10000',
};
const saved = Object.fromEntries(Object.keys(TIGHT).map((k) => [k, process.env[k]]));

let stack: Stack;
let base = '';
const client = stackClient(() => base, 'ratelimit');

/** A request whose reply keeps its headers (stackClient's http drops them). */
async function send(method: string, path: string, user: StackUser, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${user.token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  const { startStack } = await import('../../shared/local/stack.js');
  stack = await startStack({ fresh: true, port: 0, env: TIGHT, sweepIntervalMs: 3_600_000 });
  base = stack.url;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('per-user rate limits through the API', () => {
  it('answers a burst of posts with 201s then 429 rate_limited and Retry-After, writing nothing for the 429s', async () => {
    const [alice, bob] = [await client.user(), await client.user()];

    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await send('POST', '/v1/posts', alice, { content: `burst ${i}` }));
    const bobs = await send('POST', '/v1/posts', bob, { content: 'unrelated' });
    const listed = await send('GET', `/v1/users/${alice.userId}/posts?limit=100`, alice);

    expect(replies.map((r) => r.status)).toEqual([201, 201, 201, 429, 429]);
    for (const refused of replies.slice(3)) {
      expect(refused.body.error.code).toBe('rate_limited');
      // One post a minute: the next token is at most 60 s away, and never less than 1 s.
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(refused.retryAfter)).toBeLessThanOrEqual(60);
    }
    expect(bobs.status).toBe(201);
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((p: { content: string }) => p.content).sort()).toEqual(['burst 0', 'burst 1', 'burst 2']);
  });

  it('counts follows and unfollows against one bucket, so flapping stops at the burst', async () => {
    const [flapper, star, other] = [await client.user(), await client.user(), await client.user()];

    const follow = await send('PUT', `/v1/users/${star.userId}/follow`, flapper);
    const unfollow = await send('DELETE', `/v1/users/${star.userId}/follow`, flapper);
    const refollow = await send('PUT', `/v1/users/${star.userId}/follow`, flapper);
    const othersFollow = await send('PUT', `/v1/users/${star.userId}/follow`, other);
    const following = await send('GET', `/v1/users/${flapper.userId}/following`, flapper);

    expect([follow.status, unfollow.status, refollow.status]).toEqual([204, 204, 429]);
    expect(refollow.body.error.code).toBe('rate_limited');
    expect(Number(refollow.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(othersFollow.status).toBe(204);
    expect(following.body.items).toEqual([]);
  });
});
