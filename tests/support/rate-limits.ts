// Rate limits for the shared test stack and test processes: far above any test's burst (the
// busiest, feed-burst, reads a few hundred pages in seconds), so no other test meets a 429, while
// every request still goes through the Redis bucket script. tests/e2e/rate-limit.test.ts runs a
// stack of its own with tight limits.
const PLENTY_PER_MINUTE = '1000000';
const PLENTY_BURST = '100000';

export const GENEROUS_RATE_LIMITS: Record<string, string> = Object.fromEntries(
  ['POST', 'FOLLOW', 'SIGNUP', 'VIP', 'READ'].flatMap((b) => [
    [`FEED_RATE_${b}_PER_MINUTE`, PLENTY_PER_MINUTE],
    [`FEED_RATE_${b}_BURST`, PLENTY_BURST],
  ]),
);
