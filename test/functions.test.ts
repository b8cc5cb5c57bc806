// App functions through both SDKs and raw HTTP: results and EJSON types, errors, private and
// can_evaluate refusals, the system user, the sandbox's walls, runaway calls, custom-function login.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Decimal128, Long, ObjectId } from 'bson';
import { AnonymousCredential, FunctionCredential, type StitchAppClient } from 'mongodb-stitch-server-sdk';
import * as Realm from 'realm-web';
import type { AppConfig } from '../src/app/model.js';
import pino from 'pino';
import { FunctionRuntime } from '../src/functions/runtime.js';
import type { CallRequest, CallUser } from '../src/functions/types.js';
import { appConfig, appFunction, provider, startServer, type TestServer } from './helpers/server.js';
import { stitchClientFor } from './helpers/stitch.js';
import { assertError, clientOf, request } from './helpers/wire.js';

const fn = appFunction;

const FUNCTIONS = new Map([
  fn('sum', 'exports = function(a, b) { return a + b; };'),
  fn('echo', 'exports = async function(...args) { return args; };'),
  fn('echoTypes', `exports = function(v) {
    return { int: typeof v.i, oid: v.o instanceof BSON.ObjectId, date: v.d instanceof Date, dec: v.dec instanceof BSON.Decimal128, long: typeof v.l };
  };`),
  fn('bare', 'exports = function(kind) { return { s: "text", n: 7.5, nul: null, arr: [1, "two"] }[kind]; };'),
  fn('boom', 'exports = function() { throw new Error("kaboom: " + 42); };'),
  fn('secretThing', 'exports = function() { return "private result"; };', { private: true }),
  fn('callsPrivate', 'exports = async function() { return context.functions.execute("secretThing"); };'),
  fn('onlyBob', 'exports = function() { return "hi bob"; };', { canEvaluate: { '%%user.data.name': 'bob' } }),
  fn('onlyWithArg', 'exports = function(n) { return n; };', { canEvaluate: { '%%args.0': { $gt: 10 } } }),
  // The platform's admin example: a system function guards itself with context.user.id.
  fn(
    'adminOnly',
    `exports = function() {
      if (context.user.id !== context.values.get("adminUserId")) throw new Error("not allowed");
      return { system: context.runningAsSystem(), user: context.user.id };
    };`,
    { runAsSystem: true },
  ),
  fn('whoami', 'exports = async function() { return { id: context.user.id, type: context.user.type, system: context.runningAsSystem(), nested: await context.functions.execute("systemWho") }; };'),
  fn('systemWho', 'exports = function() { return { id: context.user.id, system: context.runningAsSystem() }; };', { runAsSystem: true }),
  fn('values', 'exports = function() { return { greeting: context.values.get("greeting"), secret: context.values.get("apiSecret"), missing: context.values.get("nope") === undefined, env: context.environment.tag }; };'),
  fn('query', 'exports = function() { return context.request.rawQueryString; };'),
  fn('request', 'exports = function() { const h = context.request.requestHeaders; return { ip: context.request.remoteIPAddress, auth: h.Authorization || h.authorization, ua: h["X-Test"], lower: h["x-test"] }; };'),
  fn('escape', `exports = function(what) {
    const probes = {
      process: () => typeof process + "/" + Object.keys(process.env).length,
      require: () => typeof require,
      fs: () => { try { return typeof require("fs"); } catch (e) { return "no require"; } },
      globalLeak: () => { const before = String(globalThis.stash); globalThis.stash = "x"; return before + "/" + String(globalThis.stash); },
      protoLeak: () => { const before = String(({}).polluted); Object.prototype.polluted = 1; return before + "/" + String(({}).polluted); },
      fetch: () => typeof fetch,
      store: () => typeof __run === "function" ? "bridge visible" : "no bridge",
    };
    return probes[what]();
  };`),
  fn('counter', 'let n = 0; exports = function() { n += 1; return n; };'),
  fn('loop', 'exports = function() { for (;;) {} };'),
  fn('asyncLoop', 'exports = async function() { await null; for (;;) {} };'),
  fn('memoryBomb', 'exports = function() { const a = []; for (;;) a.push(new Array(1e6).fill(7)); };'),
  fn('crypto', 'exports = function() { return { hmac: utils.crypto.hmac("msg", "key", "sha256", "hex"), hash: utils.crypto.hash("sha256", "abc").toHex(), jwt: utils.jwt.decode(utils.jwt.encode("HS256", { a: 1 }, "k".repeat(32)), "k".repeat(32)) }; };'),
  fn('cipher', `exports = function(privatePem, publicPem) {
    const key = "k".repeat(32);
    const sealed = utils.crypto.encrypt("aes", "top secret", key);
    const opened = utils.crypto.decrypt("aes", sealed, key).text();
    let tampered;
    try { utils.crypto.decrypt("aes", sealed, "x".repeat(32)); tampered = "decrypted"; } catch (e) { tampered = e.message; }
    const sig = utils.crypto.sign("rsa", "hello", privatePem, "pss");
    return { opened, tampered, ok: utils.crypto.verify("rsa", "hello", publicPem, sig, "pss"), forged: utils.crypto.verify("rsa", "hellO", publicPem, sig, "pss") };
  };`),
  fn('services', 'exports = function() { return context.services.get("mongodb-atlas"); };'),
  fn('badSyntax', 'exports = function( { '),
  fn('authFn', `exports = function(payload) {
    if (payload.username === "nobody") throw new Error("unknown user " + payload.username);
    if (payload.username === "weird") return 42;
    return { id: "ext-" + payload.username, name: payload.username, n: payload.n };
  };`, { private: true }),
  fn('lastPayload', 'exports = function(payload) { return typeof payload.n + ":" + payload.n; };', { private: true }),
]);

