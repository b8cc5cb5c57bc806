// `npm run bench [-- --quick] [--only profile,refresh] [--pg] [--cpu-prof] [--max-wait S] [--out file.json]`
//
// Starts the real built CLI (`bin/baste.js serve`) on examples/todo with a fresh data dir, and a
// bare Fastify hello route in another process as the ceiling; drives each scenario over loopback
// with autocannon in a separate process (bench/load.ts); samples the server's peak RSS; asserts
// zero errors and zero non-2xx; prints a table and writes bench/results/latest.json.
// The `_pg2` scenarios start two servers on one fresh PostgreSQL database and spread the
// connections over both, each instance receiving the tokens the other one issued.
// See bench/README.md for how to read it and the targets.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, cpSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem, platform, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type autocannon from 'autocannon';
import type { LoadRequest, LoadSpec, LoadTarget } from './load.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const EXAMPLE_DIR = 'examples/todo';
const APP_ID = 'todo-abcde';
const CONNECTIONS = 50;

// ---------------------------------------------------------------------------------------------
// Command line

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    out: { type: 'string' },
    'max-wait': { type: 'string' },
    pg: { type: 'boolean', default: false },
  },
  strict: true,
});
const QUICK = flags.quick ?? false;
const WARMUP_S = QUICK ? 1 : 3;
const DURATION_S = QUICK ? 3 : 15;
const ONLY = flags.only ? new Set(flags.only.split(',').map((s) => s.trim())) : null;
const OUT = resolve(ROOT, flags.out ?? 'bench/results/latest.json');
const PROF_DIR = join(ROOT, 'bench/results/prof');
/** Before each scenario, wait up to this long for other processes to leave the CPUs alone. */
const MAX_QUIET_WAIT_S = Number(flags['max-wait'] ?? (QUICK ? 0 : 60));
/** Other processes using more than this many cores during a scenario make its numbers suspect. */
const NOISY_CORES = 0.2;

// ---------------------------------------------------------------------------------------------
// Stores. Every `perBackend` scenario runs once per backend, named `<scenario><suffix>`.

interface Backend {
  readonly suffix: '' | '_pg' | '_pg2';
  readonly label: string;
  /** `baste serve` processes sharing the store; the load is spread over all of them. */
  readonly instances: number;
  /** Count PostgreSQL's processes' CPU apart (`db CPU`). */
  readonly countDb: boolean;
  /** Why this backend is not measured in this run, or null. Asked once, before the scenarios. */
  unavailable(): Promise<string | null>;
  /** A fresh store for one server: extra `baste serve` arguments. */
  prepare(): Promise<string[]>;
}

/** A PostgreSQL server on which the run may create (and then drops) a database per server. */
const PG_ADMIN_URL = process.env.BASTE_BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const pgDatabases: string[] = [];

async function pgAdmin<T>(fn: (client: import('pg').Client) => Promise<T>): Promise<T> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Why the PostgreSQL scenarios (`suffix`) are not measured in this run, or null. */
async function pgUnavailable(suffix: string): Promise<string | null> {
  // A quick run measures PostgreSQL with --pg, or when --only names one of its scenarios.
  const named = ONLY !== null && [...ONLY].some((n) => n.endsWith(suffix));
  if (QUICK && !flags.pg && !named) return 'quick run: PostgreSQL is measured by the full run, or with --pg';
  try {
    await pgAdmin((c) => c.query('SELECT 1'));
    return null;
  } catch (err) {
    return `no PostgreSQL server at ${PG_ADMIN_URL.replace(/\/\/([^:@/]+):[^@]*@/, '//$1:***@')} (${(err as Error).message}); set BASTE_BENCH_PG_URL`;
  }
}

/** A fresh PostgreSQL database (dropped at the end of the run): the `baste serve` arguments for it. */
async function freshPgDatabase(): Promise<string[]> {
  const name = `baste_bench_${randomBytes(6).toString('hex')}`;
  await pgAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  pgDatabases.push(name);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return ['--database', url.toString()];
}

const BACKENDS: readonly Backend[] = [
  { suffix: '', label: 'SQLite', instances: 1, countDb: false, unavailable: async () => null, prepare: async () => [] },
  {
    suffix: '_pg',
    label: 'PostgreSQL',
    instances: 1,
    countDb: true,
    unavailable: () => pgUnavailable('_pg'),
    prepare: freshPgDatabase,
  },
  // Two instances on one database, as behind a load balancer (see measureHttp for the spread).
  {
    suffix: '_pg2',
    label: 'PostgreSQL, 2 instances',
    instances: 2,
    countDb: true,
    unavailable: () => pgUnavailable('_pg2'),
    prepare: freshPgDatabase,
  },
];
const BACKEND_SUFFIX = /_pg2?$/;

async function dropPgDatabases(): Promise<void> {
  for (const name of pgDatabases.splice(0)) {
    await pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch((err: unknown) =>
      process.stderr.write(`could not drop database ${name}: ${(err as Error).message}\n`),
    );
  }
}

/** What setup leaves on a server for the scenarios to use. */
interface Fixture {
  readonly baseUrl: string;
  readonly userId: string;
  readonly email: string;
  readonly password: string;
  readonly accessToken: string;
  readonly refreshToken: string;
  /** Anonymous users logged in at setup, one per connection of the `mixed` scenario (only when it runs). */
  readonly users: readonly { readonly accessToken: string; readonly refreshToken: string }[];
}

interface Request {
  readonly method: LoadSpec['method'];
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
}

/** Which app a scenario's server serves: examples/todo, or a bench-only copy of it with more functions. */
type AppVariant = 'todo' | 'todo+spin';

/** Calls kept in flight on the server while a scenario is measured (each re-sent when it answers). */
interface Background {
  readonly calls: number;
  readonly request: (f: Fixture) => Request;
  /** Whether an answer is what the call should give; anything else fails the run. */
  readonly expected: (status: number, body: string) => boolean;
}

interface HttpScenario {
  readonly kind: 'http';
  readonly name: string;
  readonly request: (f: Fixture) => Request;
  /** The app the server serves (default: examples/todo itself). */
  readonly app?: AppVariant;
  readonly background?: Background;
  /** Held to this p99 instead of the token-authenticated routes' one. */
  readonly p99TargetMs?: number;
  /** Runs once per backend, named `<name><suffix>`. */
  readonly perBackend: boolean;
  /** `baste serve --log-level`; scenarios with another level get their own server. */
  readonly logLevel?: 'warn' | 'info';
  /** Authenticated by an access or refresh token: held to the p99 target. */
  readonly tokenAuthenticated?: boolean;
  /** What the server still lacks; the scenario is listed as skipped until it exists. */
  readonly notImplemented?: string;
  /** Only on these stores (default: every store, or SQLite alone when not perBackend). */
  readonly backends?: readonly Backend['suffix'][];
  /** A request mix: one list of requests per connection, sent in turn (`request` is then unused but for its method). */
  readonly mix?: (f: Fixture) => Request[][];
}

/**
 * `revocation_latency_pg2`: under the `mixed` load on two instances, sessions are opened on one
 * instance, read through the other (which caches them), revoked on the first, and the second is
 * asked again until it refuses. See measureRevocations.
 */
interface RevocationScenario {
  readonly kind: 'revocation';
  readonly name: string;
}

interface Argon2Scenario {
  readonly kind: 'argon2';
  readonly name: string;
}

/** Streams open on the server(s), then inserts one at a time: ack → event on every stream. */
interface WatchScenario {
  readonly kind: 'watch';
  readonly name: string;
}

type Scenario = HttpScenario | Argon2Scenario | RevocationScenario | WatchScenario;

const json = { 'content-type': 'application/json' };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const appPath = (rest: string) => `/api/client/v2.0/app/${APP_ID}${rest}`;

