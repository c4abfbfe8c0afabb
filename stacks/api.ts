// The HTTP API (API Gateway v2) from shared/declarations/routes.ts, minus local-only routes, with a JWT
// authorizer on every route that declares auth. The issuer and audience come from
// FEED_JWT_ISSUER / FEED_JWT_AUDIENCE at deploy time (any OIDC issuer), or from a Cognito user
// pool the stage creates when they are unset.
import type { FunctionName } from '../shared/declarations/functions.js';
import type { Plan } from './plan.js';

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
  const api = new sst.aws.ApiGatewayV2('Api', {
    accessLog: { retention: plan.target.production ? '3 months' : '1 month' },
  });
  const authorizer = api.addAuthorizer({ name: 'Jwt', jwt: { issuer: jwt.issuer, audiences: jwt.audiences } });
  for (const r of plan.routes) {
    const fn = functions.get(r.fn);
    if (!fn) throw new Error(`route ${r.routeKey}: function ${r.fn} is not deployed`);
    api.route(r.routeKey, fn.arn, r.auth ? { auth: { jwt: { authorizer: authorizer.id } } } : {});
  }
  return api;
}
