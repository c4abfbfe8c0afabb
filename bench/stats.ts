// Small statistics for the report: percentiles, medians of repeated measurements, and a bounded
// closed-loop runner for in-process micro-benchmarks (raw Redis, raw BatchWriteItem).

export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Median of repeated measurements (NaN entries — failed runs — are left out). */
export function median(values: readonly number[]): number {
  const ok = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (ok.length === 0) return NaN;
  const mid = Math.floor(ok.length / 2);
  return ok.length % 2 ? ok[mid]! : (ok[mid - 1]! + ok[mid]!) / 2;
}

export interface LoopResult {
  ops: number;
  errors: number;
  elapsedMs: number;
  opsPerSec: number;
  p50: number;
  p95: number;
  p99: number;
}

/**
 * Runs `op` from `concurrency` workers until `durationMs` passes or `maxOps` operations are done,
 * and reports throughput and latency. `op(i)` receives a running operation number.
 */
export async function closedLoop(op: (i: number) => Promise<unknown>, opts: { concurrency: number; durationMs: number; maxOps?: number }): Promise<LoopResult> {
  const latencies: number[] = [];
  let issued = 0;
  let errors = 0;
  const maxOps = opts.maxOps ?? Number.MAX_SAFE_INTEGER;
  const start = performance.now();
  const deadline = start + opts.durationMs;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (performance.now() < deadline && issued < maxOps) {
        const i = issued++;
        const t = performance.now();
        try {
          await op(i);
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsedMs = performance.now() - start;
  return {
    ops: latencies.length,
    errors,
    elapsedMs,
    opsPerSec: latencies.length / (elapsedMs / 1000),
    p50: percentile(latencies, 0.5),
    p95: percentile(latencies, 0.95),
    p99: percentile(latencies, 0.99),
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it returns true or `timeoutMs` passes; → whether it did. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return check();
}

/** Microseconds of work per request a server can add and still serve `share` of a bare server's
 *  requests/s, read off runs of the bare server made to do `workMicros` of work first (linear
 *  between the two runs on either side of the share); undefined when every run stays above it. */
export function workBudget(runs: readonly { workMicros: number; rps: number }[], share: number): number | undefined {
  const sorted = [...runs].sort((a, b) => a.workMicros - b.workMicros);
  const bare = sorted[0];
  if (!bare || bare.workMicros !== 0) throw new Error('workBudget: no run without work (the bare server)');
  const line = share * bare.rps;
  for (let i = 0; i < sorted.length; i++) {
    const r = sorted[i]!;
    if (r.rps > line) continue;
    if (i === 0) return 0;
    const p = sorted[i - 1]!;
    return p.workMicros + ((r.workMicros - p.workMicros) * (p.rps - line)) / (p.rps - r.rps);
  }
  return undefined;
}
