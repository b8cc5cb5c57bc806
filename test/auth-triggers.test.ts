// Authentication triggers: CREATE, LOGIN and DELETE events reach their functions as the system
// user after the response; a provider filter applies; a failing trigger never breaks the login.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { AuthTriggerConfig } from '../src/app/model.js';
import { AdminTokens } from '../src/admin/tokens.js';
import { appConfig, appFunction, autoConfirmUserpass, provider, startServer, type TestServer, uniqueEmail } from './helpers/server.js';

const fn = (name: string, source: string) => appFunction(name, source, { private: true });
const trigger = (name: string, functionName: string, operations: AuthTriggerConfig['operations'], providers: string[] = []): [string, AuthTriggerConfig] => [
  name,
  { name, functionName, operations, providers, disabled: false },
];

describe('authentication triggers', () => {
  let server: TestServer;
  const lines: Record<string, unknown>[] = [];
  const events = () =>
    lines.filter((l) => l.function === 'record' && typeof l.msg === 'string').map((l) => JSON.parse(l.msg as string) as Record<string, any>);

  before(async () => {
    const logger = pino(
      { level: 'debug' },
      new Writable({
        write(chunk, _enc, done) {
          for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
          done();
        },
      }),
    );
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

  const post = async (path: string, body: unknown, token?: string) => {
    const res = await fetch(`${server.url}/api/client/v2.0${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: await res.json() };
  };

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