const anonLogin = (): Request => ({ method: 'POST', path: appPath('/auth/providers/anon-user/login'), headers: json, body: {} });
const refreshRequest = (f: Pick<Fixture, 'refreshToken'>): Request => ({ method: 'POST', path: '/api/client/v2.0/auth/session', headers: bearer(f.refreshToken) });
const profileRequest = (f: Pick<Fixture, 'accessToken'>): Request => ({ method: 'GET', path: '/api/client/v2.0/auth/profile', headers: bearer(f.accessToken) });
const sumRequest = (f: Pick<Fixture, 'accessToken'>): Request => ({
  method: 'POST',
  path: appPath('/functions/call'),
  headers: { ...json, ...bearer(f.accessToken) },
  body: { name: 'sum', arguments: [{ $numberInt: '1' }, { $numberInt: '2' }] },
});
/**
 * One connection's turn in `mixed`: 1 anonymous login, 1 refresh, 12 profiles and 6 function calls
 * (5 / 5 / 60 / 30 %), spread out. Each connection is one user (its own tokens), so a refresh or a
 * login changes one user among 50 while the others keep reading their sessions.
 */
const MIX_TURN = 'LPFPPFPPFPRPFPPFPPFP';
const mixOf = (f: Fixture): Request[][] =>
  f.users.map((u) => [...MIX_TURN].map((c) => (c === 'L' ? anonLogin() : c === 'R' ? refreshRequest(u) : c === 'P' ? profileRequest(u) : sumRequest(u))));

const SCENARIOS: readonly Scenario[] = [
  { kind: 'http', name: 'location', perBackend: true, request: () => ({ method: 'GET', path: appPath('/location') }) },
  {
    kind: 'http',
    name: 'anon_login',
    perBackend: true,
    request: anonLogin,
  },
  {
    kind: 'http',
    name: 'password_login',
    perBackend: true,
    request: (f) => ({
      method: 'POST',
      path: appPath('/auth/providers/local-userpass/login'),
      headers: json,
      body: { username: f.email, password: f.password },
    }),
  },
  { kind: 'argon2', name: 'argon2_raw' },
  {
    kind: 'http',
    name: 'refresh',
    perBackend: true,
    tokenAuthenticated: true,
    request: refreshRequest,
  },
  {
    kind: 'http',
    name: 'profile',
    perBackend: true,
    tokenAuthenticated: true,
    request: profileRequest,
  },
  {
    kind: 'http',
    name: 'function_call',
    perBackend: true,
    tokenAuthenticated: true,
    // examples/todo/functions/sum.js, with the canonical EJSON arguments the SDKs send.
    request: sumRequest,
  },
  // Issue 20: realistic load, one autocannon run with a request mix (mixOf), SQLite and two instances.
  { kind: 'http', name: 'mixed', perBackend: true, backends: ['', '_pg2'], request: profileRequest, mix: mixOf },
  { kind: 'revocation', name: 'revocation_latency' },
  {
    kind: 'http',
    name: 'rules_find',
    perBackend: true,
    tokenAuthenticated: true,
    // examples/todo's `myItems`: one rule-checked find of the user's 20 items (seeded in setUp()).
    request: (f) => ({
      method: 'POST',
      path: appPath('/functions/call'),
      headers: { ...json, ...bearer(f.accessToken) },
      body: { name: 'myItems', arguments: [] },
    }),
  },
  {
    kind: 'http',
    name: 'find_no_rules',
    perBackend: false,
    tokenAuthenticated: true,
    // The same find without rules: `myItemsUnchecked` runs as the system user with the owner
    // filter written out, so rules_find / find_no_rules is what the rules cost.
    request: (f) => ({
      method: 'POST',
      path: appPath('/functions/call'),
      headers: { ...json, ...bearer(f.accessToken) },
      body: { name: 'myItemsUnchecked', arguments: [] },
    }),
  },
  // One client insert (rule-checked, owner only), and the same into a collection a database
  // trigger watches (appDir()): the difference is what recording and delivering the event costs.
  ...(['insert', 'insert_with_trigger'] as const).map(
    (name): Scenario => ({
      kind: 'http',
      name,
      perBackend: true,
      tokenAuthenticated: true,
      request: (f) => ({
        method: 'POST',
        path: appPath('/functions/call'),
        headers: { ...json, ...bearer(f.accessToken) },
        body: {
          name: 'insertOne',
          service: 'mongodb-atlas',
          arguments: [{ database: 'todo', collection: name === 'insert' ? 'items' : 'activity', document: { owner_id: f.userId, title: 'bench' } }],
        },
      }),
    }),
  ),
  // watch(): 100 open streams of the user; the time from an insert's acknowledgement to its event on each.
  { kind: 'watch', name: 'watch_latency' },
  // The cost of the default one-log-line-per-request, to a file, as `baste serve` does by default.
  {
    kind: 'http',
    name: 'profile_logged',
    perBackend: false,
    logLevel: 'info',
    tokenAuthenticated: true,
    request: (f) => ({ method: 'GET', path: '/api/client/v2.0/auth/profile', headers: bearer(f.accessToken) }),
  },
  // Issue 14: `sum` calls while 3 calls of a runaway function hold their isolates. `benchSpin`
  // (bench-only, see SPIN_FUNCTION) never yields for the scenario's whole window, as `for (;;) {}`
  // would; it ends by itself just after, so no runaway outlives the scenario or its retries.
  {
    kind: 'http',
    name: 'function_call_during_loops',
    perBackend: false,
    tokenAuthenticated: true,
    p99TargetMs: 50,
    app: 'todo+spin',
    request: (f) => ({
      method: 'POST',
      path: appPath('/functions/call'),
      headers: { ...json, ...bearer(f.accessToken) },
      body: { name: 'sum', arguments: [{ $numberInt: '1' }, { $numberInt: '2' }] },
    }),
    background: {
      calls: 3,
      request: (f) => ({
        method: 'POST',
        path: appPath('/functions/call'),
        headers: { ...json, ...bearer(f.accessToken) },
        body: { name: SPIN_FUNCTION.name, arguments: [{ $numberInt: String((WARMUP_S + DURATION_S) * 1000 + SPIN_MARGIN_MS) }] },
      }),
      expected: (status, body) => status === 200 && body === '"spun"',
    },
  },
];

/**
 * The bench-only function of the `todo+spin` app: a synchronous loop for `ms` milliseconds. It is
 * added to a temporary copy of examples/todo, so the example app users see has no such function.
 */
const SPIN_FUNCTION = {
  name: 'benchSpin',
  source: 'exports = function(ms) {\n  const end = Date.now() + ms;\n  while (Date.now() < end) {}\n  return "spun";\n};\n',
};
/** Between the first background calls of a scenario. */
const BACKGROUND_STAGGER_MS = 150;
/** How long a spin outlasts the measured window (warm-up included; the load worker's start-up too): it is still spinning when the load ends. */
const SPIN_MARGIN_MS = 5_000;

// The issue's targets: ratios to the ceiling of the same run, SQLite, 50 connections.
const RATIO_TARGETS: Record<string, number> = {
  profile: 0.3,
  function_call: 0.15,
  refresh: 0.1,
  anon_login: 0.06,
  rules_find: 0.05,
  // Issue 20.
  mixed: 0.25,
  mixed_pg2: 0.12,
  profile_pg: 0.3,
  profile_pg2: 0.3,
  function_call_pg: 0.15,
  function_call_pg2: 0.15,
  refresh_pg: 0.1,
  refresh_pg2: 0.1,
  anon_login_pg: 0.05,
  rules_find_pg: 0.04,
};
/** Issue 20: a revocation on one instance is refused by the other within this long. */
const REVOCATION_MAX_MS = 100;
const PASSWORD_LOGIN_VS_ARGON2 = 0.85;
const TOKEN_P99_MS = 10;
const PEAK_RSS_MB = 250;

// ---------------------------------------------------------------------------------------------
// Results

interface Measured {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  ratio_to_ceiling: number;
  peak_rss_mb: number;
}
type Outcome = Measured | { skipped: string };

const isMeasured = (o: Outcome | undefined): o is Measured => o !== undefined && 'rps' in o;
const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------------------------------------
// Processes

