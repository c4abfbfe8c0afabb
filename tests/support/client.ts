// A small HTTP client for end-to-end tests. Every response is checked against the OpenAPI
// document, so a test that exercises an endpoint also proves the document describes it.
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { assertConforms } from './openapi.js';

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  /** Sent as-is (for malformed-JSON cases). */
  rawBody?: string;
  headers?: Record<string, string>;
}

export async function call<T = any>(method: string, path: string, opts: CallOptions = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${inject('apiUrl')}${path}`, { method, headers, body });
  const text = await res.text();
  const parsed = text.length > 0 ? JSON.parse(text) : undefined;
  assertConforms(method, path, res.status, parsed);
  return { status: res.status, body: parsed as T, headers: res.headers };
}

export async function token(sub: string = randomUUID()): Promise<string> {
  const res = await call<{ token: string }>('POST', '/v1/dev/token', { body: { sub } });
  if (res.status !== 200) throw new Error(`dev token: ${res.status}`);
  return res.body.token;
}

export interface TestUser {
  token: string;
  userId: string;
  handle: string;
}

let counter = 0;
/** A new user with a unique handle; country defaults to the US. */
export async function newUser(country = 'US'): Promise<TestUser> {
  const t = await token();
  const handle = `u${process.pid}_${Date.now().toString(36)}_${counter++}`.slice(0, 30);
  const res = await call('POST', '/v1/users', { token: t, body: { handle, displayName: `User ${handle}`, country } });
  if (res.status !== 201) throw new Error(`create user: ${res.status} ${JSON.stringify(res.body)}`);
  return { token: t, userId: res.body.userId, handle };
}

/** Polls `probe` until it returns a truthy value, at most `timeoutMs`; returns that value. */
export async function eventually<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function feedIds(user: TestUser, query = ''): Promise<string[]> {
  const res = await call('GET', `/v1/feed${query}`, { token: user.token });
  if (res.status !== 200) throw new Error(`feed: ${res.status}`);
  return res.body.items.map((p: { postId: string }) => p.postId);
}
