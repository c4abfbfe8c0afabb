// Task of long workflows: starts a fresh execution of the same workflow from the current cursor
// ("continue as new"), so no execution's history approaches the 25,000-event limit.
import * as z from 'zod';
import { continueAsNew as startAgain } from '../shared/services/continue-as-new.js';
import { workflowTask } from '../shared/edge/workflow-task.js';

const Input = z.object({
  workflow: z.enum(['celebrity-fanout']),
  input: z.object({ next: z.unknown() }).passthrough(),
});

export async function continueAsNew({ workflow, input }: z.infer<typeof Input>) {
  const executionArn = await startAgain(workflow, input);
  return { executionArn: executionArn ?? null };
}

export const handler = workflowTask(Input, continueAsNew);
