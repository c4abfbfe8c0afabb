// The tables a reshard grows into (FEED_SHARD_TABLES) and the region's control table (the shard
// map), as the plan declares them: grown tables replicate, stream, alarm and are granted exactly as
// the table whose range they split; the control table is one per region, never replicated, and
// every role may only GetItem it.
import { afterEach, describe, expect, it } from 'vitest';
import { MAPPINGS } from '../../shared/declarations/event-sources.js';
import { CONTROL_TABLE_ACTIONS } from '../../shared/declarations/grants.js';
import { controlTableName, TABLES, type Entity } from '../../shared/declarations/tables.js';
import { resetConfig } from '../../shared/edge/config.js';
import { REGIONS, type RegionName } from '../../shared/domain/regions.js';
import { alarmPlan, compositeRule } from '../../stacks/alarm-plan.js';
import { deployTarget } from '../../stacks/deploy-target.js';
import {
  arns,
  buildPlan,
  controlTableArgs,
  functionStatements,
  mapsReplicas,
  networkTables,
  physicalTableName,
  policyDocument,
  type Plan,
  type Statement,
} from '../../stacks/plan.js';
import { replicatedTables } from '../../stacks/replication-alarms.js';
import { networkTopology, topologyProblems } from '../../stacks/topology.js';
import { registeredWorkflows } from '../../stacks/workflow-specs.js';
import { installFakeSst, type Created } from '../support/fake-sst.js';

const ACCOUNT = '123456789012';
const ALL = REGIONS.map((r) => r.name);
const entities = Object.keys(TABLES) as Entity[];
/** The brief's layout: 32 tables at first, provisioned for one doubling. */
const GROWN = { FEED_SHARDS: '32', FEED_SHARD_TABLES: '64' };

const planFor = (stage: string, env: Record<string, string> = {}): Plan => buildPlan(deployTarget(stage, env), registeredWorkflows(env));
const networkPlan = (region: RegionName, env: Record<string, string> = GROWN): Plan =>
  planFor(`dev-${region}`, { FEED_REGIONS: ALL.join(','), ...env });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** IAM's wildcard matching of a resource pattern: `*` any run, `?` any one character. */
function iamMatch(pattern: string, arn: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(arn);
}
/** The actions a role's statements allow on one resource, sorted. */
const actionsOn = (statements: Statement[], arn: string): string[] =>
  [...new Set(statements.flatMap((s) => (s.resources.some((p) => iamMatch(p, arn)) ? s.actions : [])))].sort();

afterEach(() => resetConfig());

