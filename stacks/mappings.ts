// Lambda event-source mappings from shared/declarations/event-sources.ts MAPPINGS: one per shard table's
// stream (in order per shard, bisecting a failing batch, a bounded number of retries, then the
// record to the stream-failure queue, filtered to the events the function handles) and one per
// queue (its concurrency capped by the declared maximum); all report partial batch failures.
// A region's replica of a table another stage creates has a stream of its own, looked up by name
// here: mapped once that stage has created the replica (`existing`), reported as pending before.
import type { FunctionName } from '../shared/declarations/functions.js';
import { logicalName, splitReplicaMappings, type Plan } from './plan.js';

export function deployMappings(
  plan: Plan,
  functions: Map<FunctionName, sst.aws.Function>,
  tables: Map<string, aws.dynamodb.Table>,
  queues: Map<string, aws.sqs.Queue>,
  existing: ReadonlySet<string> = new Set(),
): aws.lambda.EventSourceMapping[] {
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`event-source mapping: ${what} is not deployed`);
    return value;
  };
  const streamArn = (m: Extract<Plan['mappings'][number], { kind: 'stream' }>) =>
    m.replicaOf ? aws.dynamodb.getTableOutput({ name: m.table }).streamArn : need(tables.get(m.table), `table ${m.table}`).streamArn;
  return splitReplicaMappings(plan, existing).ready.map((m) => {
    const fn = need(functions.get(m.fn), `function ${m.fn}`);
    if (m.kind === 'stream') {
      return new aws.lambda.EventSourceMapping(logicalName('Mapping', m.id), {
        functionName: fn.arn,
        eventSourceArn: streamArn(m),
        startingPosition: m.startingPosition,
        batchSize: m.batchSize,
        bisectBatchOnFunctionError: m.bisectBatchOnFunctionError,
        maximumRetryAttempts: m.maximumRetryAttempts,
        functionResponseTypes: [...m.functionResponseTypes],
        destinationConfig: { onFailure: { destinationArn: need(queues.get(m.onFailureQueue), `queue ${m.onFailureQueue}`).arn } },
        filterCriteria: { filters: m.filters },
      });
    }
    return new aws.lambda.EventSourceMapping(logicalName('Mapping', m.id), {
      functionName: fn.arn,
      eventSourceArn: need(queues.get(m.queue), `queue ${m.queue}`).arn,
      batchSize: m.batchSize,
      maximumBatchingWindowInSeconds: m.maximumBatchingWindowInSeconds,
      functionResponseTypes: [...m.functionResponseTypes],
      scalingConfig: { maximumConcurrency: m.maximumConcurrency },
    });
  });
}
