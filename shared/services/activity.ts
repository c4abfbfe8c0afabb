// Recording that a user was active (posting, reading their feed): at most once per
// FEED_ACTIVITY_RESOLUTION_SECONDS on their profile, and then in the active-follower index of each
// celebrity they follow, which is who a celebrity's posts are pushed to.
import { activityDue } from '../domain/activity.js';
import { config } from '../edge/config.js';
import type { ProfileRow } from '../store/users.js';
import { indexActivity } from './follows.js';
import { touchActivity } from './users.js';

/** Records the caller's activity when it is due; `row` is updated in place (its activeAt), so a
 *  cached row does not try again within the resolution. Not due (the common case on the feed read
 *  path) it returns nothing, so the caller awaits no extra promise. */
export function recordActivity(row: ProfileRow, nowSeconds = Math.floor(Date.now() / 1000)): Promise<void> | undefined {
  if (!activityDue(row.activeAt, nowSeconds, config().FEED_ACTIVITY_RESOLUTION_SECONDS)) return undefined;
  return touchAndIndex(row, nowSeconds);
}

async function touchAndIndex(row: ProfileRow, nowSeconds: number): Promise<void> {
  if (await touchActivity(row, nowSeconds)) await indexActivity(row.userId, row.activeAt!);
}
