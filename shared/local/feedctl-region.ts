// `feedctl region down|up <name>` against a multi-region local stack (npm start -- --regions …):
// down is a region outage (SIGKILL of the region's process group), up restarts it on its kept
// data. `feedctl region list` shows each region's endpoints and whether it is up.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './lambda.js';
import { alive, parseRegionList, readRegions, RegionArgumentError, regionDown, regionLine, regionUp } from './multi-region.js';
import type { FeedctlIo } from './feedctl.js';

export const REGION_USAGE = `usage: npm run feedctl -- region list|down <region>|up <region> [--data-dir DIR]`;

export async function regionMain(argv: string[], io: FeedctlIo): Promise<number> {
  let values: { 'data-dir'?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: { 'data-dir': { type: 'string' } }, allowPositionals: true, strict: true }));
  } catch (err) {
    io.stderr(`${(err as Error).message}\n${REGION_USAGE}`);
    return 2;
  }
  const env = io.env ?? process.env;
  const dataDir = values['data-dir'] ? path.resolve(io.cwd ?? env.INIT_CWD ?? process.cwd(), values['data-dir']) : path.join(ROOT, '.local');
  const [action, name, ...rest] = positionals;
  const needsName = action === 'down' || action === 'up';
  if (!(action === 'list' || needsName) || (needsName && !name) || rest.length > 0 || (action === 'list' && name)) {
    io.stderr(REGION_USAGE);
    return 2;
  }
  try {
    if (action === 'list') {
      const entries = readRegions(dataDir);
      if (!entries) throw new Error(`no multi-region stack is running (${path.join(dataDir, 'stack.json')} lists no regions)`);
      for (const e of entries) io.stdout(`${regionLine(e)}  ${alive(e.pid) ? 'up' : 'down'}`);
      return 0;
    }
    const [region] = parseRegionList(name!);
    if (action === 'down') {
      const e = await regionDown(dataDir, region!);
      io.stdout(`${region} down (process group ${e.pid} killed)`);
    } else {
      io.stdout(regionLine(await regionUp(dataDir, region!)));
    }
    return 0;
  } catch (err) {
    io.stderr((err as Error).message);
    return err instanceof RegionArgumentError ? 2 : 1;
  }
}
