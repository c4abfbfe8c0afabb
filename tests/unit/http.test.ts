// The HTTP edge (shared/edge/http.ts): handlers built with api() are invoked directly with hand-built
// API Gateway v2 events, as Lambda would, to pin authentication, body limits, JSON, query and
// path-parameter validation, the edge headers, and the mapping of errors to
// {"error":{"code","message"}}. The local gateway (shared/local/server.ts) is tested over HTTP.
import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  HttpError,
  NotFoundError,
  PayloadTooLargeError,
  UnauthorizedError,
} from '../../shared/domain/errors.js';
import { api, describeIssues, EDGE_HEADERS, PageQuery, PostPath, UserPath, type ApiRequest, type HttpResult } from '../../shared/edge/http.js';
import { BODY_MAX_BYTES } from '../../shared/domain/limits.js';
import { logger } from '../../shared/edge/observability.js';
import { signDevToken } from '../../shared/edge/auth.js';
import { startServer, type LocalServer } from '../../shared/local/server.js';
import { httpEvent, invokeLambda, type EventInit } from '../support/fixtures-lambda.js';

const Body = z.strictObject({ content: z.string().min(1), title: z.string() });

type Seen = ApiRequest<unknown, unknown>;

/** A handler that records what its work function received and answers 200 with `{ok:true}`. */
function recording(spec: Parameters<typeof api>[0]) {
  const seen: Seen[] = [];
  const handler = api(spec, async (req) => {
    seen.push(req as Seen);
    return { status: 200, body: { ok: true } };
  });
  const call = (init: EventInit = {}) => invokeLambda(handler, httpEvent(init)) as Promise<HttpResult>;
  return { seen, call };
}

function errorOf(res: HttpResult): { code: string; message: string } {
  expect(res.headers?.['content-type']).toBe('application/json');
  const body = JSON.parse(res.body ?? 'null') as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
  return body.error;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('authentication', () => {
  it('answers 401 without claims when the route needs auth, and does not run the work', async () => {
    const { seen, call } = recording({ auth: true });
    const res = await call({ method: 'GET' });
    expect(res.statusCode).toBe(401);
    expect(errorOf(res).code).toBe('unauthorized');
    expect(seen).toHaveLength(0);
  });

  it('answers 401 for an empty subject', async () => {
    const { seen, call } = recording({ auth: true });
    expect((await call({ method: 'GET', sub: '' })).statusCode).toBe(401);
    expect(seen).toHaveLength(0);
  });

  it('passes the token subject to the work', async () => {
    const { seen, call } = recording({ auth: true });
    const res = await call({ method: 'GET', sub: 'alice' });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body!)).toEqual({ ok: true });
    expect(seen[0]!.sub).toBe('alice');
  });

  it('lets anonymous requests through on routes without auth', async () => {
    const { seen, call } = recording({ auth: false });
    expect((await call({ method: 'GET' })).statusCode).toBe(200);
    expect(seen[0]!.sub).toBe('');
  });
});

