// POST /v1/notifications/read {"upTo"} — marks the caller's notifications up to an id as read.
import * as z from 'zod';
import { api } from '../shared/edge/http.js';
import { markRead } from '../shared/services/notifications.js';
import { callerRow } from '../shared/services/users.js';

const Body = z.strictObject({ upTo: z.string().min(1).max(64) });

export async function markReadWork({ sub, body }: { sub: string; body: z.infer<typeof Body> }) {
  const me = await callerRow(sub, 404);
  await markRead(me.userId, body.upTo);
  return { status: 204 };
}

export const handler = api({ auth: true, body: Body }, markReadWork);
