// Functions that run as a configured user (`run_as_user_id`, `run_as_user_id_script_source`) from
// clients, endpoints, webhooks and nested calls, and `create_user_on_auth` on HTTPS endpoints.
// Users the config names are written into the server's store before the first call, with ids the
// test chose; every refusal also checks that the function wrote nothing.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EJSON } from 'bson';
import { SignJWT } from 'jose';
import type { CollectionRules, DataSourceConfig, FunctionConfig, WebhookConfig } from '../src/app/model.js';
import { appConfig, appFunction, endpointConfig, provider, role, webhookConfig, startServer, type TestServer } from './helpers/server.js';

const APP_ID = 'runas-app-abcde';
const JWT_KEY = 'execution-users-signing-key-0123456789abcdef';
const ALICE = '65a000000000000000a11ce1';
const BOB = '65a000000000000000000b0b';
const CAROL = '65a0000000000000000ca401'; // disabled
const GHOST = '65a0000000000000000d0e5f'; // never created


const notesRules: CollectionRules = {
  database: 'app',
  collection: 'notes',
  // Owners see their own notes; nobody else sees any.
  roles: [role('owner', { applyWhen: { owner: '%%user.id' }, read: true, write: { owner: '%%user.id' } })],
  filters: [],
  file: 'data_sources/mongodb-atlas/app/notes/rules.json',
};

const DATA_SOURCE: DataSourceConfig = {
  name: 'mongodb-atlas',
  type: 'mongodb-atlas',
  // Everything else (the `log` collection) is open to everyone, so a function that ran could write.
  defaultRules: { roles: [role('all', { read: true, write: true })], filters: [] },
  collections: new Map([['app.notes', notesRules]]),
};

const fn = appFunction;

const db = 'context.services.get("mongodb-atlas").db("app")';

/** Reports who it runs as and which notes the rules let it see; writes a marker to `log` first. */
const REPORT = `exports = async function(...args) {
  await ${db}.collection("log").insertOne({ ran: "%NAME%" });
  const notes = await ${db}.collection("notes").find({}).toArray();
  return {
    user: context.user.id || null,
    system: context.runningAsSystem(),
    titles: notes.map((n) => n.title).sort(),
    inherited: await context.functions.execute("who"),
  };
};`;
const report = (name: string, extra: Partial<FunctionConfig>) => fn(name, REPORT.replace('%NAME%', name), extra);

/** The endpoint form of REPORT: `(payload, response)`. */
const REPORT_HTTP = `exports = async function(payload, response) {
  await ${db}.collection("log").insertOne({ ran: "%NAME%" });
  const notes = await ${db}.collection("notes").find({}).toArray();
  return { user: context.user.id || null, system: context.runningAsSystem(), titles: notes.map((n) => n.title).sort() };
};`;
const reportHttp = (name: string, extra: Partial<FunctionConfig>) => fn(name, REPORT_HTTP.replace('%NAME%', name), { private: true, ...extra });

/** A run-as-Alice callee: its reads, context.user and context.request. */
const ALICE_READS = `exports = async function() {
  const notes = await ${db}.collection("notes").find({}).toArray();
  return { user: context.user.id, ip: context.request.remoteIPAddress, type: context.request.requestHeaders["Content-Type"], titles: notes.map((n) => n.title).sort() };
};`;
/** Reads before, after and alongside nested run-as-Alice calls: each read must stay the caller's. */
const AROUND_ALICE = `exports = async function() {
  const titles = async () => (await ${db}.collection("notes").find({}).toArray()).map((n) => n.title).sort();
  const before = await titles();
  const inner = await context.functions.execute("aliceReads");
  const after = await titles();
  const parallel = await Promise.all([titles(), context.functions.execute("aliceReads").then((r) => r.titles), titles()]);
  return { user: context.user.id, ip: context.request.remoteIPAddress, before, inner, after, parallel, whoAfter: await context.functions.execute("who") };
};`;

