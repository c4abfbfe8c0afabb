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
const own = new AsyncLocalStorage<{ requests: number; commands: string[] }>();
let installed = false;

/** Installs the middleware once on the process's DynamoDB client. */
export function countWork(): void {
  if (installed) return;
  installed = true;
  dynamo().middlewareStack.add(
    (next, context) => async (args) => {
      if (READ_OPS.has(String(context.commandName))) {
        counts[feedWork.getStore() ?? 'other']++;
        const mine = own.getStore();
        if (mine) {
          mine.requests++;
          mine.commands.push(String(context.commandName).replace(/Command$/, ''));
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

/** `work`, with the read requests it sent, and their commands in order (and only its own:
 *  concurrent work is not counted). */
export async function requestsOf<T>(work: () => Promise<T>): Promise<{ result: T; requests: number; commands: string[] }> {
  const store = { requests: 0, commands: [] as string[] };
  const result = await own.run(store, work);
  return { result, requests: store.requests, commands: store.commands };
}
