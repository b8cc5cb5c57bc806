// API keys: user keys through the client routes with both SDKs, server keys from the service the
// CLI uses, and every refusal over raw HTTP.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ServerApiKeyCredential,
  UserApiKeyAuthProviderClient,
  UserApiKeyCredential,
  UserPasswordAuthProviderClient,
  UserPasswordCredential,
} from 'mongodb-stitch-server-sdk';
import * as Realm from 'realm-web';
import { appConfig, autoConfirmUserpass, provider, startServer, uniqueEmail, type TestServer } from './helpers/server.js';
import { stitchClientFor } from './helpers/stitch.js';
import { scenarios } from './helpers/scenario.js';
import { assertError, clientOf, inject, type RequestOptions } from './helpers/wire.js';

const PASSWORD = 'secret123';

// realm-web's default storage is shared process-wide; each App here gets its own, as on separate devices.
const RealmStorage = (Realm.getEnvironment().defaultStorage as unknown as { constructor: new () => unknown }).constructor;
const realmApp = (server: TestServer) =>
  new Realm.App({ id: server.appId, baseUrl: server.url, storage: new RealmStorage() } as ConstructorParameters<typeof Realm.App>[0]);

describe('API keys', () => {
  let server: TestServer;
  const call = (method: string, path: string, token?: string, body?: unknown) => clientOf(server).call(method, path, { token, body });
  const passwordUser = async () => {
    const email = uniqueEmail('keys');
    await call('POST', `/app/${server.appId}/auth/providers/local-userpass/register`, undefined, { email, password: PASSWORD });
    const login = await call('POST', `/app/${server.appId}/auth/providers/local-userpass/login`, undefined, { username: email, password: PASSWORD });
    return { email, ...login.json } as { email: string; access_token: string; refresh_token: string; user_id: string };
  };
  const keyLogin = (key: string) => call('POST', `/app/${server.appId}/auth/providers/api-key/login`, undefined, { key });

  before(async () => {
    server = await startServer(appConfig([provider('anon-user'), autoConfirmUserpass(), provider('api-key')]));
  });
  after(() => server.close());

  it('[RW] #13 #44-#47: create, list, fetch, disable, enable, delete user keys and log in with them', async () => {
    const app = realmApp(server);
    const email = uniqueEmail('rw-keys');
    await app.emailPasswordAuth.registerUser({ email, password: PASSWORD });
    const user = await app.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    const created = await user.apiKeys.create('k1');
    assert.match(created._id, /^[0-9a-f]{24}$/);
    assert.equal(created.name, 'k1');
    assert.equal(created.disabled, false);
    assert.equal(typeof created.key, 'string');
    assert.ok(created.key.length >= 32);
    const listed = await user.apiKeys.fetchAll();
    assert.deepEqual(listed, [{ _id: created._id, name: 'k1', disabled: false }]);
    assert.deepEqual(await user.apiKeys.fetch(created._id), { _id: created._id, name: 'k1', disabled: false });

    const other = realmApp(server);
    const viaKey = await other.logIn(Realm.Credentials.apiKey(created.key));
    assert.equal(viaKey.id, user.id);
    assert.equal(viaKey.providerType, 'api-key');

    await user.apiKeys.disable(created._id);
    assert.equal((await user.apiKeys.fetch(created._id)).disabled, true);
    await assert.rejects(other.logIn(Realm.Credentials.apiKey(created.key)), (e: any) => e.statusCode === 401);
    // the session the key opened ended with it
    await assert.rejects(viaKey.refreshAccessToken(), (e: any) => e.statusCode === 401);
    await user.apiKeys.enable(created._id);
    assert.equal((await other.logIn(Realm.Credentials.apiKey(created.key))).id, user.id);

    await user.apiKeys.delete(created._id);
    assert.deepEqual(await user.apiKeys.fetchAll(), []);
    await assert.rejects(user.apiKeys.fetch(created._id), (e: any) => e.statusCode === 404 && e.errorCode === 'APIKeyNotFound');
    await assert.rejects(other.logIn(Realm.Credentials.apiKey(created.key)), (e: any) => e.statusCode === 401);
  });

  it('[S] #13 #44-#47: the Stitch user API key client, and a login with the key', async () => {
    const client = stitchClientFor(server, `s-keys-${Date.now()}`);
    try {
      const email = uniqueEmail('s-keys');
      await client.auth.getProviderClient(UserPasswordAuthProviderClient.factory).registerWithEmail(email, PASSWORD);
      const user = await client.auth.loginWithCredential(new UserPasswordCredential(email, PASSWORD));
      const keys = client.auth.getProviderClient(UserApiKeyAuthProviderClient.factory);
      const created = await keys.createApiKey('s1');
      assert.equal(created.id.toHexString().length, 24);
      assert.equal(created.name, 's1');
      assert.equal(created.disabled, false);
      assert.ok(created.key);
      const all = await keys.fetchApiKeys();
      assert.equal(all.length, 1);
      assert.equal(all[0]!.key, undefined);
      assert.equal((await keys.fetchApiKey(created.id)).name, 's1');
      await keys.disableApiKey(created.id);
      assert.equal((await keys.fetchApiKey(created.id)).disabled, true);
      await keys.enableApiKey(created.id);
      await client.auth.logout();
      const viaKey = await client.auth.loginWithCredential(new UserApiKeyCredential(created.key!));
      assert.equal(viaKey.id, user.id);
      assert.equal(viaKey.loggedInProviderType, 'api-key');
      // deleting a key ends the sessions it opened, this one included: manage keys from a password session
      await client.auth.loginWithCredential(new UserPasswordCredential(email, PASSWORD));
      await keys.deleteApiKey(created.id);
      await assert.rejects(keys.fetchApiKey(created.id), (e: any) => e.errorCodeName === 'ApiKeyNotFound');
    } finally {
      client.close();
    }
  });

  it('[S] #14: a server API key logs in a user of type server', async () => {
    const created = await server.baste.apiKeys.createServerKey('backend');
    const client = stitchClientFor(server, `s-server-${Date.now()}`);
    try {
      const user = await client.auth.loginWithCredential(new ServerApiKeyCredential(created.key));
      assert.equal(user.userType, 'server');
      assert.equal(user.identities[0]!.providerType, 'api-key');
      const again = await client.auth.loginWithCredential(new ServerApiKeyCredential(created.key));
      assert.equal(again.id, user.id);
    } finally {
      client.close();
    }
    const rw = await realmApp(server).logIn(Realm.Credentials.apiKey(created.key));
    const profile = await call('GET', '/auth/profile', rw.accessToken!);
    assert.equal(profile.json.type, 'server');
    // deleting the server key removes its user and every session
    const key = await server.baste.apiKeys.serverKeyNamed('backend');
    await server.baste.apiKeys.delete(key.userId, key.id);
    assert.equal((await call('GET', '/auth/profile', rw.accessToken!)).status, 401);
    assert.equal((await keyLogin(created.key)).status, 401);
  });

  it('refuses the 21st key, naming the limit, and keeps 20', async () => {
    const u = await passwordUser();
    for (let i = 0; i < 20; i++) assert.equal((await call('POST', '/auth/api_keys', u.refresh_token, { name: `k${i}` })).status, 201);
    assertError(await call('POST', '/auth/api_keys', u.refresh_token, { name: 'k20' }), 400, 'BadRequest', /20/);
    assert.equal((await call('GET', '/auth/api_keys', u.refresh_token)).json.length, 20);
  });

  it('refuses key logins of a disabled user, and deleting the user removes the keys', async () => {
    const u = await passwordUser();
    const key = (await call('POST', '/auth/api_keys', u.refresh_token, { name: 'k' })).json;
    await server.baste.store.setUserDisabled(u.user_id, true);
    assertError(await keyLogin(key.key), 403, 'UserDisabled');
    await server.baste.store.setUserDisabled(u.user_id, false);
    const again = (await keyLogin(key.key)).json;
    assert.equal(again.user_id, u.user_id);
    assert.equal((await call('DELETE', '/auth/delete', again.access_token)).status, 204);
    assert.equal((await keyLogin(key.key)).status, 401);
  });
});

