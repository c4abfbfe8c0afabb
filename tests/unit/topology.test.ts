// The multi-region topology stacks/ deploys, checked offline for every stage of the network: GDPR
// home data stays in the EU, every region holds and fans out public content from its own replica,
// every region has a health-checked route under the network hostname, a deployed set's failover
// region is deployed too, and replication out of each region is alarmed.
import { describe, expect, it } from 'vitest';
import { ENTITY_RESIDENCY } from '../../shared/declarations/row-kinds.js';
import { TABLES, type Entity } from '../../shared/declarations/tables.js';
import { REGIONS, type RegionName } from '../../shared/domain/regions.js';
import { EU_REGIONS, TABLE_SETS } from '../../shared/domain/residency.js';
import { ALARM_METRICS_MAX, alarmPlan } from '../../stacks/alarm-plan.js';
import { deployTarget } from '../../stacks/deploy-target.js';
import { buildPlan, logicalName, networkTables, splitReplicaMappings, type Plan } from '../../stacks/plan.js';
import { REPLICATION_P95_MS, replicatedTables } from '../../stacks/replication-alarms.js';
import { globalRegion, HEALTH_PATH, planRouting } from '../../stacks/routing-plan.js';
import { checkTopology, networkTopology, regionTarget, topologyProblems, type Topology } from '../../stacks/topology.js';
import { registeredWorkflows } from '../../stacks/workflow-specs.js';
import { fakeOutput, installFakeSst, type Created } from '../support/fake-sst.js';

const ALL = REGIONS.map((r) => r.name);
const DNS = { FEED_API_DOMAIN: 'api.feedscale.example', FEED_DNS_ZONE_ID: 'Z0123456789ABC' };
const publicEntities = (Object.keys(TABLES) as Entity[]).filter((e) => ENTITY_RESIDENCY[e] === 'public');

const target = (regions: readonly RegionName[], region: RegionName = regions[0]!, env: Record<string, string> = {}) =>
  deployTarget(`prod-${region}`, { FEED_REGIONS: regions.join(','), ...env });
const planOf = (regions: readonly RegionName[], region: RegionName, env: Record<string, string> = {}): Plan =>
  buildPlan(target(regions, region, env), registeredWorkflows({}));
/** A deep copy to break on purpose. */
const copy = (t: Topology): Topology => structuredClone(t);

describe('the six-region network', () => {
  const full = networkTopology(target(ALL, 'us-east-1', DNS));

  it('has no topology problem, nor do the US pair, the three local regions or a single region', () => {
    expect(topologyProblems(full)).toEqual([]);
    for (const regions of [['us-east-1', 'us-west-2'], ['us-east-1', 'us-west-2', 'eu-west-1'], ['eu-west-1']] as RegionName[][]) {
      expect(topologyProblems(networkTopology(target(regions, regions[0], DNS))), regions.join()).toEqual([]);
    }
  });

  it('reports GDPR home data that would replicate outside the EU, naming the table and region', () => {
    const leaky = copy(full);
    const gdpr = leaky.tables.find((t) => t.tableSet === 'eu-west-1-gdpr' && t.residency === 'home')!;
    gdpr.regions.push('us-east-1');
    expect(topologyProblems(leaky)).toEqual([`table ${gdpr.name} (eu-west-1-gdpr, GDPR home data) would replicate to us-east-1, outside the EU`]);
  });

  it('replicates no GDPR home-data table, created or held, outside the EU in any stage’s plan', () => {
    const gdpr = (tableSet: string, entity: Entity) => tableSet === 'eu-west-1-gdpr' && ENTITY_RESIDENCY[entity] === 'home';
    for (const region of ALL) {
      const plan = planOf(ALL, region);
      for (const t of plan.tables.filter((x) => gdpr(x.tableSet, x.entity))) {
        for (const r of t.replicas) expect(EU_REGIONS.has(r), `${t.name} → ${r}`).toBe(true);
      }
      for (const h of plan.heldReplicas.filter((x) => gdpr(x.tableSet, x.entity))) expect(EU_REGIONS.has(region), `${h.name} held in ${region}`).toBe(true);
    }
  });

  it('reports a region without a replica of a public table, or of a home table of a set it serves', () => {
    for (const entity of publicEntities) {
      const broken = copy(full);
      const t = broken.tables.find((x) => x.entity === entity)!;
      t.regions = t.regions.filter((r) => r !== 'sa-east-1');
      expect(topologyProblems(broken)).toContain(`region sa-east-1 holds no replica of public table ${t.name} (${t.tableSet}): no replication path`);
    }
    const broken = copy(full);
    const home = broken.tables.find((x) => x.residency === 'home' && x.tableSet === 'us-east-1')!;
    home.regions = ['us-east-1'];
    expect(topologyProblems(broken)).toContain(`region us-west-2 holds no replica of home table ${home.name} (us-east-1): no replication path`);
  });

  it('holds every public table in every region', () => {
    for (const t of networkTables(target(ALL))) {
      if (ENTITY_RESIDENCY[t.entity] === 'public') expect([...t.regions].sort(), t.name).toEqual([...ALL].sort());
    }
  });
});