const children = new Set<ChildProcess>();
const tmpDirs: string[] = [];

function cleanup(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    cleanup();
    process.exit(130);
  });
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stop(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Runs `node --import tsx bench/<file> <arg>` and returns its last stdout line as JSON. */
async function runWorker<T>(file: string, arg: unknown, onStart?: (pid: number) => void): Promise<T> {
  let text = JSON.stringify(arg);
  if (text.length > 64 * 1024) {
    // Too long for one argument (E2BIG): handed over in a file (bench/load.ts reads `@<file>`).
    const dir = mkdtempSync(join(tmpdir(), 'baste-bench-spec-'));
    tmpDirs.push(dir);
    writeFileSync(join(dir, 'spec.json'), text);
    text = `@${join(dir, 'spec.json')}`;
  }
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', file), text], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  if (child.pid !== undefined) onStart?.(child.pid);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
  const last = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !last) throw new Error(`bench/${file} failed (exit ${code}):\n${err || out}`);
  return JSON.parse(last) as T;
}

interface Server {
  readonly label: string;
  readonly pid: number;
  readonly baseUrl: string;
  readonly child: ChildProcess;
}

async function startCeiling(): Promise<Server> {
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/ceiling.ts')], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const port = await new Promise<number>((done, fail) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) done(Number(m[1]));
    });
    child.once('exit', (code) => fail(new Error(`the ceiling server exited (${code}) before listening`)));
  });
  child.stdout!.resume();
  return { label: 'ceiling', pid: child.pid!, baseUrl: `http://127.0.0.1:${port}`, child };
}

let benchApp: string | undefined;
/**
 * examples/todo, copied, confirming email/password users at once, with a `todo.activity` collection under the same owner-only rules as
 * `todo.items` and a database trigger on its inserts running a function that does nothing: the
 * `insert` and `insert_with_trigger` scenarios differ only by the trigger.
 */
function appDir(): string {
  if (benchApp) return benchApp;
  const dir = mkdtempSync(join(tmpdir(), 'baste-bench-app-'));
  tmpDirs.push(dir);
  cpSync(join(ROOT, EXAMPLE_DIR), dir, { recursive: true, filter: (src) => !src.includes('.baste') });
  // The example confirms new email/password users by email; the bench's users log in at once.
  const providersFile = join(dir, 'auth/providers.json');
  const providers = JSON.parse(readFileSync(providersFile, 'utf8')) as Record<string, { config?: Record<string, unknown> }>;
  providers['local-userpass']!.config = { ...providers['local-userpass']!.config, autoConfirm: true };
  writeFileSync(providersFile, JSON.stringify(providers, null, 2));
  const rules = JSON.parse(readFileSync(join(dir, 'data_sources/mongodb-atlas/todo/items/rules.json'), 'utf8')) as Record<string, unknown>;
  mkdirSync(join(dir, 'data_sources/mongodb-atlas/todo/activity'));
  writeFileSync(join(dir, 'data_sources/mongodb-atlas/todo/activity/rules.json'), JSON.stringify({ ...rules, collection: 'activity' }));
  const fns = JSON.parse(readFileSync(join(dir, 'functions/config.json'), 'utf8')) as unknown[];
  writeFileSync(join(dir, 'functions/config.json'), JSON.stringify([...fns, { name: 'onActivity', private: true }]));
  writeFileSync(join(dir, 'functions/onActivity.js'), 'exports = function(event) { return event.operationType; };\n');
  mkdirSync(join(dir, 'triggers'));
  writeFileSync(
    join(dir, 'triggers/onActivity.json'),
    JSON.stringify({
      name: 'onActivity',
      type: 'DATABASE',
      config: { service_name: 'mongodb-atlas', database: 'todo', collection: 'activity', operation_types: ['INSERT'], full_document: false, unordered: false, match: {} },
      disabled: false,
      event_processors: { FUNCTION: { config: { function_name: 'onActivity' } } },
    }),
  );
  benchApp = dir;
  return dir;
}

/** `node bin/baste.js serve` on a copy of examples/todo (appDir(), or spinApp() for 'todo+spin') with a fresh data dir; its output goes to a file. */
async function startBaste(label: string, storeArgs: string[], logLevel: 'warn' | 'info', app: AppVariant = 'todo'): Promise<Server & { logFile: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'baste-bench-'));
  tmpDirs.push(dir);
  const appPath = app === 'todo' ? appDir() : spinApp(dir);
  const logFile = join(dir, 'server.log');
  const fd = openSync(logFile, 'a');
  // BENCH_NODE_ARGS: extra node flags for the server, for experiments (`--perf-basic-prof`, V8 heap flags).
  const extra = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const nodeArgs = flags['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', PROF_DIR, ...extra] : extra;
  if (flags['cpu-prof']) mkdirSync(PROF_DIR, { recursive: true });
  const args = [
    ...nodeArgs,
    join(ROOT, 'bin/baste.js'),
    'serve',
    '--app',
    appPath,
    '--port',
    '0',
    '--data-dir',
    join(dir, 'data'),
    '--log-level',
    logLevel,
    // watch_latency opens 100 streams of one user (the default allows 25).
    '--max-watch-streams-per-user',
    String(WATCH_STREAMS),
    ...storeArgs,
  ];
  const child = track(spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', fd, fd] }));
  closeSync(fd);
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const log = readFileSync(logFile, 'utf8');
    const m = /Baste is serving app '[^']*' \([^)]*\) at (http:\/\/\S+)/.exec(log);
    if (m) return { label: `baste (${label}, log ${logLevel})`, pid: child.pid!, baseUrl: m[1]!, child, logFile };
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`baste serve did not start (${exited ? 'it exited' : 'timed out'}):\n${log}`);
    }
    await sleep(50);
  }
}

