// What the stacks declare, checked without Pulumi or AWS: every route, mapping and workflow Task
// points at a real handler; grants and FUNCTIONS agree; and the plan stacks/ deploys (tables,
// queues, functions, mappings, IAM, alarms) says what shared/ declares and grants no more.
import { InvokeStore, InvokeStoreBase } from '@aws/lambda-invoke-store';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, resetConfig } from '../../shared/edge/config.js';
import { dlqName, MAPPINGS, QUEUES, STREAM_FAILURE_QUEUE } from '../../shared/declarations/event-sources.js';
import { FUNCTIONS, type FunctionName } from '../../shared/declarations/functions.js';
import { actionsFor, CONTROL_TABLE_ACTIONS, grantedAccess, GRANTS, INDEX_ACTIONS, QUEUE_CONSUME_ACTIONS, QUEUE_SEND_ACTIONS, STREAM_ACTIONS, WORKFLOW_START_ACTIONS } from '../../shared/declarations/grants.js';
import { loadHandler } from '../../shared/local/lambda.js';
import { REGIONS } from '../../shared/domain/regions.js';
import { ROUTES } from '../../shared/declarations/routes.js';
import { STREAM_VIEW, tableName, TABLES, type Entity } from '../../shared/declarations/tables.js';
import { WORKFLOWS, workflowTasks, type WorkflowName } from '../../workflows/registry.js';
import { bindResources, taskFunctions } from '../../workflows/asl.js';
import { ALARM_METRICS_MAX, alarmPlan, compositeRule, dashboardBody } from '../../stacks/alarm-plan.js';
import {
  API_DEFAULT_THROTTLE,
  RESERVED_CONCURRENCY_BUDGET,
  SQS_MAX_CONCURRENCY_RANGE,
  WRITE_ROUTE_THROTTLE,
  XRAY_STATE_MACHINE_ACTIONS,
} from '../../stacks/guardrails.js';
import { CURSOR_SECRET_RESOURCE } from '../../shared/edge/linked-secret.js';
import { fakeOutput, installFakeSst, resolved, type Created } from '../support/fake-sst.js';
import {
  arns,
  buildPlan,
  functionStatements,
  logicalName,
  physicalTableName,
  policyDocument,
  scheduleStatements,
  STAR_RESOURCE_ACTIONS,
  tableArgs,
  workflowStatements,
  type Plan,
  type Statement,
} from '../../stacks/plan.js';
import { deployTarget, isProductionStage } from '../../stacks/deploy-target.js';
import { rateOf, registeredWorkflows } from '../../stacks/workflow-specs.js';

const ACCOUNT = '123456789012';
const entities = Object.keys(TABLES) as Entity[];
const functionNames = Object.keys(FUNCTIONS) as FunctionName[];
const deployed = functionNames.filter((fn) => FUNCTIONS[fn].deployed);

function planFor(stage: string, env: Record<string, string> = {}): Plan {
  return buildPlan(deployTarget(stage, env), registeredWorkflows(env));
}

/** IAM's wildcard matching of a resource pattern: `*` any run, `?` any one character. */
function iamMatch(pattern: string, arn: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(arn);
}

/** Every resource the stage has that a statement could name, with concrete stream labels. */
function universe(plan: Plan): string[] {
  const a = arns(plan, ACCOUNT);
  return [
    ...plan.tables.flatMap((t) => {
      const arn = a.table(t.name);
      return [arn, `${arn}/stream/2026-01-01T00:00:00.000`, ...[...t.def.globalIndexes, ...t.def.localIndexes].map((i) => `${arn}/index/${i.name}`)];
    }),
    a.controlTable(),
    ...plan.queues.map((q) => a.queue(q.key)),
    ...plan.workflows.map((w) => a.stateMachine(w.name)),
    ...plan.functions.map((f) => a.fn(f.fn)),
  ];
}

/** (action resource) pairs a set of statements allows over the stage's resources. */
function allowed(statements: Statement[], resources: string[]): Set<string> {
  const out = new Set<string>();
  for (const s of statements) for (const action of s.actions) for (const r of resources) if (s.resources.some((p) => iamMatch(p, r))) out.add(`${action} ${r}`);
  return out;
}

afterEach(() => resetConfig());

