// The invocation being served, as the edge knows it: one object per API invocation, in an
// AsyncLocalStorage that covers all of its work. It carries the invocation's deadline, honoured by
// every dependency call beneath it (the store aborts a DynamoDB call that would outlive it), so a
// slow dependency is answered 503 before the function's own timeout cuts the response off; and
// what the logger and the metrics need from the invocation only when it logs or stores a metric
// (shared/edge/observability.ts), so an invocation that does neither never touches them.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context } from 'aws-lambda';
import { Watch } from './watch.js';

/** Time kept back from the function's remaining time when a dependency gives up: enough to answer
 *  503 and flush logs and metrics before Lambda kills the invocation (10 s functions give up at 9 s). */
export const DEADLINE_RESERVE_MS = 1_000;
/** The last resort (half of DEADLINE_RESERVE_MS: the store gives up first, so this fires only for
 *  other work): an invocation still running this long before its function's timeout is answered
 *  503 rather than killed by Lambda. */
export const ANSWER_RESERVE_MS = 500;
/** How often the watch over running invocations looks at the clock: an overdue one is answered at
 *  most this late, well within ANSWER_RESERVE_MS. */
export const WATCH_INTERVAL_MS = 100;

export interface Invocation {
  /** When dependency calls give up (epoch ms); undefined without a known remaining time. */
  readonly deadline: number | undefined;
  /** The Lambda context, put on the logger by the invocation's first log line. */
  readonly context?: Context;
  /** The id its log lines and the messages it sends carry. */
  readonly correlationId?: string;
  /** The first invocation of this process. */
  readonly coldStart: boolean;
  /** Set once the logger carries this invocation's context and correlation id. */
  logBound: boolean;
  /** Set when the invocation stored something in the process's Metrics, which its end flushes. */
  metricsStored: boolean;
}

const invocations = new AsyncLocalStorage<Invocation>();

/** The invocation being served, if any. */
export const currentInvocation = (): Invocation | undefined => invocations.getStore();

/** The deadline (epoch ms) of the invocation being served, if any. */
export const currentDeadline = (): number | undefined => invocations.getStore()?.deadline;

type Timed = { getRemainingTimeInMillis?: () => number } | undefined;

/** The invocation's remaining time (ms), or 0 for a context without a clock (a test's stub). */
export const remainingTime = (context: Timed): number =>
  typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : 0;

/** The dependency deadline of an invocation with `remaining` ms left: DEADLINE_RESERVE_MS before
 *  its end (at most half of what is left), and never past the deadline it runs within. */
export function deadlineIn(remaining: number): number | undefined {
  if (!(remaining > 0)) return currentDeadline();
  const at = Date.now() + remaining - Math.min(DEADLINE_RESERVE_MS, remaining / 2);
  return Math.min(at, currentDeadline() ?? Infinity);
}

/** Runs `work` as the invocation `invocation`. */
export function runInvocation<T>(invocation: Invocation, work: () => Promise<T>): Promise<T> {
  return invocations.run(invocation, work);
}

/** Runs `work` with every dependency call inside it bounded by the invocation's remaining time less
 *  DEADLINE_RESERVE_MS (at most half of it). A context without getRemainingTimeInMillis (a test's
 *  stub) leaves only the per-attempt timeouts. */
export function withDeadline<T>(context: Timed, work: () => Promise<T>): Promise<T> {
  const remaining = remainingTime(context);
  if (!(remaining > 0)) return work();
  return runInvocation({ deadline: deadlineIn(remaining), coldStart: false, logBound: false, metricsStored: false }, work);
}

// ---- answering in time ----
//
// An invocation Lambda kills at its timeout answers nothing the client can act on (API Gateway
// gives a bare 500 or 503 without Retry-After). So an invocation still running ANSWER_RESERVE_MS
// before its timeout is answered by `late` instead. One Watch looks after every running invocation:
// middy's timeoutEarly arms a timer per invocation, with a Promise.race, which cost an L1-hit read
// ~3 µs through the local gateway for an answer that almost never comes.

const running = new Watch(WATCH_INTERVAL_MS);

/** Invocations this process is answering now (more than one only with multi-concurrency). */
export const invocationsRunning = (): number => running.size;

/** `answer`, or, if it is still pending at `at` (epoch ms), what `late` returns (or throws). */
export function answerBy<T>(answer: Promise<T>, at: number, late: () => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const watched = running.add(at, () => {
      try {
        resolve(late());
      } catch (err) {
        reject(err as Error);
      }
    });
    answer.then(
      (value) => {
        running.forget(watched);
        resolve(value);
      },
      (err: unknown) => {
        running.forget(watched);
        reject(err as Error);
      },
    );
  });
}
