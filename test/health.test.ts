// GET /healthz and GET /readyz: no token, nothing revealed, and readyz 503 while the store cannot
// be reached — on SQLite (its database closed under the server) and PostgreSQL (connections to the
// test's own database refused, as test/hardening/faults.test.ts stops it), then ready again.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { openPostgresDocuments } from '../src/data/postgres-engine.js';
import { readinessOf } from '../src/http/routes/health.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import type { Store } from '../src/store/store.js';
import type { DocumentEngine } from '../src/data/engine.js';
import { adminQuery, freshDatabase, skipWithoutPostgres } from './helpers/postgres.js';
import { appConfig, autoConfirmUserpass, provider, startServer, type TestServer } from './helpers/server.js';

const APP = appConfig([provider('anon-user'), autoConfirmUserpass()], 'health-app-abcde');

async function probe(server: TestServer, path: string, init: RequestInit = {}) {
  const res = await fetch(server.url + path, init);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Nothing about the installation in an answer: no version, path, driver, error text or app id. */
function assertRevealsNothing(a: { headers: Headers; text: string }, server: TestServer) {
  for (const h of ['server', 'x-powered-by']) assert.equal(a.headers.get(h), null, h);
  for (const secret of [server.dataDir, process.version, server.appId, 'sqlite', 'SQLite', 'PostgreSQL', 'postgres', 'node_modules', 'baste'])
    assert.ok(!a.text.includes(secret), `${a.text} reveals ${secret}`);
}

async function assertReady(server: TestServer) {
  const live = await probe(server, '/healthz');
  assert.deepEqual([live.status, JSON.parse(live.text)], [200, { status: 'ok' }]);
  assert.equal(live.headers.get('cache-control'), 'no-store');
  const ready = await probe(server, '/readyz');
  assert.deepEqual([ready.status, JSON.parse(ready.text)], [200, { status: 'ready' }]);
  assertRevealsNothing(live, server);
  assertRevealsNothing(ready, server);
}

async function assertNotReady(server: TestServer) {
  const ready = await probe(server, '/readyz');
  assert.equal(ready.status, 503, ready.text);
  assert.equal(ready.headers.get('content-type'), 'application/json');
  assert.deepEqual(JSON.parse(ready.text), { error: 'not ready: database unavailable', error_code: 'ServiceUnavailable', link: '' });
  assert.ok(Number(ready.headers.get('retry-after')) > 0);
  assertRevealsNothing(ready, server);
  // The process itself is up.
  assert.equal((await probe(server, '/healthz')).status, 200);
}

describe('health routes on SQLite', () => {
  let dir: string;
  let store: Store;
  let server: TestServer;
  const lines: { msg: string; path?: string; status?: number }[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baste-health-'));
    store = openSqliteStore(join(dir, 'baste.sqlite'));
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    server = await startServer(APP, { store, logger });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answer without a token, HEAD too, and successful probes are not logged', async () => {
    await assertReady(server);
    assert.equal((await probe(server, '/readyz', { method: 'HEAD' })).status, 200);
    assert.equal((await probe(server, '/healthz', { method: 'HEAD' })).status, 200);
    // A token that does not check out changes nothing: the routes never read one.
    assert.equal((await probe(server, '/readyz', { headers: { authorization: 'Bearer nonsense' } })).status, 200);
    assert.equal(lines.filter((l) => l.msg === 'request' && /z$/.test(l.path ?? '')).length, 0);
    // Only GET and HEAD.
    assert.equal((await probe(server, '/readyz', { method: 'POST' })).status, 404);
  });

  it('readyz answers 503 once the store cannot be read; healthz stays 200', async () => {
    await store.close();
    await assertNotReady(server);
    // A refused probe is logged, like any error.
    assert.ok(lines.some((l) => l.msg === 'request' && l.path === '/readyz' && l.status === 503));
  });
});

describe('readiness checks', () => {
  it('a store that does not answer in time, or throws, is the database; keys not loaded are the signing keys', async () => {
    assert.equal(await readinessOf(() => new Promise(() => {}), () => true, 50).check(), 'database');
    assert.equal(await readinessOf(() => Promise.reject(new Error('x')), () => true).check(), 'database');
    assert.equal(await readinessOf(async () => [], () => false).check(), 'signing keys');
    assert.equal(await readinessOf(async () => [], () => true).check(), null);
  });
});

describe('health routes on PostgreSQL', { skip: skipWithoutPostgres('the PostgreSQL readiness test') }, () => {
  let db: { url: string; drop: () => Promise<void> };
  let name: string;
  let store: Store;
  let documents: DocumentEngine;
  let server: TestServer;
  before(async () => {
    db = await freshDatabase();
    name = decodeURIComponent(new URL(db.url).pathname.slice(1));
    store = await openPostgresStore(db.url, { maxConnections: 4, onError: () => {} });
    documents = await openPostgresDocuments(db.url, { maxConnections: 4 });
    server = await startServer(APP, { store, documents });
  });
  after(async () => {
    await adminQuery(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`).catch(() => {});
    await server?.close();
    await store?.close();
    await documents?.close();
    await db?.drop();
  });

  it('ready; 503 while the database refuses connections; ready again when it is back', async () => {
    await assertReady(server);
    await adminQuery(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
    await adminQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
    await assertNotReady(server);
    await assertNotReady(server);
    await adminQuery(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`);
    await assertReady(server);
  });
});
