// Route 53 in front of the regional APIs (stacks/routing-plan.ts): this stage's certificate and
// custom domains for `<region>.<domain>` and the network hostname with an alias for its own
// hostname; on the network's global stage, the health checks (alarmed in us-east-1, where Route 53
// publishes their metrics) and the latency records that route the network hostname.
import { logicalName, type Plan } from './plan.js';
import { HEALTH_METRICS_REGION, planRouting, type RoutingPlan } from './routing-plan.js';

/** API Gateway's minimum TLS version for custom domains. */
const TLS_POLICY = 'TLS_1_2';
/** SST's ApiGatewayV2 deploys the `$default` stage. */
const API_STAGE = '$default';

export function deployRouting(plan: Plan, refs: { api: sst.aws.ApiGatewayV2; alarmTopicArn: $util.Output<string> }): RoutingPlan {
  const routing = planRouting(plan.target);
  const { dns, regional } = routing;
  if (!dns || !regional) return routing;
  const names = [regional.hostname, regional.networkHostname];
  const cert = new aws.acm.Certificate('ApiCertificate', {
    domainName: regional.hostname,
    subjectAlternativeNames: [regional.networkHostname],
    validationMethod: 'DNS',
  });
  const validation = names.map((name) => {
    const option = cert.domainValidationOptions.apply((options) => options.find((o) => o.domainName === name)!);
    return new aws.route53.Record(logicalName('CertValidation', name), {
      zoneId: dns.zoneId,
      name: option.resourceRecordName,
      type: option.resourceRecordType,
      records: [option.resourceRecordValue],
      ttl: 300,
      // ACM gives every region of the account the same validation record for a name: the
      // network hostname's is written by each stage alike.
      allowOverwrite: true,
    });
  });
  const validated = new aws.acm.CertificateValidation('ApiCertificateValidation', {
    certificateArn: cert.arn,
    validationRecordFqdns: validation.map((r) => r.fqdn),
  });
  const domains = names.map((name) => {
    const domain = new aws.apigatewayv2.DomainName(logicalName('ApiDomain', name), {
      domainName: name,
      domainNameConfiguration: { certificateArn: validated.certificateArn, endpointType: 'REGIONAL', securityPolicy: TLS_POLICY },
    });
    new aws.apigatewayv2.ApiMapping(logicalName('ApiMapping', name), { apiId: refs.api.nodes.api.id, domainName: domain.domainName, stage: API_STAGE });
    return domain;
  });
  const own = domains[0]!.domainNameConfiguration;
  new aws.route53.Record('RegionHostname', {
    zoneId: dns.zoneId,
    name: regional.hostname,
    type: 'A',
    aliases: [{ name: own.targetDomainName, zoneId: own.hostedZoneId, evaluateTargetHealth: false }],
  });
  deployGlobalRouting(plan, routing, refs.alarmTopicArn);
  return routing;
}

/** Health checks, their alarms and the latency records: the global stage only (the lists are
 *  empty elsewhere). */
function deployGlobalRouting(plan: Plan, routing: RoutingPlan, alarmTopicArn: $util.Output<string>) {
  const dns = routing.dns!;
  // Alarm actions must be in the alarm's region: a topic in us-east-1 when this stage is elsewhere.
  let actions = [alarmTopicArn];
  if (routing.healthChecks.length > 0 && plan.target.region !== HEALTH_METRICS_REGION) {
    const topic = new aws.sns.Topic('RoutingAlarmTopic', { name: `${plan.target.app}-${plan.target.stage}-routing-alarms`, region: HEALTH_METRICS_REGION });
    if (plan.target.alarmEmail) {
      new aws.sns.TopicSubscription('RoutingAlarmEmail', { topic: topic.arn, protocol: 'email', endpoint: plan.target.alarmEmail, region: HEALTH_METRICS_REGION });
    }
    actions = [topic.arn];
  }
  const checks = new Map<string, aws.route53.HealthCheck>();
  for (const h of routing.healthChecks) {
    const check = new aws.route53.HealthCheck(logicalName('HealthCheck', h.region), {
      fqdn: h.fqdn,
      port: h.port,
      type: h.type,
      resourcePath: h.resourcePath,
      requestInterval: h.requestInterval,
      failureThreshold: h.failureThreshold,
      enableSni: true,
      measureLatency: true,
      tags: { Name: h.alarmName },
    });
    checks.set(h.key, check);
    new aws.cloudwatch.MetricAlarm(logicalName('AlarmRegionUnhealthy', h.region), {
      name: h.alarmName,
      region: HEALTH_METRICS_REGION,
      alarmDescription: `Route 53 finds ${h.fqdn}${h.resourcePath} unhealthy: ${h.region} is out of the latency set for ${dns.domain}, and its users are served by their failover region. See README "Runbook" (region down).`,
      namespace: 'AWS/Route53',
      metricName: 'HealthCheckStatus',
      dimensions: { HealthCheckId: check.id },
      statistic: 'Minimum',
      period: 60,
      evaluationPeriods: 1,
      comparisonOperator: 'LessThanThreshold',
      threshold: 1,
      treatMissingData: 'breaching',
      alarmActions: actions,
      okActions: actions,
    });
  }
  for (const r of routing.latencyRecords) {
    new aws.route53.Record(logicalName('LatencyRecord', r.region), {
      zoneId: dns.zoneId,
      name: r.name,
      type: r.type,
      ttl: r.ttl,
      records: [r.value],
      setIdentifier: r.setIdentifier,
      latencyRoutingPolicies: [{ region: r.region }],
      healthCheckId: checks.get(r.healthCheck)!.id,
    });
  }
}
