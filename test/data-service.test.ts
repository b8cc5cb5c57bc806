// The mongodb-atlas data service through both SDKs: every operation they send (checklist 62–76),
// BSON types on the wire, and rules: two users share a collection and each sees and changes only
// what their role gives them, while a system function sees everything. The whole suite runs on the
// embedded store, on the MongoDB engine against a wire-protocol stand-in (the driver plumbing), and
// on a real MongoDB when BASTE_TEST_MONGODB_URI names one.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Decimal128, Long, ObjectId } from 'bson';
import {
  RemoteMongoClient,
  UserPasswordAuthProviderClient,
  UserPasswordCredential,
  type StitchAppClient,
} from 'mongodb-stitch-server-sdk';
import * as Realm from 'realm-web';
import type { CollectionRules, DataSourceConfig, RoleConfig } from '../src/app/model.js';
import { appConfig, appFunction, autoConfirmUserpass, provider, role, startServer, type TestServer, uniqueEmail } from './helpers/server.js';
import { newPasswordUser } from './helpers/realm.js';
import { startFakeMongo, type FakeMongo } from './fakes/mongo-wire.js';
import { dropDatabases, skipWithoutMongo, TEST_MONGODB_URI, uniqueDatabasePrefix } from './helpers/mongodb.js';
import { stitchClientFor } from './helpers/stitch.js';


const rules = (db: string, coll: string, roles: RoleConfig[], filters: CollectionRules['filters'] = []): [string, CollectionRules] => [
  `${db}.${coll}`,
  { database: db, collection: coll, roles, filters, file: `data_sources/mongodb-atlas/${db}/${coll}/rules.json` },
];

const DATA_SOURCE: DataSourceConfig = {
  name: 'mongodb-atlas',
  type: 'mongodb-atlas',
  // Collections without rules of their own: everyone may do everything (like the platform's "read and write all" template).
  defaultRules: { roles: [role('all', { read: true, write: true })], filters: [] },
  collections: new Map([
    // Notes: the owner reads and writes their own; others read only shared notes, and never the `secret` field.
    rules('app', 'notes', [
      // write is checked against the document after the change (%%root): an owner cannot give a note away
      role('owner', { applyWhen: { owner: '%%user.id' }, read: true, write: { owner: '%%user.id' } }),
      role('reader', {
        applyWhen: { shared: true },
        read: false,
        write: false,
        insert: false,
        delete: false,
        fields: { title: { read: true }, owner: { read: true }, shared: { read: true } },
      }),
      // Anyone may create a note of their own (apply_when sees the new document as %%root).
      role('creator', { applyWhen: { owner: '%%user.id' }, insert: true, write: { owner: '%%user.id' } }),
    ]),
    // Tasks: a filter hides archived tasks from everyone but the system user.
    rules('app', 'tasks', [role('anyone', { read: true, write: true })], [
      { name: 'hideArchived', applyWhen: {}, query: { archived: { $ne: true } }, projection: {} },
    ]),
  ]),
};

const fn = appFunction;

