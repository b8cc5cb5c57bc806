// Runs the compiled `baste` command (bin/baste.js) as a child process, as a user runs it.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'baste.js');

export interface Served {
  child: ChildProcess;
  url: string;
  /** Everything the server printed so far, stdout and stderr interleaved. */
  output: () => string;
}

export interface ServeOptions {
  /** Variables added to this process's environment for the server. */
  env?: Record<string, string>;
  /** The server's working directory (where the default data directory goes). */
  cwd?: string;
}

/** Starts `baste serve <args> --port 0` and resolves once it prints the URL it listens on. */
export function serve(args: string[], opts: ServeOptions = {}): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
  });
  let out = '';
  return new Promise((resolve, reject) => {
    // A server that has not started in time is killed, and the rejection waits for its exit, so
    // a slow machine does not pile up orphaned servers (SIGKILL: it may be stuck before its handlers).
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.removeAllListeners('exit');
      const fail = () => reject(new Error(`server did not start within 20 s (killed):\n${out}`));
      if (child.exitCode !== null || child.signalCode !== null) return fail();
      child.once('exit', fail);
      child.kill('SIGKILL');
    }, 20_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (timedOut) return;
      const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
}

/** Sends `signal` to the server and resolves with its exit code (null when a signal ended it); at once if it has already exited. */
export const stop = (s: Served, signal: NodeJS.Signals = 'SIGTERM') =>
  new Promise<number | null>((resolve) => {
    if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve(s.child.exitCode);
    s.child.removeAllListeners('exit');
    s.child.once('exit', (code) => resolve(code));
    s.child.kill(signal);
  });
