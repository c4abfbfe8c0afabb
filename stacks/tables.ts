// Every shard table of every entity (shared/declarations/tables.ts × FEED_SHARDS): on-demand, streaming new
// and old images, TTL where declared, and on production stages point-in-time recovery, deletion
// protection and retain-on-delete, so neither `sst remove` nor a refactor can drop user data.
import { logicalName, tableArgs, type Plan } from './plan.js';

export function deployTables(plan: Plan): Map<string, aws.dynamodb.Table> {
  const tables = new Map<string, aws.dynamodb.Table>();
  for (const t of plan.tables) {
    tables.set(
      t.name,
      new aws.dynamodb.Table(logicalName('Table', t.def.baseName, t.shard), tableArgs(t), {
        // SST's removal "retain" already keeps tables on production stages; said here as well so
        // the guarantee does not hang on the app() setting alone.
        retainOnDelete: plan.target.production,
      }),
    );
  }
  return tables;
}
