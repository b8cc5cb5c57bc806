// End-to-end: the unmodified realm-web 2.0.1 SDK against a real Baste server
// (wire-checklist.md items tagged [RW] or "Both" that touch location, login, profile, sessions,
// logout, deletion, linking and the email/password routes).
//
// Every App gets its own in-memory storage and a recording `fetch`, so the traffic the SDK
// sends (method, URL, headers, body) and what it got back can be asserted.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as Realm from 'realm-web';
import { API, calls, cls, fakeLocationServer, loginPath, raw, startSdkServers, userpassPath } from './helpers/sdk-e2e.js';
import { decodeJwt, tokensOf, uniqueEmail, type TestServer } from './helpers/server.js';

// ---------------------------------------------------------------------------------------------
// Recording fetch and App factory

interface Rec {
  method: string;
  url: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  status?: number;
  responseType?: string | null;
  responseBody?: string;
}

function recordingFetch(log: Rec[]) {
  return async (url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}) => {
    const headers = Object.fromEntries(Object.entries(init.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
    const rec: Rec = {
      method: init.method ?? 'GET',
      url,
      path: new URL(url).pathname,
      headers,
      body: typeof init.body === 'string' ? init.body : undefined,
    };
    log.push(rec);
    const res = await fetch(url, init as RequestInit);
    rec.status = res.status;
    rec.responseType = res.headers.get('content-type');
    rec.responseBody = await res.clone().text();
    return res;
  };
}

// realm-web does not export its MemoryStorage; the default storage is one (and shared process-wide).
type MemoryStorageLike = { storage: Record<string, string> };
const MemoryStorage = (Realm.getEnvironment().defaultStorage as unknown as { constructor: new () => MemoryStorageLike }).constructor;

interface Client {
  app: Realm.App;
  log: Rec[];
  storage: MemoryStorageLike;
}

function newApp(server: { url: string; appId: string }, extra: Record<string, unknown> = {}): Client {
  const log: Rec[] = [];
  const storage = new MemoryStorage();
  const app = new Realm.App({
    id: server.appId,
    baseUrl: server.url,
    storage,
    fetch: recordingFetch(log),
    ...extra,
  } as unknown as Realm.AppConfiguration);
  return { app, log, storage };
}

/** Asserts a MongoDBRealmError with the given status and code (and, optionally, message text). */
async function rejectsRealm(p: Promise<unknown>, statusCode: number, errorCode: string, text?: string | RegExp) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof Realm.MongoDBRealmError, `expected a MongoDBRealmError, got ${String(err)}`);
    assert.equal(err.statusCode, statusCode, err.message);
    assert.equal(err.errorCode, errorCode, err.message);
    if (typeof text === 'string') assert.ok(err.message.includes(text), `"${err.message}" should contain "${text}"`);
    else if (text) assert.match(err.message, text);
    return true;
  });
}

async function registerAndLogIn(c: Client, email = uniqueEmail('rw'), password = 'password1') {
  await c.app.emailPasswordAuth.registerUser({ email, password });
  const user = await c.app.logIn(Realm.Credentials.emailPassword(email, password));
  return { user, email, password };
}

// ---------------------------------------------------------------------------------------------
// Servers

let main: TestServer; // anon, local-userpass (auto-confirm), my-userpass, a disabled provider
let confirming: TestServer; // local-userpass with email confirmation, anon
let resetFn: TestServer; // local-userpass whose password reset runs a function
let shortTtl: TestServer; // access tokens live 2 s

before(async () => {
  ({ main, confirming, resetFn, shortTtl } = await startSdkServers());
});

after(async () => {
  await Promise.all([main, confirming, resetFn, shortTtl].map((s) => s?.close()));
});

// ---------------------------------------------------------------------------------------------


