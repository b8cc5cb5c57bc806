// Shared parts of the hardening suites: a server on either store whose whole state can be
// snapshotted (to prove a refused request changed nothing), raw HTTP for what fetch will not send,
// and a tally of what came back, printed at the end of each suite.

import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { AppConfig } from '../../src/app/model.js';
import { openPostgresDocuments } from '../../src/data/postgres-engine.js';
import type { BasteOptions } from '../../src/server.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { adminQuery, TEST_DATABASE_URL, uniqueName } from '../helpers/postgres.js';
import { startServer, type TestServer } from '../helpers/server.js';

export type Backend = 'sqlite' | 'postgres';
/** Both stores when PostgreSQL is available (BASTE_TEST_DATABASE_URL), else SQLite alone. */
export const BACKENDS: Backend[] = TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
/** `npm run test:hardening` sets this: many more generated requests. */
export const FULL = process.env.BASTE_HARDENING === 'full';

/** Rows that a refusal may change: failed-attempt counters are meant to move. */
const VOLATILE_TABLES = new Set(['counters']);

export interface HardenedServer extends TestServer {
  readonly backend: Backend;
  /** A digest of every row of every table (store and documents), per table. */
  snapshot(): Promise<Record<string, string>>;
}

const digest = (rows: unknown[]) =>
  createHash('sha256')
    .update(rows.map((r) => JSON.stringify(r)).sort().join('\n'))
    .digest('hex')
    .slice(0, 16);

function sqliteSnapshot(file: string, out: Record<string, string>, prefix: string): void {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[];
    for (const { name } of tables) {
      if (!VOLATILE_TABLES.has(name)) out[`${prefix}${name}`] = digest(db.prepare(`SELECT * FROM "${name}"`).all());
    }
  } finally {
    db.close();
  }
}

export async function startHardened(
  backend: Backend,
  app: AppConfig,
  options: Partial<Omit<BasteOptions, 'app' | 'dataDir' | 'store' | 'documents'>> = {},
): Promise<HardenedServer> {
  if (backend === 'sqlite') {
    const server = await startServer(app, { ...options });
    return {
      ...server,
      backend,
      close: () => server.close(),
      async snapshot() {
        const out: Record<string, string> = {};
        sqliteSnapshot(`${server.dataDir}/baste.sqlite`, out, '');
        sqliteSnapshot(`${server.dataDir}/documents.sqlite`, out, 'documents.');
        return out;
      },
    };
  }
  const schema = uniqueName('hard');
  const store = await openPostgresStore(TEST_DATABASE_URL!, { schema, maxConnections: 4 });
  const documents = await openPostgresDocuments(TEST_DATABASE_URL!, { schema, maxConnections: 4 });
  const server = await startServer(app, { ...options, store, documents });
  // One connection and one statement per snapshot: a digest of each table's rows, computed by PostgreSQL.
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  let statement: string | undefined;
  return {
    ...server,
    backend,
    async close() {
      await client.end();
      await server.close();
      await store.close();
      await documents.close();
      await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
    async snapshot() {
      if (!statement) {
        const tables = await client.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1', [schema]);
        statement = (tables.rows as { table_name: string }[])
          .filter(({ table_name: name }) => !VOLATILE_TABLES.has(name))
          .map(({ table_name: name }) => `SELECT '${name}' AS name, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS digest FROM "${schema}"."${name}" t`)
          .join(' UNION ALL ');
      }
      const rows = (await client.query(statement)).rows as { name: string; digest: string }[];
      return Object.fromEntries(rows.map((r) => [r.name, r.digest]));
    },
  };
}

export interface Answer {
  readonly status: number;
  readonly contentType: string | null;
  readonly headers: Headers;
  readonly text: string;
}

/** Is this answer an error in the Stitch shape (exact `application/json`, string error, error_code and link)? */
export function isStitchError(a: Pick<Answer, 'status' | 'contentType' | 'text'>): boolean {
  if (a.status < 400) return true;
  if (a.contentType !== 'application/json') return false;
  try {
    const body = JSON.parse(a.text) as Record<string, unknown>;
    return typeof body.error === 'string' && typeof body.error_code === 'string' && typeof body.link === 'string';
  } catch {
    return false;
  }
}

export async function send(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init);
  return { status: res.status, contentType: res.headers.get('content-type'), headers: res.headers, text: await res.text() };
}

