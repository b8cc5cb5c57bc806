// The Realm device SDKs' wire, replayed: each request as realm-core v14.14.0 builds it (headers,
// body bytes, which token), and each answer read the way realm-core reads it, so that a type it
// would abort on, a token it would refuse or an error body it could not read fails here
// (wire-protocol.md §13; the emulation is test/helpers/realm-core.ts). Each case names the
// realm-core function whose request it replays. Runs on SQLite, and on PostgreSQL with
// BASTE_TEST_BACKEND=postgres (scripts/test.mjs).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import type { DataSourceConfig } from '../src/app/model.js';
import { hashRefreshToken } from '../src/sessions/sessions.js';
import { newObjectIdHex, randomToken } from '../src/util/ids.js';
import { CORE_DEVICE_OPTIONS, checkForErrors, coreParse, coreRequest, expectSuccess, field, realmJwt, type CoreDoc, type CoreValue } from './helpers/realm-core.js';
import { startGraphApi, type FakeGraphApi } from './fakes/graph-api.js';
import { startOidcProvider, type FakeOidcProvider } from './fakes/oidc-provider.js';
import { appConfig, appFunction, autoConfirmUserpass, provider, role, startServer, uniqueEmail, type TestServer } from './helpers/server.js';

const APP_ID = 'core-app-abcde';
const JWT_KEY = 'core-custom-jwt-signing-key-long-enough-0123456789';

const DATA_SOURCE: DataSourceConfig = {
  name: 'mongodb-atlas',
  type: 'mongodb-atlas',
  defaultRules: { roles: [role('all', { read: true, write: true })], filters: [] },
  collections: new Map(),
};

let idp: FakeOidcProvider;
let graph: FakeGraphApi;

function coreApp() {
  return {
    ...appConfig(
      [
        provider('anon-user'),
        autoConfirmUserpass(),
        provider('api-key'),
        provider('custom-token', { signingAlgorithm: 'HS256' }, { secretConfigLists: { signingKeys: ['jwtKey'] } }),
        provider('custom-function', { authFunctionName: 'authenticate' }),
        provider('oauth2-google', { clientId: idp.clientId, openId: false, ...idp.endpoints() }, { secretConfig: { clientSecret: 'googleSecret' }, metadataFields: [{ required: true, name: 'email' }, { required: false, name: 'name' }] }),
        provider('oauth2-facebook', { clientId: graph.appId, ...graph.endpoints() }, { secretConfig: { clientSecret: 'fbSecret' }, metadataFields: [{ required: false, name: 'email' }] }),
      ],
      APP_ID,
    ),
    secrets: new Map([['jwtKey', JWT_KEY], ['googleSecret', idp.clientSecret], ['fbSecret', graph.appSecret]]),
    dataSources: new Map([['mongodb-atlas', DATA_SOURCE]]),
    functions: new Map([
      appFunction('echo', 'exports = function(arg) { return arg; };'),
      appFunction('sum', 'exports = function(a, b) { return a + b; };'),
      appFunction('when', 'exports = function() { return { at: new Date(1700000000123), none: null }; };'),
      appFunction('authenticate', 'exports = function(payload) { return "device-" + payload.pin; };', { private: true }),
    ]),
  };
}

/** The parsed answer of a successful request. */
const parsed = (res: { body: string }): CoreValue => coreParse(res.body);
const str = (doc: CoreValue, key: string): string => field(doc, key, 'string').v;

