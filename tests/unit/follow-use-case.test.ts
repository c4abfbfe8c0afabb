// The follow use cases (shared/services/follows.ts) against in-memory fakes of the store ports
// (shared/store/follows.ts, shared/store/users.ts) and of the feed writes: the policy around the
// rows — who may follow, idempotency, VIP rules — runs without any engine.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { VIPS_MAX } from '../../shared/domain/limits.js';
import { mintId } from '../../shared/domain/ids.js';
import type { Tier } from '../../shared/domain/tier-policy.js';
import type { VipMarkOutcome } from '../../shared/domain/follow-policy.js';
import type { ProfileRow } from '../../shared/store/users.js';

const fake = vi.hoisted(() => ({
  profiles: new Map<string, Record<string, unknown>>(),
  edges: new Set<string>(),
  since: new Map<string, string>(),
  highTier: new Map<string, Tier>(),
  vips: new Set<string>(),
  vipCount: new Map<string, number>(),
  activeMarks: [] as { authorId: string; followerId: string }[],
  backfills: [] as string[],
  removals: [] as string[],
}));
const edge = (a: string, b: string) => `${a}>${b}`;

vi.mock('../../shared/store/users.js', () => ({
  getProfile: async (id: string) => fake.profiles.get(id),
  getProfiles: async (ids: string[]) => ids.flatMap((id) => (fake.profiles.has(id) ? [fake.profiles.get(id)] : [])),
  getProfilesWithCounts: async (ids: string[]) => ({
    rows: new Map(ids.filter((id) => fake.profiles.has(id)).map((id) => [id, fake.profiles.get(id)])),
    counts: new Map(ids.map((id) => [id, [...fake.edges].filter((e) => e.endsWith(`>${id}`)).length])),
  }),
}));
vi.mock('../../shared/store/follows.js', () => ({
  putFollowEdges: async (follower: string, followee: string, tier: Tier, since: string) => {
    if (fake.edges.has(edge(follower, followee))) return false;
    fake.edges.add(edge(follower, followee));
    fake.since.set(edge(follower, followee), since);
    if (tier !== 'regular') fake.highTier.set(edge(follower, followee), tier);
    return true;
  },
  getFollowSince: async (follower: string, followee: string) => fake.since.get(edge(follower, followee)),
  deleteFollowEdges: async (follower: string, followee: string) => {
    fake.highTier.delete(edge(follower, followee));
    return fake.edges.delete(edge(follower, followee));
  },
  putVipMark: async (author: string, follower: string): Promise<VipMarkOutcome> => {
    if (fake.vips.has(edge(follower, author))) return 'already';
    if (!fake.edges.has(edge(follower, author))) return 'not-follower';
    if ((fake.vipCount.get(author) ?? 0) >= VIPS_MAX) return 'limit';
    fake.vips.add(edge(follower, author));
    fake.vipCount.set(author, (fake.vipCount.get(author) ?? 0) + 1);
    return 'marked';
  },
  deleteVipMark: async (author: string, follower: string) => {
    const had = fake.vips.delete(edge(follower, author));
    if (had) fake.vipCount.set(author, fake.vipCount.get(author)! - 1);
    return had;
  },
  putActiveFollowerMarks: async (marks: { authorId: string; followerId: string }[]) => void fake.activeMarks.push(...marks),
}));
vi.mock('../../shared/services/feed-entries.js', () => ({
  backfill: async (userId: string, authorId: string) => (fake.backfills.push(edge(userId, authorId)), []),
  removeAuthorFromFeed: async (userId: string, authorId: string) => void fake.removals.push(edge(userId, authorId)),
}));

const { follow, setVip, unfollow } = await import('../../shared/services/follows.js');

function profile(tier: Tier = 'regular', activeAt?: number): ProfileRow {
  const userId = mintId(1);
  const row: ProfileRow = { userId, handle: `h${userId}`, displayName: 'n', country: 'US', homeRegion: 'us-east-1' as ProfileRow['homeRegion'], followingCount: 0, tier, activeAt, createdAt: 'then' };
  fake.profiles.set(userId, row as unknown as Record<string, unknown>);
  return row;
}

