// Step Functions Task handlers: the input is validated with zod, the correlation id it carries
// (`correlationId`, put there by whoever started the execution) tags every log line, and errors
// are logged, counted (WorkflowFailures) and propagated, so the state's Retry and Catch decide
// what happens. Every invocation flushes its metrics (shared/edge/observability.ts).
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { countMetric, logger, logging, METRIC, metering } from './observability.js';

/** The execution's correlation id: at the top of a Task's input, or, for tasks whose state
 *  wraps the execution's input (`{"workflow", "input.$": "$"}`, as ContinueAsNew does), inside it. */
export function correlationOf(event: unknown): string | undefined {
  const top = event as { correlationId?: unknown; input?: { correlationId?: unknown } } | null | undefined;
  const id = top?.correlationId ?? top?.input?.correlationId;
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}

/** A Task input that does not fit its schema: a bug in the state machine or its starter, which
 *  no retry can fix. Named, so a state's Retry can leave it out (`ErrorEquals` matches the name)
 *  and its Catch records a readable message instead of a raw ZodError. */
export class InvalidTaskInputError extends Error {
  override name = 'InvalidTaskInput';
}

export function workflowTask<S extends z.ZodType, R>(
  schema: S,
  work: (input: z.infer<S>) => Promise<R>,
): middy.MiddyfiedHandler<unknown, R, Error, Context> {
  return middy<unknown, R, Error, Context>()
    .use(logging() as middy.MiddlewareObj<unknown, R>)
    .use(metering() as middy.MiddlewareObj<unknown, R>)
    .handler(async (event) => {
      logger.setCorrelationId(correlationOf(event));
      try {
        const input = schema.safeParse(event);
        if (!input.success) throw new InvalidTaskInputError(`task input does not fit its schema: ${z.prettifyError(input.error)}`);
        return await work(input.data);
      } catch (err) {
        countMetric(METRIC.workflowFailures);
        logger.error('workflow task failed', err as Error);
        throw err;
      }
    });
}
