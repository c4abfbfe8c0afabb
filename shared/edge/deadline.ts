// The deadline of the invocation being served: set at the edge from the Lambda context, honoured
// by every dependency call beneath it (the store aborts a DynamoDB call that would outlive it), so
// a slow dependency is answered 503 before the function's own timeout cuts the response off.
import { AsyncLocalStorage } from 'node:async_hooks';

/** Time kept back from the function's remaining time when a dependency gives up: enough to answer
 *  503 and flush logs and metrics before Lambda kills the invocation (10 s functions give up at 9 s). */
export const DEADLINE_RESERVE_MS = 1_000;

const deadlines = new AsyncLocalStorage<number>();

/** The deadline (epoch ms) of the invocation being served, if any. */
export const currentDeadline = (): number | undefined => deadlines.getStore();

/** Runs `work` with every dependency call inside it bounded by the invocation's remaining time less
 *  DEADLINE_RESERVE_MS (at most half of it). A context without getRemainingTimeInMillis (a test's
 *  stub) leaves only the per-attempt timeouts. */
export function withDeadline<T>(context: { getRemainingTimeInMillis?: () => number } | undefined, work: () => Promise<T>): Promise<T> {
  const remaining = typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : 0;
  if (!(remaining > 0)) return work();
  const at = Date.now() + remaining - Math.min(DEADLINE_RESERVE_MS, remaining / 2);
  return deadlines.run(Math.min(at, deadlines.getStore() ?? Infinity), work);
}
