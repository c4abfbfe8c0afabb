// The alarms and the dashboard of the design's SLOs, as plain data built from a Plan: feed P95,
// API 5xx rate, cache hit rate, dead letters, failed workflow executions, DynamoDB throttling.
// Generic in V, the type of values known only at deploy time (the API id, ARNs with the account),
// so tests/unit/stacks.test.ts builds it with strings and stacks/alarms.ts with Pulumi Outputs.
import { METRICS_NAMESPACE, type Plan } from './plan.js';
import { METRIC, SERVICE_NAME } from '../shared/edge/observability.js';
import { replicationAlarms } from './replication-alarms.js';

/** EMF metrics the handlers emit (namespace METRICS_NAMESPACE, dimension service), named in
 *  shared/edge/observability.ts. */
export const APP_METRICS = { feedLatency: METRIC.feedLatency, cacheHit: METRIC.cacheHit } as const;
/** The SLOs of the design. */
export const SLO = { feedP95Ms: 100, errorRatePercent: 0.01, cacheHitPercent: 85 } as const;
/** CloudWatch: an alarm's metric math may reference at most 10 metrics (a hard limit). */
export const ALARM_METRICS_MAX = 10;
/** Throttle metrics per table: ReadThrottleEvents and WriteThrottleEvents. */
const THROTTLE_METRICS = ['ReadThrottleEvents', 'WriteThrottleEvents'] as const;
/** HTTP APIs publish metrics on stage `$default`, the stage SST's ApiGatewayV2 deploys. */
const API_STAGE = '$default';

export interface MetricRef<V> {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string | V>;
  stat: string;
  period: number;
}
export interface AlarmQuery<V> {
  id: string;
  label?: string;
  metric?: MetricRef<V>;
  expression?: string;
  returnData: boolean;
}
export interface AlarmSpec<V> {
  key: string;
  name: string;
  /** What it means and what to do; shown in the notification (≤ 1,024 characters). */
  description: string;
  comparison: 'GreaterThanThreshold' | 'LessThanThreshold';
  threshold: number;
  evaluationPeriods: number;
  datapointsToAlarm: number;
  treatMissingData: 'notBreaching' | 'missing';
  queries: AlarmQuery<V>[];
  /** False for the parts of a composite alarm: the composite notifies once for all of them. */
  notify: boolean;
}
export interface CompositeSpec {
  key: string;
  name: string;
  description: string;
  children: string[];
}
export interface AlarmPlan<V> {
  topicName: string;
  alarms: AlarmSpec<V>[];
  composites: CompositeSpec[];
  dashboardName: string;
}

export interface DeployRefs<V> {
  apiId: V;
  stateMachineArn(workflow: string): V;
}

const metric = <V>(namespace: string, metricName: string, dimensions: Record<string, string | V>, stat: string, period: number): MetricRef<V> => ({
  namespace,
  metricName,
  dimensions,
  stat,
  period,
});

export function alarmPlan<V>(plan: Plan, refs: DeployRefs<V>): AlarmPlan<V> {
  const prefix = `${plan.target.app}-${plan.target.stage}-`;
  const throttles = throttleAlarms<V>(plan, prefix);
  const replication = replicationAlarms<V>(plan, prefix);
  return {
    topicName: `${prefix}alarms`,
    alarms: [...sloAlarms(prefix, refs), ...deadLetterAlarms<V>(plan, prefix), ...workflowAlarms(plan, prefix, refs), ...throttles.parts, ...replication.parts],
    composites: [throttles.composite, ...replication.composites],
    dashboardName: `${plan.target.app}-${plan.target.stage}`,
  };
}

