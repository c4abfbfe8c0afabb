// Digest composition (shared/domain/digest.ts): one recipient's events of a window become one
// digest naming the first actor of each kind, with a deterministic id.
import { describe, expect, it } from 'vitest';
import { composeDigest, digestText, eventIdOf, namedActors, windowStartOf, type EventGroup } from '../../shared/domain/digest.js';
import { logicalShardOf, mintId, timestampOf } from '../../shared/domain/ids.js';

const recipient = mintId(3);
/** 2026-01-01T00:00:00Z: ids encode times after their epoch only. */
const JAN_2026 = 1_767_225_600;
const group = (over: Partial<EventGroup> = {}): EventGroup => ({ recipientId: recipient, posts: 0, follows: 0, ...over });

describe('digestText', () => {
  it('names one actor alone and counts the others', () => {
    expect(digestText({ first: 'alice', count: 13 }, { count: 0 })).toBe('alice and 12 others posted');
    expect(digestText({ first: 'alice', count: 2 }, { count: 0 })).toBe('alice and 1 other posted');
    expect(digestText({ first: 'alice', count: 1 }, { count: 0 })).toBe('alice posted');
  });

  it('joins posts and follows, and calls an unknown actor someone', () => {
    expect(digestText({ first: 'alice', count: 1 }, { count: 3 })).toBe('alice posted · someone and 2 others followed you');
  });
});

describe('grouping events', () => {
  it('counts a post once however often it is delivered, and a follower once', () => {
    expect(eventIdOf('post', 'A1', 'P1')).toBe(eventIdOf('post', 'A2', 'P1'));
    expect(eventIdOf('follow', 'A1')).toBe('follow:A1');
    expect(eventIdOf('follow', 'A1')).not.toBe(eventIdOf('post', 'A1', 'A1'));
  });

  it('puts every moment of a window into the window that starts it', () => {
    expect(windowStartOf(3600, 1800)).toBe(3600);
    expect(windowStartOf(5399, 1800)).toBe(3600);
    expect(windowStartOf(5400, 1800)).toBe(5400);
  });

  it('looks up each named actor once', () => {
    const groups = [group({ postActor: 'A1', followActor: 'A2' }), group({ postActor: 'A1' }), group()];
    expect(namedActors(groups).sort()).toEqual(['A1', 'A2']);
  });
});

describe('composeDigest', () => {
  it('names the first actors by handle and dates the digest at the end of its window', () => {
    const digest = composeDigest(group({ posts: 3, follows: 1, postActor: 'A1', followActor: 'A2' }), new Map([['A1', 'alice'], ['A2', 'bob']]), 3600, 1800);
    expect(digest).toMatchObject({
      kind: 'digest',
      text: 'alice and 2 others posted · bob followed you',
      posts: 3,
      follows: 1,
      actors: ['A1', 'A2'],
      windowStart: new Date(3600_000).toISOString(),
      createdAt: new Date(5400_000).toISOString(),
    });
  });

  it('gives the same id when a window is composed twice, placed on the recipient’s shard', () => {
    const a = composeDigest(group({ posts: 1, postActor: 'A1' }), new Map(), JAN_2026, 1800);
    const b = composeDigest(group({ posts: 1, postActor: 'A1' }), new Map(), JAN_2026, 1800);
    expect(a.notificationId).toBe(b.notificationId);
    expect(logicalShardOf(a.notificationId)).toBe(logicalShardOf(recipient));
    expect(timestampOf(a.notificationId)).toBe((JAN_2026 + 1800) * 1000);
  });

  it('leaves out the kind nobody acted in', () => {
    const digest = composeDigest(group({ follows: 2, followActor: 'A2' }), new Map([['A2', 'bob']]), 0, 60);
    expect(digest.text).toBe('bob and 1 other followed you');
    expect(digest.actors).toEqual(['A2']);
  });
});
