// `npx tsx bench/profile-read.ts [--out DIR]`: where a feed read spends its CPU. Boots a fresh
// local stack, makes a reader with a page in the cache, and writes V8 CPU profiles:
//   handler-l1.cpuprofile, handler-l2.cpuprofile — the handler invoked directly, one invocation at
//     a time, as Lambda runs it (bench/invoke-cpu-child.ts);
//   gateway-l1.cpuprofile — the stack's process while autocannon (its own process) reads L1 hits
//     through the local gateway at 32 connections.
// and prints each profile's heaviest functions by self time. Before the profiles, without the
// profiler, it sets an L1 hit beside what bounds it (--rounds runs each, alternated, c=32): the bare
// server returning the same page, and GET /v1/health, an operation that does nothing through the
// same gateway, middy and Powertools — what the API layer costs before the feed read adds its own;
// and the bare server made to spin 15–90 µs per request, which prints the work per request a server
// can do beyond the bare one at 50% of its requests/s (the L1 target's budget on this machine).
// A profiling aid, not a benchmark.
import { mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuProfiled, heaviest } from './cpu-profile.js';
import { httpJson } from './http.js';
import { invocationCpu, tokenSubject } from './invoke-cpu.js';
import { LoadGenerator } from './load.js';
import type { RunSpec } from './load-protocol.js';
import { bareServerLike } from './baselines.js';
import { median, workBudget } from './stats.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
const { values } = parseArgs({ options: { out: { type: 'string' }, readers: { type: 'string' }, rounds: { type: 'string' } } });
const outDir = path.resolve(values.out ?? '.local/profiles');
const READERS = Number(values.readers ?? 50);
/** Runs of each of bare, health and L1 hit, alternated. */
const ROUNDS = Number(values.rounds ?? 3);
/** CPU the bare server spins per request in the runs that find the L1 target's work budget. */
const WORK_MICROS = [15, 30, 45, 60, 90];
mkdirSync(outDir, { recursive: true });

const { startStack } = await import('../shared/local/stack.js');
const stack = await startStack({ fresh: true, port: 0, env: { FEED_TABLE_PREFIX: 'prof-', FEED_RATE_READ_PER_MINUTE: '100000000', FEED_RATE_READ_BURST: '100000000', FEED_RATE_POST_PER_MINUTE: '100000000', FEED_RATE_POST_BURST: '100000000' } });
try {
  const tokens: string[] = [];
  const userIds: string[] = [];
  for (let i = 0; i < READERS + 1; i++) {
    const { json } = await httpJson(stack.url, 'POST', '/v1/dev/token', undefined, { sub: `prof-${i}` });
    const token = (json as { token: string }).token;
    await httpJson(stack.url, 'POST', '/v1/users', token, { handle: `prof_${i}`, displayName: `Reader ${i}`, country: 'US' });
    const me = await httpJson(stack.url, 'GET', '/v1/me', token);
    tokens.push(token);
    userIds.push((me.json as { userId: string }).userId);
  }
  const author = READERS;
  for (let i = 0; i < READERS; i++) await httpJson(stack.url, 'PUT', `/v1/users/${userIds[author]}/follow`, tokens[i]);
  // As the bench's seeded posts: a window of four pages, 60–140 characters each.
  for (let p = 0; p < 100; p++) await httpJson(stack.url, 'POST', '/v1/posts', tokens[author], { content: `post ${p}: ${'lorem ipsum dolor sit amet '.repeat(1 + (p % 4))}`.trim() });
  await stack.settle(60_000);
  for (let i = 0; i < READERS; i++) await httpJson(stack.url, 'GET', '/v1/feed', tokens[i]);

  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  const report = await invocationCpu(
    { hotSubs: tokens.slice(0, READERS).map(tokenSubject), coldSubs: [], coldUserIds: [], invocations: 4000, profileDir: outDir },
    env,
  );
  for (const t of ['l1', 'l2'] as const) renameSync(path.join(outDir, `${t}.cpuprofile`), path.join(outDir, `handler-${t}.cpuprofile`));
  console.log(report.tiers.filter((t) => t.tier !== 'cold').map((t) => `${t.tier}: ${t.cpuMicros.toFixed(1)} µs/invocation (${t.failed} failed)`).join(' · '));

  const gen = await LoadGenerator.start();
  await gen.setUsers(tokens, userIds);
  const indices = Array.from({ length: READERS }, (_, i) => i);
  const spec = { url: stack.url, path: '/v1/feed', auth: true, pick: { kind: 'weighted' as const, indices, weights: indices.map(() => 1) }, connections: 32, durationMs: 3000, seed: 1 };
  await apiLayerCost(gen, spec, tokens[0]!);
  const { L1Cache } = await import('../shared/cache/l1.js');
  const originalGet = L1Cache.prototype.get;
  for (const tier of ['l1', 'l2'] as const) {
    if (tier === 'l2') L1Cache.prototype.get = () => undefined;
    await gen.run(spec);
    const cpu0 = process.cpuUsage();
    const redis0 = engineCpuMs();
    const run = await cpuProfiled(path.join(outDir, `gateway-${tier}.cpuprofile`), () => gen.run(spec));
    const cpu = process.cpuUsage(cpu0);
    const redisUs = ((engineCpuMs() - redis0) * 1000) / run.ok;
    console.log(`gateway ${tier}: ${run.rps.toFixed(0)} req/s, ${((cpu.user + cpu.system) / run.ok).toFixed(1)} µs CPU per request (profiled); redis-server ${redisUs.toFixed(1)} µs per request`);
  }
  L1Cache.prototype.get = originalGet;
  await gen.stop();

  for (const name of ['handler-l1', 'handler-l2', 'gateway-l1', 'gateway-l2']) {
    console.log(`\n${name}: heaviest functions by self time`);
    for (const line of heaviest(path.join(outDir, `${name}.cpuprofile`), 25)) console.log(line);
  }
} finally {
  await stack.stop();
}
process.exit(0);