function dataServiceSuite(engine: 'embedded' | 'mongodb' | 'mongodb-fake'): void {
  const prefix = uniqueDatabasePrefix();
  const onMongo = engine === 'mongodb';
  const title = { embedded: 'data service and rules', mongodb: 'data service and rules on MongoDB', 'mongodb-fake': 'data service and rules on the MongoDB engine, wire fake' }[engine];
  describe(title, { skip: onMongo && skipWithoutMongo('the data service on MongoDB') }, () => {
    let fake: FakeMongo | undefined;
    let server: TestServer;
    let rwAlice: Realm.User;
    let rwBob: Realm.User;
    let stitch: StitchAppClient;
    let stitchUserId: string;

    before(async () => {
      const app = {
        ...appConfig([provider('anon-user'), autoConfirmUserpass()], 'data-app-abcde'),
        dataSources: new Map([['mongodb-atlas', DATA_SOURCE]]),
        functions: new Map([
          fn('countAllNotes', 'exports = async function() { return context.services.get("mongodb-atlas").db("app").collection("notes").count({}); };', { runAsSystem: true }),
          fn('myNotes', 'exports = async function() { return (await context.services.get("mongodb-atlas").db("app").collection("notes").find({}, { title: 1 }).sort({ title: 1 }).toArray()).map((n) => n.title); };'),
          fn('archivedTasks', 'exports = async function() { return context.services.get("mongodb-atlas").db("app").collection("tasks").count({ archived: true }); };', { runAsSystem: true }),
          // Changes its copies of context.user and context.request, then reads: the rules must still see the caller.
          fn('myNotesAsSomeoneElse', 'exports = async function(other) { context.user.id = other; context.user.identities.length = 0; context.request.remoteIPAddress = "1.2.3.4"; const titles = await context.functions.execute("myNotes"); return { titles, seen: context.user.id, nested: await context.functions.execute("whoAmI") }; };'),
          fn('whoAmI', 'exports = function() { return context.user.id; };'),
          // Operator-less upserts as the system user: on a MongoDB engine these run in the server.
          fn('systemUpserts', 'exports = async function(run) { const c = context.services.get("mongodb-atlas").db("app").collection("upserts"); const one = await c.updateOne({ run, name: "sysOne" }, { name: "sysOne", v: 1 }, { upsert: true }); const many = await c.updateMany({ run, name: "sysMany" }, { name: "sysMany", v: 2 }, { upsert: true }); const fam = await c.findOneAndUpdate({ run, name: "sysFam" }, { name: "sysFam", v: 3 }, { upsert: true, returnNewDocument: true }); const again = await c.updateOne({ name: "sysOne" }, { v: 10 }, { upsert: true }); const docs = await c.find({ name: { $in: ["sysOne", "sysMany", "sysFam"] } }).toArray(); return { one: [one.matchedCount, one.modifiedCount, !!one.upsertedId], many: [many.matchedCount, many.modifiedCount, !!many.upsertedId], fam: Object.keys(fam).sort(), again: [again.matchedCount, again.modifiedCount, again.upsertedId === undefined], docs: docs.map((d) => Object.keys(d).sort().join(",") + "=" + d.v).sort() }; };', { runAsSystem: true }),
          fn('noService', 'exports = function() { return context.services.get("nope") === undefined; };'),
        ]),
      };
      if (engine === 'mongodb-fake') fake = await startFakeMongo();
      const mongoUri = onMongo ? TEST_MONGODB_URI : fake?.uri;
      server = await startServer(app, {
        functions: { timeoutMs: 5000, memoryMb: 64 },
        // The data source has no config.uri: the default cluster (BASTE_MONGODB_URI's place) serves it.
        ...(mongoUri ? { mongodb: { uri: mongoUri, databasePrefix: prefix, serverSelectionTimeoutMS: 10_000 } } : {}),
      });
      const login = (name: string) => newPasswordUser(server, name);
      rwAlice = await login('alice');
      rwBob = await login('bob');
      stitch = stitchClientFor(server, `data-${Date.now()}`);
      const email = uniqueEmail('carol');
      await stitch.auth.getProviderClient(UserPasswordAuthProviderClient.factory).registerWithEmail(email, 'secret123');
      stitchUserId = (await stitch.auth.loginWithCredential(new UserPasswordCredential(email, 'secret123'))).id;
    });
    after(async () => {
      stitch.close();
      await server.close();
      if (onMongo) await dropDatabases(prefix);
      await fake?.close();
    });

    const rwColl = (user: Realm.User, coll: string) => user.mongoClient('mongodb-atlas').db('app').collection<any>(coll);
    const sColl = (coll: string) => stitch.getServiceClient(RemoteMongoClient.factory, 'mongodb-atlas').db('app').collection<any>(coll);

    it('#62 #63 #64 inserts and finds documents; ids are ObjectIds (server-made for realm-web, kept for Stitch)', async () => {
      const c = rwColl(rwAlice, 'things');
      const { insertedId } = await c.insertOne({ x: 1 });
      // realm-web ships its own bson: compare ObjectIds by value
      assert.match(insertedId.toHexString(), /^[0-9a-f]{24}$/);
      assert.deepEqual(await c.findOne({ _id: insertedId }), { _id: insertedId, x: 1 });
      const many = await c.insertMany([{ x: 2 }, { x: 3 }]);
      assert.equal(many.insertedIds.length, 2);
      const mine = new ObjectId();
      const s = await sColl('things').insertOne({ _id: mine, x: 4 });
      assert.equal((s.insertedId as ObjectId).toHexString(), mine.toHexString());
      const sMany = await sColl('things').insertMany([{ x: 5 }, { x: 6 }]);
      assert.deepEqual(Object.keys(sMany.insertedIds), ['0', '1']);
    });

    it('#57-style BSON types survive the round trip', async () => {
      const c = rwColl(rwAlice, 'types');
      const doc = { oid: new ObjectId(), date: new Date(1_700_000_000_000), long: Long.fromString('9007199254740993'), dec: Decimal128.fromString('12.345'), n: 1.5, s: 'x' };
      const { insertedId } = await c.insertOne(doc);
      const back = await c.findOne({ _id: insertedId });
      assert.equal(back.oid.toHexString(), doc.oid.toHexString());
      assert.equal(back.date.getTime(), doc.date.getTime());
      // both SDKs decode Long as a JS number (wire-protocol §7.2); the wire itself keeps all 64 bits
      assert.equal(Number(back.long), 9007199254740992);
      const raw = await fetch(`${server.url}/api/client/v2.0/app/${server.appId}/functions/call`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${rwAlice.accessToken}` },
        body: JSON.stringify({ name: 'findOne', service: 'mongodb-atlas', arguments: [{ database: 'app', collection: 'types', query: {} }] }),
      });
      assert.match(await raw.text(), /"long":\{"\$numberLong":"9007199254740993"\}/);
      assert.equal(back.dec.toString(), '12.345');
      assert.equal(back.n, 1.5);
    });

    it('#65 #66 #67 #68: projection, sort, limit, findOne on no match, count with limit, aggregate', async () => {
      const c = rwColl(rwAlice, 'scores');
      await c.insertMany([{ name: 'a', v: 3, team: 'x' }, { name: 'b', v: 1, team: 'y' }, { name: 'c', v: 2, team: 'x' }]);
      const found = await c.find({}, { projection: { name: 1 }, sort: { v: -1 }, limit: 2 });
      assert.deepEqual(found.map((d: any) => Object.keys(d).sort()), [['_id', 'name'], ['_id', 'name']]);
      assert.deepEqual(found.map((d: any) => d.name), ['a', 'c']);
      assert.equal(await c.findOne({ name: 'zzz' }), null);
      assert.equal(await c.count({ team: 'x' }), 2);
      assert.equal(await c.count({}, { limit: 1 }), 1);
      assert.deepEqual(await c.aggregate([{ $match: { team: 'x' } }, { $group: { _id: '$team', total: { $sum: '$v' } } }]), [{ _id: 'x', total: 5 }]);
      const sFound = await sColl('scores').find({}, { projection: { v: 1 }, sort: { v: 1 }, limit: 1 }).toArray();
      assert.deepEqual(sFound.map((d: any) => d.v), [1]);
      assert.equal(await sColl('scores').count({ v: { $gt: 1 } }), 2);
    });

    it('concurrent updates of one document lose nothing: 25 simultaneous $inc add 25', async () => {
      const c = rwColl(rwAlice, 'updates');
      const { insertedId } = await c.insertOne({ counter: 'race', n: 0 });
      await Promise.all(Array.from({ length: 25 }, () => c.updateOne({ _id: insertedId }, { $inc: { n: 1 } })));
      assert.equal((await c.findOne({ _id: insertedId })).n, 25);
      const many = await Promise.all(Array.from({ length: 10 }, () => c.findOneAndUpdate({ _id: insertedId }, { $inc: { n: 1 } }, { returnNewDocument: true })));
      assert.deepEqual(many.map((d: any) => d.n).sort((a: number, b: number) => a - b), Array.from({ length: 10 }, (_, i) => 26 + i));
    });

    it('#69 #70: update counts, upsert ids, and operator-less updates as $set', async () => {
      const c = rwColl(rwAlice, 'updates');
      await c.insertMany([{ run: 1, n: 1 }, { run: 1, n: 2 }, { run: 2, n: 3 }]);
      const one = await c.updateOne({ run: 1 }, { $inc: { n: 10 } });
      assert.deepEqual([one.matchedCount, one.modifiedCount, one.upsertedId], [1, 1, undefined]);
      const plain = await c.updateMany({ run: 1 }, { hidden: 'x' } as any);
      assert.deepEqual([plain.matchedCount, plain.modifiedCount], [2, 2]);
      assert.equal(await c.count({ hidden: 'x', run: 1 }), 2);
      const up = await c.updateOne({ run: 9 }, { $set: { n: 0 } }, { upsert: true });
      assert.match(up.upsertedId.toHexString(), /^[0-9a-f]{24}$/);
      assert.equal((await c.findOne({ run: 9 }))?.n, 0);
      const s = await sColl('updates').updateMany({ run: 2 }, { $set: { n: 30 } });
      assert.deepEqual([s.matchedCount, s.modifiedCount], [1, 1]);
    });

    it('an upsert without $ operators inserts the update document and an _id, not the query fields (realm-web, Stitch, a system function)', async () => {
      const c = rwColl(rwAlice, 'upserts');
      const run = Date.now();
      const one = await c.updateOne({ run, name: 'Dennis' }, { name: 'Dennis', v: 1 }, { upsert: true });
      assert.deepEqual([one.matchedCount, one.modifiedCount], [0, 0]);
      assert.deepEqual(Object.keys(await c.findOne({ _id: one.upsertedId })).sort(), ['_id', 'name', 'v']);
      const many = await c.updateMany({ run, name: 'Erin' }, { name: 'Erin' }, { upsert: true });
      assert.deepEqual([many.matchedCount, many.modifiedCount], [0, 0]);
      assert.deepEqual(await c.findOne({ _id: many.upsertedId }), { _id: many.upsertedId, name: 'Erin' });
      // realm-web's own suite: findOneAndUpdate's upsert returns exactly these keys
      const fam = await c.findOneAndUpdate({ run, name: 'Nobody' }, { name: 'Frank', hidden: 'h' }, { upsert: true, returnNewDocument: true });
      assert.deepEqual(Object.keys(fam).sort(), ['_id', 'hidden', 'name']);
      // The query's _id equality becomes the new document's _id, as in MongoDB's replacement upsert.
      const id = new ObjectId();
      const byId = await c.updateOne({ _id: id, run }, { name: 'Gina' }, { upsert: true });
      assert.equal(byId.upsertedId.toHexString(), id.toHexString());
      assert.deepEqual(Object.keys(await c.findOne({ _id: id })).sort(), ['_id', 'name']);
      // On a match it is still $set: the other fields stay.
      await c.insertOne({ run, name: 'Hal', keep: true });
      const matched = await c.updateMany({ run, name: 'Hal' }, { v: 5 }, { upsert: true });
      assert.deepEqual([matched.matchedCount, matched.modifiedCount, matched.upsertedId], [1, 1, undefined]);
      assert.deepEqual(await c.findOne({ run, name: 'Hal' }, { projection: { _id: 0 } }), { run, name: 'Hal', keep: true, v: 5 });
      // With operators the query's equality fields are merged in, as MongoDB does.
      const withOps = await c.updateOne({ run, name: 'Ivy' }, { $set: { v: 7 } }, { upsert: true });
      assert.deepEqual(await c.findOne({ _id: withOps.upsertedId }, { projection: { _id: 0 } }), { run, name: 'Ivy', v: 7 });
      // The Stitch server SDK sends the same request.
      const s = await sColl('upserts').updateOne({ run, name: 'Jo' }, { name: 'Jo', v: 8 }, { upsert: true });
      assert.ok(s.upsertedId);
      assert.deepEqual(Object.keys(await sColl('upserts').findOne({ _id: s.upsertedId })).sort(), ['_id', 'name', 'v']);
      // The system user (on a MongoDB engine: the whole operation in the server).
      assert.deepEqual(await rwAlice.functions.systemUpserts(run), {
        one: [0, 0, true],
        many: [0, 0, true],
        fam: ['_id', 'name', 'v'],
        again: [1, 1, true],
        docs: ['_id,name,v=10', '_id,name,v=2', '_id,name,v=3'],
      });
    });

    it('regular expressions in filters: $regex with $options, and a RegExp from realm-web and the Stitch SDK', async () => {
      const c = rwColl(rwAlice, 'regex');
      const run = Date.now();
      await c.insertMany([{ run, name: 'Alpha' }, { run, name: 'alpine' }, { run, name: 'Beta' }]);
      const names = (docs: any[]) => docs.map((d) => d.name).sort();
      assert.deepEqual(names(await c.find({ run, name: { $regex: '^al', $options: 'i' } })), ['Alpha', 'alpine']);
      assert.deepEqual(names(await c.find({ run, name: { $regex: '^al' } })), ['alpine']);
      assert.deepEqual(names(await c.find({ run, name: /^AL/i })), ['Alpha', 'alpine']);
      assert.deepEqual(names(await c.find({ run, name: { $in: [/^B/, 'alpine'] } })), ['Beta', 'alpine']);
      assert.equal(await c.count({ run, name: { $not: /^a/i } }), 1);
      assert.deepEqual(names(await sColl('regex').find({ run, name: /^al/i }).toArray()), ['Alpha', 'alpine']);
    });

    it('$setOnInsert sets its fields only when an upsert inserts (realm-web, Stitch)', async () => {
      const c = rwColl(rwAlice, 'upserts');
      const run = Date.now();
      const first = await c.updateOne({ run, name: 'Kim' }, { $set: { seen: 1 }, $setOnInsert: { firstSeen: 1 } }, { upsert: true });
      assert.ok(first.upsertedId);
      assert.deepEqual(await c.findOne({ _id: first.upsertedId }, { projection: { _id: 0 } }), { run, name: 'Kim', seen: 1, firstSeen: 1 });
      const again = await c.updateOne({ run, name: 'Kim' }, { $set: { seen: 2 }, $setOnInsert: { firstSeen: 2 } }, { upsert: true });
      assert.deepEqual([again.matchedCount, again.modifiedCount, again.upsertedId], [1, 1, undefined]);
      assert.deepEqual(await c.findOne({ _id: first.upsertedId }, { projection: { _id: 0 } }), { run, name: 'Kim', seen: 2, firstSeen: 1 });
      // Only $setOnInsert, on a match: nothing changes.
      const none = await c.updateOne({ run, name: 'Kim' }, { $setOnInsert: { firstSeen: 3 } }, { upsert: true });
      assert.deepEqual([none.matchedCount, none.modifiedCount], [1, 0]);
      const fam = await c.findOneAndUpdate({ run, name: 'Lou' }, { $setOnInsert: { firstSeen: 4 } }, { upsert: true, returnNewDocument: true });
      assert.deepEqual({ ...fam, _id: undefined }, { _id: undefined, run, name: 'Lou', firstSeen: 4 });
      await assert.rejects(c.updateOne({ run, name: 'Max' }, { $set: { a: 1 }, $setOnInsert: { a: 2 } }, { upsert: true }), /conflict/);
      assert.equal(await c.count({ run, name: 'Max' }), 0);
      const s = await sColl('upserts').updateOne({ run, name: 'Ned' }, { $setOnInsert: { firstSeen: 5 } }, { upsert: true });
      assert.equal((await sColl('upserts').findOne({ _id: s.upsertedId }))?.firstSeen, 5);
    });

    it('#71 #72 #73 #74: findOneAndUpdate/Replace/Delete and deletes', async () => {
      const c = rwColl(rwAlice, 'fam');
      await c.insertMany([{ k: 1, v: 'a' }, { k: 2, v: 'b' }, { k: 3, v: 'c' }]);
      assert.equal((await c.findOneAndUpdate({ k: 1 }, { $set: { v: 'A' } }))?.v, 'a');
      assert.equal((await c.findOneAndUpdate({ k: 1 }, { $set: { v: 'AA' } }, { returnNewDocument: true }))?.v, 'AA');
      assert.equal((await c.findOneAndUpdate({ k: 9 }, { $set: { v: 'new' } }, { upsert: true, returnNewDocument: true }))?.v, 'new');
      const rep = await c.findOneAndReplace({ k: 2 }, { k: 2, w: 'replaced' }, { returnNewDocument: true, projection: { w: 1 } });
      assert.deepEqual(Object.keys(rep ?? {}).sort(), ['_id', 'w']);
      assert.equal(rep?.w, 'replaced');
      const before = await c.count({});
      // realm-web 2.0.1 sends this as findOneAndReplace without `update`
      const del = await c.findOneAndDelete({}, { sort: { k: -1 } });
      assert.equal(del?.k, 9);
      assert.equal(await c.count({}), before - 1);
      assert.equal((await sColl('fam').findOneAndDelete({ k: 3 }))?.v, 'c');
      assert.deepEqual(await c.deleteOne({ k: 2 }), { deletedCount: 1 });
      assert.deepEqual(await c.deleteMany({}), { deletedCount: 1 });
    });

    it('#75: an unknown service is ServiceNotFound; functions get undefined for it', async () => {
      await assert.rejects(rwAlice.mongoClient('nope').db('app').collection('x').findOne(), (e: any) => e.errorCode === 'ServiceNotFound');
      assert.equal(await rwAlice.functions.noService(), true);
    });

    it('rules: each user sees and changes only what their role gives; a system function sees everything', async () => {
      const alice = rwColl(rwAlice, 'notes');
      const bob = rwColl(rwBob, 'notes');
      await alice.insertOne({ owner: rwAlice.id, title: 'alice private', secret: 'a1', shared: false });
      await alice.insertOne({ owner: rwAlice.id, title: 'alice shared', secret: 'a2', shared: true });
      await bob.insertOne({ owner: rwBob.id, title: 'bob private', secret: 'b1', shared: false });

      assert.deepEqual((await alice.find({}, { sort: { title: 1 } })).map((n: any) => n.title), ['alice private', 'alice shared']);
      const bobSees = await bob.find({}, { sort: { title: 1 } });
      assert.deepEqual(bobSees.map((n: any) => n.title), ['alice shared', 'bob private']);
      const sharedForBob = bobSees.find((n: any) => n.title === 'alice shared');
      assert.equal(sharedForBob.secret, undefined, 'field-level read hides the secret');
      assert.equal(await bob.count({ owner: rwAlice.id }), 1);
      assert.deepEqual(await bob.aggregate([{ $group: { _id: null, n: { $sum: 1 } } }]), [{ _id: null, n: 2 }]);
      // the Stitch user owns nothing and sees only the shared note
      const carol = await sColl('notes').find({}).toArray();
      assert.deepEqual(carol.map((n: any) => n.title), ['alice shared']);
      // a system function sees all three; a user function sees what its user may
      assert.equal(await rwBob.functions.countAllNotes(), 3);
      assert.deepEqual(await rwBob.functions.myNotes(), ['alice shared', 'bob private']);
      // what a function does to its context.user is its own: the host, nested calls and rules still see Bob
      assert.deepEqual(await rwBob.functions.myNotesAsSomeoneElse(rwAlice.id), {
        titles: ['alice shared', 'bob private'],
        seen: rwAlice.id,
        nested: rwBob.id,
      });
    });

    it('#76 rules refuse writes with a non-401 error and change nothing; the session stays valid', async () => {
      const bob = rwColl(rwBob, 'notes');
      const expectDenied = (p: Promise<unknown>) =>
        assert.rejects(p, (e: any) => e.statusCode === 403 && e.errorCode === 'NoMatchingRuleFound');
      await expectDenied(bob.updateOne({ title: 'alice shared' }, { $set: { title: 'hacked' } }));
      await expectDenied(bob.deleteOne({ title: 'alice shared' }));
      await expectDenied(bob.findOneAndUpdate({ title: 'alice shared' }, { $set: { shared: false } }));
      await expectDenied(bob.insertOne({ owner: rwAlice.id, title: 'forged owner' }));
      await expectDenied(bob.updateOne({ owner: rwBob.id }, { $set: { owner: rwAlice.id } }));
      // updateMany touching one allowed and one denied document writes nothing
      await expectDenied(bob.updateMany({}, { $set: { touched: true } }));
      assert.equal(await rwBob.functions.countAllNotes(), 3);
      const all = await rwColl(rwAlice, 'notes').find({});
      assert.ok(all.every((n: any) => n.touched === undefined && n.title !== 'hacked' && n.title !== 'forged owner'));
      assert.equal((await rwColl(rwAlice, 'notes').findOne({ title: 'alice shared' }))?.shared, true);
      // a document bob cannot see is not matched at all
      assert.deepEqual(await bob.deleteMany({ title: 'alice private' }), { deletedCount: 0 });
      assert.equal(rwBob.state, 'active');
      // his own documents are his to change
      assert.equal((await bob.updateOne({ owner: rwBob.id }, { $set: { title: 'bob renamed' } })).modifiedCount, 1);
    });

    it('filters: merged into every query before documents are read; the system user is not filtered', async () => {
      const tasks = rwColl(rwAlice, 'tasks');
      await tasks.insertMany([{ t: 1 }, { t: 2, archived: true }]);
      assert.equal(await tasks.count({}), 1);
      assert.deepEqual((await tasks.find({ archived: true })).length, 0);
      assert.equal((await tasks.updateMany({}, { $set: { seen: true } })).matchedCount, 1);
      assert.equal(await rwAlice.functions.archivedTasks(), 1);
    });

    it('refuses stages and operators that reach around the rules or run code', async () => {
      const bob = rwColl(rwBob, 'notes');
      for (const stage of [{ $lookup: { from: 'things', localField: 'x', foreignField: 'x', as: 'y' } }, { $unionWith: 'things' }, { $out: 'copy' }, { $merge: { into: 'copy' } }]) {
        await assert.rejects(bob.aggregate([stage]), (e: any) => e.statusCode >= 400 && e.statusCode < 500 && e.statusCode !== 401, JSON.stringify(stage));
      }
      await assert.rejects(bob.find({ $where: 'this.owner == "x"' } as any), (e: any) => e.statusCode === 400 && /JavaScript/.test(e.error));
      await assert.rejects(bob.aggregate([{ $match: { $expr: { $function: { body: 'function() { return true }', args: [], lang: 'js' } } } }]), (e: any) => e.statusCode === 400);
      await assert.rejects(stitch.callFunction('countAllNotes', []).then(() => sColl('notes').aggregate([{ $lookup: { from: 'x', localField: 'a', foreignField: 'b', as: 'c' } }]).toArray()), (e: any) => e.errorCodeName === 'NoMatchingRuleFound');
      assert.ok(stitchUserId);
    });

    it('refuses bad names and arguments with 400s', async () => {
      const call = (args: unknown) =>
        fetch(`${server.url}/api/client/v2.0/app/${server.appId}/functions/call`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${rwAlice.accessToken}` },
          body: JSON.stringify({ name: 'find', service: 'mongodb-atlas', arguments: [args] }),
        });
      assert.equal((await call({ database: '$bad', collection: 'x', query: {} })).status, 400);
      assert.equal((await call({ database: 'app', collection: '', query: {} })).status, 400);
      assert.equal((await call({ database: 'app', collection: 'x', query: 'nope' })).status, 400);
      const unknownOp = await fetch(`${server.url}/api/client/v2.0/app/${server.appId}/functions/call`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${rwAlice.accessToken}` },
        body: JSON.stringify({ name: 'dropDatabase', service: 'mongodb-atlas', arguments: [{ database: 'app', collection: 'x' }] }),
      });
      assert.equal(unknownOp.status, 400);
      assert.equal((await unknownOp.json()).error_code, 'ServiceCommandNotFound');
    });
  });
}

dataServiceSuite('embedded');
dataServiceSuite('mongodb-fake');
dataServiceSuite('mongodb');
