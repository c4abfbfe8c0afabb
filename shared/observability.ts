// Logging for every handler, set up once: Powertools Logger (structured JSON, service name,
// cold-start flag, correlation id). HTTP handlers take the API request id as correlation id;
// queue, stream and workflow handlers take the id carried in their input (see withCorrelation).
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { MiddlewareObj } from '@middy/core';

export const SERVICE_NAME = 'feedscale';
export const logger = new Logger({ serviceName: SERVICE_NAME });

/** The logger's Lambda-context middleware, shared so every handler is wired the same way. */
export function logging(): MiddlewareObj {
  return injectLambdaContext(logger, { resetKeys: true }) as MiddlewareObj;
}

/** The correlation id of the current invocation, to forward in messages this handler sends. */
export function currentCorrelationId(): string | undefined {
  const id = logger.getCorrelationId();
  return typeof id === 'string' ? id : undefined;
}
