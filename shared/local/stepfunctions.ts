// Step Functions for the local stack: the workflows of workflows/registry.ts run with
// aws-local-stepfunctions, their Task resources bound to the local handlers, behind a small
// server that speaks the Step Functions API (StartExecution, DescribeExecution, ListExecutions,
// GetExecutionHistory, ListStateMachines), so handlers and feedctl use the real SDK client
// against it exactly as they do against AWS. Scheduled workflows start on timers.
// With data kept, starts and ends of executions are journalled (journal.ts), as Step Functions
// keeps them: StartExecution answers only once the start is on disk, and after a kill -9 every
// execution that was running is restarted from its input under the same ARN. A restart re-runs
// tasks that had already run, which is safe because every Task is idempotent (feed writes and
// cache pages are keyed by post and user, digests by window and recipient, see the functions).
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { StateMachine } from 'aws-local-stepfunctions';
import { config } from '../edge/config.js';
import type { FunctionName } from '../declarations/functions.js';
import { WORKFLOWS, type WorkflowName } from '../../workflows/registry.js';
import { taskStates } from '../../workflows/asl.js';
import { invoke } from './lambda.js';
import { FileJournal, MemoryJournal, readJournal, type Journal } from './journal.js';

/** The library's execution event (it does not export the type). */
type EventLog = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: string;
  [details: string]: unknown;
}

export interface Execution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  startDate: number;
  stopDate?: number;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  history: HistoryEvent[];
}

class ApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const ACCOUNT = '000000000000';
/** Windows a late schedule timer starts at most, the one due included. */
export const SCHEDULE_CATCH_UP = 5;

/** One change to the executions, as journalled (history stays in memory: a restarted execution
 *  begins a new one). */
export type WorkflowRecord =
  | { op: 'start'; arn: string; sm: string; name: string; input: string; startDate: number; scheduled?: true }
  | { op: 'end'; arn: string; status: Execution['status']; stopDate: number; output?: string; error?: string; cause?: string };

/** Finished executions a compacted journal keeps per state machine: enough for feedctl's recent
 *  runs and the schedules' last window, while the file stays small however long the stack ran. */
const FINISHED_KEPT = 500;
/** Journal size that triggers a rewrite to the kept executions (~5,000 starts and ends). */
const COMPACT_AFTER_BYTES = 2 * 1024 * 1024;

const stringify = (v: unknown) => JSON.stringify(v ?? null);

function endOf(e: Execution): WorkflowRecord {
  return { op: 'end', arn: e.executionArn, status: e.status, stopDate: e.stopDate ?? Date.now() / 1000, output: e.output, error: e.error, cause: e.cause };
}

function startAndEnd(e: Execution, scheduled: boolean): WorkflowRecord[] {
  const start: WorkflowRecord = { op: 'start', arn: e.executionArn, sm: e.stateMachineArn, name: e.name, input: e.input, startDate: e.startDate, ...(scheduled && { scheduled: true as const }) };
  return e.status === 'RUNNING' ? [start] : [start, endOf(e)];
}

