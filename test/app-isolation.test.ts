// Two apps never share a database (issue 17): nothing in the tables says which app a row belongs
// to, so the first app to open a PostgreSQL schema or an SQLite data directory claims it
// (`baste_owner`) and any other app refuses to start, saying which app holds it and how to give
// this one its own, and changing nothing. One schema per app through the connection string
// (`?options=-c search_path=...`) runs apps side by side on one database, isolated.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openPostgresDocuments } from '../src/data/postgres-engine.js';
import { openSqliteDocuments } from '../src/data/sqlite-engine.js';
import { DatabaseOwnedError, type DatabaseOwner } from '../src/store/owner.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { searchPathSchemas } from '../src/store/postgres/owner.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { BIN, serve as serveCli, stop, type Served } from './helpers/cli.js';
import { adminQuery, freshDatabase, skipWithoutPostgres, uniqueName } from './helpers/postgres.js';
import { autoConfirmingExample } from './helpers/example-app.js';
import { request } from './helpers/wire.js';

const A = 'todo-abcde';
const B = 'other-fghij';
const PASSWORD = 'correct horse battery';

/** A copy of the example app under `dir` with app id `appId` (its derived provider ids follow), confirming users at once: what is tested here is whose data is whose. */
function appCopy(dir: string, appId: string): string {
  const to = join(dir, appId);
  return existsSync(to) ? to : autoConfirmingExample(to, appId);
}

/** `url` with the search_path option, written as the README tells operators to. */
const withSchema = (url: string, schema: string) => `${url}${url.includes('?') ? '&' : '?'}options=-c%20search_path%3D${schema}`;

