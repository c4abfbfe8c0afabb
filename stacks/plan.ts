// The deployment as plain data, built from the declarations in shared/ (tables × shards, queues,
// functions, routes, event-source mappings, grants, workflows, schedules) for one DeployTarget.
// No Pulumi here: the SST modules beside it turn each entry into resources, and
// tests/unit/stacks.test.ts checks names, settings and every IAM statement without deploying.
import { queueUrlVariable } from '../shared/messaging/queue.js';
import { stateMachineArnVariable } from '../shared/messaging/workflow-starts.js';
import { dlqName, MAPPINGS, QUEUES, STREAM_FAILURE_QUEUE, type QueueName } from '../shared/declarations/event-sources.js';
import { FUNCTIONS, type FunctionName } from '../shared/declarations/functions.js';
import {
  actionsFor,
  GRANTS,
  INDEX_ACTIONS,
  QUEUE_CONSUME_ACTIONS,
  QUEUE_SEND_ACTIONS,
  STREAM_ACTIONS,
  WORKFLOW_START_ACTIONS,
  type Grant,
} from '../shared/declarations/grants.js';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../shared/edge/observability.js';
import { ROUTES } from '../shared/declarations/routes.js';
import { createTableInput, STREAM_VIEW, TABLES, type Entity, type TableDef } from '../shared/declarations/tables.js';
import { taskFunctions, type Asl } from '../workflows/asl.js';
import type { DeployTarget } from './regions.js';

/** Every region in shared/domain/regions.ts is in the commercial partition. */
export const PARTITION = 'aws';
export { METRICS_NAMESPACE };
/** Lambda's limit on function names. */
const FUNCTION_NAME_MAX = 64;
/** Dead letters are kept as long as SQS allows, for investigation and redrive. */
const DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600;

export interface TablePlan {
  entity: Entity;
  shard: number;
  name: string;
  def: TableDef;
  streamViewType: typeof STREAM_VIEW;
  pointInTimeRecovery: boolean;
  deletionProtection: boolean;
}

export interface QueuePlan {
  /** Logical name: a QUEUES key, `<key>-dlq`, or STREAM_FAILURE_QUEUE. */
  key: string;
  name: string;
  kind: 'jobs' | 'dead-letter' | 'stream-failures';
  visibilityTimeoutSeconds: number;
  retentionSeconds: number;
  /** Jobs queues only: where a message goes after maxReceiveCount receives. */
  redrive?: { deadLetterKey: string; maxReceiveCount: number };
}

export interface FunctionPlan {
  fn: FunctionName;
  name: string;
  /** SST handler: `<file without .ts>.handler`. */
  handler: string;
  memoryMB: number;
  timeoutSeconds: number;
  /** Values known at plan time. */
  environment: Record<string, string>;
  /** FEED_QUEUE_URL_<NAME> → queue key, resolved to the queue's URL by stacks/. */
  queueUrls: Record<string, string>;
  /** FEED_STATE_MACHINE_ARN_<NAME> → workflow name, for the workflows it starts. */
  stateMachineArns: Record<string, string>;
  grant: Grant;
  /** Joins the VPC (Redis). */
  vpc: boolean;
}

/** Variables whose values exist only at deploy time (secret, authorizer, cache endpoint). */
export const DEPLOY_TIME_ENV = {
  cursorSecret: 'FEED_CURSOR_SECRET',
  jwtIssuer: 'FEED_JWT_ISSUER',
  jwtAudience: 'FEED_JWT_AUDIENCE',
  redisUrl: 'REDIS_URL',
} as const;

export interface RoutePlan {
  routeKey: string;
  fn: FunctionName;
  auth: boolean;
}

/** Lambda reports partial batch failures (shared/edge/consumers.ts) instead of failing whole batches. */
const RESPONSE_TYPES = ['ReportBatchItemFailures'] as const;

