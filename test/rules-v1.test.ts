// Stitch v1 (2017) rules (behaviour.md §E.1 item 1): a 20180301 export whose rule files hold
// document / field `read`, `write`, `valid` and `when` / `match_expression` filters loads into the
// roles model and is enforced: owners read and write their own, shared readers see what the field
// rules give them, `valid` rules refuse bad documents.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as Realm from 'realm-web';
import { loadAppDirectory } from '../src/app/load.js';
import type { AppConfig, FunctionConfig } from '../src/app/model.js';
import { startServer, type TestServer } from './helpers/server.js';
import { newPasswordUser } from './helpers/realm.js';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURE = join(here, 'fixtures', 'apps', 'stitch-v1-rules');

describe('Stitch v1 rules', () => {
  let config: AppConfig;
  let server: TestServer;
  let alice: Realm.User;
  let bob: Realm.User;

  before(async () => {
    const loaded = await loadAppDirectory(FIXTURE);
    assert.deepEqual(loaded.warnings.filter((w) => w.file.startsWith('services/')), []);
    config = loaded.config;
    const systemFind: FunctionConfig = {
      name: 'systemFind',
      private: false,
      runAsSystem: true,
      canEvaluate: undefined,
      file: 'functions/systemFind/source.js',
      source: 'exports = async function(c, q) { return context.services.get("mongodb-atlas").db("todo").collection(c).find(q).toArray(); };',
    };
    server = await startServer({ ...config, functions: new Map([['systemFind', systemFind]]) }, { functions: { timeoutMs: 5000, memoryMb: 64 } });
    const login = (name: string) => newPasswordUser(server, name);
    alice = await login('alice');
    bob = await login('bob');
  });
  after(async () => {
    await server?.close();
  });

  const todo = (user: Realm.User, c: string) => user.mongoClient('mongodb-atlas').db('todo').collection<any>(c);
  const stored = async (c: string, q: Record<string, unknown> = {}) => (await alice.functions.callFunction('systemFind', c, q)) as any[];
  const refused = (e: any) => e.statusCode >= 400 && e.statusCode < 500 && e.statusCode !== 401;

  it('loads into one role per collection, filters and a schema of the valid rules', () => {
    const source = config.dataSources?.get('mongodb-atlas');
    const items = source?.collections.get('todo.items');
    assert.equal(items?.roles.length, 1);
    assert.deepEqual(items?.roles[0]?.applyWhen, { owner_id: '%%user.id' });
    // no field-level read or write rules and other_fields present: document-level permissions
    assert.equal(items?.roles[0]?.read, true);
    assert.deepEqual(items?.roles[0]?.write, { '%or': [{ '%%prevRoot.owner_id': '%%user.id' }, { '%%prevRoot': { '%exists': false } }] });
    assert.deepEqual(items?.filters, [{ name: 'filter-0', applyWhen: { '%%true': true }, query: { owner_id: '%%user.id' }, projection: {} }]);
    assert.deepEqual(items?.schema, {
      bsonType: 'object',
      properties: { owner_id: { validate: { '%%this': '%%user.id' } }, text: { validate: { '%%this': { '%ne': '' } } } },
    });
    const lists = source?.collections.get('todo.lists');
    // no other_fields: field-level permissions, unlisted fields neither readable nor writable
    assert.equal(lists?.roles[0]?.read, false);
    assert.equal(lists?.roles[0]?.write, false);
    assert.deepEqual(lists?.roles[0]?.additionalFields, { read: false, write: false });
    assert.deepEqual(Object.keys(lists?.roles[0]?.fields ?? {}).sort(), ['name', 'notes', 'owner_id', 'shared_with']);
  });

  it('owners read and write their own documents; others neither see nor change them', async () => {
    const mine = todo(alice, 'items');
    const theirs = todo(bob, 'items');
    await mine.insertOne({ owner_id: alice.id, text: 'milk' });
    await theirs.insertOne({ owner_id: bob.id, text: 'bread', done: false });
    assert.deepEqual((await mine.find({})).map((d: any) => d.text), ['milk']);
    assert.deepEqual((await theirs.find({})).map((d: any) => d.text), ['bread']);
    assert.equal(await theirs.count({ owner_id: alice.id }), 0);
    assert.equal((await theirs.updateMany({}, { $set: { text: 'hacked' } })).matchedCount, 1);
    assert.equal((await theirs.deleteMany({ text: 'milk' })).deletedCount, 0);
    // a document stamped with someone else's id is refused, whoever writes it
    await assert.rejects(theirs.insertOne({ owner_id: alice.id, text: 'forged' }), refused);
    assert.deepEqual((await stored('items')).map((d) => d.text).sort(), ['hacked', 'milk']);

    assert.equal((await mine.updateOne({ text: 'milk' }, { $set: { done: true } })).modifiedCount, 1);
    assert.deepEqual(await mine.deleteOne({ text: 'milk' }), { deletedCount: 1 });
    assert.deepEqual((await stored('items')).map((d) => d.text), ['hacked']);
  });

  it('valid rules refuse what they do not accept, and the write changes nothing', async () => {
    const mine = todo(alice, 'items');
    await assert.rejects(mine.insertOne({ owner_id: alice.id, text: '' }), (e: any) => e.errorCode === 'SchemaValidationFailedWrite');
    await mine.insertOne({ owner_id: alice.id, text: 'eggs' });
    await assert.rejects(mine.updateOne({ text: 'eggs' }, { $set: { text: '' } }), (e: any) => e.errorCode === 'SchemaValidationFailedWrite');
    assert.equal((await stored('items', { owner_id: alice.id })).map((d) => d.text).join(), 'eggs');
  });

  it('field rules: shared readers see the listed fields their rules allow; unlisted fields cannot be written', async () => {
    const mine = todo(alice, 'lists');
    const theirs = todo(bob, 'lists');
    await mine.insertOne({ owner_id: alice.id, name: 'groceries', shared_with: [bob.id], notes: 'for the party' });
    await mine.insertOne({ owner_id: alice.id, name: 'private', shared_with: [] });
    await assert.rejects(mine.insertOne({ owner_id: alice.id, name: 'x', extra: 1 }), refused);

    const seen = await theirs.find({});
    assert.equal(seen.length, 1);
    assert.deepEqual(Object.keys(seen[0]).sort(), ['_id', 'name', 'owner_id', 'shared_with']);
    assert.equal((await mine.findOne({ name: 'groceries' })).notes, 'for the party');

    await assert.rejects(theirs.updateOne({ name: 'groceries' }, { $set: { name: 'mine now' } }), refused);
    await assert.rejects(theirs.deleteOne({ name: 'groceries' }), refused);
    await assert.rejects(mine.updateOne({ name: 'groceries' }, { $set: { extra: true } }), refused);
    assert.equal((await mine.updateOne({ name: 'groceries' }, { $set: { notes: 'bring cake' } })).modifiedCount, 1);
    const [list] = await stored('lists', { name: 'groceries' });
    assert.equal(list.notes, 'bring cake');
    assert.equal(list.extra, undefined);
    // the owner may delete: write holds for every field the document holds
    assert.deepEqual(await mine.deleteOne({ name: 'groceries' }), { deletedCount: 1 });
    assert.deepEqual((await stored('lists')).map((d) => d.name), ['private']);
  });
});
