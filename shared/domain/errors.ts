// Errors that carry their HTTP status and a stable code. The http middleware maps them to
// {"error":{"code","message"}}; anything else becomes a generic 500 and a logged error.
export class HttpError extends Error {
  /** Fields added to the error object of the answer beside code and message. */
  details?: Readonly<Record<string, unknown>>;
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
export class BadRequestError extends HttpError {
  constructor(message: string, code = 'bad_request') {
    super(400, code, message);
  }
}
export class UnauthorizedError extends HttpError {
  constructor(message = 'missing or invalid bearer token') {
    super(401, 'unauthorized', message);
  }
}
export class ForbiddenError extends HttpError {
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}
export class NotFoundError extends HttpError {
  constructor(message: string) {
    super(404, 'not_found', message);
  }
}
export class ConflictError extends HttpError {
  constructor(message: string, code = 'conflict') {
    super(409, code, message);
  }
}
export class PayloadTooLargeError extends HttpError {
  constructor(message: string) {
    super(413, 'payload_too_large', message);
  }
}
/** Errors that ask the client to come back later: the middleware sends `Retry-After` with them. */
export interface RetryableLater {
  readonly retryAfterSeconds: number;
}
/** Whole seconds, at least 1: Retry-After takes an integer, and 0 would invite an instant retry. */
export const retryAfterSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

export class RateLimitedError extends HttpError implements RetryableLater {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(429, 'rate_limited', message);
  }
}
/** A dependency (DynamoDB, or the function's own time) ran out: nothing is known to have failed
 *  for good, so the client retries after `retryAfterSeconds` (a POST with its Idempotency-Key). */
export class ServiceUnavailableError extends HttpError implements RetryableLater {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super(503, 'unavailable', message);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** The request belongs to another region: the user's home data is served by `region`, whose API
 *  is `api`. The client repeats the request there (and keeps using it): 421 Misdirected Request,
 *  because a redirect would make clients drop the Authorization header across origins. */
export class MisdirectedError extends HttpError {
  constructor(region: string, api: string | undefined, what: string) {
    super(421, 'home_region', `${what} is served by ${region}${api ? ` at ${api}` : ''}; repeat the request there`);
    this.details = { region, ...(api && { api }) };
  }
}

/** The region that serves a user's home data is down and no failover region may serve it (EU
 *  users' data stays in the EU): their home-data requests wait; public reads still work. */
export class RegionUnavailableError extends HttpError implements RetryableLater {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(503, 'region_unavailable', message);
  }
}
