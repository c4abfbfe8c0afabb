// POST /v1/dev/token {"sub"} — mints an HS256 token for local development. Served by the local
// stack only: the route is localOnly and the function refuses to run outside it.
import * as z from 'zod';
import { config } from '../shared/edge/config.js';
import { NotFoundError } from '../shared/domain/errors.js';
import { api } from '../shared/edge/http.js';
import { signDevToken } from '../shared/edge/auth.js';

const Body = z.strictObject({ sub: z.string().min(1).max(200) });

export async function devToken({ body }: { body: z.infer<typeof Body> }) {
  if (!config().isLocal) throw new NotFoundError('not found');
  return { status: 200, body: { token: await signDevToken(body.sub) } };
}

export const handler = api({ auth: false, body: Body }, devToken);
