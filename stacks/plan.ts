// The deployment as plain data, built from the declarations in shared/ (tables × FEED_SHARD_TABLES,
// the region's control table, queues, functions, routes, event-source mappings, grants,
// workflows, schedules) for one DeployTarget.
// No Pulumi here: the SST modules beside it turn each entry into resources, and
// tests/unit/stacks.test.ts checks names, settings and every IAM statement without deploying.
import { queueUrlVariable } from '../shared/messaging/queue.js';
import { stateMachineArnVariable } from '../shared/messaging/workflow-starts.js';
import { dlqName, MAPPINGS, QUEUES, STREAM_FAILURE_QUEUE, type Mapping, type QueueName } from '../shared/declarations/event-sources.js';
import { FUNCTIONS, type FunctionName, type FunctionSpec } from '../shared/declarations/functions.js';
import {
  actionsFor,
  CONTROL_TABLE_ACTIONS,
  grantedAccess,
  GRANTS,
  INDEX_ACTIONS,
  QUEUE_CONSUME_ACTIONS,
  QUEUE_SEND_ACTIONS,
  STREAM_ACTIONS,
  WORKFLOW_START_ACTIONS,
  type Grant,
} from '../shared/declarations/grants.js';
import { CURSOR_SECRET_RESOURCE } from '../shared/edge/linked-secret.js';
import { SERVICE_NAME } from '../shared/edge/observability.js';
import { ROUTES } from '../shared/declarations/routes.js';
import { controlTableInput, createTableInput, STREAM_VIEW, TABLES, type Entity, type TableDef } from '../shared/declarations/tables.js';
import { tableReplicas, tableSetOf } from '../shared/declarations/row-kinds.js';
import type { RegionName } from '../shared/domain/regions.js';
import { taskFunctions, type Asl } from '../workflows/asl.js';
import {
  API_DEFAULT_THROTTLE,
  API_XRAY_TRACING,
  LAMBDA_TRACING_MODE,
  RESERVED_CONCURRENCY_BUDGET,
  SQS_MAX_CONCURRENCY_RANGE,
  WRITE_METHODS,
  WRITE_ROUTE_THROTTLE,
  XRAY_STATE_MACHINE_ACTIONS,
  XRAY_WRITE_POLICY,
  type Throttle,
} from './guardrails.js';
import { shardTablesProblem, type DeployTarget } from './deploy-target.js';
import { analyticsStatements, planAnalytics, type AnalyticsPlan } from './analytics-plan.js';
import { regionApiUrls } from './routing-plan.js';

/** Every region in shared/domain/regions.ts is in the commercial partition. */
export const PARTITION = 'aws';
/** EMF namespace of the handlers' metrics (Powertools reads POWERTOOLS_METRICS_NAMESPACE). */
export const METRICS_NAMESPACE = SERVICE_NAME;
/** Lambda's limit on function names. */
const FUNCTION_NAME_MAX = 64;
/** Dead letters are kept as long as SQS allows, for investigation and redrive. */
const DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600;
/** The stream-failure queue is never consumed: its visibility timeout only matters to a person
 *  reading it in the console. */
const STREAM_FAILURE_VISIBILITY_SECONDS = 30;

export interface TablePlan {
  entity: Entity;
  shard: number;
  name: string;
  def: TableDef;
  streamViewType: typeof STREAM_VIEW;
  pointInTimeRecovery: boolean;
  deletionProtection: boolean;
  /** The table set whose logical range the table holds (shared/domain/residency.ts). */
  tableSet: string;
  /** Other regions of the network holding a replica (a Global Table): the set's regions for home
   *  data, every region for public content, as shared/declarations/row-kinds.ts declares. */
  replicas: RegionName[];
}

/** The region's control table (shared/declarations/tables.ts controlTableInput): the shard map
 *  and a reshard's state. One per region, created by the region's own stage and never replicated:
 *  each region maps its own logical shards to its own tables. */
export interface ControlTablePlan {
  name: string;
  /** Always empty (see above); kept in the plan so the tests can say so. */
  replicas: RegionName[];
  pointInTimeRecovery: boolean;
  deletionProtection: boolean;
}