beforeEach(() => {
  fake.profiles.clear();
  fake.edges.clear();
  fake.since.clear();
  fake.highTier.clear();
  fake.vips.clear();
  fake.vipCount.clear();
  fake.activeMarks.length = 0;
  fake.backfills.length = 0;
  fake.removals.length = 0;
});

describe('follow', () => {
  it('refuses to follow oneself with 400 self_follow and writes nothing', async () => {
    const me = profile();

    await expect(follow(me, me.userId)).rejects.toMatchObject({ status: 400, code: 'self_follow' });

    expect(fake.edges.size).toBe(0);
    expect(fake.backfills).toEqual([]);
  });

  it('answers 404 for an unknown user and writes nothing', async () => {
    const me = profile();

    await expect(follow(me, mintId(2))).rejects.toMatchObject({ status: 404 });

    expect(fake.edges.size).toBe(0);
  });

  it('creates the edge once; a repeat reports no new edge but backfills again (retry completes)', async () => {
    const [me, author] = [profile(), profile()];

    const first = await follow(me, author.userId);
    const second = await follow(me, author.userId);

    expect([first.created, second.created]).toEqual([true, false]);
    expect(second).toMatchObject({ since: fake.since.get(edge(me.userId, author.userId)) });
    expect(fake.edges).toEqual(new Set([edge(me.userId, author.userId)]));
    expect(fake.backfills).toEqual([edge(me.userId, author.userId), edge(me.userId, author.userId)]);
  });

  it('indexes an active follower of a celebrity at once, and not an inactive one', async () => {
    const celebrity = profile('celebrity');
    const active = profile('regular', Math.floor(Date.now() / 1000));
    const inactive = profile('regular');

    await follow(active, celebrity.userId);
    await follow(inactive, celebrity.userId);

    expect(fake.activeMarks.map((m) => m.followerId)).toEqual([active.userId]);
    expect(fake.highTier.get(edge(active.userId, celebrity.userId))).toBe('celebrity');
  });
});

describe('unfollow', () => {
  it("removes the edge, the follower's VIP mark and the author's posts from the feed", async () => {
    const [fan, author] = [profile(), profile()];
    await follow(fan, author.userId);
    await setVip(author.userId, fan.userId, true);

    await unfollow(fan, author.userId);

    expect(fake.edges.size).toBe(0);
    expect(fake.vips.size).toBe(0);
    expect(fake.vipCount.get(author.userId)).toBe(0);
    expect(fake.removals).toEqual([edge(fan.userId, author.userId)]);
  });
});

describe('unfollow retried after a failure', () => {
  it('clears the VIP mark even when an earlier attempt already removed the edge', async () => {
    const [fan, author] = [profile(), profile()];
    await follow(fan, author.userId);
    await setVip(author.userId, fan.userId, true);
    // The first attempt's transaction removed the edge, then the function failed.
    fake.edges.delete(edge(fan.userId, author.userId));

    await unfollow(fan, author.userId);

    expect(fake.vips.size).toBe(0);
    expect(fake.vipCount.get(author.userId)).toBe(0);
  });
});

describe('setVip', () => {
  it(`answers 409 vip_limit once the author has ${VIPS_MAX} VIPs`, async () => {
    const [fan, author] = [profile(), profile()];
    await follow(fan, author.userId);
    fake.vipCount.set(author.userId, VIPS_MAX);

    await expect(setVip(author.userId, fan.userId, true)).rejects.toMatchObject({ status: 409, code: 'vip_limit' });
    expect(fake.vips.size).toBe(0);
  });

  it('answers 404 when the user does not follow the author', async () => {
    const [stranger, author] = [profile(), profile()];

    await expect(setVip(author.userId, stranger.userId, true)).rejects.toMatchObject({ status: 404 });
  });

  it('is idempotent both ways', async () => {
    const [fan, author] = [profile(), profile()];
    await follow(fan, author.userId);

    await setVip(author.userId, fan.userId, true);
    await setVip(author.userId, fan.userId, true);
    expect(fake.vipCount.get(author.userId)).toBe(1);
    await setVip(author.userId, fan.userId, false);
    await setVip(author.userId, fan.userId, false);
    expect(fake.vipCount.get(author.userId)).toBe(0);
  });
});
