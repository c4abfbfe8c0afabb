// Which route a post takes to followers by its author's tier (shared/domain/post-route.ts), and
// which pushed feeds are trimmed back to their cap.
import { describe, expect, it } from 'vitest';
import { FEED_TRIM_ONE_IN } from '../../shared/domain/limits.js';
import { routeOf, trimsFeed } from '../../shared/domain/post-route.js';

describe('routeOf', () => {
  it('pushes a regular author’s post to every follower and notifies with the push', () => {
    expect(routeOf('regular', 'add')).toEqual({ push: 'all-followers', pullCache: 'none', notifyWithPush: true, notifyLater: false });
  });

  it('sends a celebrity’s post through the workflow to active followers, caches it for pull and notifies later', () => {
    expect(routeOf('celebrity', 'add')).toEqual({ push: 'active-followers-workflow', pullCache: 'record-post', notifyWithPush: false, notifyLater: true });
  });

  it('pushes a mega-celebrity’s post to VIP followers only, caching it for everyone else to pull', () => {
    expect(routeOf('mega', 'add')).toEqual({ push: 'vip-followers', pullCache: 'record-post', notifyWithPush: false, notifyLater: true });
  });

  it('takes a deletion down the same push route as the post, recording it and notifying nobody', () => {
    for (const tier of ['regular', 'celebrity', 'mega'] as const) {
      const route = routeOf(tier, 'remove');
      expect(route.push).toBe(routeOf(tier, 'add').push);
      expect(route).toMatchObject({ pullCache: 'record-deletion', notifyWithPush: false, notifyLater: false });
    }
  });
});

describe('trimsFeed', () => {
  it('picks the same feeds for a redelivered job', () => {
    const followers = Array.from({ length: 200 }, (_, i) => `F${i}`);
    const first = followers.filter((f) => trimsFeed(f, 'P1'));
    expect(followers.filter((f) => trimsFeed(f, 'P1'))).toEqual(first);
  });

  it('trims about one pushed feed in FEED_TRIM_ONE_IN', () => {
    const pushes = 20_000;
    const trimmed = Array.from({ length: pushes }, (_, i) => trimsFeed(`F${i}`, `P${i % 7}`)).filter(Boolean).length;
    expect(trimmed).toBeGreaterThan((pushes / FEED_TRIM_ONE_IN) * 0.8);
    expect(trimmed).toBeLessThan((pushes / FEED_TRIM_ONE_IN) * 1.2);
  });
});
