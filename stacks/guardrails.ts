// The deployed guardrails and tracing settings that are not part of an operation's declaration:
// API Gateway throttling, the account's concurrency budget, X-Ray. Each limit says why it has its
// value; README "Deploy" lists them. Per-function reserved concurrency and per-mapping maximum
// concurrency are declared beside the functions and mappings in shared/declarations/.

export interface Throttle {
  /** Steady requests per second (token bucket refill). */
  rateLimit: number;
  /** Requests accepted at once above the rate (token bucket size). */
  burstLimit: number;
}

/** API Gateway's default quota for all HTTP APIs of an account in a region is 10,000 requests/s
 *  with a burst of 5,000: one stage takes half of it, so a flood on one stage (or a runaway
 *  client) gets 429s before it starves the account's other APIs and stages. */
export const API_DEFAULT_THROTTLE: Throttle = { rateLimit: 5000, burstLimit: 2500 };

/** Every write route (POST, PUT, DELETE): a write costs far more than a read downstream (a post
 *  fans out to every follower's feed, a follow back-fills a feed), so writes get a tighter bucket.
 *  500/s sits below what the write functions' reserved concurrency serves (100 at ~100 ms is
 *  ~1,000/s; declared in shared/declarations/functions.ts), so an overload is answered 429 by API
 *  Gateway instead of 5xx from throttled Lambda invocations. */
export const WRITE_ROUTE_THROTTLE: Throttle = { rateLimit: 500, burstLimit: 250 };

/** Route methods that write. */
export const WRITE_METHODS: readonly string[] = ['POST', 'PUT', 'DELETE', 'PATCH'];

/** Lambda's default concurrency quota per account and region is 1,000 and it refuses reservations
 *  that leave fewer than 100 unreserved: the sum of a stage's reservations must stay within 900
 *  (raise this only with the account's quota). */
export const RESERVED_CONCURRENCY_BUDGET = 900;

/** Lambda's bounds on an SQS mapping's maximum concurrency (scaling config). */
export const SQS_MAX_CONCURRENCY_RANGE = { min: 2, max: 1000 } as const;

/** Lambda active tracing: the function samples requests and sends segments to X-Ray (init,
 *  invocation, and the AWS SDK calls' trace header propagation to SQS and Step Functions). */
export const LAMBDA_TRACING_MODE = 'Active';

/** AWS's managed policy for sending traces (xray:PutTraceSegments, PutTelemetryRecords and the
 *  sampling reads), attached to each function's role: these actions support no resource-level
 *  permissions, so the policy is AWS's rather than a `*` statement in plan.functionStatements. */
export const XRAY_WRITE_POLICY = (partition: string) => `arn:${partition}:iam::aws:policy/AWSXRayDaemonWriteAccess`;

/** What a state machine's role needs for X-Ray tracing (AWS documents Resource "*"). */
export const XRAY_STATE_MACHINE_ACTIONS: readonly string[] = [
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
];

/** API Gateway HTTP APIs (v2) do not support X-Ray tracing (REST APIs do): a trace starts at the
 *  Lambda function. Requests are followed end to end by the correlation id instead: the API's
 *  request id ($context.requestId, in the access log and the `apigw-requestid` response header)
 *  is every log line's `correlation_id` and travels in queue messages and workflow inputs. */
export const API_XRAY_TRACING = false;
