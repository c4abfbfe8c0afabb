// Every product limit, named once, with the reason for its value. The README's Limits section
// mirrors this module.

/** Newest entries kept in a precomputed feed (the design card's cap); older history is pulled. */
export const FEED_MAX_ENTRIES = 800;
/** Feed entries expire 30 days after the post (DynamoDB TTL attribute `expiresAt`). */
export const FEED_ENTRY_TTL_SECONDS = 30 * 24 * 3600;
/** Page size of list endpoints: 1..100, default 20. 100 is BatchGetItem's key limit, so one
 *  page hydrates in one call. */
export const PAGE_LIMIT_MIN = 1;
export const PAGE_LIMIT_MAX = 100;
export const PAGE_LIMIT_DEFAULT = 20;
/** Post content length in characters (Unicode code points). */
export const POST_CONTENT_MAX = 2000;
/** Request bodies larger than this are refused with 413 before parsing. */
export const BODY_MAX_BYTES = 64 * 1024;
/** Handles: 3..30 of [a-z0-9_], compared case-insensitively. */
export const HANDLE_PATTERN = /^[A-Za-z0-9_]{3,30}$/;
export const DISPLAY_NAME_MAX = 64;
/** Idempotency-Key: at most 255 printable ASCII characters, remembered for 24 hours. */
export const IDEMPOTENCY_KEY_MAX = 255;
export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
/** Follower ids per fan-out job message: 500 ids of 13 characters stay far below SQS's 256 KiB
 *  message limit and make one job 20 BatchWriteItem calls, a few hundred ms of work. */
export const FANOUT_JOB_FOLLOWERS = 500;
/** SQS SendMessageBatch takes at most 10 entries. */
export const SQS_BATCH_MAX = 10;
/** DynamoDB BatchWriteItem takes at most 25 requests; BatchGetItem at most 100 keys. */
export const DYNAMO_BATCH_WRITE_MAX = 25;
export const DYNAMO_BATCH_GET_MAX = 100;
/** Retries of UnprocessedItems / UnprocessedKeys, with exponential backoff from 25 ms. */
export const DYNAMO_BATCH_RETRIES = 8;
/** A fan-out worker trims a feed back to FEED_MAX_ENTRIES on about 1 write in 32, so the cap
 *  costs one extra Query per 32 entries instead of one per entry; reads never show more. */
export const FEED_TRIM_ONE_IN = 32;
/** Dev tokens minted by the local stack live one day. */
export const DEV_TOKEN_TTL_SECONDS = 24 * 3600;
/** A user's follower count is the sum of this many counter items, each its own partition key,
 *  so a burst of follows of one account spreads over 8 partitions (8 × 1,000 WCU) instead of
 *  conflicting on one hot item; a profile read adds 8 keys to its BatchGetItem. */
export const FOLLOWER_COUNTER_SHARDS = 8;
/** Retries of a follow/unfollow transaction cancelled by a conflicting concurrent one. */
export const TRANSACTION_CONFLICT_RETRIES = 6;
/** An author falls back a tier only below this share of the threshold, so a count hovering at a
 *  threshold does not flip the tier (each flip rewrites every follower's high-tier list). */
export const TIER_HYSTERESIS = 0.9;
/** VIP followers an author may mark (the mega path pushes to them). */
export const VIPS_MAX = 1000;
/** Active-follower index buckets per author: a celebrity with 10M followers, 40% active daily and
 *  one index write per active follower per hour, writes ~1,100/s; 4 partitions keep each under
 *  DynamoDB's 1,000 WCU per partition. */
export const ACTIVE_INDEX_BUCKETS = 4;
/** Follower-edge buckets of an account past FEED_EDGE_BUCKET_THRESHOLD (README "Celebrity edges").
 *  A follow writes its in-edge inside a transaction, 2 WCU for an item under 1 KB, so one
 *  partition key takes 500 follows/s before DynamoDB's 1,000 WCU cap. 8 buckets at the crossing
 *  take 4,000 follows/s, above the 1,000-3,000/s peak a celebrity's arrival or a viral moment
 *  brings. Past that a bucket holds about one threshold's worth of followers (the count doubles
 *  N), so a fan-out reads each bucket in parallel; 256 buckets keep a 600M-follower account at
 *  2.3M ids (~94 MB) a bucket, 4 s of reading at 3,000 RCU (24 MB/s eventually consistent). */
