// Push fan-out (shared/services/fan-out.ts) against DynamoDB Local: jobs write one entry per follower and
// a redelivered job writes nothing new; remove jobs take entries out; planning turns an author's
// followers into jobs of at most 500 ids. Posts here are references only (never written to the
// posts table), so the local stack's post-router, which runs in another process, never sees them.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { batchGet, batchWrite } from '../../shared/store/client.js';
import { useQueueTransport, type OutgoingMessage } from '../../shared/messaging/queue.js';
import type { QueueName } from '../../shared/declarations/event-sources.js';
import { FanoutJob, planFanout, runFanoutJob } from '../../shared/services/fan-out.js';
import { follow } from '../../shared/services/follows.js';
import { logicalShardOf, mintId } from '../../shared/domain/ids.js';
import { keys } from '../../shared/store/keys.js';
import { DYNAMO_BATCH_WRITE_MAX, FANOUT_JOB_FOLLOWERS, SQS_BATCH_MAX } from '../../shared/domain/limits.js';
import type { User } from '../../shared/services/users.js';
import { feedRow, feedTableIds, newUser, newUsers, randomUserId } from '../support/fixtures-feeds.js';

function postRef(authorId: string = randomUserId()) {
  return { postId: mintId(logicalShardOf(authorId)), authorId, createdAt: new Date().toISOString() };
}

type PostJob = Extract<FanoutJob, { kind: 'add' | 'remove' }>;

/** The add/remove jobs carried by recorded messages (planFanout sends no other kind). */
function postJobs(sent: Sent[]): PostJob[] {
  return sent.flatMap((s) =>
    s.messages.map((m) => {
      const job = FanoutJob.parse(JSON.parse(m.body));
      if (job.kind !== 'add' && job.kind !== 'remove') throw new Error(`unexpected ${job.kind} job`);
      return job;
    }),
  );
}

interface Sent {
  queue: QueueName;
  messages: OutgoingMessage[];
}

/** Installs a transport that records every send. This process has none of its own (the local
 *  stack's queues live in the global setup's process), so "restoring" means uninstalling. */
function recordSends(): Sent[] {
  const sent: Sent[] = [];
  useQueueTransport({
    async send(queue, messages) {
      sent.push({ queue, messages });
    },
  });
  return sent;
}

afterEach(() => {
  useQueueTransport(undefined);
});

describe('runFanoutJob', () => {
  it('writes one entry per follower, and the same job run again leaves exactly one', async () => {
    const post = postRef();
    const followers = [randomUserId(), randomUserId(), randomUserId()];
    const job = FanoutJob.parse({ kind: 'add', post, followers });

    expect(await runFanoutJob(job)).toBe(3);
    const first = await Promise.all(followers.map((f) => feedRow(f, post.postId)));
    await runFanoutJob(job);

    for (const [i, f] of followers.entries()) {
      expect(await feedTableIds(f)).toEqual([post.postId]);
      expect(await feedRow(f, post.postId)).toEqual(first[i]);
    }
    expect(first[0]).toMatchObject({ userId: followers[0], postId: post.postId, authorId: post.authorId });
  });

  it('removes the entries with a remove job, and a repeated remove changes nothing', async () => {
    const post = postRef();
    const other = postRef(post.authorId);
    const followers = [randomUserId(), randomUserId()];
    await runFanoutJob({ kind: 'add', post, followers });
    await runFanoutJob({ kind: 'add', post: other, followers });

    await runFanoutJob({ kind: 'remove', post, followers });
    await runFanoutJob({ kind: 'remove', post, followers });

    for (const f of followers) expect(await feedTableIds(f)).toEqual([other.postId]);
  });

  it('writes every entry of a job larger than one BatchWriteItem (25 requests)', async () => {
    const post = postRef();
    const followers = Array.from({ length: 3 * DYNAMO_BATCH_WRITE_MAX + 1 }, () => randomUserId());

    expect(await runFanoutJob({ kind: 'add', post, followers })).toBe(followers.length);

    const found = await batchGet(followers.map((f) => keys.feedEntry(f, post.postId)));
    const owners = Object.values(found).flat().map((row) => row.userId);
    expect(owners).toHaveLength(followers.length);
    expect(new Set(owners)).toEqual(new Set(followers));
  });
});

