// A user's update on a real MongoDB is written as an update of what changed (src/data/update-diff.ts),
// so the cluster's change streams report `update`, not `replace`. Checked here: the diff itself;
// the command the MongoDB engine sends, against the wire fake (test/fakes/mongo-wire.ts), for an
// engine write batch and for a realm-web updateOne through the rules; the compare-and-swap guard
// still refusing a document changed in between. What the fake cannot show — the change event a
// real cluster then emits — needs a replica set (BASTE_TEST_MONGODB_URI), where update events
// follow from the command: a `$set`/`$unset` update is reported as `update` by MongoDB itself.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Double, Long, ObjectId } from 'bson';
import * as Realm from 'realm-web';
import type { DataSourceConfig } from '../../src/app/model.js';
import { collect, WriteConflictError, type Doc } from '../../src/data/engine.js';
import { openMongoDocuments, type MongoDocumentEngine } from '../../src/data/mongodb-engine.js';
import { updateDiff } from '../../src/data/update-diff.js';
import { startFakeMongo, type FakeMongo } from '../fakes/mongo-wire.js';
import { appConfig, provider, role, startServer, type TestServer } from '../helpers/server.js';

describe('updateDiff', () => {
  const id = new ObjectId();

  it('sets what changed and unsets what went, descending into sub-documents', () => {
    assert.deepEqual(
      updateDiff(
        { _id: id, title: 'a', n: 1, gone: true, address: { city: 'Lyon', zip: '69001', old: 1 }, tags: ['x'], same: { k: [1, 2] } },
        { _id: id, title: 'b', n: 1, address: { city: 'Paris', zip: '69001' }, tags: ['x', 'y'], same: { k: [1, 2] }, added: { deep: 1 } },
      ),
      { $set: { title: 'b', 'address.city': 'Paris', tags: ['x', 'y'], added: { deep: 1 } }, $unset: { gone: '', 'address.old': '' } },
    );
  });

  it('sets a number whose BSON type the update set, and leaves same-valued plain numbers alone', () => {
    const diff = updateDiff({ _id: id, a: 5, b: 7, c: 2 }, { _id: id, a: new Double(5), b: Long.fromNumber(7), c: 2 });
    assert.deepEqual(Object.keys(diff?.$set ?? {}), ['a', 'b']);
    assert.equal(diff?.$unset, undefined);
  });

  it('sets an emptied sub-document as {}, and a sub-document replacing a scalar whole', () => {
    assert.deepEqual(updateDiff({ _id: id, o: { a: 1 }, s: 1 }, { _id: id, o: {}, s: { a: 1 } }), { $set: { o: {}, s: { a: 1 } } });
  });

  it('gives up (null: replace instead) when nothing changed or a changed name cannot be a path', () => {
    assert.equal(updateDiff({ _id: id, a: 1 }, { _id: id, a: 1 }), null);
    assert.equal(updateDiff({ _id: id, 'a.b': 1 }, { _id: id, 'a.b': 2 }), null);
    assert.equal(updateDiff({ _id: id, o: { $weird: 1, a: 1 } }, { _id: id, o: { a: 1 } }), null);
    assert.deepEqual(updateDiff({ _id: id, o: { $weird: 1 } }, { _id: id, o: {} }), { $set: { o: {} } }, 'emptied whole: no path names it');
    // An unchanged odd name is no obstacle.
    assert.deepEqual(updateDiff({ _id: id, 'a.b': 1, x: 1 }, { _id: id, 'a.b': 1, x: 2 }), { $set: { x: 2 } });
  });
});