describe('FEED_SHARD_TABLES: the tables a reshard grows into', () => {
  it('defaults to FEED_SHARDS, and never reaches the functions, whose FEED_SHARDS stays the initial layout', () => {
    expect(deployTarget('dev', { FEED_SHARDS: '32' }).shardTables).toBe(32);
    const plan = planFor('dev', GROWN);
    expect(plan.target).toMatchObject({ shards: 32, shardTables: 64 });
    for (const f of plan.functions) {
      expect(f.environment.FEED_SHARDS, f.fn).toBe('32');
      expect(f.environment, f.fn).not.toHaveProperty('FEED_SHARD_TABLES');
    }
  });

  it.each(['48', '16', '8192', '64x', '0'])('refuses FEED_SHARD_TABLES=%s over FEED_SHARDS=32 with one line naming it', (value) => {
    expect(() => planFor('dev', { FEED_SHARDS: '32', FEED_SHARD_TABLES: value })).toThrow(new RegExp(`^[^\\n]*FEED_SHARD_TABLES=${value} must be a power of two[^\\n]*$`));
  });

  it('refuses a hand-built target whose table count a reshard cannot reach', () => {
    const target = { ...deployTarget('dev', GROWN), shardTables: 48 };
    expect(() => buildPlan(target, registeredWorkflows({}))).toThrow(/^feedscale plan \(stage dev\): FEED_SHARD_TABLES=48 must be a power of two/);
  });

  it('provisions 64 tables per entity in a one-region stage, named <prefix><Base>_0 .. _63', () => {
    const plan = planFor('dev', GROWN);
    for (const entity of entities) {
      const names = plan.tables.filter((t) => t.entity === entity).map((t) => t.name);
      expect(names).toEqual(range(64).map((i) => physicalTableName('feedscale-dev-', entity, i)));
    }
  });

  it('has every region of the network create or hold a replica of every one of the 64 tables', () => {
    for (const region of ALL) {
      const plan = networkPlan(region);
      for (const entity of entities) {
        const shards = [...plan.tables, ...plan.heldReplicas].filter((t) => t.entity === entity).map((t) => t.shard);
        expect(shards.sort((a, b) => a - b), `${entity} in ${region}`).toEqual(range(64));
      }
    }
  });

  it('replicates table 40 as table 8, whose range it splits: same set, same holders, same creator and replicas', () => {
    const tables = networkTables(deployTarget('dev-us-east-1', { FEED_REGIONS: ALL.join(','), ...GROWN }));
    for (const entity of entities) {
      const of = (shard: number) => tables.find((t) => t.name === physicalTableName('feedscale-dev-', entity, shard))!;
      expect({ set: of(40).tableSet, regions: of(40).regions }).toEqual({ set: of(8).tableSet, regions: of(8).regions });
    }
    // Table 8 of 32 holds logical 1024-1151: the us-west-2 set, replicated to us-east-1.
    const creator = networkPlan('us-west-2');
    const table = (shard: number) => creator.tables.find((t) => t.entity === 'users' && t.shard === shard)!;
    expect(table(40).replicas).toEqual(['us-east-1']);
    expect({ ...table(40), shard: 8, name: '' }).toEqual({ ...table(8), name: '' });
  });

  it('maps the stream of every one of the 64 tables for each stream consumer, replicas where it reads them', () => {
    for (const region of ['us-east-1', 'eu-west-1'] as const) {
      const plan = networkPlan(region);
      for (const m of MAPPINGS) {
        if (m.kind !== 'stream') continue;
        const mapped = plan.mappings.flatMap((p) => (p.kind === 'stream' && p.fn === m.fn && p.entity === m.entity ? [p.table] : []));
        const expected = [...plan.tables, ...(mapsReplicas(m) ? plan.heldReplicas : [])].filter((t) => t.entity === m.entity).map((t) => t.name);
        expect(mapped.sort(), `${m.fn} ${m.entity} in ${region}`).toEqual(expected.sort());
      }
      const posts = plan.mappings.filter((p) => p.kind === 'stream' && p.fn === 'post-router');
      expect(posts, region).toHaveLength(64);
    }
  });

  it('alarms on throttling of every grown table and on its replication, within the composite rule limit', () => {
    const plan = planFor('prod-eu-west-1', GROWN);
    const alarms = alarmPlan(plan, { apiId: 'api', stateMachineArn: (w) => w });
    const throttled = alarms.alarms.filter((x) => x.key.startsWith('dynamodb-throttles-')).flatMap((x) => x.queries.flatMap((q) => (q.metric ? [q.metric.dimensions.TableName] : [])));
    expect(new Set(throttled)).toEqual(new Set(plan.tables.map((t) => t.name)));
    expect(plan.tables).toHaveLength(entities.length * 64);
    expect(compositeRule(alarms.composites.find((c) => c.key === 'dynamodb-throttles')!).length).toBeLessThanOrEqual(10_240);
    const replicated = replicatedTables(networkPlan('us-west-2')).map((t) => t.name);
    expect(replicated).toContain(physicalTableName('feedscale-dev-', 'users', 40));
  });

  it('lets each role do on the last provisioned table (`_63`, `_127`) exactly what it may do on table 0', () => {
    for (const env of [GROWN, { FEED_SHARDS: '16', FEED_SHARD_TABLES: '128' }]) {
      const plan = planFor('prod-eu-west-1', env);
      const a = arns(plan, ACCOUNT);
      const arnsOf = (entity: Entity, shard: number) => {
        const table = a.table(physicalTableName(plan.target.tablePrefix, entity, shard));
        const def = TABLES[entity];
        return [table, `${table}/stream/2026-01-01T00:00:00.000`, ...[...def.globalIndexes, ...def.localIndexes].map((i) => `${table}/index/${i.name}`)];
      };
      let granted = 0;
      for (const f of plan.functions) {
        const statements = functionStatements(plan, f.fn, ACCOUNT);
        for (const entity of entities) {
          const last = arnsOf(entity, plan.target.shardTables - 1).map((x) => actionsOn(statements, x));
          expect(last, `${f.fn} ${entity} ${plan.target.shardTables - 1}`).toEqual(arnsOf(entity, 0).map((x) => actionsOn(statements, x)));
          granted += last.flat().length;
        }
      }
      expect(granted).toBeGreaterThan(0);
    }
  });

  it('keeps the six-region network free of topology problems: no grown GDPR table leaves the EU, every replica is fanned out', () => {
    const target = deployTarget('prod-us-east-1', { FEED_REGIONS: ALL.join(','), ...GROWN });
    const topology = networkTopology(target);
    expect(topology.tables).toHaveLength(entities.length * 64);
    expect(topologyProblems(topology)).toEqual([]);
  });

  it("stays inside IAM's 10,240-character inline policy limit with 4,096 tables per entity", () => {
    const plan = planFor('prod-ap-southeast-1', { FEED_SHARDS: '16', FEED_SHARD_TABLES: '4096' });
    for (const f of plan.functions) expect(JSON.stringify(policyDocument(functionStatements(plan, f.fn, ACCOUNT))).length, f.fn).toBeLessThan(10_240);
  });
});

