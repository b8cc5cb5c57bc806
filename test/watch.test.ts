// watch(): change streams over server-sent events (wire-protocol §7.4, wire-checklist 77–82),
// through the real SDKs (realm-web's `baas_request` with a bearer token; the Stitch server SDK's
// `stitch_request` + `stitch_at`, validated first, read by its EventSource) and raw HTTP, on the
// store under test (SQLite; PostgreSQL when scripts/test.mjs re-runs it with
// BASTE_TEST_BACKEND=postgres). Rules apply to every event: a user gets only the changes of
// documents they may read, with the fields they may not read removed, and a document leaving
// their view arrives as a key-only delete.

import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BSON, RemoteMongoClient, type StitchAppClient, UserPasswordAuthProviderClient, UserPasswordCredential } from 'mongodb-stitch-server-sdk';
import * as Realm from 'realm-web';
import type { CollectionRules, DataSourceConfig } from '../src/app/model.js';
import { appConfig, appFunction, autoConfirmUserpass, provider, role, startServer, type TestServer, uniqueEmail } from './helpers/server.js';
import { newPasswordUser } from './helpers/realm.js';
import { stitchClientFor } from './helpers/stitch.js';

const rules = (coll: string, roles: CollectionRules['roles'], filters: CollectionRules['filters'] = []): [string, CollectionRules] => [
  `app.${coll}`,
  { database: 'app', collection: coll, roles, filters, file: `data_sources/mongodb-atlas/app/${coll}/rules.json` },
];

export const WATCH_DATA_SOURCE: DataSourceConfig = {
  name: 'mongodb-atlas',
  type: 'mongodb-atlas',
  collections: new Map([
    rules('notes', [
      role('owner', { applyWhen: { owner: '%%user.id' }, read: true, write: true }),
      // Others see shared notes' titles and owners, never their secrets.
      role('reader', { applyWhen: { shared: true }, insert: false, delete: false, fields: { title: { read: true }, owner: { read: true }, shared: { read: true } } }),
    ]),
    rules('items', [role('anyone', { read: true, write: true })]),
  ]),
};

type Event = Record<string, any>;

