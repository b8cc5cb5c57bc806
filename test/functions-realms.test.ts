// Code that extends built-ins, as real apps write it: a utils function adds
// `Array.prototype.toDictionary`, `String.prototype.capitalize`, `Date.prototype.addDays`,
// `Math.clamp`..., returns, and the functions that called it first use them. On the platform every
// call had its own realm: the extensions held for the rest of the call and no other call ever saw
// them. Baste runs such apps' calls in realms of their own (src/functions/realms.ts).

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import * as Realm from 'realm-web';
import { loadAppDirectory } from '../src/app/load.js';
import { FunctionRuntime, type RuntimeOptions } from '../src/functions/runtime.js';
import { intrinsicWrites, planRealms } from '../src/functions/realms.js';
import { undeclaredAssignments } from '../src/functions/sloppy-globals.js';
import { appConfig, appFunction as fn, provider, startServer, type TestServer } from './helpers/server.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The utils function of a real app, in its style: sloppy, var and function declarations, returns nothing.
const UTILS = `exports = function () {
  Array.prototype.toDictionary = function (key) {
    var dictionary = {};
    for (var i = 0; i < this.length; i++) dictionary[this[i][key]] = this[i];
    return dictionary;
  };
  String.prototype.capitalize = function () { return this.charAt(0).toUpperCase() + this.slice(1); };
  Object.defineProperty(Array.prototype, 'last', { get: function () { return this[this.length - 1]; } });
  Date.prototype.addDays = function (days) { var d = new Date(this.valueOf()); d.setDate(d.getDate() + days); return d; };
  Math.clamp = function (v, lo, hi) { return Math.min(Math.max(v, lo), hi); };
  JSON.pretty = function (v) { return JSON.stringify(v, null, 2); };
};`;

// What another call sees of those extensions: nothing.
const PEEK = `exports = function () {
  return [typeof [].toDictionary, typeof "x".capitalize, "last" in [], typeof new Date().addDays, typeof Math.clamp, typeof JSON.pretty].join(",");
};`;
const NOTHING = 'undefined,undefined,false,undefined,undefined,undefined';

function runtime(functions: [string, ReturnType<typeof fn>[1]][], options: Partial<RuntimeOptions> = {}, logged: Record<string, unknown>[] = []) {
  return new FunctionRuntime(
    { ...appConfig([provider('anon-user')], 'realm-app-abcde'), functions: new Map(functions) },
    { timeoutMs: 3000, memoryMb: 64, isolates: 1, logger: pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) }), ...options },
  );
}
const callOf = (rt: FunctionRuntime) => (name: string, args: unknown[] = []) =>
  rt.call({ name, argsEjson: JSON.stringify(args), user: null, runAsSystem: true }).then((t) => JSON.parse(t) as unknown);

