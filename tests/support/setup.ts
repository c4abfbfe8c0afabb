// Per test file: point configuration at the engines the global setup started, so integration
// tests can call the domain directly against the same DynamoDB Local.
import { inject } from 'vitest';
import { resetDynamo } from '../../shared/store/client.js';
import { resetConfig } from '../../shared/edge/config.js';
import { TEST_STACK_ENV } from './stack-env.js';

process.env.FEED_LOCAL = '1';
process.env.DYNAMODB_ENDPOINT = inject('dynamoEndpoint');
process.env.REDIS_URL = inject('redisUrl');
process.env.FEED_SFN_ENDPOINT = inject('sfnEndpoint');
// Redis replies slower than the 50 ms production timeout count as misses; on a loaded test machine
// that would make what a test observes depend on the load.
process.env.FEED_REDIS_TIMEOUT_MS = '1000';
// Handlers run in this process (unit and integration tests) with the shared stack's settings
// (tests/support/stack-env.ts).
Object.assign(process.env, TEST_STACK_ENV);
process.env.AWS_ACCESS_KEY_ID ??= 'local';
process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
process.env.AWS_REGION ??= 'us-east-1';
process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
resetConfig();
resetDynamo();
