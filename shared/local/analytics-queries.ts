// The named admin queries of `feedctl analytics`, as SQL over the store's views (events, changes,
// latest, live, metrics: shared/local/analytics-store.ts), in DuckDB's dialect: Athena (Trino)
// needs them translated, which is not done yet (README, Analytics).

/** What a query is asked for: the window in epoch ms [since, until), a row limit, the shards. */
export interface QueryParams {
  sinceMs: number;
  untilMs: number;
  limit: number;
  shards: number;
}

export interface NamedQuery {
  description: string;
  sql(p: QueryParams): string;
}

const inWindow = (col: string, p: QueryParams) => `${col} >= ${p.sinceMs} AND ${col} < ${p.untilMs}`;
/** A profile row's key; users tables also hold directory, counter and idempotency rows. */
const PROFILE_KEY = `item_key LIKE 'pk=user#%|sk=profile'`;
const userOfProfileKey = `regexp_extract(item_key, '^pk=user#([^|]+)', 1)`;
const isoMs = (expr: string) => `epoch_ms(TRY_CAST(${expr} AS TIMESTAMPTZ))`;
const dayOfMs = (expr: string) => `strftime(make_timestamp((${expr})::BIGINT * 1000), '%Y-%m-%d')`;

export const NAMED_QUERIES: Record<string, NamedQuery> = {
  regions: {
    description: 'users and posts created per day and home region (items that still exist)',
    sql: (p) => `
      WITH made AS (
        SELECT zone, region, kind, ${isoMs(`json_extract_string(item, '$.createdAt')`)} AS created_ms FROM live
        WHERE (kind = 'users' AND ${PROFILE_KEY}) OR kind = 'posts')
      SELECT ${dayOfMs('created_ms')} AS day, zone, region,
        (count(*) FILTER (WHERE kind = 'users'))::INT AS new_users,
        (count(*) FILTER (WHERE kind = 'posts'))::INT AS new_posts
      FROM made WHERE ${inWindow('created_ms', p)}
      GROUP BY ALL ORDER BY day, zone, region`,
  },
  dau: {
    description: 'daily active users: distinct users whose recorded activity falls on the day',
    sql: (p) => `
      WITH activity AS (
        SELECT e.item_key, (json_extract(e.item, '$.activeAt')::DOUBLE * 1000)::BIGINT AS active_ms
        FROM events e ANTI JOIN erased USING (table_name, item_key)
        WHERE e.kind = 'users' AND e.${PROFILE_KEY} AND e.item IS NOT NULL)
      SELECT ${dayOfMs('active_ms')} AS day, count(DISTINCT item_key)::INT AS active_users
      FROM activity WHERE active_ms IS NOT NULL AND ${inWindow('active_ms', p)}
      GROUP BY ALL ORDER BY day`,
  },
  'top-authors': {
    description: 'authors by followers gained in the window (new follow edges less unfollows)',
    sql: (p) => `
      WITH edges AS (
        SELECT regexp_extract(item_key, '^pk=in#([^|#]+)', 1) AS author_id, op FROM changes
        WHERE kind = 'follows' AND item_key LIKE 'pk=in#%' AND op IN ('INSERT', 'REMOVE') AND ${inWindow('ts_ms', p)}),
      profiles AS (SELECT ${userOfProfileKey} AS author_id, json_extract_string(item, '$.handle') AS handle FROM live WHERE kind = 'users' AND ${PROFILE_KEY})
      SELECT author_id, handle,
        (count(*) FILTER (WHERE op = 'INSERT'))::INT AS gained,
        (count(*) FILTER (WHERE op = 'REMOVE'))::INT AS lost,
        (count(*) FILTER (WHERE op = 'INSERT') - count(*) FILTER (WHERE op = 'REMOVE'))::INT AS net
      FROM edges JOIN profiles USING (author_id)
      GROUP BY ALL ORDER BY net DESC, gained DESC, author_id LIMIT ${p.limit}`,
  },
  fanout: {
    description: "feed-entry writes per day by the author's current tier (fan-out and follow backfill)",
    sql: (p) => `
      WITH writes AS (
        SELECT ts_ms, json_extract_string(item, '$.authorId') AS author_id FROM changes
        WHERE kind = 'feeds' AND op IN ('INSERT', 'MODIFY') AND ${inWindow('ts_ms', p)}),
      tiers AS (SELECT ${userOfProfileKey} AS author_id, coalesce(json_extract_string(item, '$.tier'), 'regular') AS tier FROM live WHERE kind = 'users' AND ${PROFILE_KEY})
      SELECT ${dayOfMs('ts_ms')} AS day, coalesce(tier, 'unknown') AS tier, count(*)::INT AS writes
      FROM writes LEFT JOIN tiers USING (author_id)
      GROUP BY ALL ORDER BY day, tier`,
  },
  tables: {
    description: 'items and writes per physical table, hottest first (vs_mean: writes over the mean of its kind)',
    sql: (p) => `
      WITH w AS (SELECT kind, shard, table_name, zone, count(*)::INT AS writes FROM changes WHERE ${inWindow('ts_ms', p)} GROUP BY ALL),
      i AS (SELECT kind, shard, table_name, zone, count(*)::INT AS items FROM live GROUP BY ALL)
      SELECT kind, shard, table_name, zone, coalesce(items, 0) AS items, coalesce(writes, 0) AS writes,
        round(coalesce(writes, 0) * ${p.shards} / nullif(sum(coalesce(writes, 0)) OVER (PARTITION BY kind), 0), 2) AS vs_mean
      FROM w FULL JOIN i USING (kind, shard, table_name, zone)
      ORDER BY writes DESC, items DESC, kind, shard LIMIT ${p.limit}`,
  },
  cache: {
    description: 'feed cache hit rate per minute: first-page reads served from L1 or L2, and L1 alone',
    // CacheHit, L1Hit and L2Hit are recorded 1 or 0 per read (shared/edge/observability.ts), so
    // their rows count the reads and their sums the hits.
    sql: (p) => `
      SELECT strftime(time_bucket(INTERVAL '1 minute', ts), '%Y-%m-%d %H:%M') AS minute,
        (count(*) FILTER (WHERE metric = 'CacheHit'))::INT AS reads,
        (sum(value) FILTER (WHERE metric = 'CacheHit'))::INT AS hits,
        (count(*) FILTER (WHERE metric = 'CacheHit') - sum(value) FILTER (WHERE metric = 'CacheHit'))::INT AS misses,
        round(avg(value) FILTER (WHERE metric = 'CacheHit'), 3) AS hit_rate,
        round(avg(value) FILTER (WHERE metric = 'L1Hit'), 3) AS l1_hit_rate,
        round(avg(value) FILTER (WHERE metric = 'L2Hit'), 3) AS l2_hit_rate
      FROM metrics WHERE metric IN ('CacheHit', 'L1Hit', 'L2Hit') AND ${inWindow('ts_ms', p)}
      GROUP BY ALL ORDER BY minute`,
  },
};

/** The export's lag, shown with every answer: how old the newest change in the store is, and
 *  how long the last minute's rows took from the table write to the exporter. */
export const LAG_SQL = `
  SELECT max(ts_ms) AS newest_ms, max(exported_ms) AS exported_ms,
    max(exported_ms - ts_ms) FILTER (WHERE exported_ms >= (SELECT max(exported_ms) FROM changes) - 60000) AS delay_ms,
    count(*)::BIGINT AS events
  FROM changes`;
