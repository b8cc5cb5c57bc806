// Authentication triggers: CREATE, LOGIN and DELETE events reach their functions as the system
// user after the response; a provider filter applies; a failing trigger never breaks the login.
// An HTTPS endpoint or webhook call authenticated with credentials is a login (LOGIN fires, with
// CREATE when create_user_on_auth made the user); one with a bearer token is not.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import type { AuthTriggerConfig } from '../src/app/model.js';
import { AdminTokens } from '../src/admin/tokens.js';
import { appConfig, appFunction, autoConfirmUserpass, endpointConfig, provider, startServer, type TestServer, uniqueEmail, webhookConfig } from './helpers/server.js';
import { request } from './helpers/wire.js';

const fn = (name: string, source: string) => appFunction(name, source, { private: true });
const trigger = (name: string, functionName: string, operations: AuthTriggerConfig['operations'], providers: string[] = []): [string, AuthTriggerConfig] => [
  name,
  { name, functionName, operations, providers, disabled: false },
];

/** A logger whose JSON lines land in `lines`. */
const capture = (lines: Record<string, unknown>[]) =>
  pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    }),
  );

describe('authentication triggers', () => {
  let server: TestServer;
  const lines: Record<string, unknown>[] = [];
  const events = () =>
    lines.filter((l) => l.function === 'record' && typeof l.msg === 'string').map((l) => JSON.parse(l.msg as string) as Record<string, any>);

  before(async () => {
    const logger = capture(lines);
    const app = {
      ...appConfig([provider('anon-user'), autoConfirmUserpass()]),
      functions: new Map([
        fn('record', 'exports = function(event) { console.log(JSON.stringify({ op: event.operationType, providers: event.providers, user: event.user.id, identities: event.user.identities.length, system: context.runningAsSystem(), time: event.time instanceof Date })); };'),
        fn('explode', 'exports = function() { throw new Error("trigger went wrong"); };'),
      ]),
      triggers: new Map([
        trigger('onCreate', 'record', ['CREATE']),
        trigger('onPasswordLogin', 'record', ['LOGIN'], ['local-userpass']),
        trigger('onDelete', 'record', ['DELETE']),
        trigger('broken', 'explode', ['LOGIN', 'CREATE']),
      ]),
    };
    server = await startServer(app, { logger });
  });
  after(() => server.close());

  const post = (path: string, body: unknown, token?: string) => request('POST', `${server.url}/api/client/v2.0${path}`, { body, token });

  it('fires CREATE once, LOGIN only for the filtered provider, and DELETE with every identity, as the system user', async () => {
    const anon = await post(`/app/${server.appId}/auth/providers/anon-user/login`, {});
    assert.equal(anon.status, 200, 'a failing trigger does not break the login');
    const email = uniqueEmail();
    await post(`/app/${server.appId}/auth/providers/local-userpass/register`, { email, password: 'secret123' });
    await post(`/app/${server.appId}/auth/providers/local-userpass/login?link=true`, { username: email, password: 'secret123' }, anon.json.access_token);
    const login = await post(`/app/${server.appId}/auth/providers/local-userpass/login`, { username: email, password: 'secret123' });
    assert.equal(login.json.user_id, anon.json.user_id);
    const del = await fetch(`${server.url}/api/client/v2.0/auth/delete`, { method: 'DELETE', headers: { authorization: `Bearer ${login.json.access_token}` } });
    assert.equal(del.status, 204);
    await server.baste.triggers.settled();

    assert.deepEqual(
      events().map((e) => [e.op, e.providers, e.user === anon.json.user_id, e.identities, e.system, e.time]),
      [
        ['CREATE', ['anon-user'], true, 1, true, true],
        ['LOGIN', ['local-userpass'], true, 2, true, true],
        ['DELETE', ['anon-user', 'local-userpass'], true, 2, true, true],
      ],
    );
    const failures = lines.filter((l) => l.msg === 'auth trigger failed');
    assert.ok(failures.length >= 2);
    assert.ok(failures.every((f) => f.trigger === 'broken' && /trigger went wrong/.test(String(f.error))));
  });

  it('fires CREATE for a user made through the admin API, as for a first login', async () => {
    const { token } = await new AdminTokens(server.baste.store, Date.now).create('triggers test');
    const before = events().length;
    const res = await fetch(`${server.url}/api/admin/v3.0/apps/${server.appId}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ email: uniqueEmail('admin-made'), password: 'secret123' }),
    });
    assert.equal(res.status, 201);
    const made = (await res.json()) as { _id: string };
    await server.baste.triggers.settled();
    const fresh = events().slice(before);
    assert.deepEqual(
      fresh.map((e) => [e.op, e.providers, e.user === made._id, e.identities, e.system]),
      [['CREATE', ['local-userpass'], true, 1, true]],
    );
  });
});

describe('authentication triggers: endpoint and webhook credentials are a login', () => {
  const APP_ID = 'login-hooks-abcde';
  const JWT_KEY = 'auth-triggers-endpoint-key-0123456789abcdef';
  let server: TestServer;
  const lines: Record<string, unknown>[] = [];
  const events = () =>
    lines.filter((l) => l.function === 'record' && typeof l.msg === 'string').map((l) => JSON.parse(l.msg as string) as Record<string, any>);
  /** The events since `from`, once every trigger scheduled so far has run; sorted, as triggers run side by side. */
  const since = async (from: number) => {
    await server.baste.triggers.settled();
    return events().slice(from).map((e) => [e.op, e.providers, e.user]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  };

  const jwtFor = async (sub: string) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ aud: APP_ID, sub, exp: now + 600, iat: now })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(JWT_KEY));
  };

  before(async () => {
    const jwt = provider('custom-token', { signingAlgorithm: 'HS256' }, { secretConfigLists: { signingKeys: ['jwt-key'] } });
    const who = 'exports = function() { return { user: context.user.id }; };';
    const app = {
      ...appConfig([provider('anon-user'), autoConfirmUserpass(), provider('api-key'), jwt], APP_ID),
      secrets: new Map([['jwt-key', JWT_KEY]]),
      functions: new Map([
        fn('record', 'exports = function(event) { console.log(JSON.stringify({ op: event.operationType, providers: event.providers, user: event.user.id })); };'),
        fn('who', who),
      ]),
      endpoints: [endpointConfig('/me', 'who'), endpointConfig('/me-create', 'who', { createUserOnAuth: true })],
      webhooks: [webhookConfig('authed', who, { runAsAuthedUser: true, createUserOnAuth: true, httpMethod: 'POST' })],
      triggers: new Map([trigger('onLogin', 'record', ['LOGIN']), trigger('onCreate', 'record', ['CREATE'])]),
    };
    server = await startServer(app, { logger: capture(lines) });
  });
  after(() => server.close());

  const client = (path: string) => `${server.url}/api/client/v2.0${path}`;
  const me = async (headers: Record<string, string>, route = '/me') => {
    const res = await fetch(`${server.url}/app/${APP_ID}/endpoint${route}`, { headers });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  it('email/password and API key headers fire LOGIN for their provider; a bearer token and failed credentials fire nothing', async () => {
    const email = uniqueEmail();
    await fetch(client(`/app/${APP_ID}/auth/providers/local-userpass/register`), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'secret123' }) });
    const login = (await (
      await fetch(client(`/app/${APP_ID}/auth/providers/local-userpass/login`), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: email, password: 'secret123' }) })
    ).json()) as { access_token: string; refresh_token: string; user_id: string };
    const userId = login.user_id;
    assert.deepEqual(await since(0), [['CREATE', ['local-userpass'], userId], ['LOGIN', ['local-userpass'], userId]], 'the SDK login, as before');

    let from = events().length;
    const bearer = await me({ authorization: `Bearer ${login.access_token}` });
    assert.deepEqual([bearer.status, bearer.body.user], [200, userId]);
    assert.deepEqual(await since(from), [], 'a bearer token rides the session its login opened');

    from = events().length;
    const byPassword = await me({ email, password: 'secret123' });
    assert.deepEqual([byPassword.status, byPassword.body.user], [200, userId]);
    assert.deepEqual(await since(from), [['LOGIN', ['local-userpass'], userId]]);

    from = events().length;
    const wrong = await me({ email, password: 'wrong-pass' });
    assert.equal(wrong.status, 401);
    assert.deepEqual(await since(from), [], 'a refused credential is no login');

    const key = (await (
      await fetch(client('/auth/api_keys'), { method: 'POST', headers: { authorization: `Bearer ${login.refresh_token}`, 'content-type': 'application/json' }, body: '{"name":"ep"}' })
    ).json()) as { key: string };
    from = events().length;
    const byKey = await me({ 'api-key': key.key });
    assert.deepEqual([byKey.status, byKey.body.user], [200, userId]);
    assert.deepEqual(await since(from), [['LOGIN', ['api-key'], userId]]);
  });

  it('create_user_on_auth: the first call fires CREATE and LOGIN, later calls LOGIN only; the same in a webhook body', async () => {
    let from = events().length;
    const first = await me({ jwtTokenString: await jwtFor('endpoint-sub') }, '/me-create');
    assert.equal(first.status, 200);
    const userId = first.body.user as string;
    assert.deepEqual(await since(from), [['CREATE', ['custom-token'], userId], ['LOGIN', ['custom-token'], userId]]);
    from = events().length;
    const again = await me({ jwtTokenString: await jwtFor('endpoint-sub') }, '/me-create');
    assert.deepEqual([again.status, again.body.user], [200, userId]);
    assert.deepEqual(await since(from), [['LOGIN', ['custom-token'], userId]]);

    from = events().length;
    const hook = await fetch(client(`/app/${APP_ID}/service/http/incoming_webhook/authed`), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jwtTokenString: await jwtFor('webhook-sub') }),
    });
    assert.equal(hook.status, 200);
    const hookUser = ((await hook.json()) as { user: string }).user;
    assert.notEqual(hookUser, userId);
    assert.deepEqual(await since(from), [['CREATE', ['custom-token'], hookUser], ['LOGIN', ['custom-token'], hookUser]]);
  });
});