describe('fan-out from each region’s own replica', () => {
  it('maps the post router in every region to the stream of every posts table it holds, replicas included', () => {
    for (const region of ALL) {
      const plan = planOf(ALL, region);
      const routed = plan.mappings.filter((m) => m.kind === 'stream' && m.fn === 'post-router').map((m) => (m.kind === 'stream' ? m.table : ''));
      const held = networkTables(plan.target).filter((t) => t.entity === 'posts' && t.regions.includes(region)).map((t) => t.name);
      expect(routed.sort(), region).toEqual(held.sort());
      for (const m of plan.mappings) {
        if (m.kind !== 'stream' || !m.replicaOf) continue;
        const replica = plan.heldReplicas.find((h) => h.name === m.table)!;
        expect(m.replicaOf).toBe(replica.creator);
        expect(m.fn, 'the export reads only the tables a stage creates').not.toBe('analytics-export');
      }
    }
  });

  it('reports a region whose post router misses a replica’s stream', () => {
    const broken = copy(networkTopology(target(ALL)));
    const posts = broken.tables.find((t) => t.entity === 'posts' && t.regions[0] !== 'me-central-1')!;
    broken.streams['me-central-1'] = broken.streams['me-central-1']!.filter((s) => s !== `post-router ${posts.name}`);
    expect(topologyProblems(broken)).toEqual([
      `region me-central-1's post-router does not read the stream of its replica of ${posts.name}: its own followers miss those changes`,
    ]);
  });

  it('maps a replica’s stream only once its creator’s stage has created it', () => {
    const plan = planOf(ALL, 'eu-west-1');
    const replicaMappings = plan.mappings.filter((m) => m.kind === 'stream' && m.replicaOf);
    expect(replicaMappings.length).toBeGreaterThan(0);
    const before = splitReplicaMappings(plan, new Set(plan.tables.map((t) => t.name)));
    expect(before.pending).toEqual(replicaMappings);
    const after = splitReplicaMappings(plan, new Set([...plan.tables, ...plan.heldReplicas].map((t) => t.name)));
    expect(after.pending).toEqual([]);
    expect(after.ready).toEqual(plan.mappings);
  });
});

