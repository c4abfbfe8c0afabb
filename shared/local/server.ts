// The local API Gateway: a node:http server that matches the route table, verifies bearer JWTs
// as the JWT authorizer does, builds real APIGatewayProxyEventV2 events and invokes the same
// handlers that Lambda runs.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyBearer } from '../edge/auth.js';
import { errorResult } from '../edge/http.js';
import type { HttpResult } from '../edge/http.js';
import { ROUTES, type Route } from '../declarations/routes.js';
import { invoke } from './lambda.js';

/** API Gateway's own payload limit (10 MB); handlers enforce the product's 64 KiB. */
const GATEWAY_BODY_MAX = 10 * 1024 * 1024;

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
    c.names.forEach((name, i) => {
      params[name] = decodeURIComponent(m[i + 1]!);
    });
    return { route: c.route, params };
  }
  return undefined;
}

function readBody(req: http.IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > GATEWAY_BODY_MAX) {
        resolve('too-large');
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, result: HttpResult, requestId: string): void {
  const headers: Record<string, string> = { 'apigw-requestid': requestId };
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k] = String(v);
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(result.body ?? '');
}

export async function handle(routes: CompiledRoute[], req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const requestId = randomUUID();
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  const match = matchRoute(routes, method, url.pathname);
  if (!match) return send(res, errorResult(404, 'not_found', `no route ${method} ${url.pathname}`), requestId);
  const body = await readBody(req);
  if (body === 'too-large') return send(res, errorResult(413, 'payload_too_large', 'request body too large'), requestId);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
  let claims: Record<string, string | number | boolean | string[]> | undefined;
  if (match.route.auth) {
    const payload = await verifyBearer(headers.authorization);
    if (!payload) return send(res, errorResult(401, 'unauthorized', 'missing or invalid bearer token'), requestId);
    claims = payload as typeof claims;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
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
