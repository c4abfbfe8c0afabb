// CPU time per feed-read invocation as Lambda runs the handler: bench/invoke-cpu-child.ts in a
// process of its own (one invocation at a time, no gateway), against the stack's engines. Lambda
// bills duration, not CPU, but on a cache hit with no I/O to wait for the two are the same thing.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type CpuTier = 'l1' | 'l2' | 'cold';

export interface CpuJob {
  /** Readers whose pages are cached (read round-robin for the L1 and L2 figures). */
  hotSubs: string[];
  /** Readers read once each, with their pages dropped from both tiers just before (not timed). */
  coldSubs: string[];
  coldUserIds: string[];
  /** Timed invocations per cached tier. */
  invocations: number;
  /** Write a CPU profile of the L1 and L2 runs into this directory (profiling, not the bench). */
  profileDir?: string;
}

export interface CpuTierResult {
  tier: CpuTier;
  invocations: number;
  failed: number;
  /** Mean CPU (user + system) per invocation, microseconds. */
  cpuMicros: number;
}

export interface CpuReport {
  tiers: CpuTierResult[];
}

/** The child finishes in a few seconds; past this it is stuck. */
const CHILD_TIMEOUT_MS = 120_000;

/** A bench token's subject (the child invokes the handler as the authorizer would, with claims). */
export function tokenSubject(token: string): string {
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { sub: string };
  return payload.sub;
}

/** Runs the child with the stack's environment, minus the multi-concurrency switch that the local
 *  runtime sets (Lambda runs one invocation per environment unless told otherwise). */
export function invocationCpu(job: CpuJob, env: Record<string, string>, execArgv: string[] = process.execArgv): Promise<CpuReport> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, NODE_OPTIONS: '' };
  delete childEnv.AWS_LAMBDA_MAX_CONCURRENCY;
  const child = fork(fileURLToPath(new URL('./invoke-cpu-child.ts', import.meta.url)), [], {
    execArgv,
    env: childEnv,
    // stdout carries the EMF documents a Lambda would ship; nobody reads them here.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise<CpuReport>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`invocation CPU probe did not finish in ${CHILD_TIMEOUT_MS} ms`));
    }, CHILD_TIMEOUT_MS);
    child.once('message', (m: { report?: CpuReport; error?: string }) => {
      clearTimeout(timer);
      if (m.report) resolve(m.report);
      else reject(new Error(`invocation CPU probe: ${m.error}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`invocation CPU probe exited (${code}) before reporting`));
    });
    child.send(job);
  });
}
