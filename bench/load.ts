// Load worker: one autocannon run (warm-up, then the measured run) against one or more servers,
// in its own process so the load generator never shares an event loop with the orchestrator.
// Usage: node --import tsx bench/load.ts '<LoadSpec as JSON>'; prints autocannon's result as
// one JSON line on stdout (the warm-up's result is under `warmup`).
//
// Several targets (one per server instance): autocannon opens connection i to targets[i % n],
// so 50 connections over two instances are 25 each, measured by one process into one latency
// histogram. Each target may carry its own headers and body (set per connection in
// `setupClient`), so a scenario can send instance B the tokens that instance A issued.
//
// A request mix (the `mixed` scenario): a target's `sequences` gives each of its connections its
// own list of requests (its own user's tokens), which the connection sends in turn, over and over
// (autocannon's `requests`, set per connection with `setRequests`).

import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export interface LoadRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export interface LoadTarget {
  readonly url: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Connection k to this target sends `sequences[k % length]` in a loop instead of `url`/`headers`/`body`. */
  readonly sequences?: readonly (readonly LoadRequest[])[];
}

export interface LoadSpec {
  readonly targets: readonly LoadTarget[];
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly connections: number;
  readonly warmupSeconds: number;
  readonly durationSeconds: number;
}

// `@<file>`: the spec is in that file (a request mix's tokens are too long for one argument).
const arg = process.argv[2] ?? '';
const spec = JSON.parse(arg.startsWith('@') ? readFileSync(arg.slice(1), 'utf8') : arg) as LoadSpec;
const [first, ...rest] = spec.targets;
if (!first) throw new Error('bench/load.ts: no target');
const origins = spec.targets.map((t) => new URL(t.url).origin);
if (new Set(origins).size !== origins.length) throw new Error('bench/load.ts: two targets on one origin');
const perTarget = new Map(spec.targets.map((t, i) => [origins[i]!, t]));
const mixed = spec.targets.some((t) => t.sequences);
/** Connections opened so far per origin (warm-up and measured run alike): which sequence the next one gets. */
const opened = new Map<string, number>();

// autocannon 8 runs `warmup` first and reports it apart; @types/autocannon predates the option.
const options: autocannon.Options & { warmup?: { connections: number; duration: number } } = {
  url: rest.length === 0 ? first.url : (spec.targets.map((t) => t.url) as unknown as string),
  method: spec.method,
  // With several targets, setupClient gives each connection its target's headers and body.
  headers: rest.length === 0 ? first.headers : {},
  body: rest.length === 0 ? first.body : undefined,
  connections: spec.connections,
  pipelining: 1,
  duration: spec.durationSeconds,
  timeout: 10,
  warmup: spec.warmupSeconds > 0 ? { connections: spec.connections, duration: spec.warmupSeconds } : undefined,
  setupClient:
    rest.length === 0 && !mixed
      ? undefined
      : (client) => {
          const origin = (client as unknown as { opts: { origin: string } }).opts.origin;
          const target = perTarget.get(origin);
          if (!target) throw new Error(`bench/load.ts: a connection to unknown origin ${origin}`);
          if (target.sequences) {
            const k = opened.get(origin) ?? 0;
            opened.set(origin, k + 1);
            client.setRequests(target.sequences[k % target.sequences.length]!.map((r) => ({ ...r })) as autocannon.Request[]);
          } else client.setHeadersAndBody(target.headers ?? {}, target.body ?? '');
        },
};
const result = await autocannon(options);

// Plus the CPU this process used (startup included), so the orchestrator can tell how much of
// the machine went to something other than the server and the load generator.
const { user, system } = process.cpuUsage();
process.stdout.write(`${JSON.stringify({ ...result, loadgen_cpu_s: (user + system) / 1e6 })}\n`);
