// `npm run plan -- --dau 2e9 [...]`: the capacity and cost model (shared/domain/capacity-model.ts)
// at a given scale, from the per-operation costs the newest `npm run bench` measured (or --costs):
// request rates, DynamoDB capacity and partitions per table, Redis, Lambda concurrency, and the
// monthly bill of each fan-out policy beside the design card's table; writes an SVG chart.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DESIGN_COSTS, plan, POLICIES, POLICY_LABEL, type Plan, type Policy } from '../shared/domain/capacity-model.js';
import { DAYS_PER_MONTH, PRICES, PRICES_AS_OF, PRICES_REGION } from '../shared/domain/aws-prices.js';
import { OperationCostsSchema, type OperationCosts } from '../shared/domain/operation-costs.js';
import { ROOT } from '../shared/local/lambda.js';
import { renderPlanChart } from './plan-chart.js';
import { HELP, parsePlanArgs, UsageError } from './plan-flags.js';

export const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
/** Result files the bench writes: <ISO stamp>.json. */
const RESULT_FILE = /^\d{4}-\d{2}-\d{2}T[\d-]+Z\.json$/;

/** Costs are missing or malformed: the message names the file and the field. */
export class CostsError extends Error {}

/** The per-operation costs: from `file` (a bench results JSON, or a bare costs object), else from
 *  the newest bench result that has them. */
export function loadCosts(file?: string, dir = RESULTS_DIR): { costs: OperationCosts; from: string } {
  const rel = (f: string) => (path.relative(process.cwd(), path.resolve(f)).startsWith('..') ? path.resolve(f) : path.relative(process.cwd(), f) || f);
  let from = file;
  if (!from) {
    const found = existsSync(dir) ? readdirSync(dir).filter((f) => RESULT_FILE.test(f)).sort().reverse() : [];
    if (found.length === 0) throw new CostsError(`no bench results in ${rel(dir)}/ (run \`npm run bench\`, whose 'costs' phase measures them, or pass --costs <file>)`);
    from = found.map((f) => path.join(dir, f)).find((f) => 'costs' in (JSON.parse(readFileSync(f, 'utf8')) as object));
    if (!from) throw new CostsError(`${rel(path.join(dir, found[0]!))} has no \`costs\` field (measured by bench/phases/costs.ts since it was added): run \`npm run bench\` again, or pass --costs <file>`);
  }
  if (!existsSync(from)) throw new CostsError(`${rel(from)}: no such file`);
  const json = JSON.parse(readFileSync(from, 'utf8')) as Record<string, unknown>;
  const prefix = 'costs' in json ? 'costs.' : '';
  const parsed = OperationCostsSchema.safeParse(prefix ? json.costs : json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CostsError(`${rel(from)}: field ${prefix}${issue.path.join('.')} ${issue.code === 'invalid_type' && /undefined/.test(issue.message) ? 'is missing' : `is invalid (${issue.message})`}`);
  }
  return { costs: parsed.data, from: rel(from) };
}

export const money = (usd: number): string => {
  const a = Math.abs(usd);
  if (a >= 1e9) return `$${(usd / 1e9).toFixed(2)}B`;
  if (a >= 1e6) return `$${(usd / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `$${(usd / 1e3).toFixed(0)}K`;
  if (a >= 1) return `$${usd.toFixed(0)}`;
  return a === 0 ? '$0' : a < 1e-3 ? `$${usd.toExponential(2)}` : `$${usd.toPrecision(3)}`;
};
const num = (x: number): string => (Number.isInteger(x) && x < 1e4 ? String(x) : x >= 1e9 ? `${(x / 1e9).toFixed(2)}G` : x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e4 ? `${(x / 1e3).toFixed(0)}K` : x >= 100 ? x.toFixed(0) : x.toPrecision(3));

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function header(p: Plan, from: string, c: OperationCosts): string {
  const i = p.inputs;
  const pop = p.population;
  return [
    `feedscale capacity plan: ${num(i.dau)} daily users in ${i.regions} regions; ${i.readsPerUserDay} feed reads, ${i.postsPerUserDay} posts, ${i.followsPerUserDay} follows per user per day; cache hit rate ${(100 * i.hitRate).toFixed(0)}%; peak ${i.peakFactor.toFixed(2)}× average`,
    `per-operation costs: ${from} (measured ${c.measuredAt.slice(0, 10)} by ${c.source})`,
    `prices: ${PRICES_REGION} list prices as of ${PRICES_AS_OF}, not fetched: re-check them at ${PRICES.dynamodb.source}, ${PRICES.lambda.source}, ${PRICES.elasticache.source}, ${PRICES.apiGateway.source}`,
    `population (analytic, not sampled): follower counts ~ k^-${i.exponent} on [${pop.kmin.toFixed(1)}, ${num(i.maxFollowers)}] (mean ${i.meanFollowers}); ${num(pop.celebrities)} celebrities (≥ ${num(i.celebrityThreshold)}), ${num(pop.megas)} mega-celebrities (≥ ${num(i.megaThreshold)}); ${(100 * pop.edgesToHighTier).toFixed(1)}% of follow edges point at a celebrity or mega, ${(100 * pop.edgesToMega).toFixed(1)}% at a mega; post and read rates lognormal, σ ${i.rateSigma}`,
    `celebrity posts are pushed by the hybrid to ${(100 * (i.activeShare ?? c.celebrityActiveShare)).toFixed(0)}% of followers (recently active, --active-share; the bench's probes measured ${(100 * c.celebrityActiveShare).toFixed(0)}% on their small graph)`,
    `unit costs: a pushed feed entry ${money(p.units.pushEntry)}, a pull from Redis ${money(p.units.pullCached)}, from DynamoDB ${money(p.units.pullQuery)} → the rate-based policy pushes a pair when its cache-missing reads ÷ the author's posts > ${p.units.ratio.toFixed(1)}`,
  ].join('\n');
}

