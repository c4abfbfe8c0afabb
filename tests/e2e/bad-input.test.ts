import { describe, expect, it } from 'vitest';
import { encodeCursor } from '../../shared/domain/cursor.js';
import { idAt } from '../../shared/domain/ids.js';
import { call, newUser, token } from '../support/client.js';

describe('bad input and authorization', () => {
  it('refuses requests without a token, or with a bad one, with 401', async () => {
    for (const [method, path] of [['GET', '/v1/me'], ['GET', '/v1/feed'], ['POST', '/v1/posts'], ['PUT', '/v1/users/0AAAAAAAAAAAA/follow']]) {
      expect((await call(method!, path!)).status).toBe(401);
    }
    const good = await token('mallory');
    const tampered = `${good.slice(0, -4)}AAAA`;
    const res = await call('GET', '/v1/me', { token: tampered });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
    expect((await call('GET', '/v1/me', { headers: { authorization: 'Basic abc' } })).status).toBe(401);
  });

  it('refuses malformed JSON with 400', async () => {
    const u = await newUser();
    const res = await call('POST', '/v1/posts', { token: u.token, rawBody: '{"content": ', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_json');
  });

  it('refuses empty, blank and over-long content', async () => {
    const u = await newUser();
    for (const content of ['', '   \n', 'x'.repeat(2001)]) {
      const res = await call('POST', '/v1/posts', { token: u.token, body: { content } });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toContain('content');
    }
    const emoji = '😀'.repeat(2000);
    expect((await call('POST', '/v1/posts', { token: u.token, body: { content: emoji } })).status).toBe(201);
  });

  it('refuses a body over 64 KiB with 413 and writes nothing', async () => {
    const u = await newUser();
    const res = await call('POST', '/v1/posts', { token: u.token, body: { content: 'x'.repeat(70 * 1024) } });
    expect(res.status).toBe(413);
    const posts = await call('GET', `/v1/users/${u.userId}/posts`, { token: u.token });
    expect(posts.body.items).toEqual([]);
  });

  it('refuses a limit out of 1..100 and unknown query parameters', async () => {
    const u = await newUser();
    for (const q of ['limit=0', 'limit=101', 'limit=abc', 'limit=2.5', 'sort=asc']) {
      const res = await call('GET', `/v1/feed?${q}`, { token: u.token });
      expect(res.status, q).toBe(400);
    }
    expect((await call('GET', '/v1/feed?limit=100', { token: u.token })).status).toBe(200);
  });

  it('refuses a tampered cursor and a cursor from another list or user', async () => {
    const author = await newUser();
    const reader = await newUser();
    for (let i = 0; i < 3; i++) await call('POST', '/v1/posts', { token: author.token, body: { content: `p${i}` } });
    const page = await call('GET', `/v1/users/${author.userId}/posts?limit=1`, { token: reader.token });
    const cursor: string = page.body.nextCursor;
    expect(cursor).toBeTruthy();
    const flipped = cursor.slice(0, 5) + (cursor[5] === 'A' ? 'B' : 'A') + cursor.slice(6);
    for (const path of [
      `/v1/users/${author.userId}/posts?cursor=${encodeURIComponent(flipped)}`,
      `/v1/users/${reader.userId}/posts?cursor=${encodeURIComponent(cursor)}`,
      `/v1/feed?cursor=${encodeURIComponent(cursor)}`,
      `/v1/users/${author.userId}/followers?cursor=${encodeURIComponent(cursor)}`,
      `/v1/feed?cursor=garbage`,
    ]) {
      const res = await call('GET', path, { token: reader.token });
      expect(res.status, path).toBe(400);
      expect(res.body.error.code).toBe('invalid_cursor');
    }
  });

  it('lets only the author delete a post', async () => {
    const author = await newUser();
    const other = await newUser();
    const post = await call('POST', '/v1/posts', { token: author.token, body: { content: 'mine' } });
    const res = await call('DELETE', `/v1/posts/${post.body.postId}`, { token: other.token });
    expect(res.status).toBe(403);
    expect((await call('GET', `/v1/posts/${post.body.postId}`, { token: other.token })).status).toBe(200);
    expect((await call('DELETE', `/v1/posts/${post.body.postId}`, { token: author.token })).status).toBe(204);
    expect((await call('GET', `/v1/posts/${post.body.postId}`, { token: other.token })).status).toBe(404);
    expect((await call('DELETE', `/v1/posts/${post.body.postId}`, { token: author.token })).status).toBe(404);
  });

  it('needs a profile to post or follow', async () => {
    const t = await token();
    const target = await newUser();
    expect((await call('POST', '/v1/posts', { token: t, body: { content: 'x' } })).status).toBe(403);
    expect((await call('PUT', `/v1/users/${target.userId}/follow`, { token: t })).status).toBe(403);
  });

  it('refuses self-follow with 400 and an unknown user with 404', async () => {
    const u = await newUser();
    const self = await call('PUT', `/v1/users/${u.userId}/follow`, { token: u.token });
    expect(self.status).toBe(400);
    expect(self.body.error.code).toBe('self_follow');
    expect((await call('PUT', '/v1/users/0AAAAAAAAAAAA/follow', { token: u.token })).status).toBe(404);
    expect((await call('DELETE', '/v1/users/0AAAAAAAAAAAA/follow', { token: u.token })).status).toBe(404);
    expect((await call('GET', '/v1/users/0AAAAAAAAAAAA/followers', { token: u.token })).status).toBe(404);
  });

  it('answers 404 for an unknown post and an unknown route', async () => {
    const u = await newUser();
    expect((await call('GET', '/v1/posts/0AAAAAAAAAAAA', { token: u.token })).status).toBe(404);
    const res = await fetch(`${(await import('vitest')).inject('apiUrl')}/v1/nope`);
    expect(res.status).toBe(404);
  });

  it('rejects a malformed Idempotency-Key', async () => {
    const u = await newUser();
    const res = await call('POST', '/v1/posts', { token: u.token, body: { content: 'x' }, headers: { 'idempotency-key': 'a'.repeat(256) } });
    expect(res.status).toBe(400);
  });

  it('refuses a malformed id or bad percent-encoding in any path with 400 invalid_request, never 500', async () => {
    const u = await newUser();
    const paths = [
      ['GET', '/v1/users/{id}'],
      ['PUT', '/v1/users/{id}/follow'],
      ['DELETE', '/v1/users/{id}/follow'],
      ['GET', '/v1/users/{id}/followers'],
      ['GET', '/v1/users/{id}/following'],
      ['GET', '/v1/users/{id}/posts'],
      ['GET', '/v1/posts/{id}'],
      ['DELETE', '/v1/posts/{id}'],
      ['PUT', '/v1/me/vips/{id}'],
      ['DELETE', '/v1/me/vips/{id}'],
    ] as const;
    for (const [method, template] of paths) {
      for (const id of ['not-an-id', '%ZZ', '0aaaaaaaaaaaa', '%E0%A4%A']) {
        const path = template.replace('{id}', id);
        const res = await call(method, path, { token: u.token });
        expect(res.status, `${method} ${path}`).toBe(400);
        expect(res.body.error.code, `${method} ${path}`).toBe('invalid_request');
      }
    }
  });

  it('refuses ?__proto__=1 like any other unknown query parameter', async () => {
    const u = await newUser();
    for (const path of ['/v1/feed?__proto__=1', '/v1/me?__proto__=1', `/v1/users/${u.userId}/posts?constructor=1`]) {
      const res = await call('GET', path, { token: u.token });
      expect(res.status, path).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
  });

  it('refuses a correctly signed cursor whose position is malformed with 400 invalid_cursor, not 500', async () => {
    const u = await newUser();
    const cases = [
      [`/v1/users/${u.userId}/posts`, `posts:${u.userId}`, { before: 42 }],
      [`/v1/users/${u.userId}/followers`, `followers:${u.userId}`, { after: ['x'] }],
      ['/v1/feed', `feed:${u.userId}`, { before: 'not-an-id', served: -1 }],
      ['/v1/feed', `feed:${u.userId}`, {}],
      ['/v1/notifications', `notifications:${u.userId}`, { before: { $gt: '' } }],
    ] as const;
    for (const [path, scope, position] of cases) {
      const cursor = encodeCursor(scope, position as Record<string, unknown>);
      const res = await call('GET', `${path}?cursor=${encodeURIComponent(cursor)}`, { token: u.token });
      expect(res.status, `${path} ${JSON.stringify(position)}`).toBe(400);
      expect(res.body.error.code).toBe('invalid_cursor');
    }
  });

  it('refuses to mark notifications read up to an id later than now, and accepts a past one', async () => {
    const u = await newUser();
    const future = await call('POST', '/v1/notifications/read', { token: u.token, body: { upTo: 'FZZZZZZZZZZZZ' } });
    expect(future.status).toBe(400);
    expect(future.body.error.code).toBe('invalid_request');
    expect(future.body.error.message).toContain('upTo');
    const nextHour = await call('POST', '/v1/notifications/read', { token: u.token, body: { upTo: idAt(Date.now() + 3_600_000, 0) } });
    expect(nextHour.status).toBe(400);
    const past = await call('POST', '/v1/notifications/read', { token: u.token, body: { upTo: idAt(Date.now() - 60_000, 0) } });
    expect(past.status).toBe(204);
  });

  it('sends Cache-Control: no-store and X-Content-Type-Options: nosniff on answers and errors; the OpenAPI document may be cached', async () => {
    const u = await newUser();
    const replies = [
      await call('GET', '/v1/me', { token: u.token }),
      await call('GET', '/v1/feed?limit=0', { token: u.token }),
      await call('GET', '/v1/me'),
      await call('PUT', `/v1/users/${u.userId}/follow`, { token: u.token }),
    ];
    for (const res of replies) {
      expect(res.headers.get('cache-control'), String(res.status)).toBe('no-store');
      expect(res.headers.get('x-content-type-options'), String(res.status)).toBe('nosniff');
    }
    const doc = await call('GET', '/v1/openapi.json');
    expect(doc.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);
    expect(doc.headers.get('x-content-type-options')).toBe('nosniff');
  });
});
