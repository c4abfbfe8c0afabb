// GET /v1/feed — the caller's home feed, newest first, with a stable cursor. Reading records the
// caller's activity (at most once per FEED_ACTIVITY_RESOLUTION_SECONDS), which keeps them in the
// active-follower index of the celebrities they follow.
import { api, PageQuery, type Page } from '../shared/edge/http.js';
import { homeFeed } from '../shared/services/home-feed.js';
import { recordFeedRead } from '../shared/edge/observability.js';
import { recordActivity } from '../shared/services/activity.js';
import { cachedCallerRow } from '../shared/services/users.js';

export async function getFeedWork({ sub, query }: { sub: string; query: Page }) {
  const started = performance.now();
  const me = await cachedCallerRow(sub);
  await recordActivity(me);
  const { page, source, json } = await homeFeed(me.userId, query.limit, query.cursor);
  recordFeedRead(performance.now() - started, source);
  return json !== undefined ? { status: 200, body: page, json } : { status: 200, body: page };
}

export const handler = api({ auth: true, query: PageQuery, rateLimit: 'read' }, getFeedWork);