/** A table this region holds as a Global Table replica that another region's stage creates: its
 *  stream is this region's own (a replica streams every change, local or replicated), so the
 *  region maps it and alarms on what it replicates out. */
export interface HeldReplicaPlan {
  entity: Entity;
  shard: number;
  name: string;
  tableSet: string;
  /** The region whose stage creates the table (and its replica here). */
  creator: RegionName;
  /** The other holders: the regions this replica's local writes replicate to. */
  peers: RegionName[];
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
  /** Reserved concurrency as declared (shared/declarations/functions.ts); unset: none. */
  reservedConcurrency?: number;
  /** Lambda X-Ray tracing mode. */
  tracing: typeof LAMBDA_TRACING_MODE;
  /** AWS managed policies on the role (X-Ray's write access, which has no resource scoping). */
  managedPolicies: string[];
  /** SST resources linked to the function: sst.Secret names only, whose link grants no IAM
   *  action (a Secret's getSSTLink has no permission include). */
  links: string[];
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

/** Variables whose values exist only at deploy time (authorizer, cache endpoint). The cursor
 *  secret is no variable: it is a linked sst.Secret (LINKED_SECRETS). */
export const DEPLOY_TIME_ENV = {
  jwtIssuer: 'FEED_JWT_ISSUER',
  jwtAudience: 'FEED_JWT_AUDIENCE',
  redisUrl: 'REDIS_URL',
} as const;

/** sst.Secret resources linked to every function: SST encrypts their values into the bundle
 *  (resource.enc, key in SST_KEY), read by shared/edge/linked-secret.ts. */
export const LINKED_SECRETS = { cursor: CURSOR_SECRET_RESOURCE } as const;

export interface RoutePlan {
  routeKey: string;
  fn: FunctionName;
  auth: boolean;
  /** Write routes only: a tighter bucket than the stage default. */
  throttle?: Throttle;
}

/** The HTTP API's stage settings. */
export interface ApiPlan {
  /** Every route's default throttle (the `$default` stage's default route settings). */
  defaultThrottle: Throttle;
  /** Always false: HTTP APIs have no X-Ray tracing (see stacks/guardrails.ts). */
  xrayTracing: boolean;
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
      /** Event-source filter patterns (JSON): a record matching none never invokes the function. */
      filters: { pattern: string }[];
      /** Set when the table is a replica created by that region's stage: its stream ARN is looked
       *  up here, and mapped once the creator has deployed the replica. */
      replicaOf?: RegionName;
    }
  | {
      kind: 'queue';
      id: string;
      fn: FunctionName;
      queue: QueueName;
      batchSize: number;
      maximumBatchingWindowInSeconds: number;
      functionResponseTypes: readonly string[];
      /** Scaling config: the most concurrent invocations this mapping starts. */
      maximumConcurrency: number;
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
  /** X-Ray tracing of executions (Task spans link to the functions' traces). */
  tracing: boolean;
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
  control: ControlTablePlan;
  /** Replicas in this region of tables other regions' stages create. */
  heldReplicas: HeldReplicaPlan[];
  queues: QueuePlan[];
  functions: FunctionPlan[];
  api: ApiPlan;
  routes: RoutePlan[];
  mappings: MappingPlan[];
  workflows: WorkflowPlan[];
  schedules: ScheduleSpec[];
  /** The analytics export: this stage's zone stores and the exporter's destinations. */
  analytics: AnalyticsPlan;
}

export interface Statement {
  effect: 'allow';
  actions: string[];
  resources: string[];
  conditions?: { test: string; variable: string; values: string[] }[];
}

const entities = () => Object.keys(TABLES) as Entity[];
const functionNames = () => Object.keys(FUNCTIONS) as FunctionName[];
/** A function's declaration, widened so optional fields read on every entry. */
const spec = (fn: FunctionName): FunctionSpec => FUNCTIONS[fn];

/** Physical table name; equal to shared/declarations/tables.ts tableName() with FEED_TABLE_PREFIX = prefix
 *  (tests/unit/stacks.test.ts holds them together). */
export function physicalTableName(prefix: string, entity: Entity, shard: number): string {
  return `${prefix}${TABLES[entity].baseName}_${shard}`;
}

/** The control table's name; equal to shared/declarations/tables.ts controlTableName() with
 *  FEED_TABLE_PREFIX = prefix (tests/unit/stacks-shard-tables.test.ts holds them together). */
export function physicalControlTableName(prefix: string): string {
  return `${prefix}Control`;
}

/** Every table index the stage provisions per entity: the initial FEED_SHARDS and the ones a
 *  reshard grows into (FEED_SHARD_TABLES). */
function tableIndexes(target: Pick<DeployTarget, 'shardTables'>): number[] {
  return Array.from({ length: target.shardTables }, (_, shard) => shard);
}

/** What every planner gets: the target, its resource naming and its error. */
interface PlanContext {
  target: DeployTarget;
  /** `<app>-<stage>-<name>`. */
  resource(name: string): string;
  fail(message: string): never;
}

export function buildPlan(
  target: DeployTarget,
  extra: { workflows?: readonly WorkflowSpec[]; schedules?: readonly ScheduleSpec[] } = {},
): Plan {
  const ctx: PlanContext = {
    target,
    resource: (name) => `${target.app}-${target.stage}-${name}`,
    fail: (message) => {
      throw new Error(`feedscale plan (stage ${target.stage}): ${message}`);
    },
  };
  const badTables = shardTablesProblem(target.shardTables, target.shards);
  if (badTables) ctx.fail(`FEED_SHARD_TABLES=${target.shardTables} ${badTables}`);
  const tables = planTables(ctx);
  const control = planControlTable(ctx);
  const heldReplicas = planHeldReplicas(ctx);
  const queues = planQueues(ctx);
  const workflows = planWorkflows(ctx, extra.workflows ?? []);
  const workflowNames = new Set(workflows.map((w) => w.name));
  const functions = planFunctions(ctx, workflowNames);
  const routes = planRoutes(ctx);
  const mappings = planMappings(ctx, tables, heldReplicas, functions);
  const schedules = planSchedules(ctx, extra.schedules ?? [], workflowNames);
  const analytics = planAnalytics(target, new Set(tables.map((t) => t.tableSet)));
  for (const f of functions) if (GRANTS[f.fn].exportsAnalytics) Object.assign(f.environment, analytics.exporterEnv);
  return { target, tables, control, heldReplicas, queues, functions, api: planApi(), routes, mappings, workflows, schedules, analytics };
}

/** The tables this region creates: those whose first deployed holder it is (the set's home
 *  region when deployed), each a Global Table with replicas in the other deployed holders; and,
 *  as a table of its own (no replicas), every table it holds no replica of. Directory rows (token
 *  subjects, handles) are still placed by hash over all tables, so every region needs every
 *  table name; a region's own copy of another set's table holds only what that region writes,
 *  and a set's users are served only where it replicates. */
function planTables({ target }: PlanContext): TablePlan[] {
  return entities().flatMap((entity) =>
    tableIndexes(target).flatMap((shard) => {
      const holders = tableHolders(target, entity, shard);
      const own = !holders.includes(target.region);
      if (!own && holders[0] !== target.region) return [];
      return [
        {
          entity,
          shard,
          name: physicalTableName(target.tablePrefix, entity, shard),
          def: TABLES[entity],
          streamViewType: STREAM_VIEW,
          pointInTimeRecovery: target.production,
          deletionProtection: target.production,
          tableSet: tableSetOf(shard, target.shards).name,
          replicas: own ? [] : holders.slice(1),
        },
      ];
    }),
  );
}

/** The region's control table, protected as the shard tables are on production stages. */
function planControlTable({ target }: PlanContext): ControlTablePlan {
  return {
    name: physicalControlTableName(target.tablePrefix),
    replicas: [],
    pointInTimeRecovery: target.production,
    deletionProtection: target.production,
  };
}

/** Tables this region holds a replica of but does not create (their creator is another holder). */
function planHeldReplicas({ target }: PlanContext): HeldReplicaPlan[] {
  return entities().flatMap((entity) =>
    tableIndexes(target).flatMap((shard) => {
      const holders = tableHolders(target, entity, shard);
      if (!holders.includes(target.region) || holders[0] === target.region) return [];
      return [
        {
          entity,
          shard,
          name: physicalTableName(target.tablePrefix, entity, shard),
          tableSet: tableSetOf(shard, target.shards).name,
          creator: holders[0]!,
          peers: holders.filter((r) => r !== target.region),
        },
      ];
    }),
  );
}

/** Whether a stream mapping also reads the region's replicas of tables created elsewhere. Every
 *  region fans out the posts it holds to its own followers, so the post router reads every
 *  replica; the analytics export reads only the tables the region creates, whose streams already
 *  carry every change made in any region, so each change is exported once. */
export function mapsReplicas(m: Extract<Mapping, { kind: 'stream' }>): boolean {
  return m.fn !== 'analytics-export';
}

/** The mappings a stage can create now: all but those on a replica its creator's stage has not
 *  deployed yet (`existing`: the table names in this region), which wait for the next deploy. */
export function splitReplicaMappings(plan: Plan, existing: ReadonlySet<string>): { ready: MappingPlan[]; pending: MappingPlan[] } {
  const waits = (m: MappingPlan) => m.kind === 'stream' && m.replicaOf !== undefined && !existing.has(m.table);
  return { ready: plan.mappings.filter((m) => !waits(m)), pending: plan.mappings.filter(waits) };
}

/** The deployed regions holding a table, its creator first. */
export function tableHolders(target: Pick<DeployTarget, 'regions' | 'shards'>, entity: Entity, shard: number): RegionName[] {
  return tableReplicas(entity, shard, target.shards).filter((r) => target.regions.includes(r));
}

/** Every table of the network and the regions holding it, for the residency tests and the
 *  deploy summary: what the network's stages together create. */
export function networkTables(target: Pick<DeployTarget, 'regions' | 'shards' | 'shardTables' | 'tablePrefix'>): { name: string; entity: Entity; tableSet: string; regions: RegionName[] }[] {
  return entities().flatMap((entity) =>
    tableIndexes(target).map((shard) => ({
      name: physicalTableName(target.tablePrefix, entity, shard),
      entity,
      tableSet: tableSetOf(shard, target.shards).name,
      regions: tableHolders(target, entity, shard),
    })),
  );
}

function planQueues({ resource, fail }: PlanContext): QueuePlan[] {
  const queues: QueuePlan[] = [];
  for (const [key, q] of Object.entries(QUEUES) as [QueueName, (typeof QUEUES)[QueueName]][]) {
    const consumers = MAPPINGS.filter((m) => m.kind === 'queue' && m.queue === key);
    for (const m of consumers) {
      // Lambda refuses a mapping whose queue hides messages for less than the function runs.
      if (q.visibilityTimeoutSeconds < FUNCTIONS[m.fn].timeoutSeconds) {
        fail(`queue ${key}: visibility timeout ${q.visibilityTimeoutSeconds}s is shorter than ${m.fn}'s timeout`);
      }
    }
    queues.push({
      key,
      name: resource(key),
      kind: 'jobs',
      visibilityTimeoutSeconds: q.visibilityTimeoutSeconds,
      retentionSeconds: q.retentionSeconds,
      redrive: { deadLetterKey: dlqName(key), maxReceiveCount: q.maxReceiveCount },
    });
    queues.push({
      key: dlqName(key),
      name: resource(dlqName(key)),
      kind: 'dead-letter',
      visibilityTimeoutSeconds: q.visibilityTimeoutSeconds,
      retentionSeconds: DEAD_LETTER_RETENTION_SECONDS,
    });
  }
  queues.push({
    key: STREAM_FAILURE_QUEUE,
    name: resource(STREAM_FAILURE_QUEUE),
    kind: 'stream-failures',
    visibilityTimeoutSeconds: STREAM_FAILURE_VISIBILITY_SECONDS,
    retentionSeconds: DEAD_LETTER_RETENTION_SECONDS,
  });
  return queues;
}

function planWorkflows({ resource, fail }: PlanContext, specs: readonly WorkflowSpec[]): WorkflowPlan[] {
  const workflows = specs.map((w) => {
    const refs = taskFunctions(w.definition);
    const declared = [...new Set(w.tasks)].sort();
    if (refs.join() !== declared.join()) {
      fail(`workflow ${w.name}: tasks [${declared}] differ from the definition's \${fn:...} references [${refs}]`);
    }
    for (const t of refs) {
      if (!(t in FUNCTIONS) || !FUNCTIONS[t as FunctionName].deployed) fail(`workflow ${w.name}: task ${t} is not a deployed function`);
    }
    return { ...w, stateMachineName: resource(w.name), tracing: true };
  });
  if (new Set(workflows.map((w) => w.name)).size !== workflows.length) fail('workflow names repeat');
  return workflows;
}

function planFunctions(ctx: PlanContext, workflowNames: ReadonlySet<string>): FunctionPlan[] {
  const { target, resource, fail } = ctx;
  const deployed = functionNames().filter((fn) => FUNCTIONS[fn].deployed);
  const functions = deployed.map((fn): FunctionPlan => {
    const s = spec(fn);
    const grant = GRANTS[fn];
    const name = resource(fn);
    if (name.length > FUNCTION_NAME_MAX) fail(`function name ${name} exceeds ${FUNCTION_NAME_MAX} characters; use a shorter stage name`);
    for (const w of grant.startsWorkflows) if (!workflowNames.has(w)) fail(`${fn} starts unknown workflow ${w}`);
    return {
      fn,
      name,
      handler: `${s.file.replace(/\.ts$/, '')}.handler`,
      memoryMB: s.memoryMB,
      timeoutSeconds: s.timeoutSeconds,
      ...(s.reservedConcurrency !== undefined && { reservedConcurrency: s.reservedConcurrency }),
      tracing: LAMBDA_TRACING_MODE,
      managedPolicies: [XRAY_WRITE_POLICY(PARTITION)],
      links: Object.values(LINKED_SECRETS),
      environment: {
        ...target.settings,
        FEED_TABLE_PREFIX: target.tablePrefix,
        FEED_SHARDS: String(target.shards),
        FEED_REGION: target.region,
        FEED_REGIONS: target.regions.join(','),
        ...regionApiUrls(target),
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      },
      queueUrls: Object.fromEntries(grant.sendsTo.map((q) => [queueUrlVariable(q), q])),
      stateMachineArns: Object.fromEntries(grant.startsWorkflows.map((w) => [stateMachineArnVariable(w), w])),
      grant,
      vpc: grant.redis,
    };
  });
  const reserved = functions.reduce((sum, f) => sum + (f.reservedConcurrency ?? 0), 0);
  if (reserved > RESERVED_CONCURRENCY_BUDGET) fail(`reserved concurrency ${reserved} exceeds the account budget ${RESERVED_CONCURRENCY_BUDGET}`);
  return functions;
}

function planApi(): ApiPlan {
  return { defaultThrottle: { ...API_DEFAULT_THROTTLE }, xrayTracing: API_XRAY_TRACING };
}

function planRoutes({ fail }: PlanContext): RoutePlan[] {
  return ROUTES.filter((r) => !r.localOnly).map((r) => {
    if (!FUNCTIONS[r.fn].deployed) fail(`route ${r.method} ${r.path} is deployed but ${r.fn} is not`);
    const write = WRITE_METHODS.includes(r.method);
    return { routeKey: `${r.method} ${r.path}`, fn: r.fn, auth: r.auth, ...(write && { throttle: { ...WRITE_ROUTE_THROTTLE } }) };
  });
}

/** The event-source filter of a stream mapping: only the declared event names. */
function streamFilters(m: Extract<Mapping, { kind: 'stream' }>): { pattern: string }[] {
  return [{ pattern: JSON.stringify({ eventName: [...m.eventNames] }) }];
}

function planMappings({ fail }: PlanContext, tables: TablePlan[], heldReplicas: HeldReplicaPlan[], functions: FunctionPlan[]): MappingPlan[] {
  return MAPPINGS.flatMap((m): MappingPlan[] => {
    if (m.kind === 'queue') {
      const { min, max } = SQS_MAX_CONCURRENCY_RANGE;
      if (m.maxConcurrency < min || m.maxConcurrency > max) fail(`mapping ${m.fn}-${m.queue}: maximum concurrency ${m.maxConcurrency} is outside ${min}-${max}`);
      const reserved = functions.find((f) => f.fn === m.fn)?.reservedConcurrency;
      // Above the function's reservation the pollers would be throttled, and a throttled
      // message counts a receive toward the dead-letter queue.
      if (reserved !== undefined && m.maxConcurrency > reserved) fail(`mapping ${m.fn}-${m.queue}: maximum concurrency ${m.maxConcurrency} exceeds ${m.fn}'s reserved ${reserved}`);
      return [
        {
          kind: 'queue',
          id: `${m.fn}-${m.queue}`,
          fn: m.fn,
          queue: m.queue,
          batchSize: m.batchSize,
          maximumBatchingWindowInSeconds: m.maxBatchingWindowSeconds,
          functionResponseTypes: RESPONSE_TYPES,
          maximumConcurrency: m.maxConcurrency,
        },
      ];
    }
    if (m.eventNames.length === 0) fail(`mapping ${m.fn}-${m.entity}: a stream filter admitting no event`);
    // A stream mapping per shard table: each table (and each replica) has its own stream.
    const streams: { entity: Entity; shard: number; name: string; replicaOf?: RegionName }[] = [
      ...tables,
      ...(mapsReplicas(m) ? heldReplicas.map((r) => ({ ...r, replicaOf: r.creator })) : []),
    ];
    return streams
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
        filters: streamFilters(m),
        ...(t.replicaOf && { replicaOf: t.replicaOf }),
      }));
  });
}

