// The network's topology as plain data: which regions hold each table, which regions fan out
// which public tables from their own replica's stream, and which regions DNS routes to; and the
// checks the deploy runs at synth time, so a network that would replicate GDPR home data out of
// the EU, miss a replication path, route to nothing or fail over to nowhere never deploys.
import { MAPPINGS, type Mapping } from '../shared/declarations/event-sources.js';
import { ENTITY_RESIDENCY } from '../shared/declarations/row-kinds.js';
import { EU_REGIONS, TABLE_SETS, type TableSet } from '../shared/domain/residency.js';
import type { RegionName } from '../shared/domain/regions.js';
import type { DeployTarget } from './deploy-target.js';
import { buildPlan, networkTables, type Plan, type ScheduleSpec, type WorkflowSpec } from './plan.js';
import { planRouting, type RoutingPlan } from './routing-plan.js';
import { registeredWorkflows } from './workflow-specs.js';

type Extras = { workflows?: readonly WorkflowSpec[]; schedules?: readonly ScheduleSpec[] };

export interface TopologyTable {
  name: string;
  entity: string;
  residency: 'home' | 'public';
  tableSet: string;
  /** Deployed regions holding it, its creator first. */
  regions: RegionName[];
}

export interface Topology {
  network: string;
  regions: RegionName[];
  /** The table sets whose home region is deployed: their users are minted and served. */
  deployedSets: TableSet[];
  tables: TopologyTable[];
  /** Per region, the streams it maps: `<function> <table>` (a replica's stream is the region's own). */
  streams: Record<string, string[]>;
  routing: RoutingPlan;
}

const streamKey = (fn: string, table: string) => `${fn} ${table}`;
/** Stream consumers that act for the region's own users (the post router fans a post out to the
 *  region's own followers): each must read every replica the region holds, whoever created it.
 *  Listed here, apart from plan.ts's mapsReplicas, so the check does not take the plan's word. */
const PER_REGION_CONSUMERS: readonly string[] = ['post-router'];

/** The target of another region's stage of the same network. */
export function regionTarget(target: DeployTarget, region: RegionName): DeployTarget {
  return { ...target, region, stage: target.stage === target.network ? target.stage : `${target.network}-${region}` };
}

/** Every stage of the network planned from the same declarations, as the checks see it. */
export function networkTopology(
  target: DeployTarget,
  extras: Extras = registeredWorkflows({}),
  plans: (region: RegionName) => Plan = (r) => buildPlan(regionTarget(target, r), extras),
): Topology {
  const tables = networkTables(target).map((t) => ({ ...t, residency: ENTITY_RESIDENCY[t.entity] }));
  const streams = Object.fromEntries(
    target.regions.map((r) => [r, plans(r).mappings.flatMap((m) => (m.kind === 'stream' ? [streamKey(m.fn, m.table)] : []))]),
  );
  return {
    network: target.network,
    regions: [...target.regions],
    deployedSets: TABLE_SETS.filter((s) => target.regions.includes(s.home)),
    tables,
    streams,
    routing: planRouting(target),
  };
}

/** What is wrong with a topology, one line per problem (empty: deployable). */
export function topologyProblems(t: Topology): string[] {
  return [...residencyLeaks(t), ...missingReplicationPaths(t), ...missingFanOut(t), ...missingRoutes(t), ...missingFailovers(t)];
}

/** GDPR home data replicated to a region outside the EU. */
function residencyLeaks(t: Topology): string[] {
  const gdpr = new Set(TABLE_SETS.filter((s) => s.zone === 'eu-gdpr').map((s) => s.name));
  return t.tables
    .filter((x) => x.residency === 'home' && gdpr.has(x.tableSet))
    .flatMap((x) => x.regions.filter((r) => !EU_REGIONS.has(r)).map((r) => `table ${x.name} (${x.tableSet}, GDPR home data) would replicate to ${r}, outside the EU`));
}

/** A region without a replica of a public table, or of a home table of a set it serves. */
function missingReplicationPaths(t: Topology): string[] {
  const problems: string[] = [];
  for (const x of t.tables) {
    const want =
      x.residency === 'public'
        ? t.regions
        : t.deployedSets.find((s) => s.name === x.tableSet)?.replicas.filter((r) => t.regions.includes(r)) ?? [];
    for (const r of want) {
      if (!x.regions.includes(r)) problems.push(`region ${r} holds no replica of ${x.residency} table ${x.name} (${x.tableSet}): no replication path`);
    }
  }
  return problems;
}

/** A region that does not read, from its own replica's stream, a table it holds that a
 *  per-region consumer (the post router's fan-out to the region's own followers) reads. */
function missingFanOut(t: Topology): string[] {
  const perRegion = MAPPINGS.filter((m): m is Extract<Mapping, { kind: 'stream' }> => m.kind === 'stream' && PER_REGION_CONSUMERS.includes(m.fn));
  return t.regions.flatMap((r) => {
    const mapped = new Set(t.streams[r] ?? []);
    return perRegion.flatMap((m) =>
      t.tables
        .filter((x) => x.entity === m.entity && x.regions.includes(r) && !mapped.has(streamKey(m.fn, x.name)))
        .map((x) => `region ${r}'s ${m.fn} does not read the stream of its replica of ${x.name}: its own followers miss those changes`),
    );
  });
}

/** With DNS configured: a region without a health-checked latency record under the network name. */
function missingRoutes(t: Topology): string[] {
  if (!t.routing.dns) return [];
  return t.regions.flatMap((r) => {
    const record = t.routing.latencyRecords.find((x) => x.region === r);
    if (!record) return [`region ${r} has no latency record under ${t.routing.dns!.domain}`];
    if (!t.routing.healthChecks.some((h) => h.region === r && h.key === record.healthCheck)) {
      return [`region ${r}'s record under ${t.routing.dns!.domain} has no health check`];
    }
    return [];
  });
}

/** A deployed set whose failover region is not deployed (GDPR sets name none, by design). */
function missingFailovers(t: Topology): string[] {
  // A single-region network is a development or first-region stage: nothing to fail over to.
  if (t.regions.length < 2) return [];
  return t.deployedSets
    .filter((s) => s.failover && !t.regions.includes(s.failover))
    .map((s) => `table set ${s.name} fails over to ${s.failover}, which is not in FEED_REGIONS=${t.regions.join(',')}`);
}

/** Throws the first problem as one line naming it (and how many more there are). */
export function checkTopology(target: DeployTarget, topology: Topology): Topology {
  const problems = topologyProblems(topology);
  if (problems.length > 0) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    throw new Error(`feedscale plan (stage ${target.stage}): topology: ${problems[0]}${more}`);
  }
  return topology;
}
