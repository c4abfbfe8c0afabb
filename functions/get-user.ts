// GET /v1/users/{userId} — a user's public profile.
import { api, UserPath } from '../shared/edge/http.js';
import { getUser } from '../shared/services/users.js';

export async function getUserWork({ params }: { params: UserPath }) {
  return { status: 200, body: await getUser(params.userId) };
}

export const handler = api({ auth: true, params: UserPath }, getUserWork);
