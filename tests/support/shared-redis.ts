// The redis-server the global setup started, for integration tests that use it directly (`raw`)
// and through L2 clients of their own ("containers"), each closed when the file ends; or, for a
// file that slows Redis down (CLIENT PAUSE holds every client of the server), a redis-server of
// the file's own.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect } from 'vitest';
import { createL2, type L2Cache, type L2Options } from '../../shared/cache/l2.js';
import { startRedis, type Engine } from '../../shared/local/engines.js';

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
  return useRedis(() => Promise.resolve(process.env.REDIS_URL ?? ''));
}

/**
 * A redis-server of the file's own, started before its tests and stopped after, for a file that
 * pauses Redis (CLIENT PAUSE): on the shared server a pause holds the commands of the files
 * running beside it too, and a rate-limit test there saw a held token take time out and fall back
 * to the container's own bucket, which let one post too many through. `url` is read after the
 * file's beforeAll has run.
 */
export function useOwnRedis(): SharedRedis {
  let engine: Engine | undefined;
  afterAll(async () => {
    await engine?.stop();
  });
  return useRedis(async () => {
    engine = await startRedis({});
    expect(engine, 'redis-server installed (the global setup installs it)').toBeDefined();
    return engine!.endpoint;
  });
}

function useRedis(server: () => Promise<string>): SharedRedis {
  let url = '';
  const clients: L2Cache[] = [];
  let raw: Redis | undefined;
  const track = <C extends L2Cache>(client: C): C => {
    clients.push(client);
    return client;
  };
  beforeAll(async () => {
    url = await server();
    expect(url, 'a redis:// URL (the global setup provides REDIS_URL)').toMatch(/^redis:\/\//);
    raw = new Redis(url);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    raw?.disconnect();
  });
  return {
    get url() {
      return url;
    },
    raw: () => raw!,
    l2: (opts = {}, other = url) => track(createL2(other, opts)),
    track,
  };
}
