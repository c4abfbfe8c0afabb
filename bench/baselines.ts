// The baselines the API is measured against, each on its own node:http server in this process:
// - the bare server: returns a fixed response (the same bytes and headers as a real feed page),
//   so "L1 hit vs bare" says how much of the machine the API layer leaves on the table;
// - the strategy harness: one feed read per request by plain push (precomputed feed only), plain
//   pull (query every followed author, merge) or the hybrid (precomputed + pulled high-tier
//   authors, the product's generate step), through the domain functions, with no auth, cache or
//   Lambda adapter in front, so the three differ only in how the feed is assembled.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpRaw } from './http.js';
import { readFeed } from '../shared/services/feed-entries.js';
import { edgePage } from '../shared/services/follows.js';
import { queryAuthorPosts, type Post } from '../shared/services/posts.js';
import { pullSources } from '../shared/services/pull.js';

export interface Server {
  url: string;
  close(): Promise<void>;
}

async function listen(server: http.Server): Promise<Server> {
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `workMicros`: CPU each request spins before answering, so a run says what a server doing that
 *  much work per request (and nothing else more than the bare one) can serve beside it. */
export function bareServer(body: Buffer, headers: Record<string, string>, workMicros = 0): Promise<Server> {
  return listen(http.createServer((_req, res) => {
    if (workMicros > 0) for (const end = performance.now() + workMicros / 1000; performance.now() < end; );
    res.writeHead(200, headers);
    res.end(body);
  }));
}

/** Headers the bare server does not copy from the API's answer (its own server sets them). */
const HOP_HEADERS = ['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'apigw-requestid'];

/** A bare server answering every request with what the API answered to one GET of `pathname`
 *  (its body and headers); also the body, for the caller's log. */
export async function bareServerLike(base: string, pathname: string, token: string, workMicros = 0): Promise<Server & { bytes: number }> {
  const first = await httpRaw(base, pathname, token);
  const headers: Record<string, string> = {};
  for (const [k, v] of first.headers) if (!HOP_HEADERS.includes(k)) headers[k] = v;
  return { ...(await bareServer(first.body, headers, workMicros)), bytes: first.body.length };
}

/** Followed authors read per page by plain pull (one Query each; the Follows page limit). */
const PULL_FOLLOWING_PAGE = 1000;
/** Plain pull bounds its followee list as a real implementation would have to. */
const PULL_MAX_FOLLOWING = 5000;

/** Plain pull-at-read: every followed author's newest posts, merged. */
export async function pullFeed(userId: string, limit: number): Promise<Post[]> {
  const authors: string[] = [];
  let after: string | undefined;
  do {
    const page = await edgePage(userId, 'following', PULL_FOLLOWING_PAGE, after);
    authors.push(...page.ids);
    after = page.last;
  } while (after && authors.length < PULL_MAX_FOLLOWING);
  const posts = (await Promise.all(authors.map((a) => queryAuthorPosts(a, limit + 1)))).flat();
  return posts.sort((a, b) => (a.postId < b.postId ? 1 : -1)).slice(0, limit);
}

export type Strategy = 'hybrid' | 'push' | 'pull';

export function strategyServer(limit: number): Promise<Server> {
  return listen(
    http.createServer((req, res) => {
      const m = /^\/(hybrid|push|pull)\/([0-9A-Z]+)$/.exec(req.url ?? '');
      if (!m) {
        res.writeHead(404).end();
        return;
      }
      const [, strategy, userId] = m as unknown as [string, Strategy, string];
      const work =
        strategy === 'pull'
          ? pullFeed(userId, limit).then((items) => ({ items, nextCursor: null }))
          : readFeed(userId, limit, undefined, strategy === 'hybrid' ? pullSources : undefined);
      work.then(
        (page) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(page));
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String((err as Error).message));
        },
      );
    }),
  );
}
