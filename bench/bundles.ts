// Bundle size and cold init of every Lambda handler: each file of shared/declarations/functions.ts bundled by
// esbuild as SST bundles a Node.js function (bundle, minify, platform node, ESM, target node22,
// module-first main fields, and SST's createRequire banner so bundled CommonJS can require
// built-ins), then imported in a fresh Node process — the init a cold Lambda pays.
import { spawn } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { FUNCTIONS, type FunctionName } from '../shared/declarations/functions.js';
import { median } from './stats.js';

/** What SST prepends to ESM Node.js bundles. */
const SST_BANNER = [
  "import { createRequire as topLevelCreateRequire } from 'module';",
  'const require = topLevelCreateRequire(import.meta.url);',
  "import { fileURLToPath as topLevelFileUrlToPath, URL as topLevelURL } from 'url';",
  'const __filename = topLevelFileUrlToPath(import.meta.url);',
  "const __dirname = topLevelFileUrlToPath(new topLevelURL('.', import.meta.url));",
].join('\n');

/** A cold init that takes longer than this is reported as failed, not waited for. */
const INIT_TIMEOUT_MS = 20_000;

export interface BundleResult {
  fn: FunctionName;
  deployed: boolean;
  bytes: number;
  /** Median import time in a fresh process, ms (NaN if it failed). */
  initMs: number;
  initRuns: number[];
  /** What the bundle's bytes are, by npm package (or "feedscale" for the project's own code). */
  topPackages: { name: string; bytes: number }[];
  error?: string;
}

/** Bytes in one output by package, largest first (top 6). */
function topPackages(meta: Metafile | undefined, outfile: string): { name: string; bytes: number }[] {
  const output = meta && Object.entries(meta.outputs).find(([file]) => path.resolve(file) === path.resolve(outfile))?.[1];
  if (!output) return [];
  const by = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
    const name = m ? m[1]! : 'feedscale';
    by.set(name, (by.get(name) ?? 0) + bytesInOutput);
  }
  return [...by.entries()].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes).slice(0, 6);
}

function coldInit(file: string, env: NodeJS.ProcessEnv): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), INIT_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      const ms = Number(out.trim());
      if (code === 0 && Number.isFinite(ms)) resolve(ms);
      else reject(new Error(`import failed (exit ${code}): ${err.trim().split('\n').slice(-3).join(' ')}`));
    });
  });
}

export interface BuiltBundle {
  fn: FunctionName;
  outfile: string;
  bytes: number;
  topPackages: { name: string; bytes: number }[];
  error?: string;
}

/** Bundles every handler of shared/declarations/functions.ts into outDir. */
export async function buildBundles(opts: { root: string; outDir: string }): Promise<BuiltBundle[]> {
  mkdirSync(opts.outDir, { recursive: true });
  const names = Object.keys(FUNCTIONS) as FunctionName[];
  // One build with every handler as an entry point: esbuild parses the shared modules once, and
  // without code splitting each output is still a standalone bundle, as SST deploys it.
  let buildError: string | undefined;
  let metafile: Metafile | undefined;
  try {
    const out = await build({
      metafile: true,
      entryPoints: Object.fromEntries(names.map((fn) => [fn, path.join(opts.root, FUNCTIONS[fn].file)])),
      outdir: opts.outDir,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      minify: true,
      platform: 'node',
      target: 'node22',
      format: 'esm',
      mainFields: ['module', 'main'],
      banner: { js: SST_BANNER },
      logLevel: 'silent',
    });
    metafile = out.metafile;
  } catch (err) {
    buildError = (err as Error).message.split('\n')[0];
  }
  return names.map((fn) => {
    const outfile = path.join(opts.outDir, `${fn}.mjs`);
    let bytes = NaN;
    try {
      bytes = statSync(outfile).size;
    } catch {
      // not built
    }
    return { fn, outfile, bytes, topPackages: topPackages(metafile, outfile), ...(buildError && { error: buildError }) };
  });
}

/** Imports each bundle in `reps` fresh Node processes, one at a time (in parallel they would
 *  measure contention instead). */
export async function measureColdInit(built: BuiltBundle[], reps: number): Promise<BundleResult[]> {
  // What a deployed function's environment holds; the handlers read configuration lazily, but
  // the logger and metrics read theirs at import.
  const env = {
    PATH: process.env.PATH ?? '',
    AWS_REGION: 'us-east-1',
    AWS_LAMBDA_FUNCTION_NAME: 'bench',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    POWERTOOLS_SERVICE_NAME: 'feedscale',
    FEED_CURSOR_SECRET: 'bench-cursor-secret-0123456789',
  };
  const results: BundleResult[] = [];
  for (const b of built) {
    const runs: number[] = [];
    let error = b.error;
    if (!error) {
      for (let r = 0; r < reps; r++) {
        try {
          runs.push(await coldInit(b.outfile, env));
        } catch (err) {
          error = (err as Error).message;
          break;
        }
      }
    }
    results.push({ fn: b.fn, deployed: FUNCTIONS[b.fn].deployed, bytes: b.bytes, topPackages: b.topPackages, initMs: median(runs), initRuns: runs, ...(error && { error }) });
  }
  return results;
}