/** A copy of examples/todo in `dir` with the bench-only SPIN_FUNCTION, in the export's own layout. */
function spinApp(dir: string): string {
  const app = join(dir, 'app');
  cpSync(appDir(), app, { recursive: true });
  writeFileSync(join(app, 'functions', `${SPIN_FUNCTION.name}.js`), SPIN_FUNCTION.source);
  const configFile = join(app, 'functions', 'config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as unknown[];
  writeFileSync(configFile, `${JSON.stringify([...config, { name: SPIN_FUNCTION.name, private: false }], null, 2)}\n`);
  return app;
}

/**
 * Keeps `background.calls` calls in flight against `target`, each sent again when it answers,
 * until `stop()`, which waits for the last ones to answer. An answer `expected` refuses is a failure.
 */
function keepCalling(name: string, target: LoadTarget, method: string, background: Background): { stop(): Promise<void> } {
  let stopped = false;
  const worker = async (i: number) => {
    // Apart by more than the runtime takes to see an isolate stuck, as runaway calls arrive in real use.
    await sleep(i * BACKGROUND_STAGGER_MS);
    while (!stopped) {
      const res = await fetch(target.url, { method, headers: target.headers, body: target.body });
      const body = await res.text();
      if (!background.expected(res.status, body)) {
        failures.push(`${name}: a background call answered ${res.status} ${body.slice(0, 200)}`);
        return;
      }
    }
  };
  const running = Array.from({ length: background.calls }, (_, i) =>
    worker(i).catch((err: unknown) => {
      failures.push(`${name}: a background call failed: ${(err as Error).message}`);
    }),
  );
  return {
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}

/** Registers and logs in one email/password user; its tokens serve the token-authenticated scenarios. */
async function setUp(baseUrl: string): Promise<Fixture> {
  const email = `bench-${randomBytes(6).toString('hex')}@example.com`;
  const password = 'bench-password-1';
  const post = async (path: string, body: unknown, expect: number) => {
    const res = await fetch(baseUrl + path, { method: 'POST', headers: json, body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status !== expect) throw new Error(`setup: POST ${path} answered ${res.status}, expected ${expect}: ${text}`);
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  };
  await post(appPath('/auth/providers/local-userpass/register'), { email, password }, 201);
  const login = await post(appPath('/auth/providers/local-userpass/login'), { username: email, password }, 200);
  const accessToken = login.access_token;
  const refreshToken = login.refresh_token;
  if (typeof accessToken !== 'string' || typeof refreshToken !== 'string') throw new Error('setup: login returned no tokens');
  // 20 to-do items owned by this user, for rules_find (examples/todo's items rules: owner only).
  const userId = login.user_id as string;
  const seed = await fetch(baseUrl + appPath('/functions/call'), {
    method: 'POST',
    headers: { ...json, ...bearer(accessToken) },
    body: JSON.stringify({
      name: 'insertMany',
      service: 'mongodb-atlas',
      arguments: [{ database: 'todo', collection: 'items', documents: Array.from({ length: 20 }, (_, i) => ({ owner_id: userId, title: `item ${i}`, done: false })) }],
    }),
  });
  if (seed.status !== 200) throw new Error(`setup: seeding items answered ${seed.status}: ${await seed.text()}`);
  // And 1,000 items of another user in the same collection, which neither find may return.
  const other = await post(appPath('/auth/providers/anon-user/login'), {}, 200);
  const otherSeed = await fetch(baseUrl + appPath('/functions/call'), {
    method: 'POST',
    headers: { ...json, ...bearer(other.access_token as string) },
    body: JSON.stringify({
      name: 'insertMany',
      service: 'mongodb-atlas',
      arguments: [{ database: 'todo', collection: 'items', documents: Array.from({ length: 1000 }, (_, i) => ({ owner_id: other.user_id, title: `other ${i}`, done: false })) }],
    }),
  });
  if (otherSeed.status !== 200) throw new Error(`setup: seeding other items answered ${otherSeed.status}: ${await otherSeed.text()}`);
  // rules_find and find_no_rules must answer the same 20 items, or their ratio means nothing.
  const found: string[] = [];
  for (const name of ['myItems', 'myItemsUnchecked']) {
    const res = await fetch(baseUrl + appPath('/functions/call'), { method: 'POST', headers: { ...json, ...bearer(accessToken) }, body: JSON.stringify({ name, arguments: [] }) });
    const text = await res.text();
    const items = res.ok ? (JSON.parse(text) as { title?: unknown }[]) : null;
    if (!Array.isArray(items) || items.length !== 20 || items.some((i) => !String(i.title).startsWith('item '))) {
      throw new Error(`setup: ${name} answered ${res.status} ${text.slice(0, 200)}, not the user's 20 items`);
    }
    found.push(JSON.stringify(items));
  }
  if (found[0] !== found[1]) throw new Error('setup: myItems and myItemsUnchecked returned different items');
  const users: Fixture['users'][number][] = [];
  if (wanted('mixed') || wanted('mixed_pg2') || wanted('revocation_latency_pg2')) {
    for (let i = 0; i < CONNECTIONS; i++) {
      const u = await post(appPath('/auth/providers/anon-user/login'), {}, 200);
      users.push({ accessToken: u.access_token as string, refreshToken: u.refresh_token as string });
    }
  }
  return { baseUrl, userId, email, password, accessToken, refreshToken, users };
}

/**
 * Before measuring several instances: `server` accepts what another instance issued to
 * `fixture`'s user (refresh, profile of the same user, a function call that reads the 20 items
 * seeded through the other instance). The load's zero-errors check says every request succeeded;
 * this also says each answered for the right user.
 */
async function crossCheck(server: Server, fixture: Fixture): Promise<void> {
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(server.baseUrl + path, {
      method,
      headers: { ...(body === undefined ? {} : json), ...bearer(token) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`cross-instance check: ${method} ${path} on ${server.baseUrl} answered ${res.status}: ${text}`);
    return JSON.parse(text) as unknown;
  };
  await call('POST', '/api/client/v2.0/auth/session', fixture.refreshToken);
  const profile = (await call('GET', '/api/client/v2.0/auth/profile', fixture.accessToken)) as { user_id?: unknown };
  if (profile.user_id !== fixture.userId) {
    throw new Error(`cross-instance check: ${server.baseUrl} gave the profile of ${String(profile.user_id)}, not ${fixture.userId}`);
  }
  const items = await call('POST', appPath('/functions/call'), fixture.accessToken, { name: 'myItems', arguments: [] });
  if (!Array.isArray(items) || items.length !== 20) {
    throw new Error(`cross-instance check: myItems on ${server.baseUrl} returned ${JSON.stringify(items).slice(0, 200)}, not the 20 seeded items`);
  }
}

// ---------------------------------------------------------------------------------------------
// Peak RSS: reset the kernel's high-water mark (clear_refs 5) before a scenario, read VmHWM
// after it, and poll VmRSS meanwhile in case the reset is not allowed.

function rssSampler(pid: number): { stop(): number } {
  const status = () => {
    try {
      return readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      return '';
    }
  };
  const kb = (text: string, field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
  let hwmReset = false;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    hwmReset = true;
  } catch {
    // not Linux, or not allowed: polling alone
  }
  let peakKb = kb(status(), 'VmRSS');
  const timer = setInterval(() => (peakKb = Math.max(peakKb, kb(status(), 'VmRSS'))), 100);
  return {
    stop() {
      clearInterval(timer);
      const last = status();
      peakKb = Math.max(peakKb, kb(last, 'VmRSS'));
      if (hwmReset) peakKb = Math.max(peakKb, kb(last, 'VmHWM'));
      return peakKb / 1024;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CPU accounting (Linux /proc; USER_HZ = 100): how much the server used, how much the load
// generator used, and how much went to anything else on the machine. A shared machine busy with
// other work makes the numbers lie; the table says so.

const TICK_S = 0.01;

function machineBusyS(): number {
  try {
    const [user, nice, system] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0)) * TICK_S;
  } catch {
    return Number.NaN;
  }
}

function processCpuS(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_S; // utime, stime
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds of each PostgreSQL process (the server's backends are part of what a `_pg` scenario measures). */
function postgresCpuS(): Map<number, number> {
  const each = new Map<number, number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
    } catch {
      continue;
    }
    const s = processCpuS(Number(pid));
    if (Number.isFinite(s)) each.set(Number(pid), s);
  }
  return each;
}

/**
 * PostgreSQL CPU used since `before`: by the processes alive now (those started since count from
 * zero). A backend that exited meanwhile (another client's connection closing) takes its CPU
 * time with it; that time shows up as other CPU rather than as a negative db CPU.
 */
function postgresCpuSince(before: Map<number, number>): number {
  let used = 0;
  for (const [pid, s] of postgresCpuS()) used += s - (before.get(pid) ?? 0);
  return used;
}

const selfCpuS = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

interface CpuUse {
  /** All the scenario's server instances together. */
  server_cpu_cores: number;
  /** PostgreSQL's processes, for `_pg` scenarios (counted as other CPU elsewhere). */
  db_cpu_cores?: number;
  /** Server CPU time per completed request (warm-up included): what a request costs, whatever else ran. */
  server_cpu_us_per_req?: number;
  loadgen_cpu_cores: number;
  other_cpu_cores: number;
}

/**
 * Starts counting; `stop` takes the CPU seconds of processes that have exited by then (the load
 * generator). Several server pids (instances of one scenario) are summed, and also given apart.
 */
function cpuMeter(
  serverPids: readonly number[],
  countDb = false,
): { stop(exitedCpuS: number, serverCpuS?: number): CpuUse & { server_cpu_s: number; server_cpu_cores_each: number[] } } {
  const wall = performance.now();
  const db = countDb ? postgresCpuS() : new Map<number, number>();
  const busy = machineBusyS();
  const servers = serverPids.map(processCpuS);
  const self = selfCpuS();
  return {
    stop(exitedCpuS, serverCpuS) {
      const seconds = (performance.now() - wall) / 1000;
      const each = serverCpuS !== undefined ? [serverCpuS] : serverPids.map((pid, i) => processCpuS(pid) - servers[i]!);
      const serverUsed = each.reduce((a, b) => a + b, 0);
      const dbUsed = countDb ? postgresCpuSince(db) : 0;
      const other = machineBusyS() - busy - serverUsed - exitedCpuS - dbUsed - (selfCpuS() - self);
      return {
        ...(countDb ? { db_cpu_cores: dbUsed / seconds } : {}),
        server_cpu_s: serverUsed,
        server_cpu_cores: serverUsed / seconds,
        server_cpu_cores_each: each.map((s) => s / seconds),
        loadgen_cpu_cores: exitedCpuS / seconds,
        other_cpu_cores: Math.max(0, other / seconds),
      };
    },
  };
}

/** Waits (at most `maxS`) until processes other than ours use less than NOISY_CORES; returns their last load. */
async function waitForQuiet(maxS: number): Promise<number> {
  if (maxS <= 0) return 0;
  const start = Date.now();
  for (let waited = false; ; waited = true) {
    const before = machineBusyS();
    const self = selfCpuS();
    await sleep(1000);
    const cores = machineBusyS() - before - (selfCpuS() - self);
    const done = !(cores >= NOISY_CORES) || Date.now() - start >= maxS * 1000;
    if (done && waited) process.stdout.write(`(waited ${Math.round((Date.now() - start) / 1000)} s for other processes to quiet down) `);
    if (done) return cores;
  }
}

// ---------------------------------------------------------------------------------------------
// Measuring

const failures: string[] = [];

const diagnostics: Record<string, CpuUse> = {};
/** Scenarios on several server instances: each instance's share (`instances` in the JSON). */
interface PerInstance {
  servers: number;
  server_cpu_cores: number[];
  peak_rss_mb: number[];
}
const perInstance: Record<string, PerInstance> = {};
/** A full run measures a scenario again (twice at most) when other processes took CPU meanwhile. */
const NOISY_RETRIES = QUICK ? 0 : 2;

/** Runs `measure` (which records `diagnostics[name]`), again while it was noisy; keeps the quietest attempt. */
async function quietest<M>(name: string, measure: () => Promise<M>): Promise<M> {
  let best: { m: M; cpu: CpuUse; instances: PerInstance | undefined } | null = null;
  for (let attempt = 0; ; attempt++) {
    const m = await measure();
    const cpu = diagnostics[name]!;
    const instances = perInstance[name];
    if (!best || cpu.other_cpu_cores < best.cpu.other_cpu_cores) best = { m, cpu, instances };
    if (cpu.other_cpu_cores < NOISY_CORES || attempt >= NOISY_RETRIES) break;
    process.stdout.write(`(other processes used ${cpu.other_cpu_cores.toFixed(2)} cores; measuring again) `);
  }
  diagnostics[name] = best.cpu;
  if (best.instances) perInstance[name] = best.instances;
  return best.m;
}

/**
 * One scenario's load over `servers`, one target per server. With several servers (instances on
 * one store), one autocannon process opens connection i to target i % n: 25 connections each,
 * one latency histogram, no proxy in between. Server CPU is the sum over the instances; peak RSS
 * is the largest instance's (each instance is one server process, as the RSS target means).
 */
async function measureHttp(
  name: string,
  servers: readonly Server[],
  method: LoadSpec['method'],
  targets: readonly LoadTarget[],
  countDb: boolean,
  background?: { readonly spec: Background; readonly target: LoadTarget; readonly method: string },
): Promise<Omit<Measured, 'ratio_to_ceiling'>> {
  const spec: LoadSpec = { targets, method, connections: CONNECTIONS, warmupSeconds: WARMUP_S, durationSeconds: DURATION_S };
  await waitForQuiet(MAX_QUIET_WAIT_S);
  // Started after the wait (they keep the server's CPUs busy) and given time to hold their isolates.
  const calling = background ? keepCalling(name, background.target, background.method, background.spec) : null;
  if (calling) await sleep(500 + background!.spec.calls * BACKGROUND_STAGGER_MS);
  const rss = servers.map((s) => rssSampler(s.pid));
  const stopRss = () => rss.map((r) => r.stop());
  const cpu = cpuMeter(
    servers.map((s) => s.pid),
    countDb,
  );
  type LoadResult = autocannon.Result & { warmup?: autocannon.Result; loadgen_cpu_s: number };
  const result = await runWorker<LoadResult>('load.ts', spec).finally(stopRss);
  // The calls still spinning end by themselves within SPIN_MARGIN_MS: waited for, so that none runs into the next scenario.
  await calling?.stop();
  const peakRssEach = stopRss();
  const peakRss = Math.max(...peakRssEach);
  const { server_cpu_s, server_cpu_cores_each, ...cpuUse } = cpu.stop(result.loadgen_cpu_s);
  const completed = result.requests.total + (result.warmup?.requests.total ?? 0);
  diagnostics[name] = { ...cpuUse, server_cpu_us_per_req: (server_cpu_s * 1e6) / Math.max(1, completed) };
  if (servers.length > 1) {
    perInstance[name] = { servers: servers.length, server_cpu_cores: server_cpu_cores_each, peak_rss_mb: peakRssEach };
  }
  for (const server of servers) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) failures.push(`${name}: ${server.label} exited during the run`);
  }
  const check = (r: autocannon.Result, phase: string) => {
    const bad = r.errors + r.non2xx + (r.mismatches ?? 0);
    if (bad > 0) {
      const codes = Object.entries(r.statusCodeStats ?? {})
        .map(([code, { count }]) => `${code}×${count}`)
        .join(', ');
      failures.push(
        `${name} (${phase}): ${r.errors} errors (${r.timeouts} timeouts), ${r.non2xx} non-2xx responses [status codes: ${codes}]`,
      );
    }
    // A warm-up shorter than one request's latency (a quick run's 1 s against argon2 logins on a
    // busy machine) completes nothing without anything having failed; the measured run must.
    if (r.requests.total === 0 && phase === 'measured') failures.push(`${name} (${phase}): no request completed`);
  };
  if (result.warmup) check(result.warmup, 'warm-up');
  check(result, 'measured');
  return {
    rps: result.requests.total / result.duration,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    errors: result.errors + result.non2xx + (result.mismatches ?? 0),
    peak_rss_mb: peakRss,
  };
}

interface Revocations {
  revocations: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  /** Share of revocations the other instance already refused at its first check. */
  refused_at_first_check: number;
}

/** Sessions revoked under load, measured apart from the request mix: that many at most. */
const REVOCATIONS = 300;

/**
 * While the `mixed` load runs on both instances: a session is opened on instance A, its profile
 * read twice on B (so B has it cached), then it is revoked on A (logout, or user delete, in
 * turn); from A's answer on, B is asked for the profile again and again until it refuses. The
 * latency is from A's answer to B's refusal arriving: an upper bound, as it includes one round trip
 * of the refused request under load.
 */
async function measureRevocations(name: string, servers: readonly Server[], targets: readonly LoadTarget[]): Promise<Revocations> {
  const spec: LoadSpec = { targets, method: 'GET', connections: CONNECTIONS, warmupSeconds: WARMUP_S, durationSeconds: QUICK ? 6 : 30 };
  await waitForQuiet(MAX_QUIET_WAIT_S);
  type LoadResult = autocannon.Result & { warmup?: autocannon.Result };
  let loadDone = false;
  const load = runWorker<LoadResult>('load.ts', spec).finally(() => (loadDone = true));
  const call = async (server: Server, r: Request) => {
    const res = await fetch(server.baseUrl + r.path, { method: r.method, headers: r.headers, body: r.body === undefined ? undefined : JSON.stringify(r.body) });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Record<string, string>) : {} };
  };
  await sleep(WARMUP_S * 1000 + 500);
  const latencies: number[] = [];
  let first = 0;
  for (let k = 0; !loadDone && latencies.length < REVOCATIONS; k++) {
    const [a, b] = [servers[k % 2]!, servers[(k + 1) % 2]!];
    const login = await call(a, anonLogin());
    if (login.status !== 200) throw new Error(`${name}: login on ${a.baseUrl} answered ${login.status}`);
    const tokens = { accessToken: login.json.access_token!, refreshToken: login.json.refresh_token! };
    for (let i = 0; i < 2; i++) {
      const p = await call(b, profileRequest(tokens));
      if (p.status !== 200) throw new Error(`${name}: profile on ${b.baseUrl} answered ${p.status} before the revocation`);
    }
    const revoke: Request =
      k % 2 === 0
        ? { method: 'DELETE', path: '/api/client/v2.0/auth/session', headers: bearer(tokens.refreshToken) }
        : { method: 'DELETE', path: '/api/client/v2.0/auth/delete', headers: bearer(tokens.accessToken) };
    const revoked = await call(a, revoke);
    if (revoked.status !== 204) throw new Error(`${name}: ${revoke.path} on ${a.baseUrl} answered ${revoked.status}`);
    const t0 = performance.now();
    for (let polls = 1; ; polls++) {
      const p = await call(b, profileRequest(tokens));
      if (p.status === 401) {
        latencies.push(performance.now() - t0);
        if (polls === 1) first++;
        break;
      }
      if (p.status !== 200) throw new Error(`${name}: profile on ${b.baseUrl} answered ${p.status} after the revocation`);
      if (performance.now() - t0 > 5000) throw new Error(`${name}: ${b.baseUrl} still served a session revoked on ${a.baseUrl} 5 s later`);
    }
  }
  const result = await load;
  for (const [phase, r] of [['warm-up', result.warmup], ['measured', result]] as const) {
    if (r && r.errors + r.non2xx > 0) failures.push(`${name} (${phase} of the load): ${r.errors} errors, ${r.non2xx} non-2xx responses`);
  }
  if (latencies.length === 0) failures.push(`${name}: no revocation measured`);
  latencies.sort((x, y) => x - y);
  const at = (q: number) => round(latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] ?? 0, 1);
  return { revocations: latencies.length, p50_ms: at(0.5), p99_ms: at(0.99), max_ms: round(latencies.at(-1) ?? 0, 1), refused_at_first_check: round(first / Math.max(1, latencies.length), 3) };
}

