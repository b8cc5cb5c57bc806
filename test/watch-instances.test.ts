// watch() across instances: two servers sharing one PostgreSQL schema (each with its own
// connection pools and change outbox reader, as two processes would have). A realm-web client
// watching through instance B receives what a client writes through instance A, within 100 ms;
// A records that collection's changes only while some instance's streams hold it.
// Runs when BASTE_TEST_DATABASE_URL is set; otherwise skipped, saying so.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as Realm from 'realm-web';
import type { DataSourceConfig } from '../src/app/model.js';
import { openPostgresDocuments } from '../src/data/postgres-engine.js';
import type { DocumentEngine } from '../src/data/engine.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import type { Store } from '../src/store/store.js';
import { adminQuery, skipWithoutPostgres, TEST_DATABASE_URL, uniqueName } from './helpers/postgres.js';
import { appConfig, autoConfirmUserpass, provider, role, startServer, type TestServer, uniqueEmail } from './helpers/server.js';

const DATA_SOURCE: DataSourceConfig = {
  name: 'mongodb-atlas',
  type: 'mongodb-atlas',
  collections: new Map([
    ['app.chat', { database: 'app', collection: 'chat', roles: [role('owner', { applyWhen: { owner: '%%user.id' }, read: true, write: true })], filters: [], file: 'data_sources/mongodb-atlas/app/chat/rules.json' }],
  ]),
};

type Msg = { _id: unknown; owner: string; text: string; n?: number };

describe('watch across instances on PostgreSQL', { skip: skipWithoutPostgres('PostgreSQL watch across instances') }, () => {
  const schema = uniqueName('watch2');
  const opened: { store: Store; documents: DocumentEngine }[] = [];
  let a: TestServer;
  let b: TestServer;

  const instance = async () => {
    const store = await openPostgresStore(TEST_DATABASE_URL!, { schema, maxConnections: 4 });
    const documents = await openPostgresDocuments(TEST_DATABASE_URL!, { schema, maxConnections: 4 });
    opened.push({ store, documents });
    const app = { ...appConfig([provider('anon-user'), autoConfirmUserpass()], 'watch2-app-abcde'), dataSources: new Map([['mongodb-atlas', DATA_SOURCE]]) };
    return startServer(app, { store, documents });
  };

  before(async () => {
    a = await instance();
    b = await instance();
  });
  after(async () => {
    await a?.close();
    await b?.close();
    for (const { store, documents } of opened) {
      await store.close();
      await documents.close();
    }
    await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  });

  const recorded = async () => Number((await adminQuery(`SELECT COUNT(*) AS n FROM "${schema}".change_events WHERE ns = 'app.chat'`)).rows[0].n);

  it('a stream on B sees the writes made through A within 100 ms; A stops recording once no stream holds the collection', async () => {
    const email = uniqueEmail('w2');
    const onA = new Realm.App({ id: a.appId, baseUrl: a.url });
    const onB = new Realm.App({ id: b.appId, baseUrl: b.url });
    await onA.emailPasswordAuth.registerUser({ email, password: 'secret123' });
    const writer = await onA.logIn(Realm.Credentials.emailPassword(email, 'secret123'));
    const watcher = await onB.logIn(Realm.Credentials.emailPassword(email, 'secret123'));
    const chatA = writer.mongoClient('mongodb-atlas').db('app').collection<Msg>('chat');
    const chatB = watcher.mongoClient('mongodb-atlas').db('app').collection<Msg>('chat');

    await chatA.insertOne({ owner: writer.id, text: 'before any stream' });
    assert.equal(await recorded(), 0, 'nobody watches: nothing recorded');

    const stream = chatB.watch() as AsyncGenerator<Record<string, any>>;
    const arrivals: { at: number; event: Record<string, any> }[] = [];
    const reading = (async () => {
      for await (const event of stream) arrivals.push({ at: performance.now(), event });
    })().catch(() => undefined);
    await sleep(200);

    const latencies: number[] = [];
    for (let n = 0; n < 8; n++) {
      const acked = performance.now();
      const want = arrivals.length + 1;
      await chatA.insertOne({ owner: writer.id, text: `m${n}`, n });
      const ack = performance.now();
      const deadline = Date.now() + 2000;
      while (arrivals.length < want && Date.now() < deadline) await sleep(1);
      assert.equal(arrivals.length, want, `event ${n} arrived`);
      assert.equal(arrivals[want - 1]!.event.fullDocument.n, n);
      latencies.push(Math.max(0, arrivals[want - 1]!.at - ack));
      void acked;
    }
    latencies.sort((x, y) => x - y);
    const median = latencies[Math.floor(latencies.length / 2)]!;
    assert.ok(median < 100, `insert ack through A → event on B: ${latencies.map((l) => l.toFixed(0)).join(', ')} ms`);

    await stream.return(undefined);
    await reading;
    const deadline = Date.now() + 2000;
    while (b.baste.watch.size > 0 && Date.now() < deadline) await sleep(10);
    const before = await recorded();
    assert.ok(before >= 8);
    await chatA.insertOne({ owner: writer.id, text: 'after the stream' });
    assert.equal(await recorded(), before, 'the hold was withdrawn: A records nothing more');
  });
});
