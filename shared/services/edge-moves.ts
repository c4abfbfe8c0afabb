// Moving an account's follower edges to more partition keys as it grows (README "Celebrity
// edges"): start when the follower count asks for more buckets, wait out the grace, copy page by
// page, flip readers, keep writing the old layout a while, clean it up. Each step is one fan-out
// job that queues the next, records its progress in the layout row and can run twice.
import { enqueue } from '../messaging/queue.js';
import { config } from '../edge/config.js';
import { logger } from '../edge/observability.js';
import { flipTimes, moveTimes, movePhase, nextMove, type EdgeLayout } from '../domain/edge-buckets.js';
import { EDGE_MOVE_PAGE, EDGE_MOVE_STALL_SECONDS } from '../domain/limits.js';
import {
  finishEdgeMove,
  flipEdgeLayout,
  readEdgeLayout,
  saveCleanupProgress,
  saveCopyProgress,
  startEdgeMove,
} from '../store/edge-layout.js';
import { cleanupEdgePage, copyEdgePage } from '../store/follows.js';

/** SQS DelaySeconds is at most 900; a longer wait is several delayed hops. */
const SQS_DELAY_MAX_SECONDS = 900;

const graceMs = () => config().FEED_EDGE_MOVE_GRACE_SECONDS * 1000;

/** The next step of a move, after `delayMs`. */
async function queueStep(authorId: string, delayMs = 0): Promise<void> {
  const delaySeconds = Math.min(SQS_DELAY_MAX_SECONDS, Math.max(0, Math.ceil(delayMs / 1000)));
  await enqueue('fanout', [{ kind: 'edges', authorId }], delaySeconds > 0 ? { delaySeconds } : {});
}

/** Called with an account's follower count after a follow or unfollow: starts a move when the
 *  count asks for more buckets, and queues again a move whose steps stalled. True when it
 *  queued a step. */
export async function reconcileEdgeLayout(userId: string, followers: number, now = Date.now()): Promise<boolean> {
  const layout = await readEdgeLayout(userId);
  const to = nextMove(layout, followers, config().FEED_EDGE_BUCKET_THRESHOLD);
  if (to !== undefined) {
    if (!(await startEdgeMove(userId, layout.buckets, to, moveTimes(now, graceMs()), now))) return false;
    logger.info('edge move started', { userId, from: layout.buckets, to, followers });
    await queueStep(userId, 2 * graceMs());
    return true;
  }
  // Only phases that record each step can be seen to stall; a waiting step re-queues itself
  // without a record, and queuing another there would start a second chain of waits.
  const phase = movePhase(layout, now);
  if ((phase === 'copying' || phase === 'cleaning') && now - (layout.stepAt ?? 0) > EDGE_MOVE_STALL_SECONDS * 1000) {
    await queueStep(userId);
    return true;
  }
  return false;
}

export type MoveStep = 'idle' | 'waited' | 'copied' | 'flipped' | 'cleaned' | 'finished';

/** Runs one step of an account's move, `page` edges at most; returns what it did. */
export async function runEdgeMoveStep(authorId: string, { now = Date.now(), page = EDGE_MOVE_PAGE } = {}): Promise<MoveStep> {
  const layout = await readEdgeLayout(authorId, true);
  switch (movePhase(layout, now)) {
    case 'settled':
      return 'idle';
    case 'waiting':
      await queueStep(authorId, layout.copyAt! - now);
      return 'waited';
    case 'draining':
      await queueStep(authorId, layout.cleanAt! - now);
      return 'waited';
    case 'copying':
      return copyStep(authorId, layout, now, page);
    case 'cleaning':
      return cleanStep(authorId, layout, now, page);
  }
}

async function copyStep(authorId: string, layout: EdgeLayout, now: number, page: number): Promise<'copied' | 'flipped'> {
  const from = layout.buckets;
  const to = layout.target!;
  const next = await copyEdgePage(authorId, from, to, layout.copied ?? { bucket: 0 }, page);
  if (next) {
    if (await saveCopyProgress(authorId, to, layout.step, next, now)) await queueStep(authorId);
    return 'copied';
  }
  const times = flipTimes(now, graceMs());
  if (await flipEdgeLayout(authorId, from, to, layout.step, times, now)) {
    logger.info('edge layout flipped', { userId: authorId, from, to });
    await queueStep(authorId, times.cleanAt - now);
  }
  return 'flipped';
}

async function cleanStep(authorId: string, layout: EdgeLayout, now: number, page: number): Promise<'cleaned' | 'finished'> {
  const from = layout.prev!;
  const next = await cleanupEdgePage(authorId, from, layout.buckets, layout.copied ?? { bucket: 0 }, page);
  if (next) {
    if (await saveCleanupProgress(authorId, from, layout.step, next, now)) await queueStep(authorId);
    return 'cleaned';
  }
  if (!(await finishEdgeMove(authorId, from, layout.step, now))) return 'cleaned';
  logger.info('edge move finished', { userId: authorId, from, to: layout.buckets });
  return 'finished';
}
