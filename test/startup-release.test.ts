// A start that fails part-way releases everything opened before the failing step, and close()
// releases everything a start opened: no SQLite file of the data directory stays open, no timer or
// socket keeps the process alive, and the PostgreSQL connections `baste serve` opened are returned.
// Each step is made to fail in turn with real parts: a SQLite trigger refusing a write the step
// makes, a data source with a connection string the driver refuses, a provider refusing its
// configuration, a PostgreSQL server that is not there.

import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { AppConfig, DataSourceConfig } from '../src/app/model.js';
import { main } from '../src/cli.js';
import { createBaste, DataDirError } from '../src/server.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { ownerOf } from '../src/store/owner.js';
import { adminQuery, freshDatabase, skipWithoutPostgres } from './helpers/postgres.js';
import { appConfig, appFunction, databaseTrigger, provider } from './helpers/server.js';

const tmp = mkdtempSync(join(tmpdir(), 'baste-release-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => mkdtempSync(join(tmp, `data-${dirs++}-`));

/** Files under `dir` this process holds open (Linux: /proc/self/fd). */
function openFilesUnder(dir: string): string[] {
  const open: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(`${dir}/`)) open.push(target);
    } catch {
      // closed between the listing and the read
    }
  }
  return open;
}

/** What keeps the event loop alive (timers, sockets, …), by kind. */
function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

/** Nothing more is active than `before`, once sockets being torn down (a refused connect) are gone. */
async function assertNoMoreResources(before: Map<string, number>, what: string): Promise<void> {
  const grown = () => [...activeResources()].filter(([kind, n]) => n > (before.get(kind) ?? 0));
  for (let waited = 0; grown().length > 0 && waited < 1000; waited += 20) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(grown(), [], `${what}: still active`);
}

const DATA_SOURCE: DataSourceConfig = { name: 'mongodb-atlas', type: 'mongodb-atlas', collections: new Map() };

/** An app using every part a start opens: functions, a data source, triggers of each kind. */
function fullApp(extra: Partial<AppConfig> = {}): AppConfig {
  return {
    ...appConfig([provider('anon-user')], 'release-app-abcde'),
    functions: new Map([appFunction('noop', 'exports = function() { return 1; };', { private: true })]),
    dataSources: new Map([['mongodb-atlas', DATA_SOURCE]]),
    triggers: new Map([['welcome', { name: 'welcome', id: '65f0c1d2e3a4b5c6d7e8f901', functionName: 'noop', operations: ['CREATE'], providers: ['anon-user'], disabled: false }]]),
    scheduledTriggers: new Map([['tick', { name: 'tick', functionName: 'noop', schedule: '* * * * *', skipCatchupEvents: false, disabled: false }]]),
    databaseTriggers: new Map([databaseTrigger('onItem', { functionName: 'noop', database: 'db', collection: 'items' })]),
    ...extra,
  };
}

/** A data directory whose store refuses every write to `table` (a SQLite trigger): the step that writes it fails. */
function dataDirRefusing(app: AppConfig, table: string): string {
  const dir = freshDir();
  const path = join(dir, 'baste.sqlite');
  void openSqliteStore(path, { owner: ownerOf(app) }).close();
  const db = new Database(path);
  db.exec(`CREATE TRIGGER refuse_${table} BEFORE INSERT ON ${table} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;`);
  db.close();
  return dir;
}

async function assertReleasedAfterFailure(app: AppConfig, dataDir: string, failure: RegExp | ((err: unknown) => boolean), what: string): Promise<void> {
  const resources = activeResources();
  await assert.rejects(createBaste({ app, dataDir }), failure, what);
  assert.deepEqual(openFilesUnder(dataDir), [], `${what}: files of the data directory left open`);
  await assertNoMoreResources(resources, what);
}