describe('routing', () => {
  it('gives every region a health-checked latency record under the network hostname, all from the global stage', () => {
    const routings = ALL.map((r) => planRouting(target(ALL, r, DNS)));
    const global = routings.filter((x) => x.latencyRecords.length > 0);
    expect(global.map((x) => x.regional!.hostname)).toEqual(['us-east-1.api.feedscale.example']);
    const [g] = global;
    for (const region of ALL) {
      const record = g!.latencyRecords.find((x) => x.region === region)!;
      expect(record).toMatchObject({ name: 'api.feedscale.example', type: 'CNAME', setIdentifier: region, value: `${region}.api.feedscale.example` });
      expect(g!.healthChecks.find((h) => h.key === record.healthCheck)).toMatchObject({ region, fqdn: `${region}.api.feedscale.example`, resourcePath: HEALTH_PATH, type: 'HTTPS' });
    }
    for (const [i, r] of ALL.entries()) expect(routings[i]!.regional).toEqual({ hostname: `${r}.api.feedscale.example`, networkHostname: 'api.feedscale.example' });
  });

  it('picks the global stage by the regions’ fixed order, whatever order FEED_REGIONS lists them in', () => {
    expect(globalRegion(['me-central-1', 'eu-west-1'])).toBe('eu-west-1');
    expect(globalRegion(['sa-east-1', 'us-west-2', 'us-east-1'])).toBe('us-east-1');
    const a = deployTarget('prod-me-central-1', { FEED_REGIONS: 'me-central-1,eu-west-1', ...DNS });
    const b = deployTarget('prod-me-central-1', { FEED_REGIONS: 'eu-west-1,me-central-1', ...DNS });
    expect(planRouting(a)).toEqual(planRouting(b));
    expect(planRouting(a).latencyRecords).toEqual([]);
  });

  it('tells every function the network’s regions and, with DNS, each region’s API hostname', () => {
    for (const f of planOf(ALL, 'sa-east-1', DNS).functions) {
      expect(f.environment.FEED_REGIONS, f.fn).toBe(ALL.join(','));
      expect(f.environment.FEED_REGION_API_URLS, f.fn).toBe(ALL.map((r) => `${r}=https://${r}.api.feedscale.example`).join(','));
    }
    for (const f of planOf(ALL, 'sa-east-1').functions) expect(f.environment, f.fn).not.toHaveProperty('FEED_REGION_API_URLS');
  });

  it('creates no DNS without FEED_API_DOMAIN and FEED_DNS_ZONE_ID, and says so', () => {
    const routing = planRouting(target(ALL));
    expect(routing).toMatchObject({ dns: undefined, healthChecks: [], latencyRecords: [] });
    expect(routing.note).toMatch(/no DNS: FEED_API_DOMAIN and FEED_DNS_ZONE_ID are unset/);
  });

  it('refuses half the DNS settings, or a malformed one, naming the variable', () => {
    expect(() => deployTarget('prod-us-east-1', { FEED_API_DOMAIN: 'api.feedscale.example' })).toThrow(/set both FEED_API_DOMAIN and FEED_DNS_ZONE_ID/);
    expect(() => deployTarget('prod-us-east-1', { ...DNS, FEED_API_DOMAIN: 'https://api.example' })).toThrow(/FEED_API_DOMAIN is not a lower-case DNS name/);
    expect(() => deployTarget('prod-us-east-1', { ...DNS, FEED_DNS_ZONE_ID: 'example.com' })).toThrow(/FEED_DNS_ZONE_ID is not a Route 53 hosted zone id/);
    expect(deployTarget('prod-us-east-1', DNS).settings).not.toHaveProperty('FEED_API_DOMAIN');
  });

  it('reports a region without a latency record, or a record without a health check', () => {
    const full = networkTopology(target(ALL, 'us-east-1', DNS));
    const noRecord = copy(full);
    noRecord.routing.latencyRecords = noRecord.routing.latencyRecords.filter((r) => r.region !== 'ap-southeast-1');
    expect(topologyProblems(noRecord)).toEqual(['region ap-southeast-1 has no latency record under api.feedscale.example']);
    const noCheck = copy(full);
    noCheck.routing.healthChecks = noCheck.routing.healthChecks.filter((h) => h.region !== 'sa-east-1');
    expect(topologyProblems(noCheck)).toEqual(["region sa-east-1's record under api.feedscale.example has no health check"]);
  });
});

describe('failover targets', () => {
  it('stops the deploy with one line naming a deployed set whose failover region is missing', () => {
    const t = target(['us-east-1', 'eu-west-1']);
    expect(() => checkTopology(t, networkTopology(t))).toThrow(
      /^feedscale plan \(stage prod-us-east-1\): topology: table set us-east-1 fails over to us-west-2, which is not in FEED_REGIONS=us-east-1,eu-west-1$/,
    );
    const ok = target(['us-east-1', 'us-west-2', 'eu-west-1']);
    expect(checkTopology(ok, networkTopology(ok)).regions).toEqual(['us-east-1', 'us-west-2', 'eu-west-1']);
  });

  it('deploys every failover region of the six-region network, and none for GDPR', () => {
    const full = networkTopology(target(ALL));
    for (const s of full.deployedSets) if (s.failover) expect(full.regions).toContain(s.failover);
    expect(TABLE_SETS.find((s) => s.zone === 'eu-gdpr')!.failover).toBeUndefined();
  });
});

