// "Continue as new" for long workflows: a fresh execution of the same workflow from the current
// cursor, so no execution's history approaches Step Functions' 25,000-event limit.
import { startWorkflow } from '../messaging/workflow-starts.js';

/** Starts `workflow` again from `input` less what belongs to the finished execution (the last
 *  page's chunks, a caught error), with its page count reset. */
export async function continueAsNew(workflow: string, input: Record<string, unknown>): Promise<string | undefined> {
  const { chunks: _chunks, error: _error, ...rest } = input;
  return startWorkflow(workflow, { ...rest, pages: 0 });
}
