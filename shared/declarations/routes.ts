// The route table of the HTTP API: read by stacks/ (API Gateway routes + JWT authorizer) and by
// the local server. Paths use API Gateway's {param} syntax.
import type { FunctionName } from './functions.js';

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  fn: FunctionName;
  /** Requires a valid bearer JWT (API Gateway's JWT authorizer in AWS). */
  auth: boolean;
  /** Served by the local stack only, never deployed. */
  localOnly?: boolean;
}

export const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/v1/health', fn: 'health', auth: false },
  { method: 'GET', path: '/v1/openapi.json', fn: 'openapi', auth: false },
  { method: 'POST', path: '/v1/dev/token', fn: 'dev-token', auth: false, localOnly: true },
  { method: 'POST', path: '/v1/users', fn: 'create-user', auth: true },
  { method: 'GET', path: '/v1/me', fn: 'get-me', auth: true },
  { method: 'GET', path: '/v1/users/{userId}', fn: 'get-user', auth: true },
  { method: 'PUT', path: '/v1/users/{userId}/follow', fn: 'follow-user', auth: true },
  { method: 'DELETE', path: '/v1/users/{userId}/follow', fn: 'unfollow-user', auth: true },
  { method: 'GET', path: '/v1/users/{userId}/followers', fn: 'list-followers', auth: true },
  { method: 'GET', path: '/v1/users/{userId}/following', fn: 'list-following', auth: true },
  { method: 'GET', path: '/v1/users/{userId}/posts', fn: 'list-user-posts', auth: true },
  { method: 'POST', path: '/v1/posts', fn: 'create-post', auth: true },
  { method: 'GET', path: '/v1/posts/{postId}', fn: 'get-post', auth: true },
  { method: 'DELETE', path: '/v1/posts/{postId}', fn: 'delete-post', auth: true },
  { method: 'GET', path: '/v1/feed', fn: 'get-feed', auth: true },
  { method: 'GET', path: '/v1/notifications', fn: 'list-notifications', auth: true },
  { method: 'POST', path: '/v1/notifications/read', fn: 'mark-notifications-read', auth: true },
  { method: 'PUT', path: '/v1/me/vips/{userId}', fn: 'set-vip', auth: true },
  { method: 'DELETE', path: '/v1/me/vips/{userId}', fn: 'clear-vip', auth: true },
];
