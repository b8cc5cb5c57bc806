// Load worker: one autocannon run (warm-up, then the measured run) against one URL, in its
// own process so the load generator never shares an event loop with the orchestrator.
// Usage: node --import tsx bench/load.ts '<LoadSpec as JSON>'; prints autocannon's result as
// one JSON line on stdout (the warm-up's result is under `warmup`).

import autocannon from 'autocannon';

export interface LoadSpec {
  readonly url: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly connections: number;
  readonly warmupSeconds: number;
  readonly durationSeconds: number;
}

const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;

// autocannon 8 runs `warmup` first and reports it apart; @types/autocannon predates the option.
const options: autocannon.Options & { warmup?: { connections: number; duration: number } } = {
  url: spec.url,
  method: spec.method,
  headers: spec.headers,
  body: spec.body,
  connections: spec.connections,
  pipelining: 1,
  duration: spec.durationSeconds,
  timeout: 10,
  warmup: spec.warmupSeconds > 0 ? { connections: spec.connections, duration: spec.warmupSeconds } : undefined,
};
const result = await autocannon(options);

// Plus the CPU this process used (startup included), so the orchestrator can tell how much of
// the machine went to something other than the server and the load generator.
const { user, system } = process.cpuUsage();
process.stdout.write(`${JSON.stringify({ ...result, loadgen_cpu_s: (user + system) / 1e6 })}\n`);
