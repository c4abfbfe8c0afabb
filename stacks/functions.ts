// One Lambda per deployed function of shared/declarations/functions.ts: Node.js 22 on arm64, bundled by SST,
// sized as declared (memory, timeout, reserved concurrency), X-Ray active tracing, its configuration
// in the environment, and an IAM role built from shared/declarations/grants.ts alone
// (plan.functionStatements) plus AWS's X-Ray write policy. `link` is used for sst.Secret only: a
// Secret's link grants no IAM action (its getSSTLink has no permission include), whereas linking
// tables or queues would grant SST's broad `*` actions on them.
import type { FunctionName } from '../shared/declarations/functions.js';
import type { Cache } from './cache.js';
import { arns, DEPLOY_TIME_ENV, functionStatements, logicalName, type FunctionPlan, type Plan } from './plan.js';

export interface FunctionInputs {
  account: $util.Output<string>;
  queues: Map<string, aws.sqs.Queue>;
  cache: Cache | undefined;
  /** The linked secrets by name (plan.LINKED_SECRETS). */
  secrets: Map<string, sst.Secret>;
  jwt: { issuer: $util.Input<string>; audiences: $util.Input<string>[] };
}

export function deployFunctions(plan: Plan, inputs: FunctionInputs): Map<FunctionName, sst.aws.Function> {
  const functions = new Map<FunctionName, sst.aws.Function>();
  for (const f of plan.functions) {
    const queueUrls = Object.fromEntries(
      Object.entries(f.queueUrls).map(([variable, key]) => {
        const queue = inputs.queues.get(key);
        if (!queue) throw new Error(`${f.fn} sends to queue ${key}, which is not deployed`);
        return [variable, queue.url];
      }),
    );
    const stateMachineArns = Object.fromEntries(
      Object.entries(f.stateMachineArns).map(([variable, w]) => [variable, inputs.account.apply((a) => arns(plan, a).stateMachine(w))]),
    );
    if (f.vpc && !inputs.cache) throw new Error(`${f.fn} needs the VPC, which is not deployed`);
    const fn = new sst.aws.Function(logicalName('Fn', f.fn), {
      name: f.name,
      description: `feedscale ${f.fn}`,
      handler: f.handler,
      runtime: 'nodejs22.x',
      architecture: 'arm64',
      memory: `${f.memoryMB} MB`,
      timeout: `${f.timeoutSeconds} seconds`,
      environment: {
        ...f.environment,
        ...queueUrls,
        ...stateMachineArns,
        [DEPLOY_TIME_ENV.jwtIssuer]: inputs.jwt.issuer,
        [DEPLOY_TIME_ENV.jwtAudience]: $resolve(inputs.jwt.audiences).apply((a) => a.join(',')),
        ...(f.vpc && inputs.cache && { [DEPLOY_TIME_ENV.redisUrl]: inputs.cache.url }),
      },
      permissions: inputs.account.apply((account) =>
        functionStatements(plan, f.fn, account).map((s) => ({
          effect: s.effect,
          actions: s.actions,
          resources: s.resources,
          ...(s.conditions && { conditions: s.conditions }),
        })),
      ),
      ...(f.vpc && inputs.cache && { vpc: inputs.cache.vpc }),
      logging: { retention: plan.target.production ? '3 months' : '1 month' },
      link: linkedSecrets(f, inputs.secrets),
      policies: f.managedPolicies,
      ...(f.reservedConcurrency !== undefined && { concurrency: { reserved: f.reservedConcurrency } }),
      transform: {
        // SST's Function has no tracing option: set the Lambda resource's tracing config.
        function: (args) => {
          args.tracingConfig = { mode: f.tracing };
        },
      },
    });
    functions.set(f.fn, fn);
  }
  return functions;
}

function linkedSecrets(f: FunctionPlan, secrets: Map<string, sst.Secret>): sst.Secret[] {
  return f.links.map((name) => {
    const secret = secrets.get(name);
    if (!secret) throw new Error(`${f.fn} links secret ${name}, which is not deployed`);
    return secret;
  });
}
