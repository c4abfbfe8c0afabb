// Seeded randomness for the workload: one generator (xoshiro128**, seeded through splitmix32) and
// the distributions the benchmark draws from — a power law for follower counts, Zipf weights for
// activity, and an alias table for O(1) weighted draws. Same seed, same graph, same request mix.

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** xoshiro128**: small state, passes BigCrush, and plain 32-bit arithmetic in JavaScript. */
export function createRng(seed: number): Rng {
  const sm = splitmix32(seed);
  let a = sm(), b = sm(), c = sm(), d = sm();
  const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;
  const nextU32 = () => {
    const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c = (c ^ a) >>> 0;
    d = (d ^ b) >>> 0;
    b = (b ^ c) >>> 0;
    a = (a ^ d) >>> 0;
    c = (c ^ t) >>> 0;
    d = rotl(d, 11);
    return result;
  };
  const next = () => nextU32() / 4294967296;
  return { next, int: (n) => Math.floor(next() * n) };
}

/** Derives an independent generator for one purpose, so adding draws to one stream does not
 *  shift every other (the graph stays the same when the request mix changes). */
export function forkRng(seed: number, purpose: string): Rng {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < purpose.length; i++) h = Math.imul(h ^ purpose.charCodeAt(i), 0x01000193);
  return createRng(h >>> 0);
}

/**
 * A follower count from a power law P(k) ∝ k^-exponent for k ≥ kMin (Kwak et al., WWW 2010,
 * measured about 2.276 for Twitter), by inverting the continuous Pareto CDF and flooring; capped
 * at kMax (nobody has more followers than there are other users).
 */
export function powerLawDegree(rng: Rng, exponent: number, kMin: number, kMax: number): number {
  const u = 1 - rng.next(); // (0, 1]
  const k = Math.floor(kMin * u ** (-1 / (exponent - 1)));
  return Math.min(kMax, Math.max(kMin, k));
}

/** Weights 1/rank^s for ranks 1..n (Zipf's law with exponent s). */
export function zipfWeights(n: number, s: number): Float64Array {
  const w = new Float64Array(n);
  for (let r = 0; r < n; r++) w[r] = 1 / (r + 1) ** s;
  return w;
}

/** Fisher–Yates, in place. */
export function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Vose's alias method: O(n) to build, O(1) per weighted draw. */
export class AliasTable {
  private readonly prob: Float64Array;
  private readonly alias: Uint32Array;
  readonly size: number;

  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    if (n === 0) throw new Error('alias table needs at least one weight');
    this.size = n;
    this.prob = new Float64Array(n);
    this.alias = new Uint32Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) total += weights[i]!;
    const scaled = new Float64Array(n);
    const small: number[] = [];
    const large: number[] = [];
    for (let i = 0; i < n; i++) {
      scaled[i] = (weights[i]! * n) / total;
      (scaled[i]! < 1 ? small : large).push(i);
    }
    while (small.length > 0 && large.length > 0) {
      const s = small.pop()!;
      const l = large.pop()!;
      this.prob[s] = scaled[s]!;
      this.alias[s] = l;
      scaled[l] = scaled[l]! + scaled[s]! - 1;
      (scaled[l]! < 1 ? small : large).push(l);
    }
    for (const i of [...small, ...large]) this.prob[i] = 1;
  }

  sample(rng: Rng): number {
    const i = rng.int(this.size);
    return rng.next() < this.prob[i]! ? i : this.alias[i]!;
  }
}
