// `feedctl reshard`: grows a region's tables online (--to N) or moves logical shards between its
// tables (--move A-B --table N), finishes (--finish) or rolls back (--rollback) either, and shows
// where it stands (status). The moving is in reshard.ts; this
// file reads the command line and says what happened in one line when it cannot go on.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { config, resetConfig } from '../edge/config.js';
import { resetDynamo } from '../store/client.js';
import { resetShardMap } from '../store/shard-map.js';
import { ROOT } from './lambda.js';
import { alive } from './multi-region.js';
import type { FeedctlIo } from './feedctl.js';
import { finish, move, reshard, ReshardError, rollback, status, type ReshardIo, type ReshardTarget } from './reshard.js';

export const RESHARD_USAGE = `usage: npm run feedctl -- reshard --to N | --move A-B --table N | --finish | --rollback | status [--aws] [--region R] [--data-dir DIR]
  --to N        grow to N tables per entity (a power of two larger than today's), moving logical
                shards online; run it again to resume a stopped reshard
  --move A-B --table N
                move logical shards A to B (all on one table today) to table N, one of today's
                tables in their table set (rebalancing a hot table); run it again to resume
  --finish      delete the moved rows from their old tables (after this, no rollback)
  --rollback    move every moved logical shard back to its old table (before --finish)
  status        the shard map and the reshard's progress
  --aws         the deployed tables (default credential chain; the deployment must declare the
                new tables: FEED_SHARD_TABLES), not the local stack`;

type Values = { to?: string; move?: string; table?: string; finish?: boolean; rollback?: boolean; aws?: boolean; region?: string; 'data-dir'?: string; help?: boolean };

/** The local stack's DynamoDB endpoint: DYNAMODB_ENDPOINT, else its stack.json. */
function localEndpoint(dataDir: string, env: Record<string, string | undefined>): string {
  if (env.DYNAMODB_ENDPOINT) return env.DYNAMODB_ENDPOINT;
  const file = path.join(dataDir, 'stack.json');
  if (!existsSync(file)) throw new ReshardError(`no local stack: ${file} is missing (start one with npm start, or set DYNAMODB_ENDPOINT)`);
  const stack = JSON.parse(readFileSync(file, 'utf8')) as { dynamodb?: string; regions?: unknown[]; pid?: number };
  if (stack.pid && !alive(stack.pid)) throw new ReshardError(`no local stack is running (${file} names process ${stack.pid}, which has exited): start one with npm start`);
  if (stack.regions) throw new ReshardError('a multi-region stack is running: reshard moves one region’s tables, and reshards one region of a network only when its peers are stopped (see README "Resharding")');
  if (!stack.dynamodb) throw new ReshardError(`${file} names no DynamoDB endpoint`);
  return stack.dynamodb;
}

/** Points this process's store at `endpoint` (the shard map is read and written through it). */
function useEndpoint(endpoint: string | undefined): void {
  if ((process.env.DYNAMODB_ENDPOINT ?? undefined) === endpoint) return;
  if (endpoint) process.env.DYNAMODB_ENDPOINT = endpoint;
  else delete process.env.DYNAMODB_ENDPOINT;
  resetConfig();
  resetDynamo();
  resetShardMap();
}

