// Celebrity edges against DynamoDB Local: an account crossing FEED_EDGE_BUCKET_THRESHOLD (20
// here) has its in-edges moved from in#<id> to buckets step by step, with follows and unfollows
// made between the steps; afterwards its follower list, count, push fan-out, notification plan
// and celebrity workflow pages all cover exactly its followers.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { db } from '../../shared/store/client.js';
import { resetConfig } from '../../shared/edge/config.js';
import { useQueueTransport, type OutgoingMessage } from '../../shared/messaging/queue.js';
import { EDGE_BUCKETS_MIN } from '../../shared/domain/limits.js';
import { logicalShardOf, mintId } from '../../shared/domain/ids.js';
import { edgeBucket, partitions } from '../../shared/store/keys.js';
import { forgetEdgeLayouts, readEdgeLayout } from '../../shared/store/edge-layout.js';
import { reconcileEdgeLayout, runEdgeMoveStep, type MoveStep } from '../../shared/services/edge-moves.js';
import { FanoutJob, planFanout, runFanoutJob } from '../../shared/services/fan-out.js';
import { activeFollowerPage, follow, indexActive, listEdges, unfollow } from '../../shared/services/follows.js';
import { followerCount, type User } from '../../shared/services/users.js';
import { listActiveFollowers } from '../../functions/celebrity-fanout-page.js';
import { pushChunk } from '../../functions/celebrity-fanout-push.js';
import { feedRow, inBatches, newUser, newUsers } from '../support/fixtures-feeds.js';

const THRESHOLD = 20;
/** Edges per move step: small, so the copy takes several steps and writes land between them. */
const STEP_PAGE = 5;

const saved = { threshold: process.env.FEED_EDGE_BUCKET_THRESHOLD, grace: process.env.FEED_EDGE_MOVE_GRACE_SECONDS };
const restore = (name: string, v: string | undefined) => (v === undefined ? delete process.env[name] : (process.env[name] = v));

let sent: { queue: string; messages: OutgoingMessage[] }[] = [];
const recordSends = () => {
  sent = [];
  useQueueTransport({ send: async (queue, messages) => void sent.push({ queue, messages }) });
};
const sentJobs = (queue = 'fanout') => sent.filter((s) => s.queue === queue).flatMap((s) => s.messages.map((m) => JSON.parse(m.body)));

beforeAll(() => {
  process.env.FEED_EDGE_BUCKET_THRESHOLD = String(THRESHOLD);
  // No grace: the test runs each step itself, and every write reads the layout afresh.
  process.env.FEED_EDGE_MOVE_GRACE_SECONDS = '0';
  resetConfig();
  forgetEdgeLayouts();
});
afterEach(() => useQueueTransport(undefined));
afterAll(() => {
  restore('FEED_EDGE_BUCKET_THRESHOLD', saved.threshold);
  restore('FEED_EDGE_MOVE_GRACE_SECONDS', saved.grace);
  resetConfig();
  forgetEdgeLayouts();
});

/** Every follower id on the list, page by page, checking each page's order and its cursor. */
async function listAll(userId: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await listEdges(userId, 'followers', limit, cursor);
    const again = await listEdges(userId, 'followers', limit, cursor);
    const pageIds = page.items.map((u) => u.userId);
    expect(again.items.map((u) => u.userId), 'the same cursor answers the same page').toEqual(pageIds);
    expect([...pageIds].sort(), 'a page is in id order').toEqual(pageIds);
    ids.push(...pageIds);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return ids;
}

async function partitionIds(pk: string, table: string): Promise<string[]> {
  const out = await db().send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': pk }, ConsistentRead: true }));
  return (out.Items ?? []).map((i) => i.sk as string);
}

