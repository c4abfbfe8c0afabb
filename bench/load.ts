// The parent side of the load generator: forks bench/load-child.ts (with the same TypeScript
// loader this process runs under) and runs autocannon runs in it, each bounded in time.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromChild, RunResult, RunSpec, ToChild } from './load-protocol.js';

/** Slack on top of a run's duration before it is declared stuck (connection timeouts are 10 s). */
const RUN_GRACE_MS = 30_000;

export class LoadGenerator {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: RunResult) => void; reject: (e: Error) => void }>();
  private ready: Promise<void>;
  private markReady: () => void = () => {};

  private constructor(private readonly child: ChildProcess) {
    this.ready = new Promise((r) => (this.markReady = r));
    child.on('message', (m: FromChild) => {
      if (m.type === 'ready') this.markReady();
      else {
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (m.type === 'result') w?.resolve(m.result);
        else w?.reject(new Error(`load generator: ${m.message}`));
      }
    });
    child.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`load generator exited (${code})`));
      this.waiting.clear();
    });
  }

  static async start(): Promise<LoadGenerator> {
    const child = fork(fileURLToPath(new URL('./load-child.ts', import.meta.url)), [], {
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    const gen = new LoadGenerator(child);
    await Promise.race([gen.ready, new Promise((_, reject) => setTimeout(() => reject(new Error('load generator did not start in 30 s')), 30_000).unref())]);
    return gen;
  }

  private post(m: ToChild): void {
    this.child.send(m);
  }

  async setUsers(tokens: string[], userIds: string[]): Promise<void> {
    this.ready = new Promise((r) => (this.markReady = r));
    this.post({ type: 'users', tokens, userIds });
    await this.ready;
  }

  run(spec: RunSpec): Promise<RunResult> {
    const id = this.nextId++;
    return new Promise<RunResult>((resolve, reject) => {
      const limit = Math.max(spec.durationMs, spec.maxMs ?? 0) + RUN_GRACE_MS;
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`load run ${id} did not finish within ${limit} ms`));
      }, limit);
      this.waiting.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.post({ type: 'run', id, spec });
    });
  }

  /** Tells the generator these users' pages were dropped (see 'forget'). */
  forget(indices: number[]): void {
    this.post({ type: 'forget', indices });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.post({ type: 'exit' });
    await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
