// The job-queue port. In AWS messages go to SQS with SendMessageBatch (10 per call, failed
// entries retried); the local stack installs its own transport, which delivers with SQS
// semantics. Every message carries the sender's correlation id as a message attribute.
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { config } from '../edge/config.js';
import type { QueueName } from '../declarations/event-sources.js';
import { SQS_BATCH_MAX } from '../domain/limits.js';
import { currentCorrelationId } from '../edge/observability.js';

export interface OutgoingMessage {
  body: string;
  correlationId?: string;
  /** SQS DelaySeconds (0..900): the message stays invisible that long after sending. */
  delaySeconds?: number;
}
export interface QueueTransport {
  send(queue: QueueName, messages: OutgoingMessage[]): Promise<void>;
}

let transport: QueueTransport | undefined;
/** Installs a transport (the local stack; tests). */
export function useQueueTransport(t: QueueTransport | undefined): void {
  transport = t;
}

const SEND_RETRIES = 5;
let sqs: SQSClient | undefined;

export function queueUrlVariable(queue: string): string {
  return `FEED_QUEUE_URL_${queue.toUpperCase().replace(/-/g, '_')}`;
}

const sqsTransport: QueueTransport = {
  async send(queue, messages) {
    sqs ??= new SQSClient({ region: config().AWS_REGION });
    const url = process.env[queueUrlVariable(queue)];
    if (!url) throw new Error(`${queueUrlVariable(queue)} is not set`);
    let pending = messages.map((m, i) => ({
      Id: String(i),
      MessageBody: m.body,
      ...(m.delaySeconds && { DelaySeconds: m.delaySeconds }),
      ...(m.correlationId && {
        MessageAttributes: { correlationId: { DataType: 'String', StringValue: m.correlationId } },
      }),
    }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > SEND_RETRIES) throw new Error(`SendMessageBatch to ${queue} failed for ${pending.length} messages`);
      if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: pending }));
      const failed = new Set((out.Failed ?? []).map((f) => f.Id));
      pending = pending.filter((e) => failed.has(e.Id));
    }
  },
};

/** Sends JSON messages, SQS_BATCH_MAX per call. */
export async function enqueue(queue: QueueName, bodies: unknown[], opts: { delaySeconds?: number } = {}): Promise<void> {
  const correlationId = currentCorrelationId();
  const t = transport ?? sqsTransport;
  for (let i = 0; i < bodies.length; i += SQS_BATCH_MAX) {
    await t.send(
      queue,
      bodies.slice(i, i + SQS_BATCH_MAX).map((b) => ({ body: JSON.stringify(b), correlationId, delaySeconds: opts.delaySeconds })),
    );
  }
}
