// The physical limit of email/password login: argon2id hashes per second with the server's own
// hasher (src/auth/passwords.ts: OWASP 19 MiB, t=2, p=1), in one process with the default
// libuv threadpool, as the server runs it. `concurrency` hashes are kept in flight, as many as
// the load generator keeps logins in flight.
// Usage: node --import tsx bench/argon2.ts '{"concurrency":50,"warmupSeconds":1,"durationSeconds":3}'
// Prints one JSON line: {rps, p50_ms, p99_ms, errors, count, duration_s, peak_rss_mb, cpu_s}.

import { readFileSync } from 'node:fs';
import { argon2Hasher } from '../src/auth/passwords.js';

const { concurrency, warmupSeconds, durationSeconds } = JSON.parse(process.argv[2] ?? '') as {
  concurrency: number;
  warmupSeconds: number;
  durationSeconds: number;
};

const hasher = argon2Hasher();
const now = () => performance.now();
const measureFrom = now() + warmupSeconds * 1000;
const measureUntil = measureFrom + durationSeconds * 1000;
const latencies: number[] = [];
let errors = 0;

async function lane(): Promise<void> {
  while (now() < measureUntil) {
    // Throughput is the completions inside the measured window, whenever they started (as for
    // autocannon); counting only hashes both started and finished inside it would undercount.
    const started = now();
    let ok = true;
    try {
      await hasher.hash('bench-password-1');
    } catch {
      ok = false;
    }
    const finished = now();
    if (finished < measureFrom || finished >= measureUntil) continue;
    if (ok) latencies.push(finished - started);
    else errors++;
  }
}

await Promise.all(Array.from({ length: concurrency }, lane));

latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
const hwmKb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
process.stdout.write(
  `${JSON.stringify({
    rps: latencies.length / durationSeconds,
    p50_ms: pct(50),
    p99_ms: pct(99),
    errors,
    count: latencies.length,
    duration_s: durationSeconds,
    peak_rss_mb: hwmKb / 1024,
    cpu_s: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
  })}\n`,
);
