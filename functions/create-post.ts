// POST /v1/posts — publishes a post; an Idempotency-Key header makes retries create it once.
// Fan-out to followers starts from the posts stream (functions/post-router.ts).
import * as z from 'zod';
import { BadRequestError } from '../shared/domain/errors.js';
import { api } from '../shared/edge/http.js';
import { IDEMPOTENCY_KEY_MAX, POST_CONTENT_MAX } from '../shared/domain/limits.js';
import { createPost } from '../shared/services/posts.js';
import { recordActivity } from '../shared/services/activity.js';
import { callerRow } from '../shared/services/users.js';

export const CreatePostBody = z.strictObject({
  content: z
    .string()
    .refine((s) => s.trim().length > 0, 'must not be empty')
    .refine((s) => [...s].length <= POST_CONTENT_MAX, `must be at most ${POST_CONTENT_MAX} characters`)
    // The refinements as JSON Schema says them (its lengths count code points too), for the OpenAPI document.
    .meta({ minLength: 1, maxLength: POST_CONTENT_MAX, pattern: '\\S' }),
});

const IDEMPOTENCY_KEY = new RegExp(`^[\\x21-\\x7e]{1,${IDEMPOTENCY_KEY_MAX}}$`);

export async function createPostWork({ sub, body, headers }: { sub: string; body: z.infer<typeof CreatePostBody>; headers: Record<string, string> }) {
  const key = headers['idempotency-key'];
  if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
    throw new BadRequestError(`Idempotency-Key must be 1 to ${IDEMPOTENCY_KEY_MAX} printable ASCII characters`, 'invalid_request');
  }
  const author = await callerRow(sub);
  const post = await createPost(author, body.content, key);
  await recordActivity(author);
  return { status: 201, body: post };
}

export const handler = api({ auth: true, body: CreatePostBody, rateLimit: 'post' }, createPostWork);
