// The edge of every HTTP operation: `api(spec, work)` wraps a plain work function into a middy
// Lambda handler for API Gateway HTTP API (payload v2) events. It authenticates (the JWT
// authorizer's `sub` claim), refuses oversized bodies, parses and validates JSON and query
// strings with zod, and maps errors to {"error":{"code","message"}}. Every invocation logs as JSON
// with the API request id as correlation id and flushes its metrics (shared/edge/observability.ts).
import middy from '@middy/core';
import type {
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import * as z from 'zod';
import {
  BadRequestError,
  HttpError,
  PayloadTooLargeError,
  UnauthorizedError,
} from '../domain/errors.js';
import { BODY_MAX_BYTES, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, PAGE_LIMIT_MIN } from '../domain/limits.js';
import { logger, logging, metering } from './observability.js';

export type HttpEvent = APIGatewayProxyEventV2WithJWTAuthorizer;
export type HttpResult = APIGatewayProxyStructuredResultV2;

export interface ApiRequest<B, Q> {
  /** The token subject; always set when the route requires auth. */
  sub: string;
  body: B;
  query: Q;
  params: Record<string, string>;
  headers: Record<string, string>;
  requestId: string;
}
export interface ApiResponse {
  status: number;
  body?: unknown;
  /** `body` already serialized as JSON (sent as is instead of serializing `body`). */
  json?: string;
}

interface ApiSpec<B extends z.ZodType | undefined, Q extends z.ZodType | undefined> {
  auth: boolean;
  body?: B;
  query?: Q;
}
type Out<T> = T extends z.ZodType ? z.infer<T> : undefined;

/** Query of list endpoints: `limit` 1..100 (default 20) and an opaque `cursor`. */
export const PageQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^\d+$/, `must be an integer from ${PAGE_LIMIT_MIN} to ${PAGE_LIMIT_MAX}`)
    .transform(Number)
    .pipe(z.number().min(PAGE_LIMIT_MIN, `must be an integer from ${PAGE_LIMIT_MIN} to ${PAGE_LIMIT_MAX}`).max(PAGE_LIMIT_MAX, `must be an integer from ${PAGE_LIMIT_MIN} to ${PAGE_LIMIT_MAX}`))
    .default(PAGE_LIMIT_DEFAULT),
  cursor: z.string().min(1).max(2048).optional(),
});
export type Page = z.infer<typeof PageQuery>;

/** One readable sentence for a zod failure, naming every unknown, missing or invalid field. */
export function describeIssues(error: z.ZodError, what: string, input?: unknown): string {
  const present = (path: PropertyKey[]) => {
    let node: unknown = input;
    for (const key of path) {
      if (typeof node !== 'object' || node === null || !(key in node)) return false;
      node = (node as Record<PropertyKey, unknown>)[key];
    }
    return node !== undefined;
  };
  return error.issues
    .map((issue) => {
      const at = issue.path.join('.');
      if (issue.code === 'unrecognized_keys') return `unknown ${what} field(s): ${issue.keys.join(', ')}`;
      if (issue.code === 'invalid_type' && !present(issue.path)) return `missing ${what} field: ${at}`;
      return at ? `${what} field ${at}: ${issue.message}` : `${what}: ${issue.message}`;
    })
    .join('; ');
}

function parseBody(event: HttpEvent, schema: z.ZodType): unknown {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text) > BODY_MAX_BYTES) {
    throw new PayloadTooLargeError(`request body exceeds ${BODY_MAX_BYTES} bytes`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BadRequestError('request body is not valid JSON', 'invalid_json');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new BadRequestError('request body must be a JSON object', 'invalid_json');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new BadRequestError(describeIssues(parsed.error, 'body', json), 'invalid_request');
  return parsed.data;
}

function parseQuery(event: HttpEvent, schema: z.ZodType | undefined): unknown {
  const query = event.queryStringParameters ?? {};
  if (!schema) {
    const unknown = Object.keys(query);
    if (unknown.length > 0) throw new BadRequestError(`unknown query parameter(s): ${unknown.join(', ')}`, 'invalid_request');
    return undefined;
  }
  const parsed = schema.safeParse(query);
  if (!parsed.success) throw new BadRequestError(describeIssues(parsed.error, 'query', query), 'invalid_request');
  return parsed.data;
}

export function errorResult(status: number, code: string, message: string): HttpResult {
  return json(status, { error: { code, message } });
}

function json(status: number, body: unknown): HttpResult {
  return body === undefined
    ? { statusCode: status }
    : { statusCode: status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** Maps thrown errors to responses: HttpError shows its message; anything else is a logged 500. */
const httpErrors = (): middy.MiddlewareObj<HttpEvent, HttpResult> => ({
  onError: async (request) => {
    const err = request.error;
    if (err instanceof HttpError) {
      request.response = errorResult(err.status, err.code, err.message);
      return;
    }
    logger.error('unhandled error', err as Error);
    request.response = errorResult(500, 'internal', 'internal server error');
  },
});

/** Takes the API request id as the correlation id of everything this invocation logs and sends. */
const correlation = (): middy.MiddlewareObj<HttpEvent, HttpResult> => ({
  before: async (request) => {
    logger.setCorrelationId(request.event.requestContext?.requestId);
  },
});

export function api<B extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined>(
  spec: ApiSpec<B, Q>,
  work: (req: ApiRequest<Out<B>, Out<Q>>) => Promise<ApiResponse>,
): middy.MiddyfiedHandler<HttpEvent, HttpResult, Error, Context> {
  return middy<HttpEvent, HttpResult, Error, Context>()
    .use(logging() as middy.MiddlewareObj<HttpEvent, HttpResult>)
    .use(metering() as middy.MiddlewareObj<HttpEvent, HttpResult>)
    .use(correlation())
    .use(httpErrors())
    .handler(async (event) => {
      const sub = event.requestContext?.authorizer?.jwt?.claims?.sub;
      if (spec.auth && (typeof sub !== 'string' || sub.length === 0)) throw new UnauthorizedError();
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
      const req = {
        sub: typeof sub === 'string' ? sub : '',
        body: (spec.body ? parseBody(event, spec.body) : undefined) as Out<B>,
        query: parseQuery(event, spec.query) as Out<Q>,
        params: (event.pathParameters ?? {}) as Record<string, string>,
        headers,
        requestId: event.requestContext?.requestId ?? '',
      };
      const res = await work(req);
      if (res.json !== undefined) return { statusCode: res.status, headers: { 'content-type': 'application/json' }, body: res.json };
      return json(res.status, res.body);
    });
}
