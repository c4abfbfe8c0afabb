// The pull side of the feed: which authors a reader pulls from and where their recent posts come
// from. High-tier authors come from the reader's high-tier list, followed authors (for history
// past the precomputed feed) from their following list, each bounded per request.
import type { PullSources } from './feed.js';
import { edgePage, highTierFollowees } from './follows.js';
import { FEED_HISTORY_AUTHORS, FEED_PULL_AUTHORS } from './limits.js';
import { queryAuthorPosts } from './posts.js';

export const pullSources: PullSources = {
  async highTier(userId) {
    return (await highTierFollowees(userId)).slice(0, FEED_PULL_AUTHORS).map((a) => a.authorId);
  },
  async following(userId) {
    return (await edgePage(userId, 'following', FEED_HISTORY_AUTHORS)).ids;
  },
  recentPosts: (authorId, count, before) => queryAuthorPosts(authorId, count, before),
};
