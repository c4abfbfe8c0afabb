// The local stand-in for DynamoDB Global Tables between the regions of a multi-region stack
// (npm start -- --regions …): each region pulls the streams of its peers' replicas of the tables
// both hold (shared/declarations/row-kinds.ts: home data inside its table set, posts everywhere)
// and applies every change, in order per stream shard. A peer that is down is waited for: its
// stream keeps the records and the checkpoint says where to resume, so nothing is dropped.
import { existsSync, readFileSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { DeleteItemCommand, DynamoDBClient, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import type { RegionName } from '../domain/regions.js';
import { tableReplicas } from '../declarations/row-kinds.js';
import { tableName, TABLES, type Entity } from '../declarations/tables.js';
import { StreamPoller } from './streams.js';

/** How often a region checks whether a peer went down, came back or moved to new ports. */
const PEER_CHECK_MS = 1000;
/** How often at most a region tells its peers it wrote: peers' replica pollers, backed off up to
 *  a second when idle, poll at once on the signal, so replication lags by a poll, not a backoff. */
const WRITE_SIGNAL_MS = 20;
/** A change is retried until it applies: replication never skips a record. */
const NEVER_SKIP = Number.MAX_SAFE_INTEGER;
const BATCH_SIZE = 100;
/** Peer shards read at once: a round over a peer's ~50 streams in the time of a few reads. */
const PARALLEL_SHARDS = 8;

/** The tables this region and `peer` both hold a replica of. */
export function sharedTables(self: RegionName, peer: RegionName, shards: number): string[] {
  return (Object.keys(TABLES) as Entity[]).flatMap((entity) =>
    Array.from({ length: shards }, (_, s) => s).flatMap((s) => {
      const holders = tableReplicas(entity, s, shards);
      return holders.includes(self) && holders.includes(peer) ? [tableName(entity, s)] : [];
    }),
  );
}

/** Writes each change of a peer's stream into the same table here: the new image, or the delete.
 *  A change already here (an echo of this region's own write coming back) writes the same image
 *  again, which DynamoDB does not stream, so echoes stop after one round. */
export function applyChanges(local: DynamoDBClient, counts: { applied: number }) {
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    for (const [i, r] of event.Records.entries()) {
      const table = r.eventSourceARN!.split('/')[1]!;
      try {
        if (r.eventName === 'REMOVE') {
          await local.send(new DeleteItemCommand({ TableName: table, Key: r.dynamodb!.Keys as Record<string, AttributeValue> }));
        } else {
          await local.send(new PutItemCommand({ TableName: table, Item: r.dynamodb!.NewImage as Record<string, AttributeValue> }));
        }
        counts.applied++;
      } catch (err) {
        // This record and the rest of the batch are retried, in order; a record that never
        // applies holds its stream shard, so it is named in the region's log.
        console.error(`replication: ${table} ${r.eventName} not applied (retried): ${(err as Error).message}`);
        return { batchItemFailures: event.Records.slice(i).map((x) => ({ itemIdentifier: x.dynamodb!.SequenceNumber! })) };
      }
    }
    return { batchItemFailures: [] };
  };
}

interface PeerLink {
  endpoint: string;
  poller: StreamPoller;
  /** Watches the peer's write signal (writesFile) and wakes the poller on it. */
  watcher?: FSWatcher;
}

/** The file a region touches after its writes (at most every WRITE_SIGNAL_MS). */
const writesFile = (regionsDir: string, region: RegionName) => path.join(regionsDir, region, 'writes');

/** Touches this region's write signal after each write through `local` (the stack's client). Like
 *  the stream poller's in-process wake-up, across processes: a file its peers watch (inotify). */
function signalWrites(local: DynamoDBClient, file: string): () => void {
  const name = 'feedscaleReplicaWriteSignal';
  let last = 0;
  let pending: NodeJS.Timeout | undefined;
  const touch = () => {
    last = Date.now();
    pending = undefined;
    try {
      writeFileSync(file, String(last));
    } catch {
      // The signal only shortens a wait: a peer still polls within a second.
    }
  };
  touch();
  local.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      if (/^(Put|Update|Delete|BatchWrite|TransactWrite)/.test(String(context.commandName))) {
        const wait = last + WRITE_SIGNAL_MS - Date.now();
        if (wait <= 0) touch();
        else pending ??= setTimeout(touch, wait);
      }
      return out;
    },
    { step: 'initialize', name },
  );
  return () => {
    clearTimeout(pending);
    local.middlewareStack.remove(name);
  };
}

