// What the cache layer knows of a cached window's serialization (shared/services/home-feed.ts
// writes it): where a first page's head ends, and the stamp that names one serialization.

/**
 * A first page's L2 read takes only the head of the cached window: its JSON up to the `rest`
 * field (the window's later pages, which shared/services/home-feed.ts serializes last), closed
 * with `"head":1`. That is a fifth to a quarter of the bytes (a page of a four-page window), and
 * what Redis sends, the container parses and its L1 keeps shrink with it. A later page's read
 * (peek) takes the whole window.
 */
export const WINDOW_HEAD = { cut: ',"rest":"', close: ',"head":1}' } as const;
/** Whether a value (as a string, or as the bytes Redis sent) is a window's head. */
export const isWindowHead = (value: string | Buffer): boolean =>
  typeof value === 'string' ? value.endsWith(WINDOW_HEAD.close) : bytesAt(value, value.length - WINDOW_HEAD.close.length, WINDOW_HEAD.close);

/** Whether `bytes` hold the ASCII text `text` at `at`. Compared in a loop: for the few bytes
 *  of a window's opening or close, Buffer#compare's call into C++ cost more than the comparison. */
function bytesAt(bytes: Buffer, at: number, text: string): boolean {
  if (at < 0 || at + text.length > bytes.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** Every serialized window begins `{"s":"<stamp>"`, with a 16-character stamp no other
 *  serialization has (a process's random prefix and a counter; see encodeWindow). */
export const WINDOW_STAMP = { open: '{"s":"', length: 16 } as const;

const STAMP_END = WINDOW_STAMP.open.length + WINDOW_STAMP.length;

/** The stamp of a serialized window (or of its head, which shares it), from the string or from
 *  the bytes Redis sent (read without decoding the rest: see Intern); undefined for a value
 *  that carries none. */
export function windowStampOf(value: string | Buffer): string | undefined {
  if (typeof value === 'string') {
    return value.startsWith(WINDOW_STAMP.open) && value.charCodeAt(STAMP_END) === 34 ? value.slice(WINDOW_STAMP.open.length, STAMP_END) : undefined;
  }
  return value.length > STAMP_END && value[STAMP_END] === 34 && bytesAt(value, 0, WINDOW_STAMP.open)
    ? value.toString('latin1', WINDOW_STAMP.open.length, STAMP_END)
    : undefined;
}

/**
 * Maps a value read from L2 to an equal string this process already holds, if it holds one
 * (the caller knows its values: shared/services/home-feed.ts finds a window it decoded before by
 * its stamp), else to the value decoded. L2 hands it the reply's bytes, so a hit on a window
 * this process knows decodes none of its ~4–20 KB, and L1 keeps the string it had. Kept in L1,
 * every L2 hit's copy was carried through the young generation into the old one and collected
 * there: 5–6 µs of garbage collection per L2 hit, as much as the rest of the read's own work.
 */
export type Intern = (value: Buffer | string) => string;
