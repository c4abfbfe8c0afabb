// Counts a DynamoDB client's calls in flight inside the SDK (past the store's turns), as a
// middleware installed on the process's client; `stop()` removes it.
import { db } from '../../shared/store/client.js';

const MIDDLEWARE = 'testCountInFlight';

/** From now on, the most calls of the process's client (whose command name `matches`) inside the
 *  SDK at once, and how many there were. */
export function countInFlight(matches: (commandName: string) => boolean = () => true): { max: number; calls: number; stop(): void } {
  const client = db();
  let now = 0;
  const seen = {
    max: 0,
    calls: 0,
    stop: () => void client.middlewareStack.remove(MIDDLEWARE),
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (!matches(String(context.commandName))) return next(args);
      seen.calls++;
      seen.max = Math.max(seen.max, ++now);
      try {
        return await next(args);
      } finally {
        now--;
      }
    },
    { step: 'initialize', name: MIDDLEWARE, override: true },
  );
  return seen;
}
