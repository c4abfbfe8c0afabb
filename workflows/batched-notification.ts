// BatchedNotification (Standard): started once per window (FEED_NOTIFICATION_WINDOW_SECONDS,
// default 30 min) by a schedule, it composes one digest per recipient for the window that just
// closed. One execution per window — not per recipient or event — keeps StartExecution far below
// its account-wide throttle. Plan returns the shards; an inline Map composes them
// (NOTIFY_SHARD_CONCURRENCY at a time), each shard looping over pages of 500 recipients.
//
// History budget: per shard the Map spends 2 events plus ~7 per Compose page; with 32 shards and
// a window of up to 20,000 recipients per shard (40 pages) that is 32 × (2 + 40 × 7) ≈ 9,000
// events, under the 25,000-event limit. Larger windows would need more shards or one execution
// per shard; FEED_SHARDS grows with the user base, so pages per shard stay bounded.
import { catchTo, RETRY, taskResource, type Asl } from './asl.js';

export const NOTIFY_SHARD_CONCURRENCY = 8;

export function batchedNotification(): Asl {
  return {
    Comment: 'Compose one notification digest per recipient for the window that just closed.',
    StartAt: 'Plan',
    States: {
      Plan: { Type: 'Task', Resource: taskResource('notification-plan'), Retry: RETRY, Catch: catchTo('DigestFailed'), Next: 'ComposeShards' },
      ComposeShards: {
        Type: 'Map',
        ItemsPath: '$.shards',
        MaxConcurrency: NOTIFY_SHARD_CONCURRENCY,
        ItemSelector: {
          'windowStart.$': '$.windowStart',
          'correlationId.$': '$.correlationId',
          'shard.$': '$$.Map.Item.Value',
        },
        ItemProcessor: {
          ProcessorConfig: { Mode: 'INLINE' },
          StartAt: 'Compose',
          States: {
            Compose: { Type: 'Task', Resource: taskResource('notification-compose'), Retry: RETRY, Next: 'MoreRecipients' },
            MoreRecipients: {
              Type: 'Choice',
              Choices: [{ Variable: '$.next', IsNull: false, Next: 'Compose' }],
              Default: 'ShardDone',
            },
            ShardDone: { Type: 'Succeed' },
          },
        },
        ResultPath: null,
        Catch: catchTo('DigestFailed'),
        Next: 'Done',
      },
      Done: { Type: 'Succeed' },
      DigestFailed: { Type: 'Fail', Error: 'BatchedNotificationFailed', Cause: 'a plan or compose task failed after its retries; see the failed state' },
    },
  };
}
