// Online resharding on a stack of its own (16 tables per entity): `feedctl reshard --to 32` runs
// as its own process while users post, follow and read through the HTTP API; it is stopped
// midway and resumed, rolled back, run again and finished. No request fails, every acknowledged
// write reads back, and reads answer the same before, during and after.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '../../shared/local/stack.js';
import { stackClient, until, type StackUser } from '../support/own-stack.js';
import { feedctlReshard, missingWrites, reshardLoad } from '../support/reshard-load.js';
import { GENEROUS_RATE_LIMITS } from '../support/rate-limits.js';
import { logicalShardOf } from '../../shared/domain/ids.js';
import { tableSetOfTable } from '../../shared/domain/analytics-events.js';
import { inTurnWithHeavyFiles } from '../support/heavy-turn.js';

const PREFIX = `reshard${process.pid}-`;
/** The stack's and feedctl's shard map refresh while nothing moves: each reshard announces itself
 *  for this long. */
const REFRESH_MS = '1000';
let stack: Stack;
let base = '';
const client = stackClient(() => base, 'reshard');
const http = client.http;

let users: StackUser[] = [];
const seeded: { author: StackUser; postId: string }[] = [];
/** The deployed DynamoDB attempt timeout, not the suite's 10 s (tests/support/stack-env.ts): after
 *  its last cut-over a reshard follows the old tables for one such timeout (a write sent just
 *  before the flip may land that late), and this file runs six reshards. Its workload retries 503s
 *  as a client does. */
const DYNAMO_TIMEOUT_MS = '3000';
const ENV = { FEED_TABLE_PREFIX: PREFIX, FEED_SHARDS: '16', FEED_SHARD_MAP_REFRESH_MS: REFRESH_MS, FEED_DYNAMO_TIMEOUT_MS: DYNAMO_TIMEOUT_MS };
/** A reshard that moves rows: its own process, as an engineer runs it (Ctrl-C after `stopAfter`). */
const feedctl = (args: string[], stopAfter?: RegExp) => feedctlReshard(args, { ...ENV, DYNAMODB_ENDPOINT: process.env.DYNAMODB_ENDPOINT }, stopAfter);
/** A refusal or `status`: the same command in this process (it reads the stack's own endpoint and
 *  configuration, so it repoints nothing), a second of process start saved each. */
async function feedctlHere(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { reshardMain } = await import('../../shared/local/feedctl-reshard.js');
  const out: string[] = [];
  const err: string[] = [];
  const code = await reshardMain(args, { stdout: (l) => out.push(l), stderr: (l) => err.push(l), env: { ...process.env, ...ENV } });
  return { code, out: out.map((l) => `${l}\n`).join(''), err: err.map((l) => `${l}\n`).join('') };
}

/** Every acknowledged post reads back by id and in its author's list; every follow is listed. */
async function everyWriteReadsBack(posts: { author: StackUser; postId: string }[], follows: [StackUser, StackUser][]) {
  expect(await missingWrites(client, users[0]!, posts, follows)).toEqual([]);
}

// Its own stack never runs beside another file's (tests/support/heavy-turn.ts).
inTurnWithHeavyFiles();

/** Every user's feed, first 50 entries by post id. */
async function everyFeed(): Promise<string[][]> {
  return Promise.all(
    users.map(async (u) => {
      const page = await http('GET', '/v1/feed?limit=50', u.token);
      expect(page.status).toBe(200);
      return page.body.items.map((p: { postId: string }) => p.postId);
    }),
  );
}

