// Hybrid fan-out measured on a stack of its own, with the tier thresholds lowered (celebrity from
// 5 followers, mega from 20) and a write counter on its DynamoDB client: regular posts reach every
// follower, celebrity posts write entries only for active followers, mega posts write at most
// VIPs + a constant, and every follower sees each post exactly once, in order.
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '../../shared/local/stack.js';
import { stackClient, until, type StackUser } from '../support/own-stack.js';

const PREFIX = `tiers${process.pid}-`;
let stack: Stack;
let base = '';
let writes: () => { total: number; byTable: Record<string, number> };

type U = StackUser;
const client = stackClient(() => base, 'tiers');
const http = client.http;
const user = () => client.user('US');

const feed = async (u: U) => (await http('GET', '/v1/feed?limit=100', u.token)).body.items.map((p: { postId: string }) => p.postId) as string[];
const postWrites = () => Object.entries(writes().byTable).filter(([t]) => !t.startsWith(`${PREFIX}Notifications_`)).reduce((a, [, v]) => a + v, 0);
const feedWrites = () => Object.entries(writes().byTable).filter(([t]) => t.startsWith(`${PREFIX}Feeds_`)).reduce((a, [, v]) => a + v, 0);

let regular: U, celebrity: U, mega: U;
let fans: U[];

