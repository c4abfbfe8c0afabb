// Opaque pagination cursors: base64url(JSON) + HMAC-SHA256, bound to the list they page (its
// scope, e.g. "feed:<userId>"). A tampered cursor, or one from another list or user, is a 400.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { config } from '../edge/config.js';
import { BadRequestError } from './errors.js';

function sign(payload: string): string {
  return createHmac('sha256', config().cursorSecret).update(payload).digest('base64url').slice(0, 22);
}

export function encodeCursor(scope: string, position: Record<string, unknown>): string {
  const payload = Buffer.from(JSON.stringify({ s: scope, p: position })).toString('base64url');
  return `${payload}.${sign(payload)}`;
}

export function decodeCursor<T extends Record<string, unknown>>(scope: string, cursor: string): T {
  const invalid = () => new BadRequestError('cursor is invalid or belongs to another list', 'invalid_cursor');
  const [payload, mac, extra] = cursor.split('.');
  if (!payload || !mac || extra !== undefined) throw invalid();
  const expected = Buffer.from(sign(payload));
  const given = Buffer.from(mac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid();
  let parsed: { s?: unknown; p?: unknown } | null;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof parsed !== 'object' || parsed === null || parsed.s !== scope || typeof parsed.p !== 'object' || parsed.p === null) throw invalid();
  return parsed.p as T;
}
