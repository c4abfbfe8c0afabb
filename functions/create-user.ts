// POST /v1/users — creates the caller's profile (one per token subject; handles are unique).
import * as z from 'zod';
import { api } from '../shared/edge/http.js';
import { DISPLAY_NAME_MAX, HANDLE_PATTERN } from '../shared/domain/limits.js';
import { createUser } from '../shared/services/users.js';

export const CreateUserBody = z.strictObject({
  handle: z.string().regex(HANDLE_PATTERN, 'must be 3 to 30 letters, digits or underscores'),
  // `pattern` says for the OpenAPI document what trimming then min(1) checks: not only whitespace.
  displayName: z.string().trim().min(1, 'must not be empty').max(DISPLAY_NAME_MAX, `must be at most ${DISPLAY_NAME_MAX} characters`).meta({ pattern: '\\S' }),
  country: z.string().regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 country code'),
});

export async function createUserWork({ sub, body }: { sub: string; body: z.infer<typeof CreateUserBody> }) {
  return { status: 201, body: await createUser(sub, body) };
}

export const handler = api({ auth: true, body: CreateUserBody, rateLimit: 'signup' }, createUserWork);
