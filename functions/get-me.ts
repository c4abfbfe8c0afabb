// GET /v1/me — the caller's profile; 404 before one exists.
import { api } from '../shared/edge/http.js';
import { getMe } from '../shared/services/users.js';

export async function getMeWork({ sub }: { sub: string }) {
  return { status: 200, body: await getMe(sub) };
}

export const handler = api({ auth: true }, getMeWork);