const WATCH_STREAMS = 100;

/**
 * watch_latency: WATCH_STREAMS realm-web-style streams (`baas_request`, bearer) of the user on
 * todo.items, spread over the instances, then inserts through the first instance one at a time,
 * each waited for on every stream. Latency: the insert's acknowledgement to its event's arrival,
 * per stream (events that beat the acknowledgement count as 0). `rps` is events delivered per second.
 */
async function measureWatch(name: string, servers: readonly Server[], f: Fixture, countDb: boolean): Promise<Omit<Measured, 'ratio_to_ceiling'>> {
  const { request } = await import('node:http');
  const inserts = QUICK ? 40 : 200;
  const body = { name: 'watch', service: 'mongodb-atlas', arguments: [{ database: 'todo', collection: 'items', filter: { 'fullDocument.title': { $regex: '^wb-' } } }] };
  const query = `baas_request=${encodeURIComponent(Buffer.from(JSON.stringify(body)).toString('base64'))}`;
  // arrivals[n][stream] = when stream got insert n.
  const arrivals = new Map<number, Map<number, number>>();
  let errors = 0;
  const streams = await Promise.all(
    Array.from({ length: WATCH_STREAMS }, (_, i) => {
      const server = servers[i % servers.length]!;
      return new Promise<{ close(): void }>((resolve, reject) => {
        const req = request(`${server.baseUrl}${appPath('/functions/call')}?${query}`, { headers: { ...bearer(f.accessToken), accept: 'text/event-stream' } }, (res) => {
          if (res.statusCode !== 200) {
            errors++;
            reject(new Error(`watch stream answered ${res.statusCode}`));
            return;
          }
          res.setEncoding('utf8');
          let buf = '';
          res.on('data', (chunk: string) => {
            const at = performance.now();
            buf += chunk;
            for (const m of buf.matchAll(/"title":"wb-(\d+)"/g)) {
              const n = Number(m[1]);
              const got = arrivals.get(n) ?? new Map<number, number>();
              if (!got.has(i)) got.set(i, at);
              arrivals.set(n, got);
            }
            buf = buf.slice(buf.lastIndexOf('\n') + 1);
          });
          resolve({ close: () => req.destroy() });
        });
        req.on('error', (err) => {
          if ((err as { code?: string }).code !== 'ECONNRESET') reject(err);
        });
        req.end();
      });
    }),
  );
  await sleep(300);
  await waitForQuiet(MAX_QUIET_WAIT_S);
  const rss = servers.map((s) => rssSampler(s.pid));
  const cpu = cpuMeter(
    servers.map((s) => s.pid),
    countDb,
  );
  const started = performance.now();
  const latencies: number[] = [];
  for (let n = 0; n < inserts; n++) {
    const res = await fetch(`${servers[0]!.baseUrl}${appPath('/functions/call')}`, {
      method: 'POST',
      headers: { ...json, ...bearer(f.accessToken) },
      body: JSON.stringify({ name: 'insertOne', service: 'mongodb-atlas', arguments: [{ database: 'todo', collection: 'items', document: { owner_id: f.userId, title: `wb-${n}` } }] }),
    });
    await res.arrayBuffer();
    const acked = performance.now();
    if (res.status !== 200) {
      errors++;
      continue;
    }
    const deadline = Date.now() + 5_000;
    while ((arrivals.get(n)?.size ?? 0) < WATCH_STREAMS && Date.now() < deadline) await sleep(1);
    const got = arrivals.get(n) ?? new Map<number, number>();
    errors += WATCH_STREAMS - got.size;
    for (const at of got.values()) latencies.push(Math.max(0, at - acked));
  }
  const seconds = (performance.now() - started) / 1000;
  const peakRssEach = rss.map((r) => r.stop());
  const { server_cpu_s, server_cpu_cores_each, ...cpuUse } = cpu.stop(0);
  for (const s of streams) s.close();
  diagnostics[name] = { ...cpuUse, server_cpu_us_per_req: (server_cpu_s * 1e6) / Math.max(1, latencies.length) };
  if (servers.length > 1) perInstance[name] = { servers: servers.length, server_cpu_cores: server_cpu_cores_each, peak_rss_mb: peakRssEach };
  if (errors > 0) failures.push(`${name}: ${errors} events missing or inserts refused`);
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
  return { rps: latencies.length / seconds, p50_ms: pct(50), p99_ms: pct(99), errors, peak_rss_mb: Math.max(...peakRssEach) };
}

