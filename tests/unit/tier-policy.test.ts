// The pure tier policy (shared/domain/tier-policy.ts tierOf): thresholds passed in, hysteresis on the
// way down only, no configuration or engine involved.
import { describe, expect, it } from 'vitest';
import { TIER_HYSTERESIS } from '../../shared/domain/limits.js';
import { isHighTier, tierOf, type Tier } from '../../shared/domain/tier-policy.js';

const thresholds = { celebrity: 1_000, mega: 50_000 };
const celebrityFloor = Math.ceil(thresholds.celebrity * TIER_HYSTERESIS);
const megaFloor = Math.ceil(thresholds.mega * TIER_HYSTERESIS);

describe('tierOf', () => {
  it('upgrades exactly at each threshold', () => {
    expect(tierOf(thresholds.celebrity - 1, 'regular', thresholds)).toBe('regular');
    expect(tierOf(thresholds.celebrity, 'regular', thresholds)).toBe('celebrity');
    expect(tierOf(thresholds.mega - 1, 'celebrity', thresholds)).toBe('celebrity');
    expect(tierOf(thresholds.mega, 'celebrity', thresholds)).toBe('mega');
  });

  it('does not upgrade a regular author inside the hysteresis band', () => {
    expect(tierOf(celebrityFloor, 'regular', thresholds)).toBe('regular');
  });

  it('keeps a celebrity down to the hysteresis floor and drops it one follower below', () => {
    expect(tierOf(celebrityFloor, 'celebrity', thresholds)).toBe('celebrity');
    expect(tierOf(celebrityFloor - 1, 'celebrity', thresholds)).toBe('regular');
  });

  it('keeps a mega-celebrity down to its floor, then steps down as far as the count says', () => {
    expect(tierOf(megaFloor, 'mega', thresholds)).toBe('mega');
    expect(tierOf(megaFloor - 1, 'mega', thresholds)).toBe('celebrity');
    expect(tierOf(celebrityFloor, 'mega', thresholds)).toBe('celebrity');
    expect(tierOf(celebrityFloor - 1, 'mega', thresholds)).toBe('regular');
  });

  it('never changes the tier while the count stays inside the band (no flapping)', () => {
    const seen = new Set<Tier>();
    let tier: Tier = tierOf(thresholds.celebrity, 'regular', thresholds);
    for (const count of [thresholds.celebrity - 1, celebrityFloor, thresholds.celebrity, celebrityFloor + 1]) {
      tier = tierOf(count, tier, thresholds);
      seen.add(tier);
    }
    expect([...seen]).toEqual(['celebrity']);
  });
});

describe('isHighTier', () => {
  it('is true for the tiers whose posts are pulled at read time', () => {
    expect((['regular', 'celebrity', 'mega'] as const).map(isHighTier)).toEqual([false, true, true]);
  });
});
