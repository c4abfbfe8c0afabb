// EventBridge schedules (plan.schedules): each invokes a function, or starts a workflow
// execution through a role allowed to start exactly that state machine. Functions are invoked by
// sst.aws.CronV2 (EventBridge Scheduler; sst.aws.Cron is deprecated), whose role may invoke only
// that function.
import type { FunctionName } from '../shared/declarations/functions.js';
import { logicalName, policyDocument, scheduleStatements, type Plan } from './plan.js';

export function deploySchedules(
  plan: Plan,
  functions: Map<FunctionName, sst.aws.Function>,
  machines: Map<string, aws.sfn.StateMachine>,
  account: $util.Output<string>,
): void {
  for (const s of plan.schedules) {
    const id = logicalName('Schedule', s.name);
    if ('fn' in s.target) {
      const fn = functions.get(s.target.fn);
      if (!fn) throw new Error(`schedule ${s.name}: function ${s.target.fn} is not deployed`);
      new sst.aws.CronV2(id, { function: fn.arn, schedule: s.expression });
      continue;
    }
    const machine = machines.get(s.target.workflow);
    if (!machine) throw new Error(`schedule ${s.name}: workflow ${s.target.workflow} is not deployed`);
    const rule = new aws.cloudwatch.EventRule(`${id}Rule`, { scheduleExpression: s.expression });
    const role = new aws.iam.Role(`${id}Role`, {
      assumeRolePolicy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      }),
      inlinePolicies: [{ name: 'start', policy: account.apply((a) => JSON.stringify(policyDocument(scheduleStatements(plan, s.name, a)))) }],
    });
    new aws.cloudwatch.EventTarget(`${id}Target`, {
      rule: rule.name,
      arn: machine.arn,
      roleArn: role.arn,
      // The execution input: a scheduled run starts a fresh correlation.
      input: JSON.stringify({ correlationId: null }),
    });
  }
}
