// CacheWarming (Standard), scheduled every 15 minutes (FEED_WARM_INTERVAL_SECONDS): lists the
// users active in the last hour page by page (the `active` sorted set in Redis) and regenerates
// the first feed page of those whose page is no longer cached into L2, with an inline Map
// throttled by FEED_FANOUT_MAX_CONCURRENCY, so their next read is a hit. A page still cached is
// kept current in place and left alone (a reader's page lives 6 h), so a run costs DynamoDB reads
// only for the pages that expired or were dropped.
//
// History budget: a page of WARM_CHUNKS_PER_PAGE chunks × WARM_CHUNK users costs ~5 + 4 + 7 ×
// chunks + 2 ≈ 81 events; PAGES_PER_RUN = 250 pages ≈ 20,000 events covers 250 × 1,000 = 250,000
// active users per region and run. More active users than that are left for the next run, whose
// cursor starts where the set is — at real scale, warm per shard or raise the chunk size.
import { catchTo, RETRY, taskResource, type Asl } from './asl.js';

export const WARM_CHUNK = 100;
export const WARM_CHUNKS_PER_PAGE = 10;
export const WARM_PAGES_PER_RUN = 250;

export function cacheWarming(maxConcurrency: number): Asl {
  return {
    Comment: 'Regenerate the cached first feed page of users active in the last hour.',
    StartAt: 'ListActiveUsers',
    States: {
      ListActiveUsers: { Type: 'Task', Resource: taskResource('cache-warm-page'), Retry: RETRY, Catch: catchTo('WarmingFailed'), Next: 'WarmChunks' },
      WarmChunks: {
        Type: 'Map',
        ItemsPath: '$.chunks',
        MaxConcurrency: maxConcurrency,
        ItemSelector: { 'correlationId.$': '$.correlationId', 'users.$': '$$.Map.Item.Value' },
        ItemProcessor: {
          ProcessorConfig: { Mode: 'INLINE' },
          StartAt: 'WarmChunk',
          States: { WarmChunk: { Type: 'Task', Resource: taskResource('cache-warm-chunk'), Retry: RETRY, End: true } },
        },
        ResultPath: null,
        Catch: catchTo('WarmingFailed'),
        Next: 'MoreUsers',
      },
      MoreUsers: {
        Type: 'Choice',
        Choices: [
          { And: [{ Variable: '$.next', IsNull: false }, { Variable: '$.pages', NumericLessThan: WARM_PAGES_PER_RUN }], Next: 'ListActiveUsers' },
        ],
        Default: 'Done',
      },
      Done: { Type: 'Succeed' },
      WarmingFailed: { Type: 'Fail', Error: 'CacheWarmingFailed', Cause: 'a list or warm task failed after its retries; see the failed state' },
    },
  };
}
