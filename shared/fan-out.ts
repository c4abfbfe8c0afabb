// Push fan-out: a post's followers are paged from its author's in-edges and turned into jobs of
// FANOUT_JOB_FOLLOWERS ids on the fan-out queue; the worker writes each job's feed entries.
// Deletions travel the same way and remove entries. Every step is idempotent, so a redelivered
// stream record or message writes nothing new.
import { z } from 'zod';
import { enqueue } from './adapters/queue.js';
import { addToFeeds, removeFromFeeds, trimFeed } from './feed.js';
import { edgePage } from './follows.js';
import { FANOUT_JOB_FOLLOWERS, FEED_TRIM_ONE_IN } from './limits.js';
import murmurhash from 'murmurhash';

export const FanoutJob = z.strictObject({
  kind: z.enum(['add', 'remove']),
  post: z.strictObject({ postId: z.string(), authorId: z.string(), createdAt: z.string() }),
  followers: z.array(z.string()).min(1).max(FANOUT_JOB_FOLLOWERS),
});
export type FanoutJob = z.infer<typeof FanoutJob>;

/** Follower ids read per Query while planning (1 MB pages hold far more; this bounds memory). */
const FOLLOWER_PAGE = 1000;

/** Pages through the author's followers and enqueues one job per FANOUT_JOB_FOLLOWERS of them.
 *  Returns the number of followers covered. */
export async function planFanout(kind: FanoutJob['kind'], post: FanoutJob['post']): Promise<number> {
  let after: string | undefined;
  let total = 0;
  do {
    const page = await edgePage(post.authorId, 'followers', FOLLOWER_PAGE, after);
    const jobs: FanoutJob[] = [];
    for (let i = 0; i < page.ids.length; i += FANOUT_JOB_FOLLOWERS) {
      jobs.push({ kind, post, followers: page.ids.slice(i, i + FANOUT_JOB_FOLLOWERS) });
    }
    await enqueue('fanout', jobs);
    total += page.ids.length;
    after = page.last;
  } while (after);
  return total;
}

/** Runs one job: writes (or removes) the post's entry in each follower's feed. About one feed in
 *  FEED_TRIM_ONE_IN is trimmed back to its cap, chosen by hash so a redelivery picks the same. */
export async function runFanoutJob(job: FanoutJob): Promise<number> {
  if (job.kind === 'remove') {
    await removeFromFeeds(job.post.postId, job.followers);
    return job.followers.length;
  }
  const written = await addToFeeds(job.post, job.followers);
  for (const follower of job.followers) {
    if (murmurhash.v3(`${follower}:${job.post.postId}`) % FEED_TRIM_ONE_IN === 0) await trimFeed(follower);
  }
  return written;
}