function toHistory(e: EventLog, id: number, previousEventId: number): HistoryEvent {
  const base = { id, previousEventId, timestamp: e.timestamp / 1000 };
  const stateType = 'state' in e ? e.state.type : 'parentState' in e ? e.parentState.type : '';
  switch (e.type) {
    case 'ExecutionStarted':
      return { ...base, type: 'ExecutionStarted', executionStartedEventDetails: { input: stringify(e.input) } };
    case 'ExecutionSucceeded':
      return { ...base, type: 'ExecutionSucceeded', executionSucceededEventDetails: { output: stringify(e.output) } };
    case 'ExecutionFailed':
      return { ...base, type: 'ExecutionFailed', executionFailedEventDetails: { error: e.Error, cause: String(e.Cause ?? '') } };
    case 'StateEntered':
      return { ...base, type: `${stateType}StateEntered`, stateEnteredEventDetails: { name: e.state.name, input: stringify(e.state.input) } };
    case 'StateExited':
      return { ...base, type: `${stateType}StateExited`, stateExitedEventDetails: { name: e.state.name, output: stringify(e.state.output) } };
    case 'StateFailed':
      return { ...base, type: stateType === 'Task' ? 'TaskFailed' : 'ExecutionFailed', taskFailedEventDetails: { resourceType: 'lambda', resource: e.state.name, error: e.Error, cause: String(e.Cause ?? '') } };
    case 'StateRetried':
      return { ...base, type: 'TaskFailed', taskFailedEventDetails: { resourceType: 'lambda', resource: e.state.name, error: 'States.Retry', cause: `attempt ${e.retry.attempt} of ${e.state.name}` } };
    case 'StateCaught':
      return { ...base, type: 'TaskFailed', taskFailedEventDetails: { resourceType: 'lambda', resource: e.state.name, error: 'States.Caught', cause: `caught in ${e.state.name}` } };
    case 'MapIterationStarted':
    case 'MapIterationSucceeded':
    case 'MapIterationFailed':
      return { ...base, type: e.type, mapIterationStartedEventDetails: { name: e.parentState.name, index: e.index }, ...('Error' in e && { error: e.Error, cause: String(e.Cause ?? '') }) };
    default:
      return { ...base, type: e.type };
  }
}

type Target = { name: WorkflowName; machine: StateMachine; handlers: Record<string, (input: unknown) => Promise<unknown>> };

export class LocalStepFunctions {
  private readonly machines = new Map<string, Target>();
  readonly executions = new Map<string, Execution>();
  private readonly running = new Set<Promise<unknown>>();
  /** Aborts each execution still running (stop() uses them once its grace period is over). */
  private readonly aborts = new Set<() => void>();
  private stopping = false;
  /** Runs started by something other than a schedule: what "idle" waits for. */
  private readonly triggered = new Set<Promise<unknown>>();
  /** Journal writes of starts not yet durable, by execution ARN. */
  private readonly storing = new Map<string, Promise<void>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private scheduling = true;
  private server: http.Server | undefined;
  private compacting: Promise<void> | undefined;
  /** Executions whose run is in progress in this process (a replayed RUNNING one is not, yet). */
  private readonly live = new WeakSet<Execution>();
  /** Executions a schedule started (not waited for by idle()). */
  private readonly scheduledArns = new Set<string>();
  endpoint = '';

  constructor(
    private readonly journal: Journal<WorkflowRecord> = new MemoryJournal(),
    replay: WorkflowRecord[] = [],
  ) {
    for (const name of Object.keys(WORKFLOWS) as WorkflowName[]) {
      const definition = WORKFLOWS[name].definition();
      const handlers = Object.fromEntries(
        Object.entries(taskStates(definition)).map(([state, fn]) => [state, (input: unknown) => invoke(fn, input)]),
      );
      // Not validated again here: tests/unit/workflows.test.ts validates every definition with
      // asl-validator, the library's own validator, and here it cost each stack start ~2.2 s (its
      // JSON schemas compiled), which the tests pay at every start of a stack or a region.
      const machine = new StateMachine(definition as never, { validationOptions: { noValidate: true } });
      this.machines.set(this.arnOf(name), { name, machine, handlers });
    }
    for (const r of replay) this.replay(r);
  }

  /** Executions that survive a kill -9: replayed from `file`, journalled to it. Call resume()
   *  once the handlers can run to restart the ones that were running. */
  static async durable(file: string): Promise<LocalStepFunctions> {
    const records = readJournal<WorkflowRecord>(file);
    const replayed = new LocalStepFunctions(new MemoryJournal(), records);
    return new LocalStepFunctions(await FileJournal.open(file, replayed.kept()), replayed.kept());
  }

