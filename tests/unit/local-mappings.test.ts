// The local stack's stream pollers: how long each waits at most while its streams are idle.
import { describe, expect, it } from 'vitest';
import { MAPPINGS } from '../../shared/declarations/event-sources.js';
import { ANALYTICS_IDLE_MAX_MS, idleMaxMsOf } from '../../shared/local/stack.js';
import { IDLE_POLL_MAX_MS } from '../../shared/local/streams.js';

const streams = MAPPINGS.filter((m) => m.kind === 'stream');

describe('stream pollers of the local stack', () => {
  it('reads the analytics export’s streams at most every few seconds when idle, and the product’s own at the default', () => {
    const analytics = streams.filter((m) => m.fn === 'analytics-export');
    const others = streams.filter((m) => m.fn !== 'analytics-export');
    expect(analytics.length).toBeGreaterThan(1);
    expect(others.length).toBeGreaterThan(0);
    expect(analytics.map(idleMaxMsOf)).toEqual(analytics.map(() => ANALYTICS_IDLE_MAX_MS));
    expect(ANALYTICS_IDLE_MAX_MS).toBeGreaterThan(IDLE_POLL_MAX_MS);
    // Post routing (fan-out's start) keeps the poller's default: a second at most.
    expect(others.map(idleMaxMsOf)).toEqual(others.map(() => undefined));
  });
});