describe('declarations point at real handlers', () => {
  it.each(functionNames)('%s exports a handler', async (fn) => {
    // Loaded inside an invocation scope, as Lambda's runtime initialises a module (the batch
    // processors of queue and stream consumers need one).
    const store = await InvokeStore.getInstanceAsync();
    const handler = await store.run({ [InvokeStoreBase.PROTECTED_KEYS.REQUEST_ID]: 'init' }, () => loadHandler(fn));
    expect(typeof handler).toBe('function');
  });

  it('every route and mapping names a declared function, and deployed routes name deployed ones', () => {
    for (const r of ROUTES) {
      expect(FUNCTIONS, `${r.method} ${r.path}`).toHaveProperty([r.fn]);
      if (!r.localOnly) expect(FUNCTIONS[r.fn].deployed, `${r.method} ${r.path}`).toBe(true);
    }
    for (const m of MAPPINGS) expect(FUNCTIONS[m.fn].deployed, `mapping to ${m.fn}`).toBe(true);
  });

  it('every Task of every workflow names a deployed function', () => {
    for (const name of Object.keys(WORKFLOWS) as WorkflowName[]) {
      const tasks = workflowTasks(name);
      expect(tasks.length, name).toBeGreaterThan(0);
      for (const t of tasks) expect(FUNCTIONS[t]?.deployed, `${name} → ${t}`).toBe(true);
    }
  });
});

describe('grants agree with the declarations', () => {
  it('every function has a grant and every grant a function', () => {
    expect(Object.keys(GRANTS).sort()).toEqual([...functionNames].sort());
  });

  it('every table and index a grant names exists in shared/declarations/tables.ts', () => {
    for (const [fn, g] of Object.entries(GRANTS)) {
      for (const [entity, t] of Object.entries(g.tables)) {
        expect(TABLES, `${fn}`).toHaveProperty([entity]);
        const indexes = [...TABLES[entity as Entity].globalIndexes, ...TABLES[entity as Entity].localIndexes].map((i) => i.name);
        for (const i of t?.indexes ?? []) expect(indexes, `${fn} ${entity}`).toContain(i);
        expect(grantedAccess(t ?? {}) !== undefined || (t?.indexes ?? []).length > 0, `${fn} ${entity} grants nothing`).toBe(true);
      }
    }
  });

  it('streams and consumed queues are exactly the event-source mappings', () => {
    for (const fn of functionNames) {
      const streams = MAPPINGS.filter((m) => m.kind === 'stream' && m.fn === fn).map((m) => (m.kind === 'stream' ? m.entity : ''));
      const queues = MAPPINGS.filter((m) => m.kind === 'queue' && m.fn === fn).map((m) => (m.kind === 'queue' ? m.queue : ''));
      expect([...GRANTS[fn].streams].sort(), fn).toEqual(streams.sort());
      expect([...GRANTS[fn].consumes].sort(), fn).toEqual(queues.sort());
    }
  });

  it('workflows a function starts exist', () => {
    for (const fn of functionNames) for (const w of GRANTS[fn].startsWorkflows) expect(WORKFLOWS, fn).toHaveProperty([w]);
  });
});

describe('the stage: region, production, settings', () => {
  it('production is the stage `production` or any stage starting with `prod`', () => {
    expect(['production', 'prod', 'prod-eu-west-1'].map(isProductionStage)).toEqual([true, true, true]);
    expect(['dev', 'staging', 'alice', 'preprod'].map(isProductionStage)).toEqual([false, false, false, false]);
  });

  it('takes the region from the stage suffix or FEED_REGION, and checks it', () => {
    expect(deployTarget('prod-eu-west-1', {}).region).toBe('eu-west-1');
    expect(deployTarget('production', { FEED_REGION: 'sa-east-1' }).region).toBe('sa-east-1');
    expect(deployTarget('dev', {}).region).toBe('us-east-1');
    expect(() => deployTarget('production', {})).toThrow(/name their region/);
    expect(() => deployTarget('dev', { FEED_REGION: 'mars-1' })).toThrow(/FEED_REGION=mars-1/);
    expect(() => deployTarget('prod-eu-west-1', { FEED_REGION: 'us-east-1' })).toThrow(/differs|but FEED_REGION/);
    for (const r of REGIONS) expect(deployTarget(`prod-${r.name}`, {}).region).toBe(r.name);
  });

  it('validates shards and JWT settings, and passes product settings through', () => {
    expect(() => deployTarget('dev', { FEED_SHARDS: '24' })).toThrow(/FEED_SHARDS/);
    expect(() => deployTarget('dev', { FEED_JWT_ISSUER: 'https://issuer.example' })).toThrow(/both/);
    expect(() => deployTarget('dev', { FEED_JWT_ISSUER: 'http://x', FEED_JWT_AUDIENCE: 'a' })).toThrow(/https/);
    expect(deployTarget('dev', { FEED_JWT_ISSUER: 'https://i.example/', FEED_JWT_AUDIENCE: 'a, b' }).jwt).toEqual({ issuer: 'https://i.example/', audiences: ['a', 'b'] });
    expect(() => deployTarget('dev', { FEED_FOLLOW_BACKFILL: '9999' })).toThrow(/FEED_FOLLOW_BACKFILL/);
    const plan = planFor('dev', { FEED_FOLLOW_BACKFILL: '50', FEED_JWT_ISSUER: 'https://i.example/', FEED_JWT_AUDIENCE: 'a' });
    for (const f of plan.functions) {
      expect(f.environment.FEED_FOLLOW_BACKFILL).toBe('50');
      expect(f.environment).not.toHaveProperty('FEED_JWT_ISSUER');
    }
  });
});