describe('realms: which apps get per-call realms', () => {
  it('the scan names writes to built-ins, and not reads', () => {
    assert.deepEqual(intrinsicWrites(UTILS), [
      'Array.prototype.toDictionary', 'String.prototype.capitalize', 'Date.prototype.addDays', 'Math.clamp', 'JSON.pretty', 'Object.defineProperty(Array.prototype)',
    ]);
    assert.deepEqual(intrinsicWrites("Object.defineProperties(String.prototype, {}); Object.assign(Date.prototype, { a: 1 }); Number.prototype['toMoney'] = f; x.__proto__.y = 1"), [
      "Number.prototype['toMoney']", 'Object.defineProperties(String.prototype)', 'Object.assign(Date.prototype)', 'a built-in prototype (.__proto__.y =)',
    ]);
    const reads = 'var s = Array.prototype.slice.call(arguments); if (Object.prototype.hasOwnProperty.call(o, k) && a == Math.max(1, 2)) o.Math.x = 1; x === Array.prototype.y;';
    assert.deepEqual(intrinsicWrites(reads), []);
    // A module's global.x is one: other modules read it by its bare name. A UMD header's browser branch is not.
    assert.deepEqual(intrinsicWrites('globalThis.regeneratorRuntime = runtime;', true), ['globalThis.regeneratorRuntime']);
    assert.deepEqual(intrinsicWrites("typeof define === 'function' && define.amd ? define(factory) : global.moment = factory()", true), []);
  });

  it("the sloppy-globals scan finds undeclared assignments, not declared names, properties or strings", () => {
    assert.deepEqual(undeclaredAssignments("var a = 1, b = 2\nfoo = 3\nvar c = function (x) { y = x; x = /=/g; return 'z = 1'; }"), ['foo', 'y']);
    assert.deepEqual(undeclaredAssignments('function f(p) { p = 2; var q; q = 3; o.r = 4; } try {} catch (e) { e = 1 } const g = (c, d) => { c = d = 3 }; exports = module.exports = f;'), []);
    assert.deepEqual(undeclaredAssignments('var s = `${ tpl = 1 }`; class K { #priv; m(a) { a = 1; this.#priv = 2; } }'), ['tpl']);
  });

  it('an app whose code writes to built-ins runs per-call realms and the log says which functions; others stay shared', async () => {
    const logged: Record<string, unknown>[] = [];
    const extending = runtime([fn('utils', UTILS), fn('sum', 'exports = function (a, b) { return a + b; };')], {}, logged);
    const plain = runtime([fn('sum', 'exports = function (a, b) { return a + b; };')]);
    try {
      assert.equal(extending.perCallRealms, true);
      assert.equal(plain.perCallRealms, false);
      const line = logged.find((l) => l.where === "function 'utils'");
      assert.ok(line, JSON.stringify(logged));
      assert.ok((line.writes as string[]).includes('Array.prototype.toDictionary'));
      assert.match(String(line.msg), /realm of its own/);
    } finally {
      await extending.close();
      await plain.close();
    }
  });
});

describe('realms: extensions live for their call only', () => {
  let rt: FunctionRuntime;
  let other: FunctionRuntime;
  let call: ReturnType<typeof callOf>;
  before(async () => {
    rt = runtime([
      fn('utils', UTILS, { private: true }),
      // The entry calls utils first, as real apps do, then uses what it added on its own values,
      // on the arguments it was given (EJSON, parsed in its realm) and after awaiting timers.
      fn('report', `exports = async function (rows, since) {
        context.functions.execute("utils");
        var byId = rows.toDictionary("id");
        await new Promise(function (resolve) { setTimeout(resolve, 5); });
        var parsed = EJSON.parse('[{"id":"p"}]').toDictionary("id");
        return {
          ids: Object.keys(byId),
          last: rows.last.id,
          title: "quarterly report".capitalize(),
          due: since.addDays(2).toISOString(),
          clamped: Math.clamp(15, 0, 10),
          parsed: Object.keys(parsed),
          nested: context.functions.execute("nestedSees"),
          pretty: JSON.pretty({ a: 1 }).length > 5,
        };
      };`),
      fn('nestedSees', 'exports = function () { return [3, 1, 2].last + ":" + "abc".capitalize(); };', { private: true }),
      // A sloppy global assigned by the call, as before: still the call's own.
      fn('extendThenWait', `exports = async function (ms) {
        context.functions.execute("utils");
        marker = "mine";
        await new Promise(function (resolve) { setTimeout(resolve, ms); });
        return [typeof [].toDictionary, typeof Math.clamp, marker].join(",");
      };`),
      fn('peek', PEEK),
      fn('peekMarker', 'exports = function () { return typeof marker; };'),
      fn('spin', 'exports = function () { context.functions.execute("utils"); for (;;) {} };'),
      fn('bomb', 'exports = function () { context.functions.execute("utils"); var a = []; for (;;) a.push(new Array(1e6).fill(7)); };'),
      fn('sum', 'exports = function (a, b) { return a + b; };'),
    ], { maxIsolates: 3, timeoutMs: 1500 });
    other = runtime([fn('peek', PEEK)]);
    await Promise.all([rt.warm(), other.warm()]);
    call = callOf(rt);
  });
  after(async () => {
    await rt.close();
    await other.close();
  });

  it('within a call, what utils added works on every value, in nested calls and after awaits', async () => {
    assert.equal(rt.perCallRealms, true);
    const out = await call('report', [[{ id: 'a' }, { id: 'b' }], { $date: { $numberLong: String(Date.UTC(2024, 0, 30)) } }]);
    assert.deepEqual(out, {
      ids: ['a', 'b'],
      last: 'b',
      title: 'Quarterly report',
      due: '2024-02-01T00:00:00.000Z',
      clamped: { $numberInt: '10' },
      parsed: ['p'],
      nested: '2:Abc',
      pretty: true,
    });
    assert.equal(await call('peek'), NOTHING, 'the next call starts without them');
  });

  it('a concurrent call never sees them while the extending call awaits, round after round', async () => {
    const otherCall = callOf(other);
    for (let round = 0; round < 25; round++) {
      const extending = call('extendThenWait', [{ $numberInt: String(5 + (round % 4) * 5) }]);
      const peeks = Promise.all([call('peek'), call('peekMarker'), otherCall('peek'), delay(2).then(() => call('peek'))]);
      assert.equal(await extending, 'function,function,mine', `round ${round}`);
      assert.deepEqual(await peeks, [NOTHING, 'undefined', NOTHING, NOTHING], `round ${round}`);
    }
  });

  it('the limits hold in a per-call realm: a loop and a memory bomb fail alone, and calls go on', async () => {
    const spinning = call('spin').then(() => 'returned', (e: Error) => e.message);
    for (let i = 0; i < 200 && rt.stuckIsolates === 0; i++) await delay(10);
    assert.equal(rt.stuckIsolates, 1, 'the monitor saw the loop');
    assert.deepEqual(await call('sum', [{ $numberInt: '2' }, { $numberInt: '3' }]), { $numberInt: '5' });
    const bomb = await call('bomb').then(() => 'returned', (e: Error) => e.message);
    assert.match(bomb, /memory limit|interrupted|time limit/);
    assert.match(await spinning, /time limit/);
    assert.equal(await call('peek'), NOTHING);
    assert.deepEqual(await call('sum', [{ $numberInt: '1' }, { $numberInt: '1' }]), { $numberInt: '2' });
  });

  it('many calls in per-call realms do not exhaust the isolate (each realm is dropped after its call)', async () => {
    for (let i = 0; i < 30; i++) {
      const batch = await Promise.all(Array.from({ length: 20 }, () => call('extendThenWait', [{ $numberInt: '0' }])));
      assert.ok(batch.every((r) => r === 'function,function,mine'));
    }
    assert.equal(await call('peek'), NOTHING);
  });
});

