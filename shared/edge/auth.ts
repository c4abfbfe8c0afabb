// Bearer tokens. In AWS the API Gateway JWT authorizer verifies issuer, audience and signature
// and handlers read the `sub` claim; the local server verifies HS256 tokens signed with
// FEED_DEV_JWT_SECRET the same way and fills the same request context.
//
// Like the authorizer, the local check remembers the tokens it verified (until each expires, at
// most AUTH_CACHE_MAX, the oldest forgotten first): an HMAC verification with its key import costs
// more than the rest of a cached feed read, and an API Gateway authorizer's cost is not the
// function's either.
import { createSecretKey, type KeyObject } from 'node:crypto';
import { jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { config } from './config.js';
import { DEV_TOKEN_TTL_SECONDS } from '../domain/limits.js';

/** Verified tokens remembered by the local gateway. */
export const AUTH_CACHE_MAX = 10_000;

interface Verifier {
  secret: string;
  issuer: string;
  audience: string;
  key: KeyObject;
  /** Token → its claims, in insertion order (the oldest first out). */
  verified: Map<string, JWTPayload>;
}
let current: Verifier | undefined;

/** The key and cache of the configuration in force; a new secret, issuer or audience starts over. */
function verifier(): Verifier {
  const c = config();
  if (!current || current.secret !== c.devJwtSecret || current.issuer !== c.FEED_JWT_ISSUER || current.audience !== c.FEED_JWT_AUDIENCE) {
    current = {
      secret: c.devJwtSecret,
      issuer: c.FEED_JWT_ISSUER,
      audience: c.FEED_JWT_AUDIENCE,
      key: createSecretKey(Buffer.from(c.devJwtSecret, 'utf8')),
      verified: new Map(),
    };
  }
  return current;
}

export async function signDevToken(sub: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuer(config().FEED_JWT_ISSUER)
    .setAudience(config().FEED_JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${DEV_TOKEN_TTL_SECONDS}s`)
    .sign(verifier().key);
}

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

/** The verified claims of a bearer token, or undefined when it is missing, invalid or expired. */
export async function verifyBearer(authorization: string | undefined): Promise<JWTPayload | undefined> {
  const token = BEARER.exec(authorization ?? '')?.[1];
  if (!token) return undefined;
  const v = verifier();
  const cached = v.verified.get(token);
  if (cached) {
    if (cached.exp! * 1000 > Date.now()) return cached;
    v.verified.delete(token);
    return undefined;
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, v.key, { algorithms: ['HS256'], issuer: v.issuer, audience: v.audience, requiredClaims: ['exp'] }));
  } catch {
    return undefined;
  }
  if (typeof payload.sub !== 'string' || payload.sub.length === 0) return undefined;
  if (v.verified.size >= AUTH_CACHE_MAX) v.verified.delete(v.verified.keys().next().value!);
  v.verified.set(token, payload);
  return payload;
}

/** Tokens remembered now (tests). */
export function authCacheSize(): number {
  return current?.verified.size ?? 0;
}
