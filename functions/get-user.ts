// GET /v1/users/{userId} — a user's public profile.
import { api } from '../shared/edge/http.js';
import { getUser } from '../shared/services/users.js';

export async function getUserWork({ params }: { params: Record<string, string> }) {
  return { status: 200, body: await getUser(params.userId ?? '') };
}

export const handler = api({ auth: true }, getUserWork);
