// Process groups of the local stacks (a region of a multi-region stack, a crash test's stack): the
// stack process, its DynamoDB Local and its redis-server share one, so one signal stops them all.
import { readdirSync, readFileSync } from 'node:fs';

/** Sends `signal` to every process of group `pgid`; a group already gone is not an error. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

/** Whether a process of group `pgid` still runs. A killed process its parent has not reaped yet (a
 *  zombie) does not count: it holds no files or ports any more, and an orphan's zombie waits for
 *  the machine's init, which here reaps every second or two (a killed region "ran" 5-8 s longer).
 *  Linux answers from /proc (no package reads process groups, and `ps` output would be parsed the
 *  same way); elsewhere a signal 0 to the group, zombies included. */
export function groupAlive(pgid: number): boolean {
  const members = groupMembers(pgid);
  if (members) return members.some(running);
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pids in group `pgid` from /proc, or undefined where there is no /proc. */
function groupMembers(pgid: number): number[] | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  return pids.map(Number).filter((pid) => stat(`/proc/${pid}/stat`)?.pgrp === pgid);
}

/** A process runs while any of its threads does: a JVM's main thread can be a zombie while others
 *  still hold its files. */
function running(pid: number): boolean {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return false;
  }
  return tasks.some((t) => {
    const s = stat(`/proc/${pid}/task/${t}/stat`);
    return s !== undefined && s.state !== 'Z' && s.state !== 'X';
  });
}

/** State and process group from a /proc stat line: `pid (comm) state ppid pgrp …`, where comm may
 *  hold spaces and parentheses (so fields are counted from its last ')'). */
function stat(file: string): { state: string; pgrp: number } | undefined {
  let line: string;
  try {
    line = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, pgrp: Number(fields[2]) };
}