describe('the MongoDB engine writes a user’s update as an update (wire fake)', () => {
  let fake: FakeMongo;
  let engine: MongoDocumentEngine;
  let server: TestServer;
  const lastUpdate = () => {
    const cmd = [...fake.writes].reverse().find((w) => 'update' in w);
    return (cmd?.updates as Doc[] | undefined)?.[0];
  };

  before(async () => {
    fake = await startFakeMongo();
    engine = openMongoDocuments(fake.uri, { databasePrefix: 'diff_', serverSelectionTimeoutMS: 5_000 });
  });
  after(async () => {
    await server?.close();
    await engine?.close();
    await fake?.close();
  });

  it('sends $set/$unset under the compare-and-swap filter for an update, and a replacement for a replace', async () => {
    const _id = new ObjectId();
    await engine.write('shop.items', { inserts: [{ _id, name: 'pen', price: 2, stock: { here: 3, there: 1 } }] });
    const [read] = await collect(engine.find('shop.items', { _id }));
    await engine.write('shop.items', { replaces: [{ _id, name: 'pen', stock: { here: 2, there: 1 }, sale: true }], expected: [read!] });
    const sent = lastUpdate()!;
    assert.deepEqual(sent.u, { $set: { 'stock.here': 2, sale: true }, $unset: { price: '' } });
    assert.ok((sent.q as Doc).$expr, 'the compare-and-swap guard is in the filter');
    assert.notEqual(sent.multi, true);
    assert.deepEqual(await collect(engine.find('shop.items', { _id })), [{ _id, name: 'pen', stock: { here: 2, there: 1 }, sale: true }]);

    const [again] = await collect(engine.find('shop.items', { _id }));
    await engine.write('shop.items', { replaces: [{ _id, name: 'pencil' }], expected: [again!], replaceKind: 'replace' });
    assert.deepEqual(lastUpdate()!.u, { _id, name: 'pencil' });
  });

  it('still refuses a document changed between the read and the write, changing nothing', async () => {
    const _id = new ObjectId();
    await engine.write('shop.items', { inserts: [{ _id, n: 1 }] });
    const [read] = await collect(engine.find('shop.items', { _id }));
    await engine.write('shop.items', { replaces: [{ _id, n: 5 }] }); // another writer, unguarded
    await assert.rejects(engine.write('shop.items', { replaces: [{ _id, n: 2 }], expected: [read!] }), WriteConflictError);
    assert.deepEqual(lastUpdate()!.u, { $set: { n: 2 } });
    assert.deepEqual(await collect(engine.find('shop.items', { _id })), [{ _id, n: 5 }]);
  });

  it('a realm-web updateOne, checked by the rules, reaches the cluster as $set', async () => {
    const dataSource: DataSourceConfig = {
      name: 'mongodb-atlas',
      type: 'mongodb-atlas',
      defaultRules: { roles: [role('all', { read: true, write: true })], filters: [] },
      collections: new Map(),
    };
    server = await startServer(
      { ...appConfig([provider('anon-user')], 'update-diff-abcde'), dataSources: new Map([['mongodb-atlas', dataSource]]) },
      { mongodb: { uri: fake.uri, databasePrefix: 'srv_', serverSelectionTimeoutMS: 5_000 } },
    );
    const user = await new Realm.App({ id: server.appId, baseUrl: server.url }).logIn(Realm.Credentials.anonymous());
    const notes = user.mongoClient('mongodb-atlas').db('app').collection<any>('notes');
    const { insertedId } = await notes.insertOne({ title: 'draft', body: 'x', meta: { v: 1, by: 'me' } });
    const r = await notes.updateOne({ _id: insertedId }, { $set: { 'meta.v': 2 }, $unset: { body: '' } });
    assert.deepEqual([r.matchedCount, r.modifiedCount], [1, 1]);
    const sent = lastUpdate()!;
    assert.deepEqual(sent.u, { $set: { 'meta.v': 2 }, $unset: { body: '' } });
    assert.ok((sent.q as Doc).$expr);
    const found = await notes.findOneAndUpdate({ _id: insertedId }, { $set: { title: 'final' } }, { returnNewDocument: true });
    assert.deepEqual(lastUpdate()!.u, { $set: { title: 'final' } });
    assert.deepEqual(found, { _id: insertedId, title: 'final', meta: { v: 2, by: 'me' } });
  });
});
