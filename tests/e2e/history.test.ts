// Counts under bursts and a feed without holes: concurrent follows of one account are all counted,
// activity is written at most once per resolution, and a reader whose precomputed feed has run
// out (expired or trimmed entries) still pages through the followed authors' posts.
import { DeleteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { db } from '../../shared/store/client.js';
import { feedsTable } from '../../shared/store/keys.js';
import { profileRow, touchActivity } from '../../shared/services/users.js';
import { call, newUser } from '../support/client.js';

describe('counts and history', () => {
  it('counts every one of 20 concurrent follows of one account', async () => {
    const star = await newUser();
    const fans = await Promise.all(Array.from({ length: 20 }, () => newUser()));
    const results = await Promise.all(fans.map((f) => call('PUT', `/v1/users/${star.userId}/follow`, { token: f.token })));
    expect(results.map((r) => r.status)).toEqual(fans.map(() => 204));
    const profile = await call('GET', `/v1/users/${star.userId}`, { token: star.token });
    expect(profile.body.followerCount).toBe(20);
  });

  it('writes activity at most once per resolution window', async () => {
    const u = await newUser();
    const row = (await profileRow(u.userId))!;
    const now = Math.floor(Date.now() / 1000);
    expect(await touchActivity(row, now)).toBe(true);
    expect(await touchActivity(row, now + 10)).toBe(false);
    const stale = { ...row, activeAt: undefined };
    expect(await touchActivity(stale, now + 20)).toBe(false); // the stored value still says recent
    expect(await touchActivity(row, now + 3600)).toBe(true);
  });

  it('continues from the followed authors’ posts once the precomputed feed is used up', async () => {
    const author = await newUser();
    const reader = await newUser();
    const posted: string[] = [];
    for (let i = 0; i < 6; i++) posted.push((await call('POST', '/v1/posts', { token: author.token, body: { content: `h${i}` } })).body.postId);
    await call('PUT', `/v1/users/${author.userId}/follow`, { token: reader.token });
    // The entries expire or are trimmed away: the feed table holds nothing for this reader.
    const entries = await db().send(new QueryCommand({ TableName: feedsTable(reader.userId), KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': reader.userId } }));
    for (const e of entries.Items ?? []) await db().send(new DeleteCommand({ TableName: feedsTable(reader.userId), Key: { userId: reader.userId, postId: e.postId } }));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page = await call('GET', `/v1/feed?limit=4${q}`, { token: reader.token });
      seen.push(...page.body.items.map((p: { postId: string }) => p.postId));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...posted].reverse());
  });
});
