// PUT /v1/users/{userId}/follow — the caller follows userId (idempotent) and gets their latest
// posts backfilled into the feed.
import { follow } from '../shared/follows.js';
import { api } from '../shared/http.js';
import { requireProfile } from '../shared/users.js';

export async function followWork({ sub, params }: { sub: string; params: Record<string, string> }) {
  await follow(await requireProfile(sub), params.userId ?? '');
  return { status: 204 };
}

export const handler = api({ auth: true }, followWork);
