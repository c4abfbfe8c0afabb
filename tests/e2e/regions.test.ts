// The multi-region local stack (npm start -- --regions …): one stack process per region with its
// own engines and API, listed in stack.json; a region outage (feedctl region down) and its
// return (region up) on kept data; users minted in their residency table set. Started once for
// the whole file: three regions' engines are the heaviest thing the suite starts.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DynamoDBClient, GetItemCommand, ListTablesCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logicalShardOf } from '../../shared/domain/ids.js';
import { tableSetOfLogical } from '../../shared/domain/residency.js';
import { ROOT } from '../../shared/local/lambda.js';
import { spawnNetwork, type RegionEntry } from '../../shared/local/multi-region.js';
import { scratchDir } from '../../shared/local/engines.js';
import { GENEROUS_RATE_LIMITS } from '../support/rate-limits.js';
import { inTurnWithHeavyFiles } from '../support/heavy-turn.js';

const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1'] as const;
/** A celebrity from this many followers: the tier test crosses it; every other author stays below. */
const CELEBRITY_AT = 3;
/** Three regions' DynamoDB Local and redis-server starting at once on a loaded 2-core machine. */
const START_MS = 240_000;
const tsx = path.join(ROOT, 'node_modules/.bin/tsx');

let dataDir: string;
let parent: ChildProcess;
let output: () => string = () => '';
let regions: RegionEntry[];

const api = (name: string) => regions.find((r) => r.name === name)!.api;
const feedctl = (...args: string[]) =>
  spawnSync(tsx, ['shared/local/feedctl.ts', 'region', ...args, '--data-dir', dataDir], { cwd: ROOT, encoding: 'utf8', timeout: START_MS });

/** Every row of a region's home-data tables (users, follows, feeds, notifications) that belongs to
 *  `userId`: their profile, subject entry, outgoing follows, feed, notifications, idempotency
 *  records. Allowed anywhere: the directory and posts (public), and rows of other users that name
 *  them (a follower's in-edge, a feed entry of their post). */
async function homeRowsOf(region: string, userId: string, subject: string): Promise<string[]> {
  const subjectKey = `sub#${createHash('sha256').update(subject).digest('base64url')}`;
  const client = new DynamoDBClient({ endpoint: regions.find((r) => r.name === region)!.dynamodb, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const owned = new RegExp(`^(user|out|hi|vip|idem|ntf|nread)#${userId}(#|$)`);
  const found: string[] = [];
  const tables = (await client.send(new ListTablesCommand({ Limit: 100 }))).TableNames ?? [];
  for (const table of tables.filter((t) => /(Users|Follows|Feeds|Notifications)_\d+$/.test(t))) {
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
      for (const raw of page.Items ?? []) {
        const item = unmarshall(raw);
        if ((typeof item.pk === 'string' && owned.test(item.pk)) || item.pk === subjectKey || item.userId === userId || (String(item.pk).startsWith('acc#') && item.sk === userId)) found.push(`${table} ${String(item.pk ?? 'feed')} ${JSON.stringify(item).slice(0, 120)}`);
      }
      start = page.LastEvaluatedKey;
    } while (start);
  }
  client.destroy();
  return found;
}

/** Whether a region's directory tables hold the subject hint of `subject` (a public row). */
async function hasSubjectHint(region: string, subject: string): Promise<boolean> {
  const client = new DynamoDBClient({ endpoint: regions.find((r) => r.name === region)!.dynamodb, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const pk = `sub#${createHash('sha256').update(subject).digest('base64url')}`;
  try {
    const tables = ((await client.send(new ListTablesCommand({ Limit: 100 }))).TableNames ?? []).filter((t) => /Directory_\d+$/.test(t));
    for (const table of tables) {
      const out = await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk }, sk: { S: 'hint' } } }));
      if (out.Item) return true;
    }
    return false;
  } finally {
    client.destroy();
  }
}

