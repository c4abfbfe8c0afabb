// GET /v1/openapi.json — the API's OpenAPI 3.1 document, no auth.
import document from '../shared/declarations/openapi.json' with { type: 'json' };
import { api } from '../shared/edge/http.js';

/** The document changes only with a deploy and holds nothing private, so caches may keep it a while. */
const OPENAPI_CACHE_CONTROL = 'public, max-age=300';

export async function openapi() {
  return { status: 200, body: document, headers: { 'cache-control': OPENAPI_CACHE_CONTROL } };
}

export const handler = api({ auth: false }, openapi);
