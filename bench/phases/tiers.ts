// Writes per post by author tier: one probe post per author (regular, celebrity, mega), the items
// it wrote once fan-out settled (the CelebrityFanout workflow included), and from those the feed
// writes per post of the hybrid over the seeded history against plain push.
import type { Stack } from '../../shared/local/stack.js';
import { activeFollowerPage } from '../../shared/services/follows.js';
import { fmt, live, type BenchContext } from '../context.js';
import { httpJson } from '../http.js';
import type { TierProbe } from '../results.js';
import { delivered, settle, writesByEntity } from '../settle.js';
import { median } from '../stats.js';
import type { Tier } from '../workload.js';

/** Pages of the active-follower index counted at most (1,000 ids each). */
const ACTIVE_PAGES = 50;
const TIERS = ['regular', 'celebrity', 'mega'] as const;

/** Probes the authors with most followers in each tier, then estimates writes per post. */
export async function tiers(ctx: BenchContext): Promise<void> {
  const { o, graph } = ctx;
  const byFollowers = Array.from({ length: graph.n }, (_, i) => i).sort((a, b) => graph.followers[b]!.length - graph.followers[a]!.length);
  ctx.results.tiers = {};
  const celebrityRuns: number[] = [];
  let pushes = 0;
  for (const tier of TIERS) {
    const probes: TierProbe[] = [];
    for (const a of byFollowers.filter((i) => graph.tiers[i] === tier).slice(0, o.tierAuthors)) {
      const probe = await probePost(ctx, tier, a);
      if (tier === 'celebrity') {
        if (probe.workflowMs !== undefined) celebrityRuns.push(probe.workflowMs);
        pushes += probe.feedWrites;
      }
      probes.push(probe);
    }
    ctx.results.tiers[tier] = probes;
    const p = probes[0];
    if (p) ctx.log(`tiers: ${tier} post by an author with ${p.followers} followers wrote ${p.feedWrites} feed entries; push-to-all would write ${p.pushAllWrites}`);
  }
  ctx.results.workflows = { celebrityFanout: { executions: celebrityRuns.length, medianMs: median(celebrityRuns), pushes } };
  writesPerPost(ctx);
}

/** One post by author `a`, timed until fan-out is done, with the items it wrote by then. */
async function probePost(ctx: BenchContext, tier: Tier, a: number): Promise<TierProbe> {
  const { graph } = ctx;
  const { stack: s, tokens, userIds } = live(ctx);
  const author = userIds[a]!;
  const active = tier === 'celebrity' ? await countActive(author) : undefined;
  await settle(s, { timeoutMs: 30_000, ignore: ['notifications'] });
  const w0 = writesByEntity();
  const t0 = Date.now();
  const d0 = delivered(s);
  const created = await httpJson(s.url, 'POST', '/v1/posts', tokens[a], { content: `tier probe (${tier})` });
  if (created.status !== 201) throw new Error(`POST /v1/posts answered ${created.status}`);
  const postId = (created.json as { postId: string }).postId;
  // Fan-out done: the stream record routed, the fan-out queue (pushes, and the delayed
  // notify-plan of high tiers) drained, the workflow finished. The per-follower notification
  // writes that follow are batched work of their own, not waited for.
  await settle(s, { minDelivered: d0 + 1, timeoutMs: 120_000, ignore: ['notifications'] });
  const settleMs = Date.now() - t0;
  const w1 = writesByEntity();
  const diff = (e: string) => (w1[e] ?? 0) - (w0[e] ?? 0);
  const workflowMs = tier === 'celebrity' ? workflowTime(s, postId) : undefined;
  return {
    author,
    followers: graph.followers[a]!.length,
    ...(active !== undefined && { activeFollowers: active }),
    feedWrites: diff('feeds'),
    otherWrites: Object.keys(w1).reduce((n, e) => n + diff(e), 0) - diff('feeds') - diff('notifications'),
    notificationRecipients: graph.followers[a]!.length,
    pushAllWrites: graph.followers[a]!.length,
    settleMs,
    ...(workflowMs !== undefined && { workflowMs }),
  };
}

/** How long the workflow execution started for the post ran, if it has finished. */
function workflowTime(s: Stack, postId: string): number | undefined {
  const exec = [...s.stepFunctions.executions.values()].find((e) => e.input.includes(postId));
  return exec?.stopDate ? (exec.stopDate - exec.startDate) * 1000 : undefined;
}

/** Writes per post over the seeded history: regular posts reach every follower, celebrity posts
 *  the share of followers the probes found active, mega posts none (no VIPs seeded). */
function writesPerPost(ctx: BenchContext): void {
  const { graph, results } = ctx;
  const celeb = results.tiers?.celebrity ?? [];
  const activeShare = median(celeb.map((p) => p.feedWrites / Math.max(1, p.followers)));
  let hybrid = 0;
  let push = 0;
  for (const p of graph.posts) {
    const f = graph.followers[p.author]!.length;
    push += f;
    const t = graph.tiers[p.author];
    hybrid += t === 'regular' ? f : t === 'celebrity' ? f * (Number.isFinite(activeShare) ? activeShare : 0) : 0;
  }
  results.writesPerPost = {
    hybrid: hybrid / graph.posts.length,
    push: push / graph.posts.length,
    pull: 0,
    source: `feed entries per post over the ${graph.posts.length} seeded posts: push-to-all one per follower; hybrid the same for regular authors, ${fmt(100 * activeShare, 0)}% of followers (the active share the celebrity probes measured) for celebrities, none for mega-celebrities; pull none`,
  };
}

/** Live entries of an author's active-follower index (bounded: ACTIVE_PAGES pages). */
async function countActive(authorId: string): Promise<number> {
  let n = 0;
  let from: Parameters<typeof activeFollowerPage>[2] = { bucket: 0 };
  for (let page = 0; page < ACTIVE_PAGES && from; page++) {
    const r = await activeFollowerPage(authorId, 1000, from);
    n += r.ids.length;
    from = r.next;
  }
  return n;
}
