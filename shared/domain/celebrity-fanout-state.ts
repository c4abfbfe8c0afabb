// The celebrity tier's inputs: what the CelebrityFanout workflow carries between its states.
import * as z from 'zod';
import { FANOUT_JOB_FOLLOWERS } from './limits.js';
import { PostRef } from './post.js';

const ActiveCursor = z.strictObject({ bucket: z.number().int().min(0), after: z.string().optional() });

/** Input of a CelebrityFanout execution and of each ListActiveFollowers step. */
export const FanoutPlan = z.object({
  kind: z.enum(['add', 'remove']),
  post: PostRef,
  correlationId: z.string().nullable().optional(),
  next: ActiveCursor.nullable().optional(),
  pages: z.number().int().min(0).optional(),
});

/** Input of one PushChunk step. */
export const FanoutChunk = z.strictObject({
  kind: z.enum(['add', 'remove']),
  post: PostRef,
  correlationId: z.string().nullable().optional(),
  followers: z.array(z.string()).min(1).max(FANOUT_JOB_FOLLOWERS),
});