async function measureArgon2(): Promise<Omit<Measured, 'ratio_to_ceiling'>> {
  await waitForQuiet(MAX_QUIET_WAIT_S);
  const cpu = cpuMeter([]);
  const r = await runWorker<{ rps: number; p50_ms: number; p99_ms: number; errors: number; peak_rss_mb: number; cpu_s: number }>(
    'argon2.ts',
    { concurrency: CONNECTIONS, warmupSeconds: WARMUP_S, durationSeconds: DURATION_S },
  );
  const { server_cpu_s: _, server_cpu_cores_each: __, ...cpuUse } = cpu.stop(0, r.cpu_s);
  diagnostics.argon2_raw = cpuUse;
  if (r.errors > 0) failures.push(`argon2_raw: ${r.errors} hashes failed`);
  return { rps: r.rps, p50_ms: r.p50_ms, p99_ms: r.p99_ms, errors: r.errors, peak_rss_mb: r.peak_rss_mb };
}

// ---------------------------------------------------------------------------------------------
// The run

function machine() {
  const cpuList = cpus();
  let cpusAllowed: string | undefined;
  try {
    cpusAllowed = /Cpus_allowed_list:\s+(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  } catch {
    cpusAllowed = undefined;
  }
  return {
    cpu_model: cpuList[0]?.model ?? 'unknown',
    cpu_count: cpuList.length,
    cpus_allowed: cpusAllowed,
    total_memory_mb: Math.round(totalmem() / 2 ** 20),
    node_version: process.version,
    platform: `${platform()} ${release()}`,
    date: new Date().toISOString(),
    mode: QUICK ? 'quick' : 'full',
    connections: CONNECTIONS,
    warmup_s: WARMUP_S,
    duration_s: DURATION_S,
  };
}

const wanted = (name: string) => !ONLY || ONLY.has(name) || ONLY.has(name.replace(BACKEND_SUFFIX, ''));

async function main(): Promise<number> {
  const started = Date.now();
  const info = machine();
  process.stdout.write(
    `bench: ${info.mode} run, ${CONNECTIONS} connections, ${WARMUP_S}s warm-up + ${DURATION_S}s per scenario, ` +
      `${info.cpu_count}× ${info.cpu_model}, node ${info.node_version}\n`,
  );

  // The ceiling first, in the same run: every ratio is against it.
  const ceilingServer = await startCeiling();
  process.stdout.write('  ceiling (bare Fastify JSON route)... ');
  const ceiling = await quietest('ceiling', () =>
    measureHttp('ceiling', [ceilingServer], 'GET', [{ url: `${ceilingServer.baseUrl}/` }], false),
  );
  await stop(ceilingServer.child);
  process.stdout.write(`${Math.round(ceiling.rps)} req/s\n`);
  const ratio = (m: Omit<Measured, 'ratio_to_ceiling'>): Measured => ({ ...m, ratio_to_ceiling: m.rps / ceiling.rps });

  const scenarios: Record<string, Outcome> = { ceiling: ratio(ceiling) };
  let revocation: Revocations | { skipped: string } | undefined;
  const tokenAuthenticated = new Set<string>();
  // One server (or `backend.instances` servers on one fresh store) per backend and log level,
  // each with its own fixture (a user registered and logged in through that instance).
  const servers = new Map<string, Promise<{ instances: Server[]; fixtures: Fixture[] }>>();
  const serverFor = (backend: Backend, logLevel: 'warn' | 'info', app: AppVariant = 'todo') => {
    const key = `${backend.suffix}:${logLevel}:${app}`;
    let entry = servers.get(key);
    if (!entry) {
      entry = (async () => {
        const storeArgs = await backend.prepare();
        // Started together: with PostgreSQL they race for the migration lock, as real instances do.
        const instances = await Promise.all(
          Array.from({ length: backend.instances }, (_, i) =>
            startBaste(backend.instances > 1 ? `${backend.label}, #${i + 1}` : backend.label, storeArgs, logLevel, app),
          ),
        );
        const fixtures: Fixture[] = [];
        for (const server of instances) fixtures.push(await setUp(server.baseUrl));
        if (instances.length > 1) await Promise.all(instances.map((server, i) => crossCheck(server, fixtures[(i + 1) % fixtures.length]!)));
        return { instances, fixtures };
      })();
      servers.set(key, entry);
    }
    return entry;
  };
  /**
   * Instance i is sent what instance i+1 issued (its user's tokens and credentials): with two
   * instances every token-authenticated request crosses over (a session created on A refreshed
   * on B and vice versa), and rules_find reads on one instance the items seeded through the other.
   */
  const loadTargets = (instances: Server[], fixtures: Fixture[], request: (f: Fixture) => Request, mix?: (f: Fixture) => Request[][]) =>
    instances.map((server, i): LoadTarget => {
      const fixture = fixtures[(i + 1) % fixtures.length]!;
      const req = request(fixture);
      const wire = (r: Request): LoadRequest => ({ method: r.method, path: r.path, headers: r.headers, body: r.body === undefined ? undefined : JSON.stringify(r.body) });
      return { ...wire(req), url: server.baseUrl + req.path, ...(mix ? { sequences: mix(fixture).map((seq) => seq.map(wire)) } : {}) };
    });

  for (const backend of BACKENDS) {
    const unavailable = await backend.unavailable();
    for (const scenario of SCENARIOS) {
      if (scenario.kind === 'argon2') {
        if (backend.suffix !== '' || !wanted(scenario.name)) continue;
        process.stdout.write(`  ${scenario.name}... `);
        const m = ratio(await quietest(scenario.name, measureArgon2));
        scenarios[scenario.name] = m;
        process.stdout.write(`${Math.round(m.rps)} hashes/s\n`);
        continue;
      }
      if (scenario.kind === 'revocation') {
        const name = `${scenario.name}_pg2`;
        if (backend.suffix !== '_pg2' || !wanted(name)) continue;
        if (unavailable) {
          revocation = { skipped: unavailable };
          continue;
        }
        const { instances, fixtures } = await serverFor(backend, 'warn');
        process.stdout.write(`  ${name}... `);
        await sleep(300);
        revocation = await measureRevocations(name, instances, loadTargets(instances, fixtures, profileRequest, mixOf));
        process.stdout.write(`${revocation.revocations} revocations, p99 ${revocation.p99_ms} ms, max ${revocation.max_ms} ms\n`);
        continue;
      }
      if (scenario.kind === 'watch') {
        const name = scenario.name + backend.suffix;
        if (!wanted(name)) continue;
        if (unavailable) {
          scenarios[name] = { skipped: unavailable };
          continue;
        }
        const { instances, fixtures } = await serverFor(backend, 'warn');
        process.stdout.write(`  ${name}... `);
        await sleep(300);
        const m = ratio(await quietest(name, () => measureWatch(name, instances, fixtures[0]!, backend.countDb)));
        scenarios[name] = m;
        process.stdout.write(`p50 ${m.p50_ms.toFixed(1)} ms, p99 ${m.p99_ms.toFixed(1)} ms at ${WATCH_STREAMS} streams\n`);
        continue;
      }
      if (!scenario.perBackend && backend.suffix !== '') continue;
      if (scenario.backends && !scenario.backends.includes(backend.suffix)) continue;
      const name = scenario.name + backend.suffix;
      if (!wanted(name)) continue;
      if (scenario.tokenAuthenticated) tokenAuthenticated.add(name);
      if (scenario.notImplemented) {
        scenarios[name] = { skipped: `not implemented yet: ${scenario.notImplemented}` };
        continue;
      }
      if (unavailable) {
        scenarios[name] = { skipped: unavailable };
        continue;
      }
      const { instances, fixtures } = await serverFor(backend, scenario.logLevel ?? 'warn', scenario.app);
      const targets = loadTargets(instances, fixtures, scenario.request, scenario.mix);
      const method = scenario.request(fixtures[0]!).method;
      const bg = scenario.background;
      const background = bg && { spec: bg, target: loadTargets(instances, fixtures, bg.request)[0]!, method: bg.request(fixtures[0]!).method };
      process.stdout.write(`  ${name}... `);
      await sleep(300); // let the previous scenario's writes and garbage settle
      const m = ratio(await quietest(name, () => measureHttp(name, instances, method, targets, backend.countDb, background)));
      scenarios[name] = m;
      process.stdout.write(`${Math.round(m.rps)} req/s\n`);
    }
    // This store's servers are done: stopped before the next store's scenarios so that idle
    // servers (and their database connections) neither hold memory nor take CPU meanwhile.
    for (const [key, entry] of servers) {
      if (!key.startsWith(`${backend.suffix}:`)) continue;
      servers.delete(key);
      await Promise.all((await entry).instances.map((s) => stop(s.child)));
    }
  }
  for (const entry of servers.values()) await Promise.all((await entry).instances.map((s) => stop(s.child)));
  await dropPgDatabases();

  // Rounded for the file and the table.
  for (const [name, o] of Object.entries(scenarios)) {
    if (!isMeasured(o)) continue;
    scenarios[name] = {
      rps: round(o.rps, 1),
      p50_ms: round(o.p50_ms, 2),
      p99_ms: round(o.p99_ms, 2),
      errors: o.errors,
      ratio_to_ceiling: round(o.ratio_to_ceiling, 4),
      peak_rss_mb: round(o.peak_rss_mb, 1),
    };
  }
  const cpuUse = Object.fromEntries(
    Object.entries(diagnostics).map(([name, d]) => [
      name,
      {
        server_cpu_cores: round(d.server_cpu_cores, 2),
        ...(d.server_cpu_us_per_req === undefined ? {} : { server_cpu_us_per_req: round(d.server_cpu_us_per_req, 1) }),
        ...(d.db_cpu_cores === undefined ? {} : { db_cpu_cores: round(d.db_cpu_cores, 2) }),
        loadgen_cpu_cores: round(d.loadgen_cpu_cores, 2),
        other_cpu_cores: round(d.other_cpu_cores, 2),
      },
    ]),
  );
  const instances = Object.fromEntries(
    Object.entries(perInstance).map(([name, p]) => [
      name,
      { servers: p.servers, server_cpu_cores: p.server_cpu_cores.map((c) => round(c, 2)), peak_rss_mb: p.peak_rss_mb.map((m) => round(m, 1)) },
    ]),
  );
  // `cpu` and `instances` are not part of the issue's shape; they are extra, for telling a busy
  // machine from a slow server and for seeing how the load split over several instances.
  const report = { machine: info, ceiling_rps: round(ceiling.rps, 1), scenarios, ...(revocation ? { revocation_latency_pg2: revocation } : {}), cpu: cpuUse, instances };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);

  process.stdout.write(`\n${table(scenarios, cpuUse, instances)}\n${targets(scenarios, tokenAuthenticated)}\n${scaleOut(scenarios)}`);
  if (revocation) {
    if ('skipped' in revocation) process.stdout.write(`revocation_latency_pg2: skipped (${revocation.skipped})\n`);
    else {
      const r = revocation;
      process.stdout.write(
        `revocation_latency_pg2: ${r.revocations} revocations (logout and user delete) under the mixed load: p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, max ${r.max_ms} ms; ` +
          `refused at the first check ${(r.refused_at_first_check * 100).toFixed(0)} %\n  ${mark(r.max_ms <= REVOCATION_MAX_MS)}  max ${r.max_ms} ms <= ${REVOCATION_MAX_MS} ms\n`,
      );
    }
  }
  const noisy = Object.entries(cpuUse).filter(([, d]) => d.other_cpu_cores >= NOISY_CORES);
  if (noisy.length > 0) {
    process.stdout.write(
      `warning: other processes used CPU during ${noisy.map(([n, d]) => `${n} (${d.other_cpu_cores} cores)`).join(', ')}: ` +
        'those numbers are low by up to that share of the machine; run again on a quiet machine\n',
    );
  }
  process.stdout.write(`wrote ${OUT} (${Math.round((Date.now() - started) / 1000)} s)\n`);
  if (failures.length > 0) {
    process.stderr.write(`\nBENCHMARK FAILED: a benchmark of failures is not a benchmark.\n${failures.map((f) => `  - ${f}`).join('\n')}\n`);
    return 1;
  }
  return 0;
}

