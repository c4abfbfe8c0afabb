// Every state machine definition: valid ASL (asl-validator), Task resources naming deployed
// functions, Retry and Catch on every Task, and the history arithmetic its module comment claims.
import validator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../shared/declarations/functions.js';
import { WORKFLOWS, workflowTasks, type WorkflowName } from '../../workflows/registry.js';
import type { Asl } from '../../workflows/asl.js';
import { CHUNKS_PER_PAGE, PAGES_PER_EXECUTION } from '../../workflows/celebrity-fanout.js';
import { WARM_CHUNKS_PER_PAGE, WARM_PAGES_PER_RUN } from '../../workflows/cache-warming.js';

const names = Object.keys(WORKFLOWS) as WorkflowName[];

/** Every state, with the Catch of the Map that encloses it (a Map's Catch covers its iterations). */
function states(def: Asl, enclosingCatch = false): { name: string; state: Record<string, unknown>; caught: boolean }[] {
  return Object.entries(def.States).flatMap(([name, state]) => {
    const nested = (state.ItemProcessor ?? state.Iterator) as Asl | undefined;
    const own = { name, state, caught: enclosingCatch || Array.isArray(state.Catch) };
    return nested ? [own, ...states(nested, own.caught)] : [own];
  });
}

describe.each(names)('workflow %s', (name) => {
  const def = WORKFLOWS[name].definition();

  it('is valid Amazon States Language', () => {
    const { isValid, errorsText } = validator(def as never);
    expect(isValid, errorsText('\n')).toBe(true);
  });

  it('names only deployed functions as Task resources', () => {
    const tasks = workflowTasks(name);
    expect(tasks.length).toBeGreaterThan(0);
    for (const fn of tasks) expect(FUNCTIONS[fn]?.deployed, fn).toBe(true);
  });

  it('retries and catches every Task, so failures end in a visible Fail state', () => {
    const all = states(def);
    expect(all.some(({ state }) => state.Type === 'Fail')).toBe(true);
    for (const { name: state, state: s, caught } of all.filter(({ state }) => state.Type === 'Task')) {
      expect(Array.isArray(s.Retry) && (s.Retry as unknown[]).length > 0, `${state} has Retry`).toBe(true);
      expect(caught, `${state} is caught`).toBe(true);
    }
  });

  it('keeps Map concurrency within the inline Map’s 40', () => {
    for (const { state } of states(def).filter(({ state }) => state.Type === 'Map')) {
      expect(state.MaxConcurrency as number).toBeGreaterThan(0);
      expect(state.MaxConcurrency as number).toBeLessThanOrEqual(40);
    }
  });
});

describe('history budget (a Standard execution stops at 25,000 events)', () => {
  // Per page: 5 events for the list Task, 4 for the Map, 7 per chunk, 4 for the Choices.
  const perPage = (chunks: number) => 5 + 4 + 7 * chunks + 4;
  it('CelebrityFanout continues as new before the limit, with room for retries', () => {
    expect(perPage(CHUNKS_PER_PAGE) * PAGES_PER_EXECUTION).toBeLessThan(20_000);
  });
  it('CacheWarming stops its run before the limit', () => {
    expect(perPage(WARM_CHUNKS_PER_PAGE) * WARM_PAGES_PER_RUN).toBeLessThan(25_000);
  });
});
