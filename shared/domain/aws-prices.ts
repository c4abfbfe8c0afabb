// The AWS list prices and service limits the capacity model (capacity-model.ts) bills with: us-east-1,
// on-demand list prices, as known on PRICES_AS_OF, not fetched at run time. Prices change: re-check
// every figure against its source page before deciding anything with the plan.

export const PRICES_AS_OF = '2025-01 (after the 2024-11-01 DynamoDB on-demand and global-tables price cuts)';
export const PRICES_REGION = 'us-east-1';

export const PRICES = {
  dynamodb: {
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/ and https://aws.amazon.com/dynamodb/pricing/provisioned/',
    /** On-demand, Standard table class; replicated writes (global tables) bill the same since 2024-11. */
    perMillionWru: 0.625,
    perMillionRru: 0.125,
    perWcuHour: 0.00065,
    perRcuHour: 0.00013,
    storagePerGbMonth: 0.25,
  },
  lambda: {
    source: 'https://aws.amazon.com/lambda/pricing/',
    /** arm64 (stacks/functions.ts deploys arm64), first pricing tier. */
    perGbSecond: 0.0000133334,
    perMillionRequests: 0.2,
  },
  elasticache: {
    source: 'https://aws.amazon.com/elasticache/pricing/',
    /** Node-based Valkey (stacks/cache.ts): 20% below Redis OSS's $0.437/h for this node. */
    node: 'cache.r7g.xlarge',
    perNodeHour: 0.3496,
    nodeGiB: 26.32,
  },
  apiGateway: {
    source: 'https://aws.amazon.com/api-gateway/pricing/',
    /** HTTP APIs: the first 300 million requests of a month, then every further one. */
    firstTierRequests: 300e6,
    firstTierPerMillion: 1.0,
    beyondPerMillion: 0.9,
  },
  sqs: { source: 'https://aws.amazon.com/sqs/pricing/', perMillionRequests: 0.4 },
  stepFunctions: { source: 'https://aws.amazon.com/step-functions/pricing/', perThousandTransitions: 0.025 },
} as const;

/** DynamoDB's per-partition and default per-table throughput limits (the table quota is
 *  adjustable; the design card's "40K WCU/RCU limits hit" is this quota). */
export const DYNAMODB_LIMITS = {
  source: 'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html',
  partitionRcu: 3000,
  partitionWcu: 1000,
  partitionGB: 10,
  tableRcu: 40_000,
  tableWcu: 40_000,
} as const;

/** Hours in a billing month as AWS counts them (8,760 / 12). */
export const HOURS_PER_MONTH = 730;
export const DAYS_PER_MONTH = HOURS_PER_MONTH / 24;