describe('request bodies', () => {
  it('refuses a body over 64 KiB with 413 before parsing it', async () => {
    const { seen, call } = recording({ auth: true, body: Body });
    const body = JSON.stringify({ content: 'x'.repeat(BODY_MAX_BYTES), title: 't' });
    const res = await call({ sub: 'alice', body });
    expect(res.statusCode).toBe(413);
    expect(errorOf(res).code).toBe('payload_too_large');
    expect(seen).toHaveLength(0);
  });

  it('counts bytes, not characters: 30,000 three-byte characters are over 64 KiB', async () => {
    const { call } = recording({ auth: true, body: Body });
    const res = await call({ sub: 'alice', body: JSON.stringify({ content: '€'.repeat(30_000), title: 't' }) });
    expect(res.statusCode).toBe(413);
  });

  it('accepts a body of exactly 64 KiB', async () => {
    const { seen, call } = recording({ auth: true, body: Body });
    const prefix = '{"title":"t","content":"';
    const body = `${prefix}${'x'.repeat(BODY_MAX_BYTES - prefix.length - 2)}"}`;
    expect(Buffer.byteLength(body)).toBe(BODY_MAX_BYTES);
    expect((await call({ sub: 'alice', body })).statusCode).toBe(200);
    expect(seen).toHaveLength(1);
  });

  it('decodes base64-encoded bodies before parsing them', async () => {
    const { seen, call } = recording({ auth: true, body: Body });
    const body = Buffer.from(JSON.stringify({ content: 'héllo', title: 't' })).toString('base64');
    const res = await call({ sub: 'alice', body, isBase64Encoded: true });
    expect(res.statusCode).toBe(200);
    expect(seen[0]!.body).toEqual({ content: 'héllo', title: 't' });
  });

  it('applies the 64 KiB limit to the decoded body of a base64-encoded request', async () => {
    const { call } = recording({ auth: true, body: Body });
    // 60 KiB decoded is 80 KiB of base64: allowed. 65 KiB decoded: refused.
    const small = Buffer.from(JSON.stringify({ content: 'x'.repeat(60 * 1024), title: 't' })).toString('base64');
    expect(small.length).toBeGreaterThan(BODY_MAX_BYTES);
    expect((await call({ sub: 'alice', body: small, isBase64Encoded: true })).statusCode).toBe(200);
    const large = Buffer.from(JSON.stringify({ content: 'x'.repeat(65 * 1024), title: 't' })).toString('base64');
    expect((await call({ sub: 'alice', body: large, isBase64Encoded: true })).statusCode).toBe(413);
  });

  it.each(['{"content": ', '{bad}', "{'content':'x'}", '', 'undefined'])('refuses malformed JSON %j with 400 invalid_json', async (body) => {
    const { seen, call } = recording({ auth: true, body: Body });
    const res = await call({ sub: 'alice', body });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).code).toBe('invalid_json');
    expect(seen).toHaveLength(0);
  });

  it('refuses a request without a body where one is required with 400 invalid_json', async () => {
    const { call } = recording({ auth: true, body: Body });
    const res = await call({ sub: 'alice' });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).code).toBe('invalid_json');
  });

  it.each(['[]', '[{"content":"x","title":"t"}]', 'null', '"text"', '42', 'true'])(
    'refuses the JSON value %s, which is not an object, with 400 invalid_json',
    async (body) => {
      const { seen, call } = recording({ auth: true, body: Body });
      const res = await call({ sub: 'alice', body });
      expect(res.statusCode).toBe(400);
      expect(errorOf(res)).toEqual({ code: 'invalid_json', message: 'request body must be a JSON object' });
      expect(seen).toHaveLength(0);
    },
  );

  it('names unknown fields', async () => {
    const { seen, call } = recording({ auth: true, body: Body });
    const res = await call({ sub: 'alice', body: JSON.stringify({ content: 'x', title: 't', colour: 'red', size: 3 }) });
    expect(res.statusCode).toBe(400);
    const error = errorOf(res);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain('colour');
    expect(error.message).toContain('size');
    expect(seen).toHaveLength(0);
  });

  it('names missing fields', async () => {
    const { call } = recording({ auth: true, body: Body });
    const res = await call({ sub: 'alice', body: JSON.stringify({ content: 'x' }) });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res)).toEqual({ code: 'invalid_request', message: 'missing body field: title' });
  });

  it('names fields of the wrong type as invalid, not as missing', async () => {
    const { call } = recording({ auth: true, body: Body });
    const res = await call({ sub: 'alice', body: JSON.stringify({ content: '', title: 5 }) });
    const error = errorOf(res);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain('body field content:');
    expect(error.message).toContain('body field title:');
    expect(error.message).not.toContain('missing');
  });

  it('hands the parsed body to the work', async () => {
    const { seen, call } = recording({ auth: true, body: Body });
    await call({ sub: 'alice', body: '{"content":"x","title":"t"}' });
    expect(seen[0]!.body).toEqual({ content: 'x', title: 't' });
  });
});

