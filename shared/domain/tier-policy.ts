// Fan-out tier policy: which tier a follower count puts an author in. Pure: the thresholds come
// from the caller (configuration is read at the edge of the use case, not here).
import { TIER_HYSTERESIS } from './limits.js';

export type Tier = 'regular' | 'celebrity' | 'mega';

export interface TierThresholds {
  celebrity: number;
  mega: number;
}

const RANK: Record<Tier, number> = { regular: 0, celebrity: 1, mega: 2 };

function tierAt(count: number, { celebrity, mega }: TierThresholds, share: number): Tier {
  return count >= mega * share ? 'mega' : count >= celebrity * share ? 'celebrity' : 'regular';
}

/** The tier for a follower count, given the current one: upgrades at the thresholds, downgrades
 *  only below TIER_HYSTERESIS of them (each flip rewrites every follower's high-tier list). */
export function tierOf(count: number, current: Tier, thresholds: TierThresholds): Tier {
  const up = tierAt(count, thresholds, 1);
  if (RANK[up] >= RANK[current]) return up;
  const down = tierAt(count, thresholds, TIER_HYSTERESIS);
  return RANK[down] < RANK[current] ? down : current;
}

/** Whether an author of this tier has their posts pulled at read time (and so sits in their
 *  followers' high-tier lists). */
export const isHighTier = (tier: Tier) => tier !== 'regular';