function table(scenarios: Record<string, Outcome>, cpu: Record<string, CpuUse>, instances: Record<string, PerInstance>): string {
  const head = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'ratio', 'peak RSS MB', 'server CPU', 'µs CPU/req', 'db CPU', 'other CPU'];
  const measured = Object.entries(scenarios).flatMap(([name, o]) =>
    isMeasured(o)
      ? [
          [
            name === 'argon2_raw' ? `${name} (hashes/s)` : name,
            o.rps.toFixed(0),
            o.p50_ms.toFixed(name === 'argon2_raw' ? 0 : 1),
            o.p99_ms.toFixed(name === 'argon2_raw' ? 0 : 1),
            String(o.errors),
            o.ratio_to_ceiling.toFixed(3),
            o.peak_rss_mb.toFixed(0),
            // Several instances: each one's share (they add up to the server CPU).
            instances[name]?.server_cpu_cores.map((c) => c.toFixed(2)).join('+') ?? cpu[name]?.server_cpu_cores.toFixed(2) ?? '',
            cpu[name]?.server_cpu_us_per_req?.toFixed(0) ?? '',
            cpu[name]?.db_cpu_cores?.toFixed(2) ?? '',
            cpu[name]?.other_cpu_cores.toFixed(2) ?? '',
          ],
        ]
      : [],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...measured.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const skipped = Object.entries(scenarios).flatMap(([name, o]) =>
    isMeasured(o) ? [] : [`${name.padEnd(widths[0]!)}  skipped (${o.skipped})`],
  );
  return [line(head), ...measured.map(line), ...skipped].join('\n') + '\n';
}

