// The benchmark, in order. Boot first (DynamoDB Local, the seeded graph, the stack), then every
// measurement against its baseline: read-only phases first and the heaviest background writes
// last, so no phase measures the leftovers of another. The teardown runs even when a boot phase
// failed; cold init comes after it, on a quiet machine. Adding a phase is adding one entry.
import type { Phase } from '../context.js';
import { strategies, writerVsRaw } from './baselines.js';
import { coldPage, day, dayOn, dayRan, dayUncached } from './day.js';
import { bootDynamo, coldInit, haveBundles, seed, startLoad, startLocalStack, teardown } from './boot.js';
import { l2VsRedis, readSweep, warmUp } from './reads.js';
import { tiers } from './tiers.js';
import { cacheWarming, digests, workflowsOn } from './workflows.js';
import { fanOut, postToVisible, zipfMix } from './writes.js';

export const PHASES: readonly Phase[] = [
  { name: 'boot', run: bootDynamo, critical: true },
  { name: 'seed', run: seed, critical: true },
  { name: 'stack', run: startLocalStack, critical: true },
  { name: 'load generator', run: startLoad, critical: true },
  { name: 'warm-up', run: warmUp },
  { name: 'read sweep', run: readSweep },
  { name: 'strategies', run: strategies },
  { name: 'l2 vs redis', run: l2VsRedis },
  { name: 'writer vs raw', run: writerVsRaw },
  { name: 'zipf mix', run: zipfMix },
  { name: 'post-to-visible', run: postToVisible },
  { name: 'fan-out', run: fanOut },
  { name: 'tiers', run: tiers },
  { name: 'edges', run: async (ctx) => (await import('./edges.js')).edges(ctx) },
  { name: 'day', run: day, when: dayOn },
  { name: 'day uncached', run: dayUncached, when: dayRan },
  { name: 'cold page', run: coldPage, when: dayOn },
  { name: 'cache warming', run: cacheWarming, when: workflowsOn },
  // Before the digests: their workflow leaves ~15,000 notification writes draining behind it,
  // which the costs' meter had to wait out (15 s, and 19–42 s for the whole section).
  { name: 'costs', run: async (ctx) => (await import('./costs.js')).costs(ctx) },
  { name: 'digests', run: digests, when: workflowsOn },
  { name: 'teardown', run: teardown, always: true },
  { name: 'cold init', run: coldInit, when: haveBundles },
  // Stacks of their own, once the single-region one is gone and cold init is timed.
  { name: 'reshard', run: async (ctx) => (await import('./reshard.js')).reshardSection(ctx), when: (ctx) => ctx.o.reshard },
  { name: 'regions', run: async (ctx) => (await import('./regions.js')).regions(ctx), when: (ctx) => ctx.o.regions },
];
