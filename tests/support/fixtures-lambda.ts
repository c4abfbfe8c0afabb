// Hand-built Lambda inputs for unit tests of handlers: a minimal Context and an API Gateway HTTP
// API (payload v2) event with an optional JWT authorizer, as API Gateway would deliver them.
// `invokeLambda` runs a handler the way the local stack does (shared/local/lambda.ts): inside its
// own InvokeStore scope, which Powertools requires once AWS_LAMBDA_MAX_CONCURRENCY is set (the
// global setup loads the local stack, which sets it, before vitest forks the test processes).
import { randomUUID } from 'node:crypto';
import { InvokeStore, InvokeStoreBase } from '@aws/lambda-invoke-store';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, Context } from 'aws-lambda';

const store = InvokeStore.getInstanceAsync();

/** Invokes `handler` with `event` and a fresh context, scoped as one Lambda invocation. */
export async function invokeLambda<E, R>(
  handler: (event: E, context: Context) => Promise<R>,
  event: E,
  context: Context = testContext(),
): Promise<R> {
  return (await store).run({ [InvokeStoreBase.PROTECTED_KEYS.REQUEST_ID]: context.awsRequestId }, () => handler(event, context));
}

export function testContext(functionName = 'feedscale-test'): Context {
  const noop = () => {};
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 10_000,
    done: noop,
    fail: noop,
    succeed: noop,
  };
}

export interface EventInit {
  method?: string;
  path?: string;
  /** The JWT subject; omitted → no authorizer claims at all. */
  sub?: string;
  body?: string;
  isBase64Encoded?: boolean;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  pathParameters?: Record<string, string>;
}

export function httpEvent(init: EventInit = {}): APIGatewayProxyEventV2WithJWTAuthorizer {
  const method = init.method ?? 'POST';
  const path = init.path ?? '/v1/things';
  const requestId = randomUUID();
  const now = Date.now();
  const event = {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: new URLSearchParams(init.query ?? {}).toString(),
    headers: { 'content-type': 'application/json', ...init.headers },
    ...(init.query && { queryStringParameters: init.query }),
    ...(init.pathParameters && { pathParameters: init.pathParameters }),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId,
      routeKey: `${method} ${path}`,
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
      ...(init.sub !== undefined && {
        authorizer: { principalId: '', integrationLatency: 0, jwt: { claims: { sub: init.sub }, scopes: [] } },
      }),
    },
    ...(init.body !== undefined && { body: init.body }),
    isBase64Encoded: init.isBase64Encoded ?? false,
  };
  return event as unknown as APIGatewayProxyEventV2WithJWTAuthorizer;
}
