// workflows/asl.ts taskStates(): the one walk over a definition that both the deploy plan (through
// taskFunctions) and the local Step Functions runtime (binding each Task state to its handler)
// use — Map iterators and Parallel branches included, at any depth.
import { StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { taskFunctions, taskResource, taskStates, type Asl } from '../../workflows/asl.js';
import { WORKFLOWS, type WorkflowName } from '../../workflows/registry.js';

/** A Parallel state whose second branch holds a Map whose ItemProcessor holds a Task. */
const nested: Asl = {
  StartAt: 'Both',
  States: {
    Both: {
      Type: 'Parallel',
      End: true,
      Branches: [
        { StartAt: 'Left', States: { Left: { Type: 'Task', Resource: taskResource('fan-out-worker'), End: true } } },
        {
          StartAt: 'Each',
          States: {
            Each: {
              Type: 'Map',
              ItemsPath: '$.items',
              End: true,
              ItemProcessor: {
                ProcessorConfig: { Mode: 'INLINE' },
                StartAt: 'Right',
                States: { Right: { Type: 'Task', Resource: taskResource('cache-warm-chunk'), End: true } },
              },
            },
          },
        },
      ],
    },
  },
};

describe('taskStates', () => {
  it('finds Task states inside Parallel branches and Map item processors', () => {
    expect(taskStates(nested)).toEqual({ Left: 'fan-out-worker', Right: 'cache-warm-chunk' });
    expect(taskFunctions(nested)).toEqual(['cache-warm-chunk', 'fan-out-worker']);
  });

  it('ignores states whose resource is not a symbolic function', () => {
    const def: Asl = { StartAt: 'Wait', States: { Wait: { Type: 'Task', Resource: 'arn:aws:states:::aws-sdk:s3:getObject', End: true } } };
    expect(taskStates(def)).toEqual({});
  });

  it('binds every Task of a Parallel definition so the local runtime runs both branches', async () => {
    const calls: string[] = [];
    const handlers = Object.fromEntries(
      Object.entries(taskStates(nested)).map(([state, fn]) => [state, async (input: unknown) => (calls.push(`${state}:${fn}`), input)]),
    );
    const machine = new StateMachine(nested as never);

    await machine.run({ items: [1, 2] } as never, { overrides: { taskResourceLocalHandlers: handlers as never } }).result;

    expect(calls.sort()).toEqual(['Left:fan-out-worker', 'Right:cache-warm-chunk', 'Right:cache-warm-chunk']);
  });

  it('covers every Task state of the registered workflows', () => {
    for (const name of Object.keys(WORKFLOWS) as WorkflowName[]) {
      const def = WORKFLOWS[name].definition();
      const names = Object.keys(taskStates(def));
      const tasksInJson = [...JSON.stringify(def).matchAll(/"([^"]+)":\{"Type":"Task"/g)].map((m) => m[1]);
      expect(names.sort(), name).toEqual(tasksInJson.sort());
    }
  });
});
