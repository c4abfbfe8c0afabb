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
export const isWindowHead = (value: string): boolean => value.endsWith(WINDOW_HEAD.close);

/** Every serialized window begins `{"s":"<stamp>"`, with a 16-character stamp no other
 *  serialization has (a process's random prefix and a counter; see encodeWindow). */
export const WINDOW_STAMP = { open: '{"s":"', length: 16 } as const;

/** The stamp of a serialized window (or of its head, which shares it); undefined for a value
 *  that carries none. */
export function windowStampOf(value: string): string | undefined {
  const end = WINDOW_STAMP.open.length + WINDOW_STAMP.length;
  return value.startsWith(WINDOW_STAMP.open) && value.charCodeAt(end) === 34 ? value.slice(WINDOW_STAMP.open.length, end) : undefined;
}
