// Fan-out by tier. Regular authors push to every follower: pages of followers become jobs of
// FANOUT_JOB_FOLLOWERS ids on the fan-out queue, and the worker writes each job's feed entries.
// Celebrities push only to recently active followers, through the CelebrityFanout workflow;
// mega-celebrities push only to their VIP followers, and everyone else pulls at read time.
// Deletions travel the same paths; tier changes reach followers' high-tier lists as jobs too.
// Every step is idempotent, so a redelivered record or message writes nothing new.
import * as z from 'zod';
import { enqueue } from '../messaging/queue.js';
import { addToFeeds, removeFromFeeds, trimFeed } from './feed-entries.js';
import { applyTier, followerBucketCount, followerBucketPage, vipPage } from './follows.js';
import { runEdgeMoveStep } from './edge-moves.js';
import { FANOUT_JOB_FOLLOWERS, HIGH_TIER_NOTIFY_DELAY_SECONDS } from '../domain/limits.js';
import { PostRef } from '../domain/post.js';
import { routeOf, trimsFeed } from '../domain/post-route.js';
import { addToCachedFeeds, refreshFeeds, removeFromCachedFeeds } from './home-feed.js';
import { notify } from './notifications.js';
import { findPost } from './posts.js';
import { countMetric, METRIC } from '../edge/observability.js';
import { servedHere, type Tier } from './users.js';

export type { PostRef } from '../domain/post.js';
const Followers = z.array(z.string()).min(1).max(FANOUT_JOB_FOLLOWERS);

export const FanoutJob = z.discriminatedUnion('kind', [
  /** `notify`: also queue a new-post notification for these followers (regular tier only; higher
   *  tiers notify through a delayed notify-plan). */
  z.strictObject({ kind: z.literal('add'), post: PostRef, followers: Followers, notify: z.boolean().optional() }),
  z.strictObject({ kind: z.literal('remove'), post: PostRef, followers: Followers }),
  z.strictObject({ kind: z.literal('tier'), authorId: z.string(), tier: z.enum(['regular', 'celebrity', 'mega']), followers: Followers }),
  /** Notify a high-tier author's followers of a post, NOTIFY_PLAN_PAGE at a time; each step
   *  queues the next, so no single invocation pages millions of followers. With `bucket` of
   *  `buckets`, one bucket of a bucketed author's followers: the first job of a bucketed author
   *  queues one per bucket, so buckets are notified in parallel. */
  z.strictObject({
    kind: z.literal('notify-plan'),
    post: PostRef,
    after: z.string().optional(),
    bucket: z.number().int().min(0).optional(),
    buckets: z.number().int().min(1).optional(),
  }),
  /** One step of moving an author's follower edges to more buckets (services/edge-moves.ts). */
  z.strictObject({ kind: z.literal('edges'), authorId: z.string() }),
]);

const NOTIFY_PLAN_PAGE = 5000;
export type FanoutJob = z.infer<typeof FanoutJob>;

/** Follower ids read per Query while planning (1 MB pages hold far more; this bounds memory). */
const FOLLOWER_PAGE = 1000;

type Pager = (after?: string) => Promise<{ ids: string[]; last?: string }>;

/** Who a plan covers in a network of several regions: `served`, the followers this region serves
 *  (a post reaches every region, and each pushes to its own users' feeds); `all`, every follower
 *  in this region's tables (a tier change, which only the author's region plans). */
type Recipients = 'served' | 'all';

/** Pages through recipients and enqueues one job per FANOUT_JOB_FOLLOWERS of them; returns the
 *  number of recipients covered. */
async function plan(pager: Pager, job: (followers: string[]) => FanoutJob, recipients: Recipients = 'served'): Promise<number> {
  let after: string | undefined;
  let total = 0;
  do {
    const page = await pager(after);
    const ids = recipients === 'served' ? await servedHere(page.ids) : page.ids;
    const jobs: FanoutJob[] = [];
    for (let i = 0; i < ids.length; i += FANOUT_JOB_FOLLOWERS) jobs.push(job(ids.slice(i, i + FANOUT_JOB_FOLLOWERS)));
    await enqueue('fanout', jobs);
    total += ids.length;
    after = page.last;
  } while (after);
  return total;
}

