// The pull side of the feed: which authors a reader pulls from and where their recent posts come
// from. High-tier authors come from the reader's high-tier list, the FEED_PULL_AUTHORS most
// recently posting first; followed authors (history past the precomputed feed) from the
// following list, FEED_HISTORY_AUTHORS of them. Posts come from the Redis recent-posts cache when
// it can answer, else from the posts tables; a high-tier author's list is then filled from what
// was read, so the next reader finds it.
import { byRecency, cachedRecentPosts, fillRecentPosts } from '../cache/pull-cache.js';
import { RECENT_POSTS_MAX } from '../cache/cache-keys.js';
import type { PullSources } from './feed-entries.js';
import { edgePage, highTierFollowees } from './follows.js';
import { FEED_HISTORY_AUTHORS, FEED_PULL_AUTHORS } from '../domain/limits.js';
import { queryAuthorPosts } from '../store/posts.js';

export const pullSources: PullSources = {
  async highTier(userId) {
    const authors = (await highTierFollowees(userId)).map((a) => a.authorId);
    return (await byRecency(authors)).slice(0, FEED_PULL_AUTHORS);
  },
  async following(userId) {
    return (await edgePage(userId, 'following', FEED_HISTORY_AUTHORS)).ids;
  },
  async recentPosts(authorId, count, before, highTier) {
    const cached = await cachedRecentPosts(authorId, count, before);
    if (cached) return cached;
    // Only high-tier authors' lists get each new post (the post router records them), so only
    // theirs may be filled; a list serves first pages, so it is filled from the newest posts.
    if (!highTier || before || count > RECENT_POSTS_MAX) return queryAuthorPosts(authorId, count, before);
    const readAt = Date.now();
    const newest = await queryAuthorPosts(authorId, RECENT_POSTS_MAX);
    await fillRecentPosts(authorId, newest, newest.length < RECENT_POSTS_MAX, readAt);
    return newest.slice(0, count);
  },
};
