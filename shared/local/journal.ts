// An append-only journal of JSON lines with group commit, so the local stack's queues and workflow
// runs survive a kill -9 as SQS and Step Functions do. A write resolves once its line is on disk
// (fdatasync); lines appended while a sync is running share the next one, so a burst of sends
// costs one sync per round trip to the disk, not one per message. Replay tolerates a torn last
// line (a write that never finished, so never acknowledged); compaction rewrites the live state
// to a new file and renames it over the old one, which is atomic on POSIX file systems.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/** Where records go: a file (data kept) or nowhere (--fresh, unit tests). */
export interface Journal<R> {
  /** Resolves once the record is durable. */
  append(record: R): Promise<void>;
  /** Replaces the journal with `records` (the live state); later appends follow them. */
  compact(records: R[]): Promise<void>;
  /** Bytes appended since the last compaction (the caller decides when to compact). */
  readonly appendedBytes: number;
  close(): Promise<void>;
}

/** --fresh: nothing to survive, nothing to write. */
export class MemoryJournal<R> implements Journal<R> {
  readonly appendedBytes = 0;
  async append(): Promise<void> {}
  async compact(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Reads a journal's records in order; a line that does not parse ends the replay (the torn tail
 *  of a write interrupted by the kill: its writer was never told it succeeded). */
export function readJournal<R>(file: string): R[] {
  if (!existsSync(file)) return [];
  const out: R[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as R);
    } catch {
      break;
    }
  }
  return out;
}

/** Writes `text` to `file` atomically: a temporary file, synced, renamed over the old one, so a
 *  kill leaves either the old content or the new, never half of it. */
export function writeFileAtomically(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    if (text) writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  // The rename itself is durable once the directory is synced.
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

const toLines = (records: unknown[]) => records.map((r) => `${JSON.stringify(r)}\n`).join('');

export class FileJournal<R> implements Journal<R> {
  private handle: FileHandle | undefined;
  private buffer: string[] = [];
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** The flush or compaction in progress; the next one starts after it. */
  private chain: Promise<void> = Promise.resolve();
  private scheduled = false;
  appendedBytes = 0;

  private constructor(private readonly file: string) {}

  /** Opens `file` after compacting it to `live` (the state its replay produced), so a journal
   *  never grows across restarts and a torn tail is dropped. */
  static async open<R>(file: string, live: R[]): Promise<FileJournal<R>> {
    writeFileAtomically(file, toLines(live));
    const j = new FileJournal<R>(file);
    j.handle = await open(file, 'a');
    return j;
  }

  append(record: R): Promise<void> {
    const line = `${JSON.stringify(record)}\n`;
    this.buffer.push(line);
    this.appendedBytes += line.length;
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.scheduled) {
      this.scheduled = true;
      this.chain = this.chain.then(() => this.flush());
    }
    return done;
  }

  /** Writes every buffered line with one write and one fdatasync, then acknowledges them. */
  private async flush(): Promise<void> {
    this.scheduled = false;
    const lines = this.buffer;
    const waiters = this.waiters;
    this.buffer = [];
    this.waiters = [];
    if (lines.length === 0) return;
    try {
      if (!this.handle) throw new Error(`journal ${this.file} is closed`);
      await this.handle.write(lines.join(''));
      await this.handle.datasync();
      for (const w of waiters) w.resolve();
    } catch (err) {
      for (const w of waiters) w.reject(err);
    }
  }

  compact(records: R[]): Promise<void> {
    // The snapshot already holds the effect of every buffered line (callers apply a change to
    // their state and append its record in the same tick), so those lines are dropped and their
    // writers acknowledged once the snapshot is durable.
    const waiters = this.waiters;
    this.buffer = [];
    this.waiters = [];
    this.scheduled = false;
    const step = this.chain.then(async () => {
      try {
        await this.handle?.close();
        writeFileAtomically(this.file, toLines(records));
        this.handle = await open(this.file, 'a');
        this.appendedBytes = 0;
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
        throw err;
      }
    });
    this.chain = step.catch(() => {});
    return step;
  }

  async close(): Promise<void> {
    this.chain = this.chain.then(() => this.flush());
    await this.chain;
    await this.handle?.close();
    this.handle = undefined;
  }
}
