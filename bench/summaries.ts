// Reduces repeated runs to the figures the results keep: feed-cache counters before and after a
// run, the median summary of load runs per read path, and of in-process closed loops.
import { cacheStats } from '../shared/cache/feed-cache.js';
import type { CacheDelta, LoopSummary, ReadPath, RunMeasure, RunSummary } from './results.js';
import { median, type LoopResult } from './stats.js';

/** The feed cache's counters now (undefined when the cache is not wired). */
export function cacheSnapshot(): CacheDelta | undefined {
  try {
    const c = cacheStats();
    return {
      lookups: c.l1.hits + c.l1.misses,
      l1Hits: c.l1.hits,
      l1Misses: c.l1.misses,
      l2Hits: c.l2.hits,
      l2Misses: c.l2.misses,
      generated: c.generated,
      coalesced: c.coalesced,
      l2Errors: c.l2Tier.errors,
      l2ShortCircuited: c.l2Tier.shortCircuited,
    };
  } catch {
    return undefined;
  }
}

export function cacheDelta(a: CacheDelta, b: CacheDelta): CacheDelta {
  return {
    lookups: b.lookups - a.lookups,
    l1Hits: b.l1Hits - a.l1Hits,
    l1Misses: b.l1Misses - a.l1Misses,
    l2Hits: b.l2Hits - a.l2Hits,
    l2Misses: b.l2Misses - a.l2Misses,
    generated: b.generated - a.generated,
    coalesced: b.coalesced - a.coalesced,
    l2Errors: b.l2Errors - a.l2Errors,
    l2ShortCircuited: b.l2ShortCircuited - a.l2ShortCircuited,
  };
}

export function summarize(runs: RunMeasure[], p: ReadPath): RunSummary {
  const purity = runs.map((m) => {
    const cd = m.cache;
    if (!cd || cd.lookups === 0) return NaN;
    if (p === 'l1') return cd.l1Hits / cd.lookups;
    if (p === 'l2') return cd.l2Hits / cd.lookups;
    if (p === 'cold') return cd.generated / cd.lookups;
    return NaN;
  });
  return {
    p50: median(runs.map((m) => m.latency.p50)),
    p95: median(runs.map((m) => m.latency.p95)),
    p99: median(runs.map((m) => m.latency.p99)),
    rps: median(runs.map((m) => m.rps)),
    dbReads: median(runs.map((m) => m.dbReads)),
    ...(p !== 'bare' && purity.some(Number.isFinite) && { purity: median(purity) }),
    ...(runs.some((m) => m.cache) && {
      l2Errors: runs.reduce((n, m) => n + (m.cache?.l2Errors ?? 0), 0),
      l2ShortCircuited: runs.reduce((n, m) => n + (m.cache?.l2ShortCircuited ?? 0), 0),
    }),
    errors: runs.reduce((n, m) => n + m.errors + m.non2xx + m.timeouts, 0),
    runs,
  };
}

export function loopSummary(runs: LoopResult[]): LoopSummary {
  return {
    opsPerSec: median(runs.map((l) => l.opsPerSec)),
    p50: median(runs.map((l) => l.p50)),
    p95: median(runs.map((l) => l.p95)),
    p99: median(runs.map((l) => l.p99)),
    runs: runs.map(({ opsPerSec, p50, p95, p99 }) => ({ opsPerSec, p50, p95, p99 })),
  };
}