describe('tables', () => {
  it('are every entity × FEED_SHARDS, named as shared/declarations/tables.ts tableName() names them', () => {
    const plan = planFor('dev', { FEED_SHARDS: '64' });
    expect(plan.tables).toHaveLength(entities.length * 64);
    process.env.FEED_TABLE_PREFIX = plan.target.tablePrefix;
    try {
      resetConfig();
      for (const t of plan.tables) expect(t.name).toBe(tableName(t.entity, t.shard));
    } finally {
      delete process.env.FEED_TABLE_PREFIX;
    }
    expect(loadConfig({ FEED_LOCAL: '1', FEED_TABLE_PREFIX: plan.target.tablePrefix }).FEED_TABLE_PREFIX).toBe('feedscale-dev-');
    expect(physicalTableName('p-', 'users', 3)).toBe(`p-${TABLES.users.baseName}_3`);
  });

  it('stream new and old images, expire by TTL where declared, bill on demand, and carry their indexes', () => {
    for (const t of planFor('dev').tables) {
      const args = tableArgs(t);
      expect(args).toMatchObject({ billingMode: 'PAY_PER_REQUEST', streamEnabled: true, streamViewType: STREAM_VIEW, hashKey: t.def.partitionKey.name });
      expect(args.rangeKey).toBe(t.def.sortKey?.name);
      expect(args.ttl).toEqual(t.def.ttlAttribute ? { attributeName: t.def.ttlAttribute, enabled: true } : undefined);
      expect(args.globalSecondaryIndexes.map((i) => i.name)).toEqual(t.def.globalIndexes.map((i) => i.name));
      expect(args.localSecondaryIndexes.map((i) => i.name)).toEqual(t.def.localIndexes.map((i) => i.name));
    }
  });

  it('get point-in-time recovery and deletion protection on production stages only', () => {
    for (const t of planFor('prod-eu-west-1').tables) {
      expect(tableArgs(t)).toMatchObject({ pointInTimeRecovery: { enabled: true }, deletionProtectionEnabled: true });
    }
    expect(planFor('prod-eu-west-1').target.production).toBe(true);
    for (const t of planFor('dev').tables) {
      expect(tableArgs(t)).toMatchObject({ pointInTimeRecovery: { enabled: false }, deletionProtectionEnabled: false });
    }
  });
});

