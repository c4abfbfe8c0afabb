// Route 53 in front of the regional APIs, as plain data: every stage gives its API a per-region
// hostname (`<region>.<domain>`, where the product sends a user to their home or failover region)
// and the network hostname; the network's global stage adds one health check per region and one
// latency record per region under the network hostname, so DNS answers with the nearest healthy
// region. Without FEED_API_DOMAIN / FEED_DNS_ZONE_ID no DNS is created and the plan says so.
import { ROUTES } from '../shared/declarations/routes.js';
import { REGIONS, type RegionName } from '../shared/domain/regions.js';
import type { DeployTarget, DnsSettings } from './deploy-target.js';

/** Route 53 checks each region every 10 s (its "fast" interval) and takes it out after 2 failed
 *  checks: ~20 s plus the record TTL before clients stop resolving a failed region. The product's
 *  own failover (any region's API serves a failed region's users from the failover region) is
 *  what meets the 10 s goal; DNS only stops sending new clients to the failed region. */
export const HEALTH_CHECK_INTERVAL_SECONDS = 10;
export const HEALTH_CHECK_FAILURE_THRESHOLD = 2;
/** Short, so a resolver re-asks soon after a region leaves the latency set. */
export const LATENCY_RECORD_TTL_SECONDS = 30;
/** Route 53 publishes health check metrics in us-east-1 only: their alarms live there. */
export const HEALTH_METRICS_REGION: RegionName = 'us-east-1';
/** Route 53's health checkers call the unauthenticated health route over HTTPS. */
export const HEALTH_PATH = healthPath();

function healthPath(): string {
  const route = ROUTES.find((r) => r.fn === 'health' && r.method === 'GET' && !r.auth && !r.localOnly);
  if (!route) throw new Error('routing: no deployed, unauthenticated GET route of the health function');
  return route.path;
}

export interface HealthCheckPlan {
  key: string;
  region: RegionName;
  fqdn: string;
  port: 443;
  type: 'HTTPS';
  resourcePath: string;
  requestInterval: number;
  failureThreshold: number;
  /** CloudWatch alarm (in HEALTH_METRICS_REGION) on the check's HealthCheckStatus. */
  alarmName: string;
}

export interface LatencyRecordPlan {
  region: RegionName;
  /** The network hostname. */
  name: string;
  setIdentifier: string;
  type: 'CNAME';
  ttl: number;
  /** The region's own hostname, whose alias points at the region's API. */
  value: string;
  /** HealthCheckPlan.key. */
  healthCheck: string;
}

export interface RoutingPlan {
  dns: DnsSettings | undefined;
  /** What the stage creates, or why nothing: printed in the deploy outputs. */
  note: string;
  /** The stage that deploys the network's health checks and latency records. */
  globalRegion: RegionName;
  /** This stage's own API names: a certificate for both, a custom domain each, and an alias
   *  record for the per-region hostname. */
  regional?: { hostname: string; networkHostname: string };
  /** Global stage only: one per network region. */
  healthChecks: HealthCheckPlan[];
  latencyRecords: LatencyRecordPlan[];
}

/** The stage of the network's first region in shared/domain/regions.ts order (us-east-1 when it
 *  is deployed): one stage owns the records every region's routing depends on, whichever order
 *  the stages deploy in. */
export function globalRegion(regions: readonly RegionName[]): RegionName {
  const first = REGIONS.find((r) => regions.includes(r.name));
  if (!first) throw new Error('routing: the network has no region');
  return first.name;
}

export const regionHostname = (dns: DnsSettings, region: RegionName) => `${region}.${dns.domain}`;

/** FEED_REGION_API_URLS of every function (shared/edge/config.ts): each region's own hostname,
 *  where the product sends a request for another region's users and probes a region's health.
 *  Without DNS the other stages' execute-api URLs are unknown here: the variable, set by hand in
 *  the deploy environment, is passed through as a setting. */
export function regionApiUrls(target: Pick<DeployTarget, 'regions' | 'dns'>): { FEED_REGION_API_URLS?: string } {
  const dns = target.dns;
  if (!dns) return {};
  return { FEED_REGION_API_URLS: target.regions.map((r) => `${r}=https://${regionHostname(dns, r)}`).join(',') };
}

export function planRouting(target: Pick<DeployTarget, 'app' | 'stage' | 'network' | 'region' | 'regions' | 'dns'>): RoutingPlan {
  const global = globalRegion(target.regions);
  const dns = target.dns;
  if (!dns) {
    return {
      dns,
      note: 'no DNS: FEED_API_DOMAIN and FEED_DNS_ZONE_ID are unset; each region answers on its execute-api URL only',
      globalRegion: global,
      healthChecks: [],
      latencyRecords: [],
    };
  }
  const regional = { hostname: regionHostname(dns, target.region), networkHostname: dns.domain };
  const isGlobal = target.region === global;
  const prefix = `${target.app}-${target.network}-`;
  const healthChecks: HealthCheckPlan[] = isGlobal
    ? target.regions.map((region) => ({
        key: `health-${region}`,
        region,
        fqdn: regionHostname(dns, region),
        port: 443,
        type: 'HTTPS',
        resourcePath: HEALTH_PATH,
        requestInterval: HEALTH_CHECK_INTERVAL_SECONDS,
        failureThreshold: HEALTH_CHECK_FAILURE_THRESHOLD,
        alarmName: `${prefix}region-unhealthy-${region}`,
      }))
    : [];
  const latencyRecords: LatencyRecordPlan[] = healthChecks.map((h) => ({
    region: h.region,
    name: dns.domain,
    setIdentifier: h.region,
    type: 'CNAME',
    ttl: LATENCY_RECORD_TTL_SECONDS,
    value: h.fqdn,
    healthCheck: h.key,
  }));
  const note = isGlobal
    ? `${regional.hostname} and ${dns.domain} here; latency records and health checks for ${target.regions.join(', ')} under ${dns.domain}`
    : `${regional.hostname} and ${dns.domain} here; the latency records and health checks are deployed by the ${global} stage`;
  return { dns, note, globalRegion: global, regional, healthChecks, latencyRecords };
}
