// Starts the real engines and the local stack once for the whole run, on free ports, with data in
// memory; installs Java or redis-server first when they are missing and the machine allows it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import type { Stack } from '../shared/local/stack.js';
import { TEST_STACK_ENV } from './support/stack-env.js';

let stack: Stack | undefined;
let heavyDir: string | undefined;
let dataDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  // Handlers log at ERROR during tests unless asked otherwise; set before the logger is built.
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  delete process.env.DYNAMODB_ENDPOINT;
  delete process.env.REDIS_URL;
  const { ensureTestEngines } = await import('../shared/local/engines.js');
  const { startStack } = await import('../shared/local/stack.js');
  await ensureTestEngines();
  stack = await startStack({
    fresh: true,
    port: 0,
    dataDir: (dataDir = mkdtempSync(path.join(tmpdir(), 'feedscale-test-'))),
    env: { FEED_FOLLOW_BACKFILL: '100', FEED_REDIS_TIMEOUT_MS: '1000', ...TEST_STACK_ENV },
    queues: { visibilityTimeoutMs: 500 },
    sweepIntervalMs: 3_600_000,
  });
  project.provide('apiUrl', stack.url);
  project.provide('dynamoEndpoint', stack.dynamoEndpoint);
  project.provide('redisUrl', stack.redisUrl ?? '');
  project.provide('sfnEndpoint', process.env.FEED_SFN_ENDPOINT ?? '');
  // The lock the files with stacks of their own take turns on (tests/support/heavy-turn.ts).
  heavyDir = mkdtempSync(path.join(tmpdir(), 'feedscale-heavy-'));
  project.provide('heavyLock', path.join(heavyDir, 'turn'));
}

export async function teardown(): Promise<void> {
  await stack?.stop();
  for (const dir of [heavyDir, dataDir]) if (dir) rmSync(dir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    apiUrl: string;
    dynamoEndpoint: string;
    redisUrl: string;
    sfnEndpoint: string;
    heavyLock: string;
  }
}