describe('queues, functions, routes, mappings', () => {
  const plan = planFor('dev');

  it('give every queue a dead-letter queue after maxReceiveCount receives, plus the stream-failure queue', () => {
    for (const [name, spec] of Object.entries(QUEUES)) {
      const q = plan.queues.find((x) => x.key === name);
      expect(q?.redrive).toEqual({ deadLetterKey: dlqName(name), maxReceiveCount: spec.maxReceiveCount });
      expect(q?.visibilityTimeoutSeconds).toBe(spec.visibilityTimeoutSeconds);
      expect(plan.queues.find((x) => x.key === dlqName(name))?.kind).toBe('dead-letter');
    }
    expect(plan.queues.find((x) => x.key === STREAM_FAILURE_QUEUE)?.kind).toBe('stream-failures');
  });

  it('deploy one Lambda per deployed function, sized as declared, with its queue and workflow variables', () => {
    expect(plan.functions.map((f) => f.fn).sort()).toEqual([...deployed].sort());
    for (const f of plan.functions) {
      expect(f).toMatchObject({ memoryMB: FUNCTIONS[f.fn].memoryMB, timeoutSeconds: FUNCTIONS[f.fn].timeoutSeconds, vpc: GRANTS[f.fn].redis });
      expect(f.handler).toBe(FUNCTIONS[f.fn].file.replace(/\.ts$/, '.handler'));
      expect(f.environment).toMatchObject({ FEED_TABLE_PREFIX: 'feedscale-dev-', FEED_SHARDS: '32', POWERTOOLS_SERVICE_NAME: 'feedscale', POWERTOOLS_METRICS_NAMESPACE: 'feedscale' });
      expect(Object.values(f.queueUrls).sort()).toEqual([...GRANTS[f.fn].sendsTo].sort());
      expect(Object.values(f.stateMachineArns).sort()).toEqual([...GRANTS[f.fn].startsWorkflows].sort());
    }
  });

  it('route every non-local route, and no local-only one', () => {
    expect(plan.routes.map((r) => r.routeKey).sort()).toEqual(ROUTES.filter((r) => !r.localOnly).map((r) => `${r.method} ${r.path}`).sort());
    for (const r of plan.routes) expect(r.auth).toBe(ROUTES.find((x) => `${x.method} ${x.path}` === r.routeKey)!.auth);
  });

  it('map the stream of every table the stage creates and every queue with the declared batch, retry and failure settings', () => {
    for (const m of MAPPINGS) {
      const mine = plan.mappings.filter((p) => p.fn === m.fn);
      if (m.kind === 'stream') {
        const streams = mine.flatMap((p) => (p.kind === 'stream' && p.entity === m.entity ? [p] : []));
        expect(streams.map((s) => s.table).sort()).toEqual(plan.tables.filter((t) => t.entity === m.entity).map((t) => t.name).sort());
        for (const s of streams) {
          expect(s).toMatchObject({ batchSize: m.batchSize, maximumRetryAttempts: m.maxRetries, bisectBatchOnFunctionError: m.bisectOnError, startingPosition: m.startingPosition, onFailureQueue: STREAM_FAILURE_QUEUE, functionResponseTypes: ['ReportBatchItemFailures'] });
        }
      } else {
        expect(mine.find((p) => p.kind === 'queue' && p.queue === m.queue)).toMatchObject({ batchSize: m.batchSize, maximumBatchingWindowInSeconds: m.maxBatchingWindowSeconds, functionResponseTypes: ['ReportBatchItemFailures'] });
      }
    }
  });
});

