// The SQS queues of shared/declarations/event-sources.ts: each jobs queue with its dead-letter queue
// (redrive after maxReceiveCount receives), and the stream-failure queue where Lambda puts
// stream records whose retries ran out. Dead letters are alarmed (stacks/alarms.ts).
import { logicalName, type Plan } from './plan.js';

export function deployQueues(plan: Plan): Map<string, aws.sqs.Queue> {
  const queues = new Map<string, aws.sqs.Queue>();
  // Dead-letter and stream-failure queues first: the jobs queues' redrive policies name them.
  const ordered = [...plan.queues].sort((a, b) => Number(a.kind === 'jobs') - Number(b.kind === 'jobs'));
  for (const q of ordered) {
    const deadLetter = q.redrive ? queues.get(q.redrive.deadLetterKey) : undefined;
    if (q.redrive && !deadLetter) throw new Error(`queue ${q.key}: dead-letter queue ${q.redrive.deadLetterKey} missing`);
    queues.set(
      q.key,
      new aws.sqs.Queue(logicalName('Queue', q.key), {
        name: q.name,
        visibilityTimeoutSeconds: q.visibilityTimeoutSeconds,
        messageRetentionSeconds: q.retentionSeconds,
        sqsManagedSseEnabled: true,
        ...(q.redrive &&
          deadLetter && {
            redrivePolicy: $jsonStringify({ deadLetterTargetArn: deadLetter.arn, maxReceiveCount: q.redrive.maxReceiveCount }),
          }),
      }),
    );
  }
  return queues;
}