describe('API keys with the provider disabled', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(appConfig([provider('anon-user'), autoConfirmUserpass(), provider('api-key', {}, { disabled: true })]));
  });
  after(() => server.close());

  it('refuses creating keys and key logins', async () => {
    const c = clientOf(server);
    const email = uniqueEmail();
    await c.register(email, PASSWORD);
    const login = (await c.login('local-userpass', { username: email, password: PASSWORD })).json;
    assertError(await c.call('POST', '/auth/api_keys', { token: login.refresh_token, body: { name: 'k' } }), 404, 'AuthProviderNotFound');
    assertError(await c.login('api-key', { key: 'x' }), 404, 'AuthProviderNotFound');
  });
});


// The user API key routes as a table, in process (`fastify.inject`: no SDK takes part). Each row
// starts from an owner with one key `mine`, a second user and an anonymous user.
describe('API key routes (scenarios)', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(appConfig([provider('anon-user'), autoConfirmUserpass(), provider('api-key')]));
  });
  after(() => server.close());

  interface Tokens {
    access_token: string;
    refresh_token: string;
    user_id: string;
  }
  interface Ctx {
    owner: Tokens;
    other: Tokens;
    anon: Tokens;
    key: { _id: string; key: string; name: string };
  }
  /** `{app}` in a path stands for the app's id. */
  const send = (method: string, path: string, opts: RequestOptions = {}) =>
    inject(server.baste.http, method, `/api/client/v2.0${path.replace('{app}', server.appId)}`, opts);
  const login = (providerName: string, body: unknown) => send('POST', `/app/{app}/auth/providers/${providerName}/login`, { body });
  const passwordUser = async (): Promise<Tokens> => {
    const email = uniqueEmail('scn');
    assert.equal((await send('POST', '/app/{app}/auth/providers/local-userpass/register', { body: { email, password: PASSWORD } })).status, 201);
    return (await login('local-userpass', { username: email, password: PASSWORD })).json;
  };
  const keysOf = async (u: Tokens) => (await send('GET', '/auth/api_keys', { token: u.refresh_token })).json as { _id: string; name: string; disabled: boolean; key?: string }[];
  const keyNames = async (u: Tokens) => (await keysOf(u)).map((k) => k.name).sort();
  const keyLogsIn = async (key: string) => (await login('api-key', { key })).status === 200;
  const keyPath = (c: Ctx, suffix = '') => `/auth/api_keys/${c.key._id}${suffix}`;

  const onlyMine = async (c: Ctx) => assert.deepEqual(await keyNames(c.owner), ['mine']);
  const untouched = async (c: Ctx) => {
    assert.deepEqual(await keysOf(c.owner), [{ _id: c.key._id, name: 'mine', disabled: false }]);
    assert.ok(await keyLogsIn(c.key.key));
  };

  scenarios<Ctx>(
    {
      setup: async () => {
        const owner = await passwordUser();
        const other = await passwordUser();
        const anon = (await login('anon-user', {})).json;
        const key = (await send('POST', '/auth/api_keys', { token: owner.refresh_token, body: { name: 'mine' } })).json;
        return { owner, other, anon, key };
      },
      send,
    },
    [
      // Every route authenticates with the refresh token.
      { name: 'create with an access token', method: 'POST', path: '/auth/api_keys', token: (c) => c.owner.access_token, body: { name: 'x' }, status: 401, errorCode: 'InvalidSession', after: onlyMine },
      { name: 'list with an access token', method: 'GET', path: '/auth/api_keys', token: (c) => c.owner.access_token, status: 401, errorCode: 'InvalidSession' },
      { name: 'create with no token', method: 'POST', path: '/auth/api_keys', body: { name: 'x' }, status: 401, errorCode: 'InvalidSession', after: onlyMine },
      { name: 'disable with an access token', method: 'PUT', path: (c) => keyPath(c, '/disable'), token: (c) => c.owner.access_token, status: 401, errorCode: 'InvalidSession', after: untouched },
      // Who may create, and which names.
      { name: 'an anonymous user may not create keys', method: 'POST', path: '/auth/api_keys', token: (c) => c.anon.refresh_token, body: { name: 'x' }, status: 400, errorCode: 'BadRequest', error: /anonymous/, after: async (c) => assert.deepEqual(await keysOf(c.anon), []) },
      { name: 'no name', method: 'POST', path: '/auth/api_keys', token: (c) => c.owner.refresh_token, body: {}, status: 400, errorCode: 'MissingParameter', after: onlyMine },
      { name: 'an empty name', method: 'POST', path: '/auth/api_keys', token: (c) => c.owner.refresh_token, body: { name: '' }, status: 400, errorCode: 'MissingParameter', after: onlyMine },
      { name: 'a name that is not a string', method: 'POST', path: '/auth/api_keys', token: (c) => c.owner.refresh_token, body: { name: 5 }, status: 400, errorCode: 'MissingParameter', after: onlyMine },
      { name: 'a name over 64 characters', method: 'POST', path: '/auth/api_keys', token: (c) => c.owner.refresh_token, body: { name: 'x'.repeat(65) }, status: 400, errorCode: 'InvalidParameter', after: onlyMine },
      { name: 'a name with a control character', method: 'POST', path: '/auth/api_keys', token: (c) => c.owner.refresh_token, body: { name: 'bad\u0000name' }, status: 400, errorCode: 'InvalidParameter', after: onlyMine },
      { name: 'a name already taken', method: 'POST', path: '/auth/api_keys', token: (c) => c.owner.refresh_token, body: { name: 'mine' }, status: 409, errorCode: 'APIKeyAlreadyExists', after: onlyMine },
      {
        name: 'create: the key is in this answer only',
        method: 'POST',
        path: '/auth/api_keys',
        token: (c) => c.owner.refresh_token,
        body: { name: 'new' },
        status: 201,
        expect: (a) => {
          assert.deepEqual(Object.keys(a.json).sort(), ['_id', 'disabled', 'key', 'name']);
          assert.match(a.json._id, /^[0-9a-f]{24}$/);
          assert.deepEqual([a.json.name, a.json.disabled], ['new', false]);
        },
        after: async (c, a) => {
          assert.deepEqual((await keysOf(c.owner)).find((k) => k.name === 'new'), { _id: a.json._id, name: 'new', disabled: false });
          const viaKey = (await login('api-key', { key: a.json.key })).json;
          assert.equal(viaKey.user_id, c.owner.user_id);
        },
      },
      { name: 'list: ids, names and states, never the keys', method: 'GET', path: '/auth/api_keys', token: (c) => c.owner.refresh_token, status: 200, expect: (a, c) => assert.deepEqual(a.json, [{ _id: c.key._id, name: 'mine', disabled: false }]) },
      { name: 'fetch one', method: 'GET', path: (c) => keyPath(c), token: (c) => c.owner.refresh_token, status: 200, expect: (a, c) => assert.deepEqual(a.json, { _id: c.key._id, name: 'mine', disabled: false }) },
      // Another user's key is not found, whatever the route, and stays as it was.
      { name: "fetch another user's key", method: 'GET', path: (c) => keyPath(c), token: (c) => c.other.refresh_token, status: 404, errorCode: 'APIKeyNotFound' },
      { name: "disable another user's key", method: 'PUT', path: (c) => keyPath(c, '/disable'), token: (c) => c.other.refresh_token, status: 404, errorCode: 'APIKeyNotFound', after: untouched },
      {
        name: "enable another user's key",
        method: 'PUT',
        path: (c) => keyPath(c, '/enable'),
        token: (c) => c.other.refresh_token,
        before: async (c) => assert.equal((await send('PUT', keyPath(c, '/disable'), { token: c.owner.refresh_token })).status, 204),
        status: 404,
        errorCode: 'APIKeyNotFound',
        after: async (c) => {
          assert.equal((await keysOf(c.owner))[0]!.disabled, true);
          assert.equal(await keyLogsIn(c.key.key), false);
        },
      },
      { name: "delete another user's key", method: 'DELETE', path: (c) => keyPath(c), token: (c) => c.other.refresh_token, status: 404, errorCode: 'APIKeyNotFound', after: untouched },
      { name: 'a malformed key id', method: 'GET', path: '/auth/api_keys/not-an-id', token: (c) => c.owner.refresh_token, status: 404, errorCode: 'APIKeyNotFound' },
      // The owner's changes, and what they do to key logins.
      {
        name: 'disable: the key no longer logs in',
        method: 'PUT',
        path: (c) => keyPath(c, '/disable'),
        token: (c) => c.owner.refresh_token,
        status: 204,
        after: async (c) => {
          assert.deepEqual(await keysOf(c.owner), [{ _id: c.key._id, name: 'mine', disabled: true }]);
          assertError(await login('api-key', { key: c.key.key }), 401, 'AuthError');
        },
      },
      {
        name: 'enable: the key logs in again',
        method: 'PUT',
        path: (c) => keyPath(c, '/enable'),
        token: (c) => c.owner.refresh_token,
        before: async (c) => assert.equal((await send('PUT', keyPath(c, '/disable'), { token: c.owner.refresh_token })).status, 204),
        status: 204,
        after: untouched,
      },
      {
        name: 'delete: gone from the list, and no longer logs in',
        method: 'DELETE',
        path: (c) => keyPath(c),
        token: (c) => c.owner.refresh_token,
        status: 204,
        after: async (c) => {
          assert.deepEqual(await keysOf(c.owner), []);
          assertError(await login('api-key', { key: c.key.key }), 401, 'AuthError');
        },
      },
      // Key logins.
      { name: 'log in with an unknown key', method: 'POST', path: '/app/{app}/auth/providers/api-key/login', body: { key: 'nope' }, status: 401, errorCode: 'AuthError' },
      { name: 'log in with no key', method: 'POST', path: '/app/{app}/auth/providers/api-key/login', body: {}, status: 400, errorCode: 'MissingParameter' },
      { name: 'log in with a key over 256 characters', method: 'POST', path: '/app/{app}/auth/providers/api-key/login', body: { key: 'x'.repeat(300) }, status: 400, errorCode: 'InvalidParameter' },
    ],
  );
});
