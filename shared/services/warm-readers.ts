// Which readers the CacheWarming workflow warms next: a page of the users active in the last hour
// (the Redis `active` set), cut into the chunks its Map warms in parallel.
import { activeUsersPage } from '../cache/pull-cache.js';

export interface ReadersPage {
  chunks: string[][];
  next?: { score: number; userId: string };
}

/** The next `chunksPerPage` chunks of `chunk` active users after `after`. */
export async function readersToWarm(chunk: number, chunksPerPage: number, after?: { score: number; userId: string }): Promise<ReadersPage> {
  const page = await activeUsersPage(chunk * chunksPerPage, after);
  const chunks: string[][] = [];
  for (let i = 0; i < page.users.length; i += chunk) chunks.push(page.users.slice(i, i + chunk));
  return { chunks, next: page.next };
}