describe('realms: modules that set globals, and writes the scan could not see', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'baste-realms-'));
  const modules = join(scratch, 'node_modules');
  const pkg = (name: string, source: string) => {
    mkdirSync(join(modules, name), { recursive: true });
    writeFileSync(join(modules, name, 'package.json'), JSON.stringify({ name, version: '1.0.0', main: 'index.js' }));
    writeFileSync(join(modules, name, 'index.js'), source);
  };
  // A runtime helper in the style of regenerator-runtime: an undeclared global, and globalThis.
  pkg('legacy-runtime', 'var runtime = { version: "1" };\ntry { legacyRuntime = runtime; } catch (e) { globalThis.legacyRuntime = runtime; }\nglobal.legacyCount = (global.legacyCount || 0) + 1;\nmodule.exports = runtime;\n');
  // Transpiled code that reads that global by its bare name.
  pkg('uses-legacy', 'require("legacy-runtime");\nmodule.exports = function () { return legacyRuntime.version + "/" + legacyCount; };\n');
  // A package that extends a prototype, required by a name the load-time scan cannot follow.
  pkg('string-helpers', 'String.prototype.shout = function () { return this.toUpperCase() + "!"; };\nmodule.exports = {};\n');
  // Old npm packages in their style: a plain undeclared global (2012-era), and a UMD header that
  // sets `root.umdlib` with a factory that keeps its state in an undeclared `counter`.
  pkg('old-lib', "// old-lib 0.3.1\noldlib = function (s) { return '<' + s + '>'; };\noldlib.VERSION = '0.3.1';\nif (typeof module !== 'undefined' && module.exports) module.exports = oldlib;\n");
  pkg('old-umd', [
    '(function (root, factory) {',
    "  if (typeof define === 'function' && define.amd) { define([], factory); }",
    "  else { root.umdlib = factory(); if (typeof module === 'object' && module.exports) module.exports = root.umdlib; }",
    "}(typeof global !== 'undefined' ? global : this, function () {",
    '  counter = 0;',
    '  return { next: function () { counter = counter + 1; return counter; } };',
    '}));',
  ].join('\n'));
  // A module that reads both by their bare names, as code written for a browser page did.
  pkg('uses-old', "require('old-lib');\nrequire('old-umd');\nmodule.exports = function (s) { return oldlib(s) + umdlib.next() + counter + oldlib.VERSION; };\n");
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it("an old package's undeclared globals land in the call's scope: its other modules and functions read them, no other call does", async () => {
    const rt = runtime([
      fn('useOld', `exports = async function (s) {
  var f = require('uses-old');
  await new Promise(function (resolve) { setTimeout(resolve, 5); });
  return [f(s), typeof oldlib, umdlib.next(), counter].join(',');
};`),
      fn('peekOld', 'exports = async function () { await new Promise(function (resolve) { setTimeout(resolve, 2); }); return [typeof oldlib, typeof umdlib, typeof counter].join(","); };'),
    ], { modules: { folders: [modules] } });
    try {
      assert.equal(rt.perCallRealms, false, 'plain undeclared globals keep the shared frozen realm');
      const call = callOf(rt);
      const rounds = await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 3 === 2 ? call('peekOld') : call('useOld', [`u${i}`]))));
      rounds.forEach((answer, i) => {
        assert.equal(answer, i % 3 === 2 ? 'undefined,undefined,undefined' : `<u${i}>110.3.1,function,2,2`, `call ${i}`);
      });
    } finally {
      await rt.close();
    }
  });

  it("a module's globals are the call's: other modules and functions read them, the next call does not", async () => {
    const rt = runtime([
      fn('useLegacy', 'exports = function () { return [require("uses-legacy")(), legacyRuntime.version, typeof globalThis.legacyCount].join(","); };'),
      fn('peekLegacy', 'exports = function () { return typeof legacyRuntime + "," + typeof legacyCount; };'),
    ], { modules: { folders: [modules] } });
    try {
      assert.equal(rt.perCallRealms, true, 'the scan followed require("uses-legacy") to its global writes');
      const call = callOf(rt);
      assert.equal(await call('useLegacy'), '1/1,1,number');
      assert.equal(await call('peekLegacy'), 'undefined,undefined');
      assert.equal(await call('useLegacy'), '1/1,1,number', 'a fresh module instance and a fresh global each call');
    } finally {
      await rt.close();
    }
  });

  it('a module found writing built-ins when first compiled switches the app to per-call realms, loudly', async () => {
    const logged: Record<string, unknown>[] = [];
    const rt = runtime([
      fn('shout', 'exports = function (name, text) { require(name); return typeof text.shout === "function" ? text.shout() : "refused"; };'),
      fn('peekShout', 'exports = function () { return typeof "x".shout; };'),
    ], { modules: { folders: [modules] } }, logged);
    try {
      assert.equal(rt.perCallRealms, false);
      const call = callOf(rt);
      // The first call ran in the shared frozen realm, where the write is refused.
      assert.equal(await call('shout', ['string-helpers', 'hey']), 'refused');
      assert.ok(logged.some((l) => /string-helpers/.test(String(l.module)) && /extends built-ins/.test(String(l.msg))), JSON.stringify(logged));
      assert.equal(rt.perCallRealms, true);
      assert.equal(await call('shout', ['string-helpers', 'hey']), 'HEY!');
      assert.equal(await call('peekShout'), 'undefined');
    } finally {
      await rt.close();
    }
  });

  it('the shared frozen realm refuses a write it was not told about (strict code: a TypeError naming it)', async () => {
    const rt = runtime([
      // An alias the scan does not follow; strict code gets the engine's TypeError.
      fn('aliasStrict', `exports = function () { 'use strict'; var AP = [].constructor.prototype; AP.sneaky = 1; return "written"; };`),
      fn('aliasSloppy', 'exports = function () { var AP = [].constructor.prototype; AP.sneaky = 1; return typeof [].sneaky; };'),
    ]);
    try {
      assert.equal(rt.perCallRealms, false);
      const call = callOf(rt);
      await assert.rejects(call('aliasStrict'), /Cannot add property sneaky, object is not extensible/);
      assert.equal(await call('aliasSloppy'), 'undefined', 'nothing reaches the shared realm');
    } finally {
      await rt.close();
    }
  });

  it("the shared realm does not keep a call's last regular expression match for the next call", async () => {
    const rt = runtime([
      fn('match', 'exports = function (s) { return /token=(\\w+)/.exec(s)[1]; };'),
      fn('lastMatch', 'exports = function () { return [typeof RegExp.$1, typeof RegExp.lastMatch, typeof RegExp.input].join(","); };'),
    ]);
    try {
      const call = callOf(rt);
      assert.equal(await call('match', ['token=s3cret']), 's3cret');
      assert.equal(await call('lastMatch'), 'undefined,undefined,undefined');
    } finally {
      await rt.close();
    }
  });
});

