import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { db } from '../../shared/store/client.js';
import { feedsTable } from '../../shared/store/keys.js';
import { call, eventually, feedIds, newUser, type TestUser } from '../support/client.js';

const post = async (u: TestUser, content: string) => {
  const res = await call('POST', '/v1/posts', { token: u.token, body: { content } });
  expect(res.status).toBe(201);
  return res.body as { postId: string; authorId: string; content: string; createdAt: string };
};
const pushedCount = async (userId: string) => {
  const out = await db().send(
    new QueryCommand({ TableName: feedsTable(userId), KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId }, Select: 'COUNT' }),
  );
  return out.Count ?? 0;
};
const followUser = async (follower: TestUser, followee: TestUser) => {
  const res = await call('PUT', `/v1/users/${followee.userId}/follow`, { token: follower.token });
  expect(res.status).toBe(204);
};

describe('feed and push fan-out', () => {
  it('delivers a post to every follower through the stream and the fan-out queue', async () => {
    const author = await newUser('DE');
    const followers = await Promise.all([newUser('US'), newUser('BR'), newUser('JP')]);
    for (const f of followers) await followUser(f, author);
    const p = await post(author, 'hello followers');
    for (const f of followers) {
      await eventually(async () => (await feedIds(f)).includes(p.postId), 15_000, 'post in follower feed');
    }
    const stranger = await newUser();
    expect(await feedIds(stranger)).toEqual([]);
    expect(await feedIds(author)).not.toContain(p.postId);
  });

  it('counts followers and following, and lists them with cursors', async () => {
    const star = await newUser();
    const fans = await Promise.all(Array.from({ length: 5 }, () => newUser()));
    for (const f of fans) await followUser(f, star);
    await followUser(fans[0]!, star); // idempotent
    const profile = await call('GET', `/v1/users/${star.userId}`, { token: star.token });
    expect(profile.body.followerCount).toBe(5);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page = await call('GET', `/v1/users/${star.userId}/followers?limit=2${q}`, { token: star.token });
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((u: { userId: string }) => u.userId));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(fans.map((f) => f.userId).sort());
    const following = await call('GET', `/v1/users/${fans[0]!.userId}/following`, { token: star.token });
    expect(following.body.items.map((u: { userId: string }) => u.userId)).toEqual([star.userId]);
    const fan = await call('GET', '/v1/me', { token: fans[0]!.token });
    expect(fan.body.followingCount).toBe(1);
  });

  it('backfills the followee’s latest posts on follow, newest first', async () => {
    const author = await newUser();
    const posts = [];
    for (let i = 0; i < 3; i++) posts.push(await post(author, `old ${i}`));
    const reader = await newUser();
    await followUser(reader, author);
    expect(await feedIds(reader)).toEqual(posts.map((p) => p.postId).reverse());
  });

  it('removes the followee’s posts on unfollow, idempotently, and fixes the counts', async () => {
    const author = await newUser();
    const other = await newUser();
    const reader = await newUser();
    await followUser(reader, author);
    await followUser(reader, other);
    const a = await post(author, 'from author');
    const o = await post(other, 'from other');
    await eventually(async () => (await pushedCount(reader.userId)) === 2, 15_000, 'two entries pushed');
    for (let i = 0; i < 2; i++) {
      expect((await call('DELETE', `/v1/users/${author.userId}/follow`, { token: reader.token })).status).toBe(204);
    }
    expect(await feedIds(reader)).toEqual([o.postId]);
    expect((await call('GET', `/v1/users/${author.userId}`, { token: reader.token })).body.followerCount).toBe(0);
    expect((await call('GET', '/v1/me', { token: reader.token })).body.followingCount).toBe(1);
    await post(author, 'after unfollow');
    const later = await post(other, 'still followed');
    await eventually(async () => (await feedIds(reader)).includes(later.postId), 15_000, 'later post');
    expect(await feedIds(reader)).not.toContain(a.postId);
    expect((await feedIds(reader)).length).toBe(2);
  });

  it('drops a deleted post from every feed', async () => {
    const author = await newUser();
    const readers = await Promise.all([newUser(), newUser()]);
    for (const r of readers) await followUser(r, author);
    const p = await post(author, 'regret');
    for (const r of readers) await eventually(async () => (await feedIds(r)).includes(p.postId), 15_000, 'delivered');
    expect((await call('DELETE', `/v1/posts/${p.postId}`, { token: author.token })).status).toBe(204);
    // Gone for every reader, cached first pages included (at once in practice; bounded poll).
    for (const r of readers) await eventually(async () => !(await feedIds(r)).includes(p.postId), 15_000, 'post gone');
    for (const r of readers) expect(await feedIds(r, '?limit=5')).not.toContain(p.postId);
  });

  it('keeps cursors stable while new posts arrive: no repeats, no gaps', async () => {
    const author = await newUser();
    const reader = await newUser();
    await followUser(reader, author);
    const first: string[] = [];
    for (let i = 0; i < 7; i++) first.push((await post(author, `batch1 ${i}`)).postId);
    // Wait for the pushed entries themselves (a read may show posts earlier, pulled as history).
    await eventually(async () => (await pushedCount(reader.userId)) === 7, 15_000, 'seven entries pushed');
    const page1 = await call('GET', '/v1/feed?limit=3', { token: reader.token });
    for (let i = 0; i < 3; i++) await post(author, `interleaved ${i}`);
    await eventually(async () => (await pushedCount(reader.userId)) === 10, 15_000, 'ten entries pushed');
    const seen = page1.body.items.map((p: { postId: string }) => p.postId);
    let cursor: string | null = page1.body.nextCursor;
    while (cursor) {
      const page = await call('GET', `/v1/feed?limit=3&cursor=${encodeURIComponent(cursor)}`, { token: reader.token });
      seen.push(...page.body.items.map((p: { postId: string }) => p.postId));
      cursor = page.body.nextCursor;
    }
    expect(seen).toEqual([...first].reverse());
  });

  it('lists an author’s posts newest first with cursors', async () => {
    const author = await newUser();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await post(author, `p${i}`)).postId);
    const page1 = await call('GET', `/v1/users/${author.userId}/posts?limit=3`, { token: author.token });
    const page2 = await call('GET', `/v1/users/${author.userId}/posts?limit=3&cursor=${encodeURIComponent(page1.body.nextCursor)}`, { token: author.token });
    expect([...page1.body.items, ...page2.body.items].map((p: { postId: string }) => p.postId)).toEqual(ids.reverse());
    expect(page2.body.nextCursor).toBeNull();
  });

  it('creates one post for retries with the same Idempotency-Key', async () => {
    const author = await newUser();
    const headers = { 'idempotency-key': `key-${Date.now()}` };
    const first = await call('POST', '/v1/posts', { token: author.token, body: { content: 'once' }, headers });
    const retry = await call('POST', '/v1/posts', { token: author.token, body: { content: 'once' }, headers });
    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    const reused = await call('POST', '/v1/posts', { token: author.token, body: { content: 'different' }, headers });
    expect(reused.status).toBe(409);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
    const posts = await call('GET', `/v1/users/${author.userId}/posts`, { token: author.token });
    expect(posts.body.items).toHaveLength(1);
    const other = await newUser();
    const sameKeyOtherUser = await call('POST', '/v1/posts', { token: other.token, body: { content: 'mine' }, headers });
    expect(sameKeyOtherUser.body.postId).not.toBe(first.body.postId);
  });
});