describe('realm-web: location and bootstrapping', () => {
  it('#2 performs one location request with Accept: application/json, then uses hostname for every call', async () => {
    const c = newApp(main);
    await c.app.logIn(Realm.Credentials.anonymous(false));
    await c.app.logIn(Realm.Credentials.anonymous(false));
    const locations = c.log.filter((r) => r.path.endsWith('/location'));
    assert.equal(locations.length, 1);
    assert.equal(c.log[0]!.url, `${main.url}${API}/app/${main.appId}/location`);
    assert.equal(c.log[0]!.method, 'GET');
    assert.equal(c.log[0]!.headers.accept, 'application/json');
    assert.equal(c.log[0]!.headers.authorization, undefined);
    const hostname = JSON.parse(c.log[0]!.responseBody!).hostname;
    assert.equal(hostname, main.url);
    assert.deepEqual(calls(c.log.slice(1)), [
      `POST ${loginPath(main.appId, 'anon-user')}`,
      `GET ${API}/auth/profile`,
      `POST ${loginPath(main.appId, 'anon-user')}`,
      `GET ${API}/auth/profile`,
    ]);
    for (const r of c.log.slice(1)) assert.ok(r.url.startsWith(`${hostname}/`), r.url);
  });

  it('#3 skipLocationRequest logs in without any location request', async () => {
    const c = newApp(main, { skipLocationRequest: true });
    const user = await c.app.logIn(Realm.Credentials.anonymous(false));
    assert.equal(typeof user.id, 'string');
    assert.equal(c.log.filter((r) => r.path.endsWith('/location')).length, 0);
    assert.deepEqual(calls(c.log), [`POST ${loginPath(main.appId, 'anon-user')}`, `GET ${API}/auth/profile`]);
  });

  it('#4 a location hostname pointing at another port sends the next requests there', async () => {
    const fake = await fakeLocationServer(main.url);
    try {
      const c = newApp({ url: fake.url, appId: main.appId });
      const user = await c.app.logIn(Realm.Credentials.anonymous(false));
      assert.ok(user.id.length > 0);
      assert.deepEqual(fake.hits, [`GET ${API}/app/${main.appId}/location`]);
      assert.ok(c.log[0]!.url.startsWith(fake.url));
      assert.notEqual(new URL(fake.url).port, new URL(main.url).port);
      for (const r of c.log.slice(1)) assert.equal(new URL(r.url).port, new URL(main.url).port, r.url);
      assert.equal(c.log.length, 3);
    } finally {
      await fake.close();
    }
  });

  it('#5 an unknown app id: location answers a JSON error and logIn rejects with it', async () => {
    const c = newApp({ url: main.url, appId: 'no-such-app-xyz' });
    await rejectsRealm(c.app.logIn(Realm.Credentials.anonymous()), 404, 'AppNotFound', "cannot find app using Client App ID 'no-such-app-xyz'");
    assert.equal(c.log.length, 1);
    assert.ok(c.log[0]!.path.endsWith('/app/no-such-app-xyz/location'));
    assert.equal(c.log[0]!.responseType, 'application/json');
    // A failed lookup is not cached: the next attempt asks again.
    await assert.rejects(c.app.logIn(Realm.Credentials.anonymous()));
    assert.equal(c.log.filter((r) => r.path.endsWith('/location')).length, 2);
  });
});

describe('realm-web: login', () => {
  it('#6 anonymous login: non-empty id, one anon-user identity', async () => {
    const c = newApp(main);
    const user = await c.app.logIn(Realm.Credentials.anonymous());
    assert.equal(typeof user.id, 'string');
    assert.match(user.id, /^[0-9a-f]{24}$/);
    assert.equal(user.identities.length, 1);
    assert.equal(user.identities[0]!.providerType, 'anon-user');
    assert.equal(user.providerType, 'anon-user');
    assert.equal(user.state, 'active');
    assert.equal(c.app.currentUser, user);
    const profile = JSON.parse(c.log.find((r) => r.path === `${API}/auth/profile`)!.responseBody!);
    assert.equal(profile.identities.length, 1);
    assert.equal(profile.identities[0].provider_type, 'anon-user');
    assert.equal(profile.user_id, user.id);
  });

  it('#8 a second anonymous() login returns the same User object and only sends GET /auth/profile', async () => {
    const c = newApp(main);
    const first = await c.app.logIn(Realm.Credentials.anonymous());
    const before = c.log.length;
    const second = await c.app.logIn(Realm.Credentials.anonymous());
    assert.equal(second, first);
    assert.deepEqual(calls(c.log.slice(before)), [`GET ${API}/auth/profile`]);
    assert.equal(cls(c.log.at(-1)!.status), '2xx');
  });

  it('#9 anonymous(false) creates a new, different user', async () => {
    const c = newApp(main);
    const first = await c.app.logIn(Realm.Credentials.anonymous());
    const second = await c.app.logIn(Realm.Credentials.anonymous(false));
    assert.notEqual(second.id, first.id);
    assert.notEqual(second, first);
    assert.equal(c.app.currentUser, second);
    assert.equal(Object.keys(c.app.allUsers).length, 2);
  });

  it('#10 register then email/password login; the profile email equals the email', async () => {
    const c = newApp(main);
    const email = uniqueEmail('rw10');
    await c.app.emailPasswordAuth.registerUser({ email, password: 'password10' });
    const reg = c.log.find((r) => r.path === userpassPath(main.appId, 'register'))!;
    assert.equal(reg.method, 'POST');
    assert.deepEqual(JSON.parse(reg.body!), { email, password: 'password10' });
    assert.ok(reg.status! >= 200 && reg.status! < 300);
    const user = await c.app.logIn(Realm.Credentials.emailPassword(email, 'password10'));
    assert.equal(user.profile.email, email);
    assert.equal(user.providerType, 'local-userpass');
    const login = c.log.find((r) => r.path === loginPath(main.appId, 'local-userpass'))!;
    assert.equal(JSON.parse(login.body!).username, email);
  });

  it('#11 a wrong password rejects with InvalidPassword, status 401', async () => {
    const c = newApp(main);
    const email = uniqueEmail('rw11');
    await c.app.emailPasswordAuth.registerUser({ email, password: 'password11' });
    await rejectsRealm(c.app.logIn(Realm.Credentials.emailPassword(email, 'wrong-password')), 401, 'InvalidPassword', 'invalid username/password');
    assert.equal(c.app.currentUser, null);
    // No refresh was attempted for a login failure.
    assert.equal(c.log.filter((r) => r.path === `${API}/auth/session`).length, 0);
  });

  it('#12 registering the same email twice rejects with 409 AccountNameInUse', async () => {
    const c = newApp(main);
    const email = uniqueEmail('rw12');
    await c.app.emailPasswordAuth.registerUser({ email, password: 'password12' });
    await rejectsRealm(c.app.emailPasswordAuth.registerUser({ email, password: 'password12' }), 409, 'AccountNameInUse', 'name already in use');
  });

  it('#17 (RW variant) a custom provider name posts to /auth/providers/<name>/login', async () => {
    const email = uniqueEmail('rw17');
    const reg = await raw(main, 'POST', `${API}/app/${main.appId}/auth/providers/my-userpass/register`, undefined, { email, password: 'password17' });
    assert.equal(cls(reg.status), '2xx');
    const c = newApp(main);
    const user = await c.app.logIn(new Realm.Credentials('my-userpass', 'local-userpass', false, { username: email, password: 'password17' }));
    assert.ok(c.log.some((r) => r.method === 'POST' && r.path === loginPath(main.appId, 'my-userpass') && cls(r.status) === '2xx'));
    assert.equal(user.profile.email, email);
    assert.equal(user.providerType, 'local-userpass');
    await rejectsRealm(
      c.app.logIn(new Realm.Credentials('my-userpass', 'local-userpass', false, { username: email, password: 'wrong-password' })),
      401,
      'InvalidPassword',
    );
  });

  it('#18 a login to a provider that is not enabled rejects with AuthProviderNotFound', async () => {
    const c = newApp(main);
    await rejectsRealm(c.app.logIn(Realm.Credentials.apiKey('some-key')), 404, 'AuthProviderNotFound');
    await rejectsRealm(
      c.app.logIn(new Realm.Credentials('off-userpass', 'local-userpass', false, { username: 'a@b.c', password: 'password' })),
      404,
      'AuthProviderNotFound',
    );
    assert.equal(c.app.currentUser, null);
  });
});

