// Calls for one isolate that arrive in the same turn of the event loop are handed over in one
// message (src/functions/call-batches.ts); inside the isolate each still runs as if it came alone.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import pino from 'pino';
import { CallBatches } from '../src/functions/call-batches.js';
import { FunctionRuntime } from '../src/functions/runtime.js';
import { appConfig, appFunction, provider } from './helpers/server.js';

describe('call batches', () => {
  it('sends the calls of one turn in one batch per key, in order; a later turn starts a new batch', async () => {
    const sent: [string, number[]][] = [];
    const batches = new CallBatches<string, number>(async (key, calls) => {
      sent.push([key, [...calls]]);
      return 'ok';
    });
    const first = [batches.enter('a', 1), batches.enter('b', 10), batches.enter('a', 2), batches.enter('a', 3)];
    assert.deepEqual(sent, [], 'nothing is sent before the turn ends');
    assert.deepEqual(await Promise.all(first), ['ok', 'ok', 'ok', 'ok']);
    assert.deepEqual(sent, [['a', [1, 2, 3]], ['b', [10]]]);
    await batches.enter('a', 4);
    assert.deepEqual(sent.at(-1), ['a', [4]]);
  });

  it('a failed batch fails its own calls only, whether the send rejects or throws', async () => {
    let attempt = 0;
    const batches = new CallBatches<string, number>((_key, calls) => {
      attempt++;
      if (attempt === 1) return Promise.reject(new Error(`isolate disposed with ${calls.length}`));
      if (attempt === 2) throw new Error('could not send');
      return Promise.resolve(calls.length);
    });
    const failed = [batches.enter('k', 1), batches.enter('k', 2)];
    for (const p of failed) await assert.rejects(p, /isolate disposed with 2/);
    await assert.rejects(batches.enter('k', 3), /could not send/);
    assert.equal(await batches.enter('k', 4), 1);
  });
});

describe('functions: calls batched into one isolate', () => {
  let rt: FunctionRuntime;
  const run = (name: string, args: unknown[] = []) => rt.call({ name, argsEjson: JSON.stringify(args), user: null, runAsSystem: true }).then((t) => JSON.parse(t) as unknown);

  before(async () => {
    const functions = new Map([
      appFunction('sum', 'exports = function(a, b) { return a + b; };'),
      appFunction('fail', 'exports = function(why) { throw new Error(why); };'),
      appFunction('later', 'exports = async function(n) { await new Promise((r) => setTimeout(r, 20)); return n; };'),
      // Called once without looping first: a function's first call makes its factory through a
      // host call, whose nested task drains the isolate's microtasks and would hide the point.
      appFunction('spin', 'exports = function(loop) { if (loop) for (;;) {} return "warm"; };'),
      // Quick, but over a few microtask turns: longer than a later call of the batch takes to start.
      appFunction('ticks', 'exports = async function(n) { for (let i = 0; i < 4; i++) await null; return n; };'),
    ]);
    rt = new FunctionRuntime({ ...appConfig([provider('anon-user')], 'batch-app-abcde'), functions }, {
      timeoutMs: 1500,
      memoryMb: 64,
      isolates: 1,
      maxIsolates: 1,
      logger: pino({ level: 'silent' }),
    });
    await rt.warm();
  });
  after(() => rt.close());

  it('each call of a batch gets its own answer: results, errors and slower calls alike', async () => {
    const n = (i: number) => ({ $numberInt: String(i) });
    const calls = Array.from({ length: 30 }, (_, i) =>
      i % 3 === 0 ? run('sum', [n(i), n(1)]) : i % 3 === 1 ? run('fail', [`no ${i}`]).catch((e: Error) => e.message) : run('later', [n(i)]),
    );
    const answers = await Promise.all(calls);
    assert.deepEqual(
      answers,
      Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? n(i + 1) : i % 3 === 1 ? `no ${i}` : n(i))),
    );
  });

  it('a call batched before a runaway one still answers at once', async () => {
    assert.equal(await run('spin', [false]), 'warm');
    assert.equal(await run('ticks', ['warm']), 'warm');
    await nextTurn();
    const started = Date.now();
    const quick = run('ticks', ['done']);
    const loop = run('spin', [true]).then(() => 'returned', (e: Error) => e.message);
    assert.equal(await quick, 'done');
    assert.ok(Date.now() - started < 1000, `answered after ${Date.now() - started} ms, not held by the loop`);
    assert.match(await loop, /time limit/);
  });
});