export type MappingPlan =
  | {
      kind: 'stream';
      id: string;
      fn: FunctionName;
      entity: Entity;
      table: string;
      batchSize: number;
      maximumRetryAttempts: number;
      bisectBatchOnFunctionError: boolean;
      startingPosition: 'TRIM_HORIZON' | 'LATEST';
      onFailureQueue: string;
      functionResponseTypes: readonly string[];
    }
  | {
      kind: 'queue';
      id: string;
      fn: FunctionName;
      queue: QueueName;
      batchSize: number;
      maximumBatchingWindowInSeconds: number;
      functionResponseTypes: readonly string[];
    };

/** A workflow module's export: its ASL, with Task resources written `${fn:<function>}`
 *  (workflows/asl.ts), and the functions those Tasks name. */
export interface WorkflowSpec {
  name: string;
  definition: Asl;
  tasks: readonly FunctionName[];
}
export interface WorkflowPlan extends WorkflowSpec {
  stateMachineName: string;
}

/** An EventBridge schedule that invokes a function or starts a workflow execution. */
export interface ScheduleSpec {
  name: string;
  expression: `rate(${string})` | `cron(${string})`;
  target: { fn: FunctionName } | { workflow: string };
}

export interface Plan {
  target: DeployTarget;
  tables: TablePlan[];
  queues: QueuePlan[];
  functions: FunctionPlan[];
  routes: RoutePlan[];
  mappings: MappingPlan[];
  workflows: WorkflowPlan[];
  schedules: ScheduleSpec[];
}

export interface Statement {
  effect: 'allow';
  actions: string[];
  resources: string[];
  conditions?: { test: string; variable: string; values: string[] }[];
}

const entities = () => Object.keys(TABLES) as Entity[];
const functionNames = () => Object.keys(FUNCTIONS) as FunctionName[];

/** Physical table name; equal to shared/declarations/tables.ts tableName() with FEED_TABLE_PREFIX = prefix
 *  (tests/unit/stacks.test.ts holds them together). */
export function physicalTableName(prefix: string, entity: Entity, shard: number): string {
  return `${prefix}${TABLES[entity].baseName}_${shard}`;
}

