// `npx tsx bench/regions-only.ts [--out DIR]`: the bench's multi-region section alone (three local
// regions; replication lag, cross-region post-to-visible, failover, writes lost), without the
// single-region stack before it. Prints the section's rows and writes
// <out>/<timestamp>-regions.json (default bench/results).
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createContext, runPhases } from './context.js';
import { PHASES } from './phases/index.js';
import { buildRows, renderTable } from './report.js';
import type { BenchOptions } from './run.js';
import { describeGraph, generateGraph } from './workload.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
const { values } = parseArgs({ options: { out: { type: 'string' } } });
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.resolve(values.out ?? path.join(root, 'bench', 'results'));

// The context wants a graph and the full option set; the regions phase reads neither beyond
// `regions`, so the smallest graph the generator takes stands in.
const USERS = 100;
const o: BenchOptions = {
  quick: true,
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
  regions: true,
  outDir,
};
const graph = generateGraph({ users: USERS, seed: o.seed, exponent: o.exponent, zipf: o.zipf, postsPerUser: o.postsPerUser, postDays: 30 });
const ctx = createContext(o, graph, describeGraph(graph));
await runPhases(ctx, PHASES.filter((p) => p.name === 'regions'));
ctx.results.meta.finishedAt = new Date().toISOString();
ctx.results.meta.durationMs = Date.now() - ctx.began;
ctx.results.meta.machine.loadAvgEnd = os.loadavg();
const rows = buildRows(ctx.results).filter((r) => r.figure.startsWith('multi-region') || r.section === 'errors');
mkdirSync(outDir, { recursive: true });
const file = path.join(outDir, `${new Date(ctx.began).toISOString().replace(/[:.]/g, '-')}-regions.json`);
writeFileSync(file, JSON.stringify({ ...ctx.results, rows }, null, 2));
console.log('');
console.log(renderTable(ctx.results, rows));
console.log(`load average: start ${ctx.results.meta.machine.loadAvgStart.map((l) => l.toFixed(2)).join(' ')} · end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`results: ${path.relative(process.cwd(), file)}`);
process.exit(ctx.results.errors.length > 0 ? 1 : 0);
