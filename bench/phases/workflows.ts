// The scheduled workflows, each started once on purpose and timed (their schedules are pushed
// past the run by the stack's environment): CacheWarming, then BatchedNotification composing the
// digests of this run's notification window. Full runs only.
import { windowOf } from '../../shared/services/notifications.js';
import { fmt, live, type BenchContext } from '../context.js';
import { settle, writesByEntity } from '../settle.js';
import { waitFor } from '../stats.js';

/** A workflow still running after this is reported as such. */
const WORKFLOW_TIMEOUT_MS = 60_000;

/** Full runs only: the workflows take minutes of a two-minute quick run. */
export const workflowsOn = (ctx: BenchContext) => ctx.o.workflows;

export async function cacheWarming(ctx: BenchContext): Promise<void> {
  const { stack: s } = live(ctx);
  await settle(s, { timeoutMs: 60_000, ignore: ['notifications'] });
  const t0 = Date.now();
  const exec = s.stepFunctions.startExecution(s.stepFunctions.arnOf('cache-warming'), JSON.stringify({}), `bench-warming-${Date.now()}`);
  await waitFor(() => exec.status !== 'RUNNING', WORKFLOW_TIMEOUT_MS, 100);
  const ms = exec.stopDate ? (exec.stopDate - exec.startDate) * 1000 : Date.now() - t0;
  const pages = Number((JSON.parse(exec.output ?? '{}') as { pages?: number }).pages ?? NaN);
  ctx.results.workflows = { ...ctx.results.workflows, cacheWarming: { ms, status: exec.status, pages } };
  ctx.log(`cache warming: CacheWarming ${exec.status} after ${fmt(ms / 1000, 1)} s`);
}

/** Composes the digests of this run's window (the schedule would at its close), after the
 *  accumulated notification events have landed; bounded, so a long run is reported as such. */
export async function digests(ctx: BenchContext): Promise<void> {
  const { stack: s } = live(ctx);
  await settle(s, { timeoutMs: 60_000 });
  const windowStart = windowOf(Math.floor(Date.now() / 1000));
  const n0 = writesByEntity().notifications ?? 0;
  const t0 = Date.now();
  const exec = s.stepFunctions.startExecution(s.stepFunctions.arnOf('batched-notification'), JSON.stringify({ windowStart }), `bench-digests-${windowStart}-${Date.now()}`);
  await waitFor(() => exec.status !== 'RUNNING', WORKFLOW_TIMEOUT_MS, 100);
  const ms = exec.stopDate ? (exec.stopDate - exec.startDate) * 1000 : Date.now() - t0;
  const written = (writesByEntity().notifications ?? 0) - n0;
  ctx.results.workflows = { ...ctx.results.workflows, batchedNotification: { ms, status: exec.status, digests: written } };
  ctx.log(`digests: BatchedNotification ${exec.status} after ${fmt(ms / 1000, 1)} s, ${written} notification items written`);
}