const mark = (ok: boolean) => (ok ? 'met ' : 'MISS');

function targets(scenarios: Record<string, Outcome>, tokenAuthenticated: Set<string>): string {
  const lines: string[] = ['targets (ratios to the ceiling of this run):'];
  for (const [name, min] of Object.entries(RATIO_TARGETS)) {
    const o = scenarios[name];
    if (!o) continue;
    lines.push(
      isMeasured(o)
        ? `  ${mark(o.ratio_to_ceiling >= min)}  ${name} ratio ${o.ratio_to_ceiling.toFixed(3)} >= ${min}`
        : `  skip  ${name} ratio >= ${min} (${o.skipped})`,
    );
  }
  const login = scenarios.password_login;
  const argon = scenarios.argon2_raw;
  if (isMeasured(login) && isMeasured(argon)) {
    const r = login.rps / argon.rps;
    lines.push(`  ${mark(r >= PASSWORD_LOGIN_VS_ARGON2)}  password_login ${r.toFixed(2)} of argon2_raw >= ${PASSWORD_LOGIN_VS_ARGON2}`);
  }
  for (const name of tokenAuthenticated) {
    const o = scenarios[name];
    if (isMeasured(o) && !name.endsWith('_logged') && !BACKEND_SUFFIX.test(name)) {
      const limit = SCENARIOS.find((s): s is HttpScenario => s.kind === 'http' && s.name === name)?.p99TargetMs ?? TOKEN_P99_MS;
      lines.push(`  ${mark(o.p99_ms < limit)}  ${name} p99 ${o.p99_ms.toFixed(1)} ms < ${limit} ms`);
    }
  }
  const rss = Object.entries(scenarios).filter(([n, o]) => isMeasured(o) && n !== 'ceiling' && n !== 'argon2_raw');
  const worst = rss.reduce((max, [, o]) => Math.max(max, (o as Measured).peak_rss_mb), 0);
  if (rss.length > 0) lines.push(`  ${mark(worst < PEAK_RSS_MB)}  server peak RSS ${worst.toFixed(0)} MB < ${PEAK_RSS_MB} MB`);
  return lines.join('\n') + '\n';
}

/** Issue 6's comparison: each scenario on SQLite, PostgreSQL with 1 instance and with 2. */
function scaleOut(scenarios: Record<string, Outcome>): string {
  const rows: string[] = [];
  for (const scenario of SCENARIOS) {
    const one = scenarios[`${scenario.name}_pg`];
    const two = scenarios[`${scenario.name}_pg2`];
    if (!isMeasured(two)) continue;
    const sqlite = scenarios[scenario.name];
    rows.push(
      `  ${scenario.name.padEnd(16)}` +
        `${isMeasured(sqlite) ? `SQLite ${sqlite.rps.toFixed(0).padStart(6)}   ` : ''}` +
        `${isMeasured(one) ? `PostgreSQL ×1 ${one.rps.toFixed(0).padStart(6)}   ` : ''}` +
        `PostgreSQL ×2 ${two.rps.toFixed(0).padStart(6)}` +
        `${isMeasured(one) ? ` (${(two.rps / one.rps).toFixed(2)}× of ×1)` : ''}`,
    );
  }
  if (rows.length === 0) return '';
  return `req/s by store and number of instances (the two instances, PostgreSQL and the load generator all share this machine's cores: see bench/README.md):\n${rows.join('\n')}\n\n`;
}

process.exitCode = await main().catch(async (err: unknown) => {
  process.stderr.write(`\nBENCHMARK FAILED: ${(err as Error)?.stack ?? String(err)}\n`);
  cleanup();
  await dropPgDatabases();
  return 1;
});
