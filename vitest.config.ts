import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/** The two files that start stacks of their own under load: the crash test (a stack killed and
 *  restarted three times) and the multi-region test (three regions with replication). Run side by
 *  side they starve each other's DynamoDB Local on 2 cores, so one goes first and the other last,
 *  with the lighter files between them. */
const FIRST = 'tests/e2e/crash.test.ts';
const LAST = 'tests/e2e/regions.test.ts';

class HeavyApart extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => (f.moduleId.endsWith(FIRST) ? 0 : f.moduleId.endsWith(LAST) ? 2 : 1);
    return [...sorted].sort((a, b) => rank(a) - rank(b));
  }
}

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
    sequence: { sequencer: HeavyApart },
  },
});
