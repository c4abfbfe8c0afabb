// Follow and VIP policy: who may follow whom, and what the outcome of marking a VIP follower
// means to the caller. Pure; the store reports outcomes, these rules turn them into answers.
import { BadRequestError, ConflictError, NotFoundError, type HttpError } from './errors.js';
import { VIPS_MAX } from './limits.js';

/** Following yourself would put your own posts in your feed twice and count you as a follower. */
export function assertCanFollow(callerId: string, targetId: string): void {
  if (targetId === callerId) throw new BadRequestError('you cannot follow yourself', 'self_follow');
}

/** What the store found when marking a VIP follower (one conditional transaction). */
export type VipMarkOutcome = 'marked' | 'already' | 'limit' | 'not-follower';

/** The error a VIP mark outcome answers with, or undefined when the mark holds (marking is
 *  idempotent, so 'already' is success). */
export function vipMarkError(outcome: VipMarkOutcome, followerId: string): HttpError | undefined {
  switch (outcome) {
    case 'marked':
    case 'already':
      return undefined;
    case 'not-follower':
      return new NotFoundError(`user ${followerId} does not follow you`);
    case 'limit':
      return new ConflictError(`at most ${VIPS_MAX} VIP followers`, 'vip_limit');
  }
}

/** Whether a follow request notifies the followee: when it created the edge, or when it found an
 *  edge made within the last notification window — a retry of a request that failed after its
 *  transaction, whose notification may never have been sent. The window's digest counts each
 *  follower once, so a retry that did notify before adds nothing; an old edge (a repeated PUT of a
 *  follow made long ago) notifies no one. */
export function notifiesFollowee(outcome: { created: boolean; since?: string }, nowMs: number, windowSeconds: number): boolean {
  if (outcome.created) return true;
  const since = outcome.since === undefined ? NaN : Date.parse(outcome.since);
  return nowMs - since <= windowSeconds * 1000;
}
