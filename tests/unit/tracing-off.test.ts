// Outside Lambda the tracing module (shared/edge/tracing.ts) must not load the X-Ray SDK: its
// cls-hooked context installs an async_hooks destroy hook that makes every await of the process
// dearer, and the local stack runs get-feed in the same process as the traced handlers.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const tracingModule = fileURLToPath(new URL('../../shared/edge/tracing.ts', import.meta.url));

/** Imports the module in a fresh node (as the local stack does) and reports what it loaded:
 *  cls-hooked marks its load with `process.namespaces`. */
function loadIn(env: NodeJS.ProcessEnv): { tracing: boolean; xray: boolean } {
  const script = `const m = await import(${JSON.stringify(tracingModule)}); console.log(JSON.stringify({ tracing: m.tracer.isTracingEnabled(), xray: typeof process.namespaces === 'object' }));`;
  const out = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env, encoding: 'utf8' });
  expect(out.status, out.stderr).toBe(0);
  return JSON.parse(out.stdout.trim().split('\n').at(-1)!) as { tracing: boolean; xray: boolean };
}

describe('tracing outside Lambda', () => {
  it('leaves the X-Ray SDK unloaded, with tracing off', () => {
    const env = { ...process.env };
    delete env.AWS_EXECUTION_ENV;

    expect(loadIn(env)).toEqual({ tracing: false, xray: false });
  });

  it('loads it in Lambda, where tracing is on', () => {
    const env = { ...process.env, AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x', POWERTOOLS_TRACE_ENABLED: 'true', AWS_LAMBDA_MAX_CONCURRENCY: '' };

    expect(loadIn(env)).toEqual({ tracing: true, xray: true });
  });
});
