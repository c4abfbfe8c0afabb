// `npx tsx bench/section-only.ts regions|reshard [--out DIR]`: one of the bench's sections that run
// stacks of their own, alone, without the single-region stack before them: `regions` (three local
// regions; replication lag, cross-region post-to-visible, failover, writes lost) or `reshard`
// (feedctl reshard 32 → 64 under load). Prints the section's rows and writes
// <out>/<timestamp>-<section>.json (default bench/results).
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createContext, runPhases } from './context.js';
import { machineSpeed } from './machine-speed.js';
import { PHASES } from './phases/index.js';
import { buildRows, renderTable } from './report.js';
import type { BenchOptions } from './run.js';
import { describeGraph, generateGraph } from './workload.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
const { values, positionals } = parseArgs({ options: { out: { type: 'string' } }, allowPositionals: true });
const SECTIONS = { regions: 'multi-region', reshard: 'reshard' } as const;
const section = (positionals[0] ?? 'regions') as keyof typeof SECTIONS;
if (!(section in SECTIONS) || positionals.length > 1) {
  console.error(`usage: npx tsx bench/section-only.ts ${Object.keys(SECTIONS).join('|')} [--out DIR]`);
  process.exit(2);
}
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.resolve(values.out ?? path.join(root, 'bench', 'results'));

// The context wants a graph and the full option set; these phases read neither beyond their own
// switch, so the smallest graph the generator takes stands in.
const USERS = 100;
const o: BenchOptions = {
  quick: section !== 'reshard',
  users: USERS,
  seed: 42,
  exponent: 2.276,
  zipf: 1,
  postsPerUser: 3,
  reps: 1,
  runMs: 400,
  concurrency: [1],
  hotUsers: 10,
  warmMs: 0,
  mixMs: 0,
  visibleSamples: 0,
  fanoutAuthors: 0,
  writerJobs: 0,
  tierAuthors: 0,
  workflows: false,
  coldInitReps: 0,
  dayUsers: 0,
  dayMs: 0,
  dayUncachedShare: 0,
  coldPageReaders: 0,
  bundles: false,
  regions: section === 'regions',
  reshard: section === 'reshard',
  outDir,
};
const graph = generateGraph({ users: USERS, seed: o.seed, exponent: o.exponent, zipf: o.zipf, postsPerUser: o.postsPerUser, postDays: 30 });
const ctx = createContext(o, graph, describeGraph(graph));
await runPhases(ctx, PHASES.filter((p) => p.name === section));
ctx.results.meta.finishedAt = new Date().toISOString();
ctx.results.meta.durationMs = Date.now() - ctx.began;
ctx.results.meta.machine.loadAvgEnd = os.loadavg();
ctx.results.meta.machine.speedEnd = machineSpeed();
const rows = buildRows(ctx.results).filter((r) => r.figure.startsWith(SECTIONS[section]) || r.section === 'errors');
mkdirSync(outDir, { recursive: true });
const file = path.join(outDir, `${new Date(ctx.began).toISOString().replace(/[:.]/g, '-')}-${section}.json`);
writeFileSync(file, JSON.stringify({ ...ctx.results, rows }, null, 2));
console.log('');
console.log(renderTable(ctx.results, rows));
console.log(`load average: start ${ctx.results.meta.machine.loadAvgStart.map((l) => l.toFixed(2)).join(' ')} · end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`results: ${path.relative(process.cwd(), file)}`);
process.exit(ctx.results.errors.length > 0 ? 1 : 0);
