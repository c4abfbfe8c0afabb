// Runs the benchmark: generates the graph, starts the handler bundles building in the background,
// runs the phases of ./phases/index.ts in order over one context, then writes the report (JSON,
// SVG chart, Markdown table) and prints the table. Every loop in a phase is bounded in count and
// time; a failing phase is reported and the others still run.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureTestEngines, EngineMissingError } from '../shared/local/engines.js';
import { ROOT } from '../shared/local/lambda.js';
import { buildBundles } from './bundles.js';
import { renderChart } from './chart.js';
import { createContext, fmt, runPhases, type BenchContext } from './context.js';
import { describeSpeed, machineSpeed } from './machine-speed.js';
import { PHASES } from './phases/index.js';
import { buildRows, renderMarkdown, renderTable, summarizeTargets } from './report.js';
import type { BenchOptions } from './run.js';
import { describeGraph, generateGraph } from './workload.js';


export async function runBench(o: BenchOptions): Promise<number> {
  const graph = generateGraph({
    users: o.users,
    seed: o.seed,
    exponent: o.exponent,
    zipf: o.zipf,
    postsPerUser: o.postsPerUser,
    // A month of history: feed entries live 30 days, and the day (bench/day-model.ts) posts a
    // thirtieth of postsPerUser, so the seeded feeds are as deep as a month of that activity.
    postDays: 30,
    celebrityThreshold: o.celebrityThreshold,
    megaThreshold: o.megaThreshold,
  });
  const described = describeGraph(graph);
  const ctx = createContext(o, graph, described);
  ctx.rss.start();
  ctx.log(`feedscale bench${o.quick ? ' --quick' : ''}: ${o.users} users, seed ${o.seed}, exponent ${o.exponent}, ${o.reps} reps × ${o.runMs} ms runs, concurrency ${o.concurrency.join('/')}; machine now: ${describeSpeed(ctx.results.meta.machine.speedStart)}`);
  ctx.bundles = startBundling(ctx);
  ctx.log(
    `graph: ${graph.n} users, ${graph.edges} follows (mean ${fmt(described.meanFollowers, 2)}, max ${described.maxFollowers} followers), ${graph.posts.length} posts; ` +
      `thresholds celebrity ${graph.thresholds.celebrity} / mega ${graph.thresholds.mega} → ${described.tiers.celebrity} celebrity, ${described.tiers.mega} mega`,
  );
  try {
    await ensureTestEngines();
  } catch (err) {
    if (err instanceof EngineMissingError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }
  ctx.dataDir = mkdtempSync(path.join(os.tmpdir(), 'feedscale-bench-'));
  await runPhases(ctx, PHASES);
  return writeReport(ctx);
}

/** Bundles every handler beside DynamoDB Local's start-up (sizes do not depend on load); their
 *  cold init is timed at the very end, once the stack is stopped and the machine is quiet. */
function startBundling(ctx: BenchContext): BenchContext['bundles'] {
  if (!ctx.o.bundles) return Promise.resolve(undefined);
  return buildBundles({ root: ROOT, outDir: path.join(ctx.o.outDir, 'bundles') }).then(
    (b) => {
      ctx.log(`bundles: ${b.filter((x) => !x.error).length}/${b.length} handlers bundled`);
      return b;
    },
    (err: unknown) => {
      ctx.results.errors.push({ phase: 'bundles', message: (err as Error).message });
      return undefined;
    },
  );
}

/** Writes results/<stamp>.json, .svg and .md, prints the table; → the exit code (1 when a phase
 *  failed, not when a target was missed). */
function writeReport(ctx: BenchContext): number {
  const { o, results, began } = ctx;
  const stamp = new Date(began).toISOString().replace(/[:.]/g, '-');
  results.meta.finishedAt = new Date().toISOString();
  results.meta.durationMs = Date.now() - began;
  results.meta.machine.loadAvgEnd = os.loadavg();
  results.meta.machine.speedEnd = machineSpeed();
  const rows = buildRows(results);
  mkdirSync(o.outDir, { recursive: true });
  const jsonFile = path.join(o.outDir, `${stamp}.json`);
  const svgFile = path.join(o.outDir, `${stamp}.svg`);
  const mdFile = path.join(o.outDir, `${stamp}.md`);
  writeFileSync(jsonFile, JSON.stringify({ ...results, rows }, null, 2));
  writeFileSync(svgFile, renderChart(results));
  writeFileSync(mdFile, renderMarkdown(results, rows));
  console.log('');
  console.log(renderTable(results, rows));
  const t = summarizeTargets(rows);
  console.log('');
  console.log(`targets: ${t.passed} passed, ${t.failed} missed, ${t.pending} pending — ${results.errors.length} phase error(s)`);
  console.log(`results: ${path.relative(process.cwd(), jsonFile)}  chart: ${path.relative(process.cwd(), svgFile)}  table: ${path.relative(process.cwd(), mdFile)}`);
  console.log(`total ${((Date.now() - began) / 1000).toFixed(0)} s`);
  return results.errors.length > 0 ? 1 : 0;
}
