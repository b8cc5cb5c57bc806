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

const PASSWORD = 'secret123';

// realm-web's default storage is shared process-wide; each App here gets its own, as on separate devices.
const RealmStorage = (Realm.getEnvironment().defaultStorage as unknown as { constructor: new () => unknown }).constructor;
const realmApp = (server: TestServer) =>
  new Realm.App({ id: server.appId, baseUrl: server.url, storage: new RealmStorage() } as ConstructorParameters<typeof Realm.App>[0]);

describe('API keys', () => {
  let server: TestServer;
  const api = (path: string) => `${server.url}/api/client/v2.0${path}`;
  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    const res = await fetch(api(path), {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined, contentType: res.headers.get('content-type') };
  };
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

  it('#48: the api_keys routes refuse an access token, and the refusal creates nothing', async () => {
    const u = await passwordUser();
    const res = await call('POST', '/auth/api_keys', u.access_token, { name: 'x' });
    assert.equal(res.status, 401);
    assert.equal(res.json.error_code, 'InvalidSession');
    assert.equal((await call('GET', '/auth/api_keys', u.access_token)).status, 401);
    assert.deepEqual((await call('GET', '/auth/api_keys', u.refresh_token)).json, []);
  });

  it('refuses anonymous users, duplicate names, bad names and the 21st key', async () => {
    const anon = (await call('POST', `/app/${server.appId}/auth/providers/anon-user/login`, undefined, {})).json;
    const anonRes = await call('POST', '/auth/api_keys', anon.refresh_token, { name: 'x' });
    assert.equal(anonRes.status, 400);
    assert.equal(anonRes.json.error_code, 'BadRequest');

    const u = await passwordUser();
    for (const name of [undefined, '', 5, 'x'.repeat(65), 'bad\u0000name']) {
      const res = await call('POST', '/auth/api_keys', u.refresh_token, { name });
      assert.equal(res.status, 400, `name ${JSON.stringify(name)}`);
    }
    assert.equal((await call('POST', '/auth/api_keys', u.refresh_token, { name: 'dup' })).status, 201);
    const dup = await call('POST', '/auth/api_keys', u.refresh_token, { name: 'dup' });
    assert.equal(dup.status, 409);
    assert.equal(dup.json.error_code, 'APIKeyAlreadyExists');
    for (let i = 1; i < 20; i++) assert.equal((await call('POST', '/auth/api_keys', u.refresh_token, { name: `k${i}` })).status, 201);
    const over = await call('POST', '/auth/api_keys', u.refresh_token, { name: 'k20' });
    assert.equal(over.status, 400);
    assert.match(over.json.error, /20/);
    assert.equal((await call('GET', '/auth/api_keys', u.refresh_token)).json.length, 20);
  });

  it("answers another user's key id, and malformed ids, with APIKeyNotFound", async () => {
    const a = await passwordUser();
    const b = await passwordUser();
    const key = (await call('POST', '/auth/api_keys', a.refresh_token, { name: 'mine' })).json;
    for (const [method, suffix] of [['GET', ''], ['PUT', '/disable'], ['PUT', '/enable'], ['DELETE', '']] as const) {
      const res = await call(method, `/auth/api_keys/${key._id}${suffix}`, b.refresh_token);
      assert.equal(res.status, 404, `${method} ${suffix}`);
      assert.equal(res.json.error_code, 'APIKeyNotFound');
    }
    assert.equal((await call('GET', '/auth/api_keys/not-an-id', a.refresh_token)).status, 404);
    // b's attempts changed nothing
    assert.deepEqual((await call('GET', `/auth/api_keys/${key._id}`, a.refresh_token)).json, { _id: key._id, name: 'mine', disabled: false });
    assert.equal((await keyLogin(key.key)).status, 200);
  });

  it('refuses bad key logins with clear errors', async () => {
    assert.equal((await keyLogin('nope')).status, 401);
    assert.equal((await call('POST', `/app/${server.appId}/auth/providers/api-key/login`, undefined, {})).status, 400);
    assert.equal((await keyLogin('x'.repeat(300))).status, 400);
  });

  it('refuses key logins of a disabled user, and deleting the user removes the keys', async () => {
    const u = await passwordUser();
    const key = (await call('POST', '/auth/api_keys', u.refresh_token, { name: 'k' })).json;
    await server.baste.store.setUserDisabled(u.user_id, true);
    const res = await keyLogin(key.key);
    assert.equal(res.status, 403);
    assert.equal(res.json.error_code, 'UserDisabled');
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
    const base = `${server.url}/api/client/v2.0`;
    const email = uniqueEmail();
    const post = (path: string, body: unknown, token?: string) =>
      fetch(base + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
    await post(`/app/${server.appId}/auth/providers/local-userpass/register`, { email, password: PASSWORD });
    const login = await (await post(`/app/${server.appId}/auth/providers/local-userpass/login`, { username: email, password: PASSWORD })).json();
    const res = await post('/auth/api_keys', { name: 'k' }, login.refresh_token);
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error_code, 'AuthProviderNotFound');
    assert.equal((await post(`/app/${server.appId}/auth/providers/api-key/login`, { key: 'x' })).status, 404);
  });
});

