// The bench's day workload as the design describes it: a month of seeded feed holds a page for
// nearly every reader of the day, and the readers' page lifetime covers most of the day's
// returns (the headline hit rate rests on both). Pure: the graph and the plan, no engines.
import { describe, expect, it } from 'vitest';
import { FEED_L2_ACTIVE_TTL_SECONDS } from '../../shared/cache/cache-keys.js';
import { planDay, PRIOR_SECONDS } from '../../bench/day-model.js';
import { generateGraph, type Graph } from '../../bench/workload.js';

const PAGE = 20;

function graphOf(users: number): Graph {
  return generateGraph({ users, seed: 42, exponent: 2.276, zipf: 1, postsPerUser: 3, postDays: 30 });
}

/** Entries a reader's precomputed feed gets from a month of the seeded posts (pushed authors only). */
function pushedDepth(g: Graph): (u: number) => number {
  const posts = new Float64Array(g.n);
  for (const p of g.posts) posts[p.author]!++;
  return (u) => [...g.following[u]!].reduce((d, a) => d + (g.tiers[a] === 'regular' ? posts[a]! : 0), 0);
}

describe('the bench day workload', () => {
  it("a month of seeded feed holds more than a page for at least 9 in 10 of the day's sessions", () => {
    const g = graphOf(4000);
    const depth = pushedDepth(g);
    const plan = planDay(g, { seed: 42, users: 1000, postsPerUserMonth: 3 });

    const holding = plan.sessions.filter((s) => depth(s.user) > PAGE).length;

    expect(holding / plan.sessions.length).toBeGreaterThanOrEqual(0.9);
  });

  it("the readers' page lifetime covers at least 87% of the day's returns", () => {
    const g = graphOf(20_000);
    const plan = planDay(g, { seed: 42, users: 5000, postsPerUserMonth: 3, priorSeconds: 14 * 86_400 });
    const last = new Map(plan.lastBefore);

    let within = 0;
    for (const s of plan.sessions) {
      const ago = last.has(s.user) ? s.at + last.get(s.user)! : Infinity;
      if (ago <= FEED_L2_ACTIVE_TTL_SECONDS) within++;
      last.set(s.user, -s.at);
    }

    expect(within / plan.sessions.length).toBeGreaterThanOrEqual(0.87);
  });

  it("the day's prologue reaches back as far as a reader's page lives", () => {
    expect(PRIOR_SECONDS).toBeGreaterThanOrEqual(FEED_L2_ACTIVE_TTL_SECONDS);
  });
});
