// Lowers the CPU priority of the threads running runaway calls (Linux only). An isolate the
// runtime's monitor sees stuck holds one of isolated-vm's threads until its call ends; on a small
// machine a few such threads take the cores from the server and every other call. setpriority()
// with a thread id renices that one thread, so the runaway threads go to nice 19 while they spin
// and back to 0 before anything else may run on them.
//
// Which thread runs a stuck isolate is not told by isolated-vm: it is found in /proc/self/task as
// a thread that kept running without one voluntary context switch between two ticks (a loop never
// waits). When more threads look so than isolates are stuck, none is touched. Whenever a stuck
// isolate answers again or goes, every reniced thread is restored (and the others found again),
// so a pool thread that goes on to another isolate's call never keeps nice 19.
//
// Restoring needs the right to lower a nice value (CAP_SYS_NICE, or RLIMIT_NICE of 20): without
// it the change could not be undone, so it is never made (probed once on a throwaway thread).

import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { Worker } from 'node:worker_threads';

export const RUNAWAY_NICE = 19;

/** One thread as /proc/self/task shows it. */
export interface ThreadSample {
  /** Time on CPU, in ns (schedstat). */
  readonly runNs: number;
  readonly voluntarySwitches: number;
  /** State R: running or runnable. */
  readonly runnable: boolean;
}

/** Every thread of this process; an empty map where /proc is not there. */
export function sampleThreads(): Map<number, ThreadSample> {
  const out = new Map<number, ThreadSample>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const runNs = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const status = readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
      const state = /^State:\s+(\S)/m.exec(status)?.[1];
      const voluntary = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
      if (Number.isFinite(runNs) && Number.isFinite(voluntary)) out.set(Number(tid), { runNs, voluntarySwitches: voluntary, runnable: state === 'R' });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** A thread's nice value from /proc (field 19 of stat); null when it cannot be read. */
export function threadNice(tid: number): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  } catch {
    return null;
  }
}

/** A thread spinning between two samples: it ran, is still runnable, and never waited. */
export function spinningThreads(before: ReadonlyMap<number, ThreadSample>, after: ReadonlyMap<number, ThreadSample>, exclude: ReadonlySet<number>, minRunNs: number): number[] {
  const out: number[] = [];
  for (const [tid, now] of after) {
    const then = before.get(tid);
    if (!then || exclude.has(tid)) continue;
    if (now.runnable && now.voluntarySwitches === then.voluntarySwitches && now.runNs - then.runNs >= minRunNs) out.push(tid);
  }
  return out;
}

/**
 * Whether this process may put a thread back from nice 19 to 0: tried on a throwaway thread, so a
 * refusal leaves nothing behind.
 */
export function probeRestore(): Promise<boolean> {
  if (process.platform !== 'linux') return Promise.resolve(false);
  return new Promise((resolve) => {
    const worker = new Worker(
      `const { setPriority } = require('node:os'); const { parentPort } = require('node:worker_threads');
       let ok = false; try { setPriority(0, ${RUNAWAY_NICE}); setPriority(0, 0); ok = true; } catch {} parentPort.postMessage(ok);`,
      { eval: true },
    );
    worker.once('message', (ok: unknown) => resolve(ok === true));
    worker.once('error', () => resolve(false));
    worker.once('exit', () => resolve(false));
  });
}

export interface PriorityLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

/**
 * The reniced threads of one runtime. `spin(stuck)` each monitor tick with the number of stuck
 * isolates; `restoreAll()` whenever one of them answers again or is disposed.
 */
export class RunawayThreads {
  private readonly reniced = new Set<number>();
  private last: Map<number, ThreadSample> | null = null;
  private lastAt = 0;
  /** null until probed; false: this process may not undo a renice, so it never renices. */
  private allowed: boolean | null = null;
  private probing = false;

  constructor(
    private readonly log: PriorityLog,
    private readonly mainTid = process.pid,
  ) {}

  /** Threads at nice 19 now. */
  get count(): number {
    return this.reniced.size;
  }

  /** One monitor tick while `stuck` isolates hold threads. */
  spin(stuck: number): void {
    if (stuck === 0) {
      this.restoreAll();
      this.last = null;
      return;
    }
    if (this.allowed === null) {
      if (!this.probing) {
        this.probing = true;
        void probeRestore().then((ok) => {
          this.allowed = ok;
          if (!ok) this.log.warn({}, 'runaway function calls keep their CPU priority: this process may not lower a nice value (no CAP_SYS_NICE)');
        });
      }
      return;
    }
    if (!this.allowed || this.reniced.size >= stuck) return;
    const now = Date.now();
    const sample = sampleThreads();
    const before = this.last;
    const elapsedMs = now - this.lastAt;
    this.last = sample;
    this.lastAt = now;
    if (!before) return;
    const exclude = new Set([...this.reniced, this.mainTid]);
    // A tenth of the interval: on a busy machine a spinning thread gets only its share of a core.
    const found = spinningThreads(before, sample, exclude, elapsedMs * 1e5);
    // More spinning threads than unidentified stuck isolates: something else is busy too.
    if (found.length === 0 || found.length > stuck - this.reniced.size) return;
    for (const tid of found) {
      try {
        setPriority(tid, RUNAWAY_NICE);
        this.reniced.add(tid);
      } catch {
        // the thread ended meanwhile
      }
    }
  }

  /** Every reniced thread back to 0; they are found again at the next ticks if still spinning. */
  restoreAll(): void {
    for (const tid of this.reniced) {
      try {
        setPriority(tid, 0);
      } catch (err) {
        const code = (err as { code?: string; info?: { code?: string } }).info?.code ?? (err as { code?: string }).code;
        if (code !== 'ESRCH') {
          this.allowed = false;
          this.log.warn({ tid, error: (err as Error).message }, 'could not restore the CPU priority of a function thread: runaway calls are no longer reniced');
        }
      }
    }
    this.reniced.clear();
    this.last = null;
  }
}
