// The local stack's schedules (shared/local/stepfunctions.ts schedule()): each window is started
// once, a grace period after it closes, and a timer that fires late starts the windows it missed.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resetConfig } from '../../shared/edge/config.js';
import { LocalStepFunctions, SCHEDULE_CATCH_UP } from '../../shared/local/stepfunctions.js';

const WINDOW_S = 2;
const GRACE_MS = 1500;
let sfn: LocalStepFunctions;
let started: string[];
/** The suite's window (tests/support/stack-env.ts), put back after each test. */
const suiteWindow = process.env.FEED_NOTIFICATION_WINDOW_SECONDS;

beforeEach(() => {
  process.env.FEED_NOTIFICATION_WINDOW_SECONDS = String(WINDOW_S);
  process.env.FEED_WARM_INTERVAL_SECONDS = '3600';
  resetConfig();
  vi.useFakeTimers();
  vi.setSystemTime(1_000_000_000); // a window boundary
  sfn = new LocalStepFunctions();
  started = [];
  vi.spyOn(sfn, 'startExecution').mockImplementation((_arn, _input, name) => {
    started.push(name!);
    return undefined as never;
  });
});

afterEach(async () => {
  await sfn.stop();
  vi.useRealTimers();
  delete process.env.FEED_WARM_INTERVAL_SECONDS;
  if (suiteWindow === undefined) delete process.env.FEED_NOTIFICATION_WINDOW_SECONDS;
  else process.env.FEED_NOTIFICATION_WINDOW_SECONDS = suiteWindow;
  resetConfig();
});

const windows = () => started.filter((n) => n.startsWith('batched-notification-')).map((n) => Number(n.split('-').at(-1)));

describe('local schedules', () => {
  it('starts each window once, a grace period after it closes', async () => {
    sfn.schedule(GRACE_MS);
    await vi.advanceTimersByTimeAsync(GRACE_MS - 1);
    expect(windows()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(windows()).toEqual([999_998]); // the window that closed at 1,000,000 s
    await vi.advanceTimersByTimeAsync(3 * WINDOW_S * 1000);
    expect(windows()).toEqual([999_998, 1_000_000, 1_000_002, 1_000_004]);
  });

  it('starts the windows a late timer missed, at most SCHEDULE_CATCH_UP at once', async () => {
    sfn.schedule(GRACE_MS);
    await vi.advanceTimersByTimeAsync(GRACE_MS);
    // The machine stalls for 3 windows: the next timer fires 6 s late.
    vi.setSystemTime(Date.now() + 3 * WINDOW_S * 1000);
    await vi.advanceTimersByTimeAsync(WINDOW_S * 1000);
    expect(windows()).toEqual([999_998, 1_000_000, 1_000_002, 1_000_004, 1_000_006]);
    // A stall longer than the catch-up: only the newest SCHEDULE_CATCH_UP windows start.
    vi.setSystemTime(Date.now() + 20 * WINDOW_S * 1000);
    await vi.advanceTimersByTimeAsync(WINDOW_S * 1000);
    expect(windows().slice(5)).toEqual(Array.from({ length: SCHEDULE_CATCH_UP }, (_, i) => 1_000_048 + 2 * (i - SCHEDULE_CATCH_UP + 1)));
  });
});
