// Faults: a stopped database answers 503 ServiceUnavailable with Retry-After on every route that
// needs it (and the log says what is down, once per outage), and the server recovers when it is
// back; a data directory that cannot be used stops start-up with one clear line, no stack trace.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { AdminTokens } from '../../src/admin/tokens.js';
import { openPostgresDocuments } from '../../src/data/postgres-engine.js';
import { dataDirProblem } from '../../src/server.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import type { Store } from '../../src/store/store.js';
import type { DocumentEngine } from '../../src/data/engine.js';
import { BIN } from '../helpers/cli.js';
import { adminQuery, freshDatabase, skipWithoutPostgres } from '../helpers/postgres.js';
import { appConfig, autoConfirmUserpass, provider, startServer, type TestServer } from '../helpers/server.js';
import { isStitchError, send, type Answer } from './harness.js';

describe('a stopped PostgreSQL', { skip: skipWithoutPostgres('the stopped-database test') }, () => {
  let db: { url: string; drop: () => Promise<void> };
  let name: string;
  let store: Store;
  let documents: DocumentEngine;
  let server: TestServer;
  const logLines: { level: number; msg: string }[] = [];
  const counts = { requests: 0, unavailable: 0, otherServerErrors: 0, nonStitch: 0 };
  let access: string;
  let refresh: string;
  let admin: string;

  const requests = () => {
    const P = `/api/client/v2.0/app/${server.appId}`;
    const json = { 'content-type': 'application/json' };
    return [
      ['anonymous login', `${P}/auth/providers/anon-user/login`, { method: 'POST' }],
      ['password login', `${P}/auth/providers/local-userpass/login`, { method: 'POST', headers: json, body: JSON.stringify({ username: 'a@example.com', password: 'secret123' }) }],
      ['register', `${P}/auth/providers/local-userpass/register`, { method: 'POST', headers: json, body: JSON.stringify({ email: 'b@example.com', password: 'secret123' }) }],
      ['profile', '/api/client/v2.0/auth/profile', { headers: { authorization: `Bearer ${access}` } }],
      ['refresh', '/api/client/v2.0/auth/session', { method: 'POST', headers: { authorization: `Bearer ${refresh}` } }],
      ['admin users', `/api/admin/v3.0/apps/${server.appId}/users`, { headers: { authorization: `Bearer ${admin}` } }],
    ] as const;
  };

  before(async () => {
    db = await freshDatabase();
    name = decodeURIComponent(new URL(db.url).pathname.slice(1));
    store = await openPostgresStore(db.url, { maxConnections: 4, onError: () => {} });
    documents = await openPostgresDocuments(db.url, { maxConnections: 4 });
    const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line) as { level: number; msg: string }) });
    server = await startServer(appConfig([provider('anon-user'), autoConfirmUserpass()], 'outage-app-abcde'), { store, documents, logger });
    const login = (await (await fetch(`${server.url}/api/client/v2.0/app/${server.appId}/auth/providers/anon-user/login`, { method: 'POST' })).json()) as { access_token: string; refresh_token: string };
    ({ access_token: access, refresh_token: refresh } = login);
    admin = (await new AdminTokens(store, Date.now).create('ops')).token;
  });
  after(async () => {
    console.log(`[hardening] stopped PostgreSQL: ${counts.requests} requests, ${counts.unavailable} answered 503 ServiceUnavailable with Retry-After, ${counts.otherServerErrors} other 5xx, ${counts.nonStitch} non-Stitch error bodies`);
    await adminQuery(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`).catch(() => {});
    await server?.close();
    await store?.close();
    await documents?.close();
    await db?.drop();
  });

  it('answers 503 ServiceUnavailable with Retry-After on every route that needs it, logs the outage once, and recovers', async () => {
    // Stop access to this test's own database only: no new connections, and the open ones ended.
    await adminQuery(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
    await adminQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
    for (let round = 0; round < 3; round++) {
      for (const [label, path, init] of requests()) {
        const a: Answer = await send(server.url + path, init);
        counts.requests++;
        if (a.status === 503 && a.headers.get('retry-after')) counts.unavailable++;
        else if (a.status >= 500) counts.otherServerErrors++;
        if (!isStitchError(a)) counts.nonStitch++;
        assert.equal(a.status, 503, `${label}: ${a.text}`);
        assert.ok(isStitchError(a), `${label}: ${a.text}`);
        assert.equal(JSON.parse(a.text).error_code, 'ServiceUnavailable');
        assert.ok(Number(a.headers.get('retry-after')) > 0, `${label}: no Retry-After`);
      }
    }
    // The location route needs no database.
    assert.equal((await send(`${server.url}/api/client/v2.0/app/${server.appId}/location`)).status, 200);
    const downLines = logLines.filter((l) => /database unavailable/.test(l.msg));
    assert.equal(downLines.length, 1, JSON.stringify(logLines.map((l) => l.msg)));
    assert.match(downLines[0]!.msg, /PostgreSQL/);
    assert.equal(logLines.filter((l) => l.msg === 'unhandled error').length, 0);

    await adminQuery(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`);
    const back = await send(`${server.url}/api/client/v2.0/app/${server.appId}/auth/providers/anon-user/login`, { method: 'POST' });
    assert.equal(back.status, 200, back.text);
    assert.equal(logLines.filter((l) => l.msg === 'database available again').length, 1);
    assert.deepEqual([counts.otherServerErrors, counts.nonStitch], [0, 0]);
  });
});

describe('start-up on a data directory that cannot be used', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'baste-faults-'));
    writeFileSync(join(dir, 'a-file'), 'not a directory');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const serveOn = (dataDir: string) =>
    spawnSync(process.execPath, [BIN, 'serve', '--app', join(import.meta.dirname, '..', '..', 'examples', 'todo'), '--data-dir', dataDir, '--port', '0'], { encoding: 'utf8', timeout: 20_000 });

  for (const [label, sub, pattern] of [
    ['a data-dir path that is a file', 'a-file', /^baste: data directory .*a-file is not a directory \(a file has that name\)\n$/],
    ['a data-dir path under a file', 'a-file/data', /^baste: data directory .*a-file\/data cannot be created: part of its path is a file\n$/],
  ] as const) {
    it(`${label}: exit 1 and one line, no stack trace`, () => {
      const run = serveOn(join(dir, sub));
      assert.equal(run.status, 1, run.stderr);
      assert.match(run.stderr, pattern);
      assert.doesNotMatch(run.stderr, /\n\s+at /);
    });
  }

  it('read-only and full file systems, and unwritable SQLite files, are said in words', () => {
    // Root ignores permissions here, so the codes the OS or SQLite would give are fed in directly.
    for (const [code, words] of [
      ['EROFS', 'is on a read-only file system'],
      ['EACCES', 'is not writable by this user'],
      ['ENOSPC', 'is on a full disk'],
      ['SQLITE_READONLY', 'cannot be written (read-only)'],
      ['SQLITE_CANTOPEN', 'holds no database that can be opened'],
    ] as const) {
      const err = dataDirProblem('/srv/baste', Object.assign(new Error('x'), { code }));
      assert.ok(err.message.startsWith('data directory /srv/baste ') && err.message.includes(words), err.message);
      assert.doesNotMatch(err.message, /\n/);
    }
  });
});