/** Bare server, GET /v1/health and L1 hits at c=32, alternated ROUNDS times, unprofiled: req/s and
 *  this process's CPU per request (the bare server runs in it too, as in the bench's sweep). Beside
 *  them, the bare server made to spin WORK_MICROS per request first: what any server doing that
 *  much more than the bare one serves on this machine, and so the work per request an L1 hit may
 *  cost at 50% of bare (its target). */
async function apiLayerCost(gen: LoadGenerator, l1: RunSpec, token: string): Promise<void> {
  const bare = await bareServerLike(l1.url, l1.path, token);
  const working = await Promise.all(WORK_MICROS.map((w) => bareServerLike(l1.url, l1.path, token, w)));
  try {
    const spinning = WORK_MICROS.map((w, k) => ({ name: `bare+${w}µs`, workMicros: w, url: working[k]!.url }));
    const specs: Record<string, RunSpec> = {
      bare: { ...l1, url: bare.url },
      ...Object.fromEntries(spinning.map((v) => [v.name, { ...l1, url: v.url }])),
      health: { ...l1, path: '/v1/health', auth: false },
      'l1 hit': l1,
    };
    const runs: Record<string, { rps: number; cpuUs: number }[]> = Object.fromEntries(Object.keys(specs).map((k) => [k, []]));
    for (const s of Object.values(specs)) await gen.run(s);
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, s] of Object.entries(specs)) {
        const cpu0 = process.cpuUsage();
        const run = await gen.run(s);
        const cpu = process.cpuUsage(cpu0);
        runs[name]!.push({ rps: run.rps, cpuUs: (cpu.user + cpu.system) / run.ok });
      }
    }
    const bareRps = median(runs.bare!.map((x) => x.rps));
    for (const [name, xs] of Object.entries(runs)) {
      const rps = median(xs.map((x) => x.rps));
      console.log(`${name.padEnd(9)} ${rps.toFixed(0).padStart(6)} req/s (${((100 * rps) / bareRps).toFixed(1)}% of bare), ${median(xs.map((x) => x.cpuUs)).toFixed(0)} µs CPU per request; runs ${xs.map((x) => x.rps.toFixed(0)).join(', ')}`);
    }
    const rpsOf = (name: string) => median(runs[name]!.map((x) => x.rps));
    const budget = workBudget([{ workMicros: 0, rps: bareRps }, ...spinning.map((v) => ({ workMicros: v.workMicros, rps: rpsOf(v.name) }))], 0.5);
    console.log(`50% of bare is what a server doing ${budget === undefined ? `more than ${WORK_MICROS.at(-1)}` : `~${budget.toFixed(0)}`} µs of work per request more than the bare one serves`);
  } finally {
    await Promise.all([bare, ...working].map((b) => b.close()));
  }
}

/** CPU time (ms) of every redis-server process so far, from /proc (Linux). */
function engineCpuMs(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes('(redis-server)')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}
