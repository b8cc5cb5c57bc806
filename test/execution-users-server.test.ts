// Functions the server calls on its own (authentication and scheduled triggers, auth hooks, a
// rule's %function) honour the function's configured execution user: the caller is the system
// user, so a function on application auth runs as the system user, and one with run_as_user_id or
// a run-as script runs as that user, rules applied. Each function reports who it ran as and which
// notes the rules let it read; the owner-only `notes` rules make the difference visible.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { EJSON } from 'bson';
import { pino } from 'pino';
import type { AuthTriggerConfig, CollectionRules, DataSourceConfig, FunctionConfig, ScheduledTriggerConfig } from '../src/app/model.js';
import { appConfig, appFunction, provider, role, startServer, type TestServer } from './helpers/server.js';

const APP_ID = 'runas-server-abcde';
const ALICE = '65b000000000000000a11ce1';
const BOB = '65b000000000000000000b0b';
const GHOST = '65b0000000000000000d0e5f'; // never created

const db = 'context.services.get("mongodb-atlas").db("app")';

/** Logs `{fn, tag, args, user, system, titles}`: who it runs as and the notes its rules show. */
const REPORT = `exports = async function(...args) {
  const notes = await ${db}.collection("notes").find({}).toArray();
  console.log(JSON.stringify({ fn: "%NAME%", args: args.length, user: context.user.id || null, system: context.runningAsSystem(), titles: notes.map((n) => n.title).sort() }));
  return true;
};`;
const report = (name: string, extra: Partial<FunctionConfig> = {}) => appFunction(name, REPORT.replace('%NAME%', name), { private: true, ...extra });

const notesRules: CollectionRules = {
  database: 'app',
  collection: 'notes',
  roles: [role('owner', { applyWhen: { owner: '%%user.id' }, read: true, write: { owner: '%%user.id' } })],
  filters: [],
  file: 'data_sources/mongodb-atlas/app/notes/rules.json',
};
/** Readable by whoever the named %function lets in. */
const gated = (collection: string, gate: string): CollectionRules => ({
  database: 'app',
  collection,
  roles: [role('gate', { applyWhen: { '%%true': { '%function': { name: gate, arguments: ['%%user.id'] } } }, read: true })],
  filters: [],
  file: `data_sources/mongodb-atlas/app/${collection}/rules.json`,
});

const DATA_SOURCE: DataSourceConfig = {
  name: 'mongodb-atlas',
  type: 'mongodb-atlas',
  defaultRules: { roles: [role('all', { read: true, write: true })], filters: [] },
  collections: new Map([
    ['app.notes', notesRules],
    ['app.gatedAlice', gated('gatedAlice', 'gateAsAlice')],
    ['app.gatedApp', gated('gatedApp', 'gateApp')],
    ['app.gatedGhost', gated('gatedGhost', 'gateAsGhost')],
  ]),
};

const authTrigger = (name: string, functionName: string, operations: AuthTriggerConfig['operations']): [string, AuthTriggerConfig] => [
  name,
  { name, functionName, operations, providers: ['anon-user'], disabled: false },
];
const scheduled = (name: string, functionName: string): [string, ScheduledTriggerConfig] => [
  name,
  { name, functionName, schedule: '* * * * *', skipCatchupEvents: false, disabled: false },
];

const FUNCTIONS = new Map([
  appFunction('seed', `exports = async function(notes) { await ${db}.collection("notes").insertMany(notes); for (const c of ["gatedAlice", "gatedApp", "gatedGhost"]) await ${db}.collection(c).insertOne({ title: c }); return true; };`, { runAsSystem: true }),
  // Application auth: called by the system user, it runs as the system user.
  report('triggerApp'),
  report('triggerAlice', { runAsUserId: ALICE }),
  report('triggerGhost', { runAsUserId: GHOST }),
  report('tickAlice', { runAsUserId: ALICE }),
  report('tickApp'),
  // The script runs as the system user with the trigger's arguments: the auth event.
  report('triggerScripted', { runAsUserIdScriptSource: `function(event) { return event.operationType === "LOGIN" && context.runningAsSystem() ? "${BOB}" : "nobody"; }` }),
  // The user creation function, as Alice: it still receives the new user as its argument.
  appFunction('createdAsAlice', REPORT.replace('%NAME%', 'createdAsAlice').replace('...args', 'user, ...rest').replace('args.length', 'user.id'), { private: true, runAsUserId: ALICE }),
  // The custom-function login's auth function, as the user its script picks from the payload.
  appFunction('authAsBob', REPORT.replace('%NAME%', 'authAsBob').replace('return true;', 'return args[0].externalId;'), {
    private: true,
    runAsUserIdScriptSource: `function(payload) { return payload.as; }`,
  }),
  // Rule helpers: each logs, then lets the caller in.
  appFunction('gateAsAlice', REPORT.replace('%NAME%', 'gateAsAlice'), { private: true, runAsUserId: ALICE }),
  appFunction('gateApp', REPORT.replace('%NAME%', 'gateApp'), { private: true }),
  appFunction('gateAsGhost', REPORT.replace('%NAME%', 'gateAsGhost'), { private: true, runAsUserId: GHOST }),
  appFunction('readGated', `exports = async function(c) { return (await ${db}.collection(c).find({}).toArray()).map((d) => d.title); };`),
  // can_evaluate is a rule expression too.
  appFunction('guarded', 'exports = function() { return "in"; };', { canEvaluate: { '%%true': { '%function': { name: 'gateAsAlice', arguments: ['%%user.id'] } } } }),
]);