beforeAll(async () => {
  const { startStack } = await import('../../shared/local/stack.js');
  stack = await startStack({
    fresh: true,
    port: 0,
    env: { FEED_TABLE_PREFIX: PREFIX, FEED_SHARDS: '16', FEED_CELEBRITY_THRESHOLD: '5', FEED_MEGA_THRESHOLD: '20', FEED_NOTIFICATION_WINDOW_SECONDS: '2' },
    // Long enough that a slow job is not redelivered while it still runs (a redelivered job
    // rewrites the same entries: harmless, but counted as writes).
    queues: { visibilityTimeoutMs: 10_000 },
    sweepIntervalMs: 3_600_000,
    // Compose a 2-second window 1.5 s after it closes, so a slow machine's late writes are in.
    notificationGraceMs: 1500,
  });
  base = stack.url;
  writes = (await import('../../shared/local/request-counter.js')).writeCounts;
  [regular, celebrity, mega] = [await user(), await user(), await user()];
  fans = [];
  for (let i = 0; i < 22; i++) fans.push(await user());
  // Fans 0-3 are active readers; the rest never read.
  for (const f of fans.slice(0, 4)) await http('GET', '/v1/feed', f.token);
  for (const f of fans) {
    expect((await http('PUT', `/v1/users/${mega.userId}/follow`, f.token)).status).toBe(204);
  }
  for (const f of fans.slice(0, 6)) await http('PUT', `/v1/users/${celebrity.userId}/follow`, f.token);
  for (const f of fans.slice(0, 3)) await http('PUT', `/v1/users/${regular.userId}/follow`, f.token);
  // Two VIPs of the mega author.
  for (const f of fans.slice(4, 6)) expect((await http('PUT', `/v1/me/vips/${f.userId}`, mega.token)).status).toBe(204);
  await stack.settle(20_000);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('hybrid fan-out by tier', () => {
  it('reports each author’s tier from their follower count', async () => {
    const tiers = await Promise.all([regular, celebrity, mega].map(async (u) => (await http('GET', `/v1/users/${u.userId}`, u.token)).body));
    expect(tiers.map((t) => [t.followerCount, t.tier])).toEqual([
      [3, 'regular'],
      [6, 'celebrity'],
      [22, 'mega'],
    ]);
  });

  it('pushes a regular post to every follower', async () => {
    const before = feedWrites();
    const post = (await http('POST', '/v1/posts', regular.token, { content: 'regular' })).body;
    // Pushed: one feed entry per follower (reads may show it earlier, pulled as history).
    await until(async () => feedWrites() - before >= 3, 15_000, 'three feed entries written');
    await stack.settle(20_000);
    expect(feedWrites() - before).toBe(3);
    for (const f of fans.slice(0, 3)) expect(await feed(f)).toContain(post.postId);
  });

  it('pushes a celebrity post only to active followers; the others pull it', async () => {
    await stack.settle(20_000);
    const before = feedWrites();
    const post = (await http('POST', '/v1/posts', celebrity.token, { content: 'celebrity' })).body;
    const sfn = new SFNClient({ endpoint: process.env.FEED_SFN_ENDPOINT, region: 'us-east-1' });
    const arn = `arn:aws:states:us-east-1:000000000000:stateMachine:celebrity-fanout`;
    await until(async () => {
      const out = await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }));
      return out.executions?.find((e) => e.name === `add-${post.postId}` && e.status === 'SUCCEEDED');
    }, 10_000, 'CelebrityFanout execution');
    await stack.settle(20_000);
    // Fans 0-3 read their feed before following, so they are in the active index: 4 entries.
    expect(feedWrites() - before).toBe(4);
    for (const f of fans.slice(0, 6)) expect(await feed(f)).toContain(post.postId);
  });

  it('writes at most VIPs + a constant for a mega post, and delays its notifications', async () => {
    await stack.settle(20_000);
    const before = postWrites();
    const post = (await http('POST', '/v1/posts', mega.token, { content: 'mega' })).body;
    for (const f of fans.slice(4, 6)) await until(async () => (await feed(f)).includes(post.postId), 15_000, 'pushed to VIP');
    await stack.settle(20_000);
    // Digests of earlier events are composed meanwhile (a 2-second window): not this post's.
    const written = postWrites() - before;
    expect(written).toBeLessThanOrEqual(2 + 3);
    const delayed = stack.queues.pending('fanout').filter((m) => m.body.includes(post.postId));
    expect(delayed.map((m) => [JSON.parse(m.body).kind, m.delaySeconds])).toEqual([['notify-plan', 60]]);
    // Everyone else pulls it.
    for (const f of fans) await until(async () => (await feed(f)).includes(post.postId), 15_000, 'mega post pulled');
  });

  it('shows each follower every tier’s posts exactly once, newest first', async () => {
    const fan = fans[0]!;
    const posted: string[] = [];
    for (const author of [regular, celebrity, mega, regular]) {
      posted.push((await http('POST', '/v1/posts', author.token, { content: 'mixed' })).body.postId);
    }
    // Each tier's path has its own delay (push, workflow push, pull within the mirror's second).
    await until(async () => {
      const seen = await feed(fan);
      return posted.every((p) => seen.includes(p));
    }, 15_000, 'every post');
    const ids = await feed(fan);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort().reverse()).toEqual(ids);
    for (const p of posted) expect(ids).toContain(p);
  });

  it('refuses more than the VIP limit’s check and VIPs who do not follow', async () => {
    const stranger = await user();
    const res = await http('PUT', `/v1/me/vips/${stranger.userId}`, mega.token);
    expect(res.status).toBe(404);
  });

  it('notifies followers of regular posts and new followers with one digest per window', async () => {
    const fan = fans[1]!;
    const digest = await until(async () => {
      const res = await http('GET', '/v1/notifications', fan.token);
      return res.body.items.find((n: { posts: number }) => n.posts > 0);
    }, 20_000, 'a post digest');
    expect(digest.text).toMatch(/posted/);
    // The 22 follows spread over a few 2-second windows: one digest per window, none counted twice.
    const digests = await until(async () => {
      const items = (await http('GET', '/v1/notifications?limit=100', mega.token)).body.items as { follows: number; text: string; notificationId: string }[];
      return items.reduce((sum, d) => sum + d.follows, 0) === 22 && items;
    }, 20_000, 'follower digests adding up to 22');
    const author = digests[0]!;
    expect(author.text).toMatch(/followed you/);
    expect(digests.some((d) => /and \d+ others followed you/.test(d.text))).toBe(true);
    const read = await http('POST', '/v1/notifications/read', mega.token, { upTo: author.notificationId });
    expect(read.status).toBe(204);
    const after = await http('GET', '/v1/notifications', mega.token);
    expect(after.body.items.find((n: { notificationId: string }) => n.notificationId === author.notificationId).read).toBe(true);
  });
  it('merges a mega-celebrity’s new post into a cached page at read time, generating nothing', async () => {
    const reader = fans[12]!; // follows the mega author only, not a VIP
    await feed(reader);
    await feed(reader); // the page is cached, pulled from the mega author
    const { cacheStats } = await import('../../shared/cache/feed-cache.js');
    const before = cacheStats().generated;
    const post = (await http('POST', '/v1/posts', mega.token, { content: 'merged at read time' })).body;
    await until(async () => (await feed(reader))[0] === post.postId, 15_000, 'mega post on top of the cached page');
    expect(cacheStats().generated - before).toBe(0);
  });
});
