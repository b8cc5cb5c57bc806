// Database triggers on real servers, on SQLite and on PostgreSQL: inserts, updates, replaces and
// deletes made through realm-web each fire the matching trigger once with the platform's change
// event; `match` and `project` filter and shape; a trigger's own write fires the next trigger; a
// failing function is logged with the event id and later events still run; two instances sharing
// one PostgreSQL schema deliver each of 300 events exactly once; a lease held by a dead instance is
// taken over once it expires.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Int32, ObjectId, Timestamp } from 'bson';
import { pino } from 'pino';
import * as Realm from 'realm-web';
import type { AppConfig, DatabaseTriggerConfig, DataSourceConfig } from '../../src/app/model.js';
import { collect, type Doc, type DocumentEngine } from '../../src/data/engine.js';
import { openPostgresDocuments } from '../../src/data/postgres-engine.js';
import { openSqliteDocuments } from '../../src/data/sqlite-engine.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { Store } from '../../src/store/store.js';
import { adminQuery, skipWithoutPostgres, TEST_DATABASE_URL, uniqueName } from '../helpers/postgres.js';
import { appConfig, appFunction, databaseTrigger, provider, role, startServer, type TestServer } from '../helpers/server.js';

type Line = Record<string, unknown>;

function capture(lines: Line[]) {
  return pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Line);
        done();
      },
    }),
  );
}

const DATA_SOURCE: DataSourceConfig = {
  name: 'mongodb-atlas',
  type: 'mongodb-atlas',
  defaultRules: { roles: [role('all', { read: true, write: true })], filters: [] },
  collections: new Map(),
};

const trigger = (name: string, extra: Partial<DatabaseTriggerConfig>) =>
  databaseTrigger(name, { functionName: 'record', database: 'app', collection: 'items' }, extra);

/** Every function records what it got in app.log as `{ by, event }`; `chain` also writes to app.audit. */
const FUNCTIONS = [
  appFunction('record', 'exports = async function(event) { await context.services.get("mongodb-atlas").db("app").collection("log").insertOne({ by: "record", system: context.runningAsSystem(), event }); };', { private: true }),
  appFunction('recordOther', 'exports = async function(event) { await context.services.get("mongodb-atlas").db("app").collection("log").insertOne({ by: "recordOther", event }); };', { private: true }),
  appFunction('chain', 'exports = async function(event) { await context.services.get("mongodb-atlas").db("app").collection("audit").insertOne({ item: event.documentKey._id }); };', { private: true }),
  appFunction('mark', 'exports = async function(event) { await context.services.get("mongodb-atlas").db("app").collection("marks").insertOne({ src: event.documentKey._id }); };', { private: true }),
  appFunction('explode', 'exports = function(event) { if (event.fullDocument.bad) throw new Error("bad item " + event.fullDocument.n); return context.services.get("mongodb-atlas").db("app").collection("log").insertOne({ by: "explode", n: event.fullDocument.n }); };', { private: true }),
];

let apps = 0;
function app(triggers: [string, DatabaseTriggerConfig][]): AppConfig {
  return {
    // An app id of its own per server: realm-web keeps one logged-in user per app id.
    ...appConfig([provider('anon-user')], `dbtrig-${process.pid}-${apps++}`),
    functions: new Map(FUNCTIONS),
    dataSources: new Map([['mongodb-atlas', DATA_SOURCE]]),
    databaseTriggers: new Map(triggers),
  };
}

interface Backend {
  /** A store and document engine for one server; `shared` names state servers share (in turn, on SQLite). */
  open(shared?: string): Promise<{ store: Store; documents: DocumentEngine; close: () => Promise<void> }>;
  /** Removes the state named `shared`. */
  drop(shared: string): Promise<void>;
}

const sqliteShared = mkdtempSync(join(tmpdir(), 'baste-dbtrig-shared-'));
after(() => rmSync(sqliteShared, { recursive: true, force: true }));