describe('query strings', () => {
  it('refuses any query parameter on a route that takes none, naming it', async () => {
    const { seen, call } = recording({ auth: true });
    const res = await call({ method: 'GET', sub: 'alice', query: { sort: 'asc', debug: '1' } });
    expect(res.statusCode).toBe(400);
    const error = errorOf(res);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain('sort');
    expect(error.message).toContain('debug');
    expect(seen).toHaveLength(0);
  });

  it('refuses unknown parameters next to the page ones, naming them', async () => {
    const { call } = recording({ auth: true, query: PageQuery });
    const res = await call({ method: 'GET', sub: 'alice', query: { limit: '5', sort: 'asc' } });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).message).toContain('sort');
  });

  it.each(['0', '101', 'abc', '2.5', '-1', '', ' 5', '1e2'])('refuses limit=%j, naming limit', async (limit) => {
    const { seen, call } = recording({ auth: true, query: PageQuery });
    const res = await call({ method: 'GET', sub: 'alice', query: { limit } });
    expect(res.statusCode).toBe(400);
    const error = errorOf(res);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain('limit');
    expect(seen).toHaveLength(0);
  });

  it.each([
    ['1', 1],
    ['100', 100],
    ['020', 20],
  ])('accepts limit=%s as %i', async (limit, expected) => {
    const { seen, call } = recording({ auth: true, query: PageQuery });
    expect((await call({ method: 'GET', sub: 'alice', query: { limit } })).statusCode).toBe(200);
    expect(seen[0]!.query).toEqual({ limit: expected });
  });

  it('defaults limit to 20 and passes the cursor through', async () => {
    const { seen, call } = recording({ auth: true, query: PageQuery });
    await call({ method: 'GET', sub: 'alice' });
    await call({ method: 'GET', sub: 'alice', query: { cursor: 'abc.def' } });
    expect(seen.map((r) => r.query)).toEqual([{ limit: 20 }, { limit: 20, cursor: 'abc.def' }]);
  });
});

describe('errors', () => {
  it.each([
    [new BadRequestError('bad thing'), 400, 'bad_request'],
    [new BadRequestError('bad cursor', 'invalid_cursor'), 400, 'invalid_cursor'],
    [new UnauthorizedError(), 401, 'unauthorized'],
    [new ForbiddenError('not yours'), 403, 'forbidden'],
    [new NotFoundError('no such post'), 404, 'not_found'],
    [new ConflictError('handle taken', 'handle_taken'), 409, 'handle_taken'],
    [new PayloadTooLargeError('too big'), 413, 'payload_too_large'],
    [new HttpError(429, 'slow_down', 'too many requests'), 429, 'slow_down'],
  ])('maps %s to its status and {"error":{"code","message"}}', async (err, status, code) => {
    const handler = api({ auth: false }, async () => {
      throw err;
    });
    const res = (await invokeLambda(handler, httpEvent({ method: 'GET' }))) as HttpResult;
    expect(res.statusCode).toBe(status);
    expect(errorOf(res)).toEqual({ code, message: err.message });
  });

  it('answers a thrown plain Error with a generic 500 that leaks nothing, and logs it', async () => {
    const logged = vi.spyOn(logger, 'error').mockImplementation(() => {});
    const handler = api({ auth: false }, async () => {
      throw new Error('connection to 10.0.3.7:6379 refused; secret=hunter2');
    });
    const res = (await invokeLambda(handler, httpEvent({ method: 'GET' }))) as HttpResult;
    expect(res.statusCode).toBe(500);
    expect(errorOf(res)).toEqual({ code: 'internal', message: 'internal server error' });
    expect(res.body).not.toContain('hunter2');
    expect(res.body).not.toContain('10.0.3.7');
    expect(logged).toHaveBeenCalledTimes(1);
  });

  it('answers a thrown non-Error value with a generic 500 too', async () => {
    vi.spyOn(logger, 'error').mockImplementation(() => {});
    const handler = api({ auth: false }, async () => {
      throw 'just a string';
    });
    const res = (await invokeLambda(handler, httpEvent({ method: 'GET' }))) as HttpResult;
    expect(res.statusCode).toBe(500);
    expect(errorOf(res).code).toBe('internal');
  });
});

describe('responses', () => {
  it('serialises the work’s body as JSON with its status', async () => {
    const handler = api({ auth: false }, async () => ({ status: 201, body: { id: 'x', n: 1 } }));
    const res = (await invokeLambda(handler, httpEvent({ method: 'POST', body: '{}' }))) as HttpResult;
    expect(res).toEqual({ statusCode: 201, headers: { 'content-type': 'application/json', ...EDGE_HEADERS }, body: '{"id":"x","n":1}' });
  });

  it('sends no body and no content type for a bodiless status', async () => {
    const handler = api({ auth: false }, async () => ({ status: 204 }));
    const res = (await invokeLambda(handler, httpEvent({ method: 'DELETE' }))) as HttpResult;
    expect(res).toEqual({ statusCode: 204, headers: { ...EDGE_HEADERS } });
  });

  it('lower-cases header names and passes path parameters', async () => {
    const { seen, call } = recording({ auth: false, params: z.strictObject({ userId: z.string() }) });
    await call({ method: 'GET', headers: { 'Idempotency-Key': 'k1' }, pathParameters: { userId: 'U1' } });
    expect(seen[0]!.headers['idempotency-key']).toBe('k1');
    expect(seen[0]!.params).toEqual({ userId: 'U1' });
  });
});