describe('realms: an export whose login extends prototypes (realm-web)', () => {
  let server: TestServer;
  let app: Realm.App;

  before(async () => {
    const { config } = await loadAppDirectory(join(import.meta.dirname, 'fixtures', 'apps', 'realm-2022-portfolio'));
    server = await startServer(config);
    app = new Realm.App({ id: server.appId, baseUrl: server.url });
  });
  after(() => server.close());

  it('custom-function login whose function calls the prototype-extending utils works, and its functions use them', async () => {
    const user = await app.logIn(Realm.Credentials.function({ username: ' Ada ', sources: [{ name: 'broker' }, { name: 'bank' }] }));
    assert.equal(user.providerType, 'custom-function');
    // Again: the same account, found through its stored sources.
    const again = await app.logIn(Realm.Credentials.function({ username: 'ada', sources: [{ name: 'broker' }] }));
    assert.equal(again.id, user.id);

    const boughtAt = new Date(Date.UTC(2024, 4, 1));
    for (const symbol of ['MDB', 'AAPL']) await user.functions.callFunction('holdings/add', 'ada', symbol, boughtAt);
    const summary = (await user.functions.callFunction('holdings/summary', 'ada')) as Record<string, unknown>;
    assert.deepEqual(summary.symbols, ['AAPL', 'MDB']);
    assert.equal(summary.owner, 'Ada');
    assert.equal((summary.review as Date).toISOString(), '2024-05-31T00:00:00.000Z');
    assert.equal(summary.weight, 0.2);
    assert.equal(summary.last, 'AAPL');
    assert.equal(summary.helpers, true);
  });

  it('while one user’s call extends and awaits the database, another user’s call sees nothing of it, every round', async () => {
    const [ada, bob] = await Promise.all([
      app.logIn(Realm.Credentials.function({ username: 'ada' })),
      app.logIn(Realm.Credentials.function({ username: 'bob' })),
    ]);
    const untouched = { toDictionary: 'undefined', listToDictionary: 'undefined', capitalize: 'undefined', addDays: 'undefined', last: false, clamp: 'undefined', helpers: 'undefined' };
    for (let round = 0; round < 15; round++) {
      const [summary, seen, seenAgain] = await Promise.all([
        ada.functions.callFunction('holdings/summary', 'ada'),
        bob.functions.callFunction('holdings/untouched', 'ada'),
        ada.functions.callFunction('holdings/untouched', 'ada'),
      ]);
      assert.equal((summary as { owner: string }).owner, 'Ada', `round ${round}`);
      assert.deepEqual(seen, untouched, `round ${round}`);
      assert.deepEqual(seenAgain, untouched, `round ${round}`);
    }
  });

  it('the plan comes from the export itself: these functions made it per-call', () => {
    const plan = planRealms([
      { where: "function 'utils/prototypes'", source: UTILS },
      { where: "function 'holdings/untouched'", source: PEEK },
    ]);
    assert.deepEqual(plan.reasons.map((r) => r.where), ["function 'utils/prototypes'"]);
  });
});
