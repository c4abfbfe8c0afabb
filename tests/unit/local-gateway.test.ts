// The local gateway's request-target split: a target URL parsing would leave as it is is split
// on `?` without parsing; the answer is always the path and query string URL would give.
import { describe, expect, it } from 'vitest';
import { splitTarget } from '../../shared/local/server.js';

const viaUrl = (target: string) => {
  const url = new URL(target, 'http://localhost');
  return { pathname: url.pathname, search: url.search };
};

describe('splitTarget', () => {
  it.each([
    '/',
    '/v1/feed',
    '/v1/feed?limit=5&cursor=abc%3D',
    '/v1/feed?',
    '/v1/feed?a=1&a=2',
    '/v1/feed?__proto__=1',
    '/v1/users/%ZZ',
    '/v1/a..b',
    '/v1/x?y=a/b?c',
  ])('splits the plain target %s as URL does', (target) => {
    expect(splitTarget(target)).toEqual(viaUrl(target));
  });

  it.each(['//evil/x', '/v1/../v1/feed', '/v1/./feed', "/v1/a'b?x='1'", '/v1/a b', '/v1/ü', '/v1/feed?q=<x>', '/v1/feed#frag', '/v1/.hidden'])(
    'normalizes %s exactly as URL does (dot segments, escapes, fragments)',
    (target) => {
      expect(splitTarget(target)).toEqual(viaUrl(target));
    },
  );
});

describe('the processes that run the handlers locally', () => {
  it('start with the local Node flags: npm start, npm run bench (each region process is spawned with them)', async () => {
    const { LOCAL_NODE_FLAGS, ROOT } = await import('../../shared/local/lambda.js');
    const { readFileSync } = await import('node:fs');
    const scripts = (JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const name of ['start', 'bench']) expect(scripts[name]!.split(' ').slice(1, 1 + LOCAL_NODE_FLAGS.length), name).toEqual(LOCAL_NODE_FLAGS);
  });
});
