// Rules completeness through the data service (behaviour.md §E.2): nested field rules (a field's
// permissions override its sub-fields', sub-field rules decide when it grants nothing), collection
// schemas refusing users' non-conforming writes (and writing nothing) while system functions write
// freely, and filters whose queries carry expansions. Two realm-web users share the collections.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as Realm from 'realm-web';
import type { CollectionRules, DataSourceConfig } from '../src/app/model.js';
import { appConfig, appFunction, autoConfirmUserpass, provider, role, startServer, type TestServer } from './helpers/server.js';
import { newPasswordUser } from './helpers/realm.js';


const rules = (coll: string, extra: Partial<CollectionRules>): [string, CollectionRules] => [
  `app.${coll}`,
  { database: 'app', collection: coll, roles: [], filters: [], file: `data_sources/mongodb-atlas/app/${coll}/rules.json`, ...extra },
];

const ITEM_SCHEMA = {
  bsonType: 'object',
  required: ['name'],
  properties: {
    _id: { bsonType: 'objectId' },
    name: { bsonType: 'string', minLength: 1 },
    qty: { bsonType: 'int', minimum: 0 },
    tags: { bsonType: 'array', items: { bsonType: 'string' } },
    // Stitch-style `validate`: the creator stamp must be the writing user.
    createdBy: { validate: { '%%this': '%%user.id' } },
  },
};

const DATA_SOURCE: DataSourceConfig = {
  name: 'mongodb-atlas',
  type: 'mongodb-atlas',
  defaultRules: { roles: [role('all', { read: true, write: true })], filters: [] },
  collections: new Map([
    rules('profiles', {
      roles: [
        role('owner', { applyWhen: { owner: '%%user.id' }, read: true, write: { owner: '%%user.id' } }),
        // Everyone else: the owner field, some of the profile, and nothing they may change but the display name.
        role('peer', {
          insert: false,
          delete: false,
          fields: {
            owner: { read: true },
            profile: {
              fields: {
                name: { read: true, write: true },
                email: { read: true },
                secret: { read: false },
                address: { fields: { city: { read: true } } },
              },
            },
            // The parent's grant covers the whole embedded document, whatever its sub-fields say.
            stats: { read: true, fields: { hidden: { read: false } } },
            // A nested level with its own additional_fields.
            prefs: { fields: {}, additionalFields: { read: true } },
          },
        }),
      ],
    }),
    rules('items', { roles: [role('anyone', { read: true, write: true })], schema: ITEM_SCHEMA }),
    // A schema on a collection without roles: the default roles apply, and so does the schema.
    rules('logs', { schema: { bsonType: 'object', required: ['level'], properties: { level: { enum: ['info', 'error'] } } } }),
    // A filter whose query compares with an expansion.
    rules('mine', {
      roles: [role('anyone', { read: true, write: true })],
      filters: [{ name: 'own', applyWhen: {}, query: { owner: '%%user.id' }, projection: {} }],
    }),
  ]),
};

const fn = appFunction;
const coll = (c: string) => `context.services.get("mongodb-atlas").db("app").collection("${c}")`;

