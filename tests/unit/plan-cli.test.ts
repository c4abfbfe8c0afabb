// `npm run plan`'s edges: flags in range or a one-line error naming the flag (exit 2), and the
// per-operation costs found in the newest bench result or a named file, else an error naming the
// missing file or field.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCosts } from '../../scripts/plan.js';
import { parsePlanArgs, UsageError } from '../../scripts/plan-flags.js';
import { ROOT } from '../../shared/local/lambda.js';

const FIXTURE = path.join(ROOT, 'tests/support/plan-costs.fixture.json');
const usage = (argv: string[]) => {
  try {
    parsePlanArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  return undefined;
};

describe('plan flags', () => {
  it('takes the design card’s scale by default', () => {
    const { inputs } = parsePlanArgs([]);
    expect(inputs).toMatchObject({ dau: 2e9, regions: 6, hitRate: 0.85, celebrityThreshold: 100_000, megaThreshold: 10_000_000 });
    expect(inputs.readsPerUserDay * inputs.dau / 86_400).toBeCloseTo(7e6, -3);
  });

  it('reads numbers in exponent form', () => {
    expect(parsePlanArgs(['--dau', '2e9', '--hit-rate', '0.9']).inputs).toMatchObject({ dau: 2e9, hitRate: 0.9 });
  });

  it('names the flag that is out of range, not a number, or unknown', () => {
    expect(usage(['--dau=-1'])).toMatch(/^--dau must be a number in 1\.\./);
    expect(usage(['--dau', '-1'])).toMatch(/^--dau needs a value/);
    expect(usage(['--hit-rate', '1.5'])).toMatch(/^--hit-rate /);
    expect(usage(['--regions', '2.5'])).toMatch(/^--regions must be an integer/);
    expect(usage(['--exponent', 'abc'])).toMatch(/^--exponent /);
    expect(usage(['--bogus', '1'])).toBe('unknown flag --bogus');
    expect(usage(['--celebrity-threshold', '1000', '--mega-threshold', '10'])).toMatch(/--mega-threshold must be at least --celebrity-threshold/);
  });

  it('exits 2 with one line naming the flag', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/plan.ts'), '--peak-factor', '0'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--peak-factor/);
  });
});

describe('plan run', () => {
  it('prints the design card’s table beside each policy’s and writes the chart', () => {
    const svg = path.join(mkdtempSync(path.join(os.tmpdir(), 'plan-svg-')), 'plan.svg');
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/plan.ts'), '--dau', '2e9', '--costs', FIXTURE, '--svg', svg], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/monthly cost\s+design card\s+hybrid \(thresholds\)\s+push-to-all\s+pull-at-read\s+rate-based per pair/);
    expect(r.stdout).toMatch(/^total\s+\$20\.00M/m);
    expect(r.stdout).toMatch(/prices: us-east-1 list prices as of .*re-check/);
    const chart = readFileSync(svg, 'utf8');
    expect(chart).toMatch(/^<svg /);
    expect(chart).toContain('<polyline');
    for (const label of ['design card', 'hybrid (thresholds)', 'push-to-all', 'pull-at-read', 'rate-based per pair']) expect(chart).toContain(label);
  });
});

describe('plan costs', () => {
  it('reads a bare costs file', () => {
    expect(loadCosts(FIXTURE).costs.ops.feedReadCold.rru).toBe(12);
  });

  it('takes the newest bench result that has costs', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'plan-costs-'));
    const costs = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, unknown>;
    writeFileSync(path.join(dir, '2026-01-01T00-00-00-000Z.json'), JSON.stringify({ meta: {}, costs: { ...costs, pageBytes: 111 } }));
    writeFileSync(path.join(dir, '2026-02-01T00-00-00-000Z.json'), JSON.stringify({ meta: {}, costs: { ...costs, pageBytes: 222 } }));
    writeFileSync(path.join(dir, '2026-03-01T00-00-00-000Z.json'), JSON.stringify({ meta: {} }));
    expect(loadCosts(undefined, dir).costs.pageBytes).toBe(222);
  });

  it('names the directory when there is no bench result, and the file when none has costs', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'plan-costs-'));
    expect(() => loadCosts(undefined, dir)).toThrow(/no bench results in .*plan-costs-.*npm run bench.*--costs/);
    writeFileSync(path.join(dir, '2026-03-01T00-00-00-000Z.json'), JSON.stringify({ meta: {} }));
    expect(() => loadCosts(undefined, dir)).toThrow(/2026-03-01T00-00-00-000Z\.json has no `costs` field/);
  });

  it('names a field the costs lack', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'plan-costs-'));
    const costs = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { ops: Record<string, unknown> };
    delete costs.ops.authorPull;
    const file = path.join(dir, 'old.json');
    writeFileSync(file, JSON.stringify({ costs }));
    expect(() => loadCosts(file)).toThrow(/old\.json: field costs\.ops\.authorPull is missing/);
  });
});
