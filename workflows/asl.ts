// Shared pieces of the state machine definitions: the symbolic Task resource (`${fn:<name>}`,
// replaced by the function's ARN at deploy and bound to the local handler by the local stack),
// and the Retry/Catch every Task carries, so transient Lambda failures are retried and anything
// else fails the execution visibly (a Fail state with the error and cause).
import type { FunctionName } from '../shared/declarations/functions.js';

export type Asl = Record<string, unknown> & { StartAt: string; States: Record<string, Record<string, unknown>> };

export const taskResource = (fn: FunctionName) => `\${fn:${fn}}`;

/** Transient Lambda errors: retried with backoff (2 s, 4 s, 8 s, … up to 6 attempts). */
export const RETRY = [
  {
    ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'],
    IntervalSeconds: 2,
    MaxAttempts: 6,
    BackoffRate: 2,
  },
  // Any other task error (a throttled table, a bug) gets two more tries before it fails the run.
  { ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 5, MaxAttempts: 2, BackoffRate: 2 },
];

/** Sends every uncaught error to `failState`, keeping the input and adding `error`. */
export const catchTo = (failState: string) => [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: failState }];

/** Every Task state of a definition, in nested Map iterators (ItemProcessor or Iterator) and
 *  Parallel branches too, with the function its symbolic resource names. The local stack binds
 *  each state to its handler by this name, so a Task missed here would fail only when run. */
export function taskStates(definition: Asl): Record<string, FunctionName> {
  const found: Record<string, FunctionName> = {};
  const walk = (states: Record<string, Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(states)) {
      const resource = state.Resource;
      if (typeof resource === 'string') {
        const m = /^\$\{fn:([a-z0-9-]+)\}$/.exec(resource);
        if (m) found[name] = m[1] as FunctionName;
      }
      for (const nested of [state.Iterator, state.ItemProcessor] as (Asl | undefined)[]) if (nested) walk(nested.States);
      for (const branch of (state.Branches as Asl[] | undefined) ?? []) walk(branch.States);
    }
  };
  walk(definition.States);
  return found;
}

/** Every Task resource a definition names, in nested Map iterators and Parallel branches too. */
export function taskFunctions(definition: Asl): FunctionName[] {
  return [...new Set(Object.values(taskStates(definition)))].sort();
}

/** The definition with symbolic resources replaced (the deployment passes function ARNs). */
export function bindResources(definition: Asl, arnOf: (fn: FunctionName) => string): string {
  return JSON.stringify(definition).replace(/\$\{fn:([a-z0-9-]+)\}/g, (_m, fn: string) => arnOf(fn as FunctionName));
}
