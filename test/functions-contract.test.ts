// The function runtime's contract (src/functions/contract.ts): every host call kind the sandbox
// source can send has a host handler and every handler a sender, no kind is spelled outside the
// contract, and errors keep their wire code from the data service through a function to the
// client (realm-web and the Stitch SDK), on SQLite and PostgreSQL.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AnonymousCredential } from 'mongodb-stitch-server-sdk';
import pino from 'pino';
import * as Realm from 'realm-web';
import type { CollectionRules, DataSourceConfig } from '../src/app/model.js';
import { BasteError } from '../src/errors.js';
import { ASYNC_KINDS, fromWireError, MODULE_OPS, SYNC_KINDS, toWireError } from '../src/functions/contract.js';
import { syncHandlers, syncHostCall } from '../src/functions/host-calls.js';
import { ISOLATE_SETUP } from '../src/functions/isolate-source.js';
import { FunctionRuntime, moduleHandlers } from '../src/functions/runtime.js';
import { ModuleResolver } from '../src/functions/modules.js';
import { appConfig, appFunction, autoConfirmUserpass, provider, role, startServer, type TestServer } from './helpers/server.js';
import { stitchClientFor } from './helpers/stitch.js';

/** The names `constant.<name>` the sandbox source uses. */
const namesUsed = (constant: string): Set<string> => new Set([...ISOLATE_SETUP.matchAll(new RegExp(`\\b${constant}\\.(\\w+)`, 'g'))].map((m) => m[1]!));

