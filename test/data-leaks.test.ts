// Data leaks found by an outside harness (issue 17), end to end through realm-web, the Stitch SDK
// and functions running as their caller, on the store under test (SQLite; PostgreSQL when
// scripts/test.mjs re-runs the suite with BASTE_TEST_BACKEND=postgres):
// - stages a user may not run (`$lookup`, `$unionWith`, `$out`…) hidden inside `$facet` or in
//   sub-pipelines are refused like at the top, with a Stitch error naming the stage, and return
//   nothing; fields hidden by roles or filter projections stay out of reach of any expression;
// - a write whose result would leave the caller's role, its document filter or its write rule
//   (giving a document to another owner) is refused and writes nothing.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RemoteMongoClient, UserPasswordAuthProviderClient, UserPasswordCredential, type StitchAppClient } from 'mongodb-stitch-server-sdk';
import * as Realm from 'realm-web';
import type { CollectionRules, DataSourceConfig } from '../src/app/model.js';
import { appConfig, appFunction, autoConfirmUserpass, provider, role, startServer, type TestServer, uniqueEmail } from './helpers/server.js';
import { newPasswordUser } from './helpers/realm.js';
import { stitchClientFor } from './helpers/stitch.js';
import { nestedAllowed, nestedForbidden, prng } from './helpers/pipelines.js';
import { assertError, request } from './helpers/wire.js';

const rules = (coll: string, roles: CollectionRules['roles'], filters: CollectionRules['filters'] = []): [string, CollectionRules] => [
  `app.${coll}`,
  { database: 'app', collection: coll, roles, filters, file: `data_sources/mongodb-atlas/app/${coll}/rules.json` },
];
const OWNER = { owner_id: '%%user.id' };

const DATA_SOURCE: DataSourceConfig = {
  name: 'mongodb-atlas',
  type: 'mongodb-atlas',
  // No default rules: a collection without rules of its own (`private`) is closed to users.
  collections: new Map([
    rules('notes', [
      role('owner', { applyWhen: { owner: '%%user.id' }, read: true, write: true }),
      // Others see shared notes' titles and owners, never their secrets.
      role('reader', { applyWhen: { shared: true }, insert: false, delete: false, fields: { title: { read: true }, owner: { read: true }, shared: { read: true } } }),
    ]),
    // A filter projection hides `secret` from everyone but the system user.
    rules('filtered', [role('anyone', { read: true, write: true })], [{ name: 'noSecret', applyWhen: {}, query: {}, projection: { secret: 0 } }]),
    // The platform's "users can only read and write their own data" template.
    rules('own', [role('owner-read-write', { documentFilters: { read: OWNER, write: OWNER }, read: true, write: true })]),
    // "Users can read all data but only write their own data".
    rules('readall', [role('owner-write', { documentFilters: { read: true, write: OWNER }, read: true, write: true })]),
    // A role that applies to every document and lets users read none of it.
    rules('blind', [role('nothing', { insert: false, delete: false })]),
    // An owner check in the document-level write rule, no document filters.
    rules('wexpr', [role('owner-expr', { read: true, write: OWNER })]),
    // Ownership by apply_when alone: the role must still apply after the change.
    rules('applies', [role('owner-apply', { applyWhen: OWNER, read: true, write: true })]),
  ]),
};

const fn = appFunction;
const coll = (c: string) => `context.services.get("mongodb-atlas").db("app").collection(${c})`;