function ratesTable(p: Plan): string {
  const col = (f: (x: Plan['policies'][Policy]) => string) => POLICIES.map((k) => f(p.policies[k]));
  return table(['per second (average / peak)', ...POLICIES.map((k) => POLICY_LABEL[k])], [
    ['feed reads', ...col((x) => `${num(x.rates.avg.reads)} / ${num(x.rates.peak.reads)}`)],
    ['cache misses (DynamoDB reads)', ...col((x) => num(x.rates.avg.misses))],
    ['posts', ...col((x) => num(x.rates.avg.posts))],
    ['feed entries pushed', ...col((x) => `${num(x.rates.avg.pushes)} / ${num(x.rates.peak.pushes)}`)],
    ['authors pulled at read', ...col((x) => num(x.rates.avg.pulls))],
    ['DynamoDB read units', ...col((x) => `${num(x.rates.avg.rru)} / ${num(x.rates.peak.rru)}`)],
    ['DynamoDB write units', ...col((x) => `${num(x.rates.avg.wru)} / ${num(x.rates.peak.wru)}`)],
    ['Redis commands', ...col((x) => `${num(x.rates.avg.redisOps)} / ${num(x.rates.peak.redisOps)}`)],
  ]);
}

function capacityTables(p: Plan, policy: Policy): string {
  const x = p.policies[policy];
  const tables = table([`DynamoDB per region, peak (${POLICY_LABEL[policy]})`, 'RCU', 'WCU', 'storage GB', 'partitions', 'tables at 40K quota'], x.tables.map((t) => [t.entity, num(t.peakRcu), num(t.peakWcu), num(t.storageGB), num(t.partitions), String(t.tables)]));
  const lambda = table(['Lambda', 'invocations/s', 'GB-s/day', 'peak concurrency per region'], x.lambda.map((h) => [h.handler, num(h.invocationsPerDay / 86_400), num(h.gbSecondsPerDay), num(h.peakConcurrency)]));
  const r = x.redis;
  const redis = `Redis (${PRICES.elasticache.node}, one replica each): ${num(r.pagesCached)} feed pages cached for the hit rate, ${num(r.memoryGiB)} GiB → ${r.primariesPerRegion} primaries per region (memory or peak commands), ${r.nodes} nodes in all`;
  const shards = 'The product deploys FEED_SHARDS (32 by default) tables per entity over all regions; DynamoDB splits partitions by itself, the table quota is adjustable.';
  return [`${tables}\n${shards}`, lambda, redis].join('\n\n');
}

