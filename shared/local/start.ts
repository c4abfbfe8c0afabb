// `npm start`: runs the local stack until Ctrl-C. Flags: --fresh (DynamoDB, queues and workflow
// runs in memory), --data-dir <dir> (where kept data lives instead of .local/; the crash test
// runs stacks on temporary ones), --regions a,b,c (one stack process per region, see multi-region.ts;
// with --fresh their kept data is wiped at start instead, so a region outage keeps its data).
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EngineMissingError } from './engines.js';
import { ROOT } from './lambda.js';
import { parseRegionList, readRegions, RegionArgumentError, regionLine, startRegions, stopRegions, watchRegions } from './multi-region.js';
import { startStack } from './stack.js';

const USAGE = 'usage: npm start [-- --fresh] [--data-dir <dir>] [--regions <region>,<region>,…]';

function parse(): { fresh: boolean; dataDir: string | undefined; regions: string | undefined } {
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2),
      options: { fresh: { type: 'boolean', default: false }, 'data-dir': { type: 'string' }, regions: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    });
    return { fresh: values.fresh ?? false, dataDir: values['data-dir'], regions: values.regions };
  } catch (err) {
    console.error(`${(err as Error).message} (${USAGE})`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const { fresh, dataDir, regions } = parse();
  const began = Date.now();
  if (regions !== undefined) return runRegions(regions, fresh, dataDir ?? path.join(ROOT, '.local'), began);
  // The analytics export lands beside the rest of the kept data (feedctl analytics reads it);
  // FEED_ANALYTICS_DIR= (empty) turns it off.
  process.env.FEED_ANALYTICS_DIR ??= path.join(path.resolve(dataDir ?? path.join(ROOT, '.local')), 'analytics');
  const stack = await startStack({ fresh, dataDir });
  for (const line of stack.lines) console.log(line);
  console.log(`ready in ${((Date.now() - began) / 1000).toFixed(1)} s — Ctrl-C stops everything`);
  onStop(() => stack.stop());
}

async function runRegions(value: string, fresh: boolean, dataDir: string, began: number): Promise<void> {
  let names;
  try {
    names = parseRegionList(value);
  } catch (err) {
    if (!(err instanceof RegionArgumentError)) throw err;
    console.error(err.message);
    process.exit(2);
  }
  const entries = await startRegions(dataDir, names, { fresh });
  for (const e of entries) console.log(regionLine(e));
  console.log(`${entries.length} regions ready in ${((Date.now() - began) / 1000).toFixed(1)} s (${path.join(dataDir, 'stack.json')}) — Ctrl-C stops everything`);
  // Keeps this process alive and tells the console when a region goes down or comes back
  // (`feedctl region down|up`, or a crash). A region restarted by feedctl has a new pid: the
  // file says which processes to stop.
  const watcher = watchRegions(dataDir, (line) => console.log(line));
  onStop(async () => {
    clearInterval(watcher);
    stopRegions(readRegions(dataDir) ?? entries);
  });
}

function onStop(stop: () => Promise<void>): void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    await stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  if (err instanceof EngineMissingError) console.error(err.message);
  else console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
