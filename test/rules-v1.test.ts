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

  describe('a predicate on a field the caller cannot read never matches it (§E.1)', () => {
    let carol: Realm.User;
    const names = (docs: any[]) => docs.map((d) => d.name);
    before(async () => {
      carol = await newPasswordUser(server, 'carol');
      await todo(alice, 'people').insertOne({ owner_id: alice.id, name: 'alice', salary: 100, address: { city: 'Paris' }, scores: [1, 5] });
      await todo(carol, 'people').insertOne({ owner_id: carol.id, name: 'carol', salary: 50, address: { city: 'Oslo' }, scores: [2] });
    });

    it('the owner still queries, sorts and counts by the fields she can read', async () => {
      const mine = todo(alice, 'people');
      assert.deepEqual(names(await mine.find({ salary: 100 })), ['alice']);
      assert.deepEqual(names(await mine.find({ name: 'alice', 'address.city': 'Paris', scores: { $elemMatch: { $gt: 4 } } })), ['alice']);
      assert.equal(await mine.count({ salary: { $gte: 100 } }), 1);
      // carol's salary is hidden from alice: only alice's own matches
      assert.equal(await mine.count({ salary: { $exists: true } }), 1);
    });

    it('find, findOne and count answer alike whatever the hidden value is', async () => {
      const theirs = todo(bob, 'people');
      assert.deepEqual(names(await theirs.find({})), ['alice', 'carol']);
      for (const [hit, miss] of [
        [{ salary: 100 }, { salary: 999 }],
        [{ salary: { $gt: 10 } }, { salary: { $gt: 1000 } }],
        [{ salary: { $exists: true } }, { nope: { $exists: true } }],
        [{ 'address.city': 'Paris' }, { 'address.city': 'Rome' }],
        [{ address: { city: 'Paris' } }, { address: { city: 'Rome' } }],
        [{ scores: { $elemMatch: { $gt: 4 } } }, { scores: { $elemMatch: { $gt: 40 } } }],
        [{ scores: 5 }, { scores: 6 }],
        [{ $or: [{ salary: 100 }, { name: 'nobody' }] }, { $or: [{ salary: 999 }, { name: 'nobody' }] }],
        [{ $and: [{ name: 'alice' }, { salary: 100 }] }, { $and: [{ name: 'alice' }, { salary: 999 }] }],
        [{ name: 'alice', salary: 100 }, { name: 'alice', salary: 999 }],
        [{ $nor: [{ salary: 100 }] }, { $nor: [{ salary: 999 }] }],
        [{ salary: { $ne: 100 } }, { salary: { $ne: 999 } }],
        [{ salary: { $not: { $eq: 100 } } }, { salary: { $not: { $eq: 999 } } }],
        [{ salary: { $in: [100, 50] } }, { salary: { $in: [1, 2] } }],
      ] as Record<string, unknown>[][]) {
        const label = JSON.stringify(hit);
        assert.deepEqual(names(await theirs.find(hit!)), names(await theirs.find(miss!)), `find ${label}`);
        assert.equal(await theirs.count(hit!), await theirs.count(miss!), `count ${label}`);
        assert.equal((await theirs.findOne(hit!))?.name, (await theirs.findOne(miss!))?.name, `findOne ${label}`);
      }
      // positive predicates on a hidden field never match
      assert.equal(await theirs.count({ salary: 100 }), 0);
      assert.equal(await theirs.count({ 'address.city': 'Paris' }), 0);
    });

    it('a sort by a hidden field does not order by it', async () => {
      const theirs = todo(bob, 'people');
      const up = names(await theirs.find({}, { sort: { salary: 1 } }));
      const down = names(await theirs.find({}, { sort: { salary: -1 } }));
      assert.deepEqual(up, down);
      assert.deepEqual(names(await theirs.find({}, { sort: { name: -1 } })), ['carol', 'alice']);
      assert.equal((await theirs.findOneAndUpdate({}, { $set: { name: 'x' } }, { sort: { salary: 1 } }).catch(() => 'refused')), 'refused');
    });

    it('aggregate $match, update and delete filters leak nothing either', async () => {
      const theirs = todo(bob, 'people');
      assert.deepEqual(await theirs.aggregate([{ $match: { salary: 100 } }]), []);
      const counted = (city: string) => theirs.aggregate([{ $match: { 'address.city': { $in: [city] } } }, { $count: 'n' }]);
      assert.deepEqual(await counted('Paris'), await counted('Rome'));
      assert.deepEqual(await theirs.aggregate([{ $group: { _id: null, total: { $sum: '$salary' } } }]), [{ _id: null, total: 0 }]);
      // bob may write none of these documents: a match would be refused; no match changes nothing
      for (const salary of [100, 999]) {
        assert.deepEqual(await theirs.updateMany({ salary }, { $set: { name: 'x' } }), { matchedCount: 0, modifiedCount: 0 });
        assert.deepEqual(await theirs.deleteMany({ salary }), { deletedCount: 0 });
        assert.equal(await theirs.findOneAndUpdate({ salary }, { $set: { name: 'x' } }), null);
        assert.equal(await theirs.findOneAndDelete({ 'address.city': salary === 100 ? 'Paris' : 'Rome' }), null);
      }
      await assert.rejects(theirs.updateMany({ name: 'alice' }, { $set: { name: 'x' } }), refused);
      assert.deepEqual((await stored('people')).map((d) => d.name).sort(), ['alice', 'carol']);
    });
  });
});
