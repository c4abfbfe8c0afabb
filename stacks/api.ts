// The HTTP API (API Gateway v2) from shared/declarations/routes.ts, minus local-only routes, with a JWT
// authorizer on every route that declares auth. The issuer and audience come from
// FEED_JWT_ISSUER / FEED_JWT_AUDIENCE at deploy time (any OIDC issuer), or from a Cognito user
// pool the stage creates when they are unset. The `$default` stage throttles every route
// (plan.api.defaultThrottle) and the write routes tighter (plan.routes[].throttle).
// No X-Ray here: HTTP APIs do not support it (stacks/guardrails.ts API_XRAY_TRACING); traces start
// at the functions, and the API request id is the correlation id of every log line.
import type { FunctionName } from '../shared/declarations/functions.js';
import type { Throttle } from './guardrails.js';
import type { Plan } from './plan.js';

type RouteSetting = { routeKey: string; throttlingRateLimit: number; throttlingBurstLimit: number };
const routeSetting = (routeKey: string, t: Throttle): RouteSetting => ({ routeKey, throttlingRateLimit: t.rateLimit, throttlingBurstLimit: t.burstLimit });

export interface Jwt {
  issuer: $util.Input<string>;
  audiences: $util.Input<string>[];
  /** Set when the stage created its own user pool. */
  userPool?: sst.aws.CognitoUserPool;
  userPoolClient?: ReturnType<sst.aws.CognitoUserPool['addClient']>;
}

export function deployJwtIssuer(plan: Plan): Jwt {
  if (plan.target.jwt) return { issuer: plan.target.jwt.issuer, audiences: plan.target.jwt.audiences };
  const production = plan.target.production;
  const userPool = new sst.aws.CognitoUserPool(
    'Users',
    {
      usernames: ['email'],
      transform: {
        userPool: (args) => {
          args.deletionProtection = production ? 'ACTIVE' : 'INACTIVE';
        },
      },
    },
    // The pool holds every account's sign-in identity: kept on production stages.
    { retainOnDelete: production },
  );
  const userPoolClient = userPool.addClient('Api');
  return {
    issuer: $interpolate`https://cognito-idp.${plan.target.region}.amazonaws.com/${userPool.id}`,
    audiences: [userPoolClient.id],
    userPool,
    userPoolClient,
  };
}

export function deployApi(plan: Plan, functions: Map<FunctionName, sst.aws.Function>, jwt: Jwt): sst.aws.ApiGatewayV2 {
  // SST creates the stage before any route exists, and API Gateway refuses route settings for a
  // route it does not have: the per-route settings are an input the stage waits for, given once
  // the routes are declared and depending on them.
  let settle: (settings: $util.Input<RouteSetting[]>) => void = () => undefined;
  const routeSettings = new Promise<$util.Input<RouteSetting[]>>((resolve) => (settle = resolve));
  const { defaultThrottle } = plan.api;
  const api = new sst.aws.ApiGatewayV2('Api', {
    accessLog: { retention: plan.target.production ? '3 months' : '1 month' },
    transform: {
      stage: (args) => {
        args.defaultRouteSettings = { throttlingRateLimit: defaultThrottle.rateLimit, throttlingBurstLimit: defaultThrottle.burstLimit };
        args.routeSettings = $output(routeSettings);
      },
    },
  });
  const authorizer = api.addAuthorizer({ name: 'Jwt', jwt: { issuer: jwt.issuer, audiences: jwt.audiences } });
  const throttled: $util.Output<RouteSetting>[] = [];
  for (const r of plan.routes) {
    const fn = functions.get(r.fn);
    if (!fn) throw new Error(`route ${r.routeKey}: function ${r.fn} is not deployed`);
    const route = api.route(r.routeKey, fn.arn, r.auth ? { auth: { jwt: { authorizer: authorizer.id } } } : {});
    const throttle = r.throttle;
    if (throttle) throttled.push(route.nodes.route.routeKey.apply((key) => routeSetting(key, throttle)));
  }
  settle($util.all(throttled));
  return api;
}