describe('the control table', () => {
  it('is planned once in each region of the network, under one name, never replicated', () => {
    const plans = ALL.map((r) => networkPlan(r));
    for (const plan of plans) {
      expect(plan.control, plan.target.region).toMatchObject({ name: 'feedscale-dev-Control', replicas: [] });
      expect(controlTableArgs(plan.control).replicas).toEqual([]);
      // Not a shard table: no replica, stream mapping, throttle part or network table carries it.
      expect([...plan.tables, ...plan.heldReplicas].map((t) => t.name)).not.toContain(plan.control.name);
      expect(plan.mappings.filter((m) => m.kind === 'stream' && m.table === plan.control.name)).toEqual([]);
    }
    expect(networkTables(plans[0]!.target).map((t) => t.name)).not.toContain('feedscale-dev-Control');
  });

  it('is named as shared/declarations/tables.ts controlTableName() names it', () => {
    const plan = planFor('dev');
    process.env.FEED_TABLE_PREFIX = plan.target.tablePrefix;
    try {
      resetConfig();
      expect(plan.control.name).toBe(controlTableName());
    } finally {
      delete process.env.FEED_TABLE_PREFIX;
    }
  });

  it('bills on demand with pk/sk string keys and no stream; production stages get point-in-time recovery and deletion protection', () => {
    const dev = controlTableArgs(planFor('dev').control);
    expect(dev).toMatchObject({ billingMode: 'PAY_PER_REQUEST', hashKey: 'pk', rangeKey: 'sk', streamEnabled: false });
    expect(dev.attributes).toEqual([{ name: 'pk', type: 'S' }, { name: 'sk', type: 'S' }]);
    expect(dev).toMatchObject({ pointInTimeRecovery: { enabled: false }, deletionProtectionEnabled: false });
    expect(controlTableArgs(planFor('prod-eu-west-1').control)).toMatchObject({ pointInTimeRecovery: { enabled: true }, deletionProtectionEnabled: true });
  });

  it("lets every function's role GetItem this region's control table and nothing more on it, nor on another region's", () => {
    const plan = networkPlan('eu-west-1');
    const mine = arns(plan, ACCOUNT).controlTable();
    const theirs = arns(networkPlan('us-east-1'), ACCOUNT).controlTable();
    expect(mine).toBe(`arn:aws:dynamodb:eu-west-1:${ACCOUNT}:table/feedscale-dev-Control`);
    expect(plan.functions.length).toBeGreaterThan(0);
    for (const f of plan.functions) {
      const statements = functionStatements(plan, f.fn, ACCOUNT);
      const on = (arn: string) => actionsOn(statements, arn);
      expect(on(mine), f.fn).toEqual([...CONTROL_TABLE_ACTIONS]);
      expect(on(`${mine}/index/any`), f.fn).toEqual([]);
      expect(on(theirs), f.fn).toEqual([]);
    }
    expect(CONTROL_TABLE_ACTIONS).toEqual(['dynamodb:GetItem']);
  });
});

describe('stacks/tables.ts deploys the plan (against recording stand-ins for SST)', () => {
  /** stacks/tables.ts is typed against SST's globals (npm run typecheck:sst): imported by a computed path. */
  const load = (): Promise<any> => import(/* @vite-ignore */ `../../stacks/${'tables'}.js`);

  async function deploy(plan: Plan): Promise<Created[]> {
    const created = installFakeSst();
    (globalThis as any).aws.dynamodb = {
      Table: class {
        readonly streamArn: string;
        constructor(name: string, args: Record<string, unknown>, opts: Record<string, unknown>) {
          created.push({ type: 'aws.dynamodb.Table', name, args: { ...args, opts } });
          this.streamArn = `arn:stream:${name}`;
        }
      },
    };
    const { deployTables } = await load();
    deployTables(plan);
    return created.filter((c) => c.type === 'aws.dynamodb.Table');
  }

  it('creates every shard table and the control table, each retained on removal on production stages', async () => {
    const plan = planFor('prod-eu-west-1', GROWN);
    const tables = await deploy(plan);
    expect(tables.map((t) => t.args.name)).toEqual([...plan.tables.map((t) => t.name), 'feedscale-prod-Control']);
    const control = tables.find((t) => t.args.name === 'feedscale-prod-Control')!;
    expect(control.args).toMatchObject({ streamEnabled: false, replicas: [], deletionProtectionEnabled: true, opts: { retainOnDelete: true } });
    for (const t of tables) expect(t.args.opts, String(t.args.name)).toEqual({ retainOnDelete: true });
    expect((await deploy(planFor('dev'))).every((t) => (t.args.opts as { retainOnDelete: boolean }).retainOnDelete === false)).toBe(true);
  });
});
