// One timer for many deadlines (shared/edge/watch.ts), and the API's last-resort answer built on it
// (answerBy, shared/edge/deadline.ts).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { answerBy, WATCH_INTERVAL_MS } from '../../shared/edge/deadline.js';
import { Watch } from '../../shared/edge/watch.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('Watch', () => {
  it('tells an operation still running once its time has passed, at most one interval late, and only once', () => {
    vi.useFakeTimers({ now: 0 });
    const watch = new Watch(10);
    const fired: string[] = [];
    watch.add(25, () => fired.push('a'));
    const b = watch.add(25, () => fired.push('b'));
    watch.add(1_000, () => fired.push('c'));

    vi.advanceTimersByTime(20);
    expect(fired).toEqual([]);
    watch.forget(b);
    vi.advanceTimersByTime(10);
    expect(fired).toEqual(['a']);
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['a']);
    expect(watch.size).toBe(1);
  });

  it('keeps no timer once nothing is watched', () => {
    vi.useFakeTimers({ now: 0 });
    const watch = new Watch(10);
    const w = watch.add(1_000, () => {});
    expect(vi.getTimerCount()).toBe(1);

    watch.forget(w);
    vi.advanceTimersByTime(10);

    expect(vi.getTimerCount()).toBe(0);
    watch.add(1_000, () => {});
    expect(vi.getTimerCount()).toBe(1);
  });
});

describe('answerBy', () => {
  it('gives the answer when it comes in time, and nothing fires later', async () => {
    const late = vi.fn(() => 'late');
    await expect(answerBy(Promise.resolve('answer'), Date.now() + 50, late)).resolves.toBe('answer');
    await new Promise((r) => setTimeout(r, 50 + 2 * WATCH_INTERVAL_MS));
    expect(late).not.toHaveBeenCalled();
  });

  it('gives what `late` returns, or throws, for an answer still pending at its time', async () => {
    const never = new Promise<string>(() => {});
    const started = Date.now();
    await expect(answerBy(never, started + 20, () => 'late')).resolves.toBe('late');
    expect(Date.now() - started).toBeGreaterThanOrEqual(20);
    await expect(
      answerBy(never, Date.now() + 20, () => {
        throw new Error('ran out of time');
      }),
    ).rejects.toThrow('ran out of time');
  });

  it('passes a failure of the answer on', async () => {
    await expect(answerBy(Promise.reject(new Error('boom')), Date.now() + 1_000, () => 'late')).rejects.toThrow('boom');
  });
});