export function buildPlan(
  target: DeployTarget,
  extra: { workflows?: readonly WorkflowSpec[]; schedules?: readonly ScheduleSpec[] } = {},
): Plan {
  const fail = (message: string): never => {
    throw new Error(`feedscale plan (stage ${target.stage}): ${message}`);
  };
  const resource = (name: string) => `${target.app}-${target.stage}-${name}`;

  const tables: TablePlan[] = entities().flatMap((entity) =>
    Array.from({ length: target.shards }, (_, shard) => ({
      entity,
      shard,
      name: physicalTableName(target.tablePrefix, entity, shard),
      def: TABLES[entity],
      streamViewType: STREAM_VIEW,
      pointInTimeRecovery: target.production,
      deletionProtection: target.production,
    })),
  );

  const queues: QueuePlan[] = [];
  for (const [key, spec] of Object.entries(QUEUES) as [QueueName, (typeof QUEUES)[QueueName]][]) {
    const consumers = MAPPINGS.filter((m) => m.kind === 'queue' && m.queue === key);
    for (const m of consumers) {
      // Lambda refuses a mapping whose queue hides messages for less than the function runs.
      if (spec.visibilityTimeoutSeconds < FUNCTIONS[m.fn].timeoutSeconds) {
        fail(`queue ${key}: visibility timeout ${spec.visibilityTimeoutSeconds}s is shorter than ${m.fn}'s timeout`);
      }
    }
    queues.push({
      key,
      name: resource(key),
      kind: 'jobs',
      visibilityTimeoutSeconds: spec.visibilityTimeoutSeconds,
      retentionSeconds: spec.retentionSeconds,
      redrive: { deadLetterKey: dlqName(key), maxReceiveCount: spec.maxReceiveCount },
    });
    queues.push({
      key: dlqName(key),
      name: resource(dlqName(key)),
      kind: 'dead-letter',
      visibilityTimeoutSeconds: spec.visibilityTimeoutSeconds,
      retentionSeconds: DEAD_LETTER_RETENTION_SECONDS,
    });
  }
  queues.push({
    key: STREAM_FAILURE_QUEUE,
    name: resource(STREAM_FAILURE_QUEUE),
    kind: 'stream-failures',
    visibilityTimeoutSeconds: 30,
    retentionSeconds: DEAD_LETTER_RETENTION_SECONDS,
  });

  const workflows: WorkflowPlan[] = (extra.workflows ?? []).map((spec) => {
    const refs = taskFunctions(spec.definition);
    const declared = [...new Set(spec.tasks)].sort();
    if (refs.join() !== declared.join()) {
      fail(`workflow ${spec.name}: tasks [${declared}] differ from the definition's \${fn:...} references [${refs}]`);
    }
    for (const t of refs) {
      if (!(t in FUNCTIONS) || !FUNCTIONS[t as FunctionName].deployed) fail(`workflow ${spec.name}: task ${t} is not a deployed function`);
    }
    return { ...spec, stateMachineName: resource(spec.name) };
  });
  const workflowNames = new Set(workflows.map((w) => w.name));
  if (workflowNames.size !== workflows.length) fail('workflow names repeat');

  const deployed = functionNames().filter((fn) => FUNCTIONS[fn].deployed);
  const functions: FunctionPlan[] = deployed.map((fn) => {
    const spec = FUNCTIONS[fn];
    const grant = GRANTS[fn];
    const name = resource(fn);
    if (name.length > FUNCTION_NAME_MAX) fail(`function name ${name} exceeds ${FUNCTION_NAME_MAX} characters; use a shorter stage name`);
    for (const w of grant.startsWorkflows) if (!workflowNames.has(w)) fail(`${fn} starts unknown workflow ${w}`);
    return {
      fn,
      name,
      handler: `${spec.file.replace(/\.ts$/, '')}.handler`,
      memoryMB: spec.memoryMB,
      timeoutSeconds: spec.timeoutSeconds,
      environment: {
        ...target.settings,
        FEED_TABLE_PREFIX: target.tablePrefix,
        FEED_SHARDS: String(target.shards),
        FEED_REGION: target.region,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      },
      queueUrls: Object.fromEntries(grant.sendsTo.map((q) => [queueUrlVariable(q), q])),
      stateMachineArns: Object.fromEntries(grant.startsWorkflows.map((w) => [stateMachineArnVariable(w), w])),
      grant,
      vpc: grant.redis,
    };
  });

  const routes: RoutePlan[] = ROUTES.filter((r) => !r.localOnly).map((r) => {
    if (!FUNCTIONS[r.fn].deployed) fail(`route ${r.method} ${r.path} is deployed but ${r.fn} is not`);
    return { routeKey: `${r.method} ${r.path}`, fn: r.fn, auth: r.auth };
  });

  const mappings: MappingPlan[] = MAPPINGS.flatMap((m): MappingPlan[] => {
    if (m.kind === 'queue') {
      return [
        {
          kind: 'queue',
          id: `${m.fn}-${m.queue}`,
          fn: m.fn,
          queue: m.queue,
          batchSize: m.batchSize,
          maximumBatchingWindowInSeconds: m.maxBatchingWindowSeconds,
          functionResponseTypes: RESPONSE_TYPES,
        },
      ];
    }
    // A stream mapping per shard table: each table has its own stream.
    return tables
      .filter((t) => t.entity === m.entity)
      .map((t) => ({
        kind: 'stream' as const,
        id: `${m.fn}-${m.entity}-${t.shard}`,
        fn: m.fn,
        entity: m.entity,
        table: t.name,
        batchSize: m.batchSize,
        maximumRetryAttempts: m.maxRetries,
        bisectBatchOnFunctionError: m.bisectOnError,
        startingPosition: m.startingPosition,
        onFailureQueue: STREAM_FAILURE_QUEUE,
        functionResponseTypes: RESPONSE_TYPES,
      }));
  });

  for (const s of extra.schedules ?? []) {
    if ('fn' in s.target && !FUNCTIONS[s.target.fn].deployed) fail(`schedule ${s.name} invokes ${s.target.fn}, which is not deployed`);
    if ('workflow' in s.target && !workflowNames.has(s.target.workflow)) fail(`schedule ${s.name} starts unknown workflow ${s.target.workflow}`);
  }

  return { target, tables, queues, functions, routes, mappings, workflows, schedules: [...(extra.schedules ?? [])] };
}

