// The bench report's multi-region rows: each of the four figures checked against its target with
// the miss margin, and a line saying the section did not run when it was off. Pure: a results
// object in, rows out.
import { describe, expect, it } from 'vitest';
import type { Latencies, RegionsResult } from '../../bench/phases/regions.js';
import { buildRows, summarizeTargets } from '../../bench/report.js';
import type { Results } from '../../bench/results.js';

function resultsWith(regions: RegionsResult | undefined, options: Record<string, unknown> = { regions: true }): Results {
  return {
    meta: { startedAt: '2026-11-30T00:00:00.000Z', command: 'npm run bench', options, machine: { cpus: 2, model: 'test', memoryGB: 8, node: 'v22', platform: 'linux', loadAvgStart: [0, 0, 0] } },
    sweep: {},
    rss: { peak: 0, maxRss: 0, peakByPhase: {}, engines: {} },
    errors: [],
    ...(regions && { regions }),
  };
}

const lat = (p50: number, p95: number, timeouts = 0): Latencies => ({ p50, p95, samples: 40, timeouts, samplesMs: [] });

function measured(over: Partial<{ lag: number; cross: number; same: number; failover: number; missing: number }> = {}): RegionsResult {
  return {
    regions: ['us-east-1', 'us-west-2', 'eu-west-1'],
    startMs: 40_000,
    replication: { ...lat(300, over.lag ?? 600), pairs: { 'us-east-1→us-west-2': 9, 'us-west-2→us-east-1': 9 } },
    visible: { posts: 20, same: lat(200, over.same ?? 500), cross: lat(500, over.cross ?? 1500) },
    failover: { ms: over.failover ?? 2500, killMs: 1500, attempts: 10 },
    lost: { acknowledged: 78, before: 57, during: 16, after: 5, checks: 234, missing: over.missing ?? 0, missingPosts: [], convergeMs: 4000, restartMs: 24_000 },
    wallMs: 150_000,
  };
}

const regionTargets = (r: Results) => buildRows(r).filter((row) => row.section === 'targets' && row.figure.startsWith('multi-region'));

describe('the bench report of the multi-region section', () => {
  it('passes the four figures when each is inside its target', () => {
    const rows = regionTargets(resultsWith(measured()));

    expect(rows).toHaveLength(5);
    expect(rows.map((r) => r.result)).toEqual(['PASS', 'PASS', 'PASS', 'PASS', 'PASS']);
    expect(summarizeTargets(rows)).toEqual({ passed: 5, failed: 0, pending: 0 });
  });

  it('fails each figure past its target and says by how much', () => {
    const rows = regionTargets(resultsWith(measured({ lag: 2788, cross: 2643, same: 1098, failover: 12_500, missing: 3 })));

    expect(rows.map((r) => r.result)).toEqual(['FAIL — 1788 ms over', 'FAIL — 643 ms over', 'FAIL — 98.0 ms over', 'FAIL — 2.50 s over', 'FAIL — 3 lost']);
  });

  it('counts a sample never seen as a miss of the target', () => {
    const rows = regionTargets(resultsWith({ ...measured(), replication: { ...lat(300, Infinity, 4), pairs: {} } }));

    expect(rows[0]!.result).toMatch(/^FAIL/);
    expect(rows[0]!.result).toBe('FAIL — p95 not seen in 10 s');
    expect(rows[0]!.measured).toMatch(/4 not seen in 10 s/);
  });

  it('says the section did not run when it was off', () => {
    const rows = buildRows(resultsWith(undefined, { regions: false }));

    expect(rows.find((r) => r.section === 'multi-region')?.measured).toMatch(/not run \(--regions 0/);
    expect(regionTargets(resultsWith(undefined, { regions: false }))).toEqual([]);
  });
});
