// Retry policy for DynamoDB transactions cancelled by a conflicting concurrent transaction (two
// follows of one account touching the same counter item). Pure: the store asks it how long to
// wait before the next attempt, or whether to give up.
import { TRANSACTION_CONFLICT_RETRIES } from './limits.js';

/** First backoff step: a conflicting transaction usually commits within a few milliseconds. */
const CONFLICT_BACKOFF_BASE_MS = 10;

/** The delay before retrying after the `attempt`-th conflict (0-based): exponential from 10 ms
 *  with jitter in [0.5, 1.5) so retries of racing callers spread out; undefined once
 *  TRANSACTION_CONFLICT_RETRIES retries have been spent (the caller then rethrows). */
export function conflictRetryDelay(attempt: number, random: () => number = Math.random): number | undefined {
  if (attempt >= TRANSACTION_CONFLICT_RETRIES) return undefined;
  return CONFLICT_BACKOFF_BASE_MS * 2 ** attempt * (0.5 + random());
}