describe('describeIssues', () => {
  // describeIssues tells a missing field from an invalid one by looking it up in the input.
  const issues = (schema: z.ZodType, value: unknown) => {
    const parsed = schema.safeParse(value);
    if (parsed.success) throw new Error('expected a failure');
    return describeIssues(parsed.error, 'body', value);
  };

  it('names unknown, missing and invalid fields in one sentence', () => {
    const message = issues(Body, { content: 3, extra: true });
    expect(message).toContain('unknown body field(s): extra');
    expect(message).toContain('missing body field: title');
    expect(message).toContain('body field content:');
    expect(message.split('; ')).toHaveLength(3);
  });

  it('names nested fields by their path', () => {
    const Nested = z.strictObject({ post: z.strictObject({ postId: z.string() }) });
    expect(issues(Nested, { post: {} })).toBe('missing body field: post.postId');
    expect(issues(Nested, { post: { postId: 7 } })).toMatch(/^body field post\.postId: /);
  });

  it('counts a field explicitly set to null as present but invalid', () => {
    expect(issues(Body, { content: 'x', title: null })).toMatch(/^body field title: /);
  });

  it('describes a failure of the whole value without a field name', () => {
    expect(issues(z.string(), 5)).toMatch(/^body: /);
  });
});

describe('responses', () => {
  it('serializes the body as JSON', async () => {
    const handler = api({ auth: false }, async () => ({ status: 201, body: { b: 2, a: [1] } }));
    const res = (await invokeLambda(handler, httpEvent({ method: 'GET' }))) as HttpResult;
    expect(res).toMatchObject({ statusCode: 201, headers: { 'content-type': 'application/json' }, body: '{"b":2,"a":[1]}' });
  });

  it('sends a body serialized already as is, without serializing it again', async () => {
    const body = { items: [] };
    const stringify = vi.spyOn(JSON, 'stringify');
    const handler = api({ auth: false }, async () => ({ status: 200, body, json: '{"items":[]}' }));
    const res = (await invokeLambda(handler, httpEvent({ method: 'GET' }))) as HttpResult;
    expect(res).toMatchObject({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"items":[]}' });
    expect(stringify.mock.calls.filter(([v]) => v === body)).toEqual([]);
  });

  it('answers without a body when there is none', async () => {
    const handler = api({ auth: false }, async () => ({ status: 204 }));
    const res = (await invokeLambda(handler, httpEvent({ method: 'DELETE' }))) as HttpResult;
    expect(res.statusCode).toBe(204);
    expect(res.body).toBeUndefined();
  });
});

describe('path parameters', () => {
  it('hands the work the parameters its schema parsed', async () => {
    const { seen, call } = recording({ auth: false, params: UserPath });
    const res = await call({ method: 'GET', pathParameters: { userId: '0AAAAAAAAAAAA' } });
    expect(res.statusCode).toBe(200);
    expect(seen[0]!.params).toEqual({ userId: '0AAAAAAAAAAAA' });
  });

  it('refuses a malformed id with 400 invalid_request naming the parameter, without running the work', async () => {
    const { seen, call } = recording({ auth: false, params: PostPath });
    for (const postId of ['not-an-id', '%ZZ', '0aaaaaaaaaaaa', 'ZAAAAAAAAAAAA', '0AAAAAAAAAAAAA', '']) {
      const res = await call({ method: 'GET', pathParameters: { postId } });
      expect(res.statusCode, postId).toBe(400);
      const error = errorOf(res);
      expect(error.code).toBe('invalid_request');
      expect(error.message).toContain('postId');
    }
    expect(seen).toHaveLength(0);
  });

  it('refuses a missing path parameter with 400 rather than an empty id', async () => {
    const { seen, call } = recording({ auth: false, params: UserPath });
    const res = await call({ method: 'GET' });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).message).toContain('missing path field: userId');
    expect(seen).toHaveLength(0);
  });

  it('passes no path parameters to a route that declares none', async () => {
    const { seen, call } = recording({ auth: false });
    await call({ method: 'GET', pathParameters: { userId: 'U1' } });
    expect(seen[0]!.params).toEqual({});
  });
});

