// The local gateway's request-target split: a target URL parsing would leave as it is is split
// on `?` without parsing; the answer is always the path and query string URL would give.
import { describe, expect, it } from 'vitest';
import { portFromEnv, splitTarget } from '../../shared/local/server.js';

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

describe('portFromEnv', () => {
  it('takes a whole port number, 0 for a free one, and 3000 when unset or empty', () => {
    expect(portFromEnv(undefined)).toBe(3000);
    expect(portFromEnv('')).toBe(3000);
    expect(portFromEnv('0')).toBe(0);
    expect(portFromEnv('8080')).toBe(8080);
    expect(portFromEnv('65535')).toBe(65535);
  });

  it.each(['abc', '80.5', '-1', '65536', '0x50', ' 80', '1e3'])('refuses PORT=%s, naming the variable', (value) => {
    expect(() => portFromEnv(value)).toThrow(/^PORT must be a whole number from 0 to 65535/);
  });
});