export async function reshardMain(argv: string[], io: FeedctlIo, signal?: AbortSignal): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: { to: { type: 'string' }, move: { type: 'string' }, table: { type: 'string' }, finish: { type: 'boolean' }, rollback: { type: 'boolean' }, aws: { type: 'boolean' }, region: { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    io.stderr(`feedctl reshard: ${(err as Error).message}`);
    RESHARD_USAGE.split('\n').forEach((l) => io.stderr(l));
    return 2;
  }
  if (values.help) {
    RESHARD_USAGE.split('\n').forEach((l) => io.stdout(l));
    return 0;
  }
  const actions = [values.to !== undefined, values.move !== undefined, values.finish === true, values.rollback === true, positionals[0] === 'status'].filter(Boolean).length;
  if (actions !== 1 || positionals.length > (positionals[0] === 'status' ? 1 : 0) || (values.move !== undefined) !== (values.table !== undefined)) {
    io.stderr('feedctl reshard: give exactly one of --to N, --move A-B --table N, --finish, --rollback, status');
    RESHARD_USAGE.split('\n').forEach((l) => io.stderr(l));
    return 2;
  }
  const env = io.env ?? process.env;
  // Ctrl-C stops after the current cut-over (state saved: the same command resumes); a second
  // one exits at once (a freeze left behind is lifted by the next run).
  const stop = new AbortController();
  signal?.addEventListener('abort', () => stop.abort(), { once: true });
  let interrupts = 0;
  const onInterrupt = () => {
    if (++interrupts > 1) process.exit(130);
    io.stderr('stopping after the current cut-over (Ctrl-C again to quit now)');
    stop.abort();
  };
  process.on('SIGINT', onInterrupt);
  try {
    const dataDir = values['data-dir'] ? path.resolve(io.cwd ?? env.INIT_CWD ?? process.cwd(), values['data-dir']) : path.join(ROOT, '.local');
    if (values.aws && (env.FEED_REGIONS ?? '').includes(',')) {
      // Each region maps its own logical shards; `--region` picks the one to reshard.
      if (!values.region) throw new ReshardError('FEED_REGIONS names several regions: say which one with --region');
    }
    const endpoint = values.aws ? undefined : localEndpoint(dataDir, env);
    // Configuration as the functions read it, minus what only serving needs (the cursor keys);
    // locally, DynamoDB Local keeps the stack's tables under its credentials.
    process.env.FEED_LOCAL ??= '1';
    if (!values.aws) {
      process.env.AWS_ACCESS_KEY_ID ??= 'local';
      process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
    }
    if (values.aws && values.region) process.env.AWS_REGION = values.region;
    useEndpoint(endpoint);
    const target: ReshardTarget = { endpoint, region: values.region ?? config().AWS_REGION, createTables: !values.aws };
    const out: ReshardIo = { progress: (line) => io.stdout(line), signal: stop.signal };
    if (positionals[0] === 'status') {
      for (const line of await status(target)) io.stdout(line);
      return 0;
    }
    if (values.finish) {
      await finish(target, out);
      return 0;
    }
    if (values.rollback) {
      const { state } = await rollback(target, out);
      io.stdout(`rolled back to ${state.from} tables`);
      return 0;
    }
    if (values.move !== undefined) {
      const range = /^(\d+)(?:-(\d+))?$/.exec(values.move);
      if (!range) throw new ReshardError(`--move takes logical shards A-B or A (got ${values.move}); nothing changed`);
      const [from, to] = [Number(range[1]), Number(range[2] ?? range[1])];
      const { state } = await move(from, to, Number(values.table), target, out);
      const pause = state.pausesMs.at(-1) ?? 0;
      io.stdout(`moved: logical ${from}-${to} to table ${values.table}; ${state.rowsCopied} rows copied; write pause ${pause} ms; next: --finish (or --rollback)`);
      return 0;
    }
    const to = Number(values.to);
    const { state, map } = await reshard(to, target, out);
    const pauses = [...state.pausesMs].sort((a, b) => a - b);
    const p99 = pauses[Math.min(pauses.length - 1, Math.floor(pauses.length * 0.99))] ?? 0;
    io.stdout(`moved: ${map.tables} tables, shard map version ${map.version}; ${state.rowsCopied} rows copied; write pause p99 ${p99} ms, max ${pauses.at(-1) ?? 0} ms; next: --finish (or --rollback)`);
    return 0;
  } catch (err) {
    const unreachable = (err as { status?: number }).status === 503;
    io.stderr(`feedctl reshard: ${err instanceof ReshardError ? (err as Error).message : unreachable ? `DynamoDB did not answer (${process.env.DYNAMODB_ENDPOINT ?? 'AWS'}): ${(err as Error).message}` : ((err as Error).stack ?? String(err))}`);
    return 1;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}
