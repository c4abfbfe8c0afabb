// The work a server can add per request and still serve a given share of a bare server's
// requests/s: read off runs of the bare server made to spin a known number of microseconds.
import { describe, expect, it } from 'vitest';
import { workBudget } from '../../bench/stats.js';

describe('the work budget at a share of bare', () => {
  const runs = [
    { workMicros: 0, rps: 33_000 },
    { workMicros: 10, rps: 22_000 },
    { workMicros: 20, rps: 18_400 },
    { workMicros: 30, rps: 15_500 },
  ];

  it('interpolates between the two runs on either side of the share', () => {
    // 50% of 33,000 = 16,500, between 18,400 (20 µs) and 15,500 (30 µs): 20 + 10 × 1,900 / 2,900.
    expect(workBudget(runs, 0.5)).toBeCloseTo(26.55, 1);
    expect(workBudget(runs, 2 / 3)).toBeCloseTo(10, 0);
  });

  it('is undefined when even the most work measured keeps above the share', () => {
    expect(workBudget(runs, 0.4)).toBeUndefined();
  });

  it('is 0 when the bare server itself is at or below the share, and needs the bare run', () => {
    expect(workBudget(runs, 1)).toBe(0);
    expect(() => workBudget(runs.slice(1), 0.5)).toThrow(/no run without work/);
  });

  it('reads the runs in any order', () => {
    expect(workBudget([...runs].reverse(), 0.5)).toBeCloseTo(26.55, 1);
  });
});