describe('realm-web: device information and the login response', () => {
  it('#19 #20 #21 #22 #23 device fields are sent, recorded, and the device_id comes back on the next login', async () => {
    const c = newApp(main, { app: { name: 'x', version: '1' } });
    const first = await c.app.logIn(Realm.Credentials.anonymous(false));
    const second = await c.app.logIn(Realm.Credentials.anonymous(false)); // #22: two consecutive logins succeed
    assert.notEqual(first.id, second.id);

    const logins = c.log.filter((r) => r.path === loginPath(main.appId, 'anon-user'));
    assert.equal(logins.length, 2);
    // #19 #20: what the SDK sent
    const d1 = JSON.parse(logins[0]!.body!).options.device;
    assert.equal(d1.sdkVersion, '2.0.1');
    assert.equal(d1.platform, process.release.name);
    assert.equal(d1.platformVersion, process.versions.node);
    assert.equal(d1.appId, 'x');
    assert.equal(d1.appVersion, '1');
    assert.equal(d1.deviceId, undefined, 'no device id on the very first login');

    // #23: the login response
    const r1 = JSON.parse(logins[0]!.responseBody!);
    assert.match(r1.device_id, /^[0-9a-f]{24}$/);
    assert.equal(r1.user_id, first.id);
    assert.equal(typeof r1.refresh_token, 'string');
    const claims = decodeJwt(r1.access_token);
    assert.equal(typeof claims.exp, 'number');
    assert.equal(typeof claims.iat, 'number');
    assert.ok((claims.exp as number) > (claims.iat as number));
    assert.equal(claims.sub, first.id);
    assert.equal(first.deviceId, r1.device_id);

    // #21: the second login carries the first device_id as an EJSON ObjectId
    const d2 = JSON.parse(logins[1]!.body!).options.device;
    assert.deepEqual(d2.deviceId, { $oid: r1.device_id });
    const r2 = JSON.parse(logins[1]!.responseBody!);
    assert.equal(r2.device_id, r1.device_id, 'the server keeps the device id the client sent');
    assert.equal(second.deviceId, r1.device_id);

    // #19 #20 seen by the server: what it stored for these logins
    const [rec1] = await main.baste.store.listDevices(first.id);
    const [rec2] = await main.baste.store.listDevices(second.id);
    assert.ok(rec1 && rec2, 'the server recorded both devices');
    assert.equal(rec1.id, r1.device_id);
    assert.equal(rec2.id, r1.device_id);
    assert.equal(rec1.platform, process.release.name);
    assert.equal(rec1.platformVersion, process.versions.node);
    assert.equal(rec1.sdkVersion, '2.0.1');
    assert.equal(rec1.appId, 'x');
    assert.equal(rec1.appVersion, '1');
  });
});

