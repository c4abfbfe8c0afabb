// The edge of every HTTP operation: `api(spec, work)` wraps a plain work function into a middy
// Lambda handler for API Gateway HTTP API (payload v2) events. It authenticates (the JWT
// authorizer's `sub` claim), refuses oversized bodies, parses and validates JSON and query
// strings with zod, and maps errors to {"error":{"code","message"}}. Every invocation logs as JSON
// with the API request id as correlation id, binding it on its first line, and flushes the metrics
// it stored (shared/edge/observability.ts).
// It takes a token from the caller's rate-limit bucket (429 `rate_limited`) and bounds the
// invocation's DynamoDB calls by its remaining time (503 `unavailable`), both with Retry-After.
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
  ServiceUnavailableError,
  UnauthorizedError,
} from '../domain/errors.js';
import { ID_PATTERN } from '../domain/ids.js';
import { BODY_MAX_BYTES, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, PAGE_LIMIT_MIN, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../domain/limits.js';
import { ANSWER_RESERVE_MS, answerBy, deadlineIn, remainingTime, runInvocation, type Invocation } from './deadline.js';
import { beginInvocation, closeInvocation, logger, openInvocation } from './observability.js';
import { rateLimitRefusal, refusalMessage, type RateBucket, type RateDecision } from './rate-limit.js';

export type HttpEvent = APIGatewayProxyEventV2WithJWTAuthorizer;
export type HttpResult = APIGatewayProxyStructuredResultV2;

export interface ApiRequest<B, Q, P = Record<string, never>> {
  /** The token subject; always set when the route requires auth. */
  sub: string;
  body: B;
  query: Q;
  /** Path parameters, parsed by the route's `params` schema. */
  params: P;
  headers: Record<string, string>;
}
export interface ApiResponse {
  status: number;
  body?: unknown;
  /** `body` already serialized as JSON (sent as is instead of serializing `body`). */
  json?: string;
  /** Overrides of the edge headers (e.g. a cacheable document). */
  headers?: Record<string, string>;
}

/** On every response: answers are per caller and change with every write, so no cache (browser,
 *  proxy or CDN) may keep them; and a JSON body must never be sniffed into something executable. */
export const EDGE_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

/** The headers of a JSON answer with no others: one frozen object shared by every such answer
 *  (nothing downstream writes to a result's headers; one that tried would throw). */
const JSON_HEADERS: Record<string, string> = Object.freeze({ 'content-type': 'application/json', ...EDGE_HEADERS });

export interface ApiSpec<
  B extends z.ZodType | undefined = z.ZodType | undefined,
  Q extends z.ZodType | undefined = z.ZodType | undefined,
  P extends z.ZodType | undefined = z.ZodType | undefined,
> {
  auth: boolean;
  body?: B;
  query?: Q;
  /** Path parameters; a route with `{name}` in its path must declare it here. */
  params?: P;
  /** The caller's token bucket this route takes from (shared/edge/rate-limit.ts); an
   *  authenticated route without one takes from `read`. */
  rateLimit?: RateBucket;
}
type Out<T> = T extends z.ZodType ? z.infer<T> : undefined;
/** A Lambda handler built by `api`, carrying its spec. */
export type ApiHandler = middy.MiddyfiedHandler<HttpEvent, HttpResult, Error, Context> & { spec: ApiSpec };
type PathOut<T> = T extends z.ZodType ? z.infer<T> : Record<string, never>;

/** A server-minted id (shared/domain/ids.ts) in a path: anything else can name no row, so it is a
 *  400 at the edge rather than a lookup that reaches the store. */
export const Id = z.string().regex(ID_PATTERN, 'must be a 13-character id');
export const UserPath = z.strictObject({ userId: Id });
export type UserPath = z.infer<typeof UserPath>;
export const PostPath = z.strictObject({ postId: Id });
export type PostPath = z.infer<typeof PostPath>;

/** Query of list endpoints: `limit` 1..100 (default 20) and an opaque `cursor`. */
export const PageQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^\d+$/, `must be an integer from ${PAGE_LIMIT_MIN} to ${PAGE_LIMIT_MAX}`)
    .transform(Number)
    .pipe(z.number().int().min(PAGE_LIMIT_MIN, `must be an integer from ${PAGE_LIMIT_MIN} to ${PAGE_LIMIT_MAX}`).max(PAGE_LIMIT_MAX, `must be an integer from ${PAGE_LIMIT_MIN} to ${PAGE_LIMIT_MAX}`))
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

function parseParams(event: HttpEvent, schema: z.ZodType | undefined): unknown {
  const params = event.pathParameters ?? {};
  if (!schema) return {};
  const parsed = schema.safeParse(params);
  if (!parsed.success) throw new BadRequestError(describeIssues(parsed.error, 'path', params), 'invalid_request');
  return parsed.data;
}

/** A schema's answer to an empty query (its defaults), parsed once per schema: most requests
 *  carry no query string. Frozen, since every such request shares it. */
const emptyQueries = new WeakMap<z.ZodType, unknown>();

function parseQuery(event: HttpEvent, schema: z.ZodType | undefined): unknown {
  const query = event.queryStringParameters ?? {};
  if (schema && event.queryStringParameters === undefined) {
    const known = emptyQueries.get(schema);
    if (known !== undefined) return known;
    const parsed = schema.safeParse(query);
    if (parsed.success && typeof parsed.data === 'object' && parsed.data !== null) emptyQueries.set(schema, Object.freeze(parsed.data));
  }
  if (!schema) {
    const unknown = Object.keys(query);
    if (unknown.length > 0) throw new BadRequestError(`unknown query parameter(s): ${unknown.join(', ')}`, 'invalid_request');
    return undefined;
  }
  const parsed = schema.safeParse(query);
  if (!parsed.success) throw new BadRequestError(describeIssues(parsed.error, 'query', query), 'invalid_request');
  return parsed.data;
}