describe('replication alarms', () => {
  it('alarm on p95 replication latency above 1 s for 5 minutes, per receiving region, for every table this region replicates', () => {
    for (const region of ALL) {
      const plan = planOf(ALL, region);
      const alarms = alarmPlan(plan, { apiId: 'api', stateMachineArn: (w) => w });
      const parts = alarms.alarms.filter((a) => a.key.startsWith('replication-latency-'));
      const covered = parts.flatMap((p) =>
        p.queries.flatMap((q) => (q.metric ? [`${q.metric.dimensions.TableName} → ${q.metric.dimensions.ReceivingRegion}`] : [])),
      );
      const expected = replicatedTables(plan).flatMap((t) => t.peers.map((r) => `${t.name} → ${r}`));
      expect(covered.sort(), region).toEqual(expected.sort());
      for (const p of parts) {
        expect(p.queries.filter((q) => q.metric).length).toBeLessThanOrEqual(ALARM_METRICS_MAX);
        expect(p).toMatchObject({ threshold: REPLICATION_P95_MS, evaluationPeriods: 5, datapointsToAlarm: 5, notify: false });
        for (const q of p.queries) if (q.metric) expect(q.metric).toMatchObject({ metricName: 'ReplicationLatency', stat: 'p95', period: 60 });
      }
      const receivers = new Set(replicatedTables(plan).flatMap((t) => t.peers));
      const composites = alarms.composites.filter((c) => c.key.startsWith('replication-latency-'));
      expect(composites.map((c) => c.key).sort()).toEqual([...receivers].map((r) => `replication-latency-${r}`).sort());
      for (const c of composites) for (const child of c.children) expect(parts.some((p) => p.name === child)).toBe(true);
    }
  });

  it('sends the GDPR set’s home data nowhere outside the EU, so no alarm watches such a path', () => {
    const plan = planOf(ALL, 'eu-west-1');
    const gdpr = new Set(plan.tables.filter((t) => t.tableSet === 'eu-west-1-gdpr' && ENTITY_RESIDENCY[t.entity] === 'home').map((t) => t.name));
    for (const t of replicatedTables(plan)) if (gdpr.has(t.name)) expect(t.peers.filter((r) => !EU_REGIONS.has(r))).toEqual([]);
  });

  it('are absent from a single-region stage, which replicates nothing', () => {
    const plan = buildPlan(deployTarget('dev', {}), registeredWorkflows({}));
    expect(alarmPlan(plan, { apiId: 'api', stateMachineArn: (w) => w }).alarms.filter((a) => a.key.startsWith('replication-'))).toEqual([]);
  });
});

