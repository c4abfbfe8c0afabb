// The redis-server the global setup started, for integration tests that use it directly (`raw`)
// and through L2 clients of their own ("containers"), each closed when the file ends.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect } from 'vitest';
import { createL2, type L2Cache, type L2Options } from '../../shared/cache/l2.js';

export interface SharedRedis {
  url: string;
  /** A plain client, for looking at and arranging keys. */
  raw: () => Redis;
  /** An L2 client of its own (closed after the file); `url` defaults to the shared server. */
  l2: (opts?: L2Options, url?: string) => L2Cache;
  /** Closes `client` after the file too (a client built by the test itself). */
  track: <C extends L2Cache>(client: C) => C;
}

/** Registers the file's set-up and clean-up; call once at module scope. */
export function useSharedRedis(): SharedRedis {
  const url = process.env.REDIS_URL ?? '';
  const clients: L2Cache[] = [];
  let raw: Redis | undefined;
  const track = <C extends L2Cache>(client: C): C => {
    clients.push(client);
    return client;
  };
  beforeAll(() => {
    expect(url, 'the global setup provides REDIS_URL').toMatch(/^redis:\/\//);
    raw = new Redis(url);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    raw?.disconnect();
  });
  return {
    url,
    raw: () => raw!,
    l2: (opts = {}, other = url) => track(createL2(other, opts)),
    track,
  };
}