function planSchedules({ fail }: PlanContext, schedules: readonly ScheduleSpec[], workflowNames: ReadonlySet<string>): ScheduleSpec[] {
  for (const s of schedules) {
    if ('fn' in s.target && !FUNCTIONS[s.target.fn].deployed) fail(`schedule ${s.name} invokes ${s.target.fn}, which is not deployed`);
    if ('workflow' in s.target && !workflowNames.has(s.target.workflow)) fail(`schedule ${s.name} starts unknown workflow ${s.target.workflow}`);
  }
  return [...schedules];
}

// ---- ARNs and IAM ---------------------------------------------------------------------------

export interface Arns {
  table(name: string): string;
  queue(key: string): string;
  fn(fn: FunctionName): string;
  stateMachine(workflow: string): string;
  /** Every shard table of an entity (see tablePatterns). */
  tablePatterns(entity: Entity): string[];
  /** This region's control table (never another region's: each region has its own map). */
  controlTable(): string;
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
    controlTable: () => table(plan.control.name),
    // Tables a function also reaches in other regions of the network: directory claims and cards
    // (store/directory.ts), and notification accumulators of users another region serves.
    tablePatterns: (entity) =>
      tablePatterns(plan, entity).map((name) =>
        plan.target.regions.length > 1 && CROSS_REGION_ENTITIES.has(entity) ? `arn:${PARTITION}:dynamodb:*:${account}:table/${name}` : table(name),
      ),
  };
}

