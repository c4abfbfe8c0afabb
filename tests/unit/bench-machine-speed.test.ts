// The bench reads how fast the machine is at the start and the end of a run, and its report says
// so beside the machine's name: the read sweep's ratios swing with the kernel's speed.
import { describe, expect, it } from 'vitest';
import { describeSpeed, machineSpeed } from '../../bench/machine-speed.js';
import { describe as describeRun } from '../../bench/report.js';
import type { Results } from '../../bench/results.js';

function run(machine: Partial<Results['meta']['machine']>): Results {
  return {
    meta: {
      startedAt: '2026-12-01T00:00:00.000Z',
      command: 'npm run bench',
      options: { reps: 3, runMs: 2000, seed: 42, exponent: 2.276 },
      machine: { cpus: 2, model: 'test cpu', memoryGB: 8, node: 'v22', platform: 'linux', loadAvgStart: [0, 0, 0], ...machine },
      graph: { users: 10, edges: 20, posts: 30 },
      durationMs: 600_000,
    },
    sweep: {},
    rss: { peak: 0, maxRss: 0, peakByPhase: {}, engines: {} },
    errors: [],
  };
}

describe('the machine speed of a bench run', () => {
  it('reads a system call and a JSON round trip of a page, in microseconds', () => {
    const speed = machineSpeed();

    expect(speed.syscallMicros).toBeGreaterThan(0);
    expect(speed.syscallMicros).toBeLessThan(1_000);
    expect(speed.jsonMicros).toBeGreaterThan(speed.syscallMicros);
    expect(Number.isFinite(speed.jsonMicros)).toBe(true);
  });

  it('describes the start alone, or the start and the end', () => {
    const start = { syscallMicros: 2.468, jsonMicros: 21.34 };

    expect(describeSpeed(undefined)).toBeUndefined();
    expect(describeSpeed(start)).toBe('system call 2.47 µs, JSON page 21.3 µs');
    expect(describeSpeed(start, { syscallMicros: 0.9, jsonMicros: 9.06 })).toBe('system call 2.47 → 0.90 µs, JSON page 21.3 → 9.1 µs');
  });

  it('puts it beside the machine in the report, and leaves it out of older results', () => {
    const measured = run({ speedStart: { syscallMicros: 2.1, jsonMicros: 20 }, speedEnd: { syscallMicros: 2.3, jsonMicros: 22 } });

    expect(describeRun(measured)).toBe(
      '10 users, 20 follows, 30 posts (seed 42, exponent 2.276); 3 reps × 2000 ms; 2 × test cpu, Node v22 (system call 2.10 → 2.30 µs, JSON page 20.0 → 22.0 µs); 600 s',
    );
    expect(describeRun(run({}))).toBe('10 users, 20 follows, 30 posts (seed 42, exponent 2.276); 3 reps × 2000 ms; 2 × test cpu, Node v22; 600 s');
  });
});
