// A stand-in for the globals SST gives stacks/ at deploy time (sst, aws, $util, $interpolate,
// $resolve, $output): each component records its name and arguments and outputs are plain values,
// so a test can run a stacks module and see what it would ask Pulumi to create, without Pulumi.
// Only what stacks/functions.ts, api.ts, mappings.ts, workflows.ts and schedules.ts use is provided.

/** A resolved Pulumi Output: `value` may be a Promise (an input the resource waits for). */
export class FakeOutput<T = unknown> {
  constructor(readonly value: T) {}
  apply<U>(f: (v: T) => U): FakeOutput<unknown> {
    return out(f(this.value));
  }
}

function unwrap(v: unknown): unknown {
  if (v instanceof FakeOutput) return unwrap(v.value);
  if (Array.isArray(v)) return v.map(unwrap);
  return v;
}
const out = (v: unknown): FakeOutput<unknown> => (v instanceof FakeOutput ? v : new FakeOutput(unwrap(v)));

/** Resolves an Output-or-value, awaiting a pending input. */
export async function resolved(v: unknown): Promise<unknown> {
  const inner = v instanceof FakeOutput ? v.value : v;
  const awaited = inner instanceof Promise ? await inner : inner;
  return awaited instanceof FakeOutput || awaited instanceof Promise ? resolved(awaited) : unwrap(awaited);
}

export interface Created {
  type: string;
  name: string;
  args: Record<string, unknown>;
}

type Args = Record<string, unknown>;

/** Installs the globals; returns what the modules create, in order. */
export function installFakeSst(): Created[] {
  const created: Created[] = [];
  const record = (type: string) =>
    class {
      readonly arn: FakeOutput;
      readonly url: FakeOutput;
      readonly id: FakeOutput;
      readonly streamArn: FakeOutput;
      readonly value: FakeOutput;
      constructor(name: string, args: Args = {}) {
        created.push({ type, name, args });
        this.arn = out(`arn:${type}:${name}`);
        this.url = out(`https://${type}/${name}`);
        this.id = out(`${name}-id`);
        this.streamArn = out(`arn:stream:${name}`);
        this.value = out(`secret:${name}`);
      }
    };
  class ApiGatewayV2 extends record('sst.aws.ApiGatewayV2') {
    constructor(name: string, args: Args = {}) {
      super(name, args);
      const stage: Args = {};
      (args.transform as { stage?: (a: Args) => void } | undefined)?.stage?.(stage);
      created.push({ type: 'stage', name: `${name}Stage`, args: stage });
    }
    addAuthorizer(args: Args) {
      created.push({ type: 'authorizer', name: String(args.name), args });
      return { id: out('authorizer-id') };
    }
    route(routeKey: string, handler: unknown, args: Args = {}) {
      created.push({ type: 'route', name: routeKey, args: { handler, ...args } });
      return { nodes: { route: { routeKey: out(routeKey) } } };
    }
  }
  const g = globalThis as Record<string, unknown>;
  // No sst.aws.Cron: it is deprecated, and a module still using it fails here.
  g.sst = { Secret: record('sst.Secret'), aws: { Function: record('sst.aws.Function'), ApiGatewayV2, CronV2: record('sst.aws.CronV2') } };
  g.aws = {
    lambda: { EventSourceMapping: record('aws.lambda.EventSourceMapping') },
    sfn: { StateMachine: record('aws.sfn.StateMachine') },
    cloudwatch: { LogGroup: record('aws.cloudwatch.LogGroup'), EventRule: record('aws.cloudwatch.EventRule'), EventTarget: record('aws.cloudwatch.EventTarget') },
    iam: { Role: record('aws.iam.Role') },
  };
  g.$interpolate = (strings: TemplateStringsArray, ...values: unknown[]) => out(strings.reduce((acc, s, i) => acc + s + (i < values.length ? String(unwrap(values[i])) : ''), ''));
  g.$resolve = (v: unknown) => out(v);
  g.$output = (v: unknown) => out(v);
  g.$util = { all: (v: unknown) => out(v) };
  return created;
}

export { out as fakeOutput };