const sqliteBackend: Backend = {
  async open(shared) {
    // Shared: the same files, so a server started after another closed finds its data directory's store and outbox.
    const dir = shared ? join(sqliteShared, shared) : mkdtempSync(join(tmpdir(), 'baste-dbtrig-'));
    mkdirSync(dir, { recursive: true });
    const store = openSqliteStore(join(dir, 'baste.sqlite'));
    const documents = openSqliteDocuments(join(dir, 'documents.sqlite'));
    return {
      store,
      documents,
      close: async () => {
        await store.close();
        await documents.close();
        if (!shared) rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  async drop(shared) {
    rmSync(join(sqliteShared, shared), { recursive: true, force: true });
  },
};

const postgresBackend: Backend = {
  async open(shared) {
    const schema = shared ?? uniqueName('dbtrig');
    const store = await openPostgresStore(TEST_DATABASE_URL!, { schema, maxConnections: 4 });
    const documents = await openPostgresDocuments(TEST_DATABASE_URL!, { schema, maxConnections: 4 });
    return {
      store,
      documents,
      close: async () => {
        await store.close();
        await documents.close();
        if (!shared) await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      },
    };
  },
  async drop(shared) {
    await adminQuery(`DROP SCHEMA IF EXISTS "${shared}" CASCADE`);
  },
};

function suite(title: string, backend: Backend, skip: false | string) {
  describe(title, { skip }, () => {
    const cleanups: (() => Promise<void> | void)[] = [];
    after(async () => {
      for (const c of cleanups.reverse()) await c();
    });

    async function serve(triggers: [string, DatabaseTriggerConfig][], extra: { shared?: string; clock?: () => number; pollMs?: number; leaseMs?: number } = {}) {
      const lines: Line[] = [];
      const state = await backend.open(extra.shared);
      const started: TestServer = await startServer(app(triggers), {
        store: state.store,
        documents: state.documents,
        logger: capture(lines),
        databaseTriggers: { pollMs: extra.pollMs ?? 0, leaseMs: extra.leaseMs },
        ...(extra.clock ? { clock: extra.clock } : {}),
      });
      let closed = false;
      const server = { ...started, close: async () => void (closed || ((closed = true), await started.close())) };
      cleanups.push(() => state.close());
      cleanups.push(() => server.close());
      const docs = async (coll: string, filter: Doc = {}) => collect(state.documents.find(`app.${coll}`, filter));
      const user = await new Realm.App({ id: server.appId, baseUrl: server.url }).logIn(Realm.Credentials.anonymous());
      const items = user.mongoClient('mongodb-atlas').db('app').collection('items');
      return { server, lines, docs, items, store: state.store, runDue: () => server.baste.databaseTriggers.runDue() };
    }

    it('an insert, update, replace and delete through realm-web each fire the matching trigger once, with the platform’s change event', async () => {
      const { docs, items, runDue } = await serve([
        trigger('onInsert', { operations: ['INSERT'] }),
        trigger('onUpdate', { operations: ['UPDATE'], functionName: 'recordOther', fullDocument: true, fullDocumentBeforeChange: true }),
        trigger('onReplace', { operations: ['REPLACE'] }),
        trigger('onDelete', { operations: ['DELETE'] }),
      ]);
      const { insertedId } = await items.insertOne({ title: 'milk', qty: 2, extra: { a: 1, b: 2 } });
      await runDue();
      await items.updateOne({ _id: insertedId }, { $set: { qty: 3, 'extra.a': 5 }, $unset: { title: '' } });
      await runDue();
      await items.findOneAndReplace({ _id: insertedId }, { title: 'bread' });
      await runDue();
      await items.deleteOne({ _id: insertedId });
      await runDue();

      const log = await docs('log');
      const ops = log.map((l) => [l.by, (l.event as Doc).operationType]);
      assert.deepEqual(ops, [
        ['record', 'insert'],
        ['recordOther', 'update'],
        ['record', 'replace'],
        ['record', 'delete'],
      ]);
      const [insert, update, replace, del] = log.map((l) => l.event as Doc);
      assert.equal(log[0]!.system, true, 'runs as the system user');
      for (const event of [insert, update, replace, del]) {
        assert.deepEqual(event!.ns, { db: 'app', coll: 'items' });
        assert.equal(String((event!.documentKey as Doc)._id), String(insertedId));
        assert.ok(event!.clusterTime instanceof Timestamp, 'clusterTime is a BSON Timestamp');
        assert.match((event!._id as { _data: string })._data, /^[0-9a-f]{16}$/);
      }
      const id = (insert!.documentKey as Doc)._id;
      assert.ok(id instanceof ObjectId);
      assert.deepEqual(insert!.fullDocument, { _id: id, title: 'milk', qty: 2, extra: { a: 1, b: 2 } });
      assert.equal(insert!.updateDescription, undefined);
      assert.equal(insert!.fullDocumentBeforeChange, undefined);
      assert.deepEqual(update!.updateDescription, { updatedFields: { qty: 3, 'extra.a': 5 }, removedFields: ['title'], truncatedArrays: [] });
      assert.deepEqual(update!.fullDocument, { _id: id, qty: 3, extra: { a: 5, b: 2 } });
      assert.deepEqual(update!.fullDocumentBeforeChange, { _id: id, title: 'milk', qty: 2, extra: { a: 1, b: 2 } });
      assert.deepEqual(replace!.fullDocument, { _id: id, title: 'bread' });
      assert.equal(replace!.fullDocumentBeforeChange, undefined, 'only with full_document_before_change');
      assert.equal(del!.fullDocument, undefined);
      const seqs = [insert, update, replace, del].map((e) => (e!._id as { _data: string })._data);
      assert.deepEqual([...seqs].sort(), seqs, 'resume tokens increase in commit order');
    });

    it('update events carry fullDocument only with full_document; match and project filter and shape the event', async () => {
      const { docs, items, runDue } = await serve([
        trigger('plainUpdate', { operations: ['UPDATE'] }),
        // The export's EJSON numbers (`{"$numberInt": "0"}`) arrive as Int32.
        trigger('bigOnes', { operations: ['INSERT', 'UPDATE'], functionName: 'recordOther', fullDocument: true, match: { 'fullDocument.qty': { $gt: new Int32(10) } }, project: { operationType: 1, 'fullDocument.qty': 1 } }),
      ]);
      const { insertedId: small } = await items.insertOne({ qty: 1, name: 'a' });
      const { insertedId: big } = await items.insertOne({ qty: 50, name: 'b' });
      await items.updateOne({ _id: small }, { $set: { qty: 20 } });
      await runDue();
      const plain = (await docs('log', { by: 'record' })).map((l) => l.event as Doc);
      assert.equal(plain.length, 1);
      assert.equal(plain[0]!.fullDocument, undefined, 'no fullDocument for updates without full_document');
      assert.deepEqual(plain[0]!.updateDescription, { updatedFields: { qty: 20 }, removedFields: [], truncatedArrays: [] });
      const filtered = (await docs('log', { by: 'recordOther' })).map((l) => l.event as Doc);
      assert.deepEqual(filtered.map((e) => [e.operationType, (e.fullDocument as Doc).qty]), [
        ['insert', 50],
        ['update', 20],
      ]);
      assert.deepEqual(Object.keys(filtered[0]!).sort(), ['_id', 'fullDocument', 'operationType'], 'project keeps only what it names (and _id)');
      assert.ok(big);
    });

    it('a trigger’s own write fires the next trigger; a failing function is logged with the event id and later events still run', async () => {
      const { docs, items, runDue, lines, store } = await serve([
        trigger('first', { functionName: 'chain' }),
        trigger('second', { collection: 'audit', functionName: 'mark' }),
        trigger('fragile', { functionName: 'explode' }),
      ]);
      await items.insertOne({ n: 1 });
      await items.insertOne({ n: 2, bad: true });
      await items.insertOne({ n: 3 });
      // The chain needs a second round: the first trigger's write commits while it runs.
      await runDue();
      await runDue();
      const marks = await docs('marks');
      const audit = await docs('audit');
      assert.equal(audit.length, 3);
      assert.deepEqual(marks.map((m) => String(m.src)).sort(), audit.map((a) => String(a._id)).sort(), 'the audit inserts fired the second trigger, once each');
      assert.deepEqual((await docs('log', { by: 'explode' })).map((l) => l.n), [1, 3], 'the events after the failing one ran');
      const failure = lines.find((l) => l.msg === 'database trigger failed');
      assert.equal(failure?.trigger, 'fragile');
      assert.match(String(failure?.eventId), /^[0-9a-f]{16}$/);
      assert.match(String(failure?.error), /bad item 2/);
      const state = (await store.listDatabaseTriggers()).find((s) => s.trigger === 'fragile')!;
      assert.equal(state.delivered, 3);
      assert.equal(state.failed, 1);
      assert.match(state.lastError ?? '', /bad item 2/);
    });

    it('a trigger enabled again catches up on what happened while disabled, or skips it with skip_catchup_events; a new trigger starts at the end', async () => {
      // Two servers in turn on one store and outbox: the second is the first restarted with the triggers enabled.
      const shared = uniqueName('dbtrig_restart');
      cleanups.push(() => backend.drop(shared));
      const first = await serve([trigger('catchUp', { disabled: true }), trigger('skipper', { functionName: 'recordOther', disabled: true, skipCatchupEvents: true })], { shared });
      await first.items.insertOne({ n: 1 });
      await first.runDue();
      await first.server.close();
      const second = await serve([trigger('catchUp', {}), trigger('skipper', { functionName: 'recordOther', skipCatchupEvents: true }), trigger('newcomer', { functionName: 'mark' })], { shared });
      await second.items.insertOne({ n: 2 });
      await second.runDue();
      const log = await second.docs('log');
      assert.deepEqual(log.filter((l) => l.by === 'record').map((l) => ((l.event as Doc).fullDocument as Doc).n), [1, 2]);
      assert.deepEqual(log.filter((l) => l.by === 'recordOther').map((l) => ((l.event as Doc).fullDocument as Doc).n), [2]);
      assert.equal((await second.docs('marks')).length, 1);
    });
  });
}

suite('database triggers on SQLite', sqliteBackend, false);
suite('database triggers on PostgreSQL', postgresBackend, skipWithoutPostgres('PostgreSQL database trigger tests'));

describe('database triggers with two instances on one PostgreSQL', { skip: skipWithoutPostgres('PostgreSQL multi-instance trigger tests') }, () => {
  const schema = uniqueName('dbtrig_multi');
  const cleanups: (() => Promise<void> | void)[] = [];
  let now = Date.parse('2024-05-01T00:00:00Z');
  const clock = () => now;
  before(async () => {
    cleanups.push(async () => void (await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)));
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function instance(pollMs: number) {
    const store = await openPostgresStore(TEST_DATABASE_URL!, { schema, maxConnections: 4 });
    const documents = await openPostgresDocuments(TEST_DATABASE_URL!, { schema, maxConnections: 4 });
    const server = await startServer(app([trigger('mark', { functionName: 'mark' })]), {
      store,
      documents,
      clock,
      databaseTriggers: { pollMs, leaseMs: 5_000 },
    });
    cleanups.push(async () => {
      await store.close();
      await documents.close();
    });
    cleanups.push(() => server.close());
    const user = await new Realm.App({ id: server.appId, baseUrl: server.url }).logIn(Realm.Credentials.anonymous());
    return { server, store, documents, items: user.mongoClient('mongodb-atlas').db('app').collection('items') };
  }

  it('deliver each of 300 events exactly once, and take over a lease once it expires', async () => {
    const a = await instance(20);
    const b = await instance(20);
    const ids: unknown[] = [];
    // 30 batches of 10, half through each instance, concurrently in pairs.
    for (let i = 0; i < 15; i++) {
      const batch = (k: number) => Array.from({ length: 10 }, (_, j) => ({ n: i * 20 + k * 10 + j }));
      const [ra, rb] = await Promise.all([a.items.insertMany(batch(0)), b.items.insertMany(batch(1))]);
      ids.push(...ra.insertedIds, ...rb.insertedIds);
    }
    const marks = async () => collect(a.documents.find('app.marks', {}));
    for (let i = 0; i < 200 && (await marks()).length < 300; i++) await new Promise((r) => setTimeout(r, 50));
    await Promise.all([a.server.baste.databaseTriggers.runDue(), b.server.baste.databaseTriggers.runDue()]);
    const got = await marks();
    assert.equal(got.length, 300, 'every event delivered, none twice');
    assert.equal(new Set(got.map((m) => String(m.src))).size, 300);
    assert.deepEqual(new Set(got.map((m) => String(m.src))), new Set(ids.map(String)));

    // A dead instance holds the lease: nobody delivers until it expires, then one instance does.
    // (the live instances lease it at each poll: try until it is free)
    let taken = null;
    for (let i = 0; i < 100 && !taken; i++) taken = await a.store.leaseDatabaseTrigger('mark', 'dead-instance', now, now + 10_000);
    assert.ok(taken, 'the dead instance took the lease');
    const { insertedId } = await a.items.insertOne({ n: 'late' });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await marks()).length, 300, 'not while the lease is held');
    now += 10_001;
    for (let i = 0; i < 100 && (await marks()).length < 301; i++) await new Promise((r) => setTimeout(r, 50));
    await Promise.all([a.server.baste.databaseTriggers.runDue(), b.server.baste.databaseTriggers.runDue()]);
    const after = await marks();
    assert.equal(after.length, 301);
    assert.ok(after.some((m) => String(m.src) === String(insertedId)));
  });
});