/** The design's SLOs: feed P95, API 5xx rate, cache hit rate. */
function sloAlarms<V>(prefix: string, refs: DeployRefs<V>): AlarmSpec<V>[] {
  const service = { service: SERVICE_NAME };
  const api = { ApiId: refs.apiId, Stage: API_STAGE };
  return [
    {
      key: 'feed-latency',
      name: `${prefix}feed-latency-p95`,
      description: `GET /v1/feed P95 above ${SLO.feedP95Ms} ms in 3 of 5 minutes. Check the cache hit rate alarm, get-feed duration and DynamoDB throttling; see README "Runbook".`,
      comparison: 'GreaterThanThreshold',
      threshold: SLO.feedP95Ms,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      treatMissingData: 'notBreaching',
      queries: [{ id: 'p95', label: 'feed latency p95 (ms)', metric: metric<V>(METRICS_NAMESPACE, APP_METRICS.feedLatency, service, 'p95', 60), returnData: true }],
      notify: true,
    },
    {
      key: 'api-errors',
      name: `${prefix}api-5xx-rate`,
      description: `More than ${SLO.errorRatePercent}% of API requests answered 5xx in 2 of 3 five-minute periods. Find the failing function in the dashboard and its logs (level ERROR); see README "Runbook".`,
      comparison: 'GreaterThanThreshold',
      threshold: SLO.errorRatePercent,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: 'notBreaching',
      queries: [
        { id: 'errors', metric: metric<V>('AWS/ApiGateway', '5xx', api, 'Sum', 300), returnData: false },
        { id: 'requests', metric: metric<V>('AWS/ApiGateway', 'Count', api, 'Sum', 300), returnData: false },
        { id: 'rate', label: '5xx (% of requests)', expression: 'IF(requests > 0, 100 * errors / requests, 0)', returnData: true },
      ],
      notify: true,
    },
    {
      key: 'cache-hit-rate',
      name: `${prefix}cache-hit-rate`,
      description: `Feed cache hit rate below ${SLO.cacheHitPercent}% for 15 minutes. Check Redis (ElastiCache) health, evictions and memory, and recent deploys that changed cache keys; see README "Runbook".`,
      comparison: 'LessThanThreshold',
      threshold: SLO.cacheHitPercent,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: 'notBreaching',
      queries: [
        { id: 'hits', metric: metric<V>(METRICS_NAMESPACE, APP_METRICS.cacheHit, service, 'Sum', 300), returnData: false },
        // CacheHit is 1 or 0 per first-page read: its sample count is the reads.
        { id: 'reads', metric: metric<V>(METRICS_NAMESPACE, APP_METRICS.cacheHit, service, 'SampleCount', 300), returnData: false },
        { id: 'hitrate', label: 'cache hit rate (%)', expression: 'IF(reads > 0, 100 * hits / reads, 100)', returnData: true },
      ],
      notify: true,
    },
  ];
}

/** An alarm that fires on the first datapoint above zero. */
const anyAbove0 = { comparison: 'GreaterThanThreshold', threshold: 0, evaluationPeriods: 1, datapointsToAlarm: 1, treatMissingData: 'notBreaching' } as const;

/** One per dead-letter queue and the stream-failure queue: any message is a failure to look at. */
function deadLetterAlarms<V>(plan: Plan, prefix: string): AlarmSpec<V>[] {
  return plan.queues
    .filter((x) => x.kind !== 'jobs')
    .map((q) => {
      const source = q.kind === 'stream-failures' ? 'stream records whose retries ran out' : `messages of ${q.key.replace(/-dlq$/, '')} received too often`;
      return {
        key: `dead-letters-${q.key}`,
        name: `${prefix}dead-letters-${q.key}`,
        description: `Queue ${q.name} holds ${source}. Read them, fix the cause, then redrive (SQS console: Start DLQ redrive); see README "Runbook".`,
        ...anyAbove0,
        queries: [{ id: 'visible', label: `${q.key} messages`, metric: metric<V>('AWS/SQS', 'ApproximateNumberOfMessagesVisible', { QueueName: q.name }, 'Maximum', 60), returnData: true }],
        notify: true,
      };
    });
}

/** One per state machine: any failed execution. */
function workflowAlarms<V>(plan: Plan, prefix: string, refs: DeployRefs<V>): AlarmSpec<V>[] {
  return plan.workflows.map((w) => ({
    key: `workflow-failed-${w.name}`,
    name: `${prefix}workflow-failed-${w.name}`,
    description: `An execution of state machine ${w.stateMachineName} failed. Open it in the Step Functions console (Executions, filter Failed) and read the failed step's input and error; see README "Runbook".`,
    ...anyAbove0,
    queries: [{ id: 'failed', label: `${w.name} failed executions`, metric: metric<V>('AWS/States', 'ExecutionsFailed', { StateMachineArn: refs.stateMachineArn(w.name) }, 'Sum', 60), returnData: true }],
    notify: true,
  }));
}

/** Throttling summed over every shard table: 10 metrics per alarm, so 5 tables per part alarm,
 *  and one composite alarm that notifies when any part is in ALARM. */