// ---- ARNs and IAM ---------------------------------------------------------------------------

export interface Arns {
  table(name: string): string;
  queue(key: string): string;
  fn(fn: FunctionName): string;
  stateMachine(workflow: string): string;
  /** Every shard table of an entity (see tablePatterns). */
  tablePatterns(entity: Entity): string[];
}

export function arns(plan: Plan, account: string): Arns {
  const base = (service: string) => `arn:${PARTITION}:${service}:${plan.target.region}:${account}`;
  const table = (name: string) => `${base('dynamodb')}:table/${name}`;
  const queueName = (key: string) => plan.queues.find((q) => q.key === key)?.name ?? missing('queue', key);
  const fnName = (fn: FunctionName) => plan.functions.find((f) => f.fn === fn)?.name ?? missing('function', fn);
  const smName = (w: string) => plan.workflows.find((x) => x.name === w)?.stateMachineName ?? missing('workflow', w);
  return {
    table,
    queue: (key) => `${base('sqs')}:${queueName(key)}`,
    fn: (fn) => `${base('lambda')}:function:${fnName(fn)}`,
    stateMachine: (w) => `${base('states')}:stateMachine:${smName(w)}`,
    tablePatterns: (entity) => tablePatterns(plan, entity).map(table),
  };
}

function missing(what: string, name: string): never {
  throw new Error(`no ${what} ${name} in the plan`);
}

/** Name patterns covering exactly an entity's shard tables: `Users_?` for 0-9, `Users_??` for
 *  10-99, ... One ARN per table would put every role of a 32-shard stage over IAM's 10,240
 *  character limit on a role's inline policies; `?` matches one character, so these patterns
 *  match no other table of this stage or of another stage whose name extends this one. */
export function tablePatterns(plan: Plan, entity: Entity): string[] {
  const digits = String(plan.target.shards - 1).length;
  return Array.from({ length: digits }, (_, i) => physicalTableName(plan.target.tablePrefix, entity, 0).replace(/0$/, '?'.repeat(i + 1)));
}

/** The function's IAM statements, from its grant alone (plus what its event-source mappings
 *  need on the function's role: reading the stream and sending exhausted records to the
 *  stream-failure queue; receiving and deleting the queue's messages). */
export function functionStatements(plan: Plan, fn: FunctionName, account: string): Statement[] {
  const a = arns(plan, account);
  const grant = GRANTS[fn];
  const out: Statement[] = [];
  const allow = (actions: readonly string[], resources: string[]) => {
    if (resources.length > 0) out.push({ effect: 'allow', actions: [...actions], resources });
  };
  for (const [entity, g] of Object.entries(grant.tables) as [Entity, NonNullable<Grant['tables'][Entity]>][]) {
    if (g.access) allow(actionsFor(g.access), a.tablePatterns(entity));
    const indexes = g.indexes ?? [];
    allow(INDEX_ACTIONS, a.tablePatterns(entity).flatMap((t) => indexes.map((i) => `${t}/index/${i}`)));
  }
  allow(STREAM_ACTIONS, grant.streams.flatMap((e) => a.tablePatterns(e).map((t) => `${t}/stream/*`)));
  if (grant.streams.length > 0) allow(QUEUE_SEND_ACTIONS, [a.queue(STREAM_FAILURE_QUEUE)]);
  allow(QUEUE_SEND_ACTIONS, grant.sendsTo.map((q) => a.queue(q)));
  allow(QUEUE_CONSUME_ACTIONS, grant.consumes.map((q) => a.queue(q)));
  allow(WORKFLOW_START_ACTIONS, grant.startsWorkflows.map((w) => a.stateMachine(w)));
  return out;
}