/** Plans over every follower of an author, each edge bucket paged in parallel. */
async function planFollowers(authorId: string, job: (followers: string[]) => FanoutJob, recipients: Recipients = 'served'): Promise<number> {
  const buckets = await followerBucketCount(authorId);
  const counts = await Promise.all(
    Array.from({ length: buckets }, (_, b) => plan((after) => followerBucketPage(authorId, b, buckets, FOLLOWER_PAGE, after), job, recipients)),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** Push to (or remove from) every follower's feed: the regular tier, which also notifies. */
export function planFanout(kind: 'add' | 'remove', post: PostRef): Promise<number> {
  const notify = routeOf('regular', kind).notifyWithPush;
  return planFollowers(post.authorId, (followers) => (notify ? { kind, post, followers, notify } : { kind, post, followers }));
}

/** Queues the (delayed) notification of a high-tier post to all its author's followers. */
export async function planHighTierNotification(post: PostRef): Promise<void> {
  await enqueue('fanout', [{ kind: 'notify-plan', post } satisfies FanoutJob], { delaySeconds: HIGH_TIER_NOTIFY_DELAY_SECONDS });
}

/** Push to (or remove from) the author's VIP followers only: the mega tier. */
export function planVipFanout(kind: 'add' | 'remove', post: PostRef): Promise<number> {
  return plan((after) => vipPage(post.authorId, FOLLOWER_PAGE, after), (followers) => ({ kind, post, followers }));
}

/** Tell every follower's high-tier list that the author's tier changed. */
export function planTierChange(authorId: string, tier: Tier): Promise<number> {
  return planFollowers(authorId, (followers) => ({ kind: 'tier', authorId, tier, followers }), 'all');
}

/** Writes (or removes) one post's entry in each of these feeds. About one feed in
 *  FEED_TRIM_ONE_IN is trimmed back to its cap, chosen by hash so a redelivery picks the same. */
export async function pushToFeeds(kind: 'add' | 'remove', post: PostRef, followers: string[]): Promise<number> {
  if (kind === 'remove') {
    await removeFromFeeds(post.postId, followers);
    await removeFromCachedFeeds(post.postId, followers);
    return followers.length;
  }
  const written = await addToFeeds(post, followers);
  const trimmed = followers.filter((f) => trimsFeed(f, post.postId));
  await Promise.all([
    ...trimmed.map((f) => trimFeed(f)),
    // The post goes into the followers' cached first pages too (one read of it per job); deleted
    // meanwhile, it must not: their pages are dropped and regenerated instead.
    findPost(post.postId).then((full) => (full ? addToCachedFeeds(full, followers) : refreshFeeds(followers))),
  ]);
  return written;
}

/** One page of a high-tier post's notification plan; the next page is the next job. */
async function notifyPlanStep(job: Extract<FanoutJob, { kind: 'notify-plan' }>): Promise<number> {
  const { post } = job;
  if (job.bucket === undefined) {
    const buckets = await followerBucketCount(post.authorId);
    if (buckets > 1) {
      await enqueue('fanout', Array.from({ length: buckets }, (_, bucket) => ({ kind: 'notify-plan', post, bucket, buckets }) satisfies FanoutJob));
      return 0;
    }
  }
  const bucket = job.bucket ?? 0;
  const buckets = job.buckets ?? 1;
  const page = await followerBucketPage(post.authorId, bucket, buckets, NOTIFY_PLAN_PAGE, job.after);
  if (page.ids.length > 0) await notify('post', post.authorId, page.ids, post.postId);
  const next: FanoutJob = { kind: 'notify-plan', post, after: page.last, ...(job.bucket !== undefined && { bucket, buckets }) };
  if (page.last) await enqueue('fanout', [next]);
  return 0;
}

/** Runs one job from the fan-out queue; returns the items written. */
export async function runFanoutJob(job: FanoutJob): Promise<number> {
  switch (job.kind) {
    case 'tier':
      await applyTier(job.authorId, job.tier, job.followers);
      await refreshFeeds(job.followers);
      return job.followers.length;
    case 'notify-plan':
      return notifyPlanStep(job);
    case 'edges':
      await runEdgeMoveStep(job.authorId);
      return 0;
    case 'add': {
      const written = await pushToFeeds('add', job.post, job.followers);
      // Regular-tier jobs notify with the push; the mega tier's VIP jobs (planVipFanout) do not.
      countMetric(METRIC.fanoutWrites, written, { tier: job.notify ? 'regular' : 'mega' });
      if (job.notify) await notify('post', job.post.authorId, job.followers, job.post.postId);
      return written;
    }
    case 'remove':
      return pushToFeeds('remove', job.post, job.followers);
  }
}