describe('realm-web: profile, custom data and sessions', () => {
  it('#24 #25 the profile and identities are populated after login', async () => {
    const c = newApp(main);
    const { user, email } = await registerAndLogIn(c);
    assert.equal(user.profile.email, email);
    assert.equal(user.identities.length, 1);
    const identity = user.identities[0]!;
    assert.equal(identity.providerType, 'local-userpass');
    assert.equal(typeof identity.id, 'string');
    assert.ok(identity.id.length > 0);
    const wire = JSON.parse(c.log.filter((r) => r.path === `${API}/auth/profile`).at(-1)!.responseBody!);
    assert.equal(wire.type, 'normal');
    assert.equal(wire.identities[0].id, identity.id);
    assert.equal(wire.data.email, email);
  });

  it('#26 #27 customData is {} and refreshCustomData sends POST /auth/session with the refresh token', async () => {
    const c = newApp(main);
    const { user } = await registerAndLogIn(c);
    assert.deepEqual(user.customData, {});
    const refreshToken = user.refreshToken!;
    const before = c.log.length;
    const data = await user.refreshCustomData();
    assert.deepEqual(data, {});
    assert.deepEqual(calls(c.log.slice(before)), [`POST ${API}/auth/session`]);
    const req = c.log.at(-1)!;
    assert.equal(req.headers.authorization, `Bearer ${refreshToken}`);
    assert.equal(cls(req.status), '2xx');
    assert.equal(JSON.parse(req.responseBody!).access_token, user.accessToken);
    assert.equal(decodeJwt(user.accessToken!).sub, user.id);
  });

  it('#28 a revoked refresh token: POST /auth/session is 401 InvalidSession and the user is logged out', async () => {
    const c = newApp(main);
    const { user } = await registerAndLogIn(c);
    const revoke = await raw(main, 'DELETE', `${API}/auth/session`, user.refreshToken!);
    assert.equal(cls(revoke.status), '2xx');
    await rejectsRealm(user.refreshCustomData(), 401, 'InvalidSession');
    assert.equal(user.state, 'logged-out');
    assert.equal(user.isLoggedIn, false);
    assert.equal(c.app.currentUser, null);
  });

  it('#28 an access-token call after revocation: one refresh attempt, then the user is logged out', async () => {
    const c = newApp(main);
    const { user } = await registerAndLogIn(c);
    await raw(main, 'DELETE', `${API}/auth/session`, user.refreshToken!);
    const before = c.log.length;
    await rejectsRealm(user.refreshProfile(), 401, 'InvalidSession');
    assert.deepEqual(calls(c.log.slice(before)), [`GET ${API}/auth/profile`, `POST ${API}/auth/session`]);
    assert.equal(user.state, 'logged-out');
  });

  it('#30 an expired access token is refreshed transparently: exactly one 401, one refresh, one retry', async () => {
    const c = newApp(shortTtl);
    const { user, email } = await registerAndLogIn(c);
    const exp = decodeJwt(user.accessToken!).exp as number;
    assert.equal(exp - (decodeJwt(user.accessToken!).iat as number), 2);
    await sleep(Math.max(0, exp * 1000 - Date.now()) + 150);
    const before = c.log.length;
    await user.refreshProfile();
    assert.equal(user.profile.email, email);
    const traffic = c.log.slice(before);
    assert.deepEqual(calls(traffic), [`GET ${API}/auth/profile`, `POST ${API}/auth/session`, `GET ${API}/auth/profile`]);
    assert.deepEqual(traffic.map((r) => cls(r.status)), [401, '2xx', '2xx']);
    assert.equal(JSON.parse(traffic[0]!.responseBody!).error_code, 'InvalidSession');
    assert.equal(traffic[0]!.responseType, 'application/json');
    assert.equal(user.state, 'active');
    assert.ok((decodeJwt(user.accessToken!).exp as number) > exp);
  });

  it('#32 an invalid access token injected into the user leads to a transparent refresh and the right result', async () => {
    const c = newApp(main);
    const { user, email } = await registerAndLogIn(c);
    const good = user.accessToken!;
    (user as unknown as { _accessToken: string })._accessToken = `${good.slice(0, -6)}AAAAAA`; // bad signature
    const before = c.log.length;
    await user.refreshProfile();
    assert.equal(user.profile.email, email);
    assert.deepEqual(calls(c.log.slice(before)), [`GET ${API}/auth/profile`, `POST ${API}/auth/session`, `GET ${API}/auth/profile`]);
    assert.deepEqual(c.log.slice(before).map((r) => cls(r.status)), [401, '2xx', '2xx']);
    assert.notEqual(user.accessToken, `${good.slice(0, -6)}AAAAAA`);
    assert.equal(user.state, 'active');
  });
});