/** Step Functions delivers execution logs through CloudWatch Logs' log-delivery API, whose
 *  actions have no resource-level permissions: AWS documents Resource "*" for them. These are
 *  the only actions any statement of this plan may grant on "*". */
export const STAR_RESOURCE_ACTIONS: readonly string[] = [
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
];

/** The state machine role: invoke exactly its Task functions, and deliver its logs. */
export function workflowStatements(plan: Plan, workflow: string, account: string): Statement[] {
  const w = plan.workflows.find((x) => x.name === workflow) ?? missing('workflow', workflow);
  const a = arns(plan, account);
  return [
    { effect: 'allow', actions: ['lambda:InvokeFunction'], resources: [...new Set(w.tasks)].map((t) => a.fn(t)) },
    { effect: 'allow', actions: [...STAR_RESOURCE_ACTIONS], resources: ['*'] },
  ];
}

/** The role EventBridge assumes to start a scheduled workflow's executions. */
export function scheduleStatements(plan: Plan, schedule: string, account: string): Statement[] {
  const s = plan.schedules.find((x) => x.name === schedule) ?? missing('schedule', schedule);
  if (!('workflow' in s.target)) return [];
  return [{ effect: 'allow', actions: [...WORKFLOW_START_ACTIONS], resources: [arns(plan, account).stateMachine(s.target.workflow)] }];
}

// ---- Helpers for the SST modules ----------------------------------------------------------

/** Pulumi logical names: `fan-out-worker` → `FanOutWorker`. */
export function logicalName(...parts: (string | number)[]): string {
  return parts
    .flatMap((p) => String(p).split(/[^A-Za-z0-9]+/))
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
}

/** The arguments of aws.dynamodb.Table for one shard table, derived from the same
 *  CreateTableInput the local stack creates (shared/declarations/tables.ts createTableInput). */
export function tableArgs(t: TablePlan) {
  const input = createTableInput(t.def, t.name);
  const key = (schema: { AttributeName?: string; KeyType?: string }[] | undefined, type: 'HASH' | 'RANGE') =>
    schema?.find((k) => k.KeyType === type)?.AttributeName;
  return {
    name: t.name,
    billingMode: input.BillingMode ?? 'PAY_PER_REQUEST',
    hashKey: key(input.KeySchema, 'HASH')!,
    rangeKey: key(input.KeySchema, 'RANGE'),
    attributes: (input.AttributeDefinitions ?? []).map((a) => ({ name: a.AttributeName!, type: a.AttributeType! })),
    globalSecondaryIndexes: (input.GlobalSecondaryIndexes ?? []).map((i) => ({
      name: i.IndexName!,
      hashKey: key(i.KeySchema, 'HASH')!,
      rangeKey: key(i.KeySchema, 'RANGE'),
      projectionType: i.Projection?.ProjectionType ?? 'ALL',
    })),
    localSecondaryIndexes: (input.LocalSecondaryIndexes ?? []).map((i) => ({
      name: i.IndexName!,
      rangeKey: key(i.KeySchema, 'RANGE')!,
      projectionType: i.Projection?.ProjectionType ?? 'ALL',
    })),
    streamEnabled: input.StreamSpecification?.StreamEnabled ?? false,
    streamViewType: input.StreamSpecification?.StreamViewType ?? t.streamViewType,
    ttl: t.def.ttlAttribute ? { attributeName: t.def.ttlAttribute, enabled: true } : undefined,
    pointInTimeRecovery: { enabled: t.pointInTimeRecovery },
    deletionProtectionEnabled: t.deletionProtection,
  };
}

/** An IAM policy document of statements (the workflow roles' inline policy). */
export function policyDocument(statements: Statement[]) {
  return {
    Version: '2012-10-17',
    Statement: statements.map((s) => ({
      Effect: 'Allow',
      Action: s.actions,
      Resource: s.resources,
      ...(s.conditions && {
        Condition: s.conditions.reduce<Record<string, Record<string, string[]>>>(
          (acc, c) => ({ ...acc, [c.test]: { ...acc[c.test], [c.variable]: c.values } }),
          {},
        ),
      }),
    })),
  };
}
