// The local API Gateway: a node:http server that matches the route table, verifies bearer JWTs
// as the JWT authorizer does, builds real APIGatewayProxyEventV2 events and invokes the same
// handlers that Lambda runs.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyBearer } from '../edge/auth.js';
import { EDGE_HEADERS, errorResult } from '../edge/http.js';
import type { HttpResult } from '../edge/http.js';
import { BODY_MAX_BYTES } from '../domain/limits.js';
import { ROUTES, type Route } from '../declarations/routes.js';
import { invoke } from './lambda.js';

/** No route takes a body over the product's limit, so the local gateway stops reading there
 *  instead of buffering API Gateway's 10 MB first; the handlers still enforce it in AWS. */
const LOCAL_BODY_MAX = BODY_MAX_BYTES;

interface CompiledRoute {
  route: Route;
  pattern: RegExp;
  names: string[];
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const source = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_m, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${source}$`), names };
}

export function matchRoute(routes: CompiledRoute[], method: string, path: string) {
  for (const c of routes) {
    if (c.route.method !== method) continue;
    const m = c.pattern.exec(path);
    if (!m) continue;
    const params: Record<string, string> = {};
    for (const [i, name] of c.names.entries()) {
      const decoded = decodePathSegment(m[i + 1]!);
      if (decoded === undefined) return { route: c.route, params, badEncoding: true as const };
      params[name] = decoded;
    }
    return { route: c.route, params, badEncoding: false as const };
  }
  return undefined;
}

/** `%ZZ` or a lone surrogate is not a path API Gateway would route: undefined, answered 400. */
function decodePathSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

const NO_BODY = Buffer.alloc(0);

function readBody(req: http.IncomingMessage): Promise<Buffer | 'too-large'> | Buffer {
  // HTTP/1.1: without either header a request has no body, so there is nothing to wait for.
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) return NO_BODY;
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > LOCAL_BODY_MAX) return resolve('too-large');
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > LOCAL_BODY_MAX) {
        req.off('data', onData);
        req.pause();
        resolve('too-large');
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Answers before the body was read (bad token, too large): the connection is closed after the
 *  response, so the rest of the body is never read into memory. */
function refuse(res: http.ServerResponse, result: HttpResult, requestId: string): void {
  res.setHeader('connection', 'close');
  send(res, result, requestId);
}

function send(res: http.ServerResponse, result: HttpResult, requestId: string): void {
  const body = result.body ?? '';
  // With its length declared (as API Gateway declares it) the answer goes out as one write of
  // headers and body; without, node would send it chunked, in five buffers. A 204 has no body
  // and declares no length.
  const status = result.statusCode ?? 200;
  const headers: Record<string, string> = { ...EDGE_HEADERS, 'apigw-requestid': requestId };
  if (status !== 204 && status !== 304) headers['content-length'] = String(Buffer.byteLength(body));
  const given = result.headers;
  if (given) for (const k in given) headers[k] = String(given[k]);
  res.writeHead(status, headers);
  res.end(body);
}

/** A request target that WHATWG URL parsing would leave exactly as it is (no dot segment, no
 *  character it would escape), so it is split on `?` instead of parsed. */
const PLAIN_TARGET = /^(?!\/\/)(?:\/(?!\.)[A-Za-z0-9_~%:@!$&'()*+,;=.-]*)+(?:\?[A-Za-z0-9_~%:@!$&()*+,;=./?-]*)?$/;

/** The path and query string of a request target, as `new URL(target, base)` gives them. */
export function splitTarget(target: string): { pathname: string; search: string } {
  if (PLAIN_TARGET.test(target)) {
    const q = target.indexOf('?');
    // A bare `?` is no query string to URL either.
    return q === -1 ? { pathname: target, search: '' } : { pathname: target.slice(0, q), search: q === target.length - 1 ? '' : target.slice(q) };
  }
  const url = new URL(target, 'http://localhost');
  return { pathname: url.pathname, search: url.search };
}

export async function handle(routes: CompiledRoute[], req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const requestId = randomUUID();
  const url = splitTarget(req.url ?? '/');
  const method = req.method ?? 'GET';
  const match = matchRoute(routes, method, url.pathname);
  if (!match) return refuse(res, errorResult(404, 'not_found', `no route ${method} ${url.pathname}`), requestId);
  const headers: Record<string, string> = {};
  const given = req.headers;
  for (const k in given) {
    const v = given[k];
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
  }
  // As API Gateway's JWT authorizer: the token is checked before any of the body is read.
  let claims: Record<string, string | number | boolean | string[]> | undefined;
  if (match.route.auth) {
    const payload = await verifyBearer(headers.authorization);
    if (!payload) return refuse(res, errorResult(401, 'unauthorized', 'missing or invalid bearer token'), requestId);
    claims = payload as typeof claims;
  }
  if (match.badEncoding) return refuse(res, errorResult(400, 'invalid_request', 'path is not valid percent-encoding'), requestId);
  const read = readBody(req);
  const body = read instanceof Buffer ? read : await read;
  if (body === 'too-large') return refuse(res, errorResult(413, 'payload_too_large', `request body exceeds ${LOCAL_BODY_MAX} bytes`), requestId);
  // A null-prototype object, so `?__proto__=1` becomes an own (and refused) key, as in AWS's JSON event.
  const query: Record<string, string> = Object.create(null) as Record<string, string>;
  if (url.search.length > 1) for (const [k, v] of new URLSearchParams(url.search)) query[k] = k in query ? `${query[k]},${v}` : v;
  const now = new Date();
  const event = {
    version: '2.0',
    routeKey: `${match.route.method} ${match.route.path}`,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(Object.keys(query).length > 0 && { queryStringParameters: query }),
    ...(Object.keys(match.params).length > 0 && { pathParameters: match.params }),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: { method, path: url.pathname, protocol: `HTTP/${req.httpVersion}`, sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
      requestId,
      routeKey: `${match.route.method} ${match.route.path}`,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
      ...(claims && { authorizer: { jwt: { claims, scopes: null } } }),
    },
    ...(body.length > 0 && { body: body.toString('utf8') }),
    isBase64Encoded: false,
  };
  try {
    const result = (await invoke(match.route.fn, event)) as HttpResult;
    send(res, result, requestId);
  } catch (err) {
    console.error(`handler ${match.route.fn} crashed: ${(err as Error).stack}`);
    send(res, errorResult(500, 'internal', 'internal server error'), requestId);
  }
}

/** The local API's port from `PORT`: unset or empty → 3000; 0 picks a free one. Anything but a
 *  whole number in range stops the start naming the variable (Number() would take `0x50` or
 *  `1e3`, and listen(NaN) fails without saying where the port came from). */
export function portFromEnv(value: string | undefined): number {
  if (value === undefined || value === '') return 3000;
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port <= 65_535)) throw new Error(`PORT must be a whole number from 0 to 65535 (0 picks a free port), got ${JSON.stringify(value)}`);
  return port;
}

export interface LocalServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startServer(port: number, host = '127.0.0.1'): Promise<LocalServer> {
  const routes = ROUTES.map(compile);
  const server = http.createServer((req, res) => {
    handle(routes, req, res).catch((err) => {
      console.error(err);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://${host === '0.0.0.0' ? 'localhost' : host}:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