beforeAll(async () => {
  const { startStack } = await import('../../shared/local/stack.js');
  // A DynamoDB Local of its own (the stack starts one without DYNAMODB_ENDPOINT), in memory: the
  // suite's engine has written every file's stream records by now, and it finds a new table's
  // stream on each write by scanning them from the oldest. This file runs after the lighter ones
  // (vitest.config.ts), so the second engine starves no one.
  delete process.env.DYNAMODB_ENDPOINT;
  // Rate limits out of the way: the workload posts as fast as it is answered.
  // No notification window closes during the file (a digest run composes from every table beside
  // the move: load this file does not measure).
  stack = await startStack({
    fresh: true,
    port: 0,
    env: { ...ENV, FEED_NOTIFICATION_WINDOW_SECONDS: '3600', ...GENEROUS_RATE_LIMITS },
    sweepIntervalMs: 3_600_000,
  });
  base = stack.url;
  for (let i = 0; i < 12; i++) users.push(await client.user('US'));
  for (const [i, u] of users.entries()) {
    for (let k = 0; k < 3; k++) {
      const p = await http('POST', '/v1/posts', u.token, { content: `before ${i}/${k}` });
      expect(p.status).toBe(201);
      seeded.push({ author: u, postId: p.body.postId });
    }
  }
  await stack.settle(20_000);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('feedctl reshard', () => {
  it('refuses a target that is not a power of two larger than today, changing nothing', async () => {
    for (const to of ['24', '16', '8', 'x']) {
      const r = await feedctlHere(['--to', to]);
      expect(r.code, r.err).toBe(1);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(/power of two|larger than today/);
    }
    const s = await feedctlHere(['status']);
    expect(s.out).toMatch(/version 0: 16 tables/);
    expect((await feedctlHere(['--finish'])).err).toMatch(/no moved reshard/);
  }, 120_000);

  it('rolls a stopped growth back under load: every write reads back from the old tables', async () => {
    let running = true;
    const load = reshardLoad(client, users, () => running);
    const stopped = await feedctl(['--to', '32'], /\[2\/16\]/);
    expect(stopped.code, stopped.out + stopped.err).toBe(1);
    expect(stopped.err).toMatch(/stopped after \d+ of 16 tables; run the same command again to resume/);
    expect((await feedctlHere(['status'])).out).toMatch(/moving, stopped: run it again to resume/);
    // A reshard to another size while this one is unfinished is refused.
    expect((await feedctlHere(['--to', '64'])).err).toMatch(/a reshard to 32 tables is in progress/);
    const back = await feedctl(['--rollback']);
    running = false;
    await load.done;
    expect(back.code, back.out + back.err).toBe(0);
    expect(back.out).toMatch(/rolled back to 16 tables/);
    expect((await feedctlHere(['status'])).out).toMatch(/16 tables per entity[\s\S]*rolled-back/);
    expect(load.failures).toEqual([]);
    expect(load.posts.length).toBeGreaterThan(0);
    await stack.settle(20_000);
    await everyWriteReadsBack([...seeded, ...load.posts], load.follows);
    seeded.push(...load.posts);
  }, 300_000);

  it('grows 16 → 32 under load, stopped midway and resumed, then finishes, with no failed request and no lost write', async () => {
    let running = true;
    const load = reshardLoad(client, users, () => running);
    const stopped = await feedctl(['--to', '32'], /\[2\/16\]/);
    expect(stopped.code, stopped.out + stopped.err).toBe(1);
    const resumed = await feedctl(['--to', '32']);
    running = false;
    await load.done;
    expect(resumed.code, resumed.out + resumed.err).toBe(0);
    expect(resumed.out).toMatch(/moved: 32 tables/);
    // The resumed run skipped the tables already cut over.
    expect(resumed.out).toMatch(/\d+ done/);
    // Each cut-over's dark reads (partitions and indexes read from both tables) agreed.
    expect(resumed.out).toMatch(/verified in [\d.]+ s \([1-9]\d* dark reads, all agree\)/);
    expect(resumed.out).not.toMatch(/dark reads, \d+ differ/);
    expect(load.failures).toEqual([]);
    expect(load.posts.length).toBeGreaterThan(0);
    await stack.settle(20_000);
    await everyWriteReadsBack([...seeded, ...load.posts], load.follows);
    // A post made after the move by a user whose shard moved still reaches followers' feeds (the
    // new tables' streams are mapped).
    const [a, b] = [users[1]!, users[2]!];
    await http('PUT', `/v1/users/${a.userId}/follow`, b.token);
    const after = await http('POST', '/v1/posts', a.token, { content: 'after the move' });
    await until(async () => (await http('GET', '/v1/feed?limit=50', b.token)).body.items.some((p: { postId: string }) => p.postId === after.body.postId), 30_000, 'post after the move in a follower feed');

    // Deleting the moved rows from their old tables deletes no post: every feed reads the same.
    await stack.settle(20_000);
    const feedsBefore = await everyFeed();
    expect(feedsBefore.flat().length).toBeGreaterThan(0);
    const fin = await feedctl(['--finish']);
    expect(fin.code, fin.err).toBe(0);
    expect(fin.out).toMatch(/finished: \d+ moved rows deleted/);
    await stack.settle(20_000);
    expect(await everyFeed()).toEqual(feedsBefore);
    expect((await feedctlHere(['--rollback'])).err).toMatch(/finished: its old rows are gone/);
    await everyWriteReadsBack([...seeded, ...load.posts, { author: a, postId: after.body.postId }], load.follows);
    seeded.push(...load.posts, { author: a, postId: after.body.postId });
  }, 300_000);

  it('moves a user’s logical shards to another of today’s tables under load, refuses bad moves, and rolls the move back', async () => {
    // After 16 → 32 table t holds the lower half of its old 256 logical shards, t + 16 the upper.
    const logical = logicalShardOf(users[0]!.userId);
    const from = logical - (logical % 64);
    const table = Math.floor(logical / 256) + (logical % 256 < 128 ? 0 : 16);
    const set = (t: number) => tableSetOfTable(t, 16).name;
    const tables = Array.from({ length: 32 }, (_, t) => t);
    const target = tables.find((t) => t !== table && set(t) === set(table))!;
    const elsewhere = tables.find((t) => set(t) !== set(table));
    const refused: [string[], RegExp][] = [
      [['--move', `${from}-${from + 200}`, '--table', String(target)], /on more than one table/],
      [['--move', `${from}-${from + 63}`, '--table', '99'], /--table must be one of today's tables, 0-31/],
      [['--move', 'x', '--table', String(target)], /--move takes logical shards/],
      [['--move', `${from}-${from + 63}`, '--table', String(table)], /already on table/],
      ...(elsewhere === undefined ? [] : [[['--move', `${from}-${from + 63}`, '--table', String(elsewhere)], /never changes where rows may live/] as [string[], RegExp]]),
    ];
    for (const [args, message] of refused) {
      const r = await feedctlHere(args);
      expect(r.code, r.out + r.err).toBe(1);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(message);
    }

    let running = true;
    const load = reshardLoad(client, users, () => running);
    const moved = await feedctl(['--move', `${from}-${from + 63}`, '--table', String(target)]);
    running = false;
    await load.done;
    expect(moved.code, moved.out + moved.err).toBe(0);
    // The user's own rows (profile, posts, edges) were among those copied.
    expect(moved.out).toMatch(new RegExp(`moved: logical ${from}-${from + 63} to table ${target}; [1-9]\\d* rows copied`));
    expect((await feedctlHere(['status'])).out).toMatch(/\(move\) 32 → 32 tables: moved/);
    expect(load.failures).toEqual([]);
    await stack.settle(20_000);
    await everyWriteReadsBack([...seeded, ...load.posts], load.follows);

    const back = await feedctl(['--rollback']);
    expect(back.code, back.out + back.err).toBe(0);
    expect((await feedctlHere(['status'])).out).toMatch(/32 tables per entity[\s\S]*rolled-back/);
    await everyWriteReadsBack([...seeded, ...load.posts], load.follows);
  }, 300_000);
});
