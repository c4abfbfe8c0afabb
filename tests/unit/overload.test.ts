// Which DynamoDB failures mean "unavailable, retry later" (shared/store/client.ts), and the 503
// the HTTP edge answers for them: code `unavailable`, a Retry-After header, no internals shown.
import { describe, expect, it } from 'vitest';
import { ServiceUnavailableError } from '../../shared/domain/errors.js';
import { api, type HttpResult } from '../../shared/edge/http.js';
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from '../../shared/domain/limits.js';
import { asUnavailable } from '../../shared/store/client.js';
import { httpEvent, invokeLambda, testContext } from '../support/fixtures-lambda.js';

const sdkError = (name: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(name), { name, ...extra });

describe('DynamoDB errors that mean unavailable', () => {
  it.each([
    ['throttling', sdkError('ProvisionedThroughputExceededException', { $metadata: { httpStatusCode: 400 } })],
    ['on-demand throttling', sdkError('ThrottlingException')],
    ['account request limit', sdkError('RequestLimitExceeded')],
    ['a server error', sdkError('InternalServerError', { $metadata: { httpStatusCode: 500 } })],
    ['any 5xx', sdkError('SomethingNew', { $metadata: { httpStatusCode: 503 } })],
    ['a per-attempt timeout', sdkError('TimeoutError', { code: 'ETIMEDOUT' })],
    ['an aborted request', sdkError('AbortError')],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['a throttled transaction', sdkError('TransactionCanceledException', { CancellationReasons: [{ Code: 'None' }, { Code: 'ThrottlingError' }] })],
  ])('%s becomes 503 unavailable with Retry-After', (_, err) => {
    const mapped = asUnavailable(err);
    expect(mapped).toBeInstanceOf(ServiceUnavailableError);
    expect(mapped).toMatchObject({ status: 503, code: 'unavailable', retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS });
    expect(mapped?.cause).toBe(err);
  });

  it.each([
    ['a failed condition', sdkError('ConditionalCheckFailedException', { $metadata: { httpStatusCode: 400 } })],
    ['a transaction cancelled by its conditions', sdkError('TransactionCanceledException', { CancellationReasons: [{ Code: 'ConditionalCheckFailed' }] })],
    ['a validation error', sdkError('ValidationException', { $metadata: { httpStatusCode: 400 } })],
    ['a missing table', sdkError('ResourceNotFoundException', { $metadata: { httpStatusCode: 400 } })],
    ['a programming error', new TypeError('x is undefined')],
    ['a non-error', 'boom'],
  ])('%s stays what it is', (_, err) => {
    expect(asUnavailable(err)).toBeUndefined();
  });
});

describe('503 at the HTTP edge', () => {
  it('answers unavailable with Retry-After and a generic message', async () => {
    const handler = api({ auth: true }, async () => {
      throw asUnavailable(sdkError('ProvisionedThroughputExceededException', { message: 'table Feeds_7 is hot' }));
    });
    const res = (await invokeLambda(handler, httpEvent({ method: 'GET', sub: 'u-503' }))) as HttpResult;
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['retry-after']).toBe(String(UNAVAILABLE_RETRY_AFTER_SECONDS));
    const body = JSON.parse(res.body as string);
    expect(body.error.code).toBe('unavailable');
    expect(body.error.message).not.toContain('Feeds_7');
  });

  it('answers 503, not 500, when the work outlives the function’s time', async () => {
    const handler = api({ auth: true }, () => new Promise(() => {}));
    const deadline = Date.now() + 1_000;
    const started = Date.now();
    const res = (await invokeLambda(handler, httpEvent({ method: 'GET', sub: 'u-slow' }), {
      ...testContext(),
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    })) as HttpResult;
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['retry-after']).toBe(String(UNAVAILABLE_RETRY_AFTER_SECONDS));
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