describe('realm-web: logout, removal and deletion', () => {
  it('#34 logOut sends DELETE /auth/session with the refresh token, which then no longer works', async () => {
    const c = newApp(main);
    const { user } = await registerAndLogIn(c);
    const refreshToken = user.refreshToken!;
    const before = c.log.length;
    await user.logOut();
    assert.deepEqual(calls(c.log.slice(before)), [`DELETE ${API}/auth/session`]);
    assert.equal(c.log.at(-1)!.headers.authorization, `Bearer ${refreshToken}`);
    assert.equal(cls(c.log.at(-1)!.status), '2xx');
    assert.equal(user.state, 'logged-out');
    assert.ok(user.id in c.app.allUsers, 'a logged-out user stays in allUsers');
    const again = await raw(main, 'POST', `${API}/auth/session`, refreshToken);
    assert.equal(again.status, 401);
    assert.equal(again.json.error_code, 'InvalidSession');
  });

  it('#35 logOut resolves even when the refresh token was already revoked', async () => {
    const c = newApp(main);
    const { user } = await registerAndLogIn(c);
    await raw(main, 'DELETE', `${API}/auth/session`, user.refreshToken!);
    await user.logOut();
    const answer = c.log.at(-1)!;
    assert.equal(answer.method, 'DELETE');
    assert.ok(
      (answer.status! >= 200 && answer.status! < 300) || JSON.parse(answer.responseBody!).error.includes('failed to find refresh token'),
      `unexpected answer ${answer.status} ${answer.responseBody}`,
    );
    assert.equal(user.state, 'logged-out');
  });

  it('#36 deleteUser sends DELETE /auth/delete then DELETE /auth/session, and the credentials stop working', async () => {
    const c = newApp(main);
    const { user, email, password } = await registerAndLogIn(c);
    const before = c.log.length;
    await c.app.deleteUser(user);
    assert.deepEqual(calls(c.log.slice(before)), [`DELETE ${API}/auth/delete`, `DELETE ${API}/auth/session`]);
    assert.equal(cls(c.log[before]!.status), '2xx');
    assert.equal(user.state, 'removed');
    assert.ok(!(user.id in c.app.allUsers));
    // realm-web's own suite expects "unauthorized" in the message (case and all), as the platform answered.
    const before2 = c.log.length;
    await rejectsRealm(c.app.logIn(Realm.Credentials.emailPassword(email, password)), 401, 'InvalidPassword', 'unauthorized');
    // The user is gone server-side too.
    assert.equal(await main.baste.store.getUser(user.id), null);
    // A deleted user, an email never registered and a wrong password get one answer: nothing tells
    // which emails were ever registered.
    const deleted = c.log[before2]!.responseBody;
    const unknown = newApp(main);
    await rejectsRealm(unknown.app.logIn(Realm.Credentials.emailPassword(uniqueEmail('rw36-never'), password)), 401, 'InvalidPassword', 'unauthorized');
    const wrong = newApp(main);
    const other = await registerAndLogIn(wrong, uniqueEmail('rw36-wrong'));
    await rejectsRealm(wrong.app.logIn(Realm.Credentials.emailPassword(other.email, 'not-the-password')), 401, 'InvalidPassword', 'unauthorized');
    assert.equal(unknown.log.at(-1)!.responseBody, deleted);
    assert.equal(wrong.log.at(-1)!.responseBody, deleted);
    // No refresh was attempted for any of them (no access token was sent).
    for (const l of [c.log.slice(before2), unknown.log, wrong.log]) assert.equal(l.filter((r) => r.path === `${API}/auth/session` && r.method === 'POST').length, 0);
  });

  it('#39 removeUser drops the user from allUsers and its storage keys disappear', async () => {
    const c = newApp(main);
    const { user } = await registerAndLogIn(c);
    const other = await c.app.logIn(Realm.Credentials.anonymous());
    const keysOf = (id: string) =>
      Object.keys(c.storage.storage)
        .filter((k) => k.startsWith(`app(${main.appId}):user(${id}):`))
        .map((k) => k.split(':').at(-1))
        .sort();
    assert.deepEqual(keysOf(user.id), ['accessToken', 'profile', 'providerType', 'refreshToken']);
    const refreshToken = user.refreshToken!;
    const before = c.log.length;
    await c.app.removeUser(user);
    assert.deepEqual(calls(c.log.slice(before)), [`DELETE ${API}/auth/session`]);
    assert.equal(c.log.at(-1)!.headers.authorization, `Bearer ${refreshToken}`);
    assert.deepEqual(Object.keys(c.app.allUsers), [other.id]);
    // The tokens and the profile go; realm-web 2.0.1 itself leaves the providerType key behind.
    assert.deepEqual(keysOf(user.id), ['providerType']);
    assert.deepEqual(keysOf(other.id), ['accessToken', 'profile', 'providerType', 'refreshToken']);
    assert.ok(!JSON.parse(c.storage.storage[`app(${main.appId}):userIds`]!).includes(user.id));
    assert.equal(user.state, 'removed');
  });

  it('#40 after logOut of an anonymous user, anonymous() rejects cleanly (401, no 500) and anonymous(false) works', async () => {
    const c = newApp(main);
    const anon = await c.app.logIn(Realm.Credentials.anonymous());
    await anon.logOut();
    // The server removes an anonymous user whose session ended.
    assert.equal(await main.baste.store.getUser(anon.id), null);
    const before = c.log.length;
    await rejectsRealm(c.app.logIn(Realm.Credentials.anonymous()), 401, 'InvalidSession');
    const traffic = c.log.slice(before);
    assert.deepEqual(calls(traffic), [`GET ${API}/auth/profile`, `POST ${API}/auth/session`]);
    for (const r of traffic) {
      assert.equal(r.headers.authorization, 'Bearer null');
      assert.equal(r.status, 401);
      assert.equal(r.responseType, 'application/json');
      assert.equal(JSON.parse(r.responseBody!).error_code, 'InvalidSession');
    }
    const fresh = await c.app.logIn(Realm.Credentials.anonymous(false));
    assert.notEqual(fresh.id, anon.id);
    assert.equal(fresh.state, 'active');
  });
});

