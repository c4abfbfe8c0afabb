// The local Step Functions' journal (shared/local/stepfunctions.ts over journal.ts): executions
// survive a kill -9 as they do in Step Functions; the ones that were running are restarted from
// their input under the same ARN, finished ones keep their outcome. Nothing here runs a task.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resetConfig } from '../../shared/edge/config.js';
import { readJournal } from '../../shared/local/journal.js';
import { LocalStepFunctions, type WorkflowRecord } from '../../shared/local/stepfunctions.js';

let dir: string;
let file: string;
let sfn: LocalStepFunctions | undefined;
const SM = 'arn:aws:states:us-east-1:000000000000:stateMachine:celebrity-fanout';
const arn = (name: string) => `${SM.replace(':stateMachine:', ':execution:')}:${name}`;

beforeEach(() => {
  process.env.AWS_REGION = 'us-east-1';
  resetConfig();
  dir = mkdtempSync(path.join(tmpdir(), 'feedscale-sfn-journal-'));
  file = path.join(dir, 'workflows.journal');
});

afterEach(async () => {
  await sfn?.stop();
  sfn = undefined;
  rmSync(dir, { recursive: true, force: true });
  vi.restoreAllMocks();
});

const journal = (...records: WorkflowRecord[]) => writeFileSync(file, records.map((r) => `${JSON.stringify(r)}\n`).join(''));

describe('durable local workflows', () => {
  it('restarts from its input an execution the kill left running, and only that one', async () => {
    journal(
      { op: 'start', arn: arn('add-p1'), sm: SM, name: 'add-p1', input: '{"kind":"add","post":{"postId":"p1"}}', startDate: 1 },
      { op: 'start', arn: arn('add-p0'), sm: SM, name: 'add-p0', input: '{"kind":"add"}', startDate: 0 },
      { op: 'end', arn: arn('add-p0'), status: 'SUCCEEDED', stopDate: 2, output: '{}' },
    );
    sfn = await LocalStepFunctions.durable(file);
    const run = vi.spyOn(sfn as unknown as { run: (...a: unknown[]) => void }, 'run').mockImplementation(() => {});

    const resumed = sfn.resume();

    expect(resumed).toBe(1);
    expect(run).toHaveBeenCalledTimes(1);
    expect(run.mock.calls[0]![1]).toMatchObject({ executionArn: arn('add-p1'), status: 'RUNNING' });
    expect(run.mock.calls[0]![2]).toEqual({ kind: 'add', post: { postId: 'p1' } });
    expect(sfn.executions.get(arn('add-p0'))).toMatchObject({ status: 'SUCCEEDED', output: '{}' });
  });

  it('refuses a second start of a replayed execution name with other input, as Step Functions does', async () => {
    journal({ op: 'start', arn: arn('add-p2'), sm: SM, name: 'add-p2', input: '{"a":1}', startDate: 1 }, { op: 'end', arn: arn('add-p2'), status: 'SUCCEEDED', stopDate: 2 });
    sfn = await LocalStepFunctions.durable(file);

    expect(() => sfn!.startExecution(SM, '{"a":1}', 'add-p2')).toThrow(/Already Exists/);
  });

  it('compacts the journal at start-up to what it replayed, dropping a torn tail', async () => {
    journal({ op: 'start', arn: arn('add-p3'), sm: SM, name: 'add-p3', input: '{}', startDate: 1 });
    writeFileSync(file, '{"op":"end","arn":"', { flag: 'a' });

    sfn = await LocalStepFunctions.durable(file);

    expect(readJournal(file)).toEqual([{ op: 'start', arn: arn('add-p3'), sm: SM, name: 'add-p3', input: '{}', startDate: 1 }]);
    expect(sfn.executions.get(arn('add-p3'))?.status).toBe('RUNNING');
  });
});
