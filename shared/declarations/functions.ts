// Every Lambda function of the product: its source file (export `handler`) and its sizing. The
// routes and event-source mappings name functions from here; stacks/ creates one Lambda each and
// the local stack imports the same files.
export interface FunctionSpec {
  /** Path from the project root; the module exports `handler`. */
  file: string;
  memoryMB: number;
  timeoutSeconds: number;
  /** Deployed to AWS? (false for the local stack's dev-token helper) */
  deployed: boolean;
  /** AWS only: Lambda reserved concurrency, a floor and a ceiling at once. Set on the write path
   *  and the fan-out consumers so a read surge cannot starve them, nor they the account. */
  reservedConcurrency?: number;
}

const http = (file: string, memoryMB = 512): FunctionSpec => ({ file, memoryMB, timeoutSeconds: 10, deployed: true });

export const FUNCTIONS = {
  health: http('functions/health.ts', 128),
  'dev-token': { ...http('functions/dev-token.ts', 128), deployed: false },
  openapi: http('functions/openapi.ts', 128),
  'create-user': http('functions/create-user.ts'),
  'get-me': http('functions/get-me.ts'),
  'get-user': http('functions/get-user.ts'),
  // Writes that start fan-out or backfill work: 100 concurrent ≈ 1,000 requests/s at ~100 ms
  // each, above their route throttles (stacks/guardrails.ts), so callers get 429s, not 5xx.
  'follow-user': { ...http('functions/follow-user.ts'), reservedConcurrency: 100 },
  'unfollow-user': { ...http('functions/unfollow-user.ts'), reservedConcurrency: 50 },
  'list-followers': http('functions/list-followers.ts'),
  'list-following': http('functions/list-following.ts'),
  'create-post': { ...http('functions/create-post.ts'), reservedConcurrency: 100 },
  'get-post': http('functions/get-post.ts'),
  'delete-post': { ...http('functions/delete-post.ts'), reservedConcurrency: 50 },
  'list-user-posts': http('functions/list-user-posts.ts'),
  'get-feed': http('functions/get-feed.ts', 1024),
  'set-vip': http('functions/set-vip.ts'),
  'list-notifications': http('functions/list-notifications.ts'),
  'mark-notifications-read': http('functions/mark-notifications-read.ts'),
  'clear-vip': http('functions/clear-vip.ts'),
  /** Reads the posts stream and plans fan-out: pages of followers become queue jobs. No reserved
   *  concurrency: a stream runs one batch per stream shard at a time, so its concurrency is
   *  bounded already, and a cap below the shard count (FEED_SHARDS tables) would stall shards. */
  'post-router': { file: 'functions/post-router.ts', memoryMB: 512, timeoutSeconds: 300, deployed: true },
  /** Writes feed entries for one job (≤ FANOUT_JOB_FOLLOWERS followers) per message. */
  'fan-out-worker': { file: 'functions/fan-out-worker.ts', memoryMB: 512, timeoutSeconds: 60, deployed: true, reservedConcurrency: 200 },
  /** CelebrityFanout tasks: list a page of active followers; push one chunk. */
  'celebrity-fanout-page': { file: 'functions/celebrity-fanout-page.ts', memoryMB: 512, timeoutSeconds: 60, deployed: true },
  'celebrity-fanout-push': { file: 'functions/celebrity-fanout-push.ts', memoryMB: 512, timeoutSeconds: 60, deployed: true },
  /** Starts the next execution of a long workflow from its cursor. */
  'workflow-continue': { file: 'functions/workflow-continue.ts', memoryMB: 256, timeoutSeconds: 30, deployed: true },
  /** Accumulates notification events per recipient and window. */
  'notification-collector': { file: 'functions/notification-collector.ts', memoryMB: 512, timeoutSeconds: 60, deployed: true, reservedConcurrency: 50 },
  /** BatchedNotification tasks: plan the closed window; compose one page of a shard's digests. */
  'notification-plan': { file: 'functions/notification-plan.ts', memoryMB: 256, timeoutSeconds: 30, deployed: true },
  'notification-compose': { file: 'functions/notification-compose.ts', memoryMB: 512, timeoutSeconds: 120, deployed: true },
  /** CacheWarming tasks: list a page of recently active users; warm one chunk of feeds. */
  'cache-warm-page': { file: 'functions/cache-warm-page.ts', memoryMB: 256, timeoutSeconds: 30, deployed: true },
  'cache-warm-chunk': { file: 'functions/cache-warm-chunk.ts', memoryMB: 1024, timeoutSeconds: 120, deployed: true },
  /** Every table's stream → its zone's analytics store. No reserved concurrency, for the
   *  post-router's reason; 60 s covers a 500-record batch's Firehose retries (about 25 s). */
  'analytics-export': { file: 'functions/analytics-export.ts', memoryMB: 512, timeoutSeconds: 60, deployed: true },
} satisfies Record<string, FunctionSpec>;

export type FunctionName = keyof typeof FUNCTIONS;