/** Collects a realm-web watch's events in the background; `next(n)` waits for the n-th. */
function collect(stream: AsyncGenerator<Event>) {
  const events: Event[] = [];
  let error: unknown;
  let ended = false;
  const done = (async () => {
    try {
      for await (const e of stream) events.push(e);
    } catch (err) {
      error = err;
    } finally {
      ended = true;
    }
  })();
  return {
    events,
    get error() {
      return error;
    },
    get ended() {
      return ended;
    },
    done,
    async until(pred: () => boolean, what: string, ms = 5000) {
      const deadline = Date.now() + ms;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(events)}`);
        await sleep(10);
      }
    },
    close: () => stream.return(undefined),
  };
}

/** A raw GET of the stream: status, headers, and what arrives, as it arrives. */
function rawStream(url: string, headers: Record<string, string> = {}) {
  let body = '';
  let res: IncomingMessage | undefined;
  const req = httpRequest(url, { headers: { accept: 'text/event-stream', ...headers } });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', (r) => {
      res = r;
      r.setEncoding('utf8');
      r.on('data', (chunk: string) => (body += chunk));
      resolve(r);
    });
    req.on('error', reject);
  });
  req.end();
  return {
    response,
    get body() {
      return body;
    },
    get ended() {
      return res?.complete === true || res?.destroyed === true;
    },
    close: () => req.destroy(),
  };
}

const b64 = (body: unknown) => encodeURIComponent(Buffer.from(JSON.stringify(body)).toString('base64'));
const watchBody = (args: Record<string, unknown>) => ({ name: 'watch', service: 'mongodb-atlas', arguments: [{ database: 'app', collection: 'notes', ...args }] });

describe('watch', () => {
  let server: TestServer;
  let alice: Realm.User;
  let bob: Realm.User;

  before(async () => {
    const app = {
      ...appConfig([provider('anon-user'), autoConfirmUserpass()], 'watch-app-abcde'),
      dataSources: new Map([['mongodb-atlas', WATCH_DATA_SOURCE]]),
      functions: new Map([appFunction('insertAsSystem', 'exports = (c, doc) => context.services.get("mongodb-atlas").db("app").collection(c).insertOne(doc);', { runAsSystem: true })]),
    };
    server = await startServer(app, { watch: { heartbeatMs: 200, maxStreamsPerUser: 6, maxBufferedBytes: 256 * 1024 } });
    alice = await newPasswordUser(server, 'alice');
    bob = await newPasswordUser(server, 'bob');
  });
  after(async () => {
    await server?.close();
  });

  const notes = (u: Realm.User) => u.mongoClient('mongodb-atlas').db('app').collection<Event & { _id: any }>('notes');

  it('realm-web: insert, update, replace and delete arrive as change events, in order, with %, LF and CR intact', async () => {
    const w = collect(notes(alice).watch() as AsyncGenerator<Event>);
    await sleep(100); // the stream is open once its headers arrive; realm-web says nothing of it
    const text = '100% sure\nline two\r\nend';
    const { insertedId } = await notes(alice).insertOne({ owner: alice.id, title: text, n: 1 });
    await notes(alice).updateOne({ _id: insertedId }, { $set: { n: 2 }, $unset: { title: '' } });
    await notes(alice).findOneAndReplace({ _id: insertedId }, { owner: alice.id, title: 'replaced' });
    await notes(alice).deleteOne({ _id: insertedId });
    await w.until(() => w.events.length >= 4, 'four events');
    const [ins, upd, rep, del] = w.events as [Event, Event, Event, Event];
    assert.deepEqual(w.events.map((e) => e.operationType), ['insert', 'update', 'replace', 'delete']);
    assert.equal(ins.fullDocument.title, text);
    assert.deepEqual(ins.ns, { db: 'app', coll: 'notes' });
    assert.ok(ins.documentKey._id.equals(insertedId));
    assert.ok(ins._id._data, 'a resume token');
    assert.equal(upd.fullDocument.n, 2, 'updates carry the document as it is now');
    assert.deepEqual(upd.updateDescription.updatedFields, { n: 2 });
    assert.deepEqual(upd.updateDescription.removedFields, ['title']);
    assert.equal(rep.fullDocument.title, 'replaced');
    assert.ok(del.documentKey._id.equals(insertedId));
    assert.equal(del.fullDocument, undefined);
    await w.close();
  });

  it('realm-web: `ids` and `filter` select the events', async () => {
    const { insertedId: a } = await notes(alice).insertOne({ owner: alice.id, title: 'a' });
    const { insertedId: b } = await notes(alice).insertOne({ owner: alice.id, title: 'b' });
    const byId = collect(notes(alice).watch({ ids: [a] }) as AsyncGenerator<Event>);
    const inserts = collect(notes(alice).watch({ filter: { operationType: 'insert' } }) as AsyncGenerator<Event>);
    // realm-web sends a RegExp as EJSON ($regularExpression): it matches as MongoDB would.
    const byRegex = collect(notes(alice).watch({ filter: { 'fullDocument.title': /^C$/i } }) as AsyncGenerator<Event>);
    await sleep(100);
    await notes(alice).updateOne({ _id: b }, { $set: { v: 1 } });
    await notes(alice).updateOne({ _id: a }, { $set: { v: 1 } });
    const { insertedId: c } = await notes(alice).insertOne({ owner: alice.id, title: 'c' });
    await byId.until(() => byId.events.length >= 1, 'the update of a');
    await inserts.until(() => inserts.events.length >= 1, 'the insert of c');
    await byRegex.until(() => byRegex.events.length >= 1, 'the insert of c, by regex');
    await sleep(100);
    assert.deepEqual(byRegex.events.map((e) => e.fullDocument.title), ['c']);
    await byRegex.close();
    assert.equal(byId.events.length, 1);
    assert.equal(byId.events[0]!.operationType, 'update');
    assert.ok(byId.events[0]!.documentKey._id.equals(a));
    assert.equal(byId.events[0]!.fullDocument.v, 1);
    assert.equal(inserts.events.length, 1);
    assert.ok(inserts.events[0]!.documentKey._id.equals(c));
    await byId.close();
    await inserts.close();
  });

  it("a second user gets only the changes of documents they may read, hidden fields removed; one leaving their view arrives as a key-only delete", async () => {
    const w = collect(notes(bob).watch() as AsyncGenerator<Event>);
    await sleep(100);
    await notes(alice).insertOne({ owner: alice.id, title: 'private', secret: 's1' });
    const { insertedId: shared } = await notes(alice).insertOne({ owner: alice.id, title: 'shared', secret: 's2', shared: true });
    await notes(alice).updateOne({ _id: shared }, { $set: { secret: 's3', title: 'shared 2' } });
    await notes(alice).updateOne({ _id: shared }, { $set: { secret: 's4' } });
    await notes(alice).updateOne({ _id: shared }, { $set: { shared: false, title: 'unshared' } });
    await notes(alice).deleteOne({ _id: shared });
    const { insertedId: own } = await notes(bob).insertOne({ owner: bob.id, title: 'mine', secret: 'mine' });
    await w.until(() => w.events.some((e) => e.documentKey._id.equals(own)), "bob's own insert");
    await sleep(100);
    const text = JSON.stringify(w.events);
    for (const secret of ['s1', 's2', 's3', 's4', 'private', 'unshared']) assert.ok(!text.includes(`"${secret}"`), `${secret} leaked: ${text}`);
    assert.deepEqual(
      w.events.map((e) => e.operationType),
      ['insert', 'update', 'update', 'delete', 'insert'],
      'the shared insert, two updates (one showing nothing he may read), its leaving, his own insert; the delete after it left is not his',
    );
    const [ins, upd, upd2, gone, mine] = w.events as [Event, Event, Event, Event, Event];
    assert.deepEqual(Object.keys(ins.fullDocument).sort(), ['_id', 'owner', 'shared', 'title']);
    assert.deepEqual(upd.updateDescription.updatedFields, { title: 'shared 2' });
    assert.deepEqual(upd2.updateDescription.updatedFields, {});
    assert.ok(gone.documentKey._id.equals(shared));
    assert.deepEqual(Object.keys(gone).sort(), ['_id', 'clusterTime', 'documentKey', 'ns', 'operationType']);
    assert.equal(mine.fullDocument.secret, 'mine', 'his own documents show whole');
    await w.close();
  });

  it('the Stitch server SDK: watch (validated, then an EventSource with stitch_at) and watchCompact receive the changes', async () => {
    const stitch: StitchAppClient = stitchClientFor(server, `watch-${Date.now()}`);
    const email = uniqueEmail('carol');
    await stitch.auth.getProviderClient(UserPasswordAuthProviderClient.factory).registerWithEmail(email, 'secret123');
    const carol = await stitch.auth.loginWithCredential(new UserPasswordCredential(email, 'secret123'));
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const coll = stitch.getServiceClient(RemoteMongoClient.factory, 'mongodb-atlas').db('app').collection<any>('notes');
    const id = new BSON.ObjectId();
    await coll.insertOne({ _id: id, owner: carol.id, title: 'x' });
    const stream = await coll.watch([id]);
    const compactStream = await coll.watchCompact([id]);
    const got: Event[] = [];
    const compact: Event[] = [];
    stream.onNext((e: Event) => got.push(e));
    compactStream.onNext((e: Event) => compact.push(e));
    await coll.updateOne({ _id: id }, { $set: { title: 'y' } });
    await coll.findOneAndReplace({ _id: id }, { owner: carol.id, title: 'z' });
    await coll.deleteOne({ _id: id });
    const deadline = Date.now() + 5000;
    while ((got.length < 3 || compact.length < 3) && Date.now() < deadline) await sleep(10);
    assert.deepEqual(got.map((e) => e.operationType), ['update', 'replace', 'delete']);
    assert.deepEqual(got[0]!.namespace, { database: 'app', collection: 'notes' });
    assert.equal(got[0]!.fullDocument.title, 'y');
    assert.deepEqual(got[0]!.updateDescription.updatedFields, { title: 'y' });
    assert.deepEqual(compact.map((e) => e.operationType), ['update', 'replace', 'delete']);
    assert.deepEqual(compact[0]!.updateDescription.updatedFields, { title: 'y' });
    assert.equal(compact[1]!.fullDocument.title, 'z');
    assert.ok(compact[2]!.documentKey._id.equals(id));
    stream.close();
    compactStream.close();
    stitch.close(); // its token refresher would keep the process alive
  });

  it('raw HTTP: headers flushed at once, heartbeats, stitch_validate answered and closed, bad requests refused before the stream', async () => {
    const token = alice.accessToken!;
    const base = `${server.url}/api/client/v2.0/app/${server.appId}/functions/call`;
    const s = rawStream(`${base}?baas_request=${b64(watchBody({}))}`, { authorization: `Bearer ${token}` });
    const res = await s.response; // before any change: the headers came alone
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/event-stream');
    await sleep(450);
    assert.match(s.body, /^(:\n\n)+$/, 'only heartbeats while idle');
    s.close();

    const v = rawStream(`${base}?stitch_request=${b64(watchBody({}))}&stitch_at=${token}&stitch_validate=true`);
    assert.equal((await v.response).statusCode, 200);
    await new Promise((r) => (v as unknown as { response: Promise<IncomingMessage> }).response.then((m) => (m.complete ? r(null) : m.on('end', r))));

    const refused = async (url: string, headers: Record<string, string>, status: number, code: string) => {
      const r = await fetch(url, { headers });
      assert.equal(r.status, status, await r.clone().text());
      assert.equal((await r.json()).error_code, code);
    };
    const auth = { authorization: `Bearer ${token}` };
    await refused(`${base}?baas_request=${b64(watchBody({}))}`, {}, 401, 'InvalidSession');
    await refused(`${base}?stitch_request=${b64(watchBody({}))}&stitch_at=nope&stitch_validate=true`, {}, 401, 'InvalidSession');
    await refused(`${base}?baas_request=!!!`, auth, 400, 'BadRequest');
    await refused(`${base}?baas_request=${b64({ name: 'sum', arguments: [] })}`, auth, 404, 'FunctionNotFound');
    await refused(`${base}?baas_request=${b64(watchBody({ collection: 'nothere' }))}`, auth, 403, 'NoMatchingRuleFound');
    await refused(`${base}?baas_request=${b64(watchBody({ filter: { $where: 'true' } }))}`, auth, 400, 'InvalidParameter');
    await refused(`${base}?baas_request=${b64(watchBody({ filter: { a: { $nope: 1 } } }))}`, auth, 400, 'InvalidParameter');
  });

  it('a user has at most maxStreamsPerUser streams open (429 past it)', async () => {
    const streams = Array.from({ length: 6 }, () => collect(notes(bob).watch() as AsyncGenerator<Event>));
    await sleep(200);
    assert.equal(server.baste.watch.size, 6);
    const r = await fetch(`${server.url}/api/client/v2.0/app/${server.appId}/functions/call?baas_request=${b64(watchBody({}))}`, {
      headers: { authorization: `Bearer ${bob.accessToken}` },
    });
    assert.equal(r.status, 429);
    assert.equal((await r.json()).error_code, 'TooManyRequests');
    for (const s of streams) await s.close();
    const deadline = Date.now() + 2000;
    while (server.baste.watch.size > 0 && Date.now() < deadline) await sleep(10);
    assert.equal(server.baste.watch.size, 0, 'closing the iterator closes the HTTP stream, and the server sees it');
  });

  it('a client that does not read is cut off instead of buffered without bound', async () => {
    const frank = await newPasswordUser(server, 'frank');
    const req = httpRequest(`${server.url}/api/client/v2.0/app/${server.appId}/functions/call?baas_request=${b64(watchBody({}))}`, {
      headers: { authorization: `Bearer ${frank.accessToken}` },
    });
    const res = await new Promise<IncomingMessage>((resolve) => req.on('response', resolve).end());
    res.pause(); // reads nothing: the kernel's buffers fill, then the server's
    const closed = new Promise((resolve) => res.socket.on('close', resolve));
    await sleep(100);
    assert.equal(server.baste.watch.size, 1);
    const big = 'x'.repeat(512 * 1024);
    for (let i = 0; i < 8 && server.baste.watch.size > 0; i++) {
      await notes(frank).insertMany(Array.from({ length: 8 }, (_, j) => ({ owner: frank.id, title: `${i}-${j}`, big })));
    }
    const deadline = Date.now() + 3000;
    while (server.baste.watch.size > 0 && Date.now() < deadline) await sleep(10);
    assert.equal(server.baste.watch.size, 0, 'the stream was cut off');
    await closed;
  });

  it("a disabled user's streams close within a second, with an InvalidSession error", async () => {
    const dave = await newPasswordUser(server, 'dave');
    const w = collect(notes(dave).watch() as AsyncGenerator<Event>);
    await sleep(100);
    const t0 = Date.now();
    await server.baste.store.setUserDisabled(dave.id, true);
    await w.until(() => w.ended, 'the stream to end', 3000);
    assert.ok(Date.now() - t0 < 1000, `closed after ${Date.now() - t0} ms`);
    assert.equal((w.error as { code?: string }).code, 'InvalidSession');
  });

  it("a logged-out user's streams close too", async () => {
    const erin = await newPasswordUser(server, 'erin');
    const w = collect(notes(erin).watch() as AsyncGenerator<Event>);
    await sleep(100);
    await erin.logOut();
    await w.until(() => w.ended, 'the stream to end', 3000);
  });
});
