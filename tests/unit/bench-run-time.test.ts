// The bench report's run-time target: a full run within 10 minutes, `--quick` within 2, printed
// with its margin like every other target. Pure: a results object in, rows out.
import { describe, expect, it } from 'vitest';
import { buildRows } from '../../bench/report.js';
import type { Results } from '../../bench/results.js';

function run(opts: { quick: boolean; durationMs?: number; seedMs?: number }): Results {
  return {
    meta: {
      startedAt: '2026-12-01T00:00:00.000Z',
      command: 'npm run bench',
      options: { quick: opts.quick },
      machine: { cpus: 2, model: 'test', memoryGB: 8, node: 'v22', platform: 'linux', loadAvgStart: [0, 0, 0] },
      ...(opts.durationMs !== undefined && { durationMs: opts.durationMs }),
    },
    sweep: {},
    rss: { peak: 0, maxRss: 0, peakByPhase: {}, engines: {} },
    errors: [],
    ...(opts.seedMs !== undefined && { seeding: { ms: opts.seedMs, items: {}, itemsPerSec: 0, posts: 0, pushAllEntries: 0 } }),
  };
}

const runTime = (r: Results) => buildRows(r).filter((row) => row.section === 'targets' && row.figure.startsWith('bench run time'));

describe('the bench report of its own run time', () => {
  it('fails a full run over 10 minutes by its margin, the seed named', () => {
    const [row, ...rest] = runTime(run({ quick: false, durationMs: 1_150_400, seedMs: 319_900 }));

    expect(rest).toHaveLength(0);
    expect(row).toMatchObject({ figure: 'bench run time, full run', measured: '1,150 s (seed 320 s)', target: '≤ 600 s', result: 'FAIL — 550 s over' });
  });

  it('passes a --quick run within 2 minutes', () => {
    const [row] = runTime(run({ quick: true, durationMs: 110_000, seedMs: 30_000 }));

    expect(row).toMatchObject({ figure: 'bench run time, --quick', target: '≤ 120 s', result: 'PASS' });
  });

  it('has no row before the run has ended', () => {
    expect(runTime(run({ quick: false }))).toHaveLength(0);
  });

  it("sets the machine's speed at the start and the end beside the time, and nothing when it was not read", () => {
    const r = run({ quick: false, durationMs: 847_000, seedMs: 154_300 });
    r.meta.machine.speedStart = { syscallMicros: 4.33, jsonMicros: 27.2 };
    r.meta.machine.speedEnd = { syscallMicros: 2.38, jsonMicros: 19.3 };

    expect(runTime(r)[0]!.baseline).toBe('system call 4.33 → 2.38 µs, JSON page 27.2 → 19.3 µs');
    expect(runTime(run({ quick: false, durationMs: 847_000 }))[0]!.baseline).toBe('');
  });
});
