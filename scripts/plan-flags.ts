// The flags of `npm run plan`, their defaults (the design card's figures where it gives them) and
// their ranges: a flag out of range or unknown is a UsageError naming it, which the CLI prints on
// one line before exiting 2.
import type { ParseArgsConfig } from 'node:util';
import { readFlags, UsageError } from './cli-flags.js';
import type { PlanInputs } from '../shared/domain/capacity-model.js';

export { UsageError };

interface NumberFlag {
  key: keyof PlanInputs;
  def: number;
  min: number;
  max: number;
  integer?: boolean;
  help: string;
}

/** Defaults: the design card's "Scale Requirements" (7M reads/s, peak 10M, at 2B users; 15M posts
 *  a day on each of 32 shards; a 600M-follower celebrity; thresholds 100K and 10M) where it states
 *  them, labelled assumptions where it does not. */
export const NUMBER_FLAGS: Record<string, NumberFlag> = {
  dau: { key: 'dau', def: 2e9, min: 1, max: 1e11, help: 'daily active users (design: 2B)' },
  'reads-per-user': { key: 'readsPerUserDay', def: 302.4, min: 0, max: 1e5, help: 'feed reads per user per day (design: 7M/s × 86,400 s ÷ 2B = 302.4)' },
  'posts-per-user': { key: 'postsPerUserDay', def: 0.24, min: 0, max: 1e4, help: 'posts per user per day (design: 32 shards × 15M posts/day ÷ 2B = 0.24)' },
  'follows-per-user': { key: 'followsPerUserDay', def: 0.1, min: 0, max: 1e4, help: 'follows per user per day (assumption)' },
  'mean-followers': { key: 'meanFollowers', def: 200, min: 1, max: 1e6, help: 'mean accounts a user follows (assumption)' },
  'max-followers': { key: 'maxFollowers', def: 6e8, min: 10, max: 1e11, help: 'followers of the largest account (design: 600M)' },
  exponent: { key: 'exponent', def: 2.276, min: 2.01, max: 5, help: 'power-law exponent of follower counts (Kwak et al. 2010: 2.276)' },
  'celebrity-threshold': { key: 'celebrityThreshold', def: 100_000, min: 1, max: 1e12, integer: true, help: 'followers from which an author is a celebrity (product default)' },
  'mega-threshold': { key: 'megaThreshold', def: 10_000_000, min: 1, max: 1e12, integer: true, help: 'followers from which an author is a mega-celebrity (product default)' },
  regions: { key: 'regions', def: 6, min: 1, max: 64, integer: true, help: 'regions the users are spread over (design: 6)' },
  'hit-rate': { key: 'hitRate', def: 0.85, min: 0, max: 0.9999, help: 'share of feed reads served from cache (design target: 85%)' },
  'peak-factor': { key: 'peakFactor', def: 10 / 7, min: 1, max: 100, help: 'peak ÷ average request rate (design: 10M ÷ 7M)' },
  'rate-sigma': { key: 'rateSigma', def: 1, min: 0, max: 4, help: 'σ of log(rate) of users\u2019 post and read rates, lognormal (assumption)' },
  'read-zipf': { key: 'readZipf', def: 1, min: 0, max: 3, help: 'Zipf exponent of reads over users, for the cache\u2019s memory (bench default)' },
  'active-share': { key: 'activeShare', def: 0.25, min: 0, max: 1, help: 'share of a celebrity\u2019s followers recently active, which the hybrid pushes to (the full bench run\u2019s probes: ~25%)' },
};

const FLAGS = {
  ...Object.fromEntries(Object.keys(NUMBER_FLAGS).map((k) => [k, { type: 'string' }])),
  costs: { type: 'string' },
  svg: { type: 'string' },
  json: { type: 'string' },
  help: { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];

export interface PlanArgs {
  inputs: PlanInputs;
  costs?: string;
  svg?: string;
  json?: string;
  help: boolean;
}

export const HELP = [
  'usage: npm run plan [-- options]',
  ...Object.entries(NUMBER_FLAGS).map(([k, f]) => `  --${k} N`.padEnd(28) + `${f.help}; default ${+f.def.toPrecision(4)}, ${f.min}..${f.max}`),
  '  --costs FILE'.padEnd(28) + 'per-operation costs: a bench results JSON (its `costs`) or a bare costs file; default: the newest bench/results/*.json with `costs`',
  '  --svg FILE'.padEnd(28) + 'chart (default bench/results/plan.svg)',
  '  --json FILE'.padEnd(28) + 'also write the whole plan as JSON',
].join('\n');


export function parsePlanArgs(argv: string[]): PlanArgs {
  const flags = readFlags(argv, FLAGS) as Record<string, string | boolean | undefined>;
  const inputs = {} as Record<keyof PlanInputs, number>;
  for (const [name, f] of Object.entries(NUMBER_FLAGS)) {
    const raw = flags[name];
    if (raw === undefined) {
      inputs[f.key] = f.def;
      continue;
    }
    const n = Number(raw);
    if (raw === '' || !Number.isFinite(n) || n < f.min || n > f.max || (f.integer && !Number.isInteger(n))) {
      throw new UsageError(`--${name} must be ${f.integer ? 'an integer' : 'a number'} in ${f.min}..${f.max} (got ${String(raw)})`);
    }
    inputs[f.key] = n;
  }
  if (inputs.megaThreshold < inputs.celebrityThreshold) throw new UsageError('--mega-threshold must be at least --celebrity-threshold');
  if (inputs.meanFollowers >= inputs.maxFollowers) throw new UsageError('--mean-followers must be below --max-followers');
  const str = (k: string) => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
  return { inputs: inputs as PlanInputs, costs: str('costs'), svg: str('svg'), json: str('json'), help: flags.help === true };
}