  private replay(r: WorkflowRecord): void {
    if (r.op === 'start') {
      if (this.executions.has(r.arn)) return;
      this.executions.set(r.arn, { executionArn: r.arn, stateMachineArn: r.sm, name: r.name, status: 'RUNNING', startDate: r.startDate, input: r.input, history: [] });
      if (r.scheduled) this.scheduledArns.add(r.arn);
      return;
    }
    const e = this.executions.get(r.arn);
    if (!e) return;
    Object.assign(e, { status: r.status, stopDate: r.stopDate, output: r.output, error: r.error, cause: r.cause });
  }

  /** The journal's compacted content: running executions and the latest finished ones. */
  private kept(): WorkflowRecord[] {
    const finished = new Map<string, Execution[]>();
    for (const e of this.executions.values()) {
      if (e.status === 'RUNNING') continue;
      const list = finished.get(e.stateMachineArn) ?? [];
      list.push(e);
      finished.set(e.stateMachineArn, list);
    }
    const dropped = new Set([...finished.values()].flatMap((list) => list.sort((a, b) => b.startDate - a.startDate).slice(FINISHED_KEPT)));
    return [...this.executions.values()].filter((e) => !dropped.has(e)).flatMap((e) => startAndEnd(e, this.scheduledArns.has(e.executionArn)));
  }

  /** Restarts, from their input, the executions a kill left running. */
  resume(): number {
    let n = 0;
    for (const e of this.executions.values()) {
      const target = this.machines.get(e.stateMachineArn);
      if (e.status !== 'RUNNING' || this.live.has(e) || !target) continue;
      this.run(target, e, JSON.parse(e.input || '{}'), this.scheduledArns.has(e.executionArn));
      n++;
    }
    return n;
  }

  arnOf(name: WorkflowName): string {
    return `arn:aws:states:${config().AWS_REGION}:${ACCOUNT}:stateMachine:${name}`;
  }

