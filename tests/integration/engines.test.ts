// Runs the real engines the local stack depends on, so a broken jar path, flag or readiness check shows up
// here rather than as a hang in every other integration test.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  EngineMissingError,
  JAVA_MISSING,
  ensureTestEngines,
  freePort,
  requireJava,
  SCRATCH_ROOTS,
  scratchDir,
  startDynamo,
  startRedis,
  which,
} from '../../shared/local/engines.js';

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'feedscale-engines-'));
  tempDirs.push(dir);
  return dir;
}

function portFromEndpoint(endpoint: string): number {
  return Number(new URL(endpoint).port);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

function redisCommand(port: number, command: string): Promise<string> {
  return new Promise((done, fail) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.endsWith('\r\n')) {
        socket.destroy();
        done(reply.trim());
      }
    });
    socket.once('error', fail);
  });
}

function dynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

async function createTable(client: DynamoDBClient, name: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}

async function tableNames(client: DynamoDBClient): Promise<string[]> {
  return (await client.send(new ListTablesCommand({}))).TableNames ?? [];
}

// apt may have to install Java and redis-server first; the JVM alone needs a few seconds per start.
const INSTALL_MS = 600_000;
const ENGINE_MS = 60_000;

beforeAll(() => ensureTestEngines(), INSTALL_MS);
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('helpers', () => {
  it('freePort returns a port nobody listens on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(await accepts(port)).toBe(false);
  });

  it('which resolves commands from PATH and misses unknown ones', () => {
    expect(which('sh')).toMatch(/\/sh$/);
    expect(which('feedscale-no-such-command')).toBeUndefined();
    expect(which('sh', tempDir())).toBeUndefined();
  });

  it('reports missing Java with a one-line install hint', () => {
    const emptyPath = tempDir();
    expect(() => requireJava(emptyPath)).toThrow(EngineMissingError);
    expect(() => requireJava(emptyPath)).toThrow(JAVA_MISSING);
    expect(JAVA_MISSING).not.toContain('\n');
    expect(JAVA_MISSING).toContain('apt-get install -y default-jre-headless');
  });

  it('makes scratch directories on the first file system that takes one, else in the temporary directory', () => {
    const root = tempDir();
    const onRoot = scratchDir('feedscale-scratch-', ['/feedscale-no-such-root', root]);
    expect(onRoot.startsWith(join(root, 'feedscale-scratch-'))).toBe(true);
    expect(statSync(onRoot).isDirectory()).toBe(true);
    const fallback = scratchDir('feedscale-scratch-', ['/feedscale-no-such-root']);
    tempDirs.push(fallback);
    expect(fallback.startsWith(join(tmpdir(), 'feedscale-scratch-'))).toBe(true);
    // By default on tmpfs, where the machine has one.
    const byDefault = scratchDir('feedscale-scratch-');
    tempDirs.push(byDefault);
    const shm = SCRATCH_ROOTS.find((r) => existsSync(r));
    expect(byDefault.startsWith(join(shm ?? tmpdir(), 'feedscale-scratch-'))).toBe(true);
  });
});

describe('DynamoDB Local', () => {
  it('starts in memory, serves tables and frees its port on stop', async () => {
    const engine = await startDynamo({});
    const client = dynamoClient(engine.endpoint);
    try {
      expect(engine.name).toBe('dynamodb-local');
      expect(engine.pid).toBeGreaterThan(0);
      await createTable(client, 'engines_test');
      expect(await tableNames(client)).toContain('engines_test');
    } finally {
      client.destroy();
      await engine.stop();
    }
    expect(await accepts(portFromEndpoint(engine.endpoint))).toBe(false);
    await engine.stop(); // a second stop is harmless
  }, ENGINE_MS);

  it('keeps tables across restarts when given a data dir', async () => {
    const dataDir = join(tempDir(), 'dynamo');
    const port = await freePort();
    const first = await startDynamo({ dataDir, port });
    expect(first.endpoint).toBe(`http://127.0.0.1:${port}`);
    const client = dynamoClient(first.endpoint);
    try {
      await createTable(client, 'persisted');
    } finally {
      client.destroy();
      await first.stop();
    }

    const second = await startDynamo({ dataDir });
    const again = dynamoClient(second.endpoint);
    try {
      expect(await tableNames(again)).toContain('persisted');
    } finally {
      again.destroy();
      await second.stop();
    }
  }, ENGINE_MS);
});

describe('redis-server', () => {
  it('starts on a free port, answers PING and frees its port on stop', async () => {
    const engine = await startRedis({});
    expect(engine).toBeDefined();
    if (!engine) return;
    const port = portFromEndpoint(engine.endpoint);
    try {
      expect(engine.endpoint).toBe(`redis://127.0.0.1:${port}`);
      expect(await redisCommand(port, 'PING')).toBe('+PONG');
      // No persistence configured: a test run must never leave dump files behind.
      expect(await redisCommand(port, 'CONFIG GET save')).toBe('*2\r\n$4\r\nsave\r\n$0');
      expect(await redisCommand(port, 'CONFIG GET appendonly')).toBe('*2\r\n$10\r\nappendonly\r\n$2\r\nno');
    } finally {
      await engine.stop();
    }
    expect(await accepts(port)).toBe(false);
  }, ENGINE_MS);
});