describe('IAM', () => {
  const plan = planFor('prod-eu-west-1');
  const all = universe(plan);
  const a = arns(plan, ACCOUNT);

  it('grants no "*" action, and "*" resources only for the documented log-delivery and X-Ray actions', () => {
    const statements = [
      ...plan.functions.flatMap((f) => functionStatements(plan, f.fn, ACCOUNT)),
      ...plan.workflows.flatMap((w) => workflowStatements(plan, w.name, ACCOUNT)),
      ...plan.schedules.flatMap((s) => scheduleStatements(plan, s.name, ACCOUNT)),
    ];
    for (const s of statements) {
      for (const action of s.actions) expect(action).not.toContain('*');
      if (s.resources.includes('*')) expect(s.actions.every((x) => STAR_RESOURCE_ACTIONS.includes(x))).toBe(true);
    }
    for (const f of plan.functions) for (const s of functionStatements(plan, f.fn, ACCOUNT)) expect(s.resources).not.toContain('*');
  });

  it.each(deployed)("%s's role allows exactly what its grant says", (fn) => {
    const g = GRANTS[fn];
    const expected = new Set<string>();
    const add = (actions: readonly string[], resources: string[]) => {
      for (const x of actions) for (const r of resources) expected.add(`${x} ${r}`);
    };
    for (const [entity, t] of Object.entries(g.tables) as [Entity, NonNullable<(typeof g.tables)[Entity]>][]) {
      const tables = plan.tables.filter((x) => x.entity === entity).map((x) => a.table(x.name));
      const access = grantedAccess(t);
      if (access) add(actionsFor(access), tables);
      add(INDEX_ACTIONS, tables.flatMap((x) => (t.indexes ?? []).map((i) => `${x}/index/${i}`)));
    }
    for (const entity of g.streams) add(STREAM_ACTIONS, plan.tables.filter((x) => x.entity === entity).map((x) => `${a.table(x.name)}/stream/2026-01-01T00:00:00.000`));
    if (g.streams.length > 0) add(QUEUE_SEND_ACTIONS, [a.queue(STREAM_FAILURE_QUEUE)]);
    // Every function reads the shard map, whatever its grant.
    add(CONTROL_TABLE_ACTIONS, [a.controlTable()]);
    add(QUEUE_SEND_ACTIONS, g.sendsTo.map((q) => a.queue(q)));
    add(QUEUE_CONSUME_ACTIONS, g.consumes.map((q) => a.queue(q)));
    add(WORKFLOW_START_ACTIONS, g.startsWorkflows.map((w) => a.stateMachine(w)));
    expect([...allowed(functionStatements(plan, fn, ACCOUNT), all)].sort()).toEqual([...expected].sort());
  });

  it("the table patterns match no other stage's tables", () => {
    const other = planFor('prod-eu-west-1-b', { FEED_REGION: 'eu-west-1' });
    const foreign = [...other.tables.map((t) => a.table(t.name)), a.table(other.control.name)];
    for (const f of plan.functions) expect(allowed(functionStatements(plan, f.fn, ACCOUNT), foreign).size, f.fn).toBe(0);
  });

  it("stay inside IAM's 10,240-character limit for a role's inline policies, at any shard count", () => {
    for (const shards of ['16', '4096']) {
      const p = planFor('prod-ap-southeast-1', { FEED_SHARDS: shards });
      for (const f of p.functions) expect(JSON.stringify(policyDocument(functionStatements(p, f.fn, ACCOUNT))).length, f.fn).toBeLessThan(10_240);
    }
  });

  it('lets each state machine invoke exactly its Task functions', () => {
    expect(plan.workflows.length).toBeGreaterThan(0);
    for (const w of plan.workflows) {
      const invoke = [...allowed(workflowStatements(plan, w.name, ACCOUNT), all)].filter((x) => x.startsWith('lambda:'));
      expect(invoke.sort()).toEqual(taskFunctions(w.definition).map((t) => `lambda:InvokeFunction ${a.fn(t)}`).sort());
    }
  });
});

describe('workflows and schedules', () => {
  it('deploys every registered workflow with its Task resources bound to function ARNs', () => {
    const plan = planFor('dev');
    expect(plan.workflows.map((w) => w.name).sort()).toEqual(Object.keys(WORKFLOWS).sort());
    for (const w of plan.workflows) {
      const bound = bindResources(w.definition, (fn) => arns(plan, ACCOUNT).fn(fn));
      expect(bound).not.toContain('${fn:');
      for (const t of w.tasks) expect(bound).toContain(`function:feedscale-dev-${t}`);
    }
  });

  it('refuses a workflow whose declared tasks differ from its definition, or name an undeployed function', () => {
    const target = deployTarget('dev', {});
    const definition = { StartAt: 'A', States: { A: { Type: 'Task', Resource: '${fn:get-feed}', End: true } } };
    expect(() => buildPlan(target, { workflows: [{ name: 'x', definition, tasks: [] }] })).toThrow(/differ/);
    const local = { StartAt: 'A', States: { A: { Type: 'Task', Resource: '${fn:dev-token}', End: true } } };
    expect(() => buildPlan(target, { workflows: [{ name: 'x', definition: local, tasks: ['dev-token'] }] })).toThrow(/not a deployed function/);
  });

  it('schedules periodic workflows in whole minutes, starting exactly that state machine', () => {
    const plan = planFor('dev');
    for (const s of plan.schedules) {
      expect(s.expression).toMatch(/^rate\(\d+ minutes?\)$/);
      const target = s.target as { workflow: string };
      expect(scheduleStatements(plan, s.name, ACCOUNT)).toEqual([{ effect: 'allow', actions: ['states:StartExecution'], resources: [arns(plan, ACCOUNT).stateMachine(target.workflow)] }]);
    }
    expect(rateOf(1800)).toBe('rate(30 minutes)');
    expect(rateOf(60)).toBe('rate(1 minute)');
    expect(() => rateOf(90)).toThrow();
  });
});

