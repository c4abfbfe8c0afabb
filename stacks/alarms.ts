// CloudWatch alarms and the dashboard of stacks/alarm-plan.ts, notifying an SNS topic (with an
// email subscription when FEED_ALARM_EMAIL is set) on ALARM and on recovery.
import { alarmPlan, compositeRule, dashboardBody } from './alarm-plan.js';
import { arns, PARTITION, type Plan } from './plan.js';

export function deployAlarms(plan: Plan, refs: { account: $util.Output<string>; apiId: $util.Output<string> }) {
  const a = alarmPlan(plan, {
    apiId: refs.apiId,
    stateMachineArn: (workflow) => refs.account.apply((acc) => arns(plan, acc).stateMachine(workflow)),
  });
  const topic = new aws.sns.Topic('AlarmTopic', { name: a.topicName });
  if (plan.target.alarmEmail) {
    new aws.sns.TopicSubscription('AlarmEmail', { topic: topic.arn, protocol: 'email', endpoint: plan.target.alarmEmail });
  }
  const actions = [topic.arn];
  const alarms = new Map<string, aws.cloudwatch.MetricAlarm>();
  for (const spec of a.alarms) {
    alarms.set(
      spec.name,
      new aws.cloudwatch.MetricAlarm(`Alarm${spec.key.replace(/[^A-Za-z0-9]/g, '')}`, {
        name: spec.name,
        alarmDescription: spec.description,
        comparisonOperator: spec.comparison,
        threshold: spec.threshold,
        evaluationPeriods: spec.evaluationPeriods,
        datapointsToAlarm: spec.datapointsToAlarm,
        treatMissingData: spec.treatMissingData,
        metricQueries: spec.queries.map((q) => ({
          id: q.id,
          label: q.label,
          returnData: q.returnData,
          expression: q.expression,
          metric: q.metric && {
            namespace: q.metric.namespace,
            metricName: q.metric.metricName,
            dimensions: q.metric.dimensions,
            stat: q.metric.stat,
            period: q.metric.period,
          },
        })),
        ...(spec.notify && { alarmActions: actions, okActions: actions }),
      }),
    );
  }
  for (const c of a.composites) {
    new aws.cloudwatch.CompositeAlarm(
      `Alarm${c.key.replace(/[^A-Za-z0-9]/g, '')}`,
      { alarmName: c.name, alarmDescription: c.description, alarmRule: compositeRule(c), alarmActions: actions, okActions: actions },
      { dependsOn: c.children.map((n) => alarms.get(n)!).filter(Boolean) },
    );
  }
  const alarmArn = (name: string) => $interpolate`arn:${PARTITION}:cloudwatch:${plan.target.region}:${refs.account}:alarm:${name}`;
  const dashboard = new aws.cloudwatch.Dashboard('Dashboard', {
    dashboardName: a.dashboardName,
    dashboardBody: $jsonStringify(dashboardBody(plan, a, alarmArn)),
  });
  return { topic, dashboard };
}
