// feedctl, for on-call engineers: `executions list|show` read Step Functions executions and their
// state-by-state history through the real SDK — from the local stack's Step Functions API, or from
// AWS with --aws — and `stats` prints the running local stack's counters. `main()` takes its
// output sinks as arguments so tests run it in-process; the CLI entry is at the bottom.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
  type DescribeExecutionCommandOutput,
  type ExecutionListItem,
  type ExecutionStatus,
  type HistoryEvent,
  type StateMachineListItem,
} from '@aws-sdk/client-sfn';
import { MAPPINGS } from '../declarations/event-sources.js';
import { ROOT } from './lambda.js';
import { METRIC } from '../edge/observability.js';
import { WORKFLOWS } from '../../workflows/registry.js';


/** Executions listed when --limit is not given: one screenful. */
export const DEFAULT_LIST_LIMIT = 20;
/** ListExecutions and GetExecutionHistory return at most 1,000 items per page (AWS's maximum). */
const PAGE_MAX = 1000;
/** JSON shown per history event unless --full: about two terminal lines. */
export const PREVIEW_CHARS = 200;
/** The local stack answers in milliseconds; a longer wait means nothing useful is listening. */
const LOCAL_TIMEOUT_MS = 5_000;

const STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT'] as const;

export const USAGE = `usage: npm run feedctl -- <command> [flags]

commands
  executions list [--workflow NAME] [--status STATUS] [--limit N]
      executions newest first (default ${DEFAULT_LIST_LIMIT}): workflow, name, status, start, duration
  executions show <ARN | NAME> [--workflow NAME] [--full]
      one execution: status, input, output or error, then its history state by state
  stats
      the local stack's queues, streams, workflow runs, DynamoDB writes and cache hit rates
  region list | down <name> | up <name>
      the multi-region local stack (npm start -- --regions …): a region outage and its return
  reshard --to N | --move A-B --table N | --finish | --rollback | status
      grow the tables online (moving logical shards), finish or roll back, show progress
  analytics <query> [--since T] [--until T] [--format table|json|csv] [--zone Z]
      cross-shard queries over the analytics export (analytics --help lists them)

flags
  --aws             read AWS (default credential chain) instead of the local stack; not for stats
  --region R        AWS region with --aws (default AWS_REGION); locally, the region of a
                    multi-region stack (npm start -- --regions …) to read
  --endpoint URL    local Step Functions endpoint (default FEED_SFN_ENDPOINT, then the running
                    stack's <data-dir>/stack.json)
  --data-dir DIR    where npm start writes stack.json (default .local)
  --workflow NAME   ${Object.keys(WORKFLOWS).join(', ')} (in AWS the state machine
                    feedscale-<stage>-NAME)
  --status STATUS   ${STATUSES.join(', ')}
  --limit N         executions to list, 1 or more
  --full            JSON in full (default: cut at ${PREVIEW_CHARS} characters)`;

export interface FeedctlIo {
  /** Receives one line of output at a time, without its newline. */
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  /** Environment to read (default process.env). */
  env?: Record<string, string | undefined>;
  /** Directory a relative --data-dir is resolved from (default INIT_CWD, the shell's directory
   *  before npm changed into the project, then the process's). */
  cwd?: string;
}

/** Bad command line: usage text and exit 2. */
class UsageError extends Error {}
/** Something to tell the engineer in one line, exit 1. */
class FeedctlError extends Error {}