describe('alarms and dashboard', () => {
  const plan = planFor('prod-eu-west-1');
  const alarms = alarmPlan(plan, { apiId: 'api123', stateMachineArn: (w) => arns(plan, ACCOUNT).stateMachine(w) });

  it('keep every alarm within CloudWatch limits', () => {
    for (const x of alarms.alarms) {
      expect(x.queries.filter((q) => q.metric).length, x.name).toBeLessThanOrEqual(ALARM_METRICS_MAX);
      expect(x.queries.filter((q) => q.returnData), x.name).toHaveLength(1);
      expect(x.description.length, x.name).toBeLessThanOrEqual(1024);
      expect(x.name.length).toBeLessThanOrEqual(255);
    }
  });

  it('alarm on every dead-letter and stream-failure queue and every workflow', () => {
    const names = alarms.alarms.map((x) => x.name);
    for (const q of plan.queues.filter((x) => x.kind !== 'jobs')) expect(names).toContain(`feedscale-prod-eu-west-1-dead-letters-${q.key}`);
    for (const w of plan.workflows) expect(names).toContain(`feedscale-prod-eu-west-1-workflow-failed-${w.name}`);
    for (const key of ['feed-latency', 'api-errors', 'cache-hit-rate']) expect(alarms.alarms.map((x) => x.key)).toContain(key);
  });

  it('sum throttling over every shard table exactly once, behind one composite alarm', () => {
    const parts = alarms.alarms.filter((x) => x.key.startsWith('dynamodb-throttles-'));
    const tables = parts.flatMap((x) => x.queries.flatMap((q) => (q.metric ? [q.metric.dimensions.TableName] : [])));
    expect(new Set(tables)).toEqual(new Set(plan.tables.map((t) => t.name)));
    expect(tables).toHaveLength(plan.tables.length * 2);
    for (const p of parts) expect(p.notify).toBe(false);
    const composite = alarms.composites.find((c) => c.key === 'dynamodb-throttles')!;
    expect(composite.children).toEqual(parts.map((p) => p.name));
    expect(compositeRule(composite).length).toBeLessThanOrEqual(10_240);
  });

  it('build one dashboard with the alarms and their graphs', () => {
    const body = dashboardBody(plan, alarms, (n) => `arn:aws:cloudwatch:eu-west-1:${ACCOUNT}:alarm:${n}`);
    const widgets = (body as { widgets: { type: string; properties: { alarms?: string[] } }[] }).widgets;
    expect(widgets[0]!.properties.alarms).toHaveLength(alarms.alarms.filter((x) => x.notify).length + alarms.composites.length);
    expect(widgets.filter((w) => w.type === 'metric').length).toBeGreaterThan(alarms.alarms.filter((x) => x.notify).length);
    expect(JSON.stringify(body).length).toBeLessThan(1_000_000);
  });
});

describe('tracing', () => {
  const plan = planFor('prod-eu-west-1');

  it('traces every Lambda actively, its role writing segments through AWS\'s X-Ray policy rather than a "*" statement', () => {
    for (const f of plan.functions) {
      expect(f.tracing, f.fn).toBe('Active');
      expect(f.managedPolicies, f.fn).toContain('arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess');
      for (const st of functionStatements(plan, f.fn, ACCOUNT)) expect(st.actions.some((x) => x.startsWith('xray:')), f.fn).toBe(false);
    }
  });

  it('traces every state machine, its role allowed to write X-Ray segments', () => {
    expect(plan.workflows.length).toBeGreaterThan(0);
    for (const w of plan.workflows) {
      expect(w.tracing, w.name).toBe(true);
      const xray = workflowStatements(plan, w.name, ACCOUNT).find((st) => st.actions.some((x) => x.startsWith('xray:')));
      expect(xray, w.name).toEqual({ effect: 'allow', actions: [...XRAY_STATE_MACHINE_ACTIONS], resources: ['*'] });
    }
  });

  it('records that the HTTP API has no X-Ray (HTTP APIs do not support it)', () => {
    expect(plan.api.xrayTracing).toBe(false);
  });
});