export function errorResult(status: number, code: string, message: string, details?: Readonly<Record<string, unknown>>): HttpResult {
  return json(status, { error: { code, message, ...details } });
}

function json(status: number, body: unknown, headers?: Record<string, string>): HttpResult {
  return body === undefined
    ? { statusCode: status, headers: { ...EDGE_HEADERS, ...headers } }
    : { statusCode: status, headers: { 'content-type': 'application/json', ...EDGE_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** The answer to a thrown error: an HttpError shows its message (logged as a warning when it is a
 *  5xx, with its cause); anything else is a logged 500. */
function errorResponse(err: unknown): HttpResult {
  if (err instanceof HttpError) {
    const response = errorResult(err.status, err.code, err.message, err.details);
    if ('retryAfterSeconds' in err && typeof err.retryAfterSeconds === 'number') {
      response.headers = { ...response.headers, 'retry-after': String(err.retryAfterSeconds) };
    }
    if (err.status >= 500) logger.warn(err.message, { error: err.cause instanceof Error ? err.cause.message : String(err.cause) });
    return response;
  }
  logger.error('unhandled error', err as Error);
  return errorResult(500, 'internal', 'internal server error');
}

/** What an invocation still running ANSWER_RESERVE_MS before its timeout answers. */
const ranOutOfTime = (): never => {
  throw new ServiceUnavailableError('the request ran out of time; retry later', UNAVAILABLE_RETRY_AFTER_SECONDS);
};

/** The 429 of a refused request, built without an error: under a flood it is most answers. */
function refusalResult(bucket: RateBucket, decision: RateDecision): HttpResult {
  const result = errorResult(429, 'rate_limited', refusalMessage(bucket, decision));
  result.headers = { ...result.headers, 'retry-after': String(decision.retryAfterSeconds) };
  return result;
}

/** API Gateway (payload v2) already lowercases header names; copied, with undefined dropped. */
function lowercaseHeaders(event: HttpEvent): Record<string, string> {
  const headers: Record<string, string> = {};
  const given = event.headers;
  if (!given) return headers;
  for (const k in given) {
    const v = given[k];
    if (v !== undefined) headers[k.toLowerCase()] = v;
  }
  return headers;
}

export function api<
  B extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  P extends z.ZodType | undefined = undefined,
>(
  spec: ApiSpec<B, Q, P>,
  work: (req: ApiRequest<Out<B>, Out<Q>, PathOut<P>>) => Promise<ApiResponse>,
): ApiHandler {
  const respond = async (event: HttpEvent): Promise<HttpResult> => {
    const sub = event.requestContext?.authorizer?.jwt?.claims?.sub;
    if (spec.auth && (typeof sub !== 'string' || sub.length === 0)) throw new UnauthorizedError();
    // Before parsing: a refused request costs at most one Redis round trip (none while an
    // earlier refusal stands), reads no body and writes nothing.
    const bucket = spec.rateLimit ?? (spec.auth ? 'read' : undefined);
    if (bucket && typeof sub === 'string') {
      const taking = rateLimitRefusal(bucket, sub);
      const refusal = taking && (await taking);
      if (refusal) return refusalResult(bucket, refusal);
    }
    let headers: Record<string, string> | undefined;
    const req = {
      sub: typeof sub === 'string' ? sub : '',
      body: (spec.body ? parseBody(event, spec.body) : undefined) as Out<B>,
      query: parseQuery(event, spec.query) as Out<Q>,
      params: parseParams(event, spec.params) as PathOut<P>,
      // Copied only for the work that reads them (most does not).
      get headers() {
        return (headers ??= lowercaseHeaders(event));
      },
    };
    const res = await work(req);
    if (res.json !== undefined) {
      return { statusCode: res.status, headers: res.headers ? { ...JSON_HEADERS, ...res.headers } : JSON_HEADERS, body: res.json };
    }
    return json(res.status, res.body, res.headers);
  };
  const serve = async (event: HttpEvent, invocation: Invocation, answerAt: number | undefined): Promise<HttpResult> => {
    try {
      beginInvocation(event);
      const answer = respond(event);
      return await (answerAt === undefined ? answer : answerBy(answer, answerAt, ranOutOfTime));
    } catch (err) {
      return errorResponse(err);
    } finally {
      closeInvocation(invocation);
    }
  };
  // middy only as the shell (its own timeout off): what it would wrap around the work (logging,
  // metrics, the early answer) runs inside the invocation's scope, so it is written out above.
  const handler = middy<HttpEvent, HttpResult, Error, Context>({ timeoutEarlyInMillis: 0 }).handler((event, context) => {
    const remaining = remainingTime(context);
    const invocation = openInvocation(context, event.requestContext?.requestId, deadlineIn(remaining));
    // The last resort if something other than DynamoDB (bounded by the deadline) runs long:
    // answer 503 before Lambda kills the invocation, never a bare 500 or a gateway timeout.
    const answerAt = remaining > 0 ? Date.now() + Math.max(0, remaining - ANSWER_RESERVE_MS) : undefined;
    return runInvocation(invocation, () => serve(event, invocation, answerAt));
  });
  // The spec rides on the handler so the OpenAPI request schemas are generated from it (scripts/openapi.ts).
  return Object.assign(handler, { spec: spec as ApiSpec });
}
