// The local gateway's bearer check (shared/edge/auth.ts): what API Gateway's JWT authorizer accepts
// and refuses, including from its cache of verified tokens.
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AUTH_CACHE_MAX, authCacheSize, signDevToken, verifyBearer } from '../../shared/edge/auth.js';
import { config, resetConfig } from '../../shared/edge/config.js';

const bearer = (t: string) => `Bearer ${t}`;
const sign = (claims: { sub?: string; iss?: string; aud?: string; expSeconds?: number }, secret = config().devJwtSecret) => {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(now).setExpirationTime(now + (claims.expSeconds ?? 60));
  if (claims.sub !== undefined) jwt.setSubject(claims.sub);
  jwt.setIssuer(claims.iss ?? config().FEED_JWT_ISSUER).setAudience(claims.aud ?? config().FEED_JWT_AUDIENCE);
  return jwt.sign(new TextEncoder().encode(secret));
};

afterEach(() => {
  vi.useRealTimers();
  delete process.env.FEED_DEV_JWT_SECRET;
  resetConfig();
});

describe('verifyBearer', () => {
  it('accepts a dev token and returns its claims, also from its cache', async () => {
    const token = await signDevToken('alice');
    expect((await verifyBearer(bearer(token)))?.sub).toBe('alice');
    expect((await verifyBearer(bearer(token)))?.sub).toBe('alice');
  });

  it.each([
    ['no header', undefined],
    ['another scheme', 'Basic YWxpY2U6c2VjcmV0'],
    ['not a JWT', 'Bearer abc'],
  ])('refuses %s', async (_what, header) => {
    expect(await verifyBearer(header)).toBeUndefined();
  });

  it('refuses a wrong signature, issuer, audience, a missing subject and an expired token', async () => {
    expect(await verifyBearer(bearer(await sign({ sub: 'a' }, 'another-secret-of-enough-length')))).toBeUndefined();
    expect(await verifyBearer(bearer(await sign({ sub: 'a', iss: 'someone-else' })))).toBeUndefined();
    expect(await verifyBearer(bearer(await sign({ sub: 'a', aud: 'another-api' })))).toBeUndefined();
    expect(await verifyBearer(bearer(await sign({})))).toBeUndefined();
    expect(await verifyBearer(bearer(await sign({ sub: 'a', expSeconds: -60 })))).toBeUndefined();
  });

  it('refuses a tampered token that differs from a cached one only in its signature', async () => {
    const token = await signDevToken('bob');
    expect(await verifyBearer(bearer(token))).toBeDefined();
    const last = token.at(-2) === 'A' ? 'B' : 'A';
    expect(await verifyBearer(bearer(`${token.slice(0, -2)}${last}${token.at(-1)}`))).toBeUndefined();
  });

  it('stops accepting a cached token once it expires', async () => {
    const token = await sign({ sub: 'carol', expSeconds: 5 });
    expect((await verifyBearer(bearer(token)))?.sub).toBe('carol');
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 6_000);
    expect(await verifyBearer(bearer(token))).toBeUndefined();
  });

  it('forgets what it verified when the signing secret changes', async () => {
    const token = await signDevToken('dave');
    expect(await verifyBearer(bearer(token))).toBeDefined();
    process.env.FEED_DEV_JWT_SECRET = 'a-rotated-secret-of-enough-length';
    resetConfig();
    expect(await verifyBearer(bearer(token))).toBeUndefined();
  });

  it(`keeps at most ${AUTH_CACHE_MAX} verified tokens`, async () => {
    const now = Math.floor(Date.now() / 1000);
    const key = new TextEncoder().encode(config().devJwtSecret);
    for (let i = 0; i < AUTH_CACHE_MAX + 50; i++) {
      const t = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(`u${i}`).setIssuer(config().FEED_JWT_ISSUER).setAudience(config().FEED_JWT_AUDIENCE).setExpirationTime(now + 60).sign(key);
      await verifyBearer(bearer(t));
    }
    expect(authCacheSize()).toBe(AUTH_CACHE_MAX);
  });
});
