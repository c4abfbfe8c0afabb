// An account's edge layout row (inl#<followee>): how many partition keys its in-edges are spread
// over and the state of a move between two counts, read through a short per-process cache. The
// moves themselves (copy, flip, cleanup) are conditional writes on this row, so two movers of one
// account never both advance it.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { db, updateIf } from './client.js';
import { keys } from './keys.js';
import { config } from '../edge/config.js';
import { EDGE_LAYOUT_CACHE_MS } from '../domain/limits.js';
import { UNBUCKETED, type EdgeLayout } from '../domain/edge-buckets.js';

const cache = new Map<string, { layout: EdgeLayout; until: number }>();
/** Layouts a process keeps (~100 bytes each): a container following or listing many accounts
 *  starts over rather than growing without bound. */
const CACHE_MAX_ENTRIES = 10_000;

/** A cached layout is trusted for at most a quarter of the move grace, so the grace (which
 *  assumes EDGE_LAYOUT_CACHE_MS) also holds when tests and the bench shorten it. */
const cacheMs = () => Math.min(EDGE_LAYOUT_CACHE_MS, (config().FEED_EDGE_MOVE_GRACE_SECONDS * 1000) / 4);

function parse(item: Record<string, unknown> | undefined): EdgeLayout {
  if (!item) return UNBUCKETED;
  const num = (k: string) => (typeof item[k] === 'number' ? (item[k] as number) : undefined);
  const copied = item.copied as EdgeLayout['copied'] | undefined;
  const out: EdgeLayout = { buckets: num('buckets') ?? 1 };
  for (const k of ['target', 'dualAt', 'copyAt', 'prev', 'prevUntil', 'cleanAt', 'stepAt', 'step'] as const) {
    const v = num(k);
    if (v !== undefined) out[k] = v;
  }
  if (copied) out.copied = copied;
  return out;
}

/** The account's layout; `fresh` reads it strongly consistent and past the cache (the mover). */
export async function readEdgeLayout(followeeId: string, fresh = false): Promise<EdgeLayout> {
  const hit = cache.get(followeeId);
  if (!fresh && hit && hit.until > Date.now()) return hit.layout;
  const { table, key } = keys.edgeLayout(followeeId);
  const res = await db().send(new GetCommand({ TableName: table, Key: key, ConsistentRead: fresh }));
  const layout = parse(res?.Item);
  if (cache.size >= CACHE_MAX_ENTRIES) cache.clear();
  cache.set(followeeId, { layout, until: Date.now() + cacheMs() });
  return layout;
}

/** Forgets cached layouts (tests that flip a layout and read at once). */
export function forgetEdgeLayouts(): void {
  cache.clear();
}

const update = (followeeId: string, expr: string, cond: string, values: Record<string, unknown>, names?: Record<string, string>) => {
  const { table, key } = keys.edgeLayout(followeeId);
  cache.delete(followeeId);
  return updateIf({
    TableName: table,
    Key: key,
    UpdateExpression: expr,
    ConditionExpression: cond,
    ExpressionAttributeValues: values,
    ...(names && { ExpressionAttributeNames: names }),
  });
};

/** Starts a move from `from` buckets to `to`; false when the layout is not settled at `from`
 *  (another move started first). */
export function startEdgeMove(followeeId: string, from: number, to: number, times: { dualAt: number; copyAt: number }, now: number): Promise<boolean> {
  return update(
    followeeId,
    'SET buckets = :from, target = :to, dualAt = :d, copyAt = :c, copied = :start, stepAt = :now, step = :zero',
    'attribute_not_exists(target) AND attribute_not_exists(prev) AND (attribute_not_exists(buckets) OR buckets = :from)',
    { ':from': from, ':to': to, ':d': times.dualAt, ':c': times.copyAt, ':start': { bucket: 0 }, ':now': now, ':zero': 0 },
  );
}

/** The condition and values that advance a move by one step from `step` (what the caller read). */
const advance = (step: number | undefined) => ({ cond: 'step = :s', values: { ':s': step ?? 0, ':s1': (step ?? 0) + 1 } });

/** Records copy progress of the move to `to`; false when another run of the step got there first. */
export function saveCopyProgress(followeeId: string, to: number, step: number | undefined, copied: NonNullable<EdgeLayout['copied']>, now: number): Promise<boolean> {
  const a = advance(step);
  return update(followeeId, 'SET copied = :c, stepAt = :now, step = :s1', `target = :to AND ${a.cond}`, { ':c': copied, ':to': to, ':now': now, ...a.values });
}

/** Flips readers to `to` once every edge is copied; the old layout stays written until
 *  prevUntil and is cleaned from cleanAt. */
export function flipEdgeLayout(followeeId: string, from: number, to: number, step: number | undefined, times: { prevUntil: number; cleanAt: number }, now: number): Promise<boolean> {
  const a = advance(step);
  return update(
    followeeId,
    'SET buckets = :to, prev = :from, prevUntil = :pu, cleanAt = :ca, stepAt = :now, step = :s1 REMOVE target, dualAt, copyAt, copied',
    `target = :to AND buckets = :from AND ${a.cond}`,
    { ':to': to, ':from': from, ':pu': times.prevUntil, ':ca': times.cleanAt, ':now': now, ...a.values },
  );
}

/** Records cleanup progress (reusing `copied` as the position in the old layout). */
export function saveCleanupProgress(followeeId: string, from: number, step: number | undefined, copied: NonNullable<EdgeLayout['copied']>, now: number): Promise<boolean> {
  const a = advance(step);
  return update(followeeId, 'SET copied = :c, stepAt = :now, step = :s1', `prev = :from AND ${a.cond}`, { ':c': copied, ':from': from, ':now': now, ...a.values });
}

/** Ends a move: the old layout is gone. */
export function finishEdgeMove(followeeId: string, from: number, step: number | undefined, now: number): Promise<boolean> {
  const a = advance(step);
  return update(followeeId, 'SET stepAt = :now, step = :s1 REMOVE prev, prevUntil, cleanAt, copied', `prev = :from AND ${a.cond}`, { ':from': from, ':now': now, ...a.values });
}
