// Tracing on the hot asynchronous handlers (shared/edge/tracing.ts): off outside Lambda, so the
// local stack and the tests run the handlers untraced; inside Lambda a record's main step becomes
// an annotated subsegment of the invocation's segment, closed (with the error) when it throws.
import AWSXRay from 'aws-xray-sdk-core';
import { afterEach, describe, expect, it, vi } from 'vitest';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

/** tracing.ts loaded afresh: Tracer reads its environment when the module is imported. */
const load = () => import('../../shared/edge/tracing.js');

describe('tracing', () => {
  it('is off outside Lambda: traced() just runs the work', async () => {
    vi.stubEnv('AWS_EXECUTION_ENV', '');
    const { tracer, traced } = await load();

    const out = await traced('step', { postId: 'p1' }, async () => 42);

    expect(tracer.isTracingEnabled()).toBe(false);
    expect(out).toBe(42);
  });

  it('is off in Lambda when POWERTOOLS_TRACE_ENABLED=false', async () => {
    vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs22.x');
    vi.stubEnv('POWERTOOLS_TRACE_ENABLED', 'false');
    const { tracer } = await load();

    expect(tracer.isTracingEnabled()).toBe(false);
  });

  it('in Lambda, runs the work in an annotated subsegment of the current segment, closed with its error', async () => {
    vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs22.x');
    vi.stubEnv('POWERTOOLS_TRACE_ENABLED', 'true');
    // One invocation per process: the segment lives in X-Ray's own context, not Lambda's
    // multi-concurrency InvokeStore (which the runtime provides where the variable is set).
    vi.stubEnv('AWS_LAMBDA_MAX_CONCURRENCY', '');
    const { tracer, traced } = await load();
    const segment = new AWSXRay.Segment('invocation');

    const [ok, failed] = await AWSXRay.getNamespace().runAndReturn(async () => {
      tracer.setSegment(segment);
      const ok = await traced('routePost', { postId: 'p1', kind: 'add' }, async () => 'regular');
      const failed = await traced('runFanoutJob', { kind: 'add' }, async () => {
        throw new Error('throttled');
      }).catch((e: Error) => e.message);
      return [ok, failed];
    });

    expect(ok).toBe('regular');
    expect(failed).toBe('throttled');
    const subs = (segment.subsegments ?? []) as unknown as { name: string; annotations?: Record<string, unknown>; fault?: boolean; in_progress?: boolean }[];
    expect(subs.map((s) => s.name)).toEqual(['### routePost', '### runFanoutJob']);
    expect(subs[0]!.annotations).toEqual({ postId: 'p1', kind: 'add' });
    expect(subs[1]!.fault).toBe(true);
    expect(subs.every((s) => !s.in_progress)).toBe(true);
    expect(tracer.getSegment()).toBeUndefined();
  });
});