describe('data leaks: nested pipelines and ownership given away', () => {
  let server: TestServer;
  let alice: Realm.User;
  let bob: Realm.User;
  let stitch: StitchAppClient;

  before(async () => {
    const app = {
      ...appConfig([provider('anon-user'), autoConfirmUserpass()], 'leaks-app-abcde'),
      dataSources: new Map([['mongodb-atlas', DATA_SOURCE]]),
      functions: new Map([
        // Everything in a collection, exactly (canonical EJSON), as the system user sees it.
        fn('snapshot', `exports = async function(c) { return EJSON.stringify(await ${coll('c')}.find({}).sort({ _id: 1 }).toArray(), { relaxed: false }); };`, { runAsSystem: true }),
        fn('seed', `exports = async function(c, docs) { return ${coll('c')}.insertMany(docs); };`, { runAsSystem: true }),
        fn('aggregateAsCaller', `exports = function(c, pipeline) { return ${coll('c')}.aggregate(pipeline).toArray(); };`),
        fn('updateManyAsCaller', `exports = function(c, query, update) { return ${coll('c')}.updateMany(query, update); };`),
        // The system user's nested lookups still work (and reach what users cannot).
        fn('systemNestedLookup', `exports = async function() { const [r] = await ${coll('"notes"')}.aggregate([{ $limit: 1 }, { $facet: { x: [{ $lookup: { from: "private", pipeline: [], as: "all" } }] } }]).toArray(); return r.x[0].all.length; };`, { runAsSystem: true }),
      ]),
    };
    server = await startServer(app, { functions: { timeoutMs: 5000, memoryMb: 64 } });
    alice = await newPasswordUser(server, 'alice');
    bob = await newPasswordUser(server, 'bob');
    stitch = stitchClientFor(server, `leaks-${Date.now()}`);
    const email = uniqueEmail('carol');
    await stitch.auth.getProviderClient(UserPasswordAuthProviderClient.factory).registerWithEmail(email, 'secret123');
    await stitch.auth.loginWithCredential(new UserPasswordCredential(email, 'secret123'));

    const seed = (c: string, docs: unknown[]) => alice.functions.callFunction('seed', c, docs);
    await seed('notes', [
      { owner: alice.id, title: 'alice private', secret: 'a-secret', shared: false },
      { owner: bob.id, title: 'bob private', secret: 'b-secret', shared: false },
      { owner: bob.id, title: 'bob shared', secret: 'b-shared-secret', shared: true },
    ]);
    await seed('private', [{ payroll: 1 }, { payroll: 2 }]);
    await seed('filtered', [{ title: 'f', secret: 'filtered-secret' }]);
    await seed('blind', [{ hidden: 1 }, { hidden: 2 }]);
    for (const c of ['own', 'readall', 'wexpr', 'applies']) {
      await seed(c, [
        { owner_id: alice.id, title: `${c} a1` },
        { owner_id: alice.id, title: `${c} a2` },
        { owner_id: bob.id, title: `${c} b1` },
      ]);
    }
  });
  after(async () => {
    stitch.close();
    await server.close();
  });

  const col = (user: Realm.User, c: string) => user.mongoClient('mongodb-atlas').db('app').collection<any>(c);
  const snapshot = (c: string) => alice.functions.callFunction('snapshot', c) as Promise<string>;
  /** functions/call as realm-web sends it, answered raw: status and body. */
  const raw = (user: Realm.User, name: string, args: Record<string, unknown>) =>
    request('POST', `${server.url}/api/client/v2.0/app/${server.appId}/functions/call`, {
      token: user.accessToken!,
      body: { name, service: 'mongodb-atlas', arguments: [{ database: 'app', ...args }] },
    });
  const SECRETS = /a-secret|b-secret|b-shared-secret|filtered-secret|payroll/;

  describe('pipelines', () => {
    it('the harness leak: a `from` on a harmless stage and $lookup inside $facet is refused, naming the stage; nothing is returned', async () => {
      const pipeline = [{ $addFields: { from: 'private' } }, { $facet: { x: [{ $lookup: { from: 'private', pipeline: [], as: 'all' } }] } }];
      const res = await raw(alice, 'aggregate', { collection: 'notes', pipeline });
      assertError(res, 403, 'NoMatchingRuleFound', /aggregation stage \$lookup \(at pipeline\[1\]\.\$facet\.x\[0\]\) is only available to system functions/);
      assert.doesNotMatch(res.text, SECRETS);
      // Reading another user's notes the same way ($lookup of the collection itself inside $facet).
      const self = [{ $facet: { x: [{ $lookup: { from: 'notes', pipeline: [], as: 'all' } }] } }];
      await assert.rejects(col(alice, 'notes').aggregate(self), (e: any) => e.statusCode === 403 && e.errorCode === 'NoMatchingRuleFound' && /\$lookup/.test(e.error));
      await assert.rejects(col(alice, 'notes').aggregate([{ $facet: { x: [{ $unionWith: { coll: 'private', pipeline: [] } }] } }]), (e: any) => e.statusCode === 403 && /\$unionWith/.test(e.error));
    });

    it('the same through the Stitch SDK and inside a function running as the caller', async () => {
      const sColl = stitch.getServiceClient(RemoteMongoClient.factory, 'mongodb-atlas').db('app').collection<any>('notes');
      await assert.rejects(sColl.aggregate([{ $facet: { x: [{ $unionWith: 'private' }] } }]).toArray(), (e: any) => e.errorCodeName === 'NoMatchingRuleFound' && /\$unionWith/.test(e.message));
      await assert.rejects(
        alice.functions.callFunction('aggregateAsCaller', 'notes', [{ $facet: { x: [{ $lookup: { from: 'notes', pipeline: [], as: 'all' } }] } }]),
        (e: any) => e.statusCode >= 400 && e.statusCode < 500 && /aggregation stage \$lookup/.test(e.error) && !SECRETS.test(e.error),
      );
      await assert.rejects(alice.functions.callFunction('aggregateAsCaller', 'notes', [{ $facet: { x: [{ $facet: { y: [{ $out: 'copy' }] } }] } }]), (e: any) => /\$out/.test(e.error));
      // The system user's nested lookups resolve: the two private documents.
      assert.equal(await alice.functions.callFunction('systemNestedLookup'), 2);
    });

    it('sweep: 120 generated pipelines with a forbidden stage nested 0–5 deep are all refused with a Stitch 4xx and return nothing; nothing is written', async () => {
      const rand = prng(1717);
      const before = { notes: await snapshot('notes'), copy: await snapshot('copy'), private: await snapshot('private') };
      const codes = new Map<string, number>();
      for (let i = 0; i < 120; i++) {
        const pipeline = nestedForbidden(rand, i % 6);
        const user = i % 2 ? alice : bob;
        const res = await raw(user, 'aggregate', { collection: 'notes', pipeline });
        assert.ok(res.status === 403 || res.status === 400, `${res.status} for ${JSON.stringify(pipeline)}`);
        assertError(res, res.status, res.status === 403 ? 'NoMatchingRuleFound' : 'InvalidParameter', /aggregation stage \$\w+ \(at pipeline\[/);
        assert.doesNotMatch(res.text, SECRETS);
        codes.set(String(res.json.error_code), (codes.get(String(res.json.error_code)) ?? 0) + 1);
      }
      assert.ok((codes.get('NoMatchingRuleFound') ?? 0) > 60, JSON.stringify([...codes]));
      // $out / $merge anywhere wrote nothing; nothing else changed either.
      assert.deepEqual({ notes: await snapshot('notes'), copy: await snapshot('copy'), private: await snapshot('private') }, before);
      assert.equal(before.copy, '[]');
    });

    it('sweep control: 60 pipelines of allowed stages nested as deep run, and show only what the roles let each user read', async () => {
      const rand = prng(7171);
      for (let i = 0; i < 60; i++) {
        const pipeline = nestedAllowed(rand, i % 6);
        const res = await raw(bob, 'aggregate', { collection: 'notes', pipeline });
        assert.equal(res.status, 200, `${res.text} for ${JSON.stringify(pipeline)}`);
        assert.doesNotMatch(res.text, /alice private|a-secret|payroll/, JSON.stringify(pipeline));
      }
      // Bob's facets see his own notes whole and Alice's… none (she shares nothing); his shared note's secret is his.
      const [all] = await col(bob, 'notes').aggregate([{ $facet: { titles: [{ $sort: { title: 1 } }, { $project: { _id: 0, title: 1 } }], n: [{ $count: 'n' }] } }]);
      assert.deepEqual(all, { titles: [{ title: 'bob private' }, { title: 'bob shared' }], n: [{ n: 2 }] });
    });

    it('fields hidden by field rules or filter projections are gone before the first stage: no expression reaches them', async () => {
      // Alice reads Bob's shared note through the reader role: title, owner, shared; never secret.
      const probes = [
        [{ $match: { shared: true } }, { $replaceRoot: { newRoot: { root: '$$ROOT' } } }],
        [{ $match: { shared: true } }, { $addFields: { s: '$secret', keys: { $objectToArray: '$$ROOT' } } }],
        [{ $group: { _id: '$secret', n: { $sum: 1 } } }],
        [{ $facet: { x: [{ $project: { s: '$secret', r: '$$CURRENT' } }] } }],
        [{ $match: { secret: 'b-shared-secret' } }],
      ];
      for (const pipeline of probes) {
        const out = JSON.stringify(await col(alice, 'notes').aggregate(pipeline));
        assert.doesNotMatch(out, /b-shared-secret|b-secret/, JSON.stringify(pipeline));
      }
      assert.deepEqual(await col(alice, 'notes').aggregate([{ $match: { secret: 'b-shared-secret' } }]), []);
      // A filter's projection ({secret: 0}) holds for aggregate as it does for find.
      assert.equal((await col(alice, 'filtered').findOne({}))?.secret, undefined);
      for (const pipeline of [[{ $project: { s: '$secret' } }], [{ $replaceRoot: { newRoot: { r: '$$ROOT' } } }], [{ $match: { secret: { $exists: true } } }]]) {
        assert.doesNotMatch(JSON.stringify(await col(alice, 'filtered').aggregate(pipeline)), /filtered-secret/, JSON.stringify(pipeline));
      }
      assert.deepEqual(await col(alice, 'filtered').aggregate([{ $match: { secret: { $exists: true } } }]), []);
      assert.match(await snapshot('filtered'), /filtered-secret/); // it is there, for the system user
      // Documents a user can read nothing of are not found, aggregated or counted.
      const blind = col(alice, 'blind');
      assert.deepEqual([await blind.find({}), await blind.aggregate([{ $match: {} }]), await blind.count({}), await blind.count({ hidden: 1 })], [[], [], 0, 0]);
    });
  });

  describe('ownership', () => {
    const expectDenied = (p: Promise<unknown>, what: string) =>
      assert.rejects(p, (e: any) => e.statusCode === 403 && e.errorCode === 'NoMatchingRuleFound', what);

    for (const c of ['own', 'readall', 'wexpr', 'applies']) {
      it(`${c}: a write handing Alice's documents to Bob is refused, whatever the operation, and nothing changes`, async () => {
        const before = await snapshot(c);
        const a = col(alice, c);
        const toBob = { $set: { owner_id: bob.id } };
        await expectDenied(a.updateMany({}, toBob), 'updateMany');
        await expectDenied(a.updateMany({ owner_id: alice.id }, toBob), 'updateMany of her own');
        await expectDenied(a.updateOne({ title: `${c} a1` }, toBob), 'updateOne');
        await expectDenied(a.updateOne({ title: `${c} a1` }, { owner_id: bob.id, title: 'given' } as any), 'operator-less update');
        await expectDenied(a.findOneAndUpdate({ title: `${c} a1` }, toBob, { returnNewDocument: true }), 'findOneAndUpdate');
        await expectDenied(a.findOneAndReplace({ title: `${c} a1` }, { owner_id: bob.id, title: 'replaced' }), 'findOneAndReplace');
        await expectDenied(a.findOneAndReplace({ title: `${c} a1` }, { title: 'no owner' }), 'findOneAndReplace dropping the owner');
        await expectDenied(a.updateOne({ title: 'nowhere' }, toBob, { upsert: true }), 'upsert of a document owned by Bob');
        await expectDenied(a.findOneAndUpdate({ title: 'nowhere' }, toBob, { upsert: true }), 'findOneAndUpdate upsert');
        await expectDenied(a.insertOne({ owner_id: bob.id, title: 'forged' }), 'insertOne for Bob');
        await assert.rejects(alice.functions.callFunction('updateManyAsCaller', c, {}, toBob), (e: any) => /no rule allows this update/.test(e.error), 'in a function running as Alice');
        // The error has the Stitch shape.
        assertError(await raw(alice, 'updateMany', { collection: c, query: {}, update: toBob }), 403, 'NoMatchingRuleFound');
        assert.equal(await snapshot(c), before);
        // Her own documents stay hers to change.
        assert.equal((await a.updateOne({ title: `${c} a2` }, { $set: { note: 'mine' } })).modifiedCount, 1);
        assert.equal((await a.findOneAndUpdate({ title: `${c} a2` }, { $unset: { note: '' } }, { returnNewDocument: true }))?.note, undefined);
        assert.equal(await snapshot(c), before);
      });
    }

    it('own (document filters): each user reads and matches only their own documents', async () => {
      assert.deepEqual((await col(bob, 'own').find({})).map((d: any) => d.title), ['own b1']);
      assert.equal(await col(bob, 'own').count({}), 1);
      assert.deepEqual(await col(bob, 'own').aggregate([{ $count: 'n' }]), [{ n: 1 }]);
      const before = await snapshot('own');
      // Bob's updateMany({}) matches his document only; Alice's are out of his reach.
      const touched = await col(bob, 'own').updateMany({}, { $set: { seen: true } });
      assert.deepEqual([touched.matchedCount, touched.modifiedCount], [1, 1]);
      assert.deepEqual(await col(bob, 'own').deleteMany({ owner_id: alice.id }), { deletedCount: 0 });
      await col(bob, 'own').updateMany({}, { $unset: { seen: '' } });
      assert.equal(await snapshot('own'), before);
    });

    it('readall (write filter only): Bob reads everything but writes nothing of Alice’s; one such document refuses his whole updateMany', async () => {
      assert.equal((await col(bob, 'readall').find({})).length, 3);
      const before = await snapshot('readall');
      await expectDenied(col(bob, 'readall').updateMany({}, { $set: { seen: true } }), 'updateMany over documents he may not write');
      await expectDenied(col(bob, 'readall').deleteOne({ owner_id: alice.id }), 'deleteOne');
      await expectDenied(col(bob, 'readall').updateOne({ owner_id: alice.id }, { $set: { owner_id: bob.id } }), 'taking Alice’s document');
      assert.equal(await snapshot('readall'), before);
      assert.equal((await col(bob, 'readall').updateMany({ owner_id: bob.id }, { $set: { seen: true } })).modifiedCount, 1);
    });
  });
});
