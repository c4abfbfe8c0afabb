// Process groups as a region outage and the crash test see them: a group runs while one of its
// processes does; a killed one its parent has not reaped yet (a zombie) holds nothing any more.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { groupAlive, signalGroup } from '../../shared/local/process-group.js';
import { until } from '../support/own-stack.js';

const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) if (c.pid) signalGroup(c.pid, 'SIGKILL');
});

/** A parent in a group of its own that starts `true` as the leader of another group and then
 *  blocks its event loop, so the child stays a zombie: it never reaps it. */
function parentKeepingAZombie(): Promise<{ parent: ChildProcess; zombie: number }> {
  const script = `
    const { spawn } = require('node:child_process');
    const c = spawn('true', { detached: true, stdio: 'ignore' });
    process.stdout.write(c.pid + '\\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120000);`;
  const parent = spawn(process.execPath, ['-e', script], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(parent);
  return new Promise((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve({ parent, zombie: Number(String(d).trim()) })));
}

const stateOf = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];

describe('groupAlive', () => {
  it('counts a group as running while a process of it runs, and not once it is killed', async () => {
    const group = spawn('bash', ['-c', 'sleep 120 & sleep 120 & wait'], { detached: true, stdio: 'ignore' });
    started.push(group);
    await until(async () => groupAlive(group.pid!), 30_000, 'the group started');
    signalGroup(group.pid!, 'SIGKILL');
    // Its two sleeps are orphans now, left to the machine's init to reap.
    await until(async () => !groupAlive(group.pid!), 30_000, 'the group gone');
  });

  it.runIf(process.platform === 'linux')('does not count a killed process its parent has not reaped (a zombie)', async () => {
    const { zombie } = await parentKeepingAZombie();
    await until(async () => stateOf(zombie) === 'Z', 30_000, 'the child ended, unreaped');
    // A signal to the group still reaches it: the zombie is in its process table.
    expect(() => process.kill(-zombie, 0)).not.toThrow();
    expect(groupAlive(zombie)).toBe(false);
  });

  it('answers false for a group that never existed', () => {
    expect(groupAlive(2 ** 22 + 12345)).toBe(false);
  });
});
