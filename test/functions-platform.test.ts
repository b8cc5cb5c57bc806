// Function code as real exports write it runs with the platform's semantics: a synchronous
// `context.functions.execute` used as an authorization guard, BSON constructors called without
// `new`. Driven through realm-web, on SQLite and PostgreSQL.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as Realm from 'realm-web';
import { appConfig, appFunction, autoConfirmUserpass, provider, startServer, type TestServer } from './helpers/server.js';

const fn = appFunction;

describe('functions: the platform’s semantics in real code', () => {
  let server: TestServer;
  let user: Realm.User;

  before(async () => {
    server = await startServer({
      ...appConfig([provider('anon-user'), autoConfirmUserpass()], 'plat-app-abcde'),
      functions: new Map([
        fn('isOwner', 'exports = function(ownerId) { return ownerId === context.user.id; };', { private: true }),
        // The guard of real apps: no await, the callee's boolean decides.
        fn('readSecret', `exports = function(ownerId) {
          if (!context.functions.execute("isOwner", ownerId)) return null;
          return "the secret of " + ownerId;
        };`),
        fn('asyncCallee', 'exports = async function(x) { return x * 2; };', { private: true }),
        fn('callsAsync', `exports = function(x) {
          const r = context.functions.execute("asyncCallee", x);
          return { isPromise: r instanceof Promise, value: null };
        };`),
        fn('awaitsAsync', 'exports = async function(x) { return await context.functions.execute("asyncCallee", x); };'),
        fn('throwingCallee', 'exports = function() { throw new Error("callee refused"); };', { private: true }),
        fn('catchesSync', `exports = function() {
          try { context.functions.execute("throwingCallee"); return "not thrown"; } catch (e) { return "caught: " + e.message; }
        };`),
        // A utils function that dresses up the call's console for the functions it runs next.
        fn('logUtils', `exports = function() {
          if (!console.logVerbose) {
            verbose = true;
            console.logVerbose = function(message) { if (verbose) console.log("[verbose] " + message); };
          }
        };`, { private: true }),
        fn('usesLogUtils', `exports = function() {
          context.functions.execute("logUtils");
          console.logVerbose("from the entry function");
          return typeof console.logVerbose;
        };`),
        fn('plainConsole', 'exports = function() { return typeof console.logVerbose + "/" + Object.isFrozen(console); };'),
        fn('bsonWithoutNew', `exports = function(hex) {
          const id = BSON.ObjectId(hex);
          return {
            id: id,
            same: id.equals(new BSON.ObjectId(hex)),
            isObjectId: id instanceof BSON.ObjectId,
            int: BSON.Int32(2),
            dbl: BSON.Double(1.5),
            long: BSON.Long.fromNumber(7),
            dec: BSON.Decimal128.fromString("1.25"),
            bin: BSON.Binary.fromBase64("aGk=", 0).text(),
          };
        };`),
      ]),
    });
    const app = new Realm.App({ id: server.appId, baseUrl: server.url });
    user = await app.logIn(Realm.Credentials.anonymous(false));
  });
  after(() => server.close());

  it('a function may add to the call’s console; the next call gets a console of its own', async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal(await user.functions.usesLogUtils(), 'function');
      assert.equal(await user.functions.plainConsole(), 'undefined/false');
    }
    const [a, b] = await Promise.all([user.functions.usesLogUtils(), user.functions.plainConsole()]);
    assert.deepEqual([a, b], ['function', 'undefined/false']);
  });

  it('a synchronous execute guard refuses another user’s id and admits the caller’s own', async () => {
    assert.equal(await user.functions.readSecret('someone-else'), null);
    assert.equal(await user.functions.readSecret(user.id), `the secret of ${user.id}`);
  });

  it('execute answers a promise only when the callee does, and a callee’s throw is synchronous', async () => {
    assert.deepEqual(await user.functions.callsAsync(2), { isPromise: true, value: null });
    assert.equal(await user.functions.awaitsAsync(21), 42);
    assert.equal(await user.functions.catchesSync(), 'caught: callee refused');
  });

  it('BSON constructors work without new', async () => {
    const hex = '5f00000000000000000000ee';
    const out = await user.functions.bsonWithoutNew(hex);
    // realm-web decodes with its own bson: compare by type name, not by class.
    assert.match(out.id._bsontype, /^ObjectI[dD]$/);
    assert.equal(out.id.toHexString(), hex);
    assert.equal(out.same, true);
    assert.equal(out.isObjectId, true);
    assert.equal(out.int, 2);
    assert.equal(out.dbl, 1.5);
    // realm-web reads $numberLong as a number
    assert.equal(out.long, 7);
    assert.equal(out.dec._bsontype, 'Decimal128');
    assert.equal(out.dec.toString(), '1.25');
    assert.equal(out.bin, 'hi');
  });
});

describe('functions: sloppy globals and timers stay in their call', () => {
  let server: TestServer;
  let alice: Realm.User;
  let bob: Realm.User;

  before(async () => {
    server = await startServer({
      ...appConfig([provider('anon-user'), autoConfirmUserpass()], 'glob-app-abcde'),
      functions: new Map([
        // Undeclared assignments, as real exports write them, read back by a nested function of the same call.
        fn('tagAndRead', `exports = function(tag) {
          currentTag = tag;
          global.owner = context.user.id;
          return context.functions.execute("readTag");
        };`),
        fn('readTag', 'exports = function() { return { tag: currentTag, owner: globalThis.owner }; };', { private: true }),
        fn('peek', 'exports = function() { return { tag: typeof currentTag, owner: typeof global.owner }; };'),
        fn('sleepy', `exports = async function(ms) {
          const start = Date.now();
          await new Promise(function (resolve) { setTimeout(resolve, ms); });
          return Date.now() - start >= ms - 5;
        };`),
        fn('cancelled', `exports = function() {
          const id = setTimeout(function () { throw new Error("should never run"); }, 10);
          clearTimeout(id);
          let ticks = 0;
          const every = setInterval(function () { ticks++; }, 1);
          return new Promise(function (resolve) { setTimeout(function () { clearInterval(every); resolve(ticks > 0); }, 30); });
        };`),
      ]),
    });
    const app = new Realm.App({ id: server.appId, baseUrl: server.url });
    alice = await app.logIn(Realm.Credentials.anonymous(false));
    bob = await app.logIn(Realm.Credentials.anonymous(false));
  });
  after(() => server.close());

  it('an undeclared assignment works within the call and is invisible to every other call', async () => {
    const [a, b] = await Promise.all([alice.functions.tagAndRead('alice-tag'), bob.functions.tagAndRead('bob-tag')]);
    assert.deepEqual(a, { tag: 'alice-tag', owner: alice.id });
    assert.deepEqual(b, { tag: 'bob-tag', owner: bob.id });
    assert.deepEqual(await bob.functions.peek(), { tag: 'undefined', owner: 'undefined' });
  });

  it('setTimeout and setInterval work inside a call and can be cleared', async () => {
    assert.equal(await alice.functions.sleepy(40), true);
    assert.equal(await alice.functions.cancelled(), true);
  });
});