describe('realm-web: several users', () => {
  it('keeps several logged-in users; switchUser changes currentUser without traffic; each user uses its own token', async () => {
    const c = newApp(main);
    const a = await registerAndLogIn(c, uniqueEmail('rw-multi-a'));
    const b = await registerAndLogIn(c, uniqueEmail('rw-multi-b'));
    assert.notEqual(a.user.id, b.user.id);
    assert.equal(c.app.currentUser, b.user);
    assert.deepEqual(Object.keys(c.app.allUsers).sort(), [a.user.id, b.user.id].sort());

    const before = c.log.length;
    c.app.switchUser(a.user);
    assert.equal(c.app.currentUser, a.user);
    assert.equal(c.log.length, before, 'switchUser sends nothing');

    await b.user.refreshProfile();
    const req = c.log.at(-1)!;
    assert.equal(req.headers.authorization, `Bearer ${b.user.accessToken}`);
    assert.equal(JSON.parse(req.responseBody!).user_id, b.user.id);
    assert.equal(b.user.profile.email, b.email);

    await a.user.logOut();
    assert.equal(c.app.currentUser, b.user, 'the next active user becomes current');
    assert.equal(a.user.state, 'logged-out');
    assert.equal(b.user.state, 'active');
  });
});

describe('realm-web: linking', () => {
  it('#41 #42 an anonymous user links email/password: same id, identities [anon-user, local-userpass]', async () => {
    const c = newApp(main);
    const anon = await c.app.logIn(Realm.Credentials.anonymous());
    const email = uniqueEmail('rw41');
    await c.app.emailPasswordAuth.registerUser({ email, password: 'password41' });
    const before = c.log.length;
    await anon.linkCredentials(Realm.Credentials.emailPassword(email, 'password41'));
    const link = c.log[before]!;
    assert.equal(`${link.method} ${link.path}${new URL(link.url).search}`, `POST ${loginPath(main.appId, 'local-userpass')}?link=true`);
    assert.match(link.headers.authorization!, /^Bearer [^.]+\.[^.]+\.[^.]+$/);
    assert.equal(JSON.parse(link.responseBody!).user_id, anon.id);
    assert.deepEqual(anon.identities.map((i) => i.providerType), ['anon-user', 'local-userpass']);
    assert.equal(anon.profile.email, email);
    assert.equal(c.app.currentUser, anon);
    // Later email/password logins reach the same user.
    const c2 = newApp(main);
    const again = await c2.app.logIn(Realm.Credentials.emailPassword(email, 'password41'));
    assert.equal(again.id, anon.id);
  });

  it('linking with a wrong password (or a deleted user\'s email) is refused once: no refresh-and-retry loop', async () => {
    const c = newApp(main);
    const anon = await c.app.logIn(Realm.Credentials.anonymous());
    const email = uniqueEmail('rw-link-bad');
    await c.app.emailPasswordAuth.registerUser({ email, password: 'password-ok' });
    for (const [who, password] of [[email, 'wrong-password'], [uniqueEmail('rw-link-never'), 'password-ok']] as const) {
      const before = c.log.length;
      // realm-web refreshes and retries, without limit, any 401 whose error is exactly "unauthorized"
      // on a request carrying an access token: a link's refusal must not say it. A timeout catches a loop.
      const linking = anon.linkCredentials(Realm.Credentials.emailPassword(who, password));
      const outcome = await Promise.race([linking.then(() => 'linked', (e: unknown) => e), sleep(3000).then(() => 'looping')]);
      assert.ok(outcome instanceof Realm.MongoDBRealmError, `expected a refusal, got ${String(outcome)} after ${c.log.length - before} requests`);
      assert.equal(outcome.statusCode, 401);
      assert.equal(outcome.errorCode, 'InvalidPassword');
      assert.equal(outcome.error, 'invalid username/password');
      assert.deepEqual(calls(c.log.slice(before)), [`POST ${loginPath(main.appId, 'local-userpass')}?link=true`]);
      assert.match(c.log[before]!.headers.authorization!, /^Bearer /);
    }
    assert.equal(anon.state, 'active');
    await anon.refreshProfile();
    assert.deepEqual(anon.identities.map((i) => i.providerType), ['anon-user']);
  });

  it('#43 linking credentials that belong to another user is rejected and the user stays logged in', async () => {
    const other = newApp(main);
    const taken = await registerAndLogIn(other, uniqueEmail('rw43'));
    const c = newApp(main);
    const anon = await c.app.logIn(Realm.Credentials.anonymous());
    await assert.rejects(anon.linkCredentials(Realm.Credentials.emailPassword(taken.email, taken.password)), (err: unknown) => {
      assert.ok(err instanceof Realm.MongoDBRealmError);
      assert.ok(err.statusCode >= 400 && err.statusCode < 500 && err.statusCode !== 401, `status ${err.statusCode}`);
      assert.equal(typeof err.errorCode, 'string');
      return true;
    });
    assert.equal(anon.state, 'active');
    assert.equal(c.app.currentUser, anon);
    await anon.refreshProfile();
    assert.deepEqual(anon.identities.map((i) => i.providerType), ['anon-user']);
  });
});

