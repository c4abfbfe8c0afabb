import { defineConfig } from 'vitest/config';

// One local stack (DynamoDB Local, redis-server, API server, stream and queue mappings) serves
// every test file; tests/global-setup.ts starts it on free ports and stops it after.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    setupFiles: ['tests/support/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two files at a time: the shared stack, DynamoDB Local and redis-server need the rest of a
    // 2-core machine, and the files that run stacks of their own double that.
    maxWorkers: 2,
  },
});
