// What one operation of the product costs in AWS billing units, as the benchmark measures it on
// the real code (bench/phases/costs.ts writes it into bench/results/<stamp>.json as `costs`) and
// the capacity model (capacity-model.ts) reads it. One schema, so the two cannot drift apart.
import * as z from 'zod';

/** One handler's share of an operation: what Lambda bills (invocations × duration × memory). */
export const LambdaShareSchema = z.object({
  handler: z.string(),
  invocations: z.number().nonnegative(),
  /** Measured wall time per invocation on the bench machine, ms (Lambda bills it rounded up to 1 ms). */
  durationMs: z.number().nonnegative(),
  /** The function's configured memory (shared/declarations/functions.ts). */
  memoryMB: z.number().positive(),
});
export type LambdaShare = z.infer<typeof LambdaShareSchema>;

export const OperationCostSchema = z.object({
  /** DynamoDB read request units (ConsumedCapacity as DynamoDB reports it: 0.5 per eventually
   *  consistent 4 KB read). */
  rru: z.number().nonnegative(),
  /** DynamoDB write request units (1 per 1 KB written; transactions count twice). */
  wru: z.number().nonnegative(),
  /** DynamoDB API calls. */
  requests: z.number().nonnegative(),
  /** The request units by entity (users, follows, posts, feeds, notifications, …): which tables
   *  the capacity lands on. */
  tables: z.record(z.string(), z.object({ rru: z.number().nonnegative(), wru: z.number().nonnegative() })),
  /** Redis commands sent (INFO commandstats). */
  redisCommands: z.number().nonnegative(),
  lambda: z.array(LambdaShareSchema),
  /** Operations averaged over. */
  samples: z.number().int().nonnegative(),
});
export type OperationCost = z.infer<typeof OperationCostSchema>;

/** The operations the capacity model composes a policy from. */
export const OPERATIONS = [
  /** GET /v1/feed served from the in-process L1 page. */
  'feedReadL1',
  /** GET /v1/feed served from the Redis L2 page. */
  'feedReadL2',
  /** GET /v1/feed generated from DynamoDB (both tiers missed), the hybrid's pulls included. */
  'feedReadCold',
  /** Reading one followed author's newest posts from DynamoDB (a Query): plain pull's unit. */
  'authorQuery',
  /** The product's pull of one high-tier author at read time: its recent-posts list in Redis,
   *  DynamoDB only when the list cannot answer. */
  'authorPull',
  /** Reading one page (1,000) of an author's followers: the post-router's unit of fan-out planning. */
  'followerPage',
  /** POST /v1/posts by an author nobody follows: the post and its routing, no fan-out. */
  'postCreate',
  /** One feed entry pushed by the fan-out worker (a job of FANOUT_JOB_FOLLOWERS, divided). */
  'fanOutPerFollower',
  /** PUT /v1/users/{id}/follow between two regular users (the backfill included). */
  'follow',
] as const;
export type Operation = (typeof OPERATIONS)[number];

export const OperationCostsSchema = z.object({
  measuredAt: z.string(),
  /** How they were measured (command, machine), for the plan's header. */
  source: z.string(),
  ops: z.object(Object.fromEntries(OPERATIONS.map((o) => [o, OperationCostSchema])) as Record<Operation, typeof OperationCostSchema>),
  /** Bytes of one cached feed page (L2 value). */
  pageBytes: z.number().positive(),
  /** Share of a celebrity's followers the CelebrityFanout workflow pushed to (recently active). */
  celebrityActiveShare: z.number().min(0).max(1),
  /** Followers per fan-out job (one queue message, one worker invocation). */
  jobFollowers: z.number().int().positive(),
  /** High-tier authors the measured cold reads pulled, on average: splits a cold read into its
   *  feed page and its pulls (authorQuery each). */
  pulledAuthorsPerColdRead: z.number().nonnegative(),
});
export type OperationCosts = z.infer<typeof OperationCostsSchema>;