function costTable(p: Plan): string {
  const D = DESIGN_COSTS;
  const b = (k: Policy) => p.policies[k].bill;
  const modelled = (k: Policy) => b(k).total;
  const col = (f: (k: Policy) => number) => POLICIES.map((k) => money(f(k)));
  const rows: string[][] = [
    ['DynamoDB requests, on-demand', money(D.dynamodb), ...col((k) => b(k).dynamodbOnDemand)],
    ['  (provisioned, auto-scaled to 70%)', '', ...col((k) => b(k).dynamodbProvisioned)],
    ['DynamoDB storage', '', ...col((k) => b(k).dynamodbStorage)],
    ['Redis (ElastiCache Valkey nodes)', money(D.redis), ...col((k) => b(k).redis)],
    ['compute: Lambda', money(D.compute), ...col((k) => b(k).lambda)],
    ['API Gateway (HTTP API)', '', ...col((k) => b(k).apiGateway)],
    ['SQS + Step Functions', '', ...col((k) => b(k).messaging)],
    ['modelled total', money(D.dynamodb + D.redis + D.compute), ...col(modelled)],
    ['S3, CDN, transfer, ML (not modelled; design figures)', money(D.notModelled), ...POLICIES.map(() => money(D.notModelled))],
    ['total', money(D.total), ...col((k) => modelled(k) + D.notModelled)],
    ['per DAU per month', `$${D.perDau.toFixed(4)}`, ...POLICIES.map((k) => `$${((modelled(k) + D.notModelled) / p.inputs.dau).toFixed(4)}`)],
    ['modelled ÷ design modelled', '1.00×', ...POLICIES.map((k) => `${(modelled(k) / (D.dynamodb + D.redis + D.compute)).toFixed(2)}×`)],
  ];
  return table(['monthly cost', 'design card', ...POLICIES.map((k) => POLICY_LABEL[k])], rows);
}

function verdict(p: Plan): string {
  const D = DESIGN_COSTS;
  const t = (k: Policy) => p.policies[k].bill.total;
  const h = p.policies.hybrid;
  const best = p.sweep.reduce((a, s) => (s.total < a.total ? s : a), p.sweep[0] ?? { threshold: p.inputs.celebrityThreshold, total: t('hybrid') });
  const pct = (a: number, b: number) => `${((100 * (a - b)) / b).toFixed(1)}%`;
  const scaled = D.dau === p.inputs.dau ? '' : ` (the design's figures are for ${num(D.dau)} users; its total scales to ${money((D.total * p.inputs.dau) / D.dau)} here)`;
  return [
    `The hybrid lands at ${money(t('hybrid'))} a month for what the model covers, ${(t('hybrid') / (D.dynamodb + D.redis + D.compute)).toFixed(2)}× the design's $5.2M for DynamoDB, Redis and compute; with the design's unmodelled lines, ${money(t('hybrid') + D.notModelled)} against $20M (${((t('hybrid') + D.notModelled) / D.total).toFixed(2)}×)${scaled}.`,
    `Hybrid vs push-to-all: ${pct(t('hybrid'), t('push'))} total; feed entries written ${pct(h.volumes.pushes, p.policies.push.volumes.pushes)} (the design claims −99.9% for celebrity posts alone). Hybrid vs pull-at-read: ${pct(t('hybrid'), t('pull'))}.`,
    `Rate-based per pair vs the hybrid's fixed thresholds: ${pct(t('rate'), t('hybrid'))} total (${money(t('hybrid') - t('rate'))} a month); pushes and pulls alone ${money(h.fanoutPerDay * DAYS_PER_MONTH)} → ${money(p.policies.rate.fanoutPerDay * DAYS_PER_MONTH)} a month.`,
    `Cheapest celebrity threshold for the hybrid in the sweep: ${num(best.threshold)} followers (${money(best.total)}), against ${money(t('hybrid'))} at ${num(p.inputs.celebrityThreshold)}.`,
  ].join('\n');
}

export function renderPlan(p: Plan, from: string, c: OperationCosts): string {
  return [header(p, from, c), ratesTable(p), capacityTables(p, 'hybrid'), costTable(p), verdict(p)].join('\n\n');
}

function main(argv: string[]): number {
  const args = parsePlanArgs(argv);
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  const { costs, from } = loadCosts(args.costs);
  const p = plan(args.inputs, costs);
  console.log(renderPlan(p, from, costs));
  const svg = path.resolve(args.svg ?? path.join(RESULTS_DIR, 'plan.svg'));
  mkdirSync(path.dirname(svg), { recursive: true });
  writeFileSync(svg, renderPlanChart(p));
  if (args.json) writeFileSync(args.json, `${JSON.stringify(p, null, 2)}\n`);
  console.log(`\nchart: ${path.relative(process.cwd(), svg)}${args.json ? `  plan: ${args.json}` : ''}`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.exit(main(process.argv.slice(2)));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`plan: ${err.message} (npm run plan -- --help lists the flags)`);
      process.exit(2);
    }
    if (err instanceof CostsError) {
      console.error(`plan: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
}
