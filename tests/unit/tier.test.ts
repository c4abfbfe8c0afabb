// Fan-out tiers (shared/services/users.ts tierFor): an author's follower count against the configured
// celebrity and mega thresholds (FEED_CELEBRITY_THRESHOLD, FEED_MEGA_THRESHOLD), upgrading at a
// threshold and falling back only below TIER_HYSTERESIS of it.
import { afterEach, describe, expect, it } from 'vitest';
import { resetConfig } from '../../shared/edge/config.js';
import { TIER_HYSTERESIS } from '../../shared/domain/limits.js';
import { tierFor, type Tier } from '../../shared/services/users.js';

const saved = {
  celebrity: process.env.FEED_CELEBRITY_THRESHOLD,
  mega: process.env.FEED_MEGA_THRESHOLD,
};

function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

afterEach(() => {
  restore('FEED_CELEBRITY_THRESHOLD', saved.celebrity);
  restore('FEED_MEGA_THRESHOLD', saved.mega);
  resetConfig();
});

function thresholds(celebrity: number, mega: number): void {
  process.env.FEED_CELEBRITY_THRESHOLD = String(celebrity);
  process.env.FEED_MEGA_THRESHOLD = String(mega);
  resetConfig();
}

const CELEBRITY = 1_000;
const MEGA = 50_000;

describe('tierFor', () => {
  it('is regular below the celebrity threshold', () => {
    thresholds(CELEBRITY, MEGA);
    for (const n of [0, 1, CELEBRITY - 1]) expect(tierFor(n), String(n)).toBe('regular');
  });

  it('is celebrity from the celebrity threshold up to just below the mega threshold', () => {
    thresholds(CELEBRITY, MEGA);
    for (const n of [CELEBRITY, CELEBRITY + 1, MEGA - 1]) expect(tierFor(n), String(n)).toBe('celebrity');
  });

  it('is mega from the mega threshold', () => {
    thresholds(CELEBRITY, MEGA);
    for (const n of [MEGA, MEGA + 1, 1e9]) expect(tierFor(n), String(n)).toBe('mega');
  });

  it('upgrades at the thresholds whatever the current tier', () => {
    thresholds(CELEBRITY, MEGA);
    const tiers: Tier[] = ['regular', 'celebrity', 'mega'];
    expect(tiers.map((t) => tierFor(MEGA, t))).toEqual(['mega', 'mega', 'mega']);
    expect(tierFor(CELEBRITY, 'regular')).toBe('celebrity');
  });

  it('keeps a celebrity a celebrity down to the hysteresis share of the threshold', () => {
    thresholds(CELEBRITY, MEGA);
    expect(TIER_HYSTERESIS).toBeGreaterThan(0);
    expect(TIER_HYSTERESIS).toBeLessThan(1);
    const floor = Math.ceil(CELEBRITY * TIER_HYSTERESIS);
    expect(tierFor(CELEBRITY - 1, 'celebrity')).toBe('celebrity');
    expect(tierFor(floor, 'celebrity')).toBe('celebrity');
    expect(tierFor(floor - 1, 'celebrity')).toBe('regular');
    expect(tierFor(0, 'celebrity')).toBe('regular');
  });

  it('lets a mega-celebrity fall back to celebrity, or to regular, only below the hysteresis share', () => {
    thresholds(CELEBRITY, MEGA);
    const megaFloor = Math.ceil(MEGA * TIER_HYSTERESIS);
    expect(tierFor(megaFloor, 'mega')).toBe('mega');
    expect(tierFor(megaFloor - 1, 'mega')).toBe('celebrity');
    expect(tierFor(CELEBRITY, 'mega')).toBe('celebrity');
    expect(tierFor(Math.ceil(CELEBRITY * TIER_HYSTERESIS) - 1, 'mega')).toBe('regular');
  });

  it('goes straight from regular to mega when both thresholds are equal', () => {
    thresholds(10, 10);
    expect(tierFor(9)).toBe('regular');
    expect(tierFor(10)).toBe('mega');
  });

  it('uses the defaults of 100,000 and 10,000,000 followers', () => {
    delete process.env.FEED_CELEBRITY_THRESHOLD;
    delete process.env.FEED_MEGA_THRESHOLD;
    resetConfig();
    expect(tierFor(99_999)).toBe('regular');
    expect(tierFor(100_000)).toBe('celebrity');
    expect(tierFor(9_999_999)).toBe('celebrity');
    expect(tierFor(10_000_000)).toBe('mega');
  });
});
