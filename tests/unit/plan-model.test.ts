// The capacity model's arithmetic on small inputs checked by hand: the follower power law, the
// cache's head of readers, unit costs, partitions, API Gateway tiers, the volumes each policy
// produces, and the policies' order on a toy population.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiGatewayDollars, cachedPagesForHitRate, plan, tableCapacity, unitCosts, volumes, type PlanInputs } from '../../shared/domain/capacity-model.js';
import { lognormalPoints, normalQuantile, population, powerLawMean, solveKmin, tailShares, type Population } from '../../shared/domain/follower-population.js';
import { OperationCostsSchema, type OperationCost, type OperationCosts } from '../../shared/domain/operation-costs.js';
import { FEED_PULL_AUTHORS } from '../../shared/domain/limits.js';
import { ROOT } from '../../shared/local/lambda.js';

const fixture = (): OperationCosts => OperationCostsSchema.parse(JSON.parse(readFileSync(path.join(ROOT, 'tests/support/plan-costs.fixture.json'), 'utf8')));
const bare: OperationCost = { rru: 0, wru: 0, requests: 0, redisCommands: 0, tables: {}, lambda: [], samples: 1 };

const INPUTS: PlanInputs = {
  dau: 100,
  readsPerUserDay: 10,
  postsPerUserDay: 1,
  followsPerUserDay: 0,
  meanFollowers: 505,
  maxFollowers: 1e6,
  exponent: 2.5,
  celebrityThreshold: 100,
  megaThreshold: 1e6,
  regions: 1,
  hitRate: 0,
  peakFactor: 1,
  rateSigma: 0,
  readZipf: 1,
};

/** Two kinds of author, half each: 10 followers and 1,000 followers; everyone posts once and
 *  reads ten times a day (or at the given rates). */
const toy = (postRates = [1], readRates = [10]): Population => ({
  kmin: 10,
  kmax: 1000,
  bins: [
    { share: 0.5, k: 10, lo: 10, hi: 11 },
    { share: 0.5, k: 1000, lo: 999, hi: 1000 },
  ],
  postRates,
  readRates,
});

describe('follower population', () => {
  it('gives a power law of exponent 3 a mean of twice its minimum', () => {
    expect(powerLawMean(3, 10, 1e12)).toBeCloseTo(20, 6);
    expect(solveKmin(3, 100, 1e12)).toBeCloseTo(50, 4);
  });

  it('puts 1% of users and 10% of edges above ten times the minimum at exponent 3', () => {
    const s = tailShares(3, 1, 1e12, 10);
    expect(s.users).toBeCloseTo(0.01, 6);
    expect(s.edges).toBeCloseTo(0.1, 6);
  });

  it('bins the whole population with the requested mean and a bin edge on each threshold', () => {
    const pop = population({ meanFollowers: 200, maxFollowers: 6e8, exponent: 2.276, postsPerUserDay: 0.24, readsPerUserDay: 300, rateSigma: 1, edges: [100_000] });
    expect(pop.bins.reduce((s, b) => s + b.share, 0)).toBeCloseTo(1, 9);
    expect(pop.bins.reduce((s, b) => s + b.share * b.k, 0)).toBeCloseTo(200, 3);
    expect(pop.bins.some((b) => b.hi === 100_000)).toBe(true);
  });

  it('takes rates at quantiles whose mean is the given mean', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    const pts = lognormalPoints(0.24, 1);
    expect(pts.reduce((s, x) => s + x, 0) / pts.length).toBeCloseTo(0.24, 12);
    expect(lognormalPoints(5, 0)).toEqual([5]);
  });
});

describe('capacity arithmetic', () => {
  it('caches the pages of a share of users equal to the hit rate when reads are uniform', () => {
    expect(cachedPagesForHitRate(1000, 0.5, 0)).toBeCloseTo(500.5, 6);
    expect(cachedPagesForHitRate(1000, 1, 1)).toBeCloseTo(1000, 6);
    expect(cachedPagesForHitRate(1000, 0, 1)).toBe(0);
  });

  it('sizes partitions by throughput (3,000 RCU, 1,000 WCU each) or by 10 GB, whichever needs more', () => {
    const day = 86_400;
    const byThroughput = tableCapacity('feeds', 6000 * day, 1000 * day, 5, { ...INPUTS, regions: 1, peakFactor: 1 });
    expect(byThroughput).toMatchObject({ peakRcu: 6000, peakWcu: 1000, partitions: 3, tables: 1 });
    const bySize = tableCapacity('posts', 0, 0, 50, { ...INPUTS, regions: 1, peakFactor: 1 });
    expect(bySize.partitions).toBe(5);
    const split = tableCapacity('feeds', 0, 100_000 * day, 0, { ...INPUTS, regions: 2, peakFactor: 2 });
    expect(split).toMatchObject({ peakWcu: 100_000, partitions: 100, tables: 3 });
  });

  it('bills HTTP API requests at $1.00 per million up to 300 million a region, $0.90 beyond', () => {
    expect(apiGatewayDollars(400e6, 1)).toBeCloseTo(390, 9);
    expect(apiGatewayDollars(400e6, 2)).toBeCloseTo(400, 9);
  });

  it('prices a pushed entry at its write units, its share of the worker and queue, and 30 days of storage', () => {
    const c = fixture();
    const onlyWrites = { ...c, ops: { ...c.ops, fanOutPerFollower: { ...bare, wru: 1 }, authorPull: { ...bare, rru: 1 } } };
    const u = unitCosts(onlyWrites);
    const storage = (200 / 1e9) * 0.25 * (30 / (730 / 24));
    const sqs = (3 / 500) * 0.4e-6;
    expect(u.pushEntry).toBeCloseTo(0.625e-6 + sqs + storage, 15);
    expect(u.pullCached).toBeCloseTo(0.125e-6, 15);
    expect(u.ratio).toBeCloseTo(u.pushEntry / u.pullCached, 12);
  });
});

