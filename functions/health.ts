// GET /v1/health — liveness, no auth.
import { api } from '../shared/edge/http.js';

export async function health() {
  return { status: 200, body: { status: 'ok' } };
}

export const handler = api({ auth: false }, health);