function throttleAlarms<V>(plan: Plan, prefix: string): { parts: AlarmSpec<V>[]; composite: CompositeSpec } {
  const perAlarm = Math.floor(ALARM_METRICS_MAX / THROTTLE_METRICS.length);
  const parts: AlarmSpec<V>[] = [];
  const chunks = Math.ceil(plan.tables.length / perAlarm);
  for (let c = 0; c < chunks; c++) {
    const tables = plan.tables.slice(c * perAlarm, (c + 1) * perAlarm);
    const queries: AlarmQuery<V>[] = tables.flatMap((t, i) =>
      THROTTLE_METRICS.map((m) => ({
        id: `${m.startsWith('Read') ? 'r' : 'w'}${i}`,
        metric: metric<V>('AWS/DynamoDB', m, { TableName: t.name }, 'Sum', 60),
        returnData: false,
      })),
    );
    queries.push({ id: 'throttled', label: 'throttled requests', expression: `SUM([${queries.map((q) => q.id).join(', ')}])`, returnData: true });
    parts.push({
      key: `dynamodb-throttles-${c + 1}`,
      name: `${prefix}dynamodb-throttles-${c + 1}-of-${chunks}`,
      description: `Throttled requests on ${tables[0]!.name} .. ${tables[tables.length - 1]!.name} (part of ${prefix}dynamodb-throttles).`,
      ...anyAbove0,
      queries,
      notify: false,
    });
  }
  const composite: CompositeSpec = {
    key: 'dynamodb-throttles',
    name: `${prefix}dynamodb-throttles`,
    description: 'DynamoDB throttled reads or writes on a shard table (the part alarm in ALARM names the tables). On-demand tables throttle on hot partitions or sudden doubling of traffic; see README "Runbook".',
    children: parts.map((p) => p.name),
  };
  return { parts, composite };
}

/** Alarm rule of a composite: ALARM when any part is. */
export function compositeRule(c: CompositeSpec): string {
  return c.children.map((n) => `ALARM("${n}")`).join(' OR ');
}

type WidgetMetric<V> = (string | V | Record<string, unknown>)[] | [Record<string, unknown>];

function widgetMetrics<V>(queries: AlarmQuery<V>[]): WidgetMetric<V>[] {
  return queries.map((q) => {
    if (q.expression) return [{ expression: q.expression, id: q.id, label: q.label ?? q.id }];
    const m = q.metric!;
    return [
      m.namespace,
      m.metricName,
      ...Object.entries(m.dimensions).flat(),
      { id: q.id, stat: m.stat, period: m.period, visible: q.returnData, ...(q.label && { label: q.label }) },
    ];
  });
}

/** The dashboard: the alarms' states, one graph per alarm, and throttling across the stage's
 *  tables (a SEARCH expression, which dashboards allow and alarms do not). */
export function dashboardBody<V>(plan: Plan, a: AlarmPlan<V>, alarmArn: (name: string) => V): Record<string, unknown> {
  const region = plan.target.region;
  const width = 12;
  const height = 6;
  const widgets: Record<string, unknown>[] = [
    {
      type: 'alarm',
      width: 24,
      height: 4,
      properties: {
        title: 'Alarms',
        alarms: [...a.alarms.filter((x) => x.notify).map((x) => alarmArn(x.name)), ...a.composites.map((c) => alarmArn(c.name))],
      },
    },
  ];
  for (const alarm of a.alarms.filter((x) => x.notify)) {
    widgets.push({
      type: 'metric',
      width,
      height,
      properties: {
        title: alarm.name.slice(`${plan.target.app}-${plan.target.stage}-`.length),
        region,
        view: 'timeSeries',
        metrics: widgetMetrics(alarm.queries),
        annotations: { horizontal: [{ value: alarm.threshold, label: 'threshold' }] },
      },
    });
  }
  const search = `SEARCH('{AWS/DynamoDB,TableName} (MetricName="ReadThrottleEvents" OR MetricName="WriteThrottleEvents") "${plan.target.tablePrefix}"', 'Sum', 60)`;
  widgets.push({
    type: 'metric',
    width,
    height,
    properties: {
      title: 'dynamodb throttled requests (all shard tables)',
      region,
      view: 'timeSeries',
      metrics: [[{ expression: `SUM(${search})`, id: 'throttled', label: 'throttled requests' }]],
    },
  });
  return { widgets };
}
