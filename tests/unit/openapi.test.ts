// The OpenAPI document (shared/declarations/openapi.json) is the API reference and the contract the
// integration and e2e tests check responses against; these tests keep the document sound, in step
// with the route table, and prove that the checker rejects what it should.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { applyRequestSchemas, generatedOpenApi, loadRouteSpecs, OPENAPI_FILE } from '../../scripts/openapi.js';
import { PageQuery } from '../../shared/edge/http.js';
import { ROUTES } from '../../shared/declarations/routes.js';
import {
  assertConforms,
  collectRefs,
  findOperation,
  openApiDocument,
  resolveRef,
  unresolvedRefs,
  validateDocument,
  type OpenApiDocument,
} from '../support/openapi.js';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
const USER_ID = '0B4WQ9Y8X2001';
const POST_ID = '0B4WQA3N7T0R4';

const user = () => ({
  userId: USER_ID,
  handle: 'ada_l',
  displayName: 'Ada Lovelace',
  homeRegion: 'eu-west-1',
  followerCount: 12,
  followingCount: 3,
  tier: 'regular',
  createdAt: '2025-06-01T12:00:00.000Z',
});
const post = () => ({ postId: POST_ID, authorId: USER_ID, content: 'Hello, feed.', createdAt: '2025-06-01T12:05:00.000Z' });

type Operation = { operationId: string; security?: unknown[]; responses: Record<string, unknown> };
function operations(doc: OpenApiDocument = openApiDocument): { method: string; path: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => m in item).map((method) => ({ method, path, op: item[method] as Operation })),
  );
}
const copy = (): OpenApiDocument => structuredClone(openApiDocument);

