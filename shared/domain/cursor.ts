// Opaque pagination cursors: base64url(JSON) + HMAC-SHA256, bound to the list they page (its
// scope, e.g. "feed:<userId>"). A tampered cursor, or one from another list or user, is a 400.
import { createHmac, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import { config } from '../edge/config.js';
import { DEFAULT_KID, type CursorKey } from './cursor-keys.js';
import { BadRequestError } from './errors.js';
import { ID_PATTERN } from './ids.js';

/** The positions of the id-ordered lists: the last id served, newest-first (`before`) or
 *  oldest-first (`after`). Passed to decodeCursor by each list. */
export const BeforeId = z.strictObject({ before: z.string().regex(ID_PATTERN) });
export const AfterId = z.strictObject({ after: z.string().regex(ID_PATTERN) });

// Key rotation: the payload names its signing key (`k`, shared/domain/cursor-keys.ts); the MAC
// covers it. Cursors without `k` predate key ids and were signed with key DEFAULT_KID.
function sign(payload: string, secret: string): string {
  return createHmac('sha256', secret).update(payload).digest('base64url').slice(0, 22);
}

/** The configured key a cursor's payload names, read before its MAC is checked (to pick the
 *  key); undefined for an unknown key id or an unreadable payload, both refused. */
function keyOf(payload: string): CursorKey | undefined {
  let kid: unknown;
  try {
    kid = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { k?: unknown } | null)?.k ?? DEFAULT_KID;
  } catch {
    return undefined;
  }
  return config().cursorKeys.find((key) => key.kid === kid);
}

export function encodeCursor(scope: string, position: Record<string, unknown>): string {
  const key = config().cursorKeys[0]!;
  const payload = Buffer.from(JSON.stringify({ k: key.kid, s: scope, p: position })).toString('base64url');
  return `${payload}.${sign(payload, key.secret)}`;
}

/** With `schema`, the position is parsed by it: a well-signed cursor whose position does not fit
 *  (minted by an older release, or with a leaked secret) is the same 400, never a 500 below. */
export function decodeCursor<S extends z.ZodType<Record<string, unknown>>>(scope: string, cursor: string, schema: S): z.infer<S>;
export function decodeCursor<T extends Record<string, unknown>>(scope: string, cursor: string): T;
export function decodeCursor(scope: string, cursor: string, schema?: z.ZodType<Record<string, unknown>>): Record<string, unknown> {
  const invalid = () => new BadRequestError('cursor is invalid or belongs to another list', 'invalid_cursor');
  const [payload, mac, extra] = cursor.split('.');
  if (!payload || !mac || extra !== undefined) throw invalid();
  const key = keyOf(payload);
  if (!key) throw invalid();
  const expected = Buffer.from(sign(payload, key.secret));
  const given = Buffer.from(mac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid();
  let parsed: { s?: unknown; p?: unknown } | null;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof parsed !== 'object' || parsed === null || parsed.s !== scope || typeof parsed.p !== 'object' || parsed.p === null) throw invalid();
  if (!schema) return parsed.p as Record<string, unknown>;
  const position = schema.safeParse(parsed.p);
  if (!position.success) throw invalid();
  return position.data;
}