export const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  send(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

/** Sends bytes as they are (what fetch refuses to send: bad headers, huge URLs) and reads the answer until the server closes. */
export function rawRequest(serverUrl: string, request: string | Buffer): Promise<{ status: number; contentType: string | null; text: string; raw: string }> {
  const { hostname, port } = new URL(serverUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in 10 s')));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (err) => (chunks.length ? finish() : reject(err)));
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const raw = Buffer.concat(chunks).toString('latin1');
      const [head = '', ...rest] = raw.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      const contentType = /\r\ncontent-type: *([^\r\n]*)/i.exec(head)?.[1] ?? null;
      let text = rest.join('\r\n\r\n');
      if (/\r\ntransfer-encoding: *chunked/i.test(head)) text = unchunk(text);
      resolve({ status, contentType, text, raw });
    };
    socket.write(request);
  });
}

function unchunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol < 0) return out;
    const size = parseInt(rest.slice(0, eol), 16);
    if (!size) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/** Counts over one suite's requests; printed as one line so a run's log gives the numbers. */
export class Tally {
  requests = 0;
  serverErrors = 0;
  nonStitch = 0;
  stateChanges = 0;
  readonly examples: string[] = [];
  /** What a LocationProbe measured while the suite ran, if one did (reported, never asserted). */
  latency: string | null = null;

  constructor(readonly name: string) {}

  /** Records one answer; `label` names the request in the examples kept of each bad answer. */
  record(label: string, a: Pick<Answer, 'status' | 'contentType' | 'text'>): void {
    this.requests++;
    if (a.status >= 500) {
      this.serverErrors++;
      this.example(`${label} -> ${a.status} ${a.text.slice(0, 200)}`);
    } else if (!isStitchError(a)) {
      this.nonStitch++;
      this.example(`${label} -> ${a.status} ${a.contentType} ${a.text.slice(0, 200)}`);
    }
  }

  stateChanged(label: string, before: Record<string, string>, after: Record<string, string>): void {
    const changed = Object.keys({ ...before, ...after }).filter((t) => before[t] !== after[t]);
    if (changed.length === 0) return;
    this.stateChanges++;
    this.example(`${label} changed ${changed.join(', ')}`);
  }

  private example(text: string): void {
    if (this.examples.length < 20) this.examples.push(text);
  }

  line(): string {
    const latency = this.latency ? `; ${this.latency}` : '';
    return `[hardening] ${this.name}: ${this.requests} requests, ${this.serverErrors} 5xx, ${this.nonStitch} non-Stitch error bodies, ${this.stateChanges} state changes${latency}`;
  }

  print(): void {
    console.log(this.line());
    for (const e of this.examples) console.log(`[hardening]   ${e}`);
  }
}

/**
 * GETs `/location` every few milliseconds while a suite runs, one request at a time, and records
 * how long each took: what a well-behaved client sees while the others misbehave (the issue asks
 * for p99 under 50 ms during the fuzz). Reported in the tally line; timings are never asserted,
 * the machine running the tests may be busy.
 */
export class LocationProbe {
  private readonly latencies: number[] = [];
  private stopped = false;
  private readonly running: Promise<void>;
  /** The slowest probe and what `during` said was in flight when it started. */
  private slowest = { ms: 0, during: '' };

  /** `during`: names what else is in flight (the summary names it for the slowest probe). */
  constructor(url: string, during: () => string = () => '', everyMs = 10) {
    this.running = (async () => {
      while (!this.stopped) {
        const started = performance.now();
        const what = during();
        const res = await fetch(url);
        await res.arrayBuffer();
        const ms = performance.now() - started;
        this.latencies.push(ms);
        if (ms > this.slowest.ms) this.slowest = { ms, during: what };
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
    })();
  }

  /** Stops probing; the summary, e.g. `/location p50 0.8 p99 12.1 max 40.2 ms (n 900)`. */
  async stop(): Promise<string> {
    this.stopped = true;
    await this.running;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    if (sorted.length === 0) return '/location not probed';
    const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!.toFixed(1);
    const during = this.slowest.during ? `, the slowest during ${this.slowest.during.slice(0, 100)}` : '';
    return `/location p50 ${at(50)} p99 ${at(99)} max ${sorted[sorted.length - 1]!.toFixed(1)} ms (n ${sorted.length}${during})`;
  }
}