/** Entities whose tables in other regions of the network a function may call directly. */
const CROSS_REGION_ENTITIES: ReadonlySet<Entity> = new Set(['directory', 'notifications']);

function missing(what: string, name: string): never {
  throw new Error(`no ${what} ${name} in the plan`);
}

/** Name patterns covering exactly an entity's shard tables, FEED_SHARD_TABLES of them (the
 *  tables a reshard grows into included): `Users_?` for 0-9, `Users_??` for 10-99, ... One ARN per table would put every role of a 32-shard stage over IAM's 10,240
 *  character limit on a role's inline policies; `?` matches one character, so these patterns
 *  match no other table of this stage or of another stage whose name extends this one. */
export function tablePatterns(plan: Plan, entity: Entity): string[] {
  const digits = String(plan.target.shardTables - 1).length;
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
    const access = grantedAccess(g);
    if (access) allow(actionsFor(access), a.tablePatterns(entity));
    const indexes = g.indexes ?? [];
    allow(INDEX_ACTIONS, a.tablePatterns(entity).flatMap((t) => indexes.map((i) => `${t}/index/${i}`)));
  }
  // Every function routes its DynamoDB calls through the shard map (shared/store/shard-map.ts).
  allow(CONTROL_TABLE_ACTIONS, [a.controlTable()]);
  allow(STREAM_ACTIONS, grant.streams.flatMap((e) => a.tablePatterns(e).map((t) => `${t}/stream/*`)));
  if (grant.streams.length > 0) allow(QUEUE_SEND_ACTIONS, [a.queue(STREAM_FAILURE_QUEUE)]);
  allow(QUEUE_SEND_ACTIONS, grant.sendsTo.map((q) => a.queue(q)));
  allow(QUEUE_CONSUME_ACTIONS, grant.consumes.map((q) => a.queue(q)));
  allow(WORKFLOW_START_ACTIONS, grant.startsWorkflows.map((w) => a.stateMachine(w)));
  if (grant.exportsAnalytics) out.push(...analyticsStatements(plan.analytics, PARTITION, account));
  return out;
}

