// Peak resident memory: of this process (the local stack: API server, handlers, pollers, queues)
// by sampling memoryUsage().rss, with a label for the phase that was running, and of the engines
// it started (DynamoDB Local's JVM, redis-server) from /proc, where the kernel keeps their peak.
import { readdirSync, readFileSync } from 'node:fs';

export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  private phase = 'start';
  readonly peakByPhase: Record<string, number> = {};
  peak = 0;

  start(everyMs = 200): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  setPhase(phase: string): void {
    this.sample();
    this.phase = phase;
    this.sample();
  }

  sample(): void {
    const rss = process.memoryUsage().rss;
    this.peak = Math.max(this.peak, rss);
    this.peakByPhase[this.phase] = Math.max(this.peakByPhase[this.phase] ?? 0, rss);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.sample();
  }
}

/** Peak RSS (VmHWM, bytes) of this process's direct children named in `names` (the engines), by
 *  command name; empty off Linux. */
export function childPeakRss(names: string[] = ['java', 'redis-server']): Record<string, number> {
  const out: Record<string, number> = {};
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const ppid = /^PPid:\s+(\d+)/m.exec(status)?.[1];
      if (Number(ppid) !== process.pid) continue;
      const name = /^Name:\s+(\S+)/m.exec(status)?.[1] ?? pid;
      if (!names.includes(name)) continue;
      const hwm = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) * 1024;
      if (Number.isFinite(hwm)) out[name] = Math.max(out[name] ?? 0, hwm);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
