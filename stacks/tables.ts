// Every shard table of every entity (shared/declarations/tables.ts × FEED_SHARD_TABLES: the initial
// FEED_SHARDS and those a reshard grows into): on-demand, streaming new and old images, TTL where
// declared; and the region's control table (the shard map: on-demand, no stream, never
// replicated). On production stages all of them get point-in-time recovery, deletion protection
// and retain-on-delete, so neither `sst remove` nor a refactor can drop user data or the map.
import { controlTableArgs, logicalName, tableArgs, type Plan } from './plan.js';

export function deployTables(plan: Plan): Map<string, aws.dynamodb.Table> {
  // SST's removal "retain" already keeps tables on production stages; said here as well so the
  // guarantee does not hang on the app() setting alone.
  const opts = { retainOnDelete: plan.target.production };
  const tables = new Map<string, aws.dynamodb.Table>();
  for (const t of plan.tables) {
    tables.set(t.name, new aws.dynamodb.Table(logicalName('Table', t.def.baseName, t.shard), tableArgs(t), opts));
  }
  tables.set(plan.control.name, new aws.dynamodb.Table(logicalName('Table', 'Control'), controlTableArgs(plan.control), opts));
  return tables;
}