function testApp(): AppConfig {
  const base = appConfig([provider('anon-user'), provider('custom-function', { authFunctionName: 'authFn' })], 'fn-app-abcde');
  return {
    ...base,
    environment: 'production',
    functions: FUNCTIONS,
    values: new Map([
      ['greeting', { name: 'greeting', fromSecret: false, value: { text: 'hello' } }],
      ['apiSecret', { name: 'apiSecret', fromSecret: true, value: 'api-secret' }],
      ['adminUserId', { name: 'adminUserId', fromSecret: false, value: 'set-in-before' }],
    ]),
    secrets: new Map([['api-secret', 's3cr3t']]),
  };
}

describe('functions', () => {
  let server: TestServer;
  let rw: Realm.App;
  let stitch: StitchAppClient;
  let token: string;

  const callBody = (body: unknown, accessToken = token) =>
    request('POST', `${server.url}/api/client/v2.0/app/${server.appId}/functions/call`, { body, token: accessToken, headers: { 'x-test': 'probe' } });
  const callRaw = (name: string, args: unknown[] = [], accessToken = token) => callBody({ name, arguments: args }, accessToken);

  before(async () => {
    server = await startServer(testApp(), { functions: { timeoutMs: 1000, memoryMb: 64 } }); // long enough for the memory bomb to reach its limit on a busy machine
    rw = new Realm.App({ id: server.appId, baseUrl: server.url });
    await rw.logIn(Realm.Credentials.anonymous(false));
    token = rw.currentUser!.accessToken!;
    stitch = stitchClientFor(server, `fn-${Date.now()}`);
    await stitch.auth.loginWithCredential(new AnonymousCredential());
  });
  after(async () => {
    stitch.close();
    await server.close();
  });

  it('#56 sum(1, 2) is 3 in both SDKs', async () => {
    assert.equal(await rw.currentUser!.functions.sum(1, 2), 3);
    assert.equal(await stitch.callFunction('sum', [1, 2]), 3);
  });

  it('#57 round-trips Int32, Double, Long, Date, ObjectId, Decimal128, null, bool and nesting with their types', async () => {
    const oid = new ObjectId();
    const date = new Date(1_700_000_000_000);
    const value = { i: 5, d: 2.5, l: Long.fromNumber(2 ** 40), date, oid, dec: Decimal128.fromString('1.5'), nul: null, yes: true, nested: [1, [2, { x: 'y' }]] };
    for (const [name, result] of [
      ['realm-web', (await rw.currentUser!.functions.echo(value))[0]],
      ['stitch', ((await stitch.callFunction('echo', [value])) as unknown[])[0]],
    ] as const) {
      const r = result as typeof value;
      assert.equal(r.i, 5, name);
      assert.equal(r.d, 2.5, name);
      assert.equal(Number(r.l), 2 ** 40, name);
      assert.ok(r.date instanceof Date && r.date.getTime() === date.getTime(), name);
      assert.equal((r.oid as ObjectId).toHexString(), oid.toHexString(), name);
      assert.equal(r.dec.toString(), '1.5', name);
      assert.equal(r.nul, null, name);
      assert.equal(r.yes, true, name);
      assert.deepEqual(r.nested, [1, [2, { x: 'y' }]], name);
    }
    const seen = await rw.currentUser!.functions.echoTypes({ i: 1, o: new ObjectId(), d: new Date(), dec: Decimal128.fromString('2'), l: Long.fromNumber(7) });
    assert.deepEqual(seen, { int: 'number', oid: true, date: true, dec: true, long: 'number' });
  });

  it('#58 bare strings, numbers, null and arrays decode', async () => {
    assert.equal(await rw.currentUser!.functions.bare('s'), 'text');
    assert.equal(await rw.currentUser!.functions.bare('n'), 7.5);
    assert.equal(await rw.currentUser!.functions.bare('nul'), null);
    assert.deepEqual(await stitch.callFunction('bare', ['arr']), [1, 'two']);
    assert.equal(await stitch.callFunction('bare', ['nothing']), null);
  });

  it('#59 an unknown function is FunctionNotFound', async () => {
    await assert.rejects(rw.currentUser!.functions.nope(), (e: any) => e.errorCode === 'FunctionNotFound' && e.statusCode === 404);
    await assert.rejects(stitch.callFunction('nope', []), (e: any) => e.errorCodeName === 'FunctionNotFound');
  });

  it('#60 a throwing function is FunctionExecutionError carrying the message', async () => {
    await assert.rejects(rw.currentUser!.functions.boom(), (e: any) => e.errorCode === 'FunctionExecutionError' && /kaboom: 42/.test(e.error));
    await assert.rejects(stitch.callFunction('boom', []), (e: any) => e.errorCodeName === 'FunctionExecutionError' && /kaboom: 42/.test(e.message));
  });

  it('#61 realm-web drops undefined keys from object arguments', async () => {
    assert.deepEqual(await rw.currentUser!.callFunction('echo', { a: undefined, b: 1 }), [{ b: 1 }]);
  });

  it('#33 a private function is refused with a non-401 error, no refresh loop, and the user stays logged in', async () => {
    const calls: string[] = [];
    const app = new Realm.App({
      id: server.appId,
      baseUrl: server.url,
      fetch: (async (url: string, init?: RequestInit) => {
        calls.push(`${init?.method ?? 'GET'} ${new URL(url).pathname}`);
        return fetch(url, init);
      }) as typeof fetch,
    } as ConstructorParameters<typeof Realm.App>[0]);
    const user = await app.logIn(Realm.Credentials.anonymous(false));
    calls.length = 0;
    await assert.rejects(user.functions.secretThing(), (e: any) => e.statusCode === 403 && e.errorCode === 'FunctionNotCallable' && !/private result/.test(e.error));
    assert.deepEqual(calls, [`POST /api/client/v2.0/app/${server.appId}/functions/call`]);
    assert.equal(user.state, 'active');
    // a private function is still reachable from another function
    assert.equal(await user.functions.callsPrivate(), 'private result');
  });

  it('refuses a call whose can_evaluate is false, and runs it when true', async () => {
    assert.deepEqual((await callRaw('onlyWithArg', [{ $numberInt: '11' }])).json, { $numberInt: '11' });
    assertError(await callRaw('onlyWithArg', [{ $numberInt: '3' }]), 403, 'FunctionNotCallable');
    const bob = await callRaw('onlyBob');
    assert.equal(bob.status, 403);
  });

  it('a system function that guards itself with context.user.id: refused for others, served for the admin', async () => {
    const refused = await callRaw('adminOnly');
    assert.equal(refused.status, 400);
    assert.match(refused.json.error, /not allowed/);
    // make the logged-in user the admin through a second server with the value set to its id
    const adminApp = new Realm.App({ id: server.appId, baseUrl: server.url });
    const admin = await adminApp.logIn(Realm.Credentials.anonymous(false));
    const config = testApp();
    const withAdmin = { ...config, values: new Map([...config.values, ['adminUserId', { name: 'adminUserId', fromSecret: false, value: admin.id }]]) };
    const second = await startServer(withAdmin, { store: server.baste.store });
    try {
      const res = await fetch(`${second.url}/api/client/v2.0/app/${server.appId}/functions/call`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.accessToken}` },
        body: JSON.stringify({ name: 'adminOnly', arguments: [] }),
      });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { system: true, user: admin.id });
    } finally {
      await second.close();
    }
  });

  it('context.user is the caller even in system functions; nested calls follow run_as_system', async () => {
    const who = (await callRaw('whoami')).json;
    assert.equal(who.id, rw.currentUser!.id);
    assert.equal(who.type, 'normal');
    assert.equal(who.system, false);
    assert.deepEqual(who.nested, { id: rw.currentUser!.id, system: true });
  });

  it('sees values (secret-backed too), the environment and the request without credentials', async () => {
    assert.deepEqual((await callRaw('values')).json, { greeting: { text: 'hello' }, secret: 's3cr3t', missing: true, env: 'production' });
    const req = (await callRaw('request')).json;
    assert.equal(req.ip, '127.0.0.1');
    assert.ok(req.auth === undefined || req.auth === null, 'the Authorization header must not reach the function');
    assert.deepEqual(req.ua, ['probe']);
    assert.ok(req.lower === undefined || req.lower === null, 'header names are canonical (X-Test), as the platform gave them');
  });

  it("context.request.rawQueryString: the call URL's query without `secret` (up to a second `?`), empty without one", async () => {
    const query = async (suffix: string) =>
      (await request('POST', `${server.url}/api/client/v2.0/app/${server.appId}/functions/call${suffix}`, { body: { name: 'query', arguments: [] }, token })).json;
    assert.equal(await query(''), '');
    assert.equal(await query('?'), '');
    assert.equal(await query('?a=1&secret=s&b=x%20y'), 'a=1&b=x+y');
    assert.equal(await query('?a=1?b=2&secret=s'), 'a=1');
  });

  it('walls the function in: no environment, file system, fetch, bridges, or state left for the next call', async () => {
    const probe = async (what: string) => (await callRaw('escape', [what])).json;
    // process is the platform's small part of it (nextTick, hrtime, version), with no environment.
    assert.equal(await probe('process'), 'object/0');
    assert.equal(await probe('require'), 'function');
    assert.equal(await probe('fs'), 'no require', "require('fs') fails");
    assert.equal(await probe('fetch'), 'undefined');
    assert.equal(await probe('store'), 'no bridge');
    // A global set by a call is that call's own (a sloppy script's global scope): the next call starts without it.
    assert.equal(await probe('globalLeak'), 'undefined/x');
    assert.equal(await probe('globalLeak'), 'undefined/x');
    // A built-in extended by a call is that call's own (this app runs per-call realms: realms.ts).
    assert.equal(await probe('protoLeak'), 'undefined/1');
    assert.equal(await probe('protoLeak'), 'undefined/1');
    // module scope is fresh for every call
    assert.deepEqual((await callRaw('counter')).json, { $numberInt: '1' });
    assert.deepEqual((await callRaw('counter')).json, { $numberInt: '1' });
  });

  it("never sees another app's values or secrets, even in the same process", async () => {
    // The other app declares the same secret-backed value but has no secret material of ours.
    const other = await startServer({ ...testApp(), appId: 'other-app-abcde', secrets: new Map([['other-secret', 'do-not-leak']]) });
    try {
      const login = await (
        await fetch(`${other.url}/api/client/v2.0/app/${other.appId}/auth/providers/anon-user/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      ).json();
      const res = await fetch(`${other.url}/api/client/v2.0/app/${other.appId}/functions/call`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${login.access_token}` },
        body: JSON.stringify({ name: 'values', arguments: [] }),
      });
      const theirs = await res.json();
      assert.equal(theirs.secret, null, 'our secret must not reach the other app');
      assert.equal((await callRaw('values')).json.secret, 's3cr3t');
      // and our token means nothing there
      assert.equal((await fetch(`${other.url}/api/client/v2.0/auth/profile`, { headers: { authorization: `Bearer ${token}` } })).status, 401);
    } finally {
      await other.close();
    }
  });

  it('offers utils.crypto and utils.jwt', async () => {
    const r = (await callRaw('crypto')).json;
    assert.equal(r.hmac, '2d93cbc1be167bcb1637a4a23cbff01a7878f0c50ee833954ea5221bb1b8c628');
    assert.equal(r.hash, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.deepEqual(r.jwt, { a: { $numberInt: '1' } });
  });

  it('offers AES encryption (authenticated) and RSA signatures', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const r = (await callRaw('cipher', [privateKey.export({ type: 'pkcs1', format: 'pem' }), publicKey.export({ type: 'pkcs1', format: 'pem' })])).json;
    assert.deepEqual(r, { opened: 'top secret', tampered: 'decryption failed: wrong key or altered message', ok: true, forged: false });
  });

  it('answers the data service and a function that does not compile with clear errors', async () => {
    // no data source is configured in this app: the service is undefined, as on the platform
    assert.equal((await callRaw('services')).json, null);
    const broken = await callRaw('badSyntax');
    assert.equal(broken.status, 400);
    assert.match(broken.json.error, /could not be compiled/);
    const res = await callBody({ name: 'find', service: 'mongodb-atlas', arguments: [{ database: 'd', collection: 'c', query: {} }] });
    assertError(res, 404, 'ServiceNotFound');
  });

  it('stops an infinite loop, an async loop and a memory bomb while other calls keep being served', async () => {
    for (const name of ['loop', 'asyncLoop', 'memoryBomb']) {
      const started = Date.now();
      const runaway = callRaw(name);
      // while it runs, other requests are answered quickly
      const others = await Promise.all([callRaw('sum', [1, 2]), fetch(`${server.url}/api/client/v2.0/app/${server.appId}/location`)]);
      assert.equal(others[0].status, 200, `sum during ${name}`);
      assert.deepEqual(others[0].json, { $numberInt: '3' });
      assert.equal(others[1].status, 200);
      const res = await runaway;
      assertError(res, 400, 'FunctionExecutionError', name === 'memoryBomb' ? /memory limit/ : /time limit/);
      assert.ok(Date.now() - started < 3000, `${name} took ${Date.now() - started} ms`);
    }
    assert.deepEqual((await callRaw('sum', [1, 2])).json, { $numberInt: '3' });
  });

  it('refuses calls without a valid access token, and malformed bodies', async () => {
    assertError(await callRaw('sum', [], 'null'), 401, 'InvalidSession');
    assert.equal((await callBody({ name: 'sum', arguments: 'nope' })).status, 400);
  });
});

describe('custom-function login', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(testApp(), { functions: { timeoutMs: 2000, memoryMb: 64 } });
  });
  after(() => server.close());

  it('[RW] #16 logs in; the function receives n as the number 5; the same id is the same user', async () => {
    const app = new Realm.App({ id: server.appId, baseUrl: server.url });
    const user = await app.logIn(Realm.Credentials.function({ username: 'bob', n: 5 }));
    assert.deepEqual(user.identities.map((i) => [i.id, i.providerType]), [['ext-bob', 'custom-function']]);
    assert.equal(user.profile.name, 'bob');
    const again = await new Realm.App({ id: server.appId, baseUrl: server.url }).logIn(Realm.Credentials.function({ username: 'bob', n: 6 }));
    assert.equal(again.id, user.id);
  });

  it('[S] #16 logs in with FunctionCredential', async () => {
    const client = stitchClientFor(server, `cf-${Date.now()}`);
    try {
      const user = await client.auth.loginWithCredential(new FunctionCredential({ username: 'carol', n: 5 } as unknown as Record<string, string>));
      assert.equal(user.loggedInProviderType, 'custom-function');
      assert.equal(user.identities[0]!.id, 'ext-carol');
    } finally {
      client.close();
    }
  });

  it('answers a throwing function or a bad return with 401 and the reason', async () => {
    const login = (payload: unknown) => clientOf(server).login('custom-function', payload);
    const thrown = await login({ username: 'nobody' });
    assert.equal(thrown.status, 401);
    assert.match(thrown.json.error, /unknown user nobody/);
    const weird = await login({ username: 'weird' });
    assert.equal(weird.status, 401);
    assert.match(weird.json.error, /must return/);
  });

  it('refuses to start when the auth function does not exist', async () => {
    const config = testApp();
    const broken = { ...config, providers: new Map([['custom-function', provider('custom-function', { authFunctionName: 'missing' })]]) };
    await assert.rejects(startServer(broken), /authFunctionName/);
  });
});

// The runtime alone: who a call runs for stays on the host, as an execution that host calls name
// by id, registered for the call's lifetime only.
describe('executions held on the host', () => {
  const person = (id: string): CallUser => ({ id, type: 'normal', data: { name: id }, custom_data: { tier: id }, identities: [{ id: `${id}-identity`, provider_type: 'anon-user' }] });
  const CALLER = person('caller');
  const OWN = person('own');
  const REQUEST: CallRequest = { remoteIPAddress: '10.0.0.7', requestHeaders: { 'x-test': ['probe'] }, httpMethod: 'POST' };
  const coll = 'context.services.get("mongodb-atlas").db("d").collection("c")';
  /** What the data service saw: the user id it was asked for, and the in-flight executions then. */
  const seen: { op: string; user: string | null; system: boolean; ip: string | undefined; inFlight: number }[] = [];
  const runAsAsked: { name: string; user: string | null; system: boolean; ip: string | undefined }[] = [];
  const logged: string[] = [];
  let rt: FunctionRuntime;

  const functions = new Map([
    fn('who', 'exports = function() { return { user: context.user.id, tier: context.user.custom_data.tier, ip: context.request && context.request.remoteIPAddress, ua: context.request && context.request.requestHeaders["x-test"], system: context.runningAsSystem() }; };'),
    fn('systemWho', 'exports = function() { return context.functions.execute("who"); };', { runAsSystem: true }),
    fn('read', `exports = async function() { return (await ${coll}.find({}).toArray())[0].user; };`),
    fn('asOwn', `exports = async function() {
      return { read: await context.functions.execute("read"), who: await context.functions.execute("who"), system: await context.functions.execute("systemWho") };
    };`, { runAsUserId: 'own' }),
    fn('outer', `exports = async function() {
      const read = () => context.functions.execute("read");
      const before = await read();
      const nested = await context.functions.execute("asOwn");
      const after = await read();
      const parallel = await Promise.all([read(), context.functions.execute("asOwn").then((r) => r.read), read()]);
      return { before, nested, after, parallel, me: await context.functions.execute("who"), system: await context.functions.execute("systemWho") };
    };`),
    fn('boom', `exports = async function() { await ${coll}.findOne({}); throw new Error("boom"); };`),
    fn('ownBoom', 'exports = async function() { await context.functions.execute("read"); throw new Error("own boom"); };', { runAsUserId: 'own' }),
    fn('callsOwnBoom', 'exports = function() { return context.functions.execute("ownBoom"); };'),
    fn('loop', 'exports = function() { while (true) {} };'),
    fn('ownLoop', 'exports = async function() { await context.functions.execute("read"); while (true) {} };', { runAsUserId: 'own' }),
    fn('callsOwnLoop', 'exports = function() { return context.functions.execute("ownLoop"); };'),
    // Host calls that outlive their call: the first is served, what follows names an ended execution.
    fn('late', `exports = function() {
      ${coll}.findOne({ slow: true }).then(() => ${coll}.find({}).toArray())
        .then(() => console.log("late: served"), (e) => console.log("late: " + e.message));
      return "returned";
    };`),
    fn('lateRunAs', `exports = function() {
      context.functions.execute("asOwnSlow").then(() => console.log("lateRunAs: ran"), (e) => console.log("lateRunAs: " + e.message));
      return "returned";
    };`),
    fn('asOwnSlow', 'exports = function() { return "ran"; };', { runAsUserId: 'own' }),
  ]);
  const app: AppConfig = {
    ...appConfig([provider('anon-user')], 'exec-app-abcde'),
    functions,
    dataSources: new Map([['mongodb-atlas', { name: 'mongodb-atlas', type: 'mongodb-atlas', collections: new Map() }]]),
  };
  const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const call = (name: string, user: CallUser | null = CALLER, runAsSystem = false) =>
    rt.call({ name, argsEjson: '[]', user, runAsSystem, request: REQUEST }).then((text) => JSON.parse(text) as any);
  const until = async (what: () => boolean) => {
    for (let i = 0; i < 100 && !what(); i++) await delay(10);
    assert.ok(what());
  };

  before(async () => {
    rt = new FunctionRuntime(app, {
      timeoutMs: 300,
      memoryMb: 64,
      isolates: 1,
      logger: pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line).msg) }),
      dataService: async (_service, op, args, caller) => {
        seen.push({ op, user: caller.user?.id ?? null, system: caller.system, ip: caller.request?.remoteIPAddress, inFlight: rt.inFlightExecutions });
        if ((args.query as { slow?: boolean } | undefined)?.slow) await delay(50);
        return op === 'find' ? [{ user: caller.user?.id ?? null }] : null;
      },
      executionUser: async (name, _argsEjson, current, request) => {
        runAsAsked.push({ name, user: current.user?.id ?? null, system: current.system, ip: request?.remoteIPAddress });
        if (name === 'asOwnSlow') await delay(50);
        return { user: OWN, system: false };
      },
    });
    await rt.warm();
  });
  after(() => rt.close());

  it('context.user and context.request: the caller at the top, in caller and system callees; a run-as callee sees its own user', async () => {
    const r = await call('outer');
    const caller = { user: 'caller', tier: 'caller', ip: '10.0.0.7', ua: ['probe'] };
    const own = { user: 'own', tier: 'own', ip: '10.0.0.7', ua: ['probe'] };
    assert.deepEqual(r.me, { ...caller, system: false });
    assert.deepEqual(r.system, { ...caller, system: true });
    assert.deepEqual(r.nested.who, { ...own, system: false });
    assert.deepEqual(r.nested.system, { ...own, system: true });
    // No user (a system call with nobody behind it): the system user, and no request fields leak in.
    const anonymous = await rt.call({ name: 'who', argsEjson: '[]', user: null, runAsSystem: true });
    assert.deepEqual(JSON.parse(anonymous), { user: '', tier: null, ip: null, ua: null, system: true });
    assert.equal(rt.inFlightExecutions, 0);
  });

  it("data-service calls of a nested run-as callee are its user's; the caller's before, after and alongside stay the caller's", async () => {
    seen.length = 0;
    runAsAsked.length = 0;
    const r = await call('outer');
    assert.deepEqual([r.before, r.nested.read, r.after, r.parallel], ['caller', 'own', 'caller', ['caller', 'own', 'caller']]);
    assert.ok(seen.every((s) => s.op === 'find' && !s.system && s.ip === '10.0.0.7'), JSON.stringify(seen));
    // The callee's reads happen while its execution is registered next to the caller's.
    assert.deepEqual(seen.map((s) => [s.user, s.inFlight]).slice(0, 3), [['caller', 1], ['own', 2], ['caller', 2]]);
    // The host resolved the run-as user for the caller it holds, with the call's request.
    assert.deepEqual(runAsAsked[0], { name: 'asOwn', user: 'caller', system: false, ip: '10.0.0.7' });
    assert.equal(rt.inFlightExecutions, 0);
  });

  it('frees every execution after a successful, a failing and a timed-out call, nested run-as ones included', async () => {
    assert.equal((await call('read')), 'caller');
    assert.equal(rt.inFlightExecutions, 0);
    await assert.rejects(call('boom'), /boom/);
    assert.equal(rt.inFlightExecutions, 0);
    await assert.rejects(call('callsOwnBoom'), /own boom/);
    assert.equal(rt.inFlightExecutions, 0);
    await assert.rejects(call('loop'), /time limit/);
    assert.equal(rt.inFlightExecutions, 0);
    seen.length = 0;
    await assert.rejects(call('callsOwnLoop'), /time limit/);
    assert.deepEqual(seen.map((s) => [s.user, s.inFlight]), [['own', 2]]);
    assert.equal(rt.inFlightExecutions, 0);
    // Concurrent calls each hold their own execution, and all go.
    const many = await Promise.allSettled(['outer', 'read', 'boom', 'callsOwnBoom', 'outer'].map((name) => call(name)));
    assert.deepEqual(many.map((m) => m.status), ['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
    assert.equal(rt.inFlightExecutions, 0);
    assert.equal(await call('read'), 'caller', 'the isolate is rebuilt after the timeouts');
  });

  it('work a function leaves pending runs inside its call, as its caller, before the call answers', async () => {
    seen.length = 0;
    logged.length = 0;
    assert.equal(await call('late'), 'returned');
    // No waiting here: the call answered only once its pending chain had run.
    assert.deepEqual(logged.filter((l) => l.startsWith('late: ')), ['late: served']);
    assert.deepEqual(seen.map((s) => [s.op, s.user]), [['findOne', 'caller'], ['find', 'caller']]);

    assert.equal(await call('lateRunAs'), 'returned');
    assert.deepEqual(logged.filter((l) => l.startsWith('lateRunAs: ')), ['lateRunAs: ran']);
    assert.equal(rt.inFlightExecutions, 0, 'nothing left registered once the calls answered');
  });
});
