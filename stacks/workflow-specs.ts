// The workflows registry (workflows/registry.ts) as the plan takes it: each state machine's ASL
// and Task functions, and an EventBridge schedule for each workflow that runs periodically.
// Definitions read config() (Map concurrency, windows) from the deploy environment.
import { resetConfig } from '../shared/edge/config.js';
import { WORKFLOWS, workflowTasks, type WorkflowName, type WorkflowSpec as RegistryEntry } from '../workflows/registry.js';
import type { ScheduleSpec, WorkflowSpec } from './plan.js';

/** EventBridge rates are whole minutes. */
export function rateOf(seconds: number): ScheduleSpec['expression'] {
  if (!Number.isInteger(seconds / 60) || seconds < 60) throw new Error(`a schedule of ${seconds} s is not a whole number of minutes`);
  const minutes = seconds / 60;
  return `rate(${minutes} ${minutes === 1 ? 'minute' : 'minutes'})`;
}

/** Runs `build` with configuration read from `env` (the deploy environment). The deploy
 *  process has no cursor secret (only the functions get it), so config() would refuse to load;
 *  the local flag supplies a placeholder for that secret alone, and the process's environment
 *  and configuration are restored before anything else runs. */
function withDeployConfig<T>(env: NodeJS.ProcessEnv, build: () => T): T {
  const saved = process.env;
  process.env = { ...env, FEED_LOCAL: '1' };
  resetConfig();
  try {
    return build();
  } finally {
    process.env = saved;
    resetConfig();
  }
}

export function registeredWorkflows(env: NodeJS.ProcessEnv = process.env): { workflows: WorkflowSpec[]; schedules: ScheduleSpec[] } {
  return withDeployConfig(env, () => {
    const names = Object.keys(WORKFLOWS) as WorkflowName[];
    const entry = (name: WorkflowName): RegistryEntry => WORKFLOWS[name];
    return {
      workflows: names.map((name) => ({ name, definition: entry(name).definition(), tasks: workflowTasks(name) })),
      schedules: names.flatMap((name) => {
        const every = entry(name).everySeconds;
        return every ? [{ name, expression: rateOf(every()), target: { workflow: name } }] : [];
      }),
    };
  });
}
