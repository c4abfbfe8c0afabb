// How fast this machine is right now, read the same way at the start and the end of every run, so
// a report says which kind of moment it was measured in. Two readings, because the bench's
// figures depend on them differently:
//   - a system call (`fstat` on an open file): the bare server and DynamoDB Local's I/O are mostly
//     system calls, so when they are slow the bare server's requests/s falls further than an L1
//     hit's, and the L1/bare ratio rises without any change in the code;
//   - JavaScript (a 20-post feed page through JSON.stringify and JSON.parse): the handlers' own
//     work.
// On the 2-core machines of these runs a system call took ~2–4 µs on slow days (the README's
// runs say which); the reading takes ~0.3 s.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { median } from './stats.js';

export interface MachineSpeed {
  /** Microseconds per `fstat` (median of batches). */
  syscallMicros: number;
  /** Microseconds per JSON round trip of a 20-post page (~4 KB; median of batches). */
  jsonMicros: number;
}

const BATCHES = 5;
const SYSCALLS_PER_BATCH = 20_000;
const JSON_PER_BATCH = 1_000;

/** A page shaped like the feed's: 20 posts of 60–140 characters. */
const PAGE = {
  items: Array.from({ length: 20 }, (_, i) => ({
    postId: `01JD${String(i).padStart(9, '0')}`,
    authorId: `01JA${String(i % 7).padStart(9, '0')}`,
    author: { handle: `author_${i % 7}`, displayName: `Author ${i % 7}` },
    content: `post ${i}: ${'lorem ipsum dolor sit amet '.repeat(2 + (i % 4))}`.trim(),
    createdAt: new Date(Date.UTC(2026, 11, 1, 0, i)).toISOString(),
  })),
  nextCursor: 'eyJ1IjoiMDFKRDAwMDAwMDAwMCJ9',
};

/** Microseconds per call of `work`, the median over BATCHES batches of `n`. */
function perCall(n: number, work: () => void): number {
  const times: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    const start = performance.now();
    for (let i = 0; i < n; i++) work();
    times.push(((performance.now() - start) * 1000) / n);
  }
  return median(times);
}

export function machineSpeed(): MachineSpeed {
  const fd = openSync(process.execPath, 'r');
  try {
    const syscallMicros = perCall(SYSCALLS_PER_BATCH, () => fstatSync(fd));
    let sink = 0;
    const jsonMicros = perCall(JSON_PER_BATCH, () => {
      sink += (JSON.parse(JSON.stringify(PAGE)) as typeof PAGE).items.length;
    });
    if (sink === 0) throw new Error('unreachable: the JSON round trip lost the page');
    return { syscallMicros: round2(syscallMicros), jsonMicros: round2(jsonMicros) };
  } finally {
    closeSync(fd);
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** "system call 2.47 µs, JSON page 21.3 µs" — or start → end when both were read. */
export function describeSpeed(start: MachineSpeed | undefined, end?: MachineSpeed): string | undefined {
  if (!start) return undefined;
  const two = (a: number, b: number | undefined, digits: number) => (b === undefined ? a.toFixed(digits) : `${a.toFixed(digits)} → ${b.toFixed(digits)}`);
  return `system call ${two(start.syscallMicros, end?.syscallMicros, 2)} µs, JSON page ${two(start.jsonMicros, end?.jsonMicros, 1)} µs`;
}
