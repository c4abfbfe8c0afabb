// Cursor positions (decodeCursor's schema parameter, shared/domain/cursor.ts): a cursor whose
// signature is good but whose position does not fit its list's schema (an older release's format,
// or a forged one signed with a leaked or default secret) is a 400 invalid_cursor, never a 500 below.
import { describe, expect, it } from 'vitest';
import { AfterId, BeforeId, decodeCursor, encodeCursor } from '../../shared/domain/cursor.js';
import { decodeFeedCursor } from '../../shared/domain/feed-merge.js';

const SCOPE = 'posts:0B4WQ9Y8X2001';
const ID = '0B4WQA3N7T0R4';

function codeOf(decode: () => unknown): string | undefined {
  try {
    decode();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('decodeCursor with a position schema', () => {
  it('returns the position parsed by the schema', () => {
    expect(decodeCursor(SCOPE, encodeCursor(SCOPE, { before: ID }), BeforeId)).toEqual({ before: ID });
    expect(decodeCursor(SCOPE, encodeCursor(SCOPE, { after: ID }), AfterId)).toEqual({ after: ID });
  });

  it('refuses a well-signed cursor whose position does not fit with 400 invalid_cursor', () => {
    for (const position of [{ before: 42 }, { before: 'not-an-id' }, {}, { before: ID, extra: 1 }, { after: ID }, { before: [ID] }]) {
      const cursor = encodeCursor(SCOPE, position);
      expect(codeOf(() => decodeCursor(SCOPE, cursor, BeforeId)), JSON.stringify(position)).toBe('invalid_cursor');
    }
  });

  it('still returns the position unchecked without a schema', () => {
    expect(decodeCursor(SCOPE, encodeCursor(SCOPE, { before: 42 }))).toEqual({ before: 42 });
  });
});

describe('feed cursors', () => {
  const user = '0B4WQ9Y8X2001';

  it('accept the position the feed writes', () => {
    const cursor = encodeCursor(`feed:${user}`, { before: ID, served: 20 });
    expect(decodeFeedCursor(user, cursor)).toEqual({ before: ID, served: 20 });
  });

  it('refuse a served count that is negative, fractional or missing, and a malformed id', () => {
    for (const position of [{ before: ID, served: -1 }, { before: ID, served: 2.5 }, { before: ID }, { before: 'x', served: 1 }]) {
      const cursor = encodeCursor(`feed:${user}`, position);
      expect(codeOf(() => decodeFeedCursor(user, cursor)), JSON.stringify(position)).toBe('invalid_cursor');
    }
  });
});
