// Notification digests: events are grouped per recipient and arrival window (each kind counted
// once per event id, the first actor named), and a closed window's group becomes one digest,
// "alice and 12 others posted · bob followed you". Digest ids derive from the window and the
// recipient, so composing a window twice writes the same digests.
import { idAt, logicalShardOf } from './ids.js';

export type NotificationKind = 'follow' | 'post';

/** The window open at `epochSeconds`: windows are by arrival time, so a closed window never
 *  receives a late event. */
export const windowStartOf = (epochSeconds: number, windowSeconds: number) => Math.floor(epochSeconds / windowSeconds) * windowSeconds;

/** One event's id within a recipient's group: a post counts once however often it is delivered,
 *  and so does a follower. */
export const eventIdOf = (type: NotificationKind, actorId: string, postId?: string) =>
  type === 'post' ? `post:${postId}` : `follow:${actorId}`;

/** One recipient's events of one window, as grouped (overflow already counted in). */
export interface EventGroup {
  recipientId: string;
  posts: number;
  follows: number;
  /** The first actor of each kind: the one the digest names. */
  postActor?: string;
  followActor?: string;
}

export interface Digest {
  notificationId: string;
  kind: 'digest';
  text: string;
  posts: number;
  follows: number;
  actors: string[];
  windowStart: string;
  createdAt: string;
}

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

/** "alice and 12 others posted · bob followed you" */
export function digestText(posts: { first?: string; count: number }, follows: { first?: string; count: number }): string {
  const part = (p: { first?: string; count: number }, verb: string, verbOne: string) => {
    const who = p.first ?? 'someone';
    return p.count <= 1 ? `${who} ${verbOne}` : `${who} and ${p.count - 1} ${plural(p.count - 1, 'other', 'others')} ${verb}`;
  };
  return [posts.count > 0 && part(posts, 'posted', 'posted'), follows.count > 0 && part(follows, 'followed you', 'followed you')]
    .filter(Boolean)
    .join(' · ');
}

/** The actors the digests of these groups name (whose handles must be looked up), once each. */
export function namedActors(groups: EventGroup[]): string[] {
  return [...new Set(groups.flatMap((g) => [g.postActor, g.followActor]).filter((a): a is string => !!a))];
}

/** The digest of one recipient's group for the window starting at `windowStart` (seconds);
 *  `handles` names actors by id (an actor without a handle is "someone"). */
export function composeDigest(group: EventGroup, handles: Map<string, string>, windowStart: number, windowSeconds: number): Digest {
  const windowEnd = (windowStart + windowSeconds) * 1000;
  const { postActor, followActor } = group;
  return {
    notificationId: idAt(windowEnd, logicalShardOf(group.recipientId)),
    kind: 'digest',
    text: digestText(
      { first: postActor && handles.get(postActor), count: group.posts },
      { first: followActor && handles.get(followActor), count: group.follows },
    ),
    posts: group.posts,
    follows: group.follows,
    actors: [postActor, followActor].filter((a): a is string => !!a),
    windowStart: new Date(windowStart * 1000).toISOString(),
    createdAt: new Date(windowEnd).toISOString(),
  };
}
