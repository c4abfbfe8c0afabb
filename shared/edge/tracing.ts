// X-Ray subsegments for the hot asynchronous handlers (post-router, fan-out-worker) with Powertools
// Tracer: one subsegment per invocation (captureLambdaHandler), the outgoing HTTPS calls (DynamoDB,
// SQS, Step Functions) as remote subsegments, and a named subsegment around each record's main
// step with searchable annotations. Tracer turns itself on only inside Lambda (AWS_EXECUTION_ENV
// set) unless POWERTOOLS_TRACE_ENABLED=false, so locally and in tests every call here is a no-op.
// Not used by the API handlers: on get-feed it costs 129 kB of bundle and ~14 ms of cold import.
// Outside Lambda the SDK is not even loaded: its import installs an async_hooks destroy hook (via
// cls-hooked) that makes every await of the process several times dearer, and the local stack
// runs every handler, get-feed included, in one process.
import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { MiddlewareObj } from '@middy/core';
import { SERVICE_NAME } from './observability.js';

// The DynamoDB client is built in shared/store/client.ts, which the edge may not import (README
// "Layout") and which every handler bundles; its calls are traced through the HTTPS capture
// (Tracer's default, captureHTTPsRequests) instead of captureAWSv3Client.
const sdk = process.env.AWS_EXECUTION_ENV
  ? await Promise.all([import('@aws-lambda-powertools/tracer'), import('@aws-lambda-powertools/tracer/middleware')])
  : undefined;
/** What Tracer does outside Lambda (it is off there whatever POWERTOOLS_TRACE_ENABLED says). */
const offTracer = { isTracingEnabled: () => false, putAnnotation: () => {}, getSegment: () => undefined, setSegment: () => {} } as unknown as Tracer;
export const tracer: Tracer = sdk ? new sdk[0].Tracer({ serviceName: SERVICE_NAME }) : offTracer;

/** The invocation's subsegment, with the ColdStart and Service annotations. The batch response is
 *  not recorded (it lists failed record ids, already in the logs). */
export function tracing<E, R>(): MiddlewareObj<E, R> {
  if (!sdk) return { before: () => {} };
  return sdk[1].captureLambdaHandler(tracer, { captureResponse: false }) as MiddlewareObj<E, R>;
}

/** Runs `work` in a subsegment `### <name>` annotated with `annotations` (X-Ray indexes
 *  annotations, so traces can be searched by post id or tier). Records of one invocation run one
 *  at a time (consumers.ts), so swapping the current segment is safe. */
export async function traced<T>(name: string, annotations: Record<string, string | number | boolean>, work: () => Promise<T>): Promise<T> {
  if (!tracer.isTracingEnabled()) return work();
  const parent = tracer.getSegment();
  const sub = parent?.addNewSubsegment(`### ${name}`);
  if (!parent || !sub) return work();
  tracer.setSegment(sub);
  try {
    for (const [key, value] of Object.entries(annotations)) tracer.putAnnotation(key, value);
    return await work();
  } catch (err) {
    sub.addError(err as Error);
    throw err;
  } finally {
    sub.close();
    tracer.setSegment(parent);
  }
}