describe('a failed start releases what it opened', () => {
  it('the probes see what a running server holds, and close() releases it', async () => {
    const dataDir = freshDir();
    const resources = activeResources();
    const baste = await createBaste({ app: fullApp(), dataDir, scheduleCheckMs: 50 });
    await baste.listen(0, '127.0.0.1');
    // Both SQLite files (and their journals) are open while it runs: the probe can fail.
    const open = openFilesUnder(dataDir);
    assert.ok(open.some((f) => f.endsWith('baste.sqlite')) && open.some((f) => f.endsWith('documents.sqlite')), `open: ${open.join(', ')}`);
    assert.ok([...activeResources()].some(([kind, n]) => n > (resources.get(kind) ?? 0)), 'a listening server holds the event loop');
    await baste.close();
    assert.deepEqual(openFilesUnder(dataDir), []);
    await assertNoMoreResources(resources, 'close()');
    // Closing twice is harmless: the same release.
    await baste.close();
  });

  it('the data directory cannot be used: nothing is opened', async () => {
    const file = join(freshDir(), 'a-file');
    writeFileSync(file, 'in the way');
    await assertReleasedAfterFailure(fullApp(), file, (err: unknown) => err instanceof DataDirError, 'data directory');
  });

  it('the signing keys cannot be loaded: the store is released', async () => {
    const app = fullApp();
    await assertReleasedAfterFailure(app, dataDirRefusing(app, 'signing_keys'), /refused by the test/, 'key load');
  });

  it('a data source the driver refuses: the store, the documents and the function runtime are released', async () => {
    const app = fullApp({ dataSources: new Map([['mongodb-atlas', { ...DATA_SOURCE, uri: 'not-a-connection-string' }]]) });
    await assertReleasedAfterFailure(app, freshDir(), /not a usable MongoDB connection string/, 'bad mongo service');
  });

  it('a provider refuses its configuration: everything before it is released', async () => {
    const app = fullApp({ providers: new Map([['custom-token', provider('custom-token', { signingAlgorithm: 'none-such' })]]) });
    await assertReleasedAfterFailure(app, freshDir(), /signingAlgorithm/, 'bad provider');
  });

  it('the database triggers cannot be prepared (the last step): everything is released', async () => {
    const app = fullApp();
    await assertReleasedAfterFailure(app, dataDirRefusing(app, 'database_triggers'), /refused by the test/, 'database triggers');
  });

  it('a store passed in stays the caller’s: a failed start leaves it open and usable', async () => {
    const app = fullApp({ dataSources: new Map([['mongodb-atlas', { ...DATA_SOURCE, uri: 'not-a-connection-string' }]]) });
    const dataDir = freshDir();
    const store = openSqliteStore(join(dataDir, 'caller.sqlite'), { owner: ownerOf(app) });
    await assert.rejects(createBaste({ app, dataDir, store }), /not a usable MongoDB connection string/);
    assert.ok((await store.listSigningKeys()).length > 0, 'the keys the start made are readable');
    assert.deepEqual(openFilesUnder(dataDir).filter((f) => !f.includes('caller.sqlite')), []);
    await store.close();
  });
});

describe('baste serve on PostgreSQL releases its connections when the start fails', { skip: skipWithoutPostgres('the PostgreSQL release checks') }, () => {
  const EXAMPLE = join(import.meta.dirname, '..', 'examples', 'todo');
  let database: { url: string; drop: () => Promise<void> };
  before(async () => {
    database = await freshDatabase();
  });
  after(() => database?.drop());

  const connections = async () =>
    Number((await adminQuery('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1', [new URL(database.url).pathname.slice(1)])).rows[0].n);

  /** `baste serve` in this process; `started` resolves once it says where it listens. */
  function serve(args: string[]): { done: Promise<{ status: number | string; stderr: string }>; started: Promise<void> } {
    let stderr = '';
    let said: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (said = resolve));
    const io = {
      env: {},
      stdout: { write: (s: string) => (/Baste is serving/.test(s) && said(), true) },
      stderr: { write: (s: string) => (stderr += s) },
    };
    const done = main(['serve', '--port', '0', '--log-level', 'fatal', ...args], io)
      .catch((err: unknown) => `threw: ${(err as Error).message}`)
      .then((status) => ({ status, stderr }));
    return { done, started };
  }

  it('the control: a server that starts holds connections, and returns them when stopped', async () => {
    const dataDir = freshDir();
    const run = serve(['--app', EXAMPLE, '--data-dir', dataDir, '--database', database.url]);
    await Promise.race([run.started, run.done.then((r) => assert.fail(`serve ended: ${JSON.stringify(r)}`))]);
    assert.ok((await connections()) > 0, 'the count sees the server’s connections');
    // What the signal handler of `baste serve` does on SIGTERM, without signalling the test runner.
    process.emit('SIGTERM', 'SIGTERM');
    assert.equal((await run.done).status, 0);
    assert.equal(await connections(), 0);
    assert.deepEqual(openFilesUnder(dataDir), []);
  });

  it('a PostgreSQL server that is not there: exit 1, saying so', async () => {
    const resources = activeResources();
    const { status, stderr } = await serve(['--app', EXAMPLE, '--data-dir', freshDir(), '--database', 'postgres://postgres@127.0.0.1:1/nothing']).done;
    assert.equal(status, 1);
    assert.match(stderr, /cannot open the PostgreSQL database/);
    await assertNoMoreResources(resources, 'unreachable PostgreSQL');
  });

  it('an app whose data source the driver refuses: the store and document connections are returned', async () => {
    const appDir = mkdtempSync(join(tmp, 'app-'));
    cpSync(EXAMPLE, appDir, { recursive: true });
    const configFile = join(appDir, 'data_sources', 'mongodb-atlas', 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8'));
    writeFileSync(configFile, JSON.stringify({ ...config, config: { ...config.config, uri: 'not-a-connection-string' } }));
    const dataDir = freshDir();
    const { status, stderr } = await serve(['--app', appDir, '--data-dir', dataDir, '--database', database.url]).done;
    assert.equal(status, 1);
    // Said by the server's assembly, after `baste serve` opened the database.
    assert.match(stderr, /not a usable MongoDB connection string/);
    assert.equal(await connections(), 0, 'connections to the database left open');
    assert.deepEqual(openFilesUnder(dataDir), []);
  });

});