/** Step Functions delivers execution logs through CloudWatch Logs' log-delivery API, whose
 *  actions have no resource-level permissions: AWS documents Resource "*" for them. */
const LOG_DELIVERY_ACTIONS: readonly string[] = [
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
];

/** The only actions any statement of this plan may grant on "*": log delivery and X-Ray's trace
 *  writes (no resource-level permissions either), both on state machine roles only. */
export const STAR_RESOURCE_ACTIONS: readonly string[] = [...LOG_DELIVERY_ACTIONS, ...XRAY_STATE_MACHINE_ACTIONS];

/** The state machine role: invoke exactly its Task functions, deliver its logs and, when traced,
 *  its X-Ray segments. */
export function workflowStatements(plan: Plan, workflow: string, account: string): Statement[] {
  const w = plan.workflows.find((x) => x.name === workflow) ?? missing('workflow', workflow);
  const a = arns(plan, account);
  return [
    { effect: 'allow', actions: ['lambda:InvokeFunction'], resources: [...new Set(w.tasks)].map((t) => a.fn(t)) },
    { effect: 'allow', actions: [...LOG_DELIVERY_ACTIONS], resources: ['*'] },
    ...(w.tracing ? [{ effect: 'allow' as const, actions: [...XRAY_STATE_MACHINE_ACTIONS], resources: ['*'] }] : []),
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
    // Global Tables (version 2019.11.21): one table, replicated by DynamoDB to these regions with
    // last-writer-wins per item; it needs the NEW_AND_OLD_IMAGES stream above.
    replicas: t.replicas.map((regionName) => ({ regionName, pointInTimeRecovery: t.pointInTimeRecovery, propagateTags: true })),
  };
}

/** The arguments of aws.dynamodb.Table for the control table, from the CreateTableInput the local
 *  stack creates (shared/declarations/tables.ts controlTableInput): no stream, no replicas. */
export function controlTableArgs(c: ControlTablePlan) {
  const input = controlTableInput(c.name);
  const key = (type: 'HASH' | 'RANGE') => input.KeySchema?.find((k) => k.KeyType === type)?.AttributeName;
  return {
    name: c.name,
    billingMode: input.BillingMode ?? 'PAY_PER_REQUEST',
    hashKey: key('HASH')!,
    rangeKey: key('RANGE'),
    attributes: (input.AttributeDefinitions ?? []).map((a) => ({ name: a.AttributeName!, type: a.AttributeType! })),
    streamEnabled: input.StreamSpecification?.StreamEnabled ?? false,
    pointInTimeRecovery: { enabled: c.pointInTimeRecovery },
    deletionProtectionEnabled: c.deletionProtection,
    replicas: c.replicas.map((regionName) => ({ regionName })),
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
