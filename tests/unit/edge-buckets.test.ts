// The edge-bucket policy (shared/domain/edge-buckets.ts): how many buckets an account gets, when
// it moves, and which layouts a write touches during a move. No engine is called.
import { describe, expect, it } from 'vitest';
import { bucketsFor, deleteLayouts, flipTimes, movePhase, moveTimes, nextMove, putLayouts, UNBUCKETED } from '../../shared/domain/edge-buckets.js';
import { EDGE_BUCKETS_MAX, EDGE_BUCKETS_MIN } from '../../shared/domain/limits.js';
import { edgeBucket } from '../../shared/store/keys.js';
import { mintId } from '../../shared/domain/ids.js';

const T = 10_000;

describe('bucketsFor', () => {
  it('keeps one bucket below the threshold and starts at the minimum on reaching it', () => {
    expect(bucketsFor(T - 1, T)).toBe(1);
    expect(bucketsFor(T, T)).toBe(EDGE_BUCKETS_MIN);
  });

  it('doubles with the followers per bucket, up to the maximum', () => {
    expect(bucketsFor(EDGE_BUCKETS_MIN * T + 1, T)).toBe(2 * EDGE_BUCKETS_MIN);
    expect(bucketsFor(600_000_000, T)).toBe(EDGE_BUCKETS_MAX);
  });
});

describe('nextMove', () => {
  it('moves a settled account that needs more buckets, and never while a move runs or to fewer', () => {
    expect(nextMove(UNBUCKETED, T, T)).toBe(EDGE_BUCKETS_MIN);
    expect(nextMove({ buckets: 1, target: 8 }, T, T)).toBeUndefined();
    expect(nextMove({ buckets: 8, prev: 1 }, 10 * T, T)).toBeUndefined();
    expect(nextMove({ buckets: 16 }, T, T)).toBeUndefined();
  });
});

describe('layouts written during a move', () => {
  const start = 1_000_000;
  const grace = 30_000;
  const moving = { buckets: 1, target: 8, ...moveTimes(start, grace) };

  it('writes the target only from dualAt, but deletes from it at once', () => {
    expect(putLayouts(moving, start)).toEqual([1]);
    expect(putLayouts(moving, start + grace)).toEqual([1, 8]);
    expect(deleteLayouts(moving)).toEqual([1, 8]);
  });

  it('keeps writing the old layout for a grace after the flip, and cleans it after another', () => {
    const flip = start + 3 * grace;
    const flipped = { buckets: 8, prev: 1, ...flipTimes(flip, grace) };

    expect(putLayouts(flipped, flip)).toEqual([8, 1]);
    expect(putLayouts(flipped, flip + grace)).toEqual([8]);
    expect(movePhase(flipped, flip + grace)).toBe('draining');
    expect(movePhase(flipped, flip + 2 * grace)).toBe('cleaning');
  });

  it('copies only after two graces', () => {
    expect(movePhase(moving, start + grace)).toBe('waiting');
    expect(movePhase(moving, start + 2 * grace)).toBe('copying');
  });
});

describe('edgeBucket', () => {
  it('splits a bucket in two when the count doubles', () => {
    for (let i = 0; i < 200; i++) {
      const f = mintId(i);
      const b = edgeBucket('x', f, 8);
      expect([b, b + 8]).toContain(edgeBucket('x', f, 16));
    }
  });
});
