// The local stack's DynamoDB Streams mapping (shared/local/streams.ts StreamPoller), read through
// DynamoDB Local's real Streams API: in-order batches of at most batchSize, retry from the first
// failed record, a poison record moved to the failure list after maxRetries, checkpoints, and the
// idle back-off (fewer GetRecords calls while nothing is written, woken at once by a write).
// Each test creates its own streamed table in the shared DynamoDB Local and a consumer it controls.
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { dynamo } from '../../shared/store/client.js';
import { config } from '../../shared/edge/config.js';
import { IDLE_POLL_MAX_MS, StreamPoller, type StreamConsumer } from '../../shared/local/streams.js';
import { holdsFor, until } from '../support/fixtures-wait.js';

interface Delivery {
  records: DynamoDBRecord[];
  /** The poller's checkpoint for the shard when the batch was delivered. */
  checkpoint: string | undefined;
}

let tables: string[] = [];
let pollers: StreamPoller[] = [];

async function streamedTable(): Promise<string> {
  const name = `stream-poller-test-${randomUUID()}`;
  await dynamo().send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  tables.push(name);
  return name;
}

/** Writes items one by one, so their stream records come in this order. */
async function put(table: string, ...pks: string[]): Promise<void> {
  for (const pk of pks) await dynamo().send(new PutItemCommand({ TableName: table, Item: { pk: { S: pk }, n: { N: '1' } } }));
}

function poller(
  table: string,
  consumer: StreamConsumer,
  opts: { batchSize?: number; maxRetries?: number; checkpoints?: Map<string, string>; pollIntervalMs?: number; name?: string } = {},
) {
  const deliveries: Delivery[] = [];
  const p: StreamPoller = new StreamPoller(dynamo(), config().DYNAMODB_ENDPOINT!, config().AWS_REGION, {
    tables: [table],
    batchSize: opts.batchSize ?? 100,
    maxRetries: opts.maxRetries ?? 2,
    pollIntervalMs: opts.pollIntervalMs ?? 20,
    checkpoints: opts.checkpoints,
    name: opts.name,
    consumer: async (event: DynamoDBStreamEvent) => {
      deliveries.push({ records: event.Records, checkpoint: [...p.checkpoints.values()][0] });
      return consumer(event);
    },
  });
  pollers.push(p);
  return { poller: p, deliveries };
}

const pkOf = (r: DynamoDBRecord) => r.dynamodb!.NewImage!.pk!.S!;
const seqOf = (r: DynamoDBRecord) => r.dynamodb!.SequenceNumber!;
const pksOf = (deliveries: Delivery[]) => deliveries.flatMap((d) => d.records.map(pkOf));
const items = (n: number, prefix = 'item') => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);
const succeed: StreamConsumer = async () => ({ batchItemFailures: [] });

beforeEach(() => {
  // The poller logs failed batches to stderr; some tests provoke them on purpose.
  vi.spyOn(console, 'error').mockImplementation(() => {});
});

afterEach(async () => {
  await Promise.all(pollers.map((p) => p.stop()));
  pollers = [];
  await Promise.all(tables.map((t) => dynamo().send(new DeleteTableCommand({ TableName: t }))));
  tables = [];
  vi.restoreAllMocks();
});