describe('edge headers', () => {
  it('forbids caching and sniffing on successes, bodiless answers and errors alike', async () => {
    const ok = api({ auth: false }, async () => ({ status: 200, body: { a: 1 } }));
    const pre = api({ auth: false }, async () => ({ status: 200, json: '{"a":1}' }));
    const empty = api({ auth: false }, async () => ({ status: 204 }));
    const failing = api({ auth: false }, async () => {
      throw new Error('boom');
    });
    vi.spyOn(logger, 'error').mockImplementation(() => {});
    for (const handler of [ok, pre, empty, failing, api({ auth: true }, async () => ({ status: 204 }))]) {
      const res = (await invokeLambda(handler, httpEvent({ method: 'GET' }))) as HttpResult;
      expect(res.headers?.['cache-control'], String(res.statusCode)).toBe('no-store');
      expect(res.headers?.['x-content-type-options']).toBe('nosniff');
    }
  });

  it('lets a response override the cache policy', async () => {
    const handler = api({ auth: false }, async () => ({ status: 200, body: {}, headers: { 'cache-control': 'public, max-age=60' } }));
    const res = (await invokeLambda(handler, httpEvent({ method: 'GET' }))) as HttpResult;
    expect(res.headers?.['cache-control']).toBe('public, max-age=60');
    expect(res.headers?.['x-content-type-options']).toBe('nosniff');
  });
});

describe('query hygiene', () => {
  it('refuses __proto__ as an unknown query parameter, as AWS delivers it (an own key of parsed JSON)', async () => {
    const { seen, call } = recording({ auth: true, query: PageQuery });
    const query = JSON.parse('{"__proto__":"1"}') as Record<string, string>;
    const res = await call({ method: 'GET', sub: 'u1', query });
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).message).toContain('__proto__');
    expect(seen).toHaveLength(0);
  });
});

describe('the local gateway (shared/local/server.ts)', () => {
  let server: LocalServer;
  beforeAll(async () => {
    server = await startServer(0);
  });
  afterAll(async () => {
    await server.close();
  });

  /** Sends the headers and `sent` bytes of a body declared (chunked) as larger, never ending it:
   *  an answer proves the gateway did not wait for the whole body. */
  function partialRequest(path: string, headers: Record<string, string>, sent: number): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } });
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error('no answer before the body ended'));
      }, 5_000);
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          clearTimeout(timer);
          req.destroy();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.write(Buffer.alloc(sent, 'x'));
    });
  }

  it('checks the token before reading the body', async () => {
    const res = await partialRequest('/v1/posts', { authorization: 'Bearer nope' }, 1024);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error.code).toBe('unauthorized');
  });

  it('answers 413 as soon as the body passes 64 KiB, without waiting for the rest', async () => {
    const token = await signDevToken('gateway-413');
    const res = await partialRequest('/v1/posts', { authorization: `Bearer ${token}` }, BODY_MAX_BYTES + 1);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.code).toBe('payload_too_large');
  });

  it('answers 413 at once for a declared length over 64 KiB', async () => {
    const token = await signDevToken('gateway-413-declared');
    const res = await partialRequest('/v1/posts', { authorization: `Bearer ${token}`, 'content-length': String(10 * 1024 * 1024) }, 16);
    expect(res.status).toBe(413);
  });

  it('answers 400 invalid_request, not 500, for a path that is not valid percent-encoding', async () => {
    const token = await signDevToken('gateway-pct');
    const res = await fetch(`${server.url}/v1/users/%ZZ`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('puts the edge headers on its own answers too', async () => {
    const res = await fetch(`${server.url}/v1/nope`);
    expect(res.status).toBe(404);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('declares each answer’s length, as API Gateway does, instead of sending it chunked', async () => {
    const res = await fetch(`${server.url}/v1/nope`);
    const body = await res.text();
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(res.headers.get('transfer-encoding')).toBeNull();
  });

  it('passes ?__proto__=1 to the handler as a parameter, which refuses it', async () => {
    const token = await signDevToken('gateway-proto');
    const res = await fetch(`${server.url}/v1/feed?__proto__=1`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('__proto__');
  });
});
