// `npm start`: runs the local stack until Ctrl-C. Flags: --fresh (DynamoDB, queues and workflow
// runs in memory), --data-dir <dir> (where kept data lives instead of .local/; the crash test
// runs stacks on temporary ones).
import { EngineMissingError } from './engines.js';
import { startStack } from './stack.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const dirAt = args.indexOf('--data-dir');
  const dataDir = dirAt === -1 ? undefined : args[dirAt + 1];
  const unknown = args.filter((a, i) => a !== '--fresh' && !(dirAt !== -1 && (i === dirAt || i === dirAt + 1)));
  if (unknown.length > 0 || (dirAt !== -1 && !dataDir)) {
    console.error(`unknown argument(s): ${unknown.join(' ') || '--data-dir without a directory'} (usage: npm start [-- --fresh] [--data-dir <dir>])`);
    process.exit(2);
  }
  const began = Date.now();
  const stack = await startStack({ fresh: args.includes('--fresh'), dataDir });
  for (const line of stack.lines) console.log(line);
  console.log(`ready in ${((Date.now() - began) / 1000).toFixed(1)} s — Ctrl-C stops everything`);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    await stack.stop();
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
