import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/** The three files that start stacks of their own under load: the crash test (a stack killed and
 *  restarted three times), the reshard test (feedctl moving tables under a workload) and the
 *  multi-region test (three regions with replication). Side by side they starve each other's
 *  DynamoDB Local on 2 cores, so they take turns on a lock (tests/support/heavy-turn.ts). They run
 *  after every lighter file: beside the lighter files each took 1.6-1.9 times as long as alone,
 *  and one after another they are most of the run (CI, fresh clone: 569 s of tests with them spread
 *  among the lighter files). */
const FIRST = 'tests/e2e/crash.test.ts';
const MIDDLE = 'tests/e2e/reshard.test.ts';
const LAST = 'tests/e2e/regions.test.ts';

class HeavyApart extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const is = (f: TestSpecification, name: string) => f.moduleId.endsWith(name);
    const light = sorted.filter((f) => !is(f, FIRST) && !is(f, MIDDLE) && !is(f, LAST));
    const pick = (name: string) => sorted.filter((f) => is(f, name));
    return [...light, ...pick(FIRST), ...pick(MIDDLE), ...pick(LAST)];
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
