// The load generator: a child process that runs autocannon runs on request and reports each one
// with exact percentiles (autocannon's own histogram has no p95 and rounds to whole ms, so every
// 2xx latency is kept, at full resolution, from its 'response' events).
import autocannon from 'autocannon';
import type { IncomingHttpHeaders } from 'node:http';
import { AliasTable, createRng } from './rng.js';
import type { FromChild, RunResult, RunSpec, ToChild } from './load-protocol.js';

let tokens: string[] = [];
let userIds: string[] = [];
/** Users whose feed any run has asked for: a read of anyone else is a first read, which no
 *  cache can serve (the hit rate in steady state leaves those out). */
const readBefore = new Set<number>();

const send = (m: FromChild) => process.send?.(m);

/** Bounds the latencies kept per run (a 2-core box serves far fewer in one run). */
const MAX_SAMPLES = 2_000_000;

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

interface Req {
  method?: string;
  path?: string;
  headers?: IncomingHttpHeaders | Record<string, string>;
  body?: string;
}

/** What one run counts as it goes. */
interface Tally {
  /** Next index of a 'sequence' pick, and whether the sequence ran out. */
  position: number;
  exhausted: boolean;
  writes: number;
  firstReads: number;
  latencies: Float64Array;
  kept: number;
  ok: number;
  non2xx: number;
  /** Time of the last 2xx answer: throughput is measured up to it, since autocannon finishes a
   *  stopped run only at its next sample tick. */
  lastOkAt: number;
  statusCodes: Record<string, number>;
}

function newTally(): Tally {
  return { position: 0, exhausted: false, writes: 0, firstReads: 0, latencies: new Float64Array(MAX_SAMPLES), kept: 0, ok: 0, non2xx: 0, lastOkAt: 0, statusCodes: {} };
}

/** autocannon's setupRequest: a post by a writer (writeShare of the requests, writers by their
 *  weight) or a read of the next user of the spec's pick; stops the run when a sequence ends. */
function requestSetup(spec: RunSpec, t: Tally, stop: () => void): (req: Req) => Req {
  const rng = createRng(spec.seed);
  const pick = spec.pick;
  const table = pick.kind === 'weighted' ? new AliasTable(pick.weights) : undefined;
  const writers = spec.writers && spec.writers.indices.length > 0 ? new AliasTable(spec.writers.weights) : undefined;
  const next = (): number => {
    if (pick.kind === 'fixed') return pick.index;
    if (pick.kind === 'weighted') return pick.indices[table!.sample(rng)]!;
    if (t.position >= pick.indices.length) {
      t.exhausted = true;
      return pick.indices[pick.indices.length - 1]!;
    }
    return pick.indices[t.position++]!;
  };
  return (req: Req): Req => {
    if (t.exhausted) {
      stop();
      return req;
    }
    if (writers && spec.writers && rng.next() < (spec.writeShare ?? 0)) {
      const author = spec.writers.indices[writers.sample(rng)]!;
      t.writes++;
      return {
        ...req,
        method: 'POST',
        path: '/v1/posts',
        headers: { authorization: `Bearer ${tokens[author]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ content: `bench live post ${t.writes} from ${author}` }),
      };
    }
    const u = next();
    // Only reads of the product's GET /v1/feed (authenticated) make a user's later reads
    // cacheable; the baselines' reads (bare server, strategy harness) bypass the cache.
    if (spec.auth && !readBefore.has(u)) {
      readBefore.add(u);
      t.firstReads++;
    }
    const headers: Record<string, string> = spec.auth ? { authorization: `Bearer ${tokens[u]}` } : {};
    return { ...req, method: 'GET', path: spec.path.replace('{user}', userIds[u] ?? String(u)), headers, body: undefined };
  };
}

/** The run's figures from the tally and autocannon's own result. */
function toResult(t: Tally, result: autocannon.Result, started: number): RunResult {
  const elapsedMs = (t.lastOkAt || performance.now()) - started;
  const sorted = t.latencies.slice(0, t.kept).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    requests: t.ok + t.non2xx,
    ok: t.ok,
    non2xx: t.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    writes: t.writes,
    elapsedMs,
    rps: t.ok / (elapsedMs / 1000),
    latency: {
      p50: percentile(sorted, 0.5),
      p95: percentile(sorted, 0.95),
      p99: percentile(sorted, 0.99),
      mean: sorted.length ? sum / sorted.length : NaN,
      max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    },
    bytesPerSecond: result.throughput.average,
    consumed: t.position,
    firstReads: t.firstReads,
    statusCodes: t.statusCodes,
  };
}

/** One run: for `amount` requests, or for durationMs and until minOk answers (at most maxMs). */
function run(spec: RunSpec): Promise<RunResult> {
  const t = newTally();
  const minOk = spec.amount ? 0 : (spec.minOk ?? 0);
  const hardMs = minOk > 0 ? Math.max(spec.durationMs, spec.maxMs ?? spec.durationMs * 5) : spec.durationMs;
  let stopping = false;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let instance: autocannon.Instance;
    const enough = () => {
      if (stopping || performance.now() - started < spec.durationMs || t.ok < minOk) return;
      stopping = true;
      instance.stop();
    };
    const timer = spec.amount ? undefined : setTimeout(enough, spec.durationMs + 1);
    const setupRequest = requestSetup(spec, t, () => instance.stop());
    instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        pipelining: 1,
        // autocannon ends a stopped run at its next sample tick: 100 ms, not the default second,
        // so a short run does not keep loading the stack for up to a second after it stopped.
        sampleInt: 100,
        ...(spec.amount ? { amount: spec.amount } : { duration: hardMs / 1000 }),
        timeout: 10,
        requests: [{ method: 'GET', path: '/', setupRequest: setupRequest as never }],
      },
      (err, result) => {
        clearTimeout(timer);
        if (err) return reject(err);
        resolve(toResult(t, result, started));
      },
    );
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      t.statusCodes[statusCode] = (t.statusCodes[statusCode] ?? 0) + 1;
      if (statusCode >= 200 && statusCode < 300) {
        t.ok++;
        t.lastOkAt = performance.now();
        if (t.kept < MAX_SAMPLES) t.latencies[t.kept++] = responseTime;
        if (minOk > 0) enough();
      } else t.non2xx++;
    });
  });
}

process.on('message', (m: ToChild) => {
  if (m.type === 'users') {
    tokens = m.tokens;
    userIds = m.userIds;
    send({ type: 'ready' });
  } else if (m.type === 'run') {
    run(m.spec).then(
      (result) => send({ type: 'result', id: m.id, result }),
      (err: unknown) => send({ type: 'error', id: m.id, message: (err as Error).message ?? String(err) }),
    );
  } else if (m.type === 'forget') {
    for (const i of m.indices) readBefore.delete(i);
  } else if (m.type === 'exit') {
    process.exit(0);
  }
});
// The parent going away (Ctrl-C, crash) must not leave a load generator behind.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