describe('the OpenAPI document', () => {
  it('is a structurally valid OpenAPI 3.1 document whose schemas all compile', () => {
    expect(openApiDocument.openapi).toMatch(/^3\.1\./);
    expect(() => validateDocument()).not.toThrow();
  });

  it('resolves every $ref', () => {
    const refs = collectRefs();
    expect(refs.length).toBeGreaterThan(50);
    expect(unresolvedRefs()).toEqual([]);
    for (const { ref } of refs) expect(resolveRef(ref)).toBeDefined();
  });

  it('reports a $ref that does not resolve', () => {
    const doc = copy();
    (doc.components!.schemas!.User as { properties: Record<string, unknown> }).properties.tier = { $ref: '#/components/schemas/Nope' };
    expect(unresolvedRefs(doc)).toEqual(['/components/schemas/User/properties/tier: $ref #/components/schemas/Nope does not resolve']);
    expect(() => validateDocument(doc)).toThrow(/Nope does not resolve/);
  });

  it('reports a misspelt schema keyword, a missing operationId and an operation without responses', () => {
    const doc = copy();
    (doc.components!.schemas!.Post as { properties: Record<string, unknown> }).properties.content = { type: 'string', maxLenght: 2000 };
    delete (doc.paths['/v1/feed']!.get as Partial<Operation>).operationId;
    (doc.paths['/v1/me']!.get as Operation).responses = {};
    const check = () => validateDocument(doc);
    expect(check).toThrow(/maxLenght/);
    expect(check).toThrow(/\/paths\/~1v1~1feed\/get: missing operationId/);
    expect(check).toThrow(/\/paths\/~1v1~1me\/get: missing responses/);
  });

  it('names each operation as the API does', () => {
    expect(operations().map((o) => o.op.operationId).sort()).toEqual(
      [
        'health', 'devToken', 'openapi', 'createUser', 'getMe', 'getUser', 'followUser', 'unfollowUser',
        'listFollowers', 'listFollowing', 'listUserPosts', 'createPost', 'getPost', 'deletePost', 'getFeed',
        'setVip', 'clearVip', 'listNotifications', 'markNotificationsRead',
      ].sort(),
    );
  });

  it('describes exactly the routes of the route table, with their authentication', () => {
    const documented = operations().map((o) => `${o.method.toUpperCase()} ${o.path}`).sort();
    expect(documented).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    for (const route of ROUTES) {
      const { op } = operations().find((o) => o.method === route.method.toLowerCase() && o.path === route.path)!;
      expect(op.security, `${route.method} ${route.path}`).toEqual(route.auth ? [{ bearerAuth: [] }] : []);
    }
    expect(openApiDocument.components!.securitySchemes!.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  });

  it('answers every authenticated operation with a possible 401, and every error with the Error schema', () => {
    for (const { method, path, op } of operations()) {
      const where = `${method.toUpperCase()} ${path}`;
      if (op.security?.length) expect(Object.keys(op.responses), where).toContain('401');
      for (const [status, raw] of Object.entries(op.responses)) {
        if (Number(status) < 400) continue;
        expect(raw, `${where} ${status}`).toHaveProperty('$ref'); // reusable, from components/responses
        const response = resolveRef((raw as { $ref: string }).$ref) as { content: Record<string, { schema: unknown }> };
        expect(response.content['application/json']!.schema, `${where} ${status}`).toEqual({ $ref: '#/components/schemas/Error' });
      }
    }
  });
});

describe('assertConforms', () => {
  it('accepts a valid User from GET /v1/users/{userId}, with or without a query string', () => {
    expect(() => assertConforms('GET', `/v1/users/${USER_ID}`, 200, user())).not.toThrow();
    expect(() => assertConforms('get', `/v1/users/${USER_ID}?x=1`, 200, user())).not.toThrow();
  });

  it('rejects a User with an extra field, naming it', () => {
    expect(() => assertConforms('GET', `/v1/users/${USER_ID}`, 200, { ...user(), email: 'ada@example.com' })).toThrow(
      /unexpected property "email"/,
    );
  });

  it('rejects a User with an unknown tier, listing the allowed ones', () => {
    expect(() => assertConforms('GET', `/v1/users/${USER_ID}`, 200, { ...user(), tier: 'vip' })).toThrow(
      /\/tier: "vip" is not one of "regular", "celebrity", "mega"/,
    );
  });

  it('lists every violation of a body, not only the first', () => {
    const body = { ...user(), userId: 'not-an-id', followerCount: -1, createdAt: 'yesterday' };
    let message = '';
    try {
      assertConforms('GET', `/v1/users/${USER_ID}`, 200, body);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/\/userId: must match pattern/);
    expect(message).toMatch(/\/followerCount: must be >= 0/);
    expect(message).toMatch(/\/createdAt: must match format "date-time"/);
  });

  it('rejects a status the document does not declare for the operation', () => {
    expect(() => assertConforms('GET', `/v1/users/${USER_ID}`, 409, { error: { code: 'conflict', message: 'x' } })).toThrow(
      /does not declare status 409/,
    );
    expect(() => assertConforms('GET', '/v1/health', 401, { error: { code: 'unauthorized', message: 'x' } })).toThrow(
      /does not declare status 401/,
    );
  });

  it('rejects a body on a 204 and accepts none', () => {
    const follow = `/v1/users/${USER_ID}/follow`;
    expect(() => assertConforms('PUT', follow, 204, { ok: true })).toThrow(/declares no body/);
    expect(() => assertConforms('PUT', follow, 204, undefined)).not.toThrow();
    expect(() => assertConforms('DELETE', `/v1/posts/${POST_ID}`, 204, '')).not.toThrow();
  });

  it('requires a body where the response has one', () => {
    expect(() => assertConforms('GET', '/v1/me', 200, undefined)).toThrow(/expected a JSON body \(application\/json\), got none/);
  });

  it('checks pages, including the null cursor of the last page', () => {
    expect(() => assertConforms('GET', '/v1/feed?limit=1', 200, { items: [post()], nextCursor: null })).not.toThrow();
    expect(() => assertConforms('GET', `/v1/users/${USER_ID}/followers`, 200, { items: [user()], nextCursor: 'abc.def' })).not.toThrow();
    expect(() => assertConforms('GET', `/v1/users/${USER_ID}/posts`, 200, { items: [post()] })).toThrow(
      /missing required property "nextCursor"/,
    );
    expect(() => assertConforms('GET', '/v1/feed', 200, { items: [user()], nextCursor: null })).toThrow(/unexpected property/);
  });

  it('checks error bodies against the Error schema', () => {
    expect(() =>
      assertConforms('POST', '/v1/posts', 409, { error: { code: 'idempotency_key_reused', message: 'different body' } }),
    ).not.toThrow();
    expect(() => assertConforms('GET', `/v1/posts/${POST_ID}`, 404, { error: { code: 'not_found' } })).toThrow(
      /missing required property "message"/,
    );
    expect(() => assertConforms('GET', `/v1/posts/${POST_ID}`, 404, { message: 'Not Found' })).toThrow(/missing required property "error"/);
  });

  it('refuses paths and methods the document does not describe', () => {
    expect(() => assertConforms('GET', '/v1/nothing', 200, {})).toThrow(/no path of the OpenAPI document matches \/v1\/nothing/);
    expect(() => assertConforms('POST', '/v1/health', 200, { status: 'ok' })).toThrow(/declares no POST operation/);
    expect(() => assertConforms('GET', `/v1/users/${USER_ID}/extra`, 200, {})).toThrow(/no path/);
  });

  it('matches concrete paths to their templates', () => {
    expect(findOperation('DELETE', `/v1/users/${USER_ID}/follow`)).toMatchObject({ operationId: 'unfollowUser', template: '/v1/users/{userId}/follow' });
    expect(findOperation('GET', '/v1/me?x=1')).toMatchObject({ operationId: 'getMe' });
    expect(findOperation('GET', `http://localhost:3000/v1/posts/${POST_ID}`)).toMatchObject({ operationId: 'getPost' });
  });

  it('accepts the document itself as the body of GET /v1/openapi.json', () => {
    expect(() => assertConforms('GET', '/v1/openapi.json', 200, openApiDocument)).not.toThrow();
    expect(() => assertConforms('GET', '/v1/health', 200, { status: 'ok' })).not.toThrow();
    expect(() => assertConforms('GET', '/v1/health', 200, { status: 'up' })).toThrow(/\/status/);
  });
});

describe('the request schemas of the OpenAPI document', () => {
  it('are exactly what the handlers’ zod schemas generate (run `npm run openapi` after changing one)', async () => {
    const committed = readFileSync(OPENAPI_FILE, 'utf8');

    const generated = await generatedOpenApi();

    expect(committed).toBe(generated);
  });

  it('take a changed zod schema into the document: a body constraint', async () => {
    const routes = await loadRouteSpecs();
    const markRead = routes.find((r) => r.route.path === '/v1/notifications/read')!;
    const changed = { ...markRead, spec: { ...markRead.spec, body: z.strictObject({ upTo: z.string().max(5) }) } };

    const doc = applyRequestSchemas(openApiDocument as never, [changed]);

    const schema = doc.components.schemas!.MarkReadRequest as { properties: { upTo: Record<string, unknown> } };
    expect(schema.properties.upTo).toMatchObject({ type: 'string', maxLength: 5 });
    expect(schema.properties.upTo.pattern).toBeUndefined();
    expect(schema.properties.upTo.description).toContain('notificationId');
  });

  it('refuse a route whose handler validates a query parameter the document does not list', async () => {
    const routes = await loadRouteSpecs();
    const feed = routes.find((r) => r.route.path === '/v1/feed')!;
    const changed = { ...feed, spec: { ...feed.spec, query: PageQuery.extend({ since: z.string().optional() }) } };

    expect(() => applyRequestSchemas(openApiDocument as never, [changed])).toThrow(/query parameters .* differ/);
  });

  it('refuse a path parameter the handler does not validate', async () => {
    const routes = await loadRouteSpecs();
    const getUser = routes.find((r) => r.route.path === '/v1/users/{userId}')!;
    const unchecked = { ...getUser, spec: { auth: true } };

    expect(() => applyRequestSchemas(openApiDocument as never, [unchecked])).toThrow(/path parameters in the document \[userId\] differ/);
  });
});
