// Step Functions Task handlers: the input is validated with zod, the correlation id it carries
// (`correlationId`, put there by whoever started the execution) tags every log line, and errors
// propagate so the state's Retry and Catch decide what happens.
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { logger, logging } from './observability.js';

export function workflowTask<S extends z.ZodType, R>(
  schema: S,
  work: (input: z.infer<S>) => Promise<R>,
): middy.MiddyfiedHandler<unknown, R, Error, Context> {
  return middy<unknown, R, Error, Context>()
    .use(logging() as middy.MiddlewareObj<unknown, R>)
    .handler(async (event) => {
      const correlationId = (event as { correlationId?: unknown })?.correlationId;
      if (typeof correlationId === 'string') logger.setCorrelationId(correlationId);
      return work(schema.parse(event));
    });
}
