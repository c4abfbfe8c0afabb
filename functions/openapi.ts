// GET /v1/openapi.json — the API's OpenAPI 3.1 document, no auth.
import document from '../shared/openapi.json' with { type: 'json' };
import { api } from '../shared/http.js';

export async function openapi() {
  return { status: 200, body: document };
}

export const handler = api({ auth: false }, openapi);
