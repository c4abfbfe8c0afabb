// Settings of the shared test stack and of every test process, where they differ from production:
// generous rate limits (./rate-limits.ts), and a DynamoDB attempt timeout as long as a function's,
// so a loaded machine's slow DynamoDB Local is waited for, not aborted and retried (the
// invocation deadline still answers 503 before the function's timeout). Notification digests keep
// their deployed 30-minute window: no test of the shared stack waits for a scheduled digest (the
// tests that do run stacks of their own), and a short window composes every table's digests every
// few seconds the whole run long (3 s windows: ~25% of a core, measured on an idle stack).
import { GENEROUS_RATE_LIMITS } from './rate-limits.js';

export const TEST_STACK_ENV: Record<string, string> = {
  ...GENEROUS_RATE_LIMITS,
  FEED_DYNAMO_TIMEOUT_MS: '10000',
  FEED_NOTIFICATION_WINDOW_SECONDS: '1800',
};
