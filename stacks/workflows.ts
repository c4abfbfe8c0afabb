// Step Functions state machines from the workflows/ modules' ASL, deployed verbatim except that
// each Task resource written `${fn:<function>}` becomes that function's ARN. Each has its own
// role, allowed to invoke exactly its Task functions, logs every execution (level ALL, with
// input and output) to its log group, and traces executions with X-Ray (plan tracing).
import type { FunctionName } from '../shared/declarations/functions.js';
import { bindResources } from '../workflows/asl.js';
import { arns, logicalName, policyDocument, workflowStatements, type Plan } from './plan.js';

export function deployWorkflows(
  plan: Plan,
  functions: Map<FunctionName, sst.aws.Function>,
  account: $util.Output<string>,
): Map<string, aws.sfn.StateMachine> {
  const machines = new Map<string, aws.sfn.StateMachine>();
  for (const w of plan.workflows) {
    const id = logicalName('Workflow', w.name);
    const logGroup = new aws.cloudwatch.LogGroup(`${id}Logs`, {
      // The /aws/vendedlogs/ prefix keeps the log group's resource policy small (AWS's advice).
      name: `/aws/vendedlogs/states/${w.stateMachineName}`,
      retentionInDays: plan.target.production ? 90 : 30,
    });
    const role = new aws.iam.Role(`${id}Role`, {
      assumeRolePolicy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'states.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      }),
      inlinePolicies: [
        { name: 'workflow', policy: account.apply((a) => JSON.stringify(policyDocument(workflowStatements(plan, w.name, a)))) },
      ],
    });
    const tasks = [...new Set(w.tasks)].map((t) => {
      const fn = functions.get(t);
      if (!fn) throw new Error(`workflow ${w.name}: task function ${t} is not deployed`);
      return fn;
    });
    machines.set(
      w.name,
      new aws.sfn.StateMachine(
        id,
        {
          name: w.stateMachineName,
          type: 'STANDARD',
          roleArn: role.arn,
          definition: account.apply((a) => bindResources(w.definition, (fn) => arns(plan, a).fn(fn))),
          loggingConfiguration: { level: 'ALL', includeExecutionData: true, logDestination: $interpolate`${logGroup.arn}:*` },
          tracingConfiguration: { enabled: w.tracing },
        },
        // The definition names the functions by ARN; they must exist before it is validated.
        { dependsOn: tasks },
      ),
    );
  }
  return machines;
}
