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
        return await work(schema.parse(event));
      } catch (err) {
        countMetric(METRIC.workflowFailures);
        logger.error('workflow task failed', err as Error);
        throw err;
      }
    });
}