/** Wakes `poller` whenever the peer's write signal changes; undefined until the peer made it. */
function watchPeer(regionsDir: string, peer: RegionName, poller: StreamPoller): FSWatcher | undefined {
  try {
    const watcher = watch(writesFile(regionsDir, peer), () => poller.wake());
    watcher.on('error', () => watcher.close());
    return watcher;
  } catch {
    return undefined;
  }
}

export interface ReplicationOptions {
  self: RegionName;
  peers: readonly RegionName[];
  /** Where every region of the stack keeps its data: <regionsDir>/<peer>/stack.json names the
   *  peer's DynamoDB endpoint and process. */
  regionsDir: string;
  shards: number;
  local: DynamoDBClient;
  checkpoints: Map<string, string>;
  awsRegion: string;
}

/** Pulls every peer's changes while this region runs; returns a stop function. */
export function startReplication(opts: ReplicationOptions): { stop: () => Promise<void>; counts: { applied: number } } {
  const links = new Map<RegionName, PeerLink>();
  const counts = { applied: 0 };
  const consumer = applyChanges(opts.local, counts);
  const unsignal = signalWrites(opts.local, writesFile(opts.regionsDir, opts.self));
  const check = async () => {
    for (const peer of opts.peers) {
      const endpoint = peerEndpoint(opts.regionsDir, peer);
      const link = links.get(peer);
      if (link && link.endpoint === endpoint) {
        link.watcher ??= watchPeer(opts.regionsDir, peer, link.poller);
        continue;
      }
      if (link) {
        links.delete(peer);
        link.watcher?.close();
        await link.poller.stop();
      }
      if (!endpoint) continue;
      const tables = sharedTables(opts.self, peer, opts.shards);
      if (tables.length === 0) continue;
      const client = new DynamoDBClient({ endpoint, region: opts.awsRegion, maxAttempts: 1 });
      // Named by peer: shard ids of two peers' streams never share a checkpoint.
      const poller = new StreamPoller(client, endpoint, opts.awsRegion, { tables, batchSize: BATCH_SIZE, maxRetries: NEVER_SKIP, consumer, checkpoints: opts.checkpoints, name: `replica-${peer}`, parallelShards: PARALLEL_SHARDS });
      poller.start();
      links.set(peer, { endpoint, poller, watcher: watchPeer(opts.regionsDir, peer, poller) });
    }
  };
  let running = check();
  const timer = setInterval(() => {
    running = running.then(check).catch((e) => console.error(`replication: ${(e as Error).message}`));
  }, PEER_CHECK_MS);
  return {
    counts,
    stop: async () => {
      clearInterval(timer);
      unsignal();
      await running.catch(() => undefined);
      for (const l of links.values()) l.watcher?.close();
      await Promise.all([...links.values()].map((l) => l.poller.stop()));
    },
  };
}

/** A peer's DynamoDB endpoint while its process runs; undefined while it is down. */
function peerEndpoint(regionsDir: string, peer: RegionName): string | undefined {
  const file = path.join(regionsDir, peer, 'stack.json');
  if (!existsSync(file)) return undefined;
  try {
    const stack = JSON.parse(readFileSync(file, 'utf8')) as { dynamodb?: string; pid?: number };
    if (!stack.dynamodb || !stack.pid) return undefined;
    process.kill(stack.pid, 0);
    return stack.dynamodb;
  } catch {
    return undefined;
  }
}