describe('nested field rules, schemas and filter expansions through the data service', () => {
  let server: TestServer;
  let alice: Realm.User;
  let bob: Realm.User;

  before(async () => {
    const app = {
      ...appConfig([provider('anon-user'), autoConfirmUserpass()], 'rules-app-abcde'),
      dataSources: new Map([['mongodb-atlas', DATA_SOURCE]]),
      functions: new Map([
        fn('systemFind', 'exports = async function(c, q) { return context.services.get("mongodb-atlas").db("app").collection(c).find(q).toArray(); };', { runAsSystem: true }),
        fn('systemInsert', `exports = async function(c, doc) { return (await context.services.get("mongodb-atlas").db("app").collection(c).insertOne(doc)).insertedId; };`, { runAsSystem: true }),
        fn('userInsert', `exports = async function(doc) { return (await ${coll('items')}.insertOne(doc)).insertedId; };`),
      ]),
    };
    server = await startServer(app, { functions: { timeoutMs: 5000, memoryMb: 64 } });
    const login = (name: string) => newPasswordUser(server, name);
    alice = await login('alice');
    bob = await login('bob');
  });
  after(async () => {
    await server.close();
  });

  const collection = (user: Realm.User, c: string) => user.mongoClient('mongodb-atlas').db('app').collection<any>(c);
  const systemFind = async (c: string, q: Record<string, unknown> = {}) => (await alice.functions.callFunction('systemFind', c, q)) as any[];
  const refusedBy = (code: string, status: number) => (e: any) => e.statusCode === status && e.errorCode === code;

  it('reads: a hidden sub-field is stripped for one user and whole for the other; grants on a parent cover its sub-fields', async () => {
    await collection(alice, 'profiles').insertOne({
      owner: alice.id,
      profile: { name: 'Alice', email: 'alice@example.com', secret: 's3cret', nickname: 'Al', address: { city: 'Lyon', zip: '69001' } },
      stats: { visits: 3, hidden: 'still shown' },
      prefs: { theme: 'dark' },
      private: 'owner only',
    });
    const mine = await collection(alice, 'profiles').findOne({ owner: alice.id });
    assert.equal(mine.profile.secret, 's3cret');
    assert.equal(mine.private, 'owner only');

    const seen = await collection(bob, 'profiles').findOne({ owner: alice.id });
    assert.deepEqual(seen.profile, { name: 'Alice', email: 'alice@example.com', address: { city: 'Lyon' } }, 'secret, nickname and zip hidden');
    assert.deepEqual(seen.stats, { visits: 3, hidden: 'still shown' });
    assert.deepEqual(seen.prefs, { theme: 'dark' });
    assert.equal(seen.private, undefined);
    assert.equal(seen.owner, alice.id);
  });

  it('writes: a sub-field the role may write changes; one it may not is refused and nothing changes', async () => {
    const bobs = collection(bob, 'profiles');
    await assert.rejects(bobs.updateOne({ owner: alice.id }, { $set: { 'profile.email': 'bob@example.com' } }), refusedBy('NoMatchingRuleFound', 403));
    await assert.rejects(bobs.updateOne({ owner: alice.id }, { $set: { 'profile.name': 'Bobby', 'profile.secret': 'x' } }), refusedBy('NoMatchingRuleFound', 403));
    await assert.rejects(bobs.updateOne({ owner: alice.id }, { $unset: { 'profile.address': '' } }), refusedBy('NoMatchingRuleFound', 403));
    await assert.rejects(bobs.updateOne({ owner: alice.id }, { $set: { profile: 'flattened' } }), refusedBy('NoMatchingRuleFound', 403));
    let [stored] = await systemFind('profiles', { owner: alice.id });
    assert.deepEqual(stored.profile, { name: 'Alice', email: 'alice@example.com', secret: 's3cret', nickname: 'Al', address: { city: 'Lyon', zip: '69001' } });

    assert.equal((await bobs.updateOne({ owner: alice.id }, { $set: { 'profile.name': 'Alice B.' } })).modifiedCount, 1);
    [stored] = await systemFind('profiles', { owner: alice.id });
    assert.equal(stored.profile.name, 'Alice B.');
    assert.equal(stored.profile.secret, 's3cret');
    // the owner's document-level write covers every sub-field
    assert.equal((await collection(alice, 'profiles').updateOne({ owner: alice.id }, { $set: { 'profile.secret': 'new' } })).modifiedCount, 1);
    // a peer may not delete, even with write on a sub-field
    await assert.rejects(bobs.deleteOne({ owner: alice.id }), refusedBy('NoMatchingRuleFound', 403));
  });

  it('schema: users\' non-conforming inserts, updates, replaces and upserts are refused and write nothing', async () => {
    const items = collection(alice, 'items');
    const invalid = refusedBy('SchemaValidationFailedWrite', 400);
    await items.insertOne({ name: 'apple', qty: 3, createdBy: alice.id });
    await assert.rejects(items.insertOne({ qty: 1 }), invalid);
    await assert.rejects(items.insertOne({ name: '', qty: 1 }), invalid);
    await assert.rejects(items.insertOne({ name: 'pear', qty: 1.5 }), invalid);
    await assert.rejects(items.insertOne({ name: 'pear', tags: ['ok', 7] }), invalid);
    await assert.rejects(items.insertOne({ name: 'pear', createdBy: bob.id }), invalid);
    await assert.rejects(items.insertMany([{ name: 'fig' }, { name: 'kiwi', qty: -1 }]), invalid);
    await assert.rejects(items.updateOne({ name: 'apple' }, { $set: { qty: -2 } }), invalid);
    await assert.rejects(items.updateOne({ name: 'apple' }, { $unset: { name: '' } }), invalid);
    await assert.rejects(items.updateOne({ name: 'plum' }, { $set: { qty: 'many' } }, { upsert: true }), invalid);
    await assert.rejects(items.findOneAndReplace({ name: 'apple' }, { qty: 4 }), invalid);
    await assert.rejects(items.findOneAndUpdate({ name: 'apple' }, { $set: { name: 7 } }), invalid);
    const stored = await systemFind('items');
    assert.deepEqual(stored.map((d) => [d.name, d.qty]), [['apple', 3]]);

    // valid writes go through, and the error is a clear one
    assert.equal((await items.updateOne({ name: 'apple' }, { $inc: { qty: 1 } })).modifiedCount, 1);
    const e = await items.insertOne({ name: 'x', qty: -5 }).catch((err: any) => err);
    assert.match(e.error ?? e.message, /qty must be at least 0/);
  });

  it('schema: a user function is validated; a system function writes a non-conforming document', async () => {
    await assert.rejects(alice.functions.userInsert({ qty: 'lots' }));
    await alice.functions.systemInsert('items', { qty: 'lots', note: 'imported' });
    const stored = await systemFind('items', { note: 'imported' });
    assert.equal(stored.length, 1);
    assert.equal(stored[0].qty, 'lots');
    // the non-conforming document is readable, and a user's change that keeps it invalid is refused
    await assert.rejects(collection(bob, 'items').updateOne({ note: 'imported' }, { $set: { seen: true } }), refusedBy('SchemaValidationFailedWrite', 400));
  });

  it('schema: applies on a collection governed by the default roles', async () => {
    const logs = collection(bob, 'logs');
    await logs.insertOne({ level: 'info' });
    await assert.rejects(logs.insertOne({ level: 'debug' }), refusedBy('SchemaValidationFailedWrite', 400));
    assert.equal((await systemFind('logs')).length, 1);
  });

  it('filters: expansions in a filter query are substituted, so each user sees only their own', async () => {
    await collection(alice, 'mine').insertOne({ owner: alice.id, n: 1 });
    await collection(bob, 'mine').insertOne({ owner: bob.id, n: 2 });
    assert.deepEqual((await collection(alice, 'mine').find({})).map((d: any) => d.n), [1]);
    assert.deepEqual((await collection(bob, 'mine').find({})).map((d: any) => d.n), [2]);
    assert.equal((await collection(bob, 'mine').updateMany({}, { $set: { touched: true } })).matchedCount, 1);
    assert.equal((await systemFind('mine', { touched: true })).length, 1);
  });
});