describe('deployed guardrails', () => {
  const plan = planFor('prod-eu-west-1');
  const reservedOf = (fn: FunctionName) => plan.functions.find((f) => f.fn === fn)?.reservedConcurrency;
  const writes = plan.routes.filter((r) => !r.routeKey.startsWith('GET '));

  it('throttle every route of the stage within half the account-wide API Gateway quota', () => {
    expect(plan.api.defaultThrottle).toEqual(API_DEFAULT_THROTTLE);
    expect(plan.api.defaultThrottle.rateLimit).toBeLessThanOrEqual(10_000 / 2);
    expect(plan.api.defaultThrottle.burstLimit).toBeLessThanOrEqual(5_000 / 2);
  });

  it('throttle each write route tighter than the stage default, and leave reads on the default', () => {
    expect(writes.map((r) => r.routeKey)).toEqual(expect.arrayContaining(['POST /v1/posts', 'DELETE /v1/posts/{postId}', 'PUT /v1/users/{userId}/follow']));
    for (const r of plan.routes) {
      if (writes.includes(r)) {
        expect(r.throttle, r.routeKey).toEqual(WRITE_ROUTE_THROTTLE);
        expect(r.throttle!.rateLimit).toBeLessThan(plan.api.defaultThrottle.rateLimit);
      } else {
        expect(r.throttle, r.routeKey).toBeUndefined();
      }
    }
  });

  it('reserve concurrency for the post and follow writes and the fan-out consumers, as declared, within the account budget', () => {
    for (const fn of ['create-post', 'delete-post', 'follow-user', 'unfollow-user', 'fan-out-worker', 'notification-collector'] as const) {
      expect(reservedOf(fn), fn).toBeGreaterThan(0);
      expect(reservedOf(fn)).toBe((FUNCTIONS[fn] as { reservedConcurrency?: number }).reservedConcurrency);
    }
    // A stream consumer runs one batch per stream shard: a reservation below the shard count would stall shards.
    expect(reservedOf('post-router')).toBeUndefined();
    expect(plan.functions.reduce((sum, f) => sum + (f.reservedConcurrency ?? 0), 0)).toBeLessThanOrEqual(RESERVED_CONCURRENCY_BUDGET);
  });

  it('cap each queue mapping\'s concurrency as declared, within Lambda\'s range and the consumer\'s reservation', () => {
    const queueMappings = plan.mappings.filter((m) => m.kind === 'queue');
    expect(queueMappings).toHaveLength(MAPPINGS.filter((m) => m.kind === 'queue').length);
    for (const m of queueMappings) {
      const declared = MAPPINGS.find((d) => d.kind === 'queue' && d.queue === m.queue) as { maxConcurrency: number };
      expect(m.maximumConcurrency, m.id).toBe(declared.maxConcurrency);
      expect(m.maximumConcurrency).toBeGreaterThanOrEqual(SQS_MAX_CONCURRENCY_RANGE.min);
      expect(m.maximumConcurrency).toBeLessThanOrEqual(Math.min(SQS_MAX_CONCURRENCY_RANGE.max, reservedOf(m.fn) ?? Infinity));
    }
  });

  it('deliver only new and deleted posts to post-router: modified posts never invoke it', () => {
    const streams = plan.mappings.filter((m) => m.kind === 'stream' && m.fn === 'post-router');
    expect(streams).toHaveLength(plan.target.shards);
    for (const m of streams) {
      if (m.kind !== 'stream') continue;
      expect(m.filters.map((f) => JSON.parse(f.pattern))).toEqual([{ eventName: ['INSERT', 'REMOVE'] }]);
    }
  });

  it('link the cursor secret to every function instead of putting it in the environment', () => {
    for (const f of plan.functions) {
      expect(f.links, f.fn).toEqual([CURSOR_SECRET_RESOURCE]);
      expect(Object.keys(f.environment), f.fn).not.toContain('FEED_CURSOR_SECRET');
    }
  });
});