const FUNCTIONS = new Map([
  fn('seed', `exports = async function(notes) { await ${db}.collection("notes").insertMany(notes); return true; };`, { runAsSystem: true }),
  fn('ranCount', `exports = function(name) { return ${db}.collection("log").count({ ran: name }); };`, { runAsSystem: true }),
  fn('createdCount', `exports = function(userId) { return ${db}.collection("created").count({ userId }); };`, { runAsSystem: true }),
  fn('onCreate', `exports = async function(user) { await ${db}.collection("created").insertOne({ userId: user.id }); };`, { private: true }),
  // Application auth: runs as whoever calls it, so it shows what a nested call inherits.
  fn('who', 'exports = function() { return { user: context.user.id || null, system: context.runningAsSystem() }; };'),
  report('asAlice', { runAsUserId: ALICE }),
  report('asGhost', { runAsUserId: GHOST }),
  report('asCarol', { runAsUserId: CAROL }),
  report('systemWins', { runAsSystem: true, runAsUserId: ALICE }),
  report('scriptedBob', { runAsUserIdScriptSource: `function() { return "${BOB}"; }` }),
  // The script runs as the system user and receives the call's arguments.
  report('scriptedArg', {
    runAsUserIdScriptSource: 'function(who) { if (!context.runningAsSystem()) return "not-system"; return who === "system" ? { runAsSystemUser: true } : who; }',
  }),
  report('scriptedGarbage', { runAsUserIdScriptSource: 'function() { return 42; }' }),
  report('scriptedThrows', { runAsUserIdScriptSource: 'function() { throw new Error("no user for you"); }' }),
  fn('callsAlice', 'exports = async function() { return { outer: context.user.id, inner: await context.functions.execute("asAlice") }; };'),
  fn('systemCallsAlice', 'exports = async function() { return { outer: context.runningAsSystem(), inner: await context.functions.execute("asAlice") }; };', { runAsSystem: true }),
  fn('callsScripted', 'exports = async function(who) { return context.functions.execute("scriptedArg", who); };'),
  fn('callsGhost', 'exports = async function() { try { await context.functions.execute("asGhost"); return "ran"; } catch (e) { return e.message; } };'),
  fn('callsInternal', `exports = async function(name) { try { await context.functions.execute(name); return "ran"; } catch (e) { return e.message; } };`),
  reportHttp('aliceHttp', { runAsUserId: ALICE }),
  reportHttp('scriptedHttp', { runAsUserIdScriptSource: 'function(payload) { return payload.query.who; }' }),
  reportHttp('whoHttp', {}),
  fn('aliceReads', ALICE_READS, { runAsUserId: ALICE }),
  fn('bobAroundAlice', AROUND_ALICE, { runAsUserId: BOB }),
  fn('callerAroundAlice', AROUND_ALICE),
]);

const endpoint = endpointConfig;

const webhook = (name: string, extra: Partial<WebhookConfig>): WebhookConfig => webhookConfig(name, REPORT_HTTP.replace('%NAME%', `hook-${name}`), extra);

async function jwtFor(sub: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ aud: APP_ID, sub, exp: now + 600, iat: now, name: sub })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode(JWT_KEY));
}

