// POST /v1/notifications/read {"upTo"} — marks the caller's notifications up to an id as read.
import * as z from 'zod';
import { api, Id } from '../shared/edge/http.js';
import { timestampOf } from '../shared/domain/ids.js';
import { markRead } from '../shared/services/notifications.js';
import { callerRow } from '../shared/services/users.js';

/** Ids are minted by servers whose clocks may differ a little; a later id can name no notification. */
const CLOCK_SKEW_MS = 5_000;

// An id later than now would mark every digest still to come as read: refused, not clamped, so a
// client bug shows at once instead of as notifications that silently never appear unread.
const Body = z.strictObject({
  upTo: Id.refine((id) => timestampOf(id) <= Date.now() + CLOCK_SKEW_MS, 'must not be later than now'),
});

export async function markReadWork({ sub, body }: { sub: string; body: z.infer<typeof Body> }) {
  const me = await callerRow(sub, 404);
  await markRead(me.userId, body.upTo);
  return { status: 204 };
}

export const handler = api({ auth: true, body: Body }, markReadWork);