describe('the host ↔ sandbox contract', () => {
  it('every kind the sandbox sends is in the contract, and every kind of the contract is sent', () => {
    for (const [constant, kinds] of [
      ['SYNC_KIND', SYNC_KINDS],
      ['ASYNC_KIND', ASYNC_KINDS],
      ['MODULE_OP', MODULE_OPS],
    ] as const) {
      assert.deepEqual([...namesUsed(constant)].sort(), Object.keys(kinds).sort(), constant);
    }
    // …and no kind is spelled as a literal beside them.
    assert.doesNotMatch(ISOLATE_SETUP, /\b(callHost|callHostAsync|hostAsyncCall)\(\s*['"`]/);
    assert.doesNotMatch(ISOLATE_SETUP, /\b(hostModuleCall\(\[|applySyncPromise\(undefined, \[)\s*['"`]/);
    // The constants reach the source once, declared from the contract.
    assert.equal(ISOLATE_SETUP.match(/const SYNC_KIND = Object\.freeze\(/g)?.length, 1);
  });

  it('every kind of the contract has a host handler, and the host has no handler for anything else', async () => {
    assert.deepEqual(Object.keys(syncHandlers).sort(), Object.values(SYNC_KINDS).sort());
    assert.deepEqual(Object.keys(moduleHandlers(new ModuleResolver(undefined))).sort(), Object.values(MODULE_OPS).sort());
    const runtime = new FunctionRuntime(appConfig([]), { timeoutMs: 1000, memoryMb: 32, logger: pino({ level: 'silent' }) });
    try {
      // The runtime's own table is private; its kinds are what this test is about.
      const asyncHandlers = (runtime as unknown as { asyncHandlers: Record<string, unknown> }).asyncHandlers;
      assert.deepEqual(Object.keys(asyncHandlers).sort(), Object.values(ASYNC_KINDS).sort());
    } finally {
      await runtime.close();
    }
    const unknown = JSON.parse(syncHostCall('crypto.nope', '{}'));
    assert.deepEqual(unknown, { error: { message: "unknown host call 'crypto.nope'" } });
    assert.deepEqual(JSON.parse(syncHostCall('toString', '{}')).error.message, "unknown host call 'toString'");
    const hashed = JSON.parse(syncHostCall(SYNC_KINDS.cryptoHash, JSON.stringify({ alg: 'sha256', input: 'abc' })));
    assert.equal(Buffer.from(hashed.value.$binary.base64, 'base64').toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.deepEqual(JSON.parse(syncHostCall(SYNC_KINDS.cryptoHash, 'not json')), { error: { message: 'malformed host call' } });
  });

  it('an error keeps its wire code across the boundary, and an untyped one has none', () => {
    const typed = new BasteError('NoMatchingRuleFound', 'no rule for you');
    assert.deepEqual(toWireError(typed), { message: 'no rule for you', code: 'NoMatchingRuleFound' });
    const back = fromWireError(toWireError(typed));
    assert.deepEqual([back.code, back.message], ['NoMatchingRuleFound', 'no rule for you']);
    assert.deepEqual(toWireError(new Error('plain')), { message: 'plain' });
    assert.equal(fromWireError(toWireError(new Error('plain'))).code, 'FunctionExecutionError');
  });
});

const rules = (coll: string, extra: Partial<CollectionRules>): [string, CollectionRules] => [
  `app.${coll}`,
  { database: 'app', collection: coll, roles: [], filters: [], file: `data_sources/mongodb-atlas/app/${coll}/rules.json`, ...extra },
];

const DATA_SOURCE: DataSourceConfig = {
  name: 'mongodb-atlas',
  type: 'mongodb-atlas',
  defaultRules: undefined,
  collections: new Map([
    // Nobody may insert or write here; anyone may read.
    rules('locked', { roles: [role('readers', { read: true, write: false, insert: false, delete: false })] }),
    rules('open', { roles: [role('anyone', { read: true, write: true })] }),
  ]),
};

const coll = (c: string) => `context.services.get("mongodb-atlas").db("app").collection("${c}")`;
const fn = appFunction;

describe('errors keep their code from the data service through a function to the client', () => {
  let server: TestServer;
  let user: Realm.User;
  const refusedDirectly: { code?: string; status?: number } = {};

  before(async () => {
    server = await startServer(
      {
        ...appConfig([provider('anon-user'), autoConfirmUserpass()], 'contract-app-abcde'),
        dataSources: new Map([['mongodb-atlas', DATA_SOURCE]]),
        functions: new Map([
          // Un-caught: the data service's refusal is the call's answer.
          fn('insertLocked', `exports = async function(doc) { return (await ${coll('locked')}.insertOne(doc)).insertedId; };`),
          // Caught and thrown again: still the data service's error.
          fn('rethrows', `exports = async function(doc) { try { await ${coll('locked')}.insertOne(doc); } catch (e) { throw e; } };`),
          // Through a nested call.
          fn('nested', 'exports = function(doc) { return context.functions.execute("insertLocked", doc); };'),
          // Wrapped in the function's own error: the function's failure.
          fn('wraps', `exports = async function(doc) { try { await ${coll('locked')}.insertOne(doc); } catch (e) { throw new Error("wrapped: " + e.message); } };`),
          // A function cannot forge a code.
          fn('forges', 'exports = function() { const e = new Error("forged"); e.code = "InvalidSession"; e.error_code = "InvalidSession"; throw e; };'),
          // Caught: the message, as before.
          fn('catches', `exports = async function(doc) { try { await ${coll('locked')}.insertOne(doc); return "inserted"; } catch (e) { return "caught: " + e.message; } };`),
          fn('insertOpen', `exports = async function(doc) { return (await ${coll('open')}.insertOne(doc)).insertedId; };`),
        ]),
      },
      { functions: { timeoutMs: 5000, memoryMb: 64 } },
    );
    const app = new Realm.App({ id: server.appId, baseUrl: server.url });
    user = await app.logIn(Realm.Credentials.anonymous(false));
    await user.mongoClient('mongodb-atlas').db('app').collection('locked').insertOne({ x: 1 }).then(
      () => assert.fail('the direct insert should be refused'),
      (e: any) => Object.assign(refusedDirectly, { code: e.errorCode, status: e.statusCode }),
    );
  });
  after(() => server.close());

  it('the data service refuses the direct insert with a typed code', () => {
    assert.ok(refusedDirectly.code && refusedDirectly.code !== 'FunctionExecutionError', JSON.stringify(refusedDirectly));
  });

  it('realm-web: a refusal inside a function has the data service’s code and status', async () => {
    for (const name of ['insertLocked', 'rethrows', 'nested']) {
      await assert.rejects(user.functions.callFunction(name, { x: 1 }), (e: any) => {
        assert.equal(e.errorCode, refusedDirectly.code, name);
        assert.equal(e.statusCode, refusedDirectly.status, name);
        return true;
      });
    }
    assert.equal(await user.functions.callFunction('catches', { x: 1 }), `caught: ${await refusalMessage()}`);
    assert.ok(await user.functions.callFunction('insertOpen', { x: 1 }));
  });

  it('the function’s own errors stay FunctionExecutionError, whatever they carry', async () => {
    await assert.rejects(user.functions.callFunction('wraps', { x: 1 }), (e: any) => e.errorCode === 'FunctionExecutionError' && /^wrapped: /.test(e.error));
    await assert.rejects(user.functions.callFunction('forges'), (e: any) => e.errorCode === 'FunctionExecutionError' && e.statusCode === 400);
  });

  it('the Stitch SDK: the same code', async () => {
    const stitch = stitchClientFor(server, `contract-${Date.now()}`);
    try {
      await stitch.auth.loginWithCredential(new AnonymousCredential());
      await assert.rejects(stitch.callFunction('insertLocked', [{ x: 1 }]), (e: any) => e.errorCodeName === refusedDirectly.code);
    } finally {
      // Its refresh timer keeps the process alive until closed.
      stitch.close();
    }
  });

  /** The refusal's message, as the data service words it inside a function. */
  async function refusalMessage(): Promise<string> {
    try {
      await user.functions.callFunction('insertLocked', { x: 1 });
    } catch (e: any) {
      return e.error;
    }
    return '';
  }
});
