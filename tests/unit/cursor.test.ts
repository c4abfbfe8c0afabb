// Pagination cursors (shared/domain/cursor.ts): signed, bound to their list, and any tampering, foreign
// scope or garbage is a 400 invalid_cursor rather than a crash or a silently wrong page.
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { config, loadConfig, resetConfig } from '../../shared/edge/config.js';
import { decodeCursor, encodeCursor } from '../../shared/domain/cursor.js';
import { BadRequestError } from '../../shared/domain/errors.js';

const SCOPE = 'feed:0B4WQ9Y8X2001';
const POSITION = { before: '0B4WQA3N7T0R4', served: 40 };

function expectInvalid(scope: string, cursor: string): void {
  let thrown: unknown;
  try {
    decodeCursor(scope, cursor);
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `cursor ${JSON.stringify(cursor.slice(0, 60))}`).toBeInstanceOf(BadRequestError);
  expect(thrown).toMatchObject({ status: 400, code: 'invalid_cursor' });
}

/** Replaces the character at `i` with a different character of the base64url alphabet. */
function flip(s: string, i: number): string {
  const replacement = s[i] === 'A' ? 'B' : 'A';
  return s.slice(0, i) + replacement + s.slice(i + 1);
}

/** A payload signed with the configured secret, as only the server could produce. */
function signed(payloadText: string): string {
  const payload = Buffer.from(payloadText).toString('base64url');
  const mac = createHmac('sha256', config().cursorSecret).update(payload).digest('base64url').slice(0, 22);
  return `${payload}.${mac}`;
}

const savedSecret = process.env.FEED_CURSOR_SECRET;
afterEach(() => {
  if (savedSecret === undefined) delete process.env.FEED_CURSOR_SECRET;
  else process.env.FEED_CURSOR_SECRET = savedSecret;
  resetConfig();
});

describe('cursors', () => {
  it('decode to the position they were encoded with', () => {
    const cursor = encodeCursor(SCOPE, POSITION);
    expect(decodeCursor(SCOPE, cursor)).toEqual(POSITION);
  });

  it('are opaque, URL-safe text', () => {
    const cursor = encodeCursor(SCOPE, { before: 'x'.repeat(50), served: 799, note: 'ü/+?&=' });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(cursor).not.toContain(SCOPE);
  });

  it('are refused when any character of the payload is changed', () => {
    const cursor = encodeCursor(SCOPE, POSITION);
    const payloadLength = cursor.indexOf('.');
    for (let i = 0; i < payloadLength; i++) expectInvalid(SCOPE, flip(cursor, i));
  });

  it('are refused when any character of the MAC is changed', () => {
    const cursor = encodeCursor(SCOPE, POSITION);
    for (let i = cursor.indexOf('.') + 1; i < cursor.length; i++) expectInvalid(SCOPE, flip(cursor, i));
  });

  it('are refused when the MAC is cut short or extended', () => {
    const cursor = encodeCursor(SCOPE, POSITION);
    expectInvalid(SCOPE, cursor.slice(0, -1));
    expectInvalid(SCOPE, `${cursor}A`);
  });

  it('are refused by another list, or the same list of another user', () => {
    const cursor = encodeCursor(SCOPE, POSITION);
    expectInvalid('posts:0B4WQ9Y8X2001', cursor);
    expectInvalid('feed:0B4WQ9Y8X2002', cursor);
    expectInvalid('', cursor);
  });

  it('are refused when signed with another secret', () => {
    process.env.FEED_CURSOR_SECRET = 'some-other-deployment-secret';
    resetConfig();
    const foreign = encodeCursor(SCOPE, POSITION);
    delete process.env.FEED_CURSOR_SECRET;
    resetConfig();
    expectInvalid(SCOPE, foreign);
    expect(decodeCursor(SCOPE, encodeCursor(SCOPE, POSITION))).toEqual(POSITION);
  });

  it.each([
    '',
    '.',
    'abc',
    'abc.',
    '.abc',
    'a.b.c',
    'not a cursor at all',
    '!!!.???',
    'eyJzIjoiZmVlZCJ9.AAAAAAAAAAAAAAAAAAAAAA',
    'x'.repeat(2048),
    '😀.😀',
  ])('refuses the garbage string %j', (garbage) => {
    expectInvalid(SCOPE, garbage);
  });

  it('refuses a correctly signed payload that is not JSON', () => {
    expectInvalid(SCOPE, signed('{not json'));
  });

  it.each(['null', '42', '"feed"', '[]', `{"s":"${SCOPE}"}`, `{"s":"${SCOPE}","p":null}`, `{"s":"${SCOPE}","p":3}`])(
    'refuses a correctly signed payload %s that is not a cursor object',
    (payload) => {
      expectInvalid(SCOPE, signed(payload));
    },
  );
});

describe('cursor key rotation', () => {
  const OLD = 'k0:previous-cursor-secret-0123';
  const NEW = 'k1:current-cursor-secret-45678';
  const useKeys = (value: string) => {
    process.env.FEED_CURSOR_SECRET = value;
    resetConfig();
  };

  it('still verifies a cursor signed with the previous key after rotation, and signs new ones with the first key', () => {
    useKeys(OLD);
    const issuedBefore = encodeCursor(SCOPE, POSITION);

    useKeys(`${NEW},${OLD}`);
    const issuedAfter = encodeCursor(SCOPE, POSITION);

    expect(decodeCursor(SCOPE, issuedBefore)).toEqual(POSITION);
    expect(JSON.parse(Buffer.from(issuedAfter.split('.')[0]!, 'base64url').toString())).toMatchObject({ k: 'k1' });
    useKeys(NEW);
    expect(decodeCursor(SCOPE, issuedAfter)).toEqual(POSITION);
  });

  it('refuses a cursor whose key id is no longer configured, as 400 invalid_cursor', () => {
    useKeys(OLD);
    const retired = encodeCursor(SCOPE, POSITION);

    useKeys(NEW);

    expectInvalid(SCOPE, retired);
  });

  it('refuses a cursor that names a configured key but was signed with another', () => {
    useKeys('k1:some-other-deployment-secret');
    const forged = encodeCursor(SCOPE, POSITION);

    useKeys(`${NEW},${OLD}`);

    expectInvalid(SCOPE, forged);
  });

  it('verifies a cursor from before key ids (no kid) with the plain secret, key id k0', () => {
    useKeys('a-plain-secret-without-key-ids');
    const legacy = signed(JSON.stringify({ s: SCOPE, p: POSITION }));

    useKeys('k1:current-cursor-secret-45678,k0:a-plain-secret-without-key-ids');

    expect(decodeCursor(SCOPE, legacy)).toEqual(POSITION);
  });

  it.each([
    ['a key shorter than 16 characters', 'k1:current-cursor-secret-45678,k0:short'],
    ['a repeated key id', 'k1:current-cursor-secret-45678,k1:previous-cursor-secret-0123'],
  ])('refuses a key list with %s, naming FEED_CURSOR_SECRET', (_, value) => {
    expect(() => loadConfig({ FEED_CURSOR_SECRET: value })).toThrow(/FEED_CURSOR_SECRET/);
  });
});
