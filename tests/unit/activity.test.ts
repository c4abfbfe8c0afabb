// When activity is recorded again (shared/domain/activity.ts): at most once per resolution.
import { describe, expect, it } from 'vitest';
import { activityDue } from '../../shared/domain/activity.js';

describe('activityDue', () => {
  it('records a user never seen active', () => {
    expect(activityDue(undefined, 1_000, 300)).toBe(true);
  });

  it('skips a user recorded within the resolution', () => {
    expect(activityDue(1_000, 1_000, 300)).toBe(false);
    expect(activityDue(1_000, 1_299, 300)).toBe(false);
  });

  it('records again once the resolution has passed', () => {
    expect(activityDue(1_000, 1_300, 300)).toBe(true);
  });
});