describe('the SST modules (recording stand-ins)', () => {
  type Args = Record<string, any>;
  const stack = (name: string): Promise<any> => import(/* @vite-ignore */ `../../stacks/${name}.js`);
  /** What stacks/routing.ts and mappings.ts use beyond tests/support/fake-sst.ts. */
  function installRoutingFakes(created: Created[]) {
    const record = (type: string, extra: (args: Args) => Args = () => ({})) =>
      class {
        [key: string]: unknown;
        constructor(name: string, args: Args = {}) {
          created.push({ type, name, args });
          Object.assign(this, { arn: fakeOutput(`arn:${name}`), id: fakeOutput(`${name}-id`), fqdn: fakeOutput(`${name}.fqdn`) }, extra(args));
        }
      };
    const aws = (globalThis as any).aws;
    aws.acm = {
      Certificate: record('aws.acm.Certificate', (a) => ({
        domainValidationOptions: fakeOutput([a.domainName, ...a.subjectAlternativeNames].map((d: string) => ({ domainName: d, resourceRecordName: `_v.${d}`, resourceRecordType: 'CNAME', resourceRecordValue: `_x.acm` }))),
      })),
      CertificateValidation: record('aws.acm.CertificateValidation', (a) => ({ certificateArn: a.certificateArn })),
    };
    aws.apigatewayv2 = {
      DomainName: record('aws.apigatewayv2.DomainName', (a) => ({ domainName: fakeOutput(a.domainName), domainNameConfiguration: { targetDomainName: fakeOutput(`d-${a.domainName}`), hostedZoneId: fakeOutput('ZAPI') } })),
      ApiMapping: record('aws.apigatewayv2.ApiMapping'),
    };
    aws.route53 = { Record: record('aws.route53.Record'), HealthCheck: record('aws.route53.HealthCheck') };
    aws.sns = { Topic: record('aws.sns.Topic'), TopicSubscription: record('aws.sns.TopicSubscription') };
    aws.cloudwatch.MetricAlarm = record('aws.cloudwatch.MetricAlarm');
    aws.dynamodb = { getTableOutput: (a: Args) => ({ streamArn: fakeOutput(`arn:replica-stream:${a.name}`) }) };
  }

  it('on the global stage, creates a health check, its alarm in us-east-1 and a latency record per region', async () => {
    const created = installFakeSst();
    installRoutingFakes(created);
    const { deployRouting } = await stack('routing');
    const plan = planOf(ALL, 'us-east-1', DNS);
    deployRouting(plan, { api: { nodes: { api: { id: fakeOutput('api-id') } } }, alarmTopicArn: fakeOutput('arn:topic') });
    const of = (type: string) => created.filter((c) => c.type === type);
    expect(of('aws.route53.HealthCheck').map((c) => c.args.fqdn).sort()).toEqual(ALL.map((r) => `${r}.api.feedscale.example`).sort());
    expect(of('aws.cloudwatch.MetricAlarm').every((c) => c.args.region === 'us-east-1' && c.args.metricName === 'HealthCheckStatus')).toBe(true);
    const latency = of('aws.route53.Record').filter((c) => c.args.latencyRoutingPolicies);
    expect(latency.map((c) => (c.args as Args).latencyRoutingPolicies[0].region).sort()).toEqual([...ALL].sort());
    for (const c of latency) expect(c.args.healthCheckId).toBeDefined();
    expect(of('aws.apigatewayv2.DomainName').map((c) => c.args.domainName)).toEqual(['us-east-1.api.feedscale.example', 'api.feedscale.example']);
  });

  it('on another stage, creates only its own domains and hostname; without DNS settings, nothing', async () => {
    const created = installFakeSst();
    installRoutingFakes(created);
    const { deployRouting } = await stack('routing');
    const refs = { api: { nodes: { api: { id: fakeOutput('api-id') } } }, alarmTopicArn: fakeOutput('arn:topic') };
    deployRouting(planOf(ALL, 'eu-west-1', DNS), refs);
    expect(created.filter((c) => c.type === 'aws.route53.HealthCheck')).toEqual([]);
    expect(created.filter((c) => c.type === 'aws.route53.Record' && c.name === 'RegionHostname').map((c) => c.args.name)).toEqual(['eu-west-1.api.feedscale.example']);
    const before = created.length;
    deployRouting(planOf(ALL, 'eu-west-1'), refs);
    expect(created.length).toBe(before);
  });

  it('maps a held replica’s own stream, looked up by table name, once it exists', async () => {
    const created = installFakeSst();
    installRoutingFakes(created);
    const { deployMappings } = await stack('mappings');
    const plan = planOf(ALL, 'ap-southeast-1');
    const functions = new Map(plan.functions.map((f) => [f.fn, { arn: fakeOutput(`arn:fn:${f.fn}`) }]));
    const tables = new Map(plan.tables.map((t) => [t.name, { streamArn: fakeOutput(`arn:stream:${t.name}`) }]));
    const queues = new Map(plan.queues.map((q) => [q.key, { arn: fakeOutput(`arn:sqs:${q.key}`) }]));
    const existing = new Set([...plan.tables, ...plan.heldReplicas].map((t) => t.name));
    deployMappings(plan, functions, tables, queues, existing);
    const replica = plan.mappings.find((m) => m.kind === 'stream' && m.replicaOf)!;
    const args = created.find((c) => c.type === 'aws.lambda.EventSourceMapping' && c.name === logicalName('Mapping', replica.id))!.args as Args;
    expect((args.eventSourceArn as { value: unknown }).value).toBe(`arn:replica-stream:${replica.kind === 'stream' ? replica.table : ''}`);
  });
});

describe('stage targets of one network', () => {
  it('share the network’s tables and differ only in region and stage', () => {
    const t = target(ALL, 'us-east-1');
    const other = regionTarget(t, 'sa-east-1');
    expect(other).toMatchObject({ region: 'sa-east-1', stage: 'prod-sa-east-1', tablePrefix: t.tablePrefix, network: 'prod' });
  });
});