async function request(base: string, method: string, route: string, opts: { token?: string; body?: unknown } = {}) {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: { ...(opts.token && { authorization: `Bearer ${opts.token}` }), ...(opts.body !== undefined && { 'content-type': 'application/json' }) },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** A new user of `country` signed up as a client would: at `base`, and when that region answers
 *  421 home_region, again at the API it names (where the client then stays). */
async function signUp(base: string, country: string, handle = `r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`) {
  const sub = `sub-${country}-${Math.random().toString(36).slice(2)}`;
  const { body } = await request(base, 'POST', '/v1/dev/token', { body: { sub } });
  const input = { token: body.token as string, body: { handle, displayName: handle, country } };
  let res = await request(base, 'POST', '/v1/users', input);
  let home = base;
  if (res.status === 421 && res.body?.error?.code === 'home_region') {
    home = res.body.error.api;
    res = await request(home, 'POST', '/v1/users', input);
  }
  return { ...res, token: body.token as string, home, region: regions.find((r) => r.api === home)!.name, subject: sub };
}

/** A new user homed in `region` (North American subjects are spread over two regions by their
 *  hash, so subjects are drawn until one lands there; each draw has even odds). */
async function signUpIn(region: string, country: string) {
  for (let attempt = 0; ; attempt++) {
    const user = await signUp(api(region), country);
    if (user.region === region || attempt >= 30) return user;
  }
}

/** Polls until `check` passes (bounded: replication and fan-out on a loaded machine). */
async function eventually<T>(what: string, probe: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms; last ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// Its own stack never runs beside another file's (tests/support/heavy-turn.ts).
inTurnWithHeavyFiles();

beforeAll(async () => {
  dataDir = scratchDir('feedscale-regions-');
  // 16 tables per entity and no analytics export: three regions and their replication share the
  // machine with the rest of the suite.
  const env: NodeJS.ProcessEnv = { ...process.env, ...GENEROUS_RATE_LIMITS, POWERTOOLS_LOG_LEVEL: 'ERROR', FEED_SHARDS: '16', FEED_ANALYTICS_DIR: '', FEED_CELEBRITY_THRESHOLD: String(CELEBRITY_AT) };
  const network = await spawnNetwork(REGIONS, dataDir, env, START_MS);
  parent = network.parent;
  output = network.output;
  regions = JSON.parse(readFileSync(path.join(dataDir, 'stack.json'), 'utf8')).regions;
}, START_MS + 10_000);

afterAll(async () => {
  if (parent?.pid) {
    const exited = parent.exitCode !== null ? Promise.resolve() : new Promise((r) => parent.once('exit', r));
    process.kill(-parent.pid, 'SIGTERM');
    await exited;
  }
  // Whatever a failed test left running: every region's group.
  for (const r of regions ?? []) {
    try {
      process.kill(-r.pid, 'SIGKILL');
    } catch {
      // Stopped with the parent.
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

describe('npm start -- --regions', () => {
  it('starts one stack per region, each with its own engines and API, listed in stack.json', async () => {
    expect(regions.map((r) => r.name)).toEqual([...REGIONS]);
    expect(new Set(regions.map((r) => r.dynamodb)).size).toBe(3);
    expect(new Set(regions.map((r) => r.redis)).size).toBe(3);
    for (const r of regions) {
      expect(r).toMatchObject({ api: expect.stringMatching(/^http:/), dynamodb: expect.stringMatching(/^http:/), redis: expect.stringMatching(/^redis:/), pid: expect.any(Number) });
      expect((await request(r.api, 'GET', '/v1/health')).status).toBe(200);
    }
    for (const name of REGIONS) expect(output()).toMatch(new RegExp(`${name}\\s+api http://\\S+/v1\\s+dynamodb http://\\S+\\s+redis redis://\\S+\\s+pid \\d+`));
  });

  it('mints EU/EEA users in the GDPR table set and other European users in the set that may fail over', async () => {
    const de = await signUp(api('eu-west-1'), 'DE');
    const gb = await signUp(api('eu-west-1'), 'GB');
    expect(de.status).toBe(201);
    expect(gb.status).toBe(201);
    expect(tableSetOfLogical(logicalShardOf(de.body.userId)).name).toBe('eu-west-1-gdpr');
    expect(tableSetOfLogical(logicalShardOf(gb.body.userId)).name).toBe('eu-west-1-other');
  });

  it('takes a region down with feedctl region down while the others keep serving, and brings it back on its data', async () => {
    const user = await signUp(api('eu-west-1'), 'FR');
    const other = await signUp(api('eu-west-1'), 'GB');
    expect(user.status).toBe(201);
    expect(other.status).toBe(201);
    // Replicated to us-east-1 before the outage: the failover region has the user's home data.
    await eventually('the GB user known in us-east-1', () => request(api('us-east-1'), 'GET', '/v1/me', { token: other.token }), (r) => r.status === 421);
    await eventually('the GB user’s home rows in us-east-1', () => homeRowsOf('us-east-1', other.body.userId, other.subject), (rows) => rows.some((r) => r.includes(' user#')) && rows.some((r) => r.includes(' sub#')));
    await eventually('the GB user’s subject hint in us-east-1', () => hasSubjectHint('us-east-1', other.subject), (found) => found);
    await eventually('the FR user’s card in us-east-1', () => request(api('us-east-1'), 'GET', `/v1/users/${user.body.userId}`, { token: other.token }), (r) => r.status === 200);

    const down = feedctl('down', 'eu-west-1');
    expect(down.status, down.stderr).toBe(0);
    await expect(request(api('eu-west-1'), 'GET', '/v1/health')).rejects.toThrow();
    expect((await request(api('us-east-1'), 'GET', '/v1/health')).status).toBe(200);
    expect(feedctl('list').stdout).toMatch(/eu-west-1 .* down/);
    // A GDPR user's home data is never served outside the EU: 503 with Retry-After; public
    // reads keep working. The other European user fails over to us-east-1, reads and writes.
    const gdpr = await eventually('503 for the GDPR user', () => fetch(`${api('us-east-1')}/v1/me`, { headers: { authorization: `Bearer ${user.token}` } }), (r) => r.status === 503);
    expect(gdpr.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await gdpr.json()) as { error: { code: string } }).error.code).toBe('region_unavailable');
    expect((await request(api('us-east-1'), 'GET', `/v1/users/${user.body.userId}`, { token: other.token })).status).toBe(200);
    await eventually('the GB user served by us-east-1', () => request(api('us-east-1'), 'GET', '/v1/me', { token: other.token }), (r) => r.status === 200);
    expect((await request(api('us-east-1'), 'POST', '/v1/posts', { token: other.token, body: { content: 'written in the failover region' } })).status).toBe(201);

    const up = feedctl('up', 'eu-west-1');
    expect(up.status, up.stderr).toBe(0);
    regions = JSON.parse(readFileSync(path.join(dataDir, 'stack.json'), 'utf8')).regions;
    const me = await request(api('eu-west-1'), 'GET', '/v1/me', { token: user.token });
    expect(me.status).toBe(200);
    expect(me.body.userId).toBe(user.body.userId);
    // Back home: the post written in the failover region reached it, and us-east-1 points home again.
    await eventually('the failover post in eu-west-1', () => request(api('eu-west-1'), 'GET', `/v1/users/${other.body.userId}/posts`, { token: other.token }), (r) => r.body?.items?.[0]?.content === 'written in the failover region');
    await eventually('us-east-1 sending the GB user home', () => request(api('us-east-1'), 'GET', '/v1/me', { token: other.token }), (r) => r.status === 421);
  }, START_MS);

  it('lets feedctl read one region of the stack with --region, and asks for one without it', () => {
    const { FEED_SFN_ENDPOINT: _shared, ...env } = process.env;
    const stats = (...args: string[]) => spawnSync(tsx, ['shared/local/feedctl.ts', 'stats', '--data-dir', dataDir, ...args], { cwd: ROOT, encoding: 'utf8', env, timeout: 60_000 });
    const one = stats('--region', 'us-west-2');
    expect(one.status, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/queue\s+fanout/);
    const none = stats();
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/several regions \(us-east-1, us-west-2, eu-west-1\): name one with --region/);
  });

  it('refuses an unknown region name in one line, and feedctl refuses a region not running', () => {
    const bad = spawnSync(tsx, ['shared/local/start.ts', '--regions', 'us-east-1,mars-1', '--data-dir', dataDir], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^unknown region mars-1 \(one of us-east-1, .*\)$/);
    const absent = feedctl('down', 'sa-east-1');
    expect(absent.status).toBe(1);
    expect(absent.stderr).toMatch(/region sa-east-1 is not part of the running stack/);
  });
});

describe('one network: users of any region follow each other', () => {
  const feedOf = async (user: { home: string; token: string }) => (await request(user.home, 'GET', '/v1/feed?limit=50', { token: user.token })).body.items.map((i: { content: string }) => i.content) as string[];
  const postAs = async (user: { home: string; token: string }, text: string) => {
    const res = await request(user.home, 'POST', '/v1/posts', { token: user.token, body: { content: text } });
    expect(res.status).toBe(201);
    return res.body.postId as string;
  };

  it('answers a request for another region’s user with 421 home_region and that region’s API', async () => {
    const us = await signUp(api('us-east-1'), 'US');
    expect(us.status).toBe(201);
    const other = REGIONS.find((r) => api(r) !== us.home)!;
    const res = await request(api(other), 'GET', '/v1/me', { token: us.token });
    expect(res.status).toBe(421);
    expect(res.body.error).toMatchObject({ code: 'home_region', api: us.home });
    // A sign-up sent to the wrong region is pointed home the same way.
    const sub = `sub-misdirected-${Math.random().toString(36).slice(2)}`;
    const token = (await request(api('us-east-1'), 'POST', '/v1/dev/token', { body: { sub } })).body.token;
    const misdirected = await request(api('us-east-1'), 'POST', '/v1/users', { token, body: { handle: `m${Date.now().toString(36)}`, displayName: 'M', country: 'DE' } });
    expect(misdirected.status).toBe(421);
    expect(misdirected.body.error).toMatchObject({ code: 'home_region', region: 'eu-west-1', api: api('eu-west-1') });
  });

  it('follows across regions, pushes each region’s followers from the replicated post, and carries deletion and unfollow', async () => {
    const author = await signUpIn('us-east-1', 'US');
    const eu = await signUp(api('eu-west-1'), 'FR');
    const west = await signUpIn('us-west-2', 'US');
    for (const f of [eu, west]) expect((await request(f.home, 'PUT', `/v1/users/${author.body.userId}/follow`, { token: f.token })).status).toBe(204);

    const postId = await postAs(author, 'to two regions');
    for (const f of [eu, west]) await eventually('the post in a follower’s feed', () => feedOf(f), (items) => items.includes('to two regions'));
    // Counted where each follow was made, summed everywhere.
    for (const r of REGIONS) {
      await eventually(`the follower count in ${r}`, () => request(api(r), 'GET', `/v1/users/${author.body.userId}`, { token: eu.token }), (res) => res.body?.followerCount === 2);
    }
    // Both lists show each follow, from any region: followers indexed in another zone are read
    // there, and whom a user follows is read where that user is served.
    const ids = (res: { body: { items: { userId: string }[] } }) => res.body.items.map((u) => u.userId);
    for (const r of REGIONS) {
      const followers = await eventually(`the followers seen from ${r}`, () => request(api(r), 'GET', `/v1/users/${author.body.userId}/followers`, { token: eu.token }), (res) => res.body?.items?.length === 2);
      expect(ids(followers).sort()).toEqual([eu.body.userId, west.body.userId].sort());
      expect(ids(await request(api(r), 'GET', `/v1/users/${eu.body.userId}/following`, { token: west.token }))).toEqual([author.body.userId]);
    }

    expect((await request(author.home, 'DELETE', `/v1/posts/${postId}`, { token: author.token })).status).toBe(204);
    for (const f of [eu, west]) await eventually('the deleted post gone', () => feedOf(f), (items) => !items.includes('to two regions'));

    expect((await request(eu.home, 'DELETE', `/v1/users/${author.body.userId}/follow`, { token: eu.token })).status).toBe(204);
    await postAs(author, 'after the unfollow');
    await eventually('the post in the remaining follower’s feed', () => feedOf(west), (items) => items.includes('after the unfollow'));
    expect(await feedOf(eu)).not.toContain('after the unfollow');
    await eventually('the count after the unfollow', () => request(api('us-west-2'), 'GET', `/v1/users/${author.body.userId}`, { token: eu.token }), (res) => res.body?.followerCount === 1);
  }, START_MS);

  it('applies a tier change to followers in another residency zone: they pull the new celebrity’s posts', async () => {
    const author = await signUpIn('us-east-1', 'US');
    const eu = await signUp(api('eu-west-1'), 'FR');
    const us = await Promise.all(Array.from({ length: CELEBRITY_AT - 1 }, () => signUp(api('us-east-1'), 'US')));
    expect((await request(eu.home, 'PUT', `/v1/users/${author.body.userId}/follow`, { token: eu.token })).status).toBe(204);
    await postAs(author, 'while regular');
    await eventually('the regular post pushed to the EU follower', () => feedOf(eu), (items) => items.includes('while regular'));
    for (const f of us) expect((await request(f.home, 'PUT', `/v1/users/${author.body.userId}/follow`, { token: f.token })).status).toBe(204);
    // The author's region re-derives the tier from the count (the EU follow counted there once
    // replicated) at the latest when it routes the author's next post.
    await eventually('the EU follow counted in the author’s region', () => request(api('us-east-1'), 'GET', `/v1/users/${author.body.userId}`, { token: author.token }), (r) => r.body?.followerCount === CELEBRITY_AT);
    await postAs(author, 'crossing the threshold');
    await eventually('the author a celebrity, as the EU region sees it', () => request(api('eu-west-1'), 'GET', `/v1/users/${author.body.userId}`, { token: eu.token }), (r) => r.body?.tier === 'celebrity');

    await postAs(author, 'as a celebrity');
    await eventually('the celebrity post in the EU follower’s feed', () => feedOf(eu), (items) => items.includes('as a celebrity'));
  }, START_MS);

  it('gives a handle to exactly one of two sign-ups racing for it in two regions', async () => {
    const handle = `race${Date.now().toString(36)}`;
    const [a, b] = await Promise.all([signUp(api('us-east-1'), 'US', handle), signUp(api('eu-west-1'), 'DE', handle)]);
    expect([a.status, b.status].sort()).toEqual([201, 409]);
    expect([a, b].find((x) => x.status === 409)!.body.error.code).toBe('handle_taken');
  });
});

describe('replication between the regions (the Global Tables stand-in)', () => {
  const post = async (region: string, token: string, text: string) => {
    const res = await request(api(region), 'POST', '/v1/posts', { token, body: { content: text } });
    expect(res.status).toBe(201);
    return res.body.postId as string;
  };
  /** Polls a region for a post until it answers `status` (bounded by the test's time). */
  const seen = async (region: string, postId: string, status: number, timeoutMs = 90_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await request(api(region), 'GET', `/v1/posts/${postId}`, { token: reader });
      if (res.status === status) return res;
      if (Date.now() > deadline) throw new Error(`${region}: post ${postId} answered ${res.status}, not ${status}, after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  let reader: string;

  beforeAll(async () => {
    reader = (await request(api('eu-west-1'), 'POST', '/v1/dev/token', { body: { sub: 'replication-reader' } })).body.token;
  });

  it('carries a post written in one region to every region, and its deletion too', async () => {
    const author = await signUp(api('us-east-1'), 'US');
    expect(author.status).toBe(201);
    const postId = await post(author.region, author.token, 'seen everywhere');
    const others = REGIONS.filter((r) => r !== author.region);
    for (const r of others) expect((await seen(r, postId, 200)).body.content).toBe('seen everywhere');

    expect((await request(api(author.region), 'DELETE', `/v1/posts/${postId}`, { token: author.token })).status).toBe(204);
    for (const r of others) await seen(r, postId, 404);
  }, START_MS);

  it('keeps a GDPR user’s home data in the EU: only their public card and post reach the US', async () => {
    const de = await signUp(api('eu-west-1'), 'DE');
    const us = await signUp(api('us-east-1'), 'US');
    // A mixed scenario: the EU user follows a US user and is followed back, both post and read.
    expect((await request(de.home, 'PUT', `/v1/users/${us.body.userId}/follow`, { token: de.token })).status).toBe(204);
    expect((await request(us.home, 'PUT', `/v1/users/${de.body.userId}/follow`, { token: us.token })).status).toBe(204);
    const postId = await post('eu-west-1', de.token, 'from the EU');
    await post(us.region, us.token, 'from the US');
    await seen('us-east-1', postId, 200);
    await request(de.home, 'GET', '/v1/feed', { token: de.token });
    const card = await eventually('the card in us-west-2', () => request(api('us-west-2'), 'GET', `/v1/users/${de.body.userId}`, { token: reader }), (r) => r.status === 200);
    expect(card.body).toMatchObject({ userId: de.body.userId, handle: de.body.handle, homeRegion: 'eu-west-1' });
    for (const r of ['us-east-1', 'us-west-2'] as const) expect(await homeRowsOf(r, de.body.userId, de.subject)).toEqual([]);
    // The scan can fail: the EU region holds them.
    expect((await homeRowsOf('eu-west-1', de.body.userId, de.subject)).length).toBeGreaterThan(2);
  }, START_MS);

  it('fails a region’s users over to its zone’s other region, and converges when it is back', async () => {
    const author = await signUpIn('us-east-1', 'US');
    const reader = await signUpIn('us-west-2', 'US');
    const [home, failover] = ['us-east-1', 'us-west-2'];
    expect((await request(api(reader.region), 'PUT', `/v1/users/${author.body.userId}/follow`, { token: reader.token })).status).toBe(204);
    // The failover region serves what replication brought it before the outage (Global Tables'
    // recovery point is their replication lag): the author's profile and subject entry.
    await eventually('the author’s home rows replicated to the failover region', () => homeRowsOf(failover, author.body.userId, author.subject), (rows) => rows.some((r) => r.includes(' user#')) && rows.some((r) => r.includes(' sub#')));
    await eventually('the author’s subject hint replicated to the failover region', () => hasSubjectHint(failover, author.subject), (found) => found);

    const down = feedctl('down', home);
    expect(down.status, down.stderr).toBe(0);
    const created = await eventually('a post through the failover region', () => request(api(failover), 'POST', '/v1/posts', { token: author.token, body: { content: 'written during the outage' } }), (r) => r.status === 201);
    const postId = created.body.postId as string;
    expect((await request(api(failover), 'GET', '/v1/me', { token: author.token })).status).toBe(200);
    await seen(failover, postId, 200);

    const up = feedctl('up', home);
    expect(up.status, up.stderr).toBe(0);
    regions = JSON.parse(readFileSync(path.join(dataDir, 'stack.json'), 'utf8')).regions;
    expect((await seen(home, postId, 200)).body.content).toBe('written during the outage');
    await eventually('the home region serving the author again', () => request(api(failover), 'GET', '/v1/me', { token: author.token }), (r) => r.status === 421);
    await eventually('the post in the follower’s feed', () => request(api(reader.region), 'GET', '/v1/feed', { token: reader.token }), (r) => r.status === 200 && r.body.items.some((i: { postId: string }) => i.postId === postId));
  }, START_MS);
});
