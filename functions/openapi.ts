// GET /v1/openapi.json — the API's OpenAPI 3.1 document, no auth.
import document from '../shared/declarations/openapi.json' with { type: 'json' };
import { api } from '../shared/edge/http.js';

export async function openapi() {
  return { status: 200, body: document };
}

export const handler = api({ auth: false }, openapi);