describe('StreamPoller', () => {
  it('delivers records in write order, in batches of at most batchSize, and advances its checkpoint after each batch', async () => {
    const table = await streamedTable();
    const written = items(10);
    await put(table, ...written);
    const { poller: p, deliveries } = poller(table, succeed, { batchSize: 3 });

    p.start();
    await until(() => pksOf(deliveries).length >= written.length && p.caughtUp, { timeoutMs: 10_000, what: 'ten records' });

    expect(pksOf(deliveries)).toEqual(written);
    for (const d of deliveries) {
      expect(d.records.length).toBeGreaterThan(0);
      expect(d.records.length).toBeLessThanOrEqual(3);
      for (const r of d.records) {
        expect(r.eventName).toBe('INSERT');
        expect(r.eventSourceARN).toMatch(new RegExp(`table/${table}/stream/`));
      }
    }
    // Each batch is delivered with the checkpoint at the end of the one before.
    expect(deliveries[0]!.checkpoint).toBeUndefined();
    for (let i = 1; i < deliveries.length; i++) {
      const previous = deliveries[i - 1]!.records;
      expect(deliveries[i]!.checkpoint, `batch ${i}`).toBe(seqOf(previous[previous.length - 1]!));
    }
    const all = deliveries.flatMap((d) => d.records);
    await until(() => [...p.checkpoints.values()][0] === seqOf(all[all.length - 1]!), { what: 'the final checkpoint' });
    expect(p.delivered).toBe(written.length);
    expect(p.failures).toEqual([]);
  });

  it('delivers records written after it started', async () => {
    const table = await streamedTable();
    const { poller: p, deliveries } = poller(table, succeed, { batchSize: 10 });
    p.start();
    await put(table, 'early');
    await until(() => pksOf(deliveries).includes('early'), { timeoutMs: 10_000, what: 'the first record' });

    await put(table, 'later-1', 'later-2');

    await until(() => pksOf(deliveries).length === 3, { timeoutMs: 10_000, what: 'the later records' });
    expect(pksOf(deliveries)).toEqual(['early', 'later-1', 'later-2']);
  });

  it('on a batchItemFailure for record k, redelivers from k and never the records before it', async () => {
    const table = await streamedTable();
    const written = items(8);
    await put(table, ...written);
    let failedAt: string | undefined;
    const { poller: p, deliveries } = poller(table, async (event) => {
      if (failedAt === undefined && event.Records.length >= 2) {
        const k = Math.floor(event.Records.length / 2);
        failedAt = pkOf(event.Records[k]!);
        return { batchItemFailures: [{ itemIdentifier: seqOf(event.Records[k]!) }] } satisfies DynamoDBBatchResponse;
      }
      return { batchItemFailures: [] };
    });

    p.start();
    await until(() => failedAt !== undefined && p.caughtUp && p.delivered === written.length, { timeoutMs: 10_000, what: 'all records handled' });

    const k = written.indexOf(failedAt!);
    const failing = deliveries.findIndex((d) => d.records.some((r) => pkOf(r) === failedAt));
    const first = deliveries[failing]!.records;
    const retry = deliveries[failing + 1]!;
    const kInBatch = first.findIndex((r) => pkOf(r) === failedAt);
    expect(retry.records.map(pkOf)).toEqual(first.slice(kInBatch).map(pkOf));
    expect(retry.checkpoint).toBe(seqOf(first[kInBatch - 1]!));
    const counts = new Map<string, number>();
    for (const pk of pksOf(deliveries)) counts.set(pk, (counts.get(pk) ?? 0) + 1);
    for (const pk of written.slice(0, k)) expect(counts.get(pk), pk).toBe(1);
    for (const r of first.slice(kInBatch)) expect(counts.get(pkOf(r)), pkOf(r)).toBe(2);
    expect(pksOf(deliveries.slice(failing + 1))).toEqual(written.slice(k));
    expect(p.failures).toEqual([]);
  });

  it('retries the whole batch when the consumer throws', async () => {
    const table = await streamedTable();
    await put(table, ...items(3));
    let calls = 0;
    const { poller: p, deliveries } = poller(table, async () => {
      if (++calls === 1) throw new Error('consumer crashed');
      return { batchItemFailures: [] };
    });

    p.start();
    await until(() => p.delivered === 3, { timeoutMs: 10_000, what: 'the batch retried' });

    expect(deliveries.map((d) => d.records.map(pkOf))).toEqual([items(3), items(3)]);
  });

  it('moves a record that always fails to failures after maxRetries, and later records still flow', async () => {
    const table = await streamedTable();
    await put(table, 'poison', 'after-1', 'after-2');
    const maxRetries = 2;
    const { poller: p, deliveries } = poller(
      table,
      async (event) => ({
        batchItemFailures: event.Records.filter((r) => pkOf(r) === 'poison').map((r) => ({ itemIdentifier: seqOf(r) })),
      }),
      { maxRetries },
    );

    p.start();
    await until(() => p.failures.length === 1 && pksOf(deliveries).includes('after-2') && p.caughtUp, {
      timeoutMs: 10_000,
      what: 'the poison record set aside and the rest delivered',
    });

    const poison = deliveries[0]!.records.find((r) => pkOf(r) === 'poison')!;
    expect(p.failures).toEqual([{ table, eventID: poison.eventID, sequenceNumber: seqOf(poison) }]);
    // Delivered once and retried maxRetries times, then never again.
    expect(pksOf(deliveries).filter((pk) => pk === 'poison')).toHaveLength(1 + maxRetries);
    expect(pksOf(deliveries).filter((pk) => pk === 'after-1')).toHaveLength(1 + maxRetries + 1);
    expect(deliveries[deliveries.length - 1]!.records.map(pkOf)).toEqual(['after-1', 'after-2']);
    const after2 = deliveries[deliveries.length - 1]!.records[1]!;
    await until(() => [...p.checkpoints.values()][0] === seqOf(after2), { what: 'the checkpoint past the poison record' });
    await holdsFor(() => pksOf(deliveries).filter((pk) => pk === 'poison').length === 1 + maxRetries, 200, 'no further poison delivery');
  });

  it('resumes after its checkpoints: a new poller given them delivers only newer records', async () => {
    const table = await streamedTable();
    await put(table, ...items(4, 'old'));
    const first = poller(table, succeed);
    first.poller.start();
    await until(() => first.poller.delivered === 4, { timeoutMs: 10_000, what: 'the old records' });
    await first.poller.stop();
    const checkpoints = new Map(first.poller.checkpoints);
    expect(checkpoints.size).toBe(1);

    await put(table, ...items(2, 'new'));
    const second = poller(table, succeed, { checkpoints });
    second.poller.start();

    await until(() => second.poller.delivered === 2, { timeoutMs: 10_000, what: 'the new records' });
    expect(pksOf(second.deliveries)).toEqual(items(2, 'new'));
  });

  it('an idle poller backs off: over 2 s of idle waits it makes a handful of GetRecords calls, not one per 20 ms interval', async () => {
    const table = await streamedTable();
    const { poller: p } = poller(table, succeed, { pollIntervalMs: 20 });
    const IDLE_STRETCH_MS = 2000;

    p.start();
    await until(() => p.idleWaitedMs >= IDLE_STRETCH_MS, { timeoutMs: 15_000, what: '2 s of idle waits' });

    // At a fixed 20 ms interval the same waits hold 100 calls; doubling to the 1 s cap gives
    // 20 + 40 + … + 640 + 1000 ≥ 2000 after 7 rounds (one call each for the one shard).
    const rounds = Math.ceil(Math.log2(IDLE_POLL_MAX_MS / 20)) + 2;
    expect(p.getRecordsCalls).toBeGreaterThan(0);
    expect(p.getRecordsCalls).toBeLessThanOrEqual(rounds + 1);
  });

  it('a write to its table through the process’s client wakes an idle poller at once', async () => {
    const table = await streamedTable();
    // A first idle wait of a minute: only the wake-up can deliver within the 10 s poll below.
    const { poller: p, deliveries } = poller(table, succeed, { pollIntervalMs: 60_000 });
    p.start();
    await until(() => p.getRecordsCalls >= 1 && p.idleWaitedMs > 0, { timeoutMs: 10_000, what: 'the poller idle' });
    const callsWhileIdle = p.getRecordsCalls;

    await put(table, 'wake');

    await until(() => pksOf(deliveries).includes('wake'), { timeoutMs: 10_000, what: 'the record delivered' });
    expect(p.getRecordsCalls).toBeGreaterThan(callsWhileIdle);
  });

  it('two named mappings on one stream keep their own checkpoints in a shared map', async () => {
    const table = await streamedTable();
    await put(table, ...items(3));
    const checkpoints = new Map<string, string>();
    const ahead = poller(table, succeed, { checkpoints, name: 'ahead' });
    ahead.poller.start();
    await until(() => ahead.poller.delivered === 3, { timeoutMs: 10_000, what: 'the first mapping done' });
    await ahead.poller.stop();

    const behind = poller(table, succeed, { checkpoints, name: 'behind' });
    behind.poller.start();

    await until(() => behind.poller.delivered === 3, { timeoutMs: 10_000, what: 'the second mapping from the start' });
    expect(pksOf(behind.deliveries)).toEqual(items(3));
    expect([...checkpoints.keys()].sort()).toEqual([...checkpoints.keys()].filter((k) => /^(ahead|behind):/.test(k)).sort());
  });
});