const OPTIONS = {
  aws: { type: 'boolean' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  'data-dir': { type: 'string' },
  workflow: { type: 'string' },
  status: { type: 'string' },
  limit: { type: 'string' },
  full: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;
type Flag = keyof typeof OPTIONS;
type Values = { [K in Flag]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

const COMMON_FLAGS: Flag[] = ['aws', 'region', 'endpoint', 'data-dir', 'help'];
const COMMANDS: Record<string, { positionals: number; flags: Flag[] }> = {
  'executions list': { positionals: 0, flags: [...COMMON_FLAGS, 'workflow', 'status', 'limit'] },
  'executions show': { positionals: 1, flags: [...COMMON_FLAGS, 'workflow', 'full'] },
  stats: { positionals: 0, flags: ['endpoint', 'data-dir', 'region', 'help'] },
};

export async function main(argv: string[], io: FeedctlIo): Promise<number> {
  // Analytics has its own flags and loads DuckDB: imported only when asked for.
  if (argv[0] === 'analytics') return (await import('./feedctl-analytics.js')).analyticsMain(argv.slice(1), io);
  if (argv[0] === 'region') return (await import('./feedctl-region.js')).regionMain(argv.slice(1), io);
  if (argv[0] === 'reshard') return (await import('./feedctl-reshard.js')).reshardMain(argv.slice(1), io);
  const env = io.env ?? process.env;
  let client: SFNClient | undefined;
  try {
    const { values, positionals } = parse(argv);
    if (values.help || positionals[0] === 'help') {
      USAGE.split('\n').forEach((l) => io.stdout(l));
      return 0;
    }
    const command = positionals[0] === 'executions' ? `executions ${positionals[1] ?? ''}`.trim() : (positionals[0] ?? '');
    const spec = COMMANDS[command];
    if (!spec) throw new UsageError(command ? `unknown command: ${command}` : 'no command given');
    const args = positionals.slice(command.split(' ').length);
    if (args.length !== spec.positionals) {
      throw new UsageError(spec.positionals ? `${command} takes one execution ARN or name` : `${command} takes no arguments (got ${args.join(' ')})`);
    }
    for (const flag of Object.keys(values) as Flag[]) {
      if (!spec.flags.includes(flag)) throw new UsageError(`--${flag} does not apply to ${command}${flag === 'aws' && command === 'stats' ? ' (stats reads the local stack only)' : ''}`);
    }
    if (values.aws && (values.endpoint || values['data-dir'])) throw new UsageError('--endpoint and --data-dir select the local stack; they do not go with --aws');

    if (command === 'stats') {
      const local = localEndpoint(values, env, io.cwd);
      await printStats(local, io);
      return 0;
    }
    const target = sfnTarget(values, env, io.cwd);
    client = target.client;
    if (command === 'executions list') await listCommand(target, values, io);
    else await showCommand(target, args[0]!, values, io);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`feedctl: ${err.message}`);
      USAGE.split('\n').forEach((l) => io.stderr(l));
      return 2;
    }
    io.stderr(`feedctl: ${describeError(err)}`);
    return 1;
  } finally {
    client?.destroy();
  }
}

function parse(argv: string[]): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    return { values: values as Values, positionals };
  } catch (err) {
    // parseArgs appends advice on positionals that start with '-'; the first sentence is the point.
    throw new UsageError((err as Error).message.split(/\.\s/)[0]!);
  }
}

// ---------------------------------------------------------------------------------------------
// Where to read: the local stack or AWS.

interface LocalEndpoint {
  url: string;
  /** Where the URL came from, for the "nothing is running" line. */
  source: string;
}

interface SfnTarget {
  client: SFNClient;
  /** "the local stack at …" or "AWS (eu-west-1)", for messages. */
  where: string;
  local?: LocalEndpoint;
}

/** --endpoint, then FEED_SFN_ENDPOINT, then the stack.json the running local stack wrote. */
function localEndpoint(values: Values, env: Record<string, string | undefined>, cwd: string | undefined): LocalEndpoint {
  if (values.endpoint) return { url: values.endpoint, source: '--endpoint' };
  if (env.FEED_SFN_ENDPOINT) return { url: env.FEED_SFN_ENDPOINT, source: 'FEED_SFN_ENDPOINT' };
  const dataDir = values['data-dir'] ? path.resolve(cwd ?? env.INIT_CWD ?? process.cwd(), values['data-dir']) : path.join(ROOT, '.local');
  const file = path.join(dataDir, 'stack.json');
  const relative = path.relative(cwd ?? env.INIT_CWD ?? process.cwd(), file);
  const shown = relative && !relative.startsWith('..') ? relative : file;
  const hint = 'start one with `npm start`, or read AWS with --aws';
  if (!existsSync(file)) throw new FeedctlError(`no local stack is running (${shown} not found); ${hint}`);
  let stack: { stepFunctions?: unknown; pid?: unknown; regions?: { name?: unknown; stepFunctions?: unknown; pid?: unknown }[] };
  try {
    stack = JSON.parse(readFileSync(file, 'utf8')) as typeof stack;
  } catch {
    throw new FeedctlError(`no local stack is running (${shown} is not valid JSON); ${hint}`);
  }
  if (typeof stack.pid === 'number' && !processAlive(stack.pid)) {
    throw new FeedctlError(`no local stack is running (${shown} was left by pid ${stack.pid}, which has exited); ${hint}`);
  }
  if (Array.isArray(stack.regions)) return regionEndpoint(stack.regions, values.region, shown);
  if (values.region) throw new UsageError(`--region selects a region of a multi-region local stack (npm start -- --regions …); ${shown} is one region (or add --aws)`);
  if (typeof stack.stepFunctions !== 'string') throw new FeedctlError(`${shown} names no Step Functions endpoint; restart the local stack with \`npm start\``);
  return { url: stack.stepFunctions, source: shown };
}

