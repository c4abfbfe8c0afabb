// The population the capacity model bills, described analytically (no sampling): follower counts
// from a continuous power law k^-α truncated to [kmin, kmax] (kmin solved so that the mean is the
// mean number of accounts a user follows), integrated over log-spaced bins; users' post and feed-read
// rates lognormal with a given mean and spread, taken at equal-probability quantiles.

export interface FollowerBin {
  /** Share of users whose follower count lies in the bin. */
  share: number;
  /** Mean follower count of those users. */
  k: number;
  /** Bin edges (follower counts). */
  lo: number;
  hi: number;
}

export interface Population {
  kmin: number;
  kmax: number;
  bins: FollowerBin[];
  /** Posts per user per day at equal-probability quantiles (each one 1/length of users). */
  postRates: number[];
  /** Feed reads per user per day, likewise. */
  readRates: number[];
}

export interface PopulationInputs {
  meanFollowers: number;
  maxFollowers: number;
  exponent: number;
  postsPerUserDay: number;
  readsPerUserDay: number;
  /** σ of log(rate): 0 gives everyone the mean rate. */
  rateSigma: number;
  /** Follower counts that must fall on a bin edge (the tier thresholds), so tiers are exact. */
  edges?: number[];
}

/** Log-spaced bins over [kmin, kmax]: enough that a bin's mean stands for it to well under 1%. */
const BINS = 240;
/** Quantile points of each rate distribution. */
const RATE_POINTS = 24;
const BISECTION_STEPS = 200;

/** ∫_a^b k^p dk. */
export function powerIntegral(p: number, a: number, b: number): number {
  return Math.abs(p + 1) < 1e-12 ? Math.log(b / a) : (b ** (p + 1) - a ** (p + 1)) / (p + 1);
}

/** Mean of k^-α on [kmin, kmax]. */
export function powerLawMean(alpha: number, kmin: number, kmax: number): number {
  return powerIntegral(1 - alpha, kmin, kmax) / powerIntegral(-alpha, kmin, kmax);
}

/** The kmin that gives the power law on [kmin, kmax] this mean (the mean rises with kmin). */
export function solveKmin(alpha: number, mean: number, kmax: number): number {
  if (!(mean < kmax)) throw new RangeError('the mean follower count must be below the largest account');
  let lo = 1e-9;
  let hi = mean;
  for (let i = 0; i < BISECTION_STEPS; i++) {
    const mid = Math.sqrt(lo * hi);
    if (powerLawMean(alpha, mid, kmax) < mean) lo = mid;
    else hi = mid;
  }
  return Math.sqrt(lo * hi);
}

/** Share of users with at least x followers, and the share of all follow edges that point at them. */
export function tailShares(alpha: number, kmin: number, kmax: number, x: number): { users: number; edges: number } {
  if (x <= kmin) return { users: 1, edges: 1 };
  if (x >= kmax) return { users: 0, edges: 0 };
  return {
    users: powerIntegral(-alpha, x, kmax) / powerIntegral(-alpha, kmin, kmax),
    edges: powerIntegral(1 - alpha, x, kmax) / powerIntegral(1 - alpha, kmin, kmax),
  };
}

/** Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) => (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/** A lognormal rate at equal-probability quantiles, scaled so their mean is exactly `mean`. */
export function lognormalPoints(mean: number, sigma: number, points = RATE_POINTS): number[] {
  if (sigma === 0) return [mean];
  const raw = Array.from({ length: points }, (_, i) => Math.exp(sigma * normalQuantile((i + 0.5) / points)));
  const m = raw.reduce((s, x) => s + x, 0) / points;
  return raw.map((x) => (x * mean) / m);
}

export function population(inp: PopulationInputs): Population {
  const { exponent: alpha, maxFollowers: kmax } = inp;
  const kmin = solveKmin(alpha, inp.meanFollowers, kmax);
  const cuts = new Set<number>();
  for (let i = 0; i <= BINS; i++) cuts.add(kmin * (kmax / kmin) ** (i / BINS));
  for (const e of inp.edges ?? []) if (e > kmin && e < kmax) cuts.add(e);
  const sorted = [...cuts].sort((x, y) => x - y);
  const total = powerIntegral(-alpha, kmin, kmax);
  const bins: FollowerBin[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const lo = sorted[i]!;
    const hi = sorted[i + 1]!;
    const mass = powerIntegral(-alpha, lo, hi);
    bins.push({ share: mass / total, k: powerIntegral(1 - alpha, lo, hi) / mass, lo, hi });
  }
  return { kmin, kmax, bins, postRates: lognormalPoints(inp.postsPerUserDay, inp.rateSigma), readRates: lognormalPoints(inp.readsPerUserDay, inp.rateSigma) };
}
