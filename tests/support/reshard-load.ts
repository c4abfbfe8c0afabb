// A steady workload through the HTTP API while `feedctl reshard` runs as its own process, shared
// by tests/e2e/reshard.test.ts and the bench's resharding section: users post, follow and read;
// every answer is checked and every acknowledged write kept so it can be read back afterwards.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StackClient, StackUser } from './own-stack.js';

/** A request answered 503 is tried again this often at most, this long apart (the Retry-After of
 *  `unavailable` is 1-2 s; a client polling sooner only adds load). */
const RETRIES_503 = 5;
const RETRY_WAIT_MS = 1_000;
/** Reads in flight at once while reading every acknowledged post back. */
const READ_BACK_CONCURRENCY = 8;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface FeedctlRun {
  code: number;
  out: string;
  err: string;
  ms: number;
}

/** `feedctl reshard …` as an engineer runs it: another process, given the stack's DynamoDB
 *  endpoint and table prefix. `stopAfter`: Ctrl-C once a printed line matches it. */
export function feedctlReshard(args: string[], env: Record<string, string | undefined>, stopAfter?: RegExp, echo?: (text: string) => void): Promise<FeedctlRun> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'shared/local/feedctl.ts', 'reshard', ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    let interrupted = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      echo?.(String(d));
      if (stopAfter && !interrupted && stopAfter.test(out)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('close', (code) => resolve({ code: code ?? -1, out, err, ms: Date.now() - started }));
  });
}

export interface Load {
  done: Promise<void>;
  failures: string[];
  posts: { author: StackUser; postId: string }[];
  follows: [StackUser, StackUser][];
  /** Milliseconds each acknowledged write took (posts and follows), retries included. */
  writeMs: number[];
  /** 503s answered and retried (see timed()). */
  retried: number;
  requests: () => number;
}

/** `loops` clients posting, following and reading in turn while `running()`. */
export function reshardLoad(client: StackClient, users: StackUser[], running: () => boolean, loops = 3): Load {
  const load: Load = { done: Promise.resolve(), failures: [], posts: [], follows: [], writeMs: [], retried: 0, requests: () => requests };
  let requests = 0;
  const timed = async (what: string, want: number, call: () => Promise<{ status: number; body: any }>, write: boolean) => {
    const t0 = Date.now();
    let res = await call();
    requests++;
    // A 503 asks the client to come back (Retry-After), as a client does: what fails is a request
    // still refused after RETRIES_503 tries. On a loaded 2-core machine DynamoDB Local has
    // moments when connections time out, reshard or not; those retries are counted.
    for (let attempt = 0; res.status === 503 && attempt < RETRIES_503; attempt++) {
      load.retried++;
      await new Promise((r) => setTimeout(r, RETRY_WAIT_MS));
      res = await call();
    }
    if (res.status !== want) load.failures.push(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
    else if (write) load.writeMs.push(Date.now() - t0);
    return res;
  };
  const loop = async (k: number) => {
    for (let i = 0; running(); i++) {
      const u = users[(k * 7 + i) % users.length]!;
      const p = await timed('post', 201, () => client.http('POST', '/v1/posts', u.token, { content: `during ${k}/${i}` }), true);
      if (p.status === 201) load.posts.push({ author: u, postId: p.body.postId });
      const other = users[(k * 5 + i * 3 + 1) % users.length]!;
      if (other !== u) {
        const f = await timed('follow', 204, () => client.http('PUT', `/v1/users/${other.userId}/follow`, u.token), true);
        if (f.status === 204) load.follows.push([u, other]);
      }
      await timed('feed', 200, () => client.http('GET', '/v1/feed?limit=20', u.token), false);
      await timed('profile', 200, () => client.http('GET', `/v1/users/${other.userId}`, u.token), false);
    }
  };
  load.done = Promise.all(Array.from({ length: loops }, (_, k) => loop(k))).then(() => undefined);
  return load;
}

/** What did not read back: acknowledged posts missing by id or from their author's list, and
 *  follows missing from the follower's following list. */
export async function missingWrites(client: StackClient, reader: StackUser, posts: { author: StackUser; postId: string }[], follows: [StackUser, StackUser][]): Promise<string[]> {
  const missing: string[] = [];
  const queue = [...posts];
  await Promise.all(
    Array.from({ length: READ_BACK_CONCURRENCY }, async () => {
      for (let p = queue.shift(); p; p = queue.shift()) {
        const got = await client.http('GET', `/v1/posts/${p.postId}`, reader.token);
        if (got.status !== 200) missing.push(`post ${p.postId}: ${got.status}`);
      }
    }),
  );
  const byAuthor = new Map<string, string[]>();
  for (const { author, postId } of posts) byAuthor.set(author.userId, [...(byAuthor.get(author.userId) ?? []), postId]);
  for (const [author, ids] of byAuthor) {
    const listed = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await client.http('GET', `/v1/users/${author}/posts?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, reader.token);
      if (page.status !== 200) {
        missing.push(`posts of ${author}: ${page.status}`);
        break;
      }
      for (const p of page.body.items) listed.add(p.postId);
      cursor = page.body.nextCursor ?? undefined;
    } while (cursor);
    for (const id of ids) if (!listed.has(id)) missing.push(`post ${id} not in ${author}'s posts`);
  }
  const following = new Map<string, Set<string>>();
  for (const [follower, followee] of follows) {
    if (!following.has(follower.userId)) {
      const ids = new Set<string>();
      let cursor: string | undefined;
      do {
        const page = await client.http('GET', `/v1/users/${follower.userId}/following?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, follower.token);
        for (const u of page.body?.items ?? []) ids.add(u.userId);
        cursor = page.body?.nextCursor ?? undefined;
      } while (cursor);
      following.set(follower.userId, ids);
    }
    if (!following.get(follower.userId)!.has(followee.userId)) missing.push(`follow ${follower.userId} → ${followee.userId}`);
  }
  return missing;
}