type Line = Record<string, unknown>;
const capture = (lines: Line[]) =>
  pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Line);
        done();
      },
    }),
  );

describe('execution users of triggers, auth hooks and rule %function calls', () => {
  let server: TestServer;
  let shift = 0;
  const lines: Line[] = [];
  /** What the REPORT functions logged since `from`, for `fn`. */
  const reports = (fn: string, from = 0) =>
    lines
      .slice(from)
      .filter((l) => l.function === fn && typeof l.msg === 'string' && l.msg.startsWith('{'))
      .map((l) => JSON.parse(l.msg as string) as Record<string, unknown>)
      .map(({ fn: _fn, ...rest }) => rest);

  const post = async (path: string, body: unknown, token?: string) => {
    const res = await fetch(`${server.url}/api/client/v2.0/app/${APP_ID}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: EJSON.parse(await res.text(), { relaxed: true }) as any };
  };
  const anonLogin = () => post('/auth/providers/anon-user/login', {});

  before(async () => {
    const app = {
      ...appConfig([provider('anon-user'), provider('custom-function', { authFunctionName: 'authAsBob' })], APP_ID),
      dataSources: new Map([['mongodb-atlas', DATA_SOURCE]]),
      customUserData: { serviceName: 'mongodb-atlas', database: 'app', collection: 'custom', userIdField: 'userId', onUserCreationFunctionName: 'createdAsAlice' },
      functions: FUNCTIONS,
      triggers: new Map([
        authTrigger('loginApp', 'triggerApp', ['LOGIN']),
        authTrigger('loginAlice', 'triggerAlice', ['LOGIN']),
        authTrigger('loginGhost', 'triggerGhost', ['LOGIN']),
        authTrigger('loginScripted', 'triggerScripted', ['LOGIN']),
      ]),
      scheduledTriggers: new Map([scheduled('everyMinuteAlice', 'tickAlice'), scheduled('everyMinuteApp', 'tickApp')]),
    };
    server = await startServer(app, { logger: capture(lines), clock: () => Date.now() + shift, scheduleCheckMs: 0, functions: { timeoutMs: 5000, memoryMb: 64 } });
    const store = server.baste.store;
    for (const [id, sub] of [[ALICE, 'alice'], [BOB, 'bob']] as const) {
      const identity = { externalId: sub, providerName: 'anon-user', providerType: 'anon-user', providerId: app.providers.get('anon-user')!.id, data: {} };
      assert.equal((await store.loginIdentity({ identity, newUserId: id, userType: 'normal', now: Date.now() })).userId, id);
    }
    const anon = await anonLogin();
    const seeded = await post('/functions/call', { name: 'seed', arguments: [[{ owner: ALICE, title: 'a1' }, { owner: ALICE, title: 'a2' }, { owner: BOB, title: 'b1' }]] }, anon.body.access_token);
    assert.equal(seeded.status, 200);
  });
  after(() => server.close());

  const ALL = ['a1', 'a2', 'b1'];

  it('an authentication trigger runs as the system user on application auth, and as the user run_as_user_id names', async () => {
    await server.baste.triggers.settled();
    const from = lines.length;
    const anon = await anonLogin();
    assert.equal(anon.status, 200);
    await server.baste.triggers.settled();
    assert.deepEqual(reports('triggerApp', from), [{ args: 1, user: null, system: true, titles: ALL }]);
    assert.deepEqual(reports('triggerAlice', from), [{ args: 1, user: ALICE, system: false, titles: ['a1', 'a2'] }]);
    // The script saw the LOGIN event, ran as the system user, and chose Bob.
    assert.deepEqual(reports('triggerScripted', from), [{ args: 1, user: BOB, system: false, titles: ['b1'] }]);
    // A user that does not exist: the trigger fails, is logged, and ran nothing.
    assert.deepEqual(reports('triggerGhost', from), []);
    const failed = lines.slice(from).filter((l) => l.msg === 'auth trigger failed' && l.trigger === 'loginGhost');
    assert.equal(failed.length, 1);
    assert.match(String(failed[0]!.error), /function 'triggerGhost' runs as a user that does not exist or is disabled/);
  });

  it('auth hooks: the custom-function auth function and the user creation function run as their configured users', async () => {
    const from = lines.length;
    const res = await post('/auth/providers/custom-function/login', { as: BOB, externalId: 'ext-1' });
    assert.equal(res.status, 200);
    await server.baste.triggers.settled();
    // The auth function ran as the user its script chose from the payload.
    assert.deepEqual(reports('authAsBob', from), [{ args: 1, user: BOB, system: false, titles: ['b1'] }]);
    // The user creation function (a new custom-function user) ran as Alice, with the new user as its argument.
    const created = reports('createdAsAlice', from);
    assert.equal(created.length, 1);
    assert.deepEqual(created[0], { args: res.body.user_id, user: ALICE, system: false, titles: ['a1', 'a2'] });
  });

  it('an auth hook whose user does not exist is refused: the login fails and makes no user', async () => {
    const res = await post('/auth/providers/custom-function/login', { as: GHOST, externalId: 'ext-ghost' });
    assert.equal(res.status, 401);
    assert.equal(res.body.error_code, 'AuthError');
    assert.match(res.body.error, /refused the login: run_as_user_id_script_source of function 'authAsBob' chose a user that does not exist or is disabled/);
    assert.equal(await server.baste.store.findIdentityOwner('custom-function', 'ext-ghost'), null);
  });

  it('a scheduled trigger runs as the user run_as_user_id names, and as the system user on application auth', async () => {
    const from = lines.length;
    await server.baste.scheduledTriggers.runDue(); // the first check only records where the schedule stands
    shift += 60_000;
    const outcomes = await server.baste.scheduledTriggers.runDue();
    assert.deepEqual(outcomes.map((o) => o.outcome).sort(), ['ran', 'ran']);
    assert.deepEqual(reports('tickAlice', from), [{ args: 0, user: ALICE, system: false, titles: ['a1', 'a2'] }]);
    assert.deepEqual(reports('tickApp', from), [{ args: 0, user: null, system: true, titles: ALL }]);
  });

  it("a rule's %function runs as its configured user; on application auth as the system user with the active user as context.user", async () => {
    const anon = await anonLogin();
    const token = anon.body.access_token as string;
    const from = lines.length;
    const alice = await post('/functions/call', { name: 'readGated', arguments: ['gatedAlice'] }, token);
    assert.deepEqual([alice.status, alice.body], [200, ['gatedAlice']]);
    assert.deepEqual(reports('gateAsAlice', from), [{ args: 1, user: ALICE, system: false, titles: ['a1', 'a2'] }]);
    const app = await post('/functions/call', { name: 'readGated', arguments: ['gatedApp'] }, token);
    assert.deepEqual([app.status, app.body], [200, ['gatedApp']]);
    assert.deepEqual(reports('gateApp', from), [{ args: 1, user: anon.body.user_id, system: true, titles: ALL }]);
  });

  it('a %function whose user does not exist lets nobody in and runs nothing', async () => {
    const anon = await anonLogin();
    const from = lines.length;
    const res = await post('/functions/call', { name: 'readGated', arguments: ['gatedGhost'] }, anon.body.access_token);
    assert.deepEqual([res.status, res.body.error_code], [400, 'FunctionExecutionError']);
    assert.match(res.body.error, /function 'gateAsGhost' runs as a user that does not exist or is disabled/);
    assert.deepEqual(reports('gateAsGhost', from), []);
  });

  it("a function's can_evaluate %function runs as the helper's configured user too", async () => {
    const anon = await anonLogin();
    const from = lines.length;
    const res = await post('/functions/call', { name: 'guarded', arguments: [] }, anon.body.access_token);
    assert.deepEqual([res.status, res.body], [200, 'in']);
    assert.deepEqual(reports('gateAsAlice', from), [{ args: 1, user: ALICE, system: false, titles: ['a1', 'a2'] }]);
  });
});