describe('realm-web: email/password flows', () => {
  it('#49 confirmUser with bogus values rejects with "invalid token data"', async () => {
    const c = newApp(confirming);
    await rejectsRealm(c.app.emailPasswordAuth.confirmUser({ token: 'bogus', tokenId: 'bogus' }), 400, 'UserpassTokenInvalid', 'invalid token data');
  });

  it('confirmation: pending users cannot log in until confirmUser with the emailed token', async () => {
    const c = newApp(confirming);
    const email = uniqueEmail('rw-confirm');
    await c.app.emailPasswordAuth.registerUser({ email, password: 'password-c' });
    await rejectsRealm(c.app.logIn(Realm.Credentials.emailPassword(email, 'password-c')), 401, 'AuthError', 'confirmation required');
    const mail = confirming.outbox().filter((m) => m.to === email && m.kind === 'confirm');
    assert.equal(mail.length, 1);
    const tokens = tokensOf(mail[0]!.link);
    assert.ok(tokens.token && tokens.tokenId);
    await c.app.emailPasswordAuth.confirmUser(tokens);
    const confirm = c.log.at(-1)!;
    assert.equal(confirm.path, userpassPath(confirming.appId, 'confirm'));
    assert.deepEqual(JSON.parse(confirm.body!), tokens);
    const user = await c.app.logIn(Realm.Credentials.emailPassword(email, 'password-c'));
    assert.equal(user.profile.email, email);
    // A token works once.
    await rejectsRealm(c.app.emailPasswordAuth.confirmUser(tokens), 400, 'UserpassTokenInvalid', 'invalid token data');
  });

  it('#50 resendConfirmationEmail: "already confirmed" for an auto-confirmed user, a new email for a pending one', async () => {
    const auto = newApp(main);
    const email = uniqueEmail('rw50');
    await auto.app.emailPasswordAuth.registerUser({ email, password: 'password50' });
    await rejectsRealm(auto.app.emailPasswordAuth.resendConfirmationEmail({ email }), 400, 'UserAlreadyConfirmed', 'already confirmed');
    assert.equal(auto.log.at(-1)!.path, userpassPath(main.appId, 'confirm/send'));

    const c = newApp(confirming);
    const pending = uniqueEmail('rw50p');
    await c.app.emailPasswordAuth.registerUser({ email: pending, password: 'password50' });
    await c.app.emailPasswordAuth.resendConfirmationEmail({ email: pending });
    assert.ok(c.log.at(-1)!.status! >= 200 && c.log.at(-1)!.status! < 300);
    const mails = confirming.outbox().filter((m) => m.to === pending && m.kind === 'confirm');
    assert.equal(mails.length, 2);
    // The newest link confirms.
    await c.app.emailPasswordAuth.confirmUser(tokensOf(mails[1]!.link));
    const user = await c.app.logIn(Realm.Credentials.emailPassword(pending, 'password50'));
    assert.equal(user.profile.email, pending);
  });

  it('#51 retryCustomConfirmation posts to /confirm/call and gets a JSON error', async () => {
    const c = newApp(main);
    const email = uniqueEmail('rw51');
    await c.app.emailPasswordAuth.registerUser({ email, password: 'password51' });
    await rejectsRealm(
      c.app.emailPasswordAuth.retryCustomConfirmation({ email }),
      400,
      'BadRequest',
      `cannot run confirmation for ${email}: automatic confirmation is enabled`,
    );
    const req = c.log.at(-1)!;
    assert.equal(`${req.method} ${req.path}`, `POST ${userpassPath(main.appId, 'confirm/call')}`);
    assert.deepEqual(JSON.parse(req.body!), { email });
    assert.equal(req.responseType, 'application/json');

    // Email confirmation without a function: still a defined JSON error.
    const pc = newApp(confirming);
    const pending = uniqueEmail('rw51p');
    await pc.app.emailPasswordAuth.registerUser({ email: pending, password: 'password51' });
    await assert.rejects(pc.app.emailPasswordAuth.retryCustomConfirmation({ email: pending }), (err: unknown) => {
      assert.ok(err instanceof Realm.MongoDBRealmError);
      assert.ok(err.statusCode >= 400 && err.statusCode < 500 && err.statusCode !== 401);
      assert.equal(typeof err.errorCode, 'string');
      return true;
    });
  });

  it('#52 #54 sendResetPasswordEmail posts to /reset/send; resetPassword with the emailed token sets the new password', async () => {
    const c = newApp(main);
    const { user, email } = await registerAndLogIn(c, uniqueEmail('rw54'), 'old-password');
    const oldRefresh = user.refreshToken!;
    await c.app.emailPasswordAuth.sendResetPasswordEmail({ email });
    const send = c.log.at(-1)!;
    assert.equal(`${send.method} ${send.path}`, `POST ${userpassPath(main.appId, 'reset/send')}`);
    assert.deepEqual(JSON.parse(send.body!), { email });
    assert.ok(send.status! >= 200 && send.status! < 300);
    const mails = main.outbox().filter((m) => m.to === email && m.kind === 'reset');
    assert.equal(mails.length, 1);
    const { token, tokenId } = tokensOf(mails[0]!.link);

    await c.app.emailPasswordAuth.resetPassword({ token, tokenId, password: 'new-password' });
    const reset = c.log.at(-1)!;
    assert.equal(reset.path, userpassPath(main.appId, 'reset'));
    assert.deepEqual(JSON.parse(reset.body!), { token, tokenId, password: 'new-password' });

    const again = await c.app.logIn(Realm.Credentials.emailPassword(email, 'new-password'));
    assert.equal(again.id, user.id);
    await rejectsRealm(c.app.logIn(Realm.Credentials.emailPassword(email, 'old-password')), 401, 'InvalidPassword');
    // The reset ended the sessions opened with the old password.
    assert.equal((await raw(main, 'POST', `${API}/auth/session`, oldRefresh)).status, 401);
    // The token works once.
    await rejectsRealm(c.app.emailPasswordAuth.resetPassword({ token, tokenId, password: 'third-password' }), 400, 'UserpassTokenInvalid');
  });

  it('#53 callResetPasswordFunction posts {email,password,arguments} to /reset/call and gets a JSON error', async () => {
    const c = newApp(main);
    const email = uniqueEmail('rw53');
    await c.app.emailPasswordAuth.registerUser({ email, password: 'password53' });
    await rejectsRealm(
      c.app.emailPasswordAuth.callResetPasswordFunction({ email, password: 'password53b' }, 'arg1', 2),
      400,
      'BadRequest',
      `failed to reset password for user "${email}"`,
    );
    const req = c.log.at(-1)!;
    assert.equal(`${req.method} ${req.path}`, `POST ${userpassPath(main.appId, 'reset/call')}`);
    assert.deepEqual(JSON.parse(req.body!), { email, password: 'password53b', arguments: ['arg1', { $numberInt: '2' }] });

    // With runResetFunction configured, the function decides: fail refuses, pending changes nothing, success resets.
    const f = newApp(resetFn);
    const femail = uniqueEmail('rw53f');
    await f.app.emailPasswordAuth.registerUser({ email: femail, password: 'password53' });
    await rejectsRealm(f.app.emailPasswordAuth.callResetPasswordFunction({ email: femail, password: 'password53b' }, 'no'), 400, 'BadRequest', `failed to reset password for user "${femail}"`);
    await f.app.emailPasswordAuth.callResetPasswordFunction({ email: femail, password: 'password53c' }, 'later');
    // ...and the email route points at the function.
    await rejectsRealm(f.app.emailPasswordAuth.sendResetPasswordEmail({ email: femail }), 400, 'BadRequest', 'please use reset password via function');
    // Neither changed the password...
    const user = await f.app.logIn(Realm.Credentials.emailPassword(femail, 'password53'));
    assert.equal(user.profile.email, femail);
    // ...and a successful reset function sets the new one at once.
    await f.app.emailPasswordAuth.callResetPasswordFunction({ email: femail, password: 'password53d' }, 'ok');
    await rejectsRealm(f.app.logIn(Realm.Credentials.emailPassword(femail, 'password53')), 401, 'InvalidPassword');
    assert.equal((await f.app.logIn(Realm.Credentials.emailPassword(femail, 'password53d'))).profile.email, femail);
  });

  it('#55 the email/password routes succeed while another user is logged in (they carry its access token)', async () => {
    const c = newApp(confirming);
    const anon = await c.app.logIn(Realm.Credentials.anonymous());
    const email = uniqueEmail('rw55');
    await c.app.emailPasswordAuth.registerUser({ email, password: 'password55' });
    const reg = c.log.at(-1)!;
    assert.equal(reg.path, userpassPath(confirming.appId, 'register'));
    assert.equal(reg.headers.authorization, `Bearer ${anon.accessToken}`);
    assert.ok(reg.status! >= 200 && reg.status! < 300);

    await c.app.emailPasswordAuth.resendConfirmationEmail({ email });
    assert.equal(c.log.at(-1)!.headers.authorization, `Bearer ${anon.accessToken}`);
    const mails = confirming.outbox().filter((m) => m.to === email && m.kind === 'confirm');
    assert.equal(mails.length, 2);
    await c.app.emailPasswordAuth.confirmUser(tokensOf(mails[1]!.link));
    assert.equal(c.log.at(-1)!.headers.authorization, `Bearer ${anon.accessToken}`);
    await c.app.emailPasswordAuth.sendResetPasswordEmail({ email });
    const reset = confirming.outbox().filter((m) => m.to === email && m.kind === 'reset');
    await c.app.emailPasswordAuth.resetPassword({ ...tokensOf(reset[0]!.link), password: 'password55b' });
    // None of this touched the logged-in user's session, and no refresh happened.
    assert.equal(c.log.filter((r) => r.path === `${API}/auth/session`).length, 0);
    assert.equal(anon.state, 'active');
    assert.equal(c.app.currentUser, anon);
    const user = await c.app.logIn(Realm.Credentials.emailPassword(email, 'password55b'));
    assert.notEqual(user.id, anon.id);
    assert.equal(user.profile.email, email);
  });
});
