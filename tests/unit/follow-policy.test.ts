// Follow and VIP policy (shared/domain/follow-policy.ts) and the transaction-conflict retry policy
// (shared/domain/transaction-retry.ts): pure functions, no engine.
import { describe, expect, it } from 'vitest';
import { assertCanFollow, notifiesFollowee, vipMarkError } from '../../shared/domain/follow-policy.js';
import { BadRequestError } from '../../shared/domain/errors.js';
import { TRANSACTION_CONFLICT_RETRIES, VIPS_MAX } from '../../shared/domain/limits.js';
import { conflictRetryDelay } from '../../shared/domain/transaction-retry.js';

describe('assertCanFollow', () => {
  it('refuses a follow of oneself with 400 self_follow', () => {
    let caught: unknown;
    try {
      assertCanFollow('u1', 'u1');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BadRequestError);
    expect(caught).toMatchObject({ status: 400, code: 'self_follow' });
  });

  it('allows a follow of someone else', () => {
    expect(() => assertCanFollow('u1', 'u2')).not.toThrow();
  });
});

describe('vipMarkError', () => {
  it('answers 409 vip_limit when the author already has VIPS_MAX VIPs', () => {
    const err = vipMarkError('limit', 'u2');
    expect(err).toMatchObject({ status: 409, code: 'vip_limit' });
    expect(err?.message).toContain(String(VIPS_MAX));
  });

  it('answers 404 when the user does not follow the author', () => {
    expect(vipMarkError('not-follower', 'u2')).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('treats a new mark and a repeated mark alike as success (idempotent)', () => {
    expect([vipMarkError('marked', 'u2'), vipMarkError('already', 'u2')]).toEqual([undefined, undefined]);
  });
});

describe('conflictRetryDelay', () => {
  it(`gives up after ${TRANSACTION_CONFLICT_RETRIES} conflicts`, () => {
    expect(conflictRetryDelay(TRANSACTION_CONFLICT_RETRIES - 1)).toBeTypeOf('number');
    expect(conflictRetryDelay(TRANSACTION_CONFLICT_RETRIES)).toBeUndefined();
    expect(conflictRetryDelay(TRANSACTION_CONFLICT_RETRIES + 5)).toBeUndefined();
  });

  it('doubles the delay with each attempt, jittered between half and one and a half times', () => {
    const low = Array.from({ length: TRANSACTION_CONFLICT_RETRIES }, (_, a) => conflictRetryDelay(a, () => 0)!);
    const high = Array.from({ length: TRANSACTION_CONFLICT_RETRIES }, (_, a) => conflictRetryDelay(a, () => 0.999999)!);
    for (let a = 1; a < low.length; a++) expect(low[a]).toBe(2 * low[a - 1]!);
    for (let a = 0; a < low.length; a++) expect(high[a]! / low[a]!).toBeCloseTo(3, 3);
    expect(low[0]).toBe(5);
  });
});

describe('notifiesFollowee', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  const window = 1800;

  it('notifies for a new edge', () => {
    expect(notifiesFollowee({ created: true }, now, window)).toBe(true);
  });

  it('notifies again for an edge made within the window (a retried request that failed after its transaction)', () => {
    expect(notifiesFollowee({ created: false, since: '2026-11-30T11:45:00Z' }, now, window)).toBe(true);
  });

  it('does not notify for an older edge (a repeated follow)', () => {
    expect(notifiesFollowee({ created: false, since: '2026-11-30T11:29:59Z' }, now, window)).toBe(false);
  });

  it('does not notify when the edge is gone or its time unknown', () => {
    expect(notifiesFollowee({ created: false }, now, window)).toBe(false);
  });
});
