// CelebrityFanout (Standard): pushes a celebrity's post (or its removal) to the followers active
// within FEED_ACTIVE_WINDOW_HOURS; inactive followers get it by pull when they next read.
//
// Each loop: ListActiveFollowers reads one page of the active-follower index (CHUNKS_PER_PAGE
// chunks of 500 ids = 5,000 followers) and PushChunks writes them with an inline Map throttled
// by FEED_FANOUT_MAX_CONCURRENCY (default 10; inline Map allows at most 40).
//
// History budget (a Standard execution stops at 25,000 events): a page costs 5 events for the
// Task, 4 for the Map plus 7 per chunk (10 chunks: 70), and 4 for the two Choices ≈ 83 events.
// PAGES_PER_EXECUTION = 200 pages ≈ 16,600 events, leaving room for retries (3 events each);
// then ContinueAsNew starts a fresh execution from the cursor and this one ends. One execution
// covers 200 × 5,000 = 1M active followers, so even 100M followers (if all were active) is a
// chain of 100 executions, never one history over the limit. aws-local-stepfunctions runs
// neither Distributed Map nor ItemReader, so this inline-Map chain is what deploys and what runs
// locally.
import { catchTo, RETRY, taskResource, type Asl } from './asl.js';

export const CHUNKS_PER_PAGE = 10;
export const PAGES_PER_EXECUTION = 200;

export function celebrityFanout(maxConcurrency: number): Asl {
  return {
    Comment: 'Push a celebrity post to recently active followers, page by page, throttled.',
    StartAt: 'ListActiveFollowers',
    States: {
      ListActiveFollowers: {
        Type: 'Task',
        Resource: taskResource('celebrity-fanout-page'),
        Retry: RETRY,
        Catch: catchTo('FanoutFailed'),
        Next: 'PushChunks',
      },
      PushChunks: {
        Type: 'Map',
        ItemsPath: '$.chunks',
        MaxConcurrency: maxConcurrency,
        ItemSelector: {
          'kind.$': '$.kind',
          'post.$': '$.post',
          'correlationId.$': '$.correlationId',
          'followers.$': '$$.Map.Item.Value',
        },
        ItemProcessor: {
          ProcessorConfig: { Mode: 'INLINE' },
          StartAt: 'PushChunk',
          States: {
            PushChunk: { Type: 'Task', Resource: taskResource('celebrity-fanout-push'), Retry: RETRY, End: true },
          },
        },
        ResultPath: null,
        Catch: catchTo('FanoutFailed'),
        Next: 'MorePages',
      },
      MorePages: {
        Type: 'Choice',
        Choices: [{ Variable: '$.next', IsNull: true, Next: 'Done' }],
        Default: 'PageBudgetLeft',
      },
      PageBudgetLeft: {
        Type: 'Choice',
        Choices: [{ Variable: '$.pages', NumericLessThan: PAGES_PER_EXECUTION, Next: 'ListActiveFollowers' }],
        Default: 'ContinueAsNew',
      },
      ContinueAsNew: {
        Type: 'Task',
        Resource: taskResource('workflow-continue'),
        Parameters: {
          workflow: 'celebrity-fanout',
          'input.$': '$',
        },
        Retry: RETRY,
        Catch: catchTo('FanoutFailed'),
        Next: 'Done',
      },
      Done: { Type: 'Succeed' },
      FanoutFailed: { Type: 'Fail', Error: 'CelebrityFanoutFailed', Cause: 'a page or push task failed after its retries; see the failed state' },
    },
  };
}