describe('execution users and create_user_on_auth', () => {
  let server: TestServer;
  let token: string;
  let anonId: string;

  const call = async (name: string, args: unknown[] = []) => {
    const res = await fetch(`${server.url}/api/client/v2.0/app/${APP_ID}/functions/call`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ name, arguments: args }),
    });
    // Canonical EJSON: relaxed parsing turns {$numberInt} into plain numbers.
    return { status: res.status, body: EJSON.parse(await res.text(), { relaxed: true }) as any };
  };
  const ranCount = async (name: string) => (await call('ranCount', [name])).body as number;
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${server.url}${path}`, { headers });
    return { status: res.status, body: await res.json() };
  };
  const ep = (route: string, headers: Record<string, string> = {}) => get(`/app/${APP_ID}/endpoint${route}`, headers);
  const hook = (name: string, headers: Record<string, string> = {}) => get(`/api/client/v2.0/app/${APP_ID}/service/http/incoming_webhook/${name}`, headers);

  before(async () => {
    const jwt = provider('custom-token', { signingAlgorithm: 'HS256' }, { secretConfigLists: { signingKeys: ['jwt-key'] } });
    const app = {
      ...appConfig([provider('anon-user'), jwt], APP_ID),
      secrets: new Map([['jwt-key', JWT_KEY]]),
      dataSources: new Map([['mongodb-atlas', DATA_SOURCE]]),
      customUserData: { serviceName: 'mongodb-atlas', database: 'app', collection: 'custom', userIdField: 'userId', onUserCreationFunctionName: 'onCreate' },
      functions: FUNCTIONS,
      endpoints: [
        endpoint('/alice', 'aliceHttp'),
        endpoint('/scripted', 'scriptedHttp'),
        endpoint('/jwt-create', 'whoHttp', { createUserOnAuth: true }),
        endpoint('/jwt-nocreate', 'whoHttp', { createUserOnAuth: false }),
      ],
      webhooks: [
        webhook('aliceHook', { runAsUserId: ALICE }),
        webhook('ghostHook', { runAsUserId: GHOST }),
        webhook('authedCreate', { runAsAuthedUser: true, createUserOnAuth: true }),
        webhook('authedOnly', { runAsAuthedUser: true }),
      ],
    };
    server = await startServer(app, { functions: { timeoutMs: 5000, memoryMb: 64 } });
    // The users the config names, with the ids it names them by.
    const store = server.baste.store;
    for (const [id, sub] of [[ALICE, 'alice'], [BOB, 'bob'], [CAROL, 'carol']] as const) {
      const identity = { externalId: sub, providerName: 'custom-token', providerType: 'custom-token', providerId: jwt.id, data: { name: sub } };
      const made = await store.loginIdentity({ identity, newUserId: id, userType: 'normal', now: Date.now() });
      assert.equal(made.userId, id);
    }
    await store.setUserDisabled(CAROL, true);
    const login = await fetch(`${server.url}/api/client/v2.0/app/${APP_ID}/auth/providers/anon-user/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    ({ access_token: token, user_id: anonId } = (await login.json()) as { access_token: string; user_id: string });
    const seeded = await call('seed', [[
      { owner: ALICE, title: 'a1' },
      { owner: ALICE, title: 'a2' },
      { owner: BOB, title: 'b1' },
      { owner: CAROL, title: 'c1' },
    ]]);
    assert.equal(seeded.status, 200);
  });
  after(() => server.close());

  const ALL = ['a1', 'a2', 'b1', 'c1'];

  it('run_as_user_id: a client call runs as that user: rules show only its notes and context.user is it', async () => {
    const res = await call('asAlice');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { user: ALICE, system: false, titles: ['a1', 'a2'], inherited: { user: ALICE, system: false } });
  });

  it('run_as_system overrides run_as_user_id: every note, context.user stays the caller', async () => {
    const res = await call('systemWins');
    assert.deepEqual([res.status, res.body.user, res.body.system, res.body.titles], [200, anonId, true, ALL]);
  });

  it('run_as_user_id naming an unknown or a disabled user: refused before the function runs', async () => {
    for (const name of ['asGhost', 'asCarol']) {
      const res = await call(name);
      assert.equal(res.status, 400, name);
      assert.equal(res.body.error_code, 'FunctionExecutionError');
      assert.match(res.body.error, new RegExp(`function '${name}' runs as a user that does not exist or is disabled`));
      assert.equal(await ranCount(name), 0, `${name} wrote nothing`);
    }
  });

  it('run_as_user_id_script_source returning a user id runs as that user', async () => {
    const res = await call('scriptedBob');
    assert.equal(res.status, 200);
    assert.deepEqual([res.body.user, res.body.system, res.body.titles], [BOB, false, ['b1']]);
  });

  it('the script runs as the system user with the call arguments; {runAsSystemUser: true} sees everything', async () => {
    const asBob = await call('scriptedArg', [BOB]);
    assert.deepEqual([asBob.status, asBob.body.user, asBob.body.titles], [200, BOB, ['b1']]);
    const asSystem = await call('scriptedArg', ['system']);
    assert.equal(asSystem.status, 200);
    assert.deepEqual([asSystem.body.user, asSystem.body.system, asSystem.body.titles], [anonId, true, ALL]);
    assert.deepEqual(asSystem.body.inherited, { user: anonId, system: true });
  });

  it('a script returning anything else, a user that does not exist, or throwing: refused, nothing written', async () => {
    const garbage = await call('scriptedGarbage');
    assert.equal(garbage.status, 400);
    assert.equal(garbage.body.error_code, 'FunctionExecutionError');
    assert.match(garbage.body.error, /must return a user id string or \{runAsSystemUser: true\}/);
    assert.equal(await ranCount('scriptedGarbage'), 0);

    const unknown = await call('scriptedArg', [GHOST]);
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error, /chose a user that does not exist or is disabled/);
    const disabled = await call('scriptedArg', [CAROL]);
    assert.equal(disabled.status, 400);

    const thrown = await call('scriptedThrows');
    assert.equal(thrown.status, 400);
    assert.match(thrown.body.error, /run_as_user_id_script_source of function 'scriptedThrows' failed: .*no user for you/);
    assert.equal(await ranCount('scriptedThrows'), 0);
    // Both refused scriptedArg calls ran nothing; the two earlier successful ones did.
    assert.equal(await ranCount('scriptedArg'), 2);
  });

  it('nested context.functions.execute of a run-as-user function runs it as its user, from a user or a system function', async () => {
    const fromUser = await call('callsAlice');
    assert.equal(fromUser.status, 200);
    assert.equal(fromUser.body.outer, anonId);
    assert.deepEqual(fromUser.body.inner, { user: ALICE, system: false, titles: ['a1', 'a2'], inherited: { user: ALICE, system: false } });
    const fromSystem = await call('systemCallsAlice');
    assert.equal(fromSystem.body.outer, true);
    assert.deepEqual([fromSystem.body.inner.user, fromSystem.body.inner.system, fromSystem.body.inner.titles], [ALICE, false, ['a1', 'a2']]);
    const scripted = await call('callsScripted', [BOB]);
    assert.deepEqual([scripted.status, scripted.body.user, scripted.body.titles], [200, BOB, ['b1']]);
  });

  it('a nested call of a function whose user does not exist fails inside the caller and runs nothing', async () => {
    const before = await ranCount('asGhost');
    const res = await call('callsGhost');
    assert.equal(res.status, 200);
    assert.match(res.body, /function 'asGhost' runs as a user that does not exist or is disabled/);
    assert.equal(await ranCount('asGhost'), before);
  });

  it('run-as scripts and webhook sources are not callable from functions', async () => {
    for (const name of ['run_as_user_id_script_source:scriptedBob', '__webhook/http/aliceHook']) {
      const res = await call('callsInternal', [name]);
      assert.equal(res.body, `function not found: '${name}'`);
    }
    assert.equal(await ranCount('hook-aliceHook'), 0);
  });

  it('an endpoint whose function runs as a user id needs no credentials and runs as that user', async () => {
    const res = await ep('/alice');
    assert.deepEqual([res.status, res.body], [200, { user: ALICE, system: false, titles: ['a1', 'a2'] }]);
  });

  it("an endpoint's run-as script receives the payload; a bad choice is refused and runs nothing", async () => {
    const bob = await ep(`/scripted?who=${BOB}`);
    assert.deepEqual([bob.status, bob.body.user, bob.body.titles], [200, BOB, ['b1']]);
    const ghost = await ep(`/scripted?who=${GHOST}`);
    assert.equal(ghost.status, 400);
    assert.equal(ghost.body.error_code, 'FunctionExecutionError');
    const none = await ep('/scripted');
    assert.equal(none.status, 400);
    assert.equal(await ranCount('scriptedHttp'), 1);
  });

  it('webhooks share the lookup: run_as_user_id runs as that user; an unknown one is refused', async () => {
    const alice = await hook('aliceHook');
    assert.deepEqual([alice.status, alice.body], [200, { user: ALICE, system: false, titles: ['a1', 'a2'] }]);
    const ghost = await hook('ghostHook');
    assert.equal(ghost.status, 401);
    assert.equal(ghost.body.error_code, 'IncomingWebhookAuthFailed');
    assert.equal(await ranCount('hook-ghostHook'), 0);
  });

  it('create_user_on_auth: a valid JWT without a user creates it once (creation function included), then reuses it', async () => {
    const store = server.baste.store;
    const jwtUsers = async () => (await store.listUsers({ limit: 1000, providerTypes: ['custom-token'] })).length;
    const usersBefore = await jwtUsers();
    const headers = { jwtTokenString: await jwtFor('fresh-sub') };
    const first = await ep('/jwt-create', headers);
    assert.equal(first.status, 200);
    assert.equal(first.body.system, false);
    const owner = await store.findIdentityOwner('custom-token', 'fresh-sub');
    assert.equal(first.body.user, owner?.userId);
    assert.equal(await jwtUsers(), usersBefore + 1);
    assert.equal((await call('createdCount', [first.body.user])).body, 1);

    const second = await ep('/jwt-create', { jwtTokenString: await jwtFor('fresh-sub') });
    assert.deepEqual([second.status, second.body.user], [200, first.body.user]);
    assert.equal(await jwtUsers(), usersBefore + 1);
    assert.equal((await call('createdCount', [first.body.user])).body, 1);
    // Once the user exists, an endpoint without the flag accepts the same credentials.
    const existing = await ep('/jwt-nocreate', { jwtTokenString: await jwtFor('fresh-sub') });
    assert.deepEqual([existing.status, existing.body.user], [200, first.body.user]);
  });

  it('without create_user_on_auth a valid JWT without a user is 401 and creates nothing', async () => {
    const store = server.baste.store;
    const usersBefore = (await store.listUsers({ limit: 1000 })).length;
    const res = await ep('/jwt-nocreate', { jwtTokenString: await jwtFor('stranger-sub') });
    assert.equal(res.status, 401);
    assert.equal(res.body.error_code, 'IncomingWebhookAuthFailed');
    assert.equal(await store.findIdentityOwner('custom-token', 'stranger-sub'), null);
    assert.equal((await store.listUsers({ limit: 1000 })).length, usersBefore);
    const ranBefore = await ranCount('whoHttp');
    // A forged token is refused even where users would be created.
    const forged = await ep('/jwt-create', { jwtTokenString: `${await jwtFor('forged-sub')}x` });
    assert.equal(forged.status, 401);
    assert.equal(await store.findIdentityOwner('custom-token', 'forged-sub'), null);
    assert.equal(await ranCount('whoHttp'), ranBefore);
  });

  it('webhooks with run_as_authed_user honour create_user_on_auth the same way', async () => {
    const store = server.baste.store;
    const refused = await hook('authedOnly', { jwtTokenString: await jwtFor('hook-sub') });
    assert.equal(refused.status, 401);
    assert.equal(await store.findIdentityOwner('custom-token', 'hook-sub'), null);
    const created = await hook('authedCreate', { jwtTokenString: await jwtFor('hook-sub') });
    assert.equal(created.status, 200);
    assert.equal(created.body.user, (await store.findIdentityOwner('custom-token', 'hook-sub'))?.userId);
    const reused = await hook('authedOnly', { jwtTokenString: await jwtFor('hook-sub') });
    assert.deepEqual([reused.status, reused.body.user], [200, created.body.user]);
  });

  it("a nested run-as-user callee's data-service calls are its user's; the caller's before, after and alongside stay the caller's", async () => {
    const aliceSees = { user: ALICE, ip: '127.0.0.1', type: ['application/json'], titles: ['a1', 'a2'] };
    const bob = await call('bobAroundAlice');
    assert.equal(bob.status, 200);
    assert.deepEqual(bob.body, {
      user: BOB,
      ip: '127.0.0.1',
      before: ['b1'],
      inner: aliceSees,
      after: ['b1'],
      parallel: [['b1'], ['a1', 'a2'], ['b1']],
      whoAfter: { user: BOB, system: false },
    });
    // The client's own user (no notes of its own) around the same callee.
    const caller = await call('callerAroundAlice');
    assert.equal(caller.status, 200);
    assert.deepEqual(caller.body, {
      user: anonId,
      ip: '127.0.0.1',
      before: [],
      inner: aliceSees,
      after: [],
      parallel: [[], ['a1', 'a2'], []],
      whoAfter: { user: anonId, system: false },
    });
  });
});
