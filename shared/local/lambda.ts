// Invoking a handler as Lambda would: a fresh Context per invocation with the function's name,
// memory and deadline. Handlers are imported from the files shared/declarations/functions.ts names.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { InvokeStore, InvokeStoreBase } from '@aws/lambda-invoke-store';
import type { Context } from 'aws-lambda';
import { FUNCTIONS, type FunctionName } from '../declarations/functions.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

type AnyHandler = (event: unknown, context: Context) => Promise<unknown>;
const loaded = new Map<FunctionName, Promise<AnyHandler>>();

export function loadHandler(fn: FunctionName): Promise<AnyHandler> {
  let h = loaded.get(fn);
  if (!h) {
    h = import(path.join(ROOT, FUNCTIONS[fn].file)).then((m: { handler?: AnyHandler }) => {
      if (typeof m.handler !== 'function') throw new Error(`${FUNCTIONS[fn].file} has no handler export`);
      return m.handler;
    });
    loaded.set(fn, h);
  }
  return h;
}

const noop = () => {};

export function lambdaContext(fn: FunctionName, awsRequestId: string = randomUUID()): Context {
  const spec = FUNCTIONS[fn];
  const deadline = Date.now() + spec.timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: `feedscale-local-${fn}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:feedscale-local-${fn}`,
    memoryLimitInMB: String(spec.memoryMB),
    awsRequestId,
    logGroupName: `/aws/lambda/feedscale-local-${fn}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: noop,
    fail: noop,
    succeed: noop,
  };
}

// The local stack runs many invocations in one process at once, as Lambda's multi-concurrency
// mode does; like Lambda's runtime, it scopes each one in the InvokeStore, so Powertools keeps
// each invocation's log keys (function name, correlation id) apart.
process.env.AWS_LAMBDA_MAX_CONCURRENCY ??= '1000';
/** Node flags of a process that runs the handlers locally (package.json's start and bench, each
 *  region's process). The InvokeStore scopes invocations with an AsyncLocalStorage; Node 22's
 *  default one runs a hook on every promise, which cost an L1-hit read ~15% of its CPU through the
 *  local gateway. Async context frames (the default from Node 24) make it a field copy. Lambda
 *  runs one invocation per environment, with no AsyncLocalStorage, so this is the emulation's
 *  cost alone. */
export const LOCAL_NODE_FLAGS = ['--experimental-async-context-frame'];
const store = InvokeStore.getInstanceAsync();
/** The store and the handlers once resolved: a warm invocation then awaits neither again. */
let readyStore: InvokeStoreBase | undefined;
const ready = new Map<FunctionName, AnyHandler>();

export async function invoke(fn: FunctionName, event: unknown): Promise<unknown> {
  const awsRequestId = randomUUID();
  readyStore ??= await store;
  const warm = ready.get(fn);
  const scope = { [InvokeStoreBase.PROTECTED_KEYS.REQUEST_ID]: awsRequestId };
  if (warm) return readyStore.run(scope, () => warm(event, lambdaContext(fn, awsRequestId)));
  // The first invocation also initialises the module, inside its scope as Lambda's runtime does.
  return readyStore.run(scope, async () => {
    const handler = await loadHandler(fn);
    ready.set(fn, handler);
    // Lambda's init phase is not part of the invocation's timeout: its clock starts once loaded.
    return handler(event, lambdaContext(fn, awsRequestId));
  });
}