describe('realm-core: the device SDKs’ requests, replayed', () => {
  let server: TestServer;
  let api: string;
  let appRoute: string;

  before(async () => {
    idp = await startOidcProvider();
    graph = await startGraphApi();
    server = await startServer(coreApp());
    api = `${server.url}/api/client/v2.0`;
    appRoute = `${api}/app/${APP_ID}`;
  });
  after(async () => {
    await server.close();
    await idp.close();
    await graph.close();
  });

  /**
   * `App::log_in_with_credentials`: the credential's fields, then `options.device`; the answer's
   * four strings, both tokens through `RealmJWT` (the metadata store rebuilds both), then
   * `App::get_profile` at once with the new access token.
   */
  async function logIn(providerName: string, credential: string): Promise<{ userId: string; accessToken: string; refreshToken: string; profile: CoreValue }> {
    const body = `{${credential}${credential ? ',' : ''}"options":${CORE_DEVICE_OPTIONS}}`;
    const res = expectSuccess(await coreRequest('POST', `${appRoute}/auth/providers/${providerName}/login`, { body }));
    const json = parsed(res);
    const userId = str(json, 'user_id');
    const accessToken = str(json, 'access_token');
    const refreshToken = str(json, 'refresh_token');
    str(json, 'device_id');
    realmJwt(accessToken);
    realmJwt(refreshToken);
    const profile = await getProfile(accessToken);
    return { userId, accessToken, refreshToken, profile };
  }

  /** `App::get_profile`: identities of strings `id` and `provider_type`, `data` a document of string fields. */
  async function getProfile(accessToken: string): Promise<CoreValue> {
    const profile = parsed(expectSuccess(await coreRequest('GET', `${api}/auth/profile`, { token: accessToken })));
    const identities = field(profile, 'identities', 'array').v;
    assert.ok(identities.length > 0);
    for (const identity of identities) {
      field(identity, 'id', 'string');
      field(identity, 'provider_type', 'string');
    }
    const data = field(profile, 'data', 'doc');
    // `UserProfile`'s accessors read these as strings.
    for (const key of ['name', 'email', 'picture_url', 'first_name', 'last_name', 'gender', 'birthday', 'min_age', 'max_age']) {
      const value = data.v.get(key);
      if (value !== undefined) assert.equal(value.t, 'string', `profile data.${key}`);
    }
    return profile;
  }

  /** `MongoCollection::call_function` → `App::call_function`: `{"arguments":[…],"name":…,"service":…}`. */
  async function callFunction(accessToken: string, name: string, argsEjson: string, service?: string): Promise<CoreValue> {
    const body = `{"arguments":${argsEjson},"name":${JSON.stringify(name)}${service ? `,"service":${JSON.stringify(service)}` : ''}}`;
    return parsed(expectSuccess(await coreRequest('POST', `${appRoute}/functions/call`, { token: accessToken, body })));
  }

  it('location: GET with no headers gives hostname and ws_hostname strings (App::update_location)', async () => {
    const res = await fetch(`${appRoute}/location`);
    assert.equal(res.status, 200);
    const json = coreParse(await res.text());
    assert.equal(str(json, 'hostname'), server.url);
    assert.match(str(json, 'ws_hostname'), /^ws:/);
  });

  it('anonymous login: both tokens are JWTs core can read, and the refresh token says so (jwt.cpp RealmJWT)', async () => {
    const { accessToken, refreshToken, profile, userId } = await logIn('anon-user', '"provider":"anon-user"');
    const refresh = realmJwt(refreshToken);
    const access = realmJwt(accessToken);
    assert.ok(refresh.expiresAt > access.expiresAt, 'the refresh token outlives the access token');
    const claims = JSON.parse(Buffer.from(refreshToken.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims.typ, 'refresh');
    assert.equal(claims.sub, userId);
    assert.equal(typeof claims.baas_id, 'string');
    assert.deepEqual(Object.keys(claims.baas_identity as object), ['id', 'provider_type', 'provider_id']);
    assert.equal((claims.baas_identity as { provider_type: string }).provider_type, 'anon-user');
    assert.equal(field(profile, 'identities', 'array').v.length, 1);
  });

  it('email/password: register, then log in with username (UsernamePasswordProviderClient::register_email, AppCredentials::username_password)', async () => {
    const email = uniqueEmail('core');
    expectSuccess(await coreRequest('POST', `${appRoute}/auth/providers/local-userpass/register`, { body: `{"email":${JSON.stringify(email)},"password":"s3cret-pass"}` }));
    const { profile } = await logIn('local-userpass', `"provider":"local-userpass","username":${JSON.stringify(email)},"password":"s3cret-pass"`);
    assert.equal(field(field(profile, 'data', 'doc'), 'email', 'string').v, email);
    // A wrong password: an error body core reads (exactly application/json, string error_code).
    const wrong = await coreRequest('POST', `${appRoute}/auth/providers/local-userpass/login`, {
      body: `{"provider":"local-userpass","username":${JSON.stringify(email)},"password":"wrong-pass","options":${CORE_DEVICE_OPTIONS}}`,
    });
    assert.deepEqual(
      { code: checkForErrors(wrong)?.code, status: wrong.status },
      { code: 'InvalidPassword', status: 401 },
    );
  });

  it('custom JWT and custom function logins (AppCredentials::custom, AppCredentials::function sends its payload as is)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ aud: APP_ID, sub: 'core-jwt-user', exp: now + 600, iat: now })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode(JWT_KEY));
    const jwt = await logIn('custom-token', `"provider":"custom-token","token":${JSON.stringify(token)}`);
    assert.equal(str(field(jwt.profile, 'identities', 'array').v[0]!, 'id'), 'core-jwt-user');
    const fn = await logIn('custom-function', '"pin":{"$numberInt":"4321"}');
    assert.equal(str(field(fn.profile, 'identities', 'array').v[0]!, 'id'), 'device-4321');
  });

  it('Google id_token and authCode, Facebook accessToken (AppCredentials::google, AppCredentials::facebook; the provider key first)', async () => {
    const who = { sub: `core-g-${Date.now()}`, email: 'core-g@example.com', email_verified: true, name: 'Core G' };
    const viaIdToken = await logIn('oauth2-google', `"provider":"oauth2-google","id_token":${JSON.stringify(await idp.idToken(who))}`);
    assert.equal(str(field(viaIdToken.profile, 'data', 'doc'), 'email'), 'core-g@example.com');
    const code = idp.issueAuthCode(who, `${server.url}/api/client/v2.0/auth/callback`);
    const viaCode = await logIn('oauth2-google', `"provider":"oauth2-google","authCode":${JSON.stringify(code)}`);
    assert.equal(viaCode.userId, viaIdToken.userId, 'the same Google account is the same user');
    const fb = await logIn('oauth2-facebook', `"provider":"oauth2-facebook","accessToken":${JSON.stringify(graph.userToken({ id: `core-fb-${Date.now()}`, email: 'core-fb@example.com' }))}`);
    assert.equal(str(field(fb.profile, 'identities', 'array').v[0]!, 'provider_type'), 'oauth2-facebook');
  });

  it('user API keys with the refresh token, then an API-key login (App::UserAPIKeyProviderClient, UserAPIKeyResponseHandler)', async () => {
    // Anonymous users may not make keys (the platform's rule): an email/password user does.
    const email = uniqueEmail('core-keys');
    expectSuccess(await coreRequest('POST', `${appRoute}/auth/providers/local-userpass/register`, { body: `{"email":${JSON.stringify(email)},"password":"keys-pass-1"}` }));
    const { refreshToken, userId } = await logIn('local-userpass', `"provider":"local-userpass","username":${JSON.stringify(email)},"password":"keys-pass-1"`);
    const keys = `${api}/auth/api_keys`;
    const created = parsed(expectSuccess(await coreRequest('POST', keys, { token: refreshToken, body: '{"name":"device-key"}' })));
    const id = str(created, '_id');
    assert.match(id, /^[0-9a-f]{24}$/);
    assert.equal(str(created, 'name'), 'device-key');
    assert.equal(field(created, 'disabled', 'bool').v, false);
    const key = str(created, 'key');

    const one = parsed(expectSuccess(await coreRequest('GET', `${keys}/${id}`, { token: refreshToken })));
    assert.equal(str(one, '_id'), id);
    const list = parsed(expectSuccess(await coreRequest('GET', keys, { token: refreshToken })));
    assert.equal(list.t, 'array');
    assert.deepEqual((list as { v: CoreValue[] }).v.map((k) => str(k, '_id')), [id]);

    expectSuccess(await coreRequest('PUT', `${keys}/${id}/disable`, { token: refreshToken }));
    const disabled = parsed(expectSuccess(await coreRequest('GET', `${keys}/${id}`, { token: refreshToken })));
    assert.equal(field(disabled, 'disabled', 'bool').v, true);
    expectSuccess(await coreRequest('PUT', `${keys}/${id}/enable`, { token: refreshToken }));

    const viaKey = await logIn('api-key', `"provider":"api-key","key":${JSON.stringify(key)}`);
    assert.equal(viaKey.userId, userId);
    expectSuccess(await coreRequest('DELETE', `${keys}/${id}`, { token: refreshToken }));
    const gone = await coreRequest('GET', `${keys}/${id}`, { token: refreshToken });
    assert.ok(checkForErrors(gone), 'a deleted key is an error core reads');
  });

  it('link: an anonymous user adds an email/password identity; the answer has a JWT access token (log_in_with_credentials with a linking user)', async () => {
    const anon = await logIn('anon-user', '"provider":"anon-user"');
    const email = uniqueEmail('core-link');
    expectSuccess(await coreRequest('POST', `${appRoute}/auth/providers/local-userpass/register`, { body: `{"email":${JSON.stringify(email)},"password":"link-pass-1"}` }));
    const res = expectSuccess(
      await coreRequest('POST', `${appRoute}/auth/providers/local-userpass/login?link=true`, {
        token: anon.accessToken,
        body: `{"provider":"local-userpass","username":${JSON.stringify(email)},"password":"link-pass-1","options":${CORE_DEVICE_OPTIONS}}`,
      }),
    );
    realmJwt(str(parsed(res), 'access_token'));
    const profile = await getProfile(anon.accessToken);
    assert.deepEqual(field(profile, 'identities', 'array').v.map((i) => str(i, 'provider_type')).sort(), ['anon-user', 'local-userpass']);
  });

  it('refresh with an empty body, logout, and a refresh after logout is a 401 core reads (refresh_access_token, log_out)', async () => {
    const { refreshToken, accessToken } = await logIn('anon-user', '"provider":"anon-user"');
    const refreshed = parsed(expectSuccess(await coreRequest('POST', `${api}/auth/session`, { token: refreshToken })));
    realmJwt(str(refreshed, 'access_token'));
    // An access token is not a refresh token, and a refresh token is not an access token.
    assert.equal((await coreRequest('POST', `${api}/auth/session`, { token: accessToken })).status, 401);
    assert.equal((await coreRequest('GET', `${api}/auth/profile`, { token: refreshToken })).status, 401);

    expectSuccess(await coreRequest('DELETE', `${api}/auth/session`, { token: refreshToken }));
    const after = await coreRequest('POST', `${api}/auth/session`, { token: refreshToken });
    assert.equal(after.status, 401);
    assert.equal(checkForErrors(after)?.code, 'InvalidSession');
  });

  it('a refresh token whose jti was changed is refused; one with its claims changed but the same jti still names only its own session', async () => {
    const { refreshToken } = await logIn('anon-user', '"provider":"anon-user"');
    const [header, payload, signature] = refreshToken.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const reencode = (c: Record<string, unknown>) => `${header}.${Buffer.from(JSON.stringify(c)).toString('base64url')}.${signature}`;
    const forged = await coreRequest('POST', `${api}/auth/session`, { token: reencode({ ...claims, jti: randomToken(32) }) });
    assert.equal(forged.status, 401);
    const notRefresh = await coreRequest('POST', `${api}/auth/session`, { token: reencode({ ...claims, typ: 'access' }) });
    assert.equal(notRefresh.status, 401);
  });

  it('delete: DELETE /auth/delete with the access token and an empty body; the user is gone (App::delete_user)', async () => {
    const { accessToken, refreshToken, userId } = await logIn('anon-user', '"provider":"anon-user"');
    expectSuccess(await coreRequest('DELETE', `${api}/auth/delete`, { token: accessToken }));
    assert.equal(await server.baste.store.getUser(userId), null);
    assert.equal((await coreRequest('POST', `${api}/auth/session`, { token: refreshToken })).status, 401);
  });

  it('functions/call: a Long argument comes back a Long, Int32 stays Int32, dates are canonical (App::call_function, bson::parse)', async () => {
    const { accessToken } = await logIn('anon-user', '"provider":"anon-user"');
    const long = await callFunction(accessToken, 'echo', '[{"$numberLong":"7"}]');
    assert.deepEqual(long, { t: 'int64', v: 7n });
    const int = await callFunction(accessToken, 'echo', '[{"$numberInt":"7"}]');
    assert.deepEqual(int, { t: 'int32', v: 7 });
    const double = await callFunction(accessToken, 'echo', '[{"$numberDouble":"7.5"}]');
    assert.deepEqual(double, { t: 'double', v: 7.5 });
    // A caller whose integers are Int64 (Swift's Int) reads Int64 back, computed ones included.
    const nested = await callFunction(accessToken, 'echo', '[{"n":{"$numberLong":"42"},"list":[{"$numberLong":"1"},{"$numberDouble":"2.5"}]}]');
    assert.deepEqual(field(nested, 'n', 'int64').v, 42n);
    assert.deepEqual(field(nested, 'list', 'array').v, [{ t: 'int64', v: 1n }, { t: 'double', v: 2.5 }]);
    assert.deepEqual(await callFunction(accessToken, 'sum', '[{"$numberLong":"2"},{"$numberLong":"3"}]'), { t: 'int64', v: 5n });
    // Int32 arguments (the web SDKs', Kotlin's Int) keep the narrowest type.
    assert.deepEqual(await callFunction(accessToken, 'sum', '[{"$numberInt":"2"},{"$numberInt":"3"}]'), { t: 'int32', v: 5 });
    const mixed = await callFunction(accessToken, 'echo', '[[{"$numberLong":"1"},{"$numberInt":"2"}]]');
    assert.deepEqual(mixed, { t: 'array', v: [{ t: 'int32', v: 1 }, { t: 'int32', v: 2 }] });
    assert.deepEqual(field(await callFunction(accessToken, 'when', '[]'), 'at', 'date').v, 1700000000123n);
  });

  it('a 401 on an expired access token, one refresh, and the retried request succeeds (App::handle_auth_failure)', async () => {
    const short = await startServer(coreApp(), { sessions: { accessTokenTtlSeconds: 1 } });
    try {
      const route = `${short.url}/api/client/v2.0`;
      const login = parsed(
        expectSuccess(await coreRequest('POST', `${route}/app/${APP_ID}/auth/providers/anon-user/login`, { body: `{"provider":"anon-user","options":${CORE_DEVICE_OPTIONS}}` })),
      );
      const refreshToken = str(login, 'refresh_token');
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const expired = await coreRequest('GET', `${route}/auth/profile`, { token: str(login, 'access_token') });
      assert.equal(expired.status, 401, 'core refreshes only on a 401');
      assert.ok(checkForErrors(expired));
      const fresh = str(parsed(expectSuccess(await coreRequest('POST', `${route}/auth/session`, { token: refreshToken }))), 'access_token');
      realmJwt(fresh);
      expectSuccess(await coreRequest('GET', `${route}/auth/profile`, { token: fresh }));
    } finally {
      await short.close();
    }
  });

  it('a session opened before refresh tokens were JWTs (an opaque token) still refreshes and logs out', async () => {
    const { userId } = await logIn('anon-user', '"provider":"anon-user"');
    const user = await server.baste.store.getUser(userId);
    assert.ok(user);
    // What the previous version wrote: 32 random bytes in base64url, stored as their SHA-256.
    const opaque = randomToken(32);
    const now = Date.now();
    await server.baste.store.createSession({
      id: newObjectIdHex(),
      userId,
      refreshHash: hashRefreshToken(opaque),
      deviceId: '0'.repeat(24),
      providerName: 'anon-user',
      providerType: 'anon-user',
      apiKeyId: null,
      createdAt: now,
      expiresAt: now + 60_000,
    });
    const refreshed = parsed(expectSuccess(await coreRequest('POST', `${api}/auth/session`, { token: opaque })));
    realmJwt(str(refreshed, 'access_token'));
    expectSuccess(await coreRequest('DELETE', `${api}/auth/session`, { token: opaque }));
    assert.equal((await coreRequest('POST', `${api}/auth/session`, { token: opaque })).status, 401);
  });

  describe('the remote MongoDB client (mongo_collection.cpp)', () => {
    let token: string;
    const ns = '"database":"core","collection":"items"';
    const call = (name: string, args: string) => callFunction(token, name, `[{${ns}${args ? ',' : ''}${args}}]`, 'mongodb-atlas');

    before(async () => {
      token = (await logIn('anon-user', '"provider":"anon-user"')).accessToken;
    });

    it('insertOne answers insertedId; insertMany an array insertedIds (MongoCollection::insert_one, insert_many)', async () => {
      const one = await call('insertOne', '"document":{"name":"a","n":{"$numberLong":"1"},"at":{"$date":{"$numberLong":"1700000000000"}}}');
      field(one, 'insertedId', 'oid');
      const many = await call('insertMany', '"documents":[{"name":"b","n":{"$numberLong":"2"}},{"name":"c","n":{"$numberLong":"3"}}]');
      const ids = field(many, 'insertedIds', 'array').v;
      assert.equal(ids.length, 2);
      assert.ok(ids.every((id) => id.t === 'oid'));
    });

    it('count is an Int64, with and without a limit sent as $numberLong (MongoCollection::count)', async () => {
      assert.deepEqual(await call('count', '"query":{}'), { t: 'int64', v: 3n });
      assert.deepEqual(await call('count', '"query":{},"limit":{"$numberLong":"2"}'), { t: 'int64', v: 2n });
      assert.deepEqual(await call('count', '"query":{"name":"nobody"}'), { t: 'int64', v: 0n });
    });

    it('find and aggregate answer arrays; findOne a document or null; Int64s and dates keep their types (find_bson, find_one_bson, aggregate_bson)', async () => {
      const found = await call('find', '"query":{},"limit":{"$numberLong":"10"},"project":{"name":{"$numberInt":"1"},"n":{"$numberInt":"1"},"at":{"$numberInt":"1"}},"sort":{"name":{"$numberInt":"1"}}');
      assert.equal(found.t, 'array');
      const docs = (found as { v: CoreDoc[] }).v;
      assert.deepEqual(docs.map((d) => str(d, 'name')), ['a', 'b', 'c']);
      assert.deepEqual(docs.map((d) => field(d, 'n', 'int64').v), [1n, 2n, 3n]);
      assert.equal(field(docs[0]!, 'at', 'date').v, 1700000000000n);
      const one = await call('findOne', '"query":{"name":"b"}');
      assert.equal(str(one, 'name'), 'b');
      assert.deepEqual(await call('findOne', '"query":{"name":"nobody"}'), { t: 'null' });
      const grouped = await call('aggregate', '"pipeline":[{"$group":{"_id":null,"total":{"$sum":"$n"}}}]');
      assert.equal(grouped.t, 'array');
    });

    it('a stored Int64 or integral Double reads back with its type (Swift `Int` and `Double` fields)', async () => {
      const docs = (await call('find', '"query":{},"sort":{"name":{"$numberInt":"1"}}')) as { v: CoreDoc[] };
      assert.deepEqual(docs.v.map((d) => field(d, 'n', 'int64').v), [1n, 2n, 3n]);
      await call('insertOne', '"document":{"name":"typed","price":{"$numberDouble":"5.0"},"small":{"$numberInt":"5"},"big":{"$numberLong":"5"},"nested":{"list":[{"$numberLong":"1"},{"$numberDouble":"2.0"}]}}');
      const typed = await call('findOne', '"query":{"name":"typed"}');
      assert.equal(field(typed, 'price', 'double').v, 5);
      assert.equal(field(typed, 'small', 'int32').v, 5);
      assert.equal(field(typed, 'big', 'int64').v, 5n);
      assert.deepEqual(field(field(typed, 'nested', 'doc'), 'list', 'array').v, [{ t: 'int64', v: 1n }, { t: 'double', v: 2 }]);
      // A projection keeps the types of what it shows.
      const projected = await call('findOne', '"query":{"name":"typed"},"project":{"big":{"$numberInt":"1"}}');
      assert.equal(field(projected, 'big', 'int64').v, 5n);
      // Arithmetic keeps the wider type; a field set anew takes the new value's type.
      await call('updateOne', '"query":{"name":"typed"},"update":{"$inc":{"big":{"$numberInt":"1"},"price":{"$numberInt":"1"}},"$set":{"small":{"$numberLong":"7"}}},"upsert":false');
      const after = await call('findOne', '"query":{"name":"typed"}');
      assert.equal(field(after, 'big', 'int64').v, 6n);
      assert.equal(field(after, 'price', 'double').v, 6);
      assert.equal(field(after, 'small', 'int64').v, 7n);
      assert.deepEqual(field(await call('deleteOne', '"query":{"name":"typed"}'), 'deletedCount', 'int32').v, 1);
    });

    it('updateOne/updateMany answer Int32 matchedCount and modifiedCount, and upsertedId on an upsert (get_update_handler)', async () => {
      const one = await call('updateOne', '"query":{"name":"a"},"update":{"$set":{"seen":true}},"upsert":false');
      assert.deepEqual([field(one, 'matchedCount', 'int32').v, field(one, 'modifiedCount', 'int32').v], [1, 1]);
      const many = await call('updateMany', '"query":{},"update":{"$inc":{"n":{"$numberLong":"10"}}},"upsert":false');
      assert.deepEqual([field(many, 'matchedCount', 'int32').v, field(many, 'modifiedCount', 'int32').v], [3, 3]);
      const upsert = await call('updateOne', '"query":{"name":"d"},"update":{"$set":{"n":{"$numberLong":"4"}}},"upsert":true');
      assert.deepEqual([field(upsert, 'matchedCount', 'int32').v, field(upsert, 'modifiedCount', 'int32').v], [0, 0]);
      field(upsert, 'upsertedId', 'oid');
      const none = await call('updateMany', '"query":{"name":"nobody"},"update":{"$set":{"x":{"$numberInt":"1"}}},"upsert":false');
      assert.deepEqual([field(none, 'matchedCount', 'int32').v, field(none, 'modifiedCount', 'int32').v], [0, 0]);
    });

    it('findOneAndUpdate/Replace/Delete take `filter` and answer a document or null (find_one_and_*_bson)', async () => {
      const updated = await call('findOneAndUpdate', '"filter":{"name":"a"},"update":{"$set":{"flag":{"$numberInt":"1"}}},"returnNewDocument":true');
      assert.equal(field(updated, 'flag', 'int32').v, 1);
      assert.equal(field(updated, 'n', 'int64').v, 11n);
      const replaced = await call('findOneAndReplace', '"filter":{"name":"b"},"update":{"name":"b2","n":{"$numberLong":"5"}},"returnNewDocument":true');
      assert.equal(field(replaced, 'n', 'int64').v, 5n);
      assert.equal(field(await call('findOne', '"query":{"name":"b2"}'), 'n', 'int64').v, 5n);
      const deleted = await call('findOneAndDelete', '"filter":{"name":"c"}');
      assert.equal(str(deleted, 'name'), 'c');
      assert.deepEqual(await call('findOneAndDelete', '"filter":{"name":"nobody"}'), { t: 'null' });
    });

    it('deleteOne/deleteMany answer an Int32 deletedCount (get_delete_count_handler)', async () => {
      assert.deepEqual(field(await call('deleteOne', '"query":{"name":"a"}'), 'deletedCount', 'int32').v, 1);
      assert.deepEqual(field(await call('deleteMany', '"query":{}'), 'deletedCount', 'int32').v, 2);
      assert.deepEqual(field(await call('deleteMany', '"query":{}'), 'deletedCount', 'int32').v, 0);
    });
  });
});
