// ElastiCache (Valkey) in a VPC, for the functions whose grants say `redis`. Those functions
// join the VPC's private subnets, which have no NAT in a one-region network: they reach DynamoDB through a gateway
// endpoint (free, and traffic stays in AWS), and SQS and Step Functions (fan-out jobs,
// notifications, workflow starts) through interface endpoints with private DNS, so the SDK's
// default endpoints resolve inside the VPC. Eviction policy volatile-ttl: under memory pressure
// the keys nearest expiry go first — 15-minute feed pages long before 24-hour celebrity posts.
import type { Plan } from './plan.js';

export interface Cache {
  vpc: sst.aws.Vpc;
  redis: sst.aws.Redis;
  /** rediss://user:password@host:port (TLS, the primary endpoint). */
  url: $util.Output<string>;
}

export function deployCache(plan: Plan): Cache | undefined {
  if (!plan.functions.some((f) => f.vpc)) return undefined;
  // In a network of several regions the functions also call other regions (directory claims,
  // cards and notifications in their DynamoDB, health probes of their APIs): managed NAT gives
  // the private subnets that way out. One region alone needs none.
  const vpc = new sst.aws.Vpc('Vpc', { az: 2, ...(plan.target.regions.length > 1 && { nat: 'managed' as const }) });
  new aws.ec2.VpcEndpoint('VpcDynamoEndpoint', {
    vpcId: vpc.id,
    serviceName: `com.amazonaws.${plan.target.region}.dynamodb`,
    vpcEndpointType: 'Gateway',
    routeTableIds: vpc.nodes.privateRouteTables.apply((tables) => tables.map((t) => t.id)),
  });
  // Cluster mode off: shared/cache/l2.ts uses a single-endpoint client (ioredis `Redis`). Its keys
  // already carry hash tags, so moving to cluster mode is a Cluster client away.
  for (const service of ['sqs', 'states']) {
    new aws.ec2.VpcEndpoint(`Vpc${service === 'sqs' ? 'Sqs' : 'States'}Endpoint`, {
      vpcId: vpc.id,
      serviceName: `com.amazonaws.${plan.target.region}.${service}`,
      vpcEndpointType: 'Interface',
      privateDnsEnabled: true,
      subnetIds: vpc.privateSubnets,
      securityGroupIds: vpc.securityGroups,
    });
  }
  const redis = new sst.aws.Redis('Cache', {
    engine: 'valkey',
    vpc,
    cluster: false,
    parameters: { 'maxmemory-policy': 'volatile-ttl' },
  });
  // SST's Redis always has an auth token outside `sst dev`.
  const password = $resolve([redis.password]).apply(([p]) => encodeURIComponent(p ?? ''));
  const url = $interpolate`rediss://${redis.username}:${password}@${redis.host}:${redis.port}`;
  return { vpc, redis, url };
}
