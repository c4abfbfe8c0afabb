// Messages between the benchmark (the stack's process) and the load generator child, which runs
// autocannon in its own process so that generating load never shares the API's event loop.

/** How each request picks its user. */
export type Pick =
  /** Weighted draw (Zipf over activity) among `indices`, with replacement. */
  | { kind: 'weighted'; indices: number[]; weights: number[] }
  /** `indices` in order, each once; the run stops when they run out (cold reads). */
  | { kind: 'sequence'; indices: number[] }
  /** Always the same request. */
  | { kind: 'fixed'; index: number };

export interface RunSpec {
  /** Base URL, http://127.0.0.1:port. */
  url: string;
  /** Path of reads; `{user}` is replaced by the picked user's id. */
  path: string;
  /** Send the picked user's bearer token. */
  auth: boolean;
  pick: Pick;
  connections: number;
  durationMs: number;
  /** Keep going past durationMs until this many 2xx responses (slow paths at high concurrency
   *  would otherwise end a short run before any request completes), up to maxMs. */
  minOk?: number;
  maxMs?: number;
  /** Send exactly this many requests and wait for every answer (durationMs then only bounds the
   *  run): no request is left in flight to load the next run. */
  amount?: number;
  /** Share of requests that are POST /v1/posts by an author drawn from `writers` (0 = reads only). */
  writeShare?: number;
  writers?: { indices: number[]; weights: number[] };
  seed: number;
}

export interface RunResult {
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  writes: number;
  elapsedMs: number;
  rps: number;
  /** Latency of 2xx responses, ms. */
  latency: { p50: number; p95: number; p99: number; mean: number; max: number };
  bytesPerSecond: number;
  /** How many picks a 'sequence' run used. */
  consumed: number;
  /** Reads of users no earlier request (of any run) had read. */
  firstReads: number;
  statusCodes: Record<string, number>;
}

export type ToChild =
  | { type: 'users'; tokens: string[]; userIds: string[] }
  | { type: 'run'; id: number; spec: RunSpec }
  /** These users' cached pages were dropped: their next read counts as a first read again. */
  | { type: 'forget'; indices: number[] }
  | { type: 'exit' };

export type FromChild =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: RunResult }
  | { type: 'error'; id: number; message: string };
