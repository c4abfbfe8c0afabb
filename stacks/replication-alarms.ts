// Alarms on Global Tables replication out of this region: DynamoDB publishes ReplicationLatency
// in the region a change was written, per table and receiving region (the only replication metric
// of version 2019.11.21; PendingReplicationCount is the legacy version's). One composite alarm
// per receiving region, over parts of at most ALARM_METRICS_MAX tables each.
import type { RegionName } from '../shared/domain/regions.js';
import { ALARM_METRICS_MAX, type AlarmQuery, type AlarmSpec, type CompositeSpec } from './alarm-plan.js';
import type { Plan } from './plan.js';

/** The design's goal: public content in every region within a second (p95). */
export const REPLICATION_P95_MS = 1000;
/** Five one-minute periods in a row: a burst does not page, a stuck replica does within 5 min. */
const PERIODS = 5;

/** Every replicated table this region holds (created here or a replica) and where its local
 *  writes replicate to. */
export function replicatedTables(plan: Plan): { name: string; peers: RegionName[] }[] {
  return [...plan.tables.map((t) => ({ name: t.name, peers: t.replicas })), ...plan.heldReplicas.map((r) => ({ name: r.name, peers: r.peers }))].filter(
    (t) => t.peers.length > 0,
  );
}

export function replicationAlarms<V>(plan: Plan, prefix: string): { parts: AlarmSpec<V>[]; composites: CompositeSpec[] } {
  const tables = replicatedTables(plan);
  const receivers = plan.target.regions.filter((r) => tables.some((t) => t.peers.includes(r)));
  const parts: AlarmSpec<V>[] = [];
  const composites: CompositeSpec[] = [];
  for (const receiver of receivers) {
    const names = tables.filter((t) => t.peers.includes(receiver)).map((t) => t.name);
    const chunks = Math.ceil(names.length / ALARM_METRICS_MAX);
    const children: string[] = [];
    for (let c = 0; c < chunks; c++) {
      const chunk = names.slice(c * ALARM_METRICS_MAX, (c + 1) * ALARM_METRICS_MAX);
      const queries: AlarmQuery<V>[] = chunk.map((name, i) => ({
        id: `l${i}`,
        metric: { namespace: 'AWS/DynamoDB', metricName: 'ReplicationLatency', dimensions: { TableName: name, ReceivingRegion: receiver }, stat: 'p95', period: 60 },
        returnData: false,
      }));
      queries.push({ id: 'latency', label: `replication latency p95 to ${receiver} (ms)`, expression: `MAX([${queries.map((q) => q.id).join(', ')}])`, returnData: true });
      const name = `${prefix}replication-latency-${receiver}-${c + 1}-of-${chunks}`;
      children.push(name);
      parts.push({
        key: `replication-latency-${receiver}-${c + 1}`,
        name,
        description: `Replication to ${receiver} of ${chunk[0]} .. ${chunk[chunk.length - 1]} above ${REPLICATION_P95_MS} ms p95 for ${PERIODS} minutes (part of ${prefix}replication-latency-${receiver}).`,
        comparison: 'GreaterThanThreshold',
        threshold: REPLICATION_P95_MS,
        evaluationPeriods: PERIODS,
        datapointsToAlarm: PERIODS,
        // No writes, no datapoints: an idle table is not lagging.
        treatMissingData: 'notBreaching',
        queries,
        notify: false,
      });
    }
    composites.push({
      key: `replication-latency-${receiver}`,
      name: `${prefix}replication-latency-${receiver}`,
      description: `Changes written in ${plan.target.region} reach ${receiver} more than ${REPLICATION_P95_MS} ms late (p95, ${PERIODS} minutes): the part alarm in ALARM names the tables. Check ${receiver}'s health and throttling; see README "Runbook" (replication).`,
      children,
    });
  }
  return { parts, composites };
}