describe('planFanout', () => {
  it('plans one add job holding every follower made with follow()', async () => {
    const author = await newUser();
    const followers = await newUsers(3);
    for (const f of followers) await follow(f, author.userId);
    const sent = recordSends();
    const post = postRef(author.userId);

    expect(await planFanout('add', post)).toBe(3);

    const jobs = postJobs(sent);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ kind: 'add', post });
    expect(new Set(jobs[0]!.followers)).toEqual(new Set(followers.map((f) => f.userId)));
  });

  describe('with 1,001 followers', () => {
    // 1,001 crosses both the job size (500) and the planner's follower page (1,000). Their in-edges
    // are written as follow() writes them (keys.inEdge): 1,001 follow transactions would take most
    // of a minute on DynamoDB Local, and planning reads nothing else.
    const FOLLOWERS = 1001;
    let author: User;
    let followerIds: string[] = [];

    beforeAll(async () => {
      author = await newUser();
      followerIds = Array.from({ length: FOLLOWERS }, () => randomUserId());
      const since = new Date().toISOString();
      await batchWrite(followerIds.map((f) => ({ table: keys.inEdge(author.userId, f).table, request: { PutRequest: { Item: { ...keys.inEdge(author.userId, f).key, since } } } })));
    }, 60_000);

    it(`enqueues ceil(followers / ${FANOUT_JOB_FOLLOWERS}) jobs of at most ${FANOUT_JOB_FOLLOWERS} ids that cover every follower once`, async () => {
      const sent = recordSends();
      const post = postRef(author.userId);

      const covered = await planFanout('add', post);

      expect(covered).toBe(FOLLOWERS);
      expect(sent.every((s) => s.queue === 'fanout')).toBe(true);
      for (const s of sent) expect(s.messages.length).toBeLessThanOrEqual(SQS_BATCH_MAX);
      const jobs = postJobs(sent);
      expect(jobs).toHaveLength(Math.ceil(FOLLOWERS / FANOUT_JOB_FOLLOWERS));
      for (const job of jobs) {
        expect(job).toMatchObject({ kind: 'add', post });
        expect(job.followers.length).toBeGreaterThan(0);
        expect(job.followers.length).toBeLessThanOrEqual(FANOUT_JOB_FOLLOWERS);
      }
      const all = jobs.flatMap((j) => j.followers);
      expect(all).toHaveLength(FOLLOWERS);
      expect(new Set(all)).toEqual(new Set(followerIds));
    });

    it('plans remove jobs for the same followers', async () => {
      const sent = recordSends();
      const post = postRef(author.userId);

      expect(await planFanout('remove', post)).toBe(FOLLOWERS);

      const jobs = postJobs(sent);
      expect(jobs.map((j) => j.kind)).toEqual(['remove', 'remove', 'remove']);
      expect(jobs.flatMap((j) => j.followers)).toHaveLength(FOLLOWERS);
    });
  });

  it('enqueues nothing for an author without followers', async () => {
    const sent = recordSends();
    const lonely = await newUser();

    expect(await planFanout('add', postRef(lonely.userId))).toBe(0);

    expect(sent.flatMap((s) => s.messages)).toEqual([]);
  });
});

describe('the FanoutJob schema', () => {
  const post = postRef();
  const ids = (n: number) => Array.from({ length: n }, () => randomUserId());

  it('accepts add and remove jobs of 1 to 500 followers', () => {
    for (const kind of ['add', 'remove'] as const) {
      expect(FanoutJob.safeParse({ kind, post, followers: ids(1) }).success).toBe(true);
      expect(FanoutJob.safeParse({ kind, post, followers: ids(FANOUT_JOB_FOLLOWERS) }).success).toBe(true);
    }
  });

  it('rejects jobs with 0 or 501 followers', () => {
    for (const n of [0, FANOUT_JOB_FOLLOWERS + 1]) {
      const parsed = FanoutJob.safeParse({ kind: 'add', post, followers: ids(n) });
      expect(parsed.success, `${n} followers`).toBe(false);
    }
  });

  it('rejects unknown fields, on the job and on its post', () => {
    expect(FanoutJob.safeParse({ kind: 'add', post, followers: ids(1), priority: 'high' }).success).toBe(false);
    expect(FanoutJob.safeParse({ kind: 'add', post: { ...post, content: 'hello' }, followers: ids(1) }).success).toBe(false);
  });

  it('rejects an unknown kind and a job without its post', () => {
    expect(FanoutJob.safeParse({ kind: 'upsert', post, followers: ids(1) }).success).toBe(false);
    expect(FanoutJob.safeParse({ kind: 'add', followers: ids(1) }).success).toBe(false);
  });
});
