// DynamoDB read requests by the use case they served: a feed read (a reader waiting), warming
// (pages generated ahead of readers) or anything else (posting, fan-out, follows, notifications,
// which cost the same with or without the cache). One SDK middleware on the process's client
// reads home-feed.ts's feedWork scope; a caller can also count one piece of work on its own.
import { AsyncLocalStorage } from 'node:async_hooks';
import { dynamo } from '../shared/store/client.js';
import { feedWork } from '../shared/services/home-feed.js';

export type Work = 'read' | 'warm' | 'other';

const READ_OPS = new Set(['GetCommand', 'GetItemCommand', 'QueryCommand', 'BatchGetCommand', 'BatchGetItemCommand', 'ScanCommand']);
const counts: Record<Work, number> = { read: 0, warm: 0, other: 0 };
/** The same requests by command and table (`Query Feed`, `BatchGet Posts`): what a figure is made of. */
const commands: Record<Work, Record<string, number>> = { read: {}, warm: {}, other: {} };

/** `Query Feed` from QueryCommand on `<prefix>Feed_12` (a BatchGet names each table it reads). */
function commandOf(name: string, input: { TableName?: string; RequestItems?: Record<string, unknown> }): string {
  const tables = input.TableName ? [input.TableName] : Object.keys(input.RequestItems ?? {});
  const bases = [...new Set(tables.map((t) => t.replace(/_\d+$/, '').replace(/^.*?([A-Z][A-Za-z]*)$/, '$1')))];
  return `${name.replace(/Command$/, '').replace(/Item$/, '')} ${bases.join('+') || '?'}`;
}
const own = new AsyncLocalStorage<{ requests: number; commands: string[] }>();
let installed = false;

/** Installs the middleware once on the process's DynamoDB client. */
export function countWork(): void {
  if (installed) return;
  installed = true;
  dynamo().middlewareStack.add(
    (next, context) => async (args) => {
      if (READ_OPS.has(String(context.commandName))) {
        const work = feedWork.getStore() ?? 'other';
        counts[work]++;
        const command = commandOf(String(context.commandName), args.input as never);
        commands[work][command] = (commands[work][command] ?? 0) + 1;
        const mine = own.getStore();
        if (mine) {
          mine.requests++;
          mine.commands.push(command);
        }
      }
      return next(args);
    },
    { step: 'initialize', name: 'feedscaleBenchWorkCounter' },
  );
}

/** Read requests so far, by use case. */
export function workCounts(): Record<Work, number> {
  return { ...counts };
}

/** Read requests so far, by use case, then by command and table. */
export function workCommands(): Record<Work, Record<string, number>> {
  return { read: { ...commands.read }, warm: { ...commands.warm }, other: { ...commands.other } };
}

/** `after` minus `before`, per command, largest first (zeros left out). */
export function commandDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([k, n]) => [k, n - (before[k] ?? 0)] as const)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1]),
  );
}

/** `work`, with the read requests it sent, and their commands and tables in order (`Query
 *  Feeds`; only its own: concurrent work is not counted). */
export async function requestsOf<T>(work: () => Promise<T>): Promise<{ result: T; requests: number; commands: string[] }> {
  const store = { requests: 0, commands: [] as string[] };
  const result = await own.run(store, work);
  return { result, requests: store.requests, commands: store.commands };
}
