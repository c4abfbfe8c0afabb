// Starting Step Functions executions. In AWS the state machine ARN comes from
// FEED_STATE_MACHINE_ARN_<NAME>; locally FEED_SFN_ENDPOINT points the same client at the local
// stack's Step Functions API, which runs the same definitions with aws-local-stepfunctions.
// Named executions make starts idempotent: a redelivered start of the same name is not a second run.
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { config } from '../edge/config.js';
import { currentCorrelationId } from '../edge/observability.js';

let client: SFNClient | undefined;
export function sfn(): SFNClient {
  client ??= new SFNClient({
    region: config().AWS_REGION,
    ...(process.env.FEED_SFN_ENDPOINT && { endpoint: process.env.FEED_SFN_ENDPOINT }),
  });
  return client;
}
export function resetSfn(): void {
  client?.destroy();
  client = undefined;
}

export function stateMachineArnVariable(workflow: string): string {
  return `FEED_STATE_MACHINE_ARN_${workflow.toUpperCase().replace(/-/g, '_')}`;
}

export function stateMachineArn(workflow: string): string {
  const arn = process.env[stateMachineArnVariable(workflow)];
  if (arn) return arn;
  if (config().isLocal) return `arn:aws:states:${config().AWS_REGION}:000000000000:stateMachine:${workflow}`;
  throw new Error(`${stateMachineArnVariable(workflow)} is not set`);
}

/** Starts an execution; with `name`, a second start of the same name is a no-op. Returns the
 *  execution ARN, or undefined when that execution already existed. The input carries the
 *  current correlation id. */
export async function startWorkflow(workflow: string, input: Record<string, unknown>, name?: string): Promise<string | undefined> {
  try {
    const out = await sfn().send(
      new StartExecutionCommand({
        stateMachineArn: stateMachineArn(workflow),
        input: JSON.stringify({ correlationId: currentCorrelationId() ?? null, ...input }),
        ...(name && { name: name.slice(0, 80) }),
      }),
    );
    return out.executionArn;
  } catch (err) {
    if ((err as { name?: string }).name === 'ExecutionAlreadyExists') return undefined;
    throw err;
  }
}