/** Runs `baste <args>` to its end (a refused `serve` ends at once; one that serves is killed at the timeout). */
function runCli(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

const call = (on: Served, method: string, path: string, token?: string, body?: unknown) => request(method, on.url + path, { token, body });

const client = (appId: string) => `/api/client/v2.0/app/${appId}`;

/** Registers and logs in `email` on `on`, serving `appId`. */
async function signUp(on: Served, appId: string, email: string) {
  assert.equal((await call(on, 'POST', `${client(appId)}/auth/providers/local-userpass/register`, undefined, { email, password: PASSWORD })).status, 201);
  const login = await call(on, 'POST', `${client(appId)}/auth/providers/local-userpass/login`, undefined, { username: email, password: PASSWORD });
  assert.equal(login.status, 200, login.text);
  return login.json as { access_token: string; refresh_token: string; user_id: string };
}

/** Every schema and table of the database, each table with a hash of its rows. */
async function snapshot(url: string): Promise<Record<string, string>> {
  const { rows } = await adminQuery(
    `SELECT table_schema AS s, table_name AS t FROM information_schema.tables
     WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
    [],
    url,
  );
  const out: Record<string, string> = {};
  for (const { s, t } of rows as { s: string; t: string }[]) {
    const q = `SELECT count(*)::int AS n, md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) AS h FROM "${s}"."${t}" r`;
    const { n, h } = (await adminQuery(q, [], url)).rows[0] as { n: number; h: string };
    out[`${s}.${t}`] = `${n}:${h}`;
  }
  const schemas = await adminQuery("SELECT string_agg(nspname, ',' ORDER BY nspname) AS l FROM pg_namespace WHERE nspname NOT LIKE 'pg_%'", [], url);
  out['(schemas)'] = (schemas.rows[0] as { l: string }).l;
  return out;
}

/** The refusal: one line, naming the app that holds the data and the one refused, and a fix. */
function assertRefusal(res: { code: number | null; stdout: string; stderr: string }, holder: string | undefined, refused: string, fix: RegExp) {
  assert.equal(res.code, 1, `expected a refusal, got exit ${res.code}:\n${res.stdout}${res.stderr}`);
  assert.doesNotMatch(res.stdout, /serving/);
  const lines = res.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, res.stderr);
  const line = lines[0]!;
  assert.match(line, /^baste: /);
  if (holder) assert.ok(line.includes(`'${holder}'`), line);
  assert.ok(line.includes(`'${refused}'`), line);
  assert.match(line, fix);
  assert.doesNotMatch(line, /\n|at .*\.js:\d+/);
}

const POSTGRES_FIX = /database of its own, or a schema of its own through its connection string, e\.g\. \?options=-c%20search_path%3Dapp_other_fghij$/;

describe('apps on one PostgreSQL database', { skip: skipWithoutPostgres('PostgreSQL app isolation tests') }, () => {
  let tmp: string;
  const running: Served[] = [];
  const drops: (() => Promise<void>)[] = [];
  const fresh = async () => {
    const db = await freshDatabase();
    drops.push(db.drop);
    return db.url;
  };
  const serve = async (appId: string, database: string) => {
    const s = await serveCli(['--app', appCopy(tmp, appId), '--database', database, '--data-dir', join(tmp, `data-${running.length}`), '--log-level', 'warn']);
    running.push(s);
    return s;
  };
  const refusedServe = (appId: string, database: string) =>
    runCli(['serve', '--app', appCopy(tmp, appId), '--database', database, '--data-dir', join(tmp, 'refused'), '--port', '0', '--log-level', 'warn']);

  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'baste-isolation-'));
  });
  after(async () => {
    await Promise.all(running.map((s) => stop(s)));
    for (const drop of drops) await drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("a second app refuses to start on a database another app holds, names both, changes nothing; the CLI's admin commands refuse it too", async () => {
    const url = await fresh();
    const a = await serve(A, url);
    const alice = await signUp(a, A, 'alice@example.com');
    const key = await call(a, 'POST', '/api/client/v2.0/auth/api_keys', alice.refresh_token, { name: 'k' });
    assert.equal(key.status, 201, key.text);
    const inserted = await call(a, 'POST', `${client(A)}/functions/call`, alice.access_token, {
      name: 'insertOne',
      service: 'mongodb-atlas',
      arguments: [{ database: 'todo', collection: 'items', document: { owner_id: alice.user_id, title: 'private to A' } }],
    });
    assert.equal(inserted.status, 200, inserted.text);
    const adminToken = await runCli(['admin-token', 'create', '--app', appCopy(tmp, A), '--database', url, '--name', 'ops', '--json']);
    assert.equal(adminToken.code, 0, adminToken.stderr);
    const owner = await adminQuery('SELECT app_id FROM baste_owner', [], url);
    assert.deepEqual(owner.rows, [{ app_id: A }]);

    const before = await snapshot(url);
    assertRefusal(await refusedServe(B, url), A, B, POSTGRES_FIX);
    assertRefusal(await runCli(['users', 'list', '--app', appCopy(tmp, B), '--database', url]), A, B, POSTGRES_FIX);
    assertRefusal(await runCli(['admin-token', 'create', '--app', appCopy(tmp, B), '--database', url, '--name', 'b-ops']), A, B, POSTGRES_FIX);
    assert.deepEqual(await snapshot(url), before);

    // A serves on, with the same data.
    assert.equal((await call(a, 'GET', '/api/client/v2.0/auth/profile', alice.access_token)).status, 200);
  });

  it('two apps starting together on an empty database: exactly one claims it, the other refuses', async () => {
    const url = await fresh();
    const started = await Promise.allSettled([serve(A, url), serve(B, url)]);
    const refused = started.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    assert.equal(refused.length, 1, JSON.stringify(started.map((s) => s.status)));
    const winner = started[0]!.status === 'fulfilled' ? A : B;
    const loser = winner === A ? B : A;
    const reason = String(refused[0]!.reason);
    assert.match(reason, /exited with 1/);
    assert.ok(reason.includes(`holds the data of app '${winner}', not of app '${loser}'`), reason);
    assert.deepEqual((await adminQuery('SELECT app_id FROM baste_owner', [], url)).rows, [{ app_id: winner }]);
  });

  it('one schema per app through the connection string: two apps side by side, neither accepts the other\'s credentials or sees its data', async () => {
    const url = await fresh();
    const a = await serve(A, withSchema(url, 'app_todo'));
    const b = await serve(B, withSchema(url, 'app_other'));
    // The same email registers on each: separate accounts.
    const onA = await signUp(a, A, 'same@example.com');
    const onB = await signUp(b, B, 'same@example.com');
    assert.notEqual(onA.user_id, onB.user_id);
    const inserted = await call(a, 'POST', `${client(A)}/functions/call`, onA.access_token, {
      name: 'insertOne',
      service: 'mongodb-atlas',
      arguments: [{ database: 'todo', collection: 'items', document: { owner_id: onA.user_id, title: 'private to A' } }],
    });
    assert.equal(inserted.status, 200, inserted.text);

    // B's access and refresh tokens, user API key and admin token do not work on A.
    assert.equal((await call(a, 'GET', '/api/client/v2.0/auth/profile', onB.access_token)).status, 401);
    assert.equal((await call(a, 'POST', '/api/client/v2.0/auth/session', onB.refresh_token)).status, 401);
    const key = await call(b, 'POST', '/api/client/v2.0/auth/api_keys', onB.refresh_token, { name: 'k' });
    assert.equal(key.status, 201, key.text);
    assert.equal((await call(b, 'POST', `${client(B)}/auth/providers/api-key/login`, undefined, { key: key.json.key })).status, 200);
    assert.equal((await call(a, 'POST', `${client(A)}/auth/providers/api-key/login`, undefined, { key: key.json.key })).status, 401);
    const created = await runCli(['admin-token', 'create', '--app', appCopy(tmp, B), '--database', withSchema(url, 'app_other'), '--name', 'ops', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const adminToken = JSON.parse(created.stdout).token as string;
    const usersOfB = await call(b, 'GET', `/api/admin/v3.0/apps/${B}/users`, adminToken);
    assert.equal(usersOfB.status, 200, usersOfB.text);
    assert.ok(usersOfB.text.includes(onB.user_id) && !usersOfB.text.includes(onA.user_id), usersOfB.text);
    assert.equal((await call(a, 'GET', `/api/admin/v3.0/apps/${A}/users`, adminToken)).status, 401);

    // Each app's tables (store and documents) are in its own schema, none in public; A's document only in A's.
    const tables = await adminQuery("SELECT table_schema AS s, count(*)::int AS n FROM information_schema.tables WHERE table_schema IN ('public', 'app_todo', 'app_other') GROUP BY 1 ORDER BY 1", [], url);
    assert.deepEqual(tables.rows.map((r) => r.s), ['app_other', 'app_todo']);
    assert.equal(tables.rows[0].n, tables.rows[1].n);
    const docs = await adminQuery("SELECT (SELECT count(*)::int FROM app_todo.documents) AS a, (SELECT count(*)::int FROM app_other.documents) AS b", [], url);
    assert.deepEqual(docs.rows[0], { a: 1, b: 0 });
    assert.deepEqual((await adminQuery('SELECT app_id FROM app_todo.baste_owner UNION ALL SELECT app_id FROM app_other.baste_owner', [], url)).rows, [{ app_id: A }, { app_id: B }]);
  });

  it('a database written before owners were recorded keeps working for its app, which claims it; another app is refused and changes nothing', async () => {
    const url = await fresh();
    const first = await serve(A, url);
    await signUp(first, A, 'old@example.com');
    await stop(first);
    // What an earlier version left: the same tables, no owner.
    await adminQuery('DROP TABLE baste_owner', [], url);

    const before = await snapshot(url);
    assertRefusal(await refusedServe(B, url), undefined, B, /holds users from auth providers that app 'other-fghij' does not have/);
    assert.deepEqual(await snapshot(url), before);

    const again = await serve(A, url);
    const login = await call(again, 'POST', `${client(A)}/auth/providers/local-userpass/login`, undefined, { username: 'old@example.com', password: PASSWORD });
    assert.equal(login.status, 200, login.text);
    assert.deepEqual((await adminQuery('SELECT app_id FROM baste_owner', [], url)).rows, [{ app_id: A }]);
  });

  it('opening the store or the document engine for another app fails with DatabaseOwnedError; a quoted search_path schema is created', async () => {
    const url = await fresh();
    const ownerA: DatabaseOwner = { appId: A, providerIds: [] };
    const ownerB: DatabaseOwner = { appId: B, providerIds: [] };
    const quoted = `${url}?options=-c%20search_path%3D%22MixedCase%22`;
    const store = await openPostgresStore(quoted, { owner: ownerA });
    await store.close();
    await assert.rejects(openPostgresStore(quoted, { owner: ownerB }), DatabaseOwnedError);
    await assert.rejects(openPostgresDocuments(quoted, { owner: ownerB }), DatabaseOwnedError);
    const docs = await openPostgresDocuments(quoted, { owner: ownerA });
    await docs.close();
    // Without an owner (tests, tools) nothing is checked.
    await (await openPostgresStore(quoted)).close();
    assert.deepEqual((await adminQuery('SELECT app_id FROM "MixedCase".baste_owner', [], url)).rows, [{ app_id: A }]);
    assert.equal((await adminQuery("SELECT to_regclass('public.users') AS t", [], url)).rows[0].t, null);
    // Documents opened first claim too.
    const otherSchema = uniqueName('docs_first');
    await (await openPostgresDocuments(url, { schema: otherSchema, owner: ownerB })).close();
    await assert.rejects(openPostgresStore(url, { schema: otherSchema, owner: ownerA }), (err: Error) => err instanceof DatabaseOwnedError && err.message.includes(`'${B}'`));
  });
});

describe('apps on one SQLite data directory', () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'baste-isolation-sqlite-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const files = (dir: string) =>
    ['baste.sqlite', 'documents.sqlite'].map((f) => `${f}:${createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')}`);

  it('a second app refuses a data directory another app holds, names both, and leaves its files as they were', async () => {
    const dataDir = join(tmp, 'shared');
    const a = await serveCli(['--app', appCopy(tmp, A), '--data-dir', dataDir, '--log-level', 'warn']);
    await signUp(a, A, 'alice@example.com');
    await stop(a);
    const before = files(dataDir);
    const fix = /give app 'other-fghij' a data directory of its own \(--data-dir\)/;
    assertRefusal(await runCli(['serve', '--app', appCopy(tmp, B), '--data-dir', dataDir, '--port', '0']), A, B, fix);
    assertRefusal(await runCli(['users', 'list', '--app', appCopy(tmp, B), '--data-dir', dataDir]), A, B, fix);
    assertRefusal(await runCli(['keys', 'rotate', '--app', appCopy(tmp, B), '--data-dir', dataDir]), A, B, fix);
    assert.deepEqual(files(dataDir), before);
  });

  it('a data directory from before owners were recorded: its app claims it, another app is refused', async () => {
    const file = join(tmp, 'legacy.sqlite');
    const providerIds = ['aaaaaaaaaaaaaaaaaaaaaaaa'];
    const store = openSqliteStore(file);
    await store.loginIdentity({
      identity: { providerName: 'local-userpass', providerType: 'local-userpass', providerId: providerIds[0]!, externalId: 'x', data: {} },
      newUserId: '0123456789abcdef01234567',
      userType: 'normal',
      now: 1,
    });
    await store.close();
    let hint = '';
    assert.throws(
      () => openSqliteStore(file, { owner: { appId: B, providerIds: ['bbbbbbbbbbbbbbbbbbbbbbbb'] } }),
      (err: Error) => {
        hint = /record that with: (.*)\)$/.exec(err.message)?.[1] ?? '';
        return err instanceof DatabaseOwnedError && /holds users from auth providers that app 'other-fghij' does not have/.test(err.message);
      },
    );
    // The statements the refusal offers make the claim by hand; run on a copy, they let B in.
    const copy = join(tmp, 'legacy-copy.sqlite');
    cpSync(file, copy);
    const db = new Database(copy);
    db.exec(hint);
    db.close();
    await openSqliteStore(copy, { owner: { appId: B, providerIds: [] } }).close();
    await openSqliteStore(file, { owner: { appId: A, providerIds } }).close();
    assert.throws(() => openSqliteStore(file, { owner: { appId: B, providerIds } }), DatabaseOwnedError);
    // The document file is claimed the same way (it holds nothing that names its app).
    const docsFile = join(tmp, 'docs.sqlite');
    await openSqliteDocuments(docsFile, { owner: { appId: B, providerIds } }).close();
    assert.throws(() => openSqliteDocuments(docsFile, { owner: { appId: A, providerIds } }), /holds the data of app 'other-fghij', not of app 'todo-abcde'/);
  });
});

describe('searchPathSchemas', () => {
  it('reads plain, quoted and $user entries', () => {
    assert.deepEqual(searchPathSchemas('"$user", public'), ['$user', 'public']);
    assert.deepEqual(searchPathSchemas('App_B'), ['app_b']);
    assert.deepEqual(searchPathSchemas('"My ""App""",x'), ['My "App"', 'x']);
    assert.deepEqual(searchPathSchemas(''), []);
  });
});
