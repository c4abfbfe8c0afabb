// The local stack's durable queues (shared/local/queues.ts over shared/local/journal.ts): what a
// kill -9 leaves on disk is replayed by the next stack. A "crash" here is a second instance opened
// on the same journal while the first is abandoned mid-work, never stopped (stop() would flush).
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SQSEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { QUEUES } from '../../shared/declarations/event-sources.js';
import { FileJournal, readJournal } from '../../shared/local/journal.js';
import { LocalQueues, type Consumer } from '../../shared/local/queues.js';
import { holdsFor, until } from '../support/fixtures-wait.js';

const VISIBILITY_MS = 100;
const OPTS = { visibilityTimeoutMs: VISIBILITY_MS, pollIntervalMs: 10 };

let dir: string;
let file: string;
let opened: LocalQueues[] = [];

async function durable(): Promise<LocalQueues> {
  const q = await LocalQueues.durable(file, OPTS);
  opened.push(q);
  return q;
}

function recorder(consumer: Consumer = async () => undefined) {
  const bodies: string[] = [];
  return {
    bodies,
    consumer: async (event: SQSEvent) => {
      bodies.push(...event.Records.map((r) => r.body));
      return consumer(event);
    },
  };
}

/** Records of one kind in the journal file, as a restarted stack would replay them. */
const onDisk = (op: string) => readJournal<{ op: string }>(file).filter((r) => r.op === op);
const messages = (...bodies: string[]) => bodies.map((body) => ({ body }));

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'feedscale-journal-'));
  file = path.join(dir, 'queues.journal');
  vi.spyOn(console, 'error').mockImplementation(() => {});
});

afterEach(async () => {
  // Abandoned instances still run consumer loops; stop them (their journals point at replaced
  // files). One whose consumer "died" mid-batch never finishes stopping, hence the bound.
  await Promise.all(opened.map((q) => Promise.race([q.stop().catch(() => {}), new Promise((r) => setTimeout(r, 500))])));
  opened = [];
  rmSync(dir, { recursive: true, force: true });
  vi.restoreAllMocks();
});

describe('durable local queues', () => {
  it('replays sent messages, delayed ones included, after a crash before any delivery', async () => {
    const first = await durable();
    await first.send('fanout', messages('a', 'b'));
    await first.send('notifications', [{ body: 'later', delaySeconds: 900 }]);

    const second = await durable();

    expect(second.stats().fanout!.waiting).toBe(2);
    expect(second.pending('notifications')).toEqual([{ body: 'later', delaySeconds: 900, visibleAt: expect.any(Number) }]);
    expect(second.pending('notifications')[0]!.visibleAt).toBeGreaterThan(Date.now() + 800_000);
    const { bodies, consumer } = recorder();
    second.consume('fanout', 10, consumer);
    await until(() => bodies.length === 2 && second.idle(), { what: 'replayed messages delivered' });
    expect(bodies.sort()).toEqual(['a', 'b']);
  });

  it('never delivers a message again once its acknowledgement is on disk, across a crash', async () => {
    const first = await durable();
    const one = recorder();
    await first.send('fanout', messages('acked-1', 'acked-2'));
    await first.send('notifications', messages('waiting'));
    first.consume('fanout', 10, one.consumer);
    await until(() => one.bodies.length === 2 && onDisk('del').length === 1, { what: 'the batch acknowledged durably' });

    const second = await durable();
    const two = recorder();
    second.consume('fanout', 10, two.consumer);
    second.consume('notifications', 10, two.consumer);

    await until(() => two.bodies.length === 1 && second.idle(), { what: 'the unacknowledged message' });
    expect(two.bodies).toEqual(['waiting']);
    await holdsFor(() => two.bodies.length === 1, 3 * VISIBILITY_MS, 'no acknowledged message redelivered');
  });

  it('redelivers a batch whose consumer was killed mid-work, with its receive count kept', async () => {
    const first = await durable();
    let started = 0;
    await first.send('fanout', messages('in-flight'));
    first.consume('fanout', 10, async () => {
      started++;
      await new Promise(() => {}); // the process dies here
    });
    // The receive is journalled without waiting (losing it costs one extra retry at most), so the
    // "kill" comes once it is on disk: what is checked is that a journalled count survives.
    await until(() => started === 1 && onDisk('recv').length === 1, { what: 'batch in flight, its receive journalled' });

    const second = await durable();
    const receives: string[] = [];
    second.consume('fanout', 10, async (event) => {
      receives.push(...event.Records.map((r) => r.attributes.ApproximateReceiveCount));
    });

    await until(() => receives.length === 1 && second.idle(), { what: 'redelivery after restart' });
    expect(receives).toEqual(['2']);
  });

  it('keeps dead letters across a restart and does not deliver them', async () => {
    const first = await durable();
    await first.send('fanout', messages('poison', 'fine'));
    first.consume('fanout', 10, async (event) => ({
      batchItemFailures: event.Records.filter((r) => r.body === 'poison').map((r) => ({ itemIdentifier: r.messageId })),
    }));
    await until(() => onDisk('dead').length === 1, { timeoutMs: 5_000, what: 'poison dead-lettered on disk' });

    const second = await durable();
    const { bodies, consumer } = recorder();
    second.consume('fanout', 10, consumer);

    expect(second.deadLetters('fanout')).toEqual([{ messageId: expect.any(String), body: 'poison', receiveCount: QUEUES.fanout.maxReceiveCount }]);
    await holdsFor(() => bodies.length === 0, 3 * VISIBILITY_MS, 'nothing delivered');
    expect(second.stats().fanout).toEqual({ waiting: 0, inFlight: 0, deadLetters: 1 });
  });

  it('ignores a torn last line (a write the kill interrupted) and keeps what came before', async () => {
    const first = await durable();
    await first.send('fanout', messages('whole'));
    appendFileSync(file, '{"op":"put","q":"fanout","m":{"messageId":"torn","bo');

    const second = await durable();

    expect(second.pending('fanout').map((m) => m.body)).toEqual(['whole']);
    // Reopening compacted the file: the torn tail is gone, so later appends start on a clean line.
    expect(readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
  });

  it('acknowledges a send only once its record is on disk', async () => {
    const first = await durable();

    await first.send('fanout', messages('durable'));

    // Read by a fresh process's replay: nothing buffered in this one counts.
    expect(readJournal<{ op: string; m?: { body: string } }>(file).filter((r) => r.op === 'put').map((r) => r.m!.body)).toEqual(['durable']);
  });
});

describe('FileJournal', () => {
  it('compacts to the live records and keeps appending after them', async () => {
    const j = await FileJournal.open<{ n: number }>(file, [{ n: 1 }]);
    await j.append({ n: 2 });
    expect(j.appendedBytes).toBeGreaterThan(0);

    await j.compact([{ n: 9 }]);
    await j.append({ n: 10 });
    await j.close();

    expect(readJournal(file)).toEqual([{ n: 9 }, { n: 10 }]);
  });

  it('shares one sync among appends made together (group commit), each acknowledged', async () => {
    const j = await FileJournal.open<{ n: number }>(file, []);
    const handle = (j as unknown as { handle: { datasync: () => Promise<void> } }).handle;
    const sync = vi.spyOn(handle, 'datasync');

    await Promise.all(Array.from({ length: 100 }, (_, n) => j.append({ n })));
    await j.close();

    expect(readJournal(file)).toHaveLength(100);
    expect(sync.mock.calls.length).toBeLessThanOrEqual(2);
  });
});