describe('policy volumes', () => {
  const u = { pushEntry: 1, pullQuery: 1, pullCached: 1, ratio: 1 };

  it('pushes every post to every follower under push-to-all and pulls every author under pull-at-read', () => {
    expect(volumes(INPUTS, toy(), 'push', u, 0.5)).toMatchObject({ pushes: 100 * (0.5 * 10 + 0.5 * 1000), pulls: 0, followerPages: 100 * (0.5 * 1 + 0.5 * 1) });
    expect(volumes(INPUTS, toy(), 'pull', u, 0.5)).toMatchObject({ pushes: 0, pulls: 50_500 * 10, followerPages: 0 });
  });

  it('pushes celebrities to their active share only and pulls them, at most FEED_PULL_AUTHORS a read, under the hybrid', () => {
    const v = volumes(INPUTS, toy(), 'hybrid', u, 0.5);
    expect(v.pushes).toBeCloseTo(100 * 0.5 * 10 + 100 * 0.5 * 1000 * 0.5, 9);
    // Each reader follows 500 celebrities on average: 500 pulls a read, capped at 100.
    expect(v.pulls).toBeCloseTo(Math.min(100 * 0.5 * 1000 * 10, 100 * 10 * FEED_PULL_AUTHORS), 9);
    expect(volumes(INPUTS, toy(), 'hybrid', u, 0.5).pulls).toBeLessThan(100 * 0.5 * 1000 * 10);
    expect(v.celebrityPosts).toBeCloseTo(50, 9);
  });

  it('pulls every celebrity a reader follows when they are fewer than the cap', () => {
    const few = toy();
    few.bins[1] = { share: 0.5, k: 50, lo: 49, hi: 50 };
    const v = volumes({ ...INPUTS, celebrityThreshold: 40 }, few, 'hybrid', u, 0.5);
    expect(v.pulls).toBeCloseTo(100 * 0.5 * 50 * 10, 9);
  });

  it('leaves cache hits out of the pulls', () => {
    expect(volumes({ ...INPUTS, hitRate: 0.9 }, toy(), 'pull', u, 0.5).pulls).toBeCloseTo(50_500 * 10 * 0.1, 6);
  });

  it('pushes a pair under the rate-based policy exactly when its reads ÷ posts exceed the cost ratio', () => {
    // Readers at 1 and 100 reads a day; a push costs 10 pulls: only the heavy readers are pushed.
    const v = volumes(INPUTS, toy([1], [1, 100]), 'rate', { pushEntry: 10, pullQuery: 1, pullCached: 1, ratio: 10 }, 0.5);
    expect(v.pushes).toBeCloseTo(50_500 / 2, 6);
    expect(v.pulls).toBeCloseTo((50_500 / 2) * 1, 6);
  });

  it('orders the toy population rate-based ≤ every other policy in push-and-pull dollars', () => {
    const pop = toy([0.05, 1, 20], [1, 30, 300]);
    const cost = { pushEntry: 5, pullQuery: 1, pullCached: 1, ratio: 5 };
    const dollars = (p: 'hybrid' | 'push' | 'pull' | 'rate') => {
      const v = volumes(INPUTS, pop, p, cost, 0.5);
      return v.pushes * cost.pushEntry + v.pulls * cost.pullCached;
    };
    const rate = dollars('rate');
    expect(rate).toBeLessThan(dollars('hybrid'));
    expect(rate).toBeLessThan(dollars('push'));
    expect(rate).toBeLessThan(dollars('pull'));
    // Reads outnumber posts 16:1 here and a push costs 5 pulls: pushing everything beats pulling everything.
    expect(dollars('push')).toBeLessThan(dollars('pull'));
  });
});

describe('plan', () => {
  it('bills the fixture at 2B users with the rate-based policy no dearer than the hybrid, and a sweep over thresholds', () => {
    const p = plan({ ...INPUTS, dau: 2e9, readsPerUserDay: 302.4, postsPerUserDay: 0.24, followsPerUserDay: 0.1, meanFollowers: 200, maxFollowers: 6e8, exponent: 2.276, celebrityThreshold: 1e5, megaThreshold: 1e7, regions: 6, hitRate: 0.85, peakFactor: 10 / 7, rateSigma: 1 }, fixture());
    expect(p.policies.rate.fanoutPerDay).toBeLessThanOrEqual(p.policies.hybrid.fanoutPerDay);
    expect(p.policies.rate.fanoutPerDay).toBeLessThanOrEqual(p.policies.push.fanoutPerDay);
    expect(p.policies.pull.volumes.pushes).toBe(0);
    expect(p.policies.hybrid.rates.avg.reads).toBeCloseTo(7e6, 0);
    expect(p.sweep.length).toBeGreaterThan(10);
    expect(p.policies.hybrid.bill.total).toBeCloseTo(Object.entries(p.policies.hybrid.bill).filter(([k]) => !['total', 'perDau', 'dynamodbProvisioned'].includes(k)).reduce((s, [, v]) => s + v, 0), 3);
  });
});