  startExecution(stateMachineArn: string, input: string, name?: string, scheduled = false): Execution {
    const target = this.machines.get(stateMachineArn);
    if (!target) throw new ApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    const execName = name ?? randomUUID();
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${execName}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === input) return existing;
      throw new ApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(input || '{}');
    } catch {
      throw new ApiError('InvalidExecutionInput', 'input is not valid JSON');
    }
    const execution: Execution = { executionArn, stateMachineArn, name: execName, status: 'RUNNING', startDate: Date.now() / 1000, input, history: [] };
    this.executions.set(executionArn, execution);
    if (scheduled) this.scheduledArns.add(executionArn);
    const stored = this.journal.append({ op: 'start', arn: executionArn, sm: stateMachineArn, name: execName, input, startDate: execution.startDate, ...(scheduled && { scheduled: true as const }) });
    this.storing.set(executionArn, stored);
    void stored.then(
      () => this.storing.delete(executionArn),
      (err: Error) => console.error(`workflow journal: ${err.message}`),
    );
    this.run(target, execution, parsed, scheduled);
    return execution;
  }

  /** Resolves once the execution's start is durable (StartExecution answers after it). */
  private stored(executionArn: string): Promise<void> {
    return this.storing.get(executionArn) ?? Promise.resolve();
  }

  private run(target: Target, execution: Execution, parsed: unknown, scheduled: boolean): void {
    this.live.add(execution);
    const { executionArn, name: execName } = execution;
    const run = target.machine.run(parsed as never, {
      overrides: { taskResourceLocalHandlers: target.handlers as never },
      context: { Execution: { Id: executionArn, Name: execName, Input: parsed, StartTime: new Date().toISOString() } } as never,
    });
    const logs = this.recordHistory(execution, run.eventLogs);
    this.aborts.add(run.abort);
    const done = run.result.then(
      (output: unknown) => {
        execution.status = 'SUCCEEDED';
        execution.output = stringify(output);
      },
      (err: { name?: string; message?: string; cause?: unknown; errorOutput?: { Error?: string; Cause?: unknown } }) => {
        execution.status = 'FAILED';
        // The library wraps the failure in an ExecutionError whose cause is the Fail state's (or
        // the uncaught task's) error: its name and message are the Error and Cause AWS reports.
        const failure = err.cause instanceof Error ? err.cause : err;
        execution.error = err.errorOutput?.Error ?? failure.name ?? 'Error';
        execution.cause = String(err.errorOutput?.Cause ?? failure.message ?? '');
      },
    );
    const tracked = Promise.allSettled([done, logs]).then(() => {
      this.aborts.delete(run.abort);
      execution.stopDate = Date.now() / 1000;
      this.live.delete(execution);
      // Aborted by stop(): it did not end, so a start on the same data runs it again.
      if (this.stopping) return;
      // Not awaited: an end lost to a kill only means the (idempotent) execution runs again.
      void this.journal.append(endOf(execution)).catch((err: Error) => console.error(`workflow journal: ${err.message}`));
      this.maybeCompact();
      this.running.delete(tracked);
      this.triggered.delete(tracked);
    });
    this.running.add(tracked);
    if (!scheduled) this.triggered.add(tracked);
  }

  // As in AWS, an event inside a Map iteration points back to the previous event of its own
  // iteration (the first to MapIterationStarted), not to whatever ran just before it, so
  // interleaved iterations can be told apart (feedctl shows each event's index).
  private async recordHistory(execution: Execution, events: AsyncGenerator<EventLog>): Promise<void> {
    const lastOfIteration = new Map<number, number>();
    for await (const event of events) {
      const id = execution.history.length + 1;
      const index = 'index' in event && typeof event.index === 'number' ? event.index : undefined;
      const previous = index === undefined || event.type === 'MapIterationStarted' ? id - 1 : (lastOfIteration.get(index) ?? id - 1);
      if (index !== undefined) {
        if (event.type === 'MapIterationSucceeded' || event.type === 'MapIterationFailed') lastOfIteration.delete(index);
        else lastOfIteration.set(index, id);
      }
      execution.history.push(toHistory(event, id, previous));
    }
  }

  private maybeCompact(): void {
    if (this.compacting || this.journal.appendedBytes < COMPACT_AFTER_BYTES) return;
    this.compacting = this.journal
      .compact(this.kept())
      .catch((err: Error) => console.error(`workflow journal: ${err.message}`))
      .finally(() => (this.compacting = undefined));
  }

  /** The latest window a schedule started (journalled runs are named `<workflow>-<windowStart>`),
   *  so a restart catches up the windows missed while the stack was down. */
  private lastWindow(name: WorkflowName): number | undefined {
    let last: number | undefined;
    for (const e of this.executions.values()) {
      const m = e.name.startsWith(`${name}-`) ? /^(\d+)$/.exec(e.name.slice(name.length + 1)) : null;
      if (m) last = Math.max(last ?? 0, Number(m[1]) * 1000);
    }
    return last;
  }

  /** Starts scheduled workflows on their period, aligned to it, after `graceMs` (so a window's
   *  in-flight events land before it is composed). A timer that fires late (a busy machine) starts
   *  the windows it missed too, up to SCHEDULE_CATCH_UP of them, so no window goes uncomposed. */
  schedule(graceMs: number): void {
    for (const [name, spec] of Object.entries(WORKFLOWS) as [WorkflowName, (typeof WORKFLOWS)[WorkflowName]][]) {
      if (!('everySeconds' in spec)) continue;
      const periodMs = spec.everySeconds() * 1000;
      let lastStarted = this.lastWindow(name);
      const fire = () => {
        if (!this.scheduling) return;
        const latest = Math.floor((Date.now() - graceMs) / periodMs) * periodMs - periodMs;
        const first = lastStarted === undefined ? latest : Math.max(lastStarted + periodMs, latest - (SCHEDULE_CATCH_UP - 1) * periodMs);
        for (let windowStart = first; windowStart <= latest; windowStart += periodMs) {
          try {
            this.startExecution(this.arnOf(name), JSON.stringify({ windowStart: windowStart / 1000 }), `${name}-${windowStart / 1000}`, true);
          } catch (err) {
            if (!(err instanceof ApiError && err.type === 'ExecutionAlreadyExists')) console.error(`schedule ${name}: ${(err as Error).message}`);
          }
        }
        lastStarted = Math.max(lastStarted ?? latest, latest);
        arm();
      };
      const arm = () => {
        if (!this.scheduling) return;
        const next = Math.ceil((Date.now() - graceMs + 1) / periodMs) * periodMs + graceMs;
        const t = setTimeout(fire, next - Date.now());
        t.unref();
        this.timers.set(name, t);
      };
      arm();
    }
  }

  private async handleApi(op: string, body: Record<string, unknown>): Promise<unknown> {
    switch (op) {
      case 'StartExecution': {
        const e = this.startExecution(String(body.stateMachineArn), String(body.input ?? '{}'), body.name as string | undefined);
        await this.stored(e.executionArn);
        return { executionArn: e.executionArn, startDate: e.startDate };
      }
      case 'DescribeExecution': {
        const e = this.get(String(body.executionArn));
        const { history: _h, ...rest } = e;
        return rest;
      }
      case 'ListStateMachines':
        return { stateMachines: [...this.machines.entries()].map(([arn, m]) => ({ stateMachineArn: arn, name: m.name, type: 'STANDARD', creationDate: 0 })) };
      case 'ListExecutions': {
        const all = [...this.executions.values()]
          .filter((e) => e.stateMachineArn === body.stateMachineArn && (!body.statusFilter || e.status === body.statusFilter))
          .sort((a, b) => b.startDate - a.startDate);
        const start = Number(body.nextToken ?? 0);
        const max = Number(body.maxResults ?? 100) || 100;
        const page = all.slice(start, start + max);
        return {
          executions: page.map(({ executionArn, stateMachineArn, name, status, startDate, stopDate }) => ({ executionArn, stateMachineArn, name, status, startDate, stopDate })),
          ...(start + max < all.length && { nextToken: String(start + max) }),
        };
      }
      case 'GetExecutionHistory': {
        const e = this.get(String(body.executionArn));
        const events = body.reverseOrder ? [...e.history].reverse() : e.history;
        const start = Number(body.nextToken ?? 0);
        const max = Number(body.maxResults ?? 1000) || 1000;
        return { events: events.slice(start, start + max), ...(start + max < events.length && { nextToken: String(start + max) }) };
      }
      default:
        throw new ApiError('UnknownOperationException', `${op} is not supported by the local stack`);
    }
  }

  private get(arn: string): Execution {
    const e = this.executions.get(arn);
    if (!e) throw new ApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return e;
  }

  /** Serves the Step Functions API (and `extra` GET routes, such as feedctl's stats). */
  async listen(extra: Record<string, () => unknown> = {}): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const send = (status: number, body: unknown, type = 'application/x-amz-json-1.0') => {
          res.writeHead(status, { 'content-type': type });
          res.end(JSON.stringify(body));
        };
        if (req.method === 'GET' && req.url && extra[req.url]) return send(200, extra[req.url]!(), 'application/json');
        const target = String(req.headers['x-amz-target'] ?? '');
        const op = target.split('.')[1] ?? '';
        try {
          const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
          send(200, await this.handleApi(op, body));
        } catch (err) {
          const type = err instanceof ApiError ? err.type : 'InvalidRequestException';
          send(400, { __type: type, message: (err as Error).message });
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.endpoint;
  }

  /** True when no execution started by a handler is running (scheduled runs recur forever with
   *  short test periods, so they are not waited for). */
  idle(): boolean {
    return this.triggered.size === 0;
  }

  async stop(): Promise<void> {
    this.scheduling = false;
    for (const t of this.timers.values()) clearTimeout(t);
    await Promise.race([Promise.allSettled([...this.running]), new Promise((r) => setTimeout(r, 5000))]);
    // What still runs would go on calling handlers (and retrying) against engines being stopped.
    this.stopping = true;
    for (const abort of this.aborts) abort();
    await Promise.race([Promise.allSettled([...this.running]), new Promise((r) => setTimeout(r, 5000))]);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
    await this.compacting;
    await this.journal.close();
  }
}
