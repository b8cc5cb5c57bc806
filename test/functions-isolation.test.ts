// One call never touches another: work a function leaves pending (an un-awaited insertOne, a
// `.then` chain, a promise that rejects with nobody listening) stays inside its own call. The
// functions are written the way real exports write them, not the tidy way.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import * as Realm from 'realm-web';
import { BasteError } from '../src/errors.js';
import { FunctionRuntime } from '../src/functions/runtime.js';
import type { DataSourceConfig } from '../src/app/model.js';
import { appConfig, appFunction, autoConfirmUserpass, provider, role, startServer, type TestServer } from './helpers/server.js';

const DATA_SOURCE: DataSourceConfig = {
  name: 'mongodb-atlas',
  type: 'mongodb-atlas',
  defaultRules: { roles: [role('all', { read: true, write: true })], filters: [] },
  collections: new Map(),
};

const fn = appFunction;

describe('functions: pending work stays in its call', () => {
  let server: TestServer;
  let app: Realm.App;
  let alice: Realm.User;
  let bob: Realm.User;

  before(async () => {
    server = await startServer({
      ...appConfig([provider('anon-user'), autoConfirmUserpass()], 'iso-app-abcde'),
      dataSources: new Map([['mongodb-atlas', DATA_SOURCE]]),
      functions: new Map([
        // Fire and forget: the write is not awaited, the answer goes out at once.
        fn('logVisit', `exports = function(tag) {
          const visits = context.services.get("mongodb-atlas").db("app").collection("visits");
          visits.insertOne({ tag: tag, user: context.user.id });
          return "logged " + tag;
        };`),
        // A chain of writes left running.
        fn('logTwice', `exports = function(tag) {
          const visits = context.services.get("mongodb-atlas").db("app").collection("visits");
          visits.insertOne({ tag: tag + "-1" }).then(function () { return visits.insertOne({ tag: tag + "-2" }); });
          return "chained";
        };`),
        // An un-awaited write that fails (duplicate _id): nobody is listening.
        fn('failLater', `exports = function() {
          const visits = context.services.get("mongodb-atlas").db("app").collection("visits");
          visits.insertOne({ _id: "fixed-id" });
          visits.insertOne({ _id: "fixed-id" });
          return "fired";
        };`),
        // A rejection nobody handles while the call is still running.
        fn('rejectInside', `exports = async function() {
          Promise.reject(new Error("nobody listens to this"));
          const visits = context.services.get("mongodb-atlas").db("app").collection("visits");
          return (await visits.count({ tag: "nothing" })) + 1;
        };`),
        fn('whoAmI', 'exports = function(n) { return { me: context.user.id, n: n }; };'),
        fn('countTag', `exports = function(tag) {
          return context.services.get("mongodb-atlas").db("app").collection("visits").count({ tag: tag });
        };`, { runAsSystem: true }),
      ]),
    });
    app = new Realm.App({ id: server.appId, baseUrl: server.url });
    alice = await app.logIn(Realm.Credentials.anonymous(false));
    bob = await app.logIn(Realm.Credentials.anonymous(false));
  });
  after(() => server.close());

  it('an un-awaited write completes before the call answers: nothing is lost', async () => {
    for (let i = 0; i < 10; i++) assert.equal(await alice.functions.logVisit(`t${i}`), `logged t${i}`);
    for (let i = 0; i < 10; i++) assert.equal(await alice.functions.countTag(`t${i}`), 1, `write t${i}`);
    assert.equal(await alice.functions.logTwice('chain'), 'chained');
    assert.equal(await alice.functions.countTag('chain-1'), 1);
    assert.equal(await alice.functions.countTag('chain-2'), 1);
  });

  it("A's failing pending work never becomes B's answer, under concurrency, every time", async () => {
    const rounds = 20;
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < rounds; i++) {
      calls.push(alice.functions.failLater().then((v) => ['alice', v], (e: Error) => ['alice-error', e.message]));
      calls.push(alice.functions.rejectInside().then((v) => ['alice2', v], (e: Error) => ['alice2-error', e.message]));
      calls.push(bob.functions.whoAmI(i).then((v) => ['bob', v], (e: Error) => ['bob-error', e.message]));
    }
    const results = (await Promise.all(calls)) as [string, unknown][];
    const bobs = results.filter(([who]) => who.startsWith('bob'));
    assert.equal(bobs.length, rounds);
    for (const [who, value] of bobs) {
      assert.equal(who, 'bob', `bob got an error: ${String(value)}`);
      assert.equal((value as { me: string }).me, bob.id);
    }
    assert.deepEqual(new Set(bobs.map(([, v]) => (v as { n: number }).n)), new Set(Array.from({ length: rounds }, (_, i) => i)));
    // A's own calls answer what A's functions returned: the failures they left behind are theirs alone.
    for (const [who, value] of results.filter(([w]) => w.startsWith('alice'))) {
      if (who === 'alice') assert.equal(value, 'fired');
      else assert.deepEqual([who, value], ['alice2', 1]);
    }
    // And after the storm, calls still answer correctly.
    assert.deepEqual(await bob.functions.whoAmI(99), { me: bob.id, n: 99 });
  });
});

