// The cursor signing keys, parsed from one secret value so they rotate without breaking live
// cursors: `kid1:secret1,kid0:secret0` — the first key signs, every key verifies, and a cursor
// names the key that signed it. A value that is not such a list is one key with DEFAULT_KID.

export interface CursorKey {
  kid: string;
  secret: string;
}

/** The key id of a plain (single) secret, and of cursors issued before key ids existed. */
export const DEFAULT_KID = 'k0';
/** HMAC-SHA256 keys shorter than this are guessable. */
export const CURSOR_SECRET_MIN_LENGTH = 16;
/** Key ids travel in every cursor: short, URL- and JSON-safe. */
const KID = /^[A-Za-z0-9_-]{1,16}$/;

/** Parses a secret value into its keys, signing key first; throws on a malformed list. */
export function parseCursorKeys(value: string): CursorKey[] {
  const entries = value.split(',').map((e) => {
    const at = e.indexOf(':');
    return at > 0 ? { kid: e.slice(0, at), secret: e.slice(at + 1) } : undefined;
  });
  const list = entries.every((e) => e !== undefined && KID.test(e.kid)) ? (entries as CursorKey[]) : [{ kid: DEFAULT_KID, secret: value }];
  for (const k of list) {
    if (k.secret.length < CURSOR_SECRET_MIN_LENGTH) throw new Error(`cursor key ${k.kid}: secret shorter than ${CURSOR_SECRET_MIN_LENGTH} characters`);
  }
  if (new Set(list.map((k) => k.kid)).size !== list.length) throw new Error('cursor key ids repeat');
  return list;
}
