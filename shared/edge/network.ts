// The network of regions as this process sees it: which region it is, which regions the network
// deploys, each region's API and DynamoDB endpoint, whether a region is down now, and so which
// region serves a table set's users (shared/domain/residency.ts servingRegion). A region that is
// not deployed counts as down for good, so its users are served by its set's failover region.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { servingRegion, type TableSet } from '../domain/residency.js';
import type { RegionName } from '../domain/regions.js';
import { config } from './config.js';

/** A probe of another region's API: answered in well under a second by a healthy region; a
 *  region that does not answer in this time counts as down until the next probe. */
const HEALTH_PROBE_TIMEOUT_MS = 1_000;
/** How long a probe's answer stands. With the probe's timeout, a region that goes down is noticed
 *  within 2 s, well inside the 10 s failover budget, and a busy region probes a peer once a second. */
const HEALTH_CACHE_MS = 1_000;

/** This process's region; undefined: a single-region network that names no region. */
export const selfRegion = (): RegionName | undefined => config().FEED_REGION;

/** Every region of the network; empty for a single-region network that names no region. */
export function networkRegions(): RegionName[] {
  const c = config();
  return c.FEED_REGIONS ?? (c.FEED_REGION ? [c.FEED_REGION] : []);
}

/** More than one region: rows may live elsewhere and requests may belong elsewhere. */
export const isMultiRegion = (): boolean => networkRegions().length > 1;

interface LocalRegion {
  api?: string;
  dynamodb?: string;
  pid?: number;
}

/** How long what a local region published is trusted: a restart publishes new ports, and a
 *  read of its stack.json per remote call (each claim, card, notification) would be wasted. */
const LOCAL_REGION_CACHE_MS = 1_000;
const published = new Map<RegionName, { at: number; entry: LocalRegion | undefined }>();

/** What a region of the local multi-region stack published: undefined while it is down. */
function localRegion(region: RegionName): LocalRegion | undefined {
  const dir = config().FEED_LOCAL_REGIONS_DIR;
  if (!dir) return undefined;
  const hit = published.get(region);
  if (hit && Date.now() - hit.at < LOCAL_REGION_CACHE_MS) return hit.entry;
  const entry = readLocalRegion(dir, region);
  published.set(region, { at: Date.now(), entry });
  return entry;
}

function readLocalRegion(dir: string, region: RegionName): LocalRegion | undefined {
  const file = path.join(dir, region, 'stack.json');
  if (!existsSync(file)) return undefined;
  try {
    const entry = JSON.parse(readFileSync(file, 'utf8')) as LocalRegion;
    if (entry.pid) process.kill(entry.pid, 0);
    return entry;
  } catch {
    return undefined;
  }
}

/** A region's API base URL (without /v1); undefined when none is known. */
export function regionApi(region: RegionName): string | undefined {
  const local = localRegion(region);
  if (local?.api) return local.api;
  for (const pair of (config().FEED_REGION_API_URLS ?? '').split(',')) {
    const [name, url] = pair.split('=').map((s) => s.trim());
    if (name === region && url) return url.replace(/\/+$/, '');
  }
  return undefined;
}

/** The DynamoDB endpoint of another region of the local stack; undefined: AWS's regional one. */
export function regionDynamoEndpoint(region: RegionName): string | undefined {
  if (region === selfRegion()) return config().DYNAMODB_ENDPOINT;
  return localRegion(region)?.dynamodb;
}

const probes = new Map<RegionName, { at: number; down: Promise<boolean> }>();

/** Whether a region is down now: not deployed, or its API's /health does not answer 200. */
export async function isRegionDown(region: RegionName): Promise<boolean> {
  if (region === selfRegion()) return false;
  if (!networkRegions().includes(region)) return true;
  const cached = probes.get(region);
  if (cached && Date.now() - cached.at < HEALTH_CACHE_MS) return cached.down;
  const down = probe(region);
  probes.set(region, { at: Date.now(), down });
  return down;
}

async function probe(region: RegionName): Promise<boolean> {
  const api = regionApi(region);
  if (!api) return true;
  try {
    const res = await fetch(`${api}/v1/health`, { signal: AbortSignal.timeout(HEALTH_PROBE_TIMEOUT_MS) });
    await res.body?.cancel();
    return res.status !== 200;
  } catch {
    return true;
  }
}

/** Forgets every probe's answer and what local regions published (tests). */
export function resetRegionProbes(): void {
  probes.clear();
  published.clear();
}

/** Who serves a table set's users now, as seen from this region. */
export type Serving = { at: 'here' } | { at: 'elsewhere'; region: RegionName; api: string | undefined } | { at: 'nowhere' };

export async function whereServed(set: TableSet): Promise<Serving> {
  const self = selfRegion();
  if (!isMultiRegion() || !self) return { at: 'here' };
  const candidates = [set.home, set.failover].filter((r): r is RegionName => r !== undefined);
  const down = new Set<RegionName>();
  for (const r of candidates) if (await isRegionDown(r)) down.add(r);
  const region = servingRegion(set, down);
  if (region === undefined) return { at: 'nowhere' };
  if (region === self) return { at: 'here' };
  return { at: 'elsewhere', region, api: regionApi(region) };
}
