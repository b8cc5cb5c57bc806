// Custom user data: the matching document rides in the access token (`user_data`) at login and
// refresh, functions see it as context.user.custom_data, and the user creation function runs
// before the first token (a throw undoes the creation).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AnonymousCredential } from 'mongodb-stitch-server-sdk';
import * as Realm from 'realm-web';
import type { DataSourceConfig, FunctionConfig } from '../src/app/model.js';
import { appConfig, appFunction, decodeJwt, provider, startServer, type TestServer } from './helpers/server.js';
import { stitchClientFor } from './helpers/stitch.js';

const fn = (name: string, source: string, extra: Partial<FunctionConfig> = {}) => appFunction(name, source, { runAsSystem: true, ...extra });

const SOURCE: DataSourceConfig = { name: 'mongodb-atlas', type: 'mongodb-atlas', collections: new Map() };

describe('custom user data', () => {
  let server: TestServer;
  before(async () => {
    const app = {
      ...appConfig([provider('anon-user'), provider('custom-function', { authFunctionName: 'auth' })], 'cud-app-abcde'),
      dataSources: new Map([['mongodb-atlas', SOURCE]]),
      customUserData: { serviceName: 'mongodb-atlas', database: 'app', collection: 'users', userIdField: 'user_id', onUserCreationFunctionName: 'onCreate' },
      functions: new Map([
        fn('setColor', `exports = async function(color) {
          const users = context.services.get("mongodb-atlas").db("app").collection("users");
          await users.updateOne({ user_id: context.user.id }, { $set: { color } }, { upsert: true });
          return true;
        };`),
        fn('myData', 'exports = function() { return context.user.custom_data; };', { runAsSystem: false }),
        fn('onCreate', `exports = async function(user) {
          if (user.identities[0].id === "ext-refuse") throw new Error("no new users named refuse");
          await context.services.get("mongodb-atlas").db("app").collection("users").insertOne({ user_id: user.id, color: "initial" });
        };`, { private: true }),
        fn('auth', 'exports = function(p) { return "ext-" + p.name; };', { private: true }),
        fn('endpointData', 'exports = function() { return context.user.custom_data.color || null; };', { runAsSystem: false }),
      ]),
      endpoints: [true, false].map((fetch) => ({
        route: fetch ? '/with-data' : '/without-data',
        httpMethod: 'GET' as const,
        functionName: 'endpointData',
        validationMethod: 'NO_VALIDATION' as const,
        respondResult: true,
        fetchCustomUserData: fetch,
        createUserOnAuth: false,
        disabled: false,
        file: 'https_endpoints/config.json',
      })),
    };
    server = await startServer(app, { functions: { timeoutMs: 5000, memoryMb: 64 } });
  });
  after(() => server.close());

  it('[RW] #26 #27 the creation function fills the first token; refreshCustomData picks up changes', async () => {
    const app = new Realm.App({ id: server.appId, baseUrl: server.url });
    const user = await app.logIn(Realm.Credentials.anonymous(false));
    assert.equal(user.customData.color, 'initial');
    assert.equal(decodeJwt(user.accessToken!).user_data && (decodeJwt(user.accessToken!).user_data as any).color, 'initial');
    await user.functions.setColor('blue');
    assert.equal(user.customData.color, 'initial', 'stale until refreshed');
    await user.refreshCustomData();
    assert.equal(user.customData.color, 'blue');
    assert.equal((await user.functions.myData()).color, 'blue');
  });

  it('[S] #26 #27 customData and refreshCustomData', async () => {
    const client = stitchClientFor(server, `cud-${Date.now()}`);
    try {
      await client.auth.loginWithCredential(new AnonymousCredential());
      // The server SDK's user factory drops the token's user_data at login (4.9.0 passes six of
      // seven arguments); refreshCustomData reads it from the token, which carries it already.
      await (client.auth as unknown as { refreshCustomData(): Promise<void> }).refreshCustomData();
      assert.equal((client.auth.user!.customData as any).color, 'initial');
      await client.callFunction('setColor', ['green']);
      await (client.auth as unknown as { refreshCustomData(): Promise<void> }).refreshCustomData();
      assert.equal((client.auth.user!.customData as any).color, 'green');
    } finally {
      client.close();
    }
  });

  it('HTTPS endpoints load custom data only with fetch_custom_user_data', async () => {
    const login = await (
      await fetch(`${server.url}/api/client/v2.0/app/${server.appId}/auth/providers/anon-user/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    ).json();
    const get = async (route: string) =>
      (await fetch(`${server.url}/app/${server.appId}/endpoint${route}`, { headers: { authorization: `Bearer ${login.access_token}` } })).json();
    assert.equal(await get('/with-data'), 'initial');
    assert.equal(await get('/without-data'), null);
  });

  it('a throwing user creation function fails the login and leaves no user behind', async () => {
    const res = await fetch(`${server.url}/api/client/v2.0/app/${server.appId}/auth/providers/custom-function/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'refuse' }),
    });
    assert.equal(res.status, 400);
    assert.match((await res.json()).error, /no new users named refuse/);
    assert.equal(await server.baste.store.findIdentityOwner('custom-function', 'ext-refuse'), null);
    // and a user the function accepts is created
    const ok = await fetch(`${server.url}/api/client/v2.0/app/${server.appId}/auth/providers/custom-function/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'dora' }),
    });
    assert.equal(ok.status, 200);
    assert.equal((decodeJwt((await ok.json()).access_token).user_data as any).color, 'initial');
  });
});
