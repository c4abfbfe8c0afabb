import { describe, expect, it } from 'vitest';
import { call, newUser, token } from '../support/client.js';

describe('users', () => {
  it('health answers without a token', async () => {
    const res = await call('GET', '/v1/health');
    expect(res).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('serves its OpenAPI document', async () => {
    const res = await call('GET', '/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\.1\./);
  });

  it('creates a profile and returns it from /me and /users/{id}', async () => {
    const t = await token();
    const handle = `alice_${Date.now().toString(36)}`;
    const created = await call('POST', '/v1/users', { token: t, body: { handle, displayName: 'Alice', country: 'fr' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ handle, displayName: 'Alice', homeRegion: 'eu-west-1', followerCount: 0, followingCount: 0, tier: 'regular' });
    const me = await call('GET', '/v1/me', { token: t });
    expect(me.body).toEqual(created.body);
    const other = await newUser();
    const byId = await call('GET', `/v1/users/${created.body.userId}`, { token: other.token });
    expect(byId.body).toEqual(created.body);
  });

  it('gives /me 404 before a profile exists', async () => {
    const res = await call('GET', '/v1/me', { token: await token() });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });

  it('allows one profile per token subject', async () => {
    const u = await newUser();
    const again = await call('POST', '/v1/users', { token: u.token, body: { handle: `${u.handle}x`.slice(0, 30), displayName: 'Again', country: 'US' } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('profile_exists');
  });

  it('refuses a taken handle, case-insensitively, and writes nothing', async () => {
    const u = await newUser();
    const t = await token();
    const res = await call('POST', '/v1/users', { token: t, body: { handle: u.handle.toUpperCase(), displayName: 'Copy', country: 'US' } });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('handle_taken');
    expect((await call('GET', '/v1/me', { token: t })).status).toBe(404);
  });

  it('puts EU users on eu-west-1 and others on their region', async () => {
    for (const [country, region] of [['DE', 'eu-west-1'], ['NO', 'eu-west-1'], ['BR', 'sa-east-1'], ['SG', 'ap-southeast-1'], ['ZA', 'me-central-1']] as const) {
      const u = await newUser(country);
      const res = await call('GET', `/v1/users/${u.userId}`, { token: u.token });
      expect(res.body.homeRegion).toBe(region);
    }
  });

  it('rejects an unknown country', async () => {
    const res = await call('POST', '/v1/users', { token: await token(), body: { handle: `zz_${Date.now()}`, displayName: 'Z', country: 'QQ' } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('QQ');
  });

  it('names unknown and missing fields', async () => {
    const res = await call('POST', '/v1/users', { token: await token(), body: { handle: 'abc_def', nickname: 'x' } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.message).toContain('nickname');
    expect(res.body.error.message).toContain('displayName');
    expect(res.body.error.message).toContain('country');
  });

  it('answers 404 for an unknown user id and 400 for a malformed one', async () => {
    const u = await newUser();
    expect((await call('GET', '/v1/users/0AAAAAAAAAAAA', { token: u.token })).status).toBe(404);
    // A malformed id can name no user: the path schema refuses it before any lookup.
    expect((await call('GET', '/v1/users/not-an-id', { token: u.token })).status).toBe(400);
  });
});