describe('the SST modules deploy what the plan says (run against recording stand-ins for SST)', () => {
  const plan = planFor('prod-eu-west-1');
  type Args = Record<string, any>;
  /** stacks/<name>.ts, imported by a computed path: those modules are typed against SST's globals
   *  (npm run typecheck:sst), which this project's tsconfig does not load. */
  const stack = (name: string): Promise<any> => import(/* @vite-ignore */ `../../stacks/${name}.js`);
  const of = (created: Created[], type: string) => created.filter((c) => c.type === type);

  async function deployFunctions(): Promise<{ created: Created[]; functions: Map<string, unknown>; secret: unknown }> {
    const created = installFakeSst();
    const { deployFunctions } = await stack('functions');
    const secret: unknown = new (globalThis as any).sst.Secret(CURSOR_SECRET_RESOURCE);
    const secrets = new Map([[CURSOR_SECRET_RESOURCE, secret]]);
    const queues = new Map(plan.queues.map((q) => [q.key, new (globalThis as any).aws.lambda.EventSourceMapping(`queue-${q.key}`)]));
    const cache = { url: fakeOutput('rediss://cache:6379'), vpc: {} };
    const functions = deployFunctions(plan, { account: fakeOutput(ACCOUNT), queues, cache, secrets, jwt: { issuer: 'https://issuer', audiences: ['aud'] } });
    return { created, functions, secret };
  }

  it('creates each Lambda with active tracing, X-Ray write access, its reserved concurrency and the linked cursor secret', async () => {
    const { created, secret } = await deployFunctions();
    const fns = of(created, 'sst.aws.Function');
    expect(fns).toHaveLength(plan.functions.length);
    for (const f of plan.functions) {
      const args = fns.find((c) => c.args.name === f.name)!.args as Args;
      const lambdaArgs: Args = {};
      args.transform.function(lambdaArgs);
      expect(lambdaArgs.tracingConfig, f.fn).toEqual({ mode: 'Active' });
      expect(args.policies).toEqual(f.managedPolicies);
      expect(args.concurrency?.reserved, f.fn).toBe(f.reservedConcurrency);
      expect(args.link).toEqual([secret]);
      expect(args.link[0]).toBe(secret);
      expect(Object.keys(args.environment)).not.toContain('FEED_CURSOR_SECRET');
    }
  });

  it('throttles the API stage by default and the write routes tighter, once the routes exist', async () => {
    const { created, functions } = await deployFunctions();
    const { deployApi } = await stack('api');
    deployApi(plan, functions, { issuer: 'https://issuer', audiences: ['aud'] });
    const stage = of(created, 'stage')[0]!.args as Args;
    expect(stage.defaultRouteSettings).toEqual({ throttlingRateLimit: API_DEFAULT_THROTTLE.rateLimit, throttlingBurstLimit: API_DEFAULT_THROTTLE.burstLimit });
    const settings = (await resolved(stage.routeSettings)) as Args[];
    expect(settings.map((x) => x.routeKey).sort()).toEqual(plan.routes.filter((r) => r.throttle).map((r) => r.routeKey).sort());
    for (const x of settings) expect(x).toMatchObject({ throttlingRateLimit: WRITE_ROUTE_THROTTLE.rateLimit, throttlingBurstLimit: WRITE_ROUTE_THROTTLE.burstLimit });
    expect(of(created, 'route')).toHaveLength(plan.routes.length);
  });

  it('caps queue mappings\' concurrency and filters the posts stream mappings', async () => {
    const { created, functions } = await deployFunctions();
    const { deployMappings } = await stack('mappings');
    const tables = new Map(plan.tables.map((t) => [t.name, { streamArn: fakeOutput(`arn:stream:${t.name}`) }]));
    const queues = new Map(plan.queues.map((q) => [q.key, { arn: fakeOutput(`arn:sqs:${q.key}`) }]));
    deployMappings(plan, functions, tables, queues);
    const mappings = of(created, 'aws.lambda.EventSourceMapping').filter((c) => c.name.startsWith('Mapping'));
    expect(mappings).toHaveLength(plan.mappings.length);
    for (const m of plan.mappings) {
      const args = mappings.find((c) => c.name === logicalName('Mapping', m.id))!.args as Args;
      if (m.kind === 'queue') expect(args.scalingConfig).toEqual({ maximumConcurrency: m.maximumConcurrency });
      else expect(args.filterCriteria).toEqual({ filters: m.filters });
    }
  });

  it('enables X-Ray tracing on every state machine', async () => {
    const { created, functions } = await deployFunctions();
    const { deployWorkflows } = await stack('workflows');
    deployWorkflows(plan, functions, fakeOutput(ACCOUNT));
    const machines = of(created, 'aws.sfn.StateMachine');
    expect(machines).toHaveLength(plan.workflows.length);
    for (const m of machines) expect(m.args.tracingConfiguration).toEqual({ enabled: true });
  });

  it('invokes scheduled functions through CronV2, not the deprecated Cron', async () => {
    const registered = registeredWorkflows({});
    const withFnSchedule = buildPlan(deployTarget('dev', {}), { ...registered, schedules: [{ name: 'ping', expression: 'rate(5 minutes)', target: { fn: 'health' } }] });
    const created = installFakeSst();
    const { deploySchedules } = await stack('schedules');
    const functions = new Map([['health', { arn: fakeOutput('arn:health') }]]);
    deploySchedules(withFnSchedule, functions, new Map(), fakeOutput(ACCOUNT));
    expect(of(created, 'sst.aws.CronV2').map((c) => c.args)).toEqual([{ function: functions.get('health')!.arn, schedule: 'rate(5 minutes)' }]);
  });
});
