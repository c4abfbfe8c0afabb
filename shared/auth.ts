// Bearer tokens. In AWS the API Gateway JWT authorizer verifies issuer, audience and signature
// and handlers read the `sub` claim; the local server verifies HS256 tokens signed with
// FEED_DEV_JWT_SECRET the same way and fills the same request context.
import { jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { config } from './config.js';
import { DEV_TOKEN_TTL_SECONDS } from './limits.js';

const key = () => new TextEncoder().encode(config().devJwtSecret);

export async function signDevToken(sub: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuer(config().FEED_JWT_ISSUER)
    .setAudience(config().FEED_JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${DEV_TOKEN_TTL_SECONDS}s`)
    .sign(key());
}

/** The verified claims of a bearer token, or undefined when it is missing or invalid. */
export async function verifyBearer(authorization: string | undefined): Promise<JWTPayload | undefined> {
  const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization ?? '');
  if (!match) return undefined;
  try {
    const { payload } = await jwtVerify(match[1]!, key(), {
      algorithms: ['HS256'],
      issuer: config().FEED_JWT_ISSUER,
      audience: config().FEED_JWT_AUDIENCE,
    });
    return typeof payload.sub === 'string' && payload.sub.length > 0 ? payload : undefined;
  } catch {
    return undefined;
  }
}