describe('an account crossing FEED_EDGE_BUCKET_THRESHOLD', () => {
  let author: User;
  let expected: Set<string>;
  const steps: MoveStep[] = [];

  beforeAll(async () => {
    author = await newUser();
    // Minted first, so their ids sort before every follower's: their follows land behind the
    // copy's position, where only the dual writes reach the new layout.
    const [newcomer1, newcomer2] = [await newUser(), await newUser()];
    // 25 followers: after the first step's 5, 20 edges are left, so a step ends exactly at the
    // last one and the next step flips.
    const followers = await newUsers(THRESHOLD + STEP_PAGE);
    await inBatches(followers, 8, (f) => follow(f, author.userId));
    expected = new Set(followers.map((f) => f.userId));
    const byId = [...expected].sort();
    const [first, middle] = [followers.find((f) => f.userId === byId[0])!, followers.find((f) => f.userId === byId[2 * STEP_PAGE])!];
    const legacy = partitions.followers(author.userId);

    recordSends();
    expect(await reconcileEdgeLayout(author.userId, await followerCount(author.userId))).toBe(true);
    steps.push(await runEdgeMoveStep(author.userId, { page: STEP_PAGE }));
    // After the first copy step: an unfollow of an edge already copied, and a follow.
    await unfollow(first, author.userId);
    await follow(newcomer1, author.userId);
    let copiedAll = false;
    for (let i = 0; i < 20 && (await readEdgeLayout(author.userId, true)).target !== undefined; i++) {
      steps.push(await runEdgeMoveStep(author.userId, { page: STEP_PAGE }));
      const { copied, target } = await readEdgeLayout(author.userId, true);
      const rest = (await partitionIds(legacy.pk, legacy.table)).filter((f) => f > (copied?.after ?? ''));
      if (!copiedAll && target !== undefined && copied?.after && rest.length === 0) {
        // Every old edge copied, not yet flipped: only dual writes keep these two right.
        copiedAll = true;
        await follow(newcomer2, author.userId);
        await unfollow(middle, author.userId);
      }
    }
    expect(copiedAll).toBe(true);
    for (let i = 0; i < 20 && steps[steps.length - 1] !== 'finished'; i++) steps.push(await runEdgeMoveStep(author.userId, { page: STEP_PAGE }));
    expected.add(newcomer1.userId).add(newcomer2.userId);
    expected.delete(first.userId);
    expected.delete(middle.userId);
  }, 120_000);

  it('moves its edges to buckets in steps, and leaves nothing under the old key', async () => {
    expect(steps.filter((s) => s === 'copied').length).toBeGreaterThan(2);
    expect(steps).toContain('flipped');
    expect(steps[steps.length - 1]).toBe('finished');
    const layout = await readEdgeLayout(author.userId, true);
    expect(layout).toMatchObject({ buckets: EDGE_BUCKETS_MIN });
    expect(layout.target).toBeUndefined();
    expect(layout.prev).toBeUndefined();
    const legacy = partitions.followers(author.userId);
    expect(await partitionIds(legacy.pk, legacy.table)).toEqual([]);
    for (let b = 0; b < EDGE_BUCKETS_MIN; b++) {
      const part = partitions.followers(author.userId, b, EDGE_BUCKETS_MIN);
      for (const f of await partitionIds(part.pk, part.table)) expect(edgeBucket(author.userId, f, EDGE_BUCKETS_MIN)).toBe(b);
    }
  });

  it('keeps the exact follower list, every page in order with stable cursors, and the count', async () => {
    const listed = await listAll(author.userId, 3);

    expect(listed).toEqual([...expected].sort());
    expect(await followerCount(author.userId)).toBe(expected.size);
  });

  it('pushes a post to every follower, bucket by bucket', async () => {
    recordSends();
    const post = { postId: mintId(logicalShardOf(author.userId)), authorId: author.userId, createdAt: new Date().toISOString() };

    expect(await planFanout('add', post)).toBe(expected.size);
    const jobs = sentJobs().map((j) => FanoutJob.parse(j));
    for (const job of jobs) await runFanoutJob(job);

    const reached = await inBatches([...expected], 8, async (f) => (await feedRow(f, post.postId)) !== undefined);
    expect(reached.every(Boolean)).toBe(true);
  });

  it('plans the notification of a high-tier post one job per bucket, covering every follower once', async () => {
    recordSends();
    const post = { postId: mintId(logicalShardOf(author.userId)), authorId: author.userId, createdAt: new Date().toISOString() };

    await runFanoutJob({ kind: 'notify-plan', post });
    const perBucket = sentJobs().map((j) => FanoutJob.parse(j));
    expect(perBucket).toHaveLength(EDGE_BUCKETS_MIN);
    for (const job of perBucket) await runFanoutJob(job);

    const recipients = sentJobs('notifications').flatMap((e: { recipients: string[] }) => e.recipients);
    expect(recipients.sort()).toEqual([...expected].sort());
  });

  it('reaches every active follower through the celebrity workflow pages, each once', async () => {
    const now = Math.floor(Date.now() / 1000);
    await indexActive(author.userId, [...expected].map((userId) => ({ userId, activeAt: now })));
    const post = { postId: mintId(logicalShardOf(author.userId)), authorId: author.userId, createdAt: new Date().toISOString() };
    const pushed: string[] = [];

    let plan = { kind: 'add' as const, post, next: null as { bucket: number; after?: string } | null };
    for (let i = 0; i < 50; i++) {
      const out = await listActiveFollowers(plan);
      for (const followers of out.chunks) {
        await pushChunk({ kind: 'add', post, followers });
        pushed.push(...followers);
      }
      if (!out.next) break;
      plan = { ...plan, next: out.next };
    }

    expect(pushed.sort()).toEqual([...expected].sort());
    const paged: string[] = [];
    for (let from: { bucket: number; after?: string } | undefined = { bucket: 0 }; from; ) {
      const page = await activeFollowerPage(author.userId, 4, from);
      paged.push(...page.ids);
      from = page.next;
    }
    expect(paged, 'small pages over the merged buckets: in id order, each once').toEqual([...expected].sort());
    const reached = await inBatches([...expected], 8, async (f) => (await feedRow(f, post.postId)) !== undefined);
    expect(reached.every(Boolean)).toBe(true);
  });
});