describe('functions: a runaway call fails alone', () => {
  const logged: string[] = [];
  let rt: FunctionRuntime;
  const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const until = async (what: () => boolean) => {
    for (let i = 0; i < 300 && !what(); i++) await delay(10);
    assert.ok(what());
  };
  const run = (name: string, args: unknown[] = []) => rt.call({ name, argsEjson: JSON.stringify(args), user: null, runAsSystem: true }).then((t) => JSON.parse(t) as unknown);

  before(async () => {
    const functions = new Map([
      fn('spin', 'exports = function() { while (true) {} };'),
      fn('spinLater', 'exports = async function() { await null; for (;;) {} };'),
      fn('sum', 'exports = function(a, b) { return a + b; };'),
    ]);
    rt = new FunctionRuntime({ ...appConfig([provider('anon-user')], 'run-app-abcde'), functions }, {
      // Long enough for all three loops to be held at once on a loaded machine (at 1500 ms the
      // first loop's limit sometimes ended it first, before and after call batching alike).
      timeoutMs: 3000,
      memoryMb: 64,
      isolates: 1,
      maxIsolates: 3,
      logger: pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line).msg) }),
    });
    await rt.warm();
  });
  after(() => rt.close());

  it('calls keep being answered while loops hold isolates; past the limit a call is refused with 503, not queued', async () => {
    const loops: Promise<unknown>[] = [];
    const settled: boolean[] = [];
    const start = (name: string) => {
      const i = loops.length;
      settled.push(false);
      loops.push(run(name).then(() => 'returned', (e: Error) => e.message).finally(() => (settled[i] = true)));
    };
    start('spin');
    await until(() => rt.stuckIsolates === 1);
    // The isolate held by the loop gets no new work: another one serves it.
    assert.deepEqual(await run('sum', [{ $numberInt: '1' }, { $numberInt: '2' }]), { $numberInt: '3' });
    start('spinLater');
    await until(() => rt.stuckIsolates === 2);
    const sums = await Promise.all(Array.from({ length: 20 }, (_, i) => run('sum', [{ $numberInt: String(i) }, { $numberInt: '1' }])));
    assert.deepEqual(sums, Array.from({ length: 20 }, (_, i) => ({ $numberInt: String(i + 1) })));
    assert.deepEqual(settled, [false, false], 'the loops were still running while the sums were answered');
    start('spin');
    await until(() => rt.stuckIsolates === 3);
    assert.equal(rt.isolateCount, 3);
    // Every isolate is held and no more may start: refused at once, with the code clients can retry on.
    await assert.rejects(run('sum', [1, 2]), (e: unknown) => e instanceof BasteError && e.code === 'ServiceUnavailable' && e.details.retryAfterSeconds === 1);
    const ended = await Promise.all(loops);
    assert.ok(ended.every((m) => /time limit/.test(String(m))), String(ended));
    assert.deepEqual(await run('sum', [{ $numberInt: '2' }, { $numberInt: '2' }]), { $numberInt: '4' });
    assert.ok(logged.some((l) => /started one more/.test(l)));
  });
});

describe('functions: a busy isolate is not taken for a runaway one', () => {
  const logged: string[] = [];
  let rt: FunctionRuntime;
  const run = (name: string, args: unknown[] = []) => rt.call({ name, argsEjson: JSON.stringify(args), user: null, runAsSystem: true }).then((t) => JSON.parse(t) as unknown);

  before(async () => {
    const functions = new Map([
      // A few ms of work each: 100 of them queue far longer than the monitor's 50 ms.
      fn('work', 'exports = function(n) { const end = Date.now() + 5; while (Date.now() < end) {} return n; };'),
      fn('wait', 'exports = async function(ms) { await new Promise((r) => setTimeout(r, ms)); return ms; };'),
    ]);
    rt = new FunctionRuntime({ ...appConfig([provider('anon-user')], 'run-app-abcde'), functions }, {
      timeoutMs: 5000,
      memoryMb: 64,
      isolates: 1,
      maxIsolates: 4,
      logger: pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line).msg) }),
    });
    await rt.warm();
  });
  after(() => rt.close());

  it('a long queue of calls that all finish starts no extra isolate', async () => {
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => run('work', [{ $numberInt: String(i) }])));
    assert.deepEqual(answers, Array.from({ length: 100 }, (_, i) => ({ $numberInt: String(i) })));
    assert.equal(rt.isolateCount, 1);
    assert.ok(!logged.some((l) => /started one more/.test(l)), logged.join('\n'));
  });

  it('a pause of the main thread while calls wait starts no extra isolate', async () => {
    const waiting = Promise.all(Array.from({ length: 10 }, () => run('wait', [{ $numberInt: '400' }])));
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 12; i++) {
      // Let the monitor send a ping, then hold this thread (a long GC, a big parse) past the
      // stuck limit and call at once, before the ping's answer is read.
      await new Promise((resolve) => setTimeout(resolve, 3 + (i % 4) * 5));
      const end = Date.now() + 80;
      while (Date.now() < end);
      calls.push(run('work', [{ $numberInt: String(i) }]));
    }
    await Promise.all([waiting, ...calls]);
    assert.equal(rt.isolateCount, 1);
    assert.ok(!logged.some((l) => /started one more/.test(l)), logged.join('\n'));
  });
});