/** A multi-region local stack: the --region's own Step Functions API (each region runs its own). */
function regionEndpoint(regions: { name?: unknown; stepFunctions?: unknown; pid?: unknown }[], region: string | undefined, shown: string): LocalEndpoint {
  const names = regions.map((r) => String(r.name)).join(', ');
  if (!region) throw new UsageError(`the local stack runs several regions (${names}): name one with --region`);
  const entry = regions.find((r) => r.name === region);
  if (!entry) throw new UsageError(`--region ${region} is not a region of the local stack (${names})`);
  if (typeof entry.pid === 'number' && !processAlive(entry.pid)) throw new FeedctlError(`region ${region} is down (feedctl region up ${region} restarts it)`);
  if (typeof entry.stepFunctions !== 'string') throw new FeedctlError(`${shown} names no Step Functions endpoint for ${region}`);
  return { url: entry.stepFunctions, source: `${shown} (${region})` };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sfnTarget(values: Values, env: Record<string, string | undefined>, cwd: string | undefined): SfnTarget {
  if (values.aws) {
    const region = values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    // Without a region the SDK still looks in the shared config file (~/.aws/config).
    return { client: new SFNClient({ ...(region && { region }) }), where: `AWS${region ? ` (${region})` : ''}` };
  }
  const local = localEndpoint(values, env, cwd);
  const client = new SFNClient({
    endpoint: local.url,
    region: env.AWS_REGION ?? 'us-east-1',
    // The local API checks no signature, but the SDK signs every request.
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID || 'local', secretAccessKey: env.AWS_SECRET_ACCESS_KEY || 'local' },
    // Retrying a refused connection to an in-process server only delays the "not running" line.
    maxAttempts: 1,
    requestHandler: { connectionTimeout: LOCAL_TIMEOUT_MS, requestTimeout: LOCAL_TIMEOUT_MS },
  });
  return { client, where: `the local stack at ${local.url}`, local };
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** The error's code, or its cause's (fetch wraps socket errors in a TypeError). */
function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

function describeError(err: unknown): string {
  if (err instanceof FeedctlError) return err.message;
  const e = err as { name?: string; message?: string; $endpoint?: LocalEndpoint };
  if (e.$endpoint) {
    return `no local stack answers at ${e.$endpoint.url} (from ${e.$endpoint.source}); start one with \`npm start\`, or read AWS with --aws`;
  }
  if (e.name === 'CredentialsProviderError') return `no AWS credentials found (${e.message}); configure a profile or set AWS_PROFILE`;
  if (/region is missing/i.test(e.message ?? '')) return '--aws needs a region: pass --region or set AWS_REGION';
  return `${e.name ?? 'Error'}: ${e.message ?? String(err)}`;
}

/** Runs a call against the target, turning "nothing listens there" into one line. */
async function reach<T>(target: SfnTarget | LocalEndpoint, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const local = 'url' in target ? target : target.local;
    const timedOut = (err as Error).name === 'TimeoutError';
    if (local && (UNREACHABLE.has(errorCode(err) ?? '') || timedOut)) throw Object.assign(new Error('unreachable'), { $endpoint: local });
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// State machines and executions.

const KNOWN_WORKFLOWS = Object.keys(WORKFLOWS);

/** The workflow a state machine runs: its own name locally, `feedscale-<stage>-<workflow>` in AWS
 *  (stages may contain hyphens, so the longest known suffix wins). */
export function workflowOf(machineName: string): string | undefined {
  if (KNOWN_WORKFLOWS.includes(machineName)) return machineName;
  return KNOWN_WORKFLOWS.filter((w) => machineName.endsWith(`-${w}`)).sort((a, b) => b.length - a.length)[0];
}

/** Whether a state machine is one of feedscale's, or the given workflow's (the suffix, or its
 *  full name). */
export function machineMatches(machineName: string, workflow: string | undefined): boolean {
  if (!workflow) return workflowOf(machineName) !== undefined;
  if (machineName === workflow) return true;
  // A name this checkout does not know (a workflow deployed from a newer one) matches by suffix,
  // but never a state machine that runs a known workflow ("fanout" is not celebrity-fanout).
  const known = workflowOf(machineName);
  return known ? known === workflow : machineName.endsWith(`-${workflow}`);
}

async function stateMachines(target: SfnTarget, workflow: string | undefined): Promise<StateMachineListItem[]> {
  const all: StateMachineListItem[] = [];
  let nextToken: string | undefined;
  do {
    const page = await reach(target, () => target.client.send(new ListStateMachinesCommand({ nextToken })));
    all.push(...(page.stateMachines ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  const matched = all.filter((m) => machineMatches(m.name ?? '', workflow));
  if (!matched.length) {
    const names = all.map((m) => m.name).join(', ') || 'none';
    throw new FeedctlError(`no state machine ${workflow ? `for workflow ${workflow}` : 'of feedscale'} in ${target.where} (state machines: ${names})`);
  }
  return matched;
}

const machineNameOf = (arn: string | undefined) => arn?.split(':stateMachine:')[1]?.split(':')[0] ?? arn ?? '';

async function listCommand(target: SfnTarget, values: Values, io: FeedctlIo): Promise<void> {
  const status = values.status?.toUpperCase();
  if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) {
    throw new UsageError(`--status must be one of ${STATUSES.join(', ')} (got ${values.status})`);
  }
  const limit = values.limit === undefined ? DEFAULT_LIST_LIMIT : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a whole number from 1 (got ${values.limit})`);

  const machines = await stateMachines(target, values.workflow);
  const perMachine = await Promise.all(
    machines.map(async (m) => {
      const found: ExecutionListItem[] = [];
      let nextToken: string | undefined;
      do {
        const page = await reach(target, () =>
          target.client.send(
            new ListExecutionsCommand({
              stateMachineArn: m.stateMachineArn,
              ...(status && { statusFilter: status as ExecutionStatus }),
              maxResults: Math.min(PAGE_MAX, limit - found.length),
              nextToken,
            }),
          ),
        );
        found.push(...(page.executions ?? []));
        nextToken = page.nextToken;
      } while (nextToken && found.length < limit);
      return found;
    }),
  );
  const executions = perMachine
    .flat()
    .sort((a, b) => (b.startDate?.getTime() ?? 0) - (a.startDate?.getTime() ?? 0))
    .slice(0, limit);
  if (!executions.length) {
    io.stdout(`no ${status ? `${status} ` : ''}executions of ${machines.map((m) => m.name).join(', ')}`);
    return;
  }
  const now = Date.now();
  const rows = executions.map((e) => [
    machineNameOf(e.stateMachineArn),
    e.name ?? '',
    e.status ?? '',
    e.startDate ? isoSeconds(e.startDate) : '',
    e.startDate ? (e.stopDate ? duration(e.stopDate.getTime() - e.startDate.getTime()) : `${duration(now - e.startDate.getTime())} so far`) : '',
  ]);
  table([['WORKFLOW', 'EXECUTION', 'STATUS', 'STARTED (UTC)', 'DURATION'], ...rows]).forEach((l) => io.stdout(l));
}

/** An ARN as given, or a bare name looked up as an execution of each matching state machine
 *  (DescribeExecution on the ARN it would have, which costs one call per state machine instead
 *  of paging through every execution). */
async function resolveExecution(target: SfnTarget, ref: string, workflow: string | undefined): Promise<DescribeExecutionCommandOutput> {
  const describe = (executionArn: string) => reach(target, () => target.client.send(new DescribeExecutionCommand({ executionArn })));
  if (ref.startsWith('arn:')) {
    try {
      return await describe(ref);
    } catch (err) {
      if ((err as Error).name === 'ExecutionDoesNotExist') throw new FeedctlError(`no execution ${ref} in ${target.where}`);
      throw err;
    }
  }
  const machines = await stateMachines(target, workflow);
  const found = (
    await Promise.all(
      machines.map(async (m) => {
        try {
          return await describe(`${m.stateMachineArn!.replace(':stateMachine:', ':execution:')}:${ref}`);
        } catch (err) {
          if (['ExecutionDoesNotExist', 'InvalidArn'].includes((err as Error).name)) return undefined;
          throw err;
        }
      }),
    )
  ).filter((e): e is DescribeExecutionCommandOutput => e !== undefined);
  if (found.length === 1) return found[0]!;
  if (!found.length) throw new FeedctlError(`no execution named ${ref} in ${machines.map((m) => m.name).join(', ')} (${target.where})`);
  throw new FeedctlError(`${ref} names executions of several state machines; pass one ARN: ${found.map((e) => e.executionArn).join(' ')}`);
}

async function showCommand(target: SfnTarget, ref: string, values: Values, io: FeedctlIo): Promise<void> {
  const full = values.full === true;
  const execution = await resolveExecution(target, ref, values.workflow);
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await reach(target, () =>
      target.client.send(new GetExecutionHistoryCommand({ executionArn: execution.executionArn, maxResults: PAGE_MAX, includeExecutionData: true, nextToken })),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);

  const start = execution.startDate;
  const header: [string, string][] = [
    ['execution', execution.name ?? ''],
    ['arn', execution.executionArn ?? ''],
    ['workflow', machineNameOf(execution.stateMachineArn)],
    ['status', execution.status ?? ''],
    ['started', start ? start.toISOString() : ''],
  ];
  if (execution.stopDate) header.push(['stopped', `${execution.stopDate.toISOString()}  (${start ? duration(execution.stopDate.getTime() - start.getTime()) : '?'})`]);
  header.push(['input', preview(execution.input ?? '', full)]);
  if (execution.output !== undefined) header.push(['output', preview(execution.output, full)]);
  // The error and cause are what the on-call engineer came for: never cut. AWS reports the same
  // pair in DescribeExecution and in the closing event; the closing event is preferred because
  // it is the failing state's own (the local stack's DescribeExecution may wrap it).
  const closing = events.findLast((e) => /^Execution(Failed|Aborted|TimedOut)$/.test(e.type ?? '') && (e.executionFailedEventDetails ?? e.executionAbortedEventDetails ?? e.executionTimedOutEventDetails));
  const failure = closing?.executionFailedEventDetails ?? closing?.executionAbortedEventDetails ?? closing?.executionTimedOutEventDetails;
  const error = failure?.error ?? execution.error;
  const cause = failure?.cause ?? execution.cause;
  if (error !== undefined) header.push(['error', error]);
  if (cause !== undefined) header.push(['cause', preview(cause, true)]);
  header.push(['history', `${events.length} events`]);
  for (const [k, v] of header) io.stdout(`${k.padEnd(10)}${v}`);
  io.stdout('');
  renderHistory(events, start, { full }).forEach((l) => io.stdout(l));
}

// ---------------------------------------------------------------------------------------------
// History rendering. Events link to their cause through previousEventId (in AWS, an event inside
// a Map iteration points back along its iteration to MapIterationStarted), which is how an event
// is attributed to its state and its iteration index even when iterations interleave.

/** The event's `…EventDetails` member (AWS sets exactly one per event, matching its type). */
function detailsOf(e: HistoryEvent): Record<string, unknown> | undefined {
  for (const [k, v] of Object.entries(e)) {
    if (k.endsWith('EventDetails') && v && typeof v === 'object') return v as Record<string, unknown>;
  }
  return undefined;
}

const ITERATION_END = /^MapIteration(Succeeded|Failed|Aborted)$/;
const OUTSIDE_ITERATION = /^(Execution\w+|Map(State)?(Entered|Started))$/;

export interface HistoryOptions {
  full: boolean;
}

export function renderHistory(events: HistoryEvent[], start: Date | undefined, opts: HistoryOptions): string[] {
  const sorted = [...events].sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  const causal = linksAreCausal(sorted);
  // What an event passes on to the events caused by it: the iteration it runs in and the state.
  const iterationAfter = new Map<number, number | undefined>();
  const stateAfter = new Map<number, string | undefined>();
  const t0 = start?.getTime() ?? sorted[0]?.timestamp?.getTime() ?? 0;
  const rows: string[][] = [];
  for (const e of sorted) {
    const type = e.type ?? '';
    const d = detailsOf(e);
    const prev = e.previousEventId ?? 0;
    const ownIndex = type.startsWith('MapIteration') && typeof d?.index === 'number' ? d.index : undefined;
    const index = ownIndex ?? (causal ? iterationAfter.get(prev) : undefined);
    const ownName = typeof d?.name === 'string' ? d.name : undefined;
    // The local stack names a failed Task's state in `resource`; AWS puts "invoke" or an ARN there.
    const resourceName = typeof d?.resource === 'string' && d.resource !== 'invoke' && !d.resource.includes(':') ? d.resource : undefined;
    // Execution-level events belong to no state.
    const inherited = causal && !type.startsWith('Execution') ? stateAfter.get(prev) : undefined;
    const state = ownName ?? inherited ?? resourceName;

    const id = e.id ?? 0;
    iterationAfter.set(id, type === 'MapIterationStarted' ? ownIndex : ITERATION_END.test(type) || OUTSIDE_ITERATION.test(type) ? undefined : index);
    // After an iteration event come the Map state's own events (MapStateSucceeded and the like).
    stateAfter.set(id, e.stateEnteredEventDetails || type.startsWith('MapIteration') ? ownName : e.stateExitedEventDetails || type.startsWith('Execution') ? undefined : state);

    const label = state === undefined ? '' : index === undefined ? state : `${state}[${index}]`;
    const rel = e.timestamp ? `+${((e.timestamp.getTime() - t0) / 1000).toFixed(3)}s` : '';
    rows.push([rel, type, label, eventDetail(e, d, opts.full)]);
  }
  const widths = [0, 1, 2].map((c) => Math.max(0, ...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => [r[0]!.padStart(widths[0]!), r[1]!.padEnd(widths[1]!), r[2]!.padEnd(widths[2]!), r[3]!].join('  ').trimEnd());
  if (!causal) lines.push('(events inside concurrent Map iterations are not marked with their index: this history links each event to the one before it, not to its cause)');
  return lines;
}

/** False when Map iterations overlap yet every event points at the one just before it: such links
 *  record order, not cause (a causal history of overlapping iterations must jump back somewhere),
 *  and following them would put events in the wrong iteration. */
function linksAreCausal(sorted: HistoryEvent[]): boolean {
  let open = 0;
  let overlap = false;
  for (const e of sorted) {
    if (e.type === 'MapIterationStarted') overlap ||= ++open > 1;
    else if (ITERATION_END.test(e.type ?? '')) open = Math.max(0, open - 1);
  }
  const sequential = sorted.every((e, i) => i === 0 || e.previousEventId === (e.id ?? 0) - 1);
  return !(overlap && sequential);
}

function eventDetail(e: HistoryEvent, d: Record<string, unknown> | undefined, full: boolean): string {
  if (e.stateEnteredEventDetails) return `input ${preview(e.stateEnteredEventDetails.input ?? '', full)}`;
  if (e.stateExitedEventDetails) return `output ${preview(e.stateExitedEventDetails.output ?? '', full)}`;
  if (e.executionStartedEventDetails) return `input ${preview(e.executionStartedEventDetails.input ?? '', full)}`;
  if (e.executionSucceededEventDetails) return `output ${preview(e.executionSucceededEventDetails.output ?? '', full)}`;
  if (d && (d.error !== undefined || d.cause !== undefined)) {
    const cause = d.cause === undefined || d.cause === '' ? '' : `: ${preview(String(d.cause), full)}`;
    return `error ${String(d.error ?? '')}${cause}`;
  }
  return '';
}

/** JSON on one line, cut at PREVIEW_CHARS code points unless `full`. */
export function preview(text: string, full: boolean): string {
  let line = text;
  try {
    line = JSON.stringify(JSON.parse(text));
  } catch {
    line = text.replace(/\s*\n\s*/g, ' ');
  }
  const chars = [...line];
  if (full || chars.length <= PREVIEW_CHARS) return line;
  return `${chars.slice(0, PREVIEW_CHARS).join('')}… (${chars.length} characters; --full shows all)`;
}

// ---------------------------------------------------------------------------------------------
// stats

async function printStats(local: LocalEndpoint, io: FeedctlIo): Promise<void> {
  const url = `${local.url.replace(/\/$/, '')}/feedscale/stats`;
  const res = await reach(local, () => fetch(url, { signal: AbortSignal.timeout(LOCAL_TIMEOUT_MS) }));
  if (!res.ok) throw new FeedctlError(`${url} answered ${res.status}; is that endpoint a feedscale local stack?`);
  const stats = (await res.json()) as Record<string, unknown>;
  renderStats(stats).forEach((l) => io.stdout(l));
}

const STREAM_MAPPINGS = MAPPINGS.filter((m) => m.kind === 'stream');
/** Cache tiers and their counters in the handlers' metrics, keyed as metricsSnapshot's
 *  cacheHitRate: overall = first feed pages served from either tier, l2 = after an L1 miss. */
const CACHE_COUNTERS = [
  ['overall', METRIC.cacheHit, METRIC.cacheMiss],
  ['l1', METRIC.l1Hit, METRIC.l1Miss],
  ['l2', METRIC.l2Hit, METRIC.l2Miss],
] as const;
const num = (v: unknown) => (typeof v === 'number' ? v : 0);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The local stack's counters as aligned lines. Sections it does not know (a newer stack's) are
 *  still shown: objects counting hits and misses as cache tiers with their hit rate, anything
 *  else as JSON on one line. */
export function renderStats(stats: Record<string, unknown>): string[] {
  const lines: string[] = [];
  const line = (section: string, text: string) => lines.push(`${section.padEnd(11)}${text}`.trimEnd());

  const queues = isRecord(stats.queues) ? Object.entries(stats.queues) : [];
  const qWidth = Math.max(0, ...queues.map(([n]) => n.length));
  for (const [name, q] of queues) {
    const s = isRecord(q) ? q : {};
    line('queue', `${name.padEnd(qWidth)}  waiting ${num(s.waiting)}  in flight ${num(s.inFlight)}  dead letters ${num(s.deadLetters)}`);
  }
  if (isRecord(stats.queues) && !queues.length) line('queue', 'none');

  const streams = Array.isArray(stats.streams) ? stats.streams : [];
  const label = (s: Record<string, unknown>, i: number) => {
    const named = s.name ?? s.entity;
    if (typeof named === 'string') return typeof s.fn === 'string' ? `${named} → ${s.fn}` : named;
    // The local stack starts one poller per stream mapping, in MAPPINGS order.
    const m = streams.length <= STREAM_MAPPINGS.length ? STREAM_MAPPINGS[i] : undefined;
    return m ? `${m.entity} → ${m.fn}` : `#${i + 1}`;
  };
  const sLabels = streams.map((s, i) => label(isRecord(s) ? s : {}, i));
  const sWidth = Math.max(0, ...sLabels.map((l) => l.length));
  streams.forEach((s, i) => {
    const r = isRecord(s) ? s : {};
    line('stream', `${sLabels[i]!.padEnd(sWidth)}  delivered ${num(r.delivered)}  failures ${num(r.failures)}`);
  });

  if (isRecord(stats.workflows)) {
    const order = (k: string) => ((STATUSES as readonly string[]).indexOf(k) + 1 || 99);
    const runs = Object.entries(stats.workflows).sort(([a], [b]) => order(a) - order(b));
    const total = runs.reduce((n, [, v]) => n + num(v), 0);
    line('workflows', runs.length ? `${total} run${total === 1 ? '' : 's'}: ${runs.map(([k, v]) => `${k} ${num(v)}`).join('  ')}` : 'no runs yet');
  }
  if (stats.dynamodbWrites !== undefined) line('dynamodb', `${num(stats.dynamodbWrites)} writes`);

  const known = new Set(['queues', 'streams', 'workflows', 'dynamodbWrites', 'metrics']);
  const tiers: { name: string; hits: number; misses: number; rate: number | undefined; extra: [string, unknown][] }[] = [];
  const other: [string, unknown][] = [];

  // The handlers' metrics (shared/edge/observability.ts metricsSnapshot): cache tiers from their
  // hit and miss counters, feed latency, then every other counter.
  const metrics = isRecord(stats.metrics) ? stats.metrics : undefined;
  const counters = isRecord(metrics?.counters) ? metrics.counters : {};
  const rates = isRecord(metrics?.cacheHitRate) ? metrics.cacheHitRate : {};
  const used = new Set<string>();
  for (const [tier, hitKey, missKey] of CACHE_COUNTERS) {
    if (!(hitKey in counters) && !(missKey in counters) && !(tier in rates)) continue;
    used.add(hitKey).add(missKey);
    const hits = num(counters[hitKey]);
    const misses = num(counters[missKey]);
    const given = rates[tier];
    tiers.push({ name: tier, hits, misses, rate: typeof given === 'number' ? given : hits + misses ? hits / (hits + misses) : undefined, extra: [] });
  }

  // Any other object counting hits and misses (a newer stack's) is a cache tier too.
  const findTiers = (v: unknown, at: string[]): boolean => {
    if (!isRecord(v)) return false;
    if (typeof v.hits === 'number' && typeof v.misses === 'number') {
      const rate = typeof v.hitRate === 'number' ? v.hitRate : v.hits + v.misses ? v.hits / (v.hits + v.misses) : undefined;
      const extra = Object.entries(v).filter(([k, x]) => !['hits', 'misses', 'hitRate'].includes(k) && ['number', 'boolean'].includes(typeof x));
      tiers.push({ name: at.filter((k) => !/^caches?$/i.test(k)).join('.') || 'cache', hits: v.hits, misses: v.misses, rate, extra });
      return true;
    }
    let any = false;
    for (const [k, child] of Object.entries(v)) any = findTiers(child, [...at, k]) || any;
    return any;
  };
  for (const [key, value] of Object.entries(stats)) {
    if (known.has(key)) continue;
    if (!findTiers(value, [key])) other.push([key, value]);
  }
  const tWidth = Math.max(0, ...tiers.map((t) => t.name.length));
  for (const t of tiers) {
    const rate = t.rate === undefined ? '-' : `${(t.rate * 100).toFixed(1)}%`;
    line('cache', `${t.name.padEnd(tWidth)}  hits ${t.hits}  misses ${t.misses}  hit rate ${rate}${t.extra.map(([k, v]) => `  ${k} ${String(v)}`).join('')}`);
  }

  const timings = isRecord(metrics?.timings) ? Object.entries(metrics.timings) : [];
  const lWidth = Math.max(0, ...timings.map(([k]) => k.length));
  for (const [name, t] of timings) {
    const r = isRecord(t) ? t : {};
    line('latency', `${name.padEnd(lWidth)}  count ${num(r.count)}  avg ${num(r.avgMs)} ms  p95 ${num(r.p95Ms)} ms  max ${num(r.maxMs)} ms`);
  }
  const rest = Object.entries(counters).filter(([k]) => !used.has(k));
  const mWidth = Math.max(0, ...rest.map(([k]) => k.length));
  for (const [name, value] of rest) line('metric', `${name.padEnd(mWidth)}  ${String(value)}`);
  for (const [key, value] of Object.entries(metrics ?? {})) {
    if (!['counters', 'timings', 'cacheHitRate'].includes(key)) other.push([`metrics.${key}`, value]);
  }

  for (const [key, value] of other) line(key, typeof value === 'string' ? value : JSON.stringify(value));
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Formatting.

function isoSeconds(d: Date): string {
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  '));
}

// ---------------------------------------------------------------------------------------------

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // `feedctl … | head` closes the pipe early; that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  process.exitCode = await main(process.argv.slice(2), {
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
  });
}
