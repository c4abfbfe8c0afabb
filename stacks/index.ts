// The whole stage, in dependency order: tables, queues, cache, functions, API, event-source
// mappings, workflows, schedules, alarms, routing. sst.config.ts's run() calls deploy(); everything
// it creates comes from buildPlan(), so nothing about an operation is declared here. The network's
// topology (every stage of FEED_REGIONS) is checked first: a stage of a network that would leak
// GDPR data, lack a replication path, a route or a failover region stops before creating anything.
import { deployAlarms } from './alarms.js';
import { deployAnalytics } from './analytics-store.js';
import { deployApi, deployJwtIssuer } from './api.js';
import { deployCache } from './cache.js';
import { deployFunctions } from './functions.js';
import { deployMappings } from './mappings.js';
import { buildPlan, LINKED_SECRETS, splitReplicaMappings, type ScheduleSpec, type WorkflowSpec } from './plan.js';
import { deployQueues } from './queues.js';
import { deployTarget } from './deploy-target.js';
import { registeredWorkflows } from './workflow-specs.js';
import { deploySchedules } from './schedules.js';
import { deployTables } from './tables.js';
import { deployRouting } from './routing.js';
import { checkTopology, networkTopology } from './topology.js';
import { deployWorkflows } from './workflows.js';

export interface DeployExtras {
  workflows?: readonly WorkflowSpec[];
  schedules?: readonly ScheduleSpec[];
}

/** Deploys the stage; `extras` defaults to the workflows registry and its schedules. */
export async function deploy(extras: DeployExtras = registeredWorkflows()) {
  const target = deployTarget($app.stage);
  if (target.app !== $app.name) throw new Error(`app name ${$app.name} differs from ${target.app}`);
  checkTopology(target, networkTopology(target, extras));
  const plan = buildPlan(target, extras);
  const account = aws.getCallerIdentityOutput({}).accountId;
  // Replicas other stages create appear here once those stages have deployed.
  const existing = new Set((await aws.dynamodb.getTables({})).names);
  const pending = splitReplicaMappings(plan, existing).pending;

  const tables = deployTables(plan);
  const queues = deployQueues(plan);
  const cache = deployCache(plan);
  // Set with `sst secret set FeedCursorSecret ...`; every function links it (see stacks/functions.ts).
  const secrets = new Map(Object.values(LINKED_SECRETS).map((name) => [name, new sst.Secret(name)]));
  const jwt = deployJwtIssuer(plan);
  const functions = deployFunctions(plan, { account, queues, cache, secrets, jwt });
  const api = deployApi(plan, functions, jwt);
  deployMappings(plan, functions, tables, queues, existing);
  const workflows = deployWorkflows(plan, functions, account);
  deploySchedules(plan, functions, workflows, account);
  const { topic, dashboard } = deployAlarms(plan, { account, apiId: api.nodes.api.id });
  const analytics = deployAnalytics(plan, { account, topic });
  const routing = deployRouting(plan, { api, alarmTopicArn: topic.arn });

  return {
    api: api.url,
    region: target.region,
    tables: `${plan.tables.length} created here (of ${target.shardTables} tables × entities, ${target.shards} in the initial layout; prefix ${target.tablePrefix}, replicas in ${target.regions.join(', ')}), ${plan.heldReplicas.length} replicas held, control table ${plan.control.name}`,
    replicaStreams:
      pending.length === 0
        ? 'every held replica’s stream is mapped'
        : `${pending.length} mappings wait for replicas not created yet (${[...new Set(pending.map((m) => (m.kind === 'stream' ? m.replicaOf : '')))].join(', ')}): deploy those stages, then this one again`,
    routing: routing.note,
    ...(routing.regional && { regionUrl: `https://${routing.regional.hostname}`, networkUrl: `https://${routing.regional.networkHostname}` }),
    jwtIssuer: jwt.issuer,
    ...(jwt.userPool && jwt.userPoolClient && { userPoolId: jwt.userPool.id, userPoolClientId: jwt.userPoolClient.id }),
    stateMachines: [...workflows.values()].map((m) => m.arn),
    alarmTopic: topic.arn,
    dashboard: dashboard.dashboardName,
    analytics: analytics.map((a) => $interpolate`${a.zone}: s3://${a.bucket.bucket} (Athena ${plan.analytics.stores.find((s) => s.zone === a.zone)!.glueDatabase}.events)`),
  };
}
