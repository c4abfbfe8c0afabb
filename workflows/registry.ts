// The state machines of the product, one source of truth read by stacks/ (deployed verbatim, with
// Task resources bound to function ARNs) and by the local stack (run by aws-local-stepfunctions
// with Task resources bound to the local handlers). Schedules say how often a workflow starts.
import { config } from '../shared/edge/config.js';
import { taskFunctions, type Asl } from './asl.js';
import { batchedNotification } from './batched-notification.js';
import { cacheWarming } from './cache-warming.js';
import { celebrityFanout } from './celebrity-fanout.js';

export interface WorkflowSpec {
  /** Builds the ASL definition from configuration (Map concurrency and the like). */
  definition: () => Asl;
  /** Started on a fixed period (EventBridge Scheduler in AWS, a timer locally). */
  everySeconds?: () => number;
  description: string;
}

export const WORKFLOWS = {
  'celebrity-fanout': {
    definition: () => celebrityFanout(config().FEED_FANOUT_MAX_CONCURRENCY),
    description: 'pushes a celebrity post to recently active followers',
  },
  'cache-warming': {
    definition: () => cacheWarming(config().FEED_FANOUT_MAX_CONCURRENCY),
    everySeconds: () => config().FEED_WARM_INTERVAL_SECONDS,
    description: 'regenerates the cached first feed page of users active in the last hour',
  },
  'batched-notification': {
    definition: () => batchedNotification(),
    everySeconds: () => config().FEED_NOTIFICATION_WINDOW_SECONDS,
    description: 'composes one digest per recipient for the notification window that just closed',
  },
} satisfies Record<string, WorkflowSpec>;

export type WorkflowName = keyof typeof WORKFLOWS;

export function workflowTasks(name: WorkflowName) {
  return taskFunctions(WORKFLOWS[name].definition());
}
