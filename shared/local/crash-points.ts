// A test hook for the crash test: FEED_LOCAL_CRASH_AT=<point>:<n> makes the local stack kill
// itself with SIGKILL the n-th time it reaches <point>, a moment where work exists only in its
// journals, so a crash lands in that window every time instead of by luck. Unset, nothing changes.
//   fanout-sent       a SendMessageBatch to the fan-out queue is durable (the post router's send)
//   checkpoint-saved  a stream checkpoint save covers a post whose fan-out jobs have not started
//   fanout-received   the fan-out worker received a batch (in flight) and has not run it yet
//   delayed-sent      a message with DelaySeconds is durable, still waiting out its delay
// While fanout-sent or checkpoint-saved is armed, the fan-out worker receives nothing, so the
// jobs it would otherwise run at once are still queued when the point is reached.
import { AsyncLocalStorage } from 'node:async_hooks';

export const CRASH_POINTS = ['fanout-sent', 'checkpoint-saved', 'fanout-received', 'delayed-sent'] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

/** Points that hold fan-out delivery while armed: without the hold the worker usually takes a
 *  job within a millisecond of its send, and the window would be hit only by chance. */
const HOLDING: readonly CrashPoint[] = ['fanout-sent', 'checkpoint-saved'];

/** Parses `point:n[,point:n…]`; a malformed value fails at start-up with the variable's name. */
export function parseCrashPoints(value: string | undefined): Map<CrashPoint, number> {
  const out = new Map<CrashPoint, number>();
  for (const part of (value ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const [point, count] = part.split(':');
    const n = Number(count ?? '1');
    if (!CRASH_POINTS.includes(point as CrashPoint) || !Number.isInteger(n) || n < 1) {
      throw new Error(`FEED_LOCAL_CRASH_AT: "${part}" is not <point>:<n> with point one of ${CRASH_POINTS.join(', ')} and n ≥ 1`);
    }
    out.set(point as CrashPoint, n);
  }
  return out;
}

const armed = parseCrashPoints(process.env.FEED_LOCAL_CRASH_AT);
const reached = new Map<CrashPoint, number>();

/** True while a point that holds fan-out delivery is armed (queues.ts skips receiving). */
export function holdsDelivery(queue: string): boolean {
  return queue === 'fanout' && HOLDING.some((p) => armed.has(p));
}

/** Counts one arrival at `point`; on the armed count the process dies at once, as a kill -9 from
 *  outside would kill it (no handler, no flush, children left running). */
export function crashPoint(point: CrashPoint): void {
  const n = armed.get(point);
  if (n === undefined) return;
  const count = (reached.get(point) ?? 0) + 1;
  reached.set(point, count);
  if (count < n) return;
  process.stderr.write(`FEED_LOCAL_CRASH_AT: killed at ${point}:${n}\n`);
  process.kill(process.pid, 'SIGKILL');
}

/** Whether the point is armed at all (lets callers skip the work of a condition). */
export function crashArmed(point: CrashPoint): boolean {
  return armed.has(point);
}

/** A stream delivery (one batch to its handler); `covered` once its checkpoint has advanced. */
export interface Delivery {
  covered: boolean;
}
const currentDelivery = new AsyncLocalStorage<Delivery>();
/** The delivery each fan-out job was sent from, while checkpoint-saved is armed. */
const sentFrom = new Map<string, Delivery>();

/** Runs a stream delivery so that the jobs its handler sends are attributed to it. */
export function inDelivery<T>(delivery: Delivery, work: () => Promise<T>): Promise<T> {
  return armed.has('checkpoint-saved') ? currentDelivery.run(delivery, work) : work();
}

/** Notes fan-out jobs just sent, and the delivery that sent them. */
export function noteSent(queue: string, messageIds: string[]): void {
  const delivery = currentDelivery.getStore();
  if (queue !== 'fanout' || !delivery || !armed.has('checkpoint-saved')) return;
  for (const id of messageIds) sentFrom.set(id, delivery);
}

/** checkpoint-saved: counted only when the checkpoints just saved cover a post whose fan-out jobs
 *  have not started: a job never received, sent by a delivery whose checkpoint has advanced. */
export function crashAfterCheckpointSave(queues: { unstarted(queue: 'fanout'): string[] }): void {
  if (!armed.has('checkpoint-saved')) return;
  if (queues.unstarted('fanout').some((id) => sentFrom.get(id)?.covered)) crashPoint('checkpoint-saved');
}