export const EDGE_BUCKETS_MIN = 8;
export const EDGE_BUCKETS_MAX = 256;
/** How long a process trusts an account's edge layout before reading it again: one eventually
 *  consistent read per container every 5 s (0.5 RCU) stays far below the marker's 3,000 RCU
 *  when thousands of containers follow one account. FEED_EDGE_MOVE_GRACE_SECONDS covers it. */
export const EDGE_LAYOUT_CACHE_MS = 5_000;
/** Edges copied (or cleaned up) per step of a layout move: 10 transactions of 50, one fan-out
 *  job of about a second, so a step never nears the worker's 60 s timeout. */
export const EDGE_MOVE_PAGE = 500;
/** A move step not heard from for this long (its message lost to the DLQ) is queued again by the
 *  next follow's reconcile; steps are idempotent, so a duplicate only repeats work. */
export const EDGE_MOVE_STALL_SECONDS = 300;
/** High-tier authors pulled per feed request: the most recently posting ones. */
export const FEED_PULL_AUTHORS = 100;
/** Followed authors read when paging past the end of the precomputed feed (history). */
export const FEED_HISTORY_AUTHORS = 100;
/** Accumulation partitions per shard and notification window: recipients spread over 16 keys so
 *  a burst of events (a mega-celebrity's post reaching millions) stays under 1,000 WCU each. */
export const NOTIFY_BUCKETS = 16;
/** Distinct events remembered per recipient and window (a string set, for exact de-duplication);
 *  past it the digest says "N+ others". 1,000 ids of ~20 bytes stay far below the 400 KB item limit. */
export const NOTIFY_EVENTS_MAX = 1000;
/** DynamoDB calls a process's client has in flight at once (and its sockets: the SDK's default
 *  pool). Calls past it wait their turn before the SDK, so its timeouts time DynamoDB, not the
 *  wait; the invocation's deadline still counts the wait. */
export const DYNAMO_IN_FLIGHT = 50;
/** Accumulator updates of one notification event (up to FANOUT_JOB_FOLLOWERS recipients) in flight
 *  at once: half of DYNAMO_IN_FLIGHT, so one message never takes every turn of a client that other
 *  invocations share (the local stack runs them all in one process); ~20 round trips a message. */
export const NOTIFY_ACCUMULATE_CONCURRENCY = 25;
/** Digests are kept 90 days. */
export const NOTIFICATION_TTL_SECONDS = 90 * 24 * 3600;
/** Recipients composed per Compose step (one Lambda call), then the workflow loops. */
export const NOTIFY_COMPOSE_PAGE = 500;
/** Celebrity and mega posts notify followers only after this delay (SQS DelaySeconds, at most
 *  900), so the writes of a post's first minute stay bounded by its pushes. */
export const HIGH_TIER_NOTIFY_DELAY_SECONDS = 60;
/** Per Redis command (FEED_REDIS_TIMEOUT_MS default): a hit must stay far inside the 100 ms P95
 *  budget of a feed load. */
export const REDIS_COMMAND_TIMEOUT_MS = 50;
/** Feed reads' metrics are flushed per container as one EMF document of up to this many reads:
 *  EMF's limit of values per metric in one document (shared/edge/observability.ts). */
export const FEED_READ_BATCH_MAX = 100;
/** A batch of feed reads this old (ms since its first read) is flushed by the read that finds it
 *  so: while a container serves, its reads reach CloudWatch within this long. A container that
 *  stops serving keeps its last batch until its next read, and loses it if Lambda shuts it down
 *  first. */
export const FEED_READ_BATCH_MAX_AGE_MS = 10_000;
/** Retry-After of a 503: a throttled partition or a failed-over node is usually back within a
 *  second or two, and a sooner retry would add to the overload. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;
/** Retry-After of 503 region_unavailable: a region outage lasts minutes, so a client asking every
 *  few seconds only adds load; 10 s is also the failover budget, after which a returned region
 *  answers again. */
export const REGION_RETRY_AFTER_SECONDS = 10;
