// The feed handler invoked directly, one invocation at a time, as Lambda runs it (no
// multi-concurrency mode, no local gateway): the CPU time one invocation costs per cache tier,
// from process.cpuUsage around each call, against the stack's DynamoDB Local and Redis.
// Run by bench/invoke-cpu.ts in a process of its own, so the stack's work is not counted.
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { handler } from '../functions/get-feed.js';
import { feedCache } from '../shared/cache/feed-cache.js';
import { L1Cache } from '../shared/cache/l1.js';
import { emitMetricsTo } from '../shared/edge/observability.js';
import { cpuProfiled } from './cpu-profile.js';
import type { CpuJob, CpuReport, CpuTier } from './invoke-cpu.js';

/** The deployed function's memory (shared/declarations/functions.ts) and a timeout no read nears. */
const MEMORY_MB = '1024';
const TIMEOUT_MS = 10_000;

function context(): Context {
  const deadline = Date.now() + TIMEOUT_MS;
  const noop = () => {};
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'feedscale-bench-get-feed',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:feedscale-bench-get-feed',
    memoryLimitInMB: MEMORY_MB,
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/feedscale-bench-get-feed',
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: noop,
    fail: noop,
    succeed: noop,
  };
}

/** What API Gateway's JWT authorizer hands the function: the token is already verified. */
function event(sub: string) {
  const now = Date.now();
  const requestId = randomUUID();
  return {
    version: '2.0',
    routeKey: 'GET /v1/feed',
    rawPath: '/v1/feed',
    rawQueryString: '',
    headers: { host: 'localhost', 'user-agent': 'bench' },
    requestContext: {
      accountId: '000000000000',
      apiId: 'bench',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method: 'GET', path: '/v1/feed', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      requestId,
      routeKey: 'GET /v1/feed',
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
      authorizer: { jwt: { claims: { sub }, scopes: null } },
    },
    isBase64Encoded: false,
  } as unknown as Parameters<typeof handler>[0];
}

/** Microseconds of CPU (user + system) of one invocation, or undefined when it did not answer 200. */
async function timedRead(sub: string): Promise<number | undefined> {
  const ev = event(sub);
  const ctx = context();
  const before = process.cpuUsage();
  const res = await handler(ev, ctx);
  const used = process.cpuUsage(before);
  return res?.statusCode === 200 ? used.user + used.system : undefined;
}

async function measure(tier: CpuTier, subs: string[], invocations: number, prepare?: (i: number) => Promise<void>) {
  let total = 0;
  let ok = 0;
  for (let i = 0; i < invocations; i++) {
    await prepare?.(i);
    const us = await timedRead(subs[i % subs.length]!);
    if (us === undefined) continue;
    total += us;
    ok++;
  }
  return { tier, invocations: ok, failed: invocations - ok, cpuMicros: ok > 0 ? total / ok : NaN };
}

/** Runs `work` under the CPU profiler when the job asks for profiles (saved as <dir>/<tier>.cpuprofile). */
const profiled = <T>(dir: string | undefined, tier: CpuTier, work: () => Promise<T>): Promise<T> => (dir ? cpuProfiled(`${dir}/${tier}.cpuprofile`, work) : work());

async function run(job: CpuJob): Promise<CpuReport> {
  // As deployed: EMF to stdout (which the parent discards), the cost a Lambda pays to ship it.
  emitMetricsTo('stdout');
  // Warm: every hot page in this container's L1 (and L2), and the code paths compiled.
  for (const sub of job.hotSubs) await timedRead(sub);
  for (let i = 0; i < job.invocations; i++) await timedRead(job.hotSubs[i % job.hotSubs.length]!);
  const l1 = await profiled(job.profileDir, 'l1', () => measure('l1', job.hotSubs, job.invocations));
  const originalGet = L1Cache.prototype.get;
  L1Cache.prototype.get = () => undefined;
  const l2 = await profiled(job.profileDir, 'l2', () => measure('l2', job.hotSubs, job.invocations));
  L1Cache.prototype.get = originalGet;
  const cache = feedCache();
  const cold = await measure('cold', job.coldSubs, job.coldSubs.length, (i) => cache.invalidate(job.coldUserIds[i]!));
  return { tiers: [l1, l2, cold] };
}

process.once('message', (job: CpuJob) => {
  run(job).then(
    (report) => process.send!({ report }, () => process.exit(0)),
    (err: unknown) => process.send!({ error: (err as Error).stack ?? String(err) }, () => process.exit(1)),
  );
});
