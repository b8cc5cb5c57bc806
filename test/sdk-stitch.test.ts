// End-to-end: the unmodified mongodb-stitch-server-sdk 4.9.0 against a real Baste server
// (wire-checklist.md items tagged [S] or "Both" that touch location, login, profile, sessions,
// logout, removal, linking and the email/password routes).
//
// Each client gets a MemoryStorage and a recording Transport (the configuration builder's
// `withTransport` is honoured by the server SDK too) wrapping the SDK's own NodeFetchStreamTransport,
// so the traffic is the SDK's real traffic. `Stitch.clearApps()` runs before every client,
// because the server serves one app id; every client is closed in `after`.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import stitchSdk from 'mongodb-stitch-server-sdk';
import type { StitchAppClient, StitchUser } from 'mongodb-stitch-server-sdk';
import { hashRefreshToken, refreshSecretOf } from '../src/sessions/sessions.js';
import { API, calls, cls, fakeLocationServer, loginPath, raw, startSdkServers, userpassPath } from './helpers/sdk-e2e.js';
import { decodeJwt, tokensOf, uniqueEmail, type TestServer } from './helpers/server.js';

const {
  AnonymousCredential,
  MemoryStorage,
  NodeFetchStreamTransport,
  Stitch,
  StitchAppClientConfiguration,
  StitchServiceError,
  UserApiKeyCredential,
  UserPasswordAuthProviderClient,
  UserPasswordCredential,
} = stitchSdk;

// ---------------------------------------------------------------------------------------------
// Recording transport and client factory

interface Rec {
  method: string;
  url: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  status?: number;
  responseHeaders?: Record<string, string>;
  responseBody?: string;
}

type SdkRequest = { method: string; url: string; headers: Record<string, string>; body?: string };
type SdkResponse = { statusCode: number; headers: Record<string, string>; body?: string };

function recordingTransport(log: Rec[]) {
  const inner = new NodeFetchStreamTransport();
  return {
    async roundTrip(req: SdkRequest): Promise<SdkResponse> {
      const headers = Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
      const rec: Rec = { method: String(req.method), url: req.url, path: new URL(req.url).pathname, headers, body: req.body };
      log.push(rec);
      const res = (await inner.roundTrip(req as never)) as SdkResponse;
      rec.status = res.statusCode;
      rec.responseHeaders = res.headers;
      rec.responseBody = res.body;
      return res;
    },
    stream(req: SdkRequest, open: boolean, retry?: () => Promise<unknown>) {
      return inner.stream(req as never, open, retry as never);
    },
  };
}

interface Client {
  client: StitchAppClient;
  log: Rec[];
  storage: InstanceType<typeof MemoryStorage>;
}

const clients: StitchAppClient[] = [];
let suite = 0;

function newClient(
  server: { url: string; appId: string },
  opts: { storage?: InstanceType<typeof MemoryStorage>; appName?: string; appVersion?: string } = {},
): Client {
  Stitch.clearApps();
  const log: Rec[] = [];
  const storage = opts.storage ?? new MemoryStorage(`suite-${suite++}`);
  let builder = new StitchAppClientConfiguration.Builder()
    .withBaseUrl(server.url)
    .withStorage(storage)
    .withTransport(recordingTransport(log) as never);
  if (opts.appName) builder = builder.withLocalAppName(opts.appName);
  if (opts.appVersion) builder = builder.withLocalAppVersion(opts.appVersion);
  const client = Stitch.initializeAppClient(server.appId, builder.build());
  clients.push(client);
  return { client, log, storage };
}

const userpass = (c: Client) => c.client.auth.getProviderClient(UserPasswordAuthProviderClient.factory);
/** The auth implementation's extra methods (refreshCustomData) and the active user's tokens. */
const authImpl = (c: Client) =>
  c.client.auth as unknown as {
    refreshCustomData(): Promise<void>;
    authInfo: { accessToken?: string; refreshToken?: string; deviceId?: string };
  };

/** Asserts a StitchServiceError with the given code name (and, optionally, message text). */
async function rejectsStitch(p: Promise<unknown>, codeName: string, text?: string | RegExp) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof StitchServiceError, `expected a StitchServiceError, got ${String(err)}`);
    assert.equal(err.errorCodeName, codeName, err.message);
    if (typeof text === 'string') assert.ok(err.message.includes(text), `"${err.message}" should contain "${text}"`);
    else if (text) assert.match(err.message, text);
    return true;
  });
}

async function registerAndLogIn(c: Client, email = uniqueEmail('s'), password = 'password1') {
  await userpass(c).registerWithEmail(email, password);
  const user = await c.client.auth.loginWithCredential(new UserPasswordCredential(email, password));
  return { user, email, password };
}

async function waitFor(cond: () => boolean, ms = 3000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------------------------
// Servers

let main: TestServer; // anon, local-userpass (auto-confirm), my-userpass, a disabled provider
let confirming: TestServer; // local-userpass with email confirmation
let resetFn: TestServer; // local-userpass whose password reset runs a function
let shortTtl: TestServer; // access tokens live 2 s

before(async () => {
  ({ main, confirming, resetFn, shortTtl } = await startSdkServers());
});

after(async () => {
  for (const c of clients) c.close();
  Stitch.clearApps();
  await Promise.all([main, confirming, resetFn, shortTtl].map((s) => s?.close()));
});

// ---------------------------------------------------------------------------------------------


describe('Stitch: location and bootstrapping', () => {
  it('#1 the first login performs exactly one location request; every later request goes to hostname', async () => {
    const c = newClient(main);
    await c.client.auth.loginWithCredential(new AnonymousCredential());
    await registerAndLogIn(c);
    const locations = c.log.filter((r) => r.path.endsWith('/location'));
    assert.equal(locations.length, 1);
    assert.equal(c.log[0]!.method, 'GET');
    assert.equal(c.log[0]!.url, `${main.url}${API}/app/${main.appId}/location`);
    assert.equal(c.log[0]!.headers.authorization, undefined);
    const hostname = JSON.parse(c.log[0]!.responseBody!).hostname;
    assert.equal(hostname, main.url);
    assert.deepEqual(calls(c.log.slice(1)), [
      `POST ${loginPath(main.appId, 'anon-user')}`,
      `GET ${API}/auth/profile`,
      `POST ${userpassPath(main.appId, 'register')}`,
      `POST ${loginPath(main.appId, 'local-userpass')}`,
      `GET ${API}/auth/profile`,
    ]);
    for (const r of c.log.slice(1)) assert.ok(r.url.startsWith(`${hostname}/`), r.url);
  });

  it('#4 a location hostname pointing at another port sends the next requests there', async () => {
    const fake = await fakeLocationServer(main.url);
    try {
      const c = newClient({ url: fake.url, appId: main.appId });
      const user = await c.client.auth.loginWithCredential(new AnonymousCredential());
      assert.ok(user.id.length > 0);
      assert.deepEqual(fake.hits, [`GET ${API}/app/${main.appId}/location`]);
      assert.notEqual(new URL(fake.url).port, new URL(main.url).port);
      assert.equal(c.log.length, 3);
      for (const r of c.log.slice(1)) assert.equal(new URL(r.url).port, new URL(main.url).port, r.url);
    } finally {
      await fake.close();
    }
  });

  it('#5 an unknown app id: location answers a JSON error and the login rejects with a StitchServiceError', async () => {
    const c = newClient({ url: main.url, appId: 'no-such-app-xyz' });
    // AppNotFound is not one of the codes S knows, so it maps it to Unknown but keeps the message.
    await rejectsStitch(c.client.auth.loginWithCredential(new AnonymousCredential()), 'Unknown', "cannot find app using Client App ID 'no-such-app-xyz'");
    assert.equal(c.log.length, 1);
    assert.equal(c.log[0]!.status, 404);
    assert.equal(c.log[0]!.responseHeaders!['content-type'], 'application/json');
    assert.equal(JSON.parse(c.log[0]!.responseBody!).error_code, 'AppNotFound');
    assert.equal(c.client.auth.isLoggedIn, false);
  });
});

describe('Stitch: login', () => {
  it('#6 anonymous login: non-empty id, one anon-user identity', async () => {
    const c = newClient(main);
    const user = await c.client.auth.loginWithCredential(new AnonymousCredential());
    assert.match(user.id, /^[0-9a-f]{24}$/);
    assert.equal(user.identities.length, 1);
    assert.equal(user.identities[0]!.providerType, 'anon-user');
    assert.equal(user.loggedInProviderType, 'anon-user');
    assert.equal(user.isLoggedIn, true);
    assert.equal(c.client.auth.user!.id, user.id);
    const profile = JSON.parse(c.log.find((r) => r.path === `${API}/auth/profile`)!.responseBody!);
    assert.deepEqual(profile.identities.map((i: { provider_type: string }) => i.provider_type), ['anon-user']);
  });

  it('#7 a second anonymous login while logged in returns the same user id and sends nothing', async () => {
    const c = newClient(main);
    const first = await c.client.auth.loginWithCredential(new AnonymousCredential());
    const before = c.log.length;
    const second = await c.client.auth.loginWithCredential(new AnonymousCredential());
    assert.equal(second.id, first.id);
    assert.equal(c.log.length, before);
  });

  it('#10 register then email/password login; profile data.email equals the email', async () => {
    const c = newClient(main);
    const email = uniqueEmail('s10');
    await userpass(c).registerWithEmail(email, 'password10');
    const reg = c.log.find((r) => r.path === userpassPath(main.appId, 'register'))!;
    assert.deepEqual(JSON.parse(reg.body!), { email, password: 'password10' });
    assert.equal(cls(reg.status), '2xx');
    const user = await c.client.auth.loginWithCredential(new UserPasswordCredential(email, 'password10'));
    assert.equal(user.profile.email, email);
    assert.equal(user.loggedInProviderType, 'local-userpass');
    const login = c.log.find((r) => r.path === loginPath(main.appId, 'local-userpass'))!;
    const body = JSON.parse(login.body!);
    assert.equal(body.username, email);
    assert.equal(body.password, 'password10');
  });

  it('#11 a wrong password rejects with the server message and nobody is logged in', async () => {
    const c = newClient(main);
    const email = uniqueEmail('s11');
    await userpass(c).registerWithEmail(email, 'password11');
    // InvalidPassword is not a code S knows: Unknown, with the server's text.
    await rejectsStitch(c.client.auth.loginWithCredential(new UserPasswordCredential(email, 'wrong-password')), 'Unknown', 'invalid username/password');
    assert.equal(c.log.at(-1)!.status, 401);
    assert.equal(JSON.parse(c.log.at(-1)!.responseBody!).error_code, 'InvalidPassword');
    assert.equal(c.client.auth.isLoggedIn, false);
  });

  it('#12 registering the same email twice rejects', async () => {
    const c = newClient(main);
    const email = uniqueEmail('s12');
    await userpass(c).registerWithEmail(email, 'password12');
    await rejectsStitch(userpass(c).registerWithEmail(email, 'password12'), 'Unknown', 'name already in use');
    assert.equal(c.log.at(-1)!.status, 409);
    assert.equal(JSON.parse(c.log.at(-1)!.responseBody!).error_code, 'AccountNameInUse');
  });

  it('#17 UserPasswordCredential with a custom provider name posts to /auth/providers/my-userpass/login', async () => {
    const email = uniqueEmail('s17');
    const reg = await raw(main, 'POST', `${API}/app/${main.appId}/auth/providers/my-userpass/register`, undefined, { email, password: 'password17' });
    assert.equal(cls(reg.status), '2xx');
    const c = newClient(main);
    const user = await c.client.auth.loginWithCredential(new UserPasswordCredential(email, 'password17', 'my-userpass'));
    const login = c.log.find((r) => r.method === 'POST' && r.path.endsWith('/login'))!;
    assert.equal(login.path, loginPath(main.appId, 'my-userpass'));
    assert.equal(cls(login.status), '2xx');
    assert.equal(user.loggedInProviderName, 'my-userpass');
    assert.equal(user.loggedInProviderType, 'local-userpass');
    assert.equal(user.profile.email, email);
  });

  it('#18 a login to a provider that is not enabled rejects with AuthProviderNotFound', async () => {
    const c = newClient(main);
    await rejectsStitch(c.client.auth.loginWithCredential(new UserApiKeyCredential('some-key')), 'AuthProviderNotFound');
    await rejectsStitch(c.client.auth.loginWithCredential(new UserPasswordCredential('a@b.c', 'password', 'off-userpass')), 'AuthProviderNotFound');
    assert.equal(c.log.at(-1)!.path, loginPath(main.appId, 'off-userpass'));
    assert.equal(c.log.at(-1)!.status, 404);
    assert.equal(c.client.auth.isLoggedIn, false);
  });
});

describe('Stitch: device information and the login response', () => {
  it('#19 #20 #21 #23 device fields are sent and recorded; the second login sends the first device_id as hex', async () => {
    const c = newClient(main, { appName: 'x', appVersion: '1' });
    const anon = await c.client.auth.loginWithCredential(new AnonymousCredential());
    const { user } = await registerAndLogIn(c, uniqueEmail('s19'));
    assert.notEqual(user.id, anon.id);

    const logins = c.log.filter((r) => r.method === 'POST' && r.path.endsWith('/login'));
    assert.equal(logins.length, 2);
    const d1 = JSON.parse(logins[0]!.body!).options.device;
    assert.deepEqual(d1, { appId: 'x', appVersion: '1', platform: 'js-server', platformVersion: process.version, sdkVersion: '4.9.0' });

    const r1 = JSON.parse(logins[0]!.responseBody!);
    assert.match(r1.device_id, /^[0-9a-f]{24}$/);
    assert.equal(r1.user_id, anon.id);
    const claims = decodeJwt(r1.access_token);
    assert.equal(typeof claims.exp, 'number');
    assert.equal(typeof claims.iat, 'number');
    assert.equal(claims.sub, anon.id);

    const d2 = JSON.parse(logins[1]!.body!).options.device;
    assert.equal(d2.deviceId, r1.device_id, 'a plain hex string equal to the first device_id');
    assert.equal(JSON.parse(logins[1]!.responseBody!).device_id, r1.device_id);
    assert.equal(decodeJwt(authImpl(c).authInfo.accessToken!).sub, user.id);

    const [rec1] = await main.baste.store.listDevices(anon.id);
    const [rec2] = await main.baste.store.listDevices(user.id);
    assert.ok(rec1 && rec2, 'the server recorded both devices');
    assert.equal(rec1.id, r1.device_id);
    assert.equal(rec2.id, r1.device_id);
    assert.equal(rec1.platform, 'js-server');
    assert.equal(rec1.platformVersion, process.version);
    assert.equal(rec1.sdkVersion, '4.9.0');
    assert.equal(rec1.appId, 'x');
    assert.equal(rec1.appVersion, '1');
  });
});

describe('Stitch: profile, custom data and sessions', () => {
  it('#24 #25 the profile keeps the raw data keys; identities carry providerType', async () => {
    const c = newClient(main);
    const { user, email } = await registerAndLogIn(c);
    const wire = JSON.parse(c.log.filter((r) => r.path === `${API}/auth/profile`).at(-1)!.responseBody!);
    assert.deepEqual((user.profile as unknown as { data: Record<string, unknown> }).data, wire.data);
    assert.equal(wire.data.email, email);
    assert.equal(user.identities.length, 1);
    assert.equal(user.identities[0]!.providerType, 'local-userpass');
    assert.equal(user.identities[0]!.id, wire.identities[0].id);
    assert.equal(user.userType, 'normal');
  });

  it('#26 #27 customData is {} and refreshCustomData sends POST /auth/session with the refresh token', async () => {
    const c = newClient(main);
    const { user } = await registerAndLogIn(c);
    assert.deepEqual(user.customData, {});
    const refreshToken = authImpl(c).authInfo.refreshToken!;
    const before = c.log.length;
    await authImpl(c).refreshCustomData();
    assert.deepEqual(calls(c.log.slice(before)), [`POST ${API}/auth/session`]);
    const req = c.log.at(-1)!;
    assert.equal(req.headers.authorization, `Bearer ${refreshToken}`);
    assert.equal(cls(req.status), '2xx');
    assert.equal(JSON.parse(req.responseBody!).access_token, authImpl(c).authInfo.accessToken);
    assert.deepEqual(c.client.auth.user!.customData, {});
    assert.equal(c.client.auth.isLoggedIn, true);
  });

  it('#28 a revoked refresh token: POST /auth/session is 401 InvalidSession and the user is logged out', async () => {
    const c = newClient(main);
    const { user } = await registerAndLogIn(c);
    const revoke = await raw(main, 'DELETE', `${API}/auth/session`, authImpl(c).authInfo.refreshToken!);
    assert.equal(cls(revoke.status), '2xx');
    await rejectsStitch(authImpl(c).refreshCustomData(), 'InvalidSession');
    assert.equal(c.log.at(-1)!.status, 401);
    assert.equal(c.client.auth.isLoggedIn, false);
    const listed = c.client.auth.listUsers().find((u) => u.id === user.id)!;
    assert.equal(listed.isLoggedIn, false);
  });

  it('#29 a client re-created from storage with a token expiring within 300 s refreshes right after location', async () => {
    const first = newClient(shortTtl);
    const { user } = await registerAndLogIn(first);
    const oldAccess = authImpl(first).authInfo.accessToken!;
    first.client.close();
    await sleep(1100); // so the refreshed token's iat differs

    const again = newClient(shortTtl, { storage: first.storage });
    assert.equal(again.client.auth.isLoggedIn, true);
    assert.equal(again.client.auth.user!.id, user.id);
    await waitFor(() => again.log.some((r) => r.path === `${API}/auth/session` && r.status !== undefined));
    assert.deepEqual(calls(again.log), [`GET ${API}/app/${shortTtl.appId}/location`, `POST ${API}/auth/session`]);
    assert.equal(cls(again.log[1]!.status), '2xx');
    await waitFor(() => authImpl(again).authInfo.accessToken !== oldAccess);
    assert.equal(decodeJwt(authImpl(again).authInfo.accessToken!).sub, user.id);
  });

  it('#30 #31 an expired access token: one 401 InvalidSession (exactly application/json), one refresh, one retry', async () => {
    const c = newClient(shortTtl);
    const anon = await c.client.auth.loginWithCredential(new AnonymousCredential());
    const email = uniqueEmail('s30');
    await userpass(c).registerWithEmail(email, 'password30');
    const exp = decodeJwt(authImpl(c).authInfo.accessToken!).exp as number;
    await sleep(Math.max(0, exp * 1000 - Date.now()) + 150);

    // Linking is the access-token call available here (functions do not exist yet).
    const before = c.log.length;
    const linked = await anon.linkWithCredential(new UserPasswordCredential(email, 'password30'));
    const traffic = c.log.slice(before);
    assert.deepEqual(calls(traffic), [
      `POST ${loginPath(shortTtl.appId, 'local-userpass')}?link=true`,
      `POST ${API}/auth/session`,
      `POST ${loginPath(shortTtl.appId, 'local-userpass')}?link=true`,
      `GET ${API}/auth/profile`,
    ]);
    assert.deepEqual(traffic.map((r) => cls(r.status)), [401, '2xx', '2xx', '2xx']);
    assert.equal(traffic[0]!.responseHeaders!['content-type'], 'application/json');
    assert.equal(JSON.parse(traffic[0]!.responseBody!).error_code, 'InvalidSession');
    assert.equal(linked.id, anon.id);
    assert.deepEqual(linked.identities.map((i) => i.providerType), ['anon-user', 'local-userpass']);
    assert.equal(c.client.auth.isLoggedIn, true);
  });
});

describe('Stitch: logout, removal and several users', () => {
  it('#34 logout sends DELETE /auth/session with the refresh token, which then no longer works', async () => {
    const c = newClient(main);
    const { user } = await registerAndLogIn(c);
    const refreshToken = authImpl(c).authInfo.refreshToken!;
    const before = c.log.length;
    await c.client.auth.logout();
    assert.deepEqual(calls(c.log.slice(before)), [`DELETE ${API}/auth/session`]);
    assert.equal(c.log.at(-1)!.headers.authorization, `Bearer ${refreshToken}`);
    assert.equal(cls(c.log.at(-1)!.status), '2xx');
    assert.equal(c.client.auth.isLoggedIn, false);
    assert.equal(c.client.auth.listUsers().find((u) => u.id === user.id)!.isLoggedIn, false);
    const again = await raw(main, 'POST', `${API}/auth/session`, refreshToken);
    assert.equal(again.status, 401);
    assert.equal(again.json.error_code, 'InvalidSession');
  });

  it('#37 switchToUserWithId sends nothing; removeUserWithId of a logged-in user sends one DELETE; logoutUserWithId', async () => {
    const c = newClient(main);
    const a = await registerAndLogIn(c, uniqueEmail('s37a'));
    const aRefresh = authImpl(c).authInfo.refreshToken!;
    const b = await registerAndLogIn(c, uniqueEmail('s37b'));
    const bRefresh = authImpl(c).authInfo.refreshToken!;
    assert.notEqual(a.user.id, b.user.id);
    assert.equal(c.client.auth.user!.id, b.user.id);
    assert.deepEqual(c.client.auth.listUsers().map((u) => u.id), [a.user.id, b.user.id]);

    let before = c.log.length;
    const switched = c.client.auth.switchToUserWithId(a.user.id);
    assert.equal(switched.id, a.user.id);
    assert.equal(c.client.auth.user!.id, a.user.id);
    assert.equal(authImpl(c).authInfo.refreshToken, aRefresh);
    assert.equal(c.log.length, before, 'switching sends no request');

    before = c.log.length;
    await c.client.auth.removeUserWithId(b.user.id);
    assert.deepEqual(calls(c.log.slice(before)), [`DELETE ${API}/auth/session`]);
    assert.equal(c.log.at(-1)!.headers.authorization, `Bearer ${bRefresh}`);
    assert.deepEqual(c.client.auth.listUsers().map((u) => u.id), [a.user.id]);
    assert.equal((await raw(main, 'POST', `${API}/auth/session`, bRefresh)).status, 401);
    assert.equal(c.client.auth.user!.id, a.user.id, 'removing another user keeps the active one');

    before = c.log.length;
    await c.client.auth.logoutUserWithId(a.user.id);
    assert.deepEqual(calls(c.log.slice(before)), [`DELETE ${API}/auth/session`]);
    assert.equal(c.log.at(-1)!.headers.authorization, `Bearer ${aRefresh}`);
    assert.equal(c.client.auth.isLoggedIn, false);
    const listed = c.client.auth.listUsers();
    assert.deepEqual(listed.map((u) => [u.id, u.isLoggedIn]), [[a.user.id, false]]);
    assert.throws(() => c.client.auth.switchToUserWithId(a.user.id), /not logged in|UserNotLoggedIn/i);

    before = c.log.length;
    await c.client.auth.removeUserWithId(a.user.id);
    assert.equal(c.log.length, before, 'removing a logged-out user sends nothing');
    assert.deepEqual(c.client.auth.listUsers(), []);
  });

  it('several users: the active one is used for requests, and logging in another user keeps the first', async () => {
    const c = newClient(main);
    const anon = await c.client.auth.loginWithCredential(new AnonymousCredential());
    const a = await registerAndLogIn(c, uniqueEmail('s-multi'));
    assert.deepEqual(c.client.auth.listUsers().map((u: StitchUser) => [u.id, u.isLoggedIn]), [
      [anon.id, true],
      [a.user.id, true],
    ]);
    // The anonymous login switches back to the logged-in anonymous user without a request.
    const before = c.log.length;
    const back = await c.client.auth.loginWithCredential(new AnonymousCredential());
    assert.equal(back.id, anon.id);
    assert.equal(c.client.auth.user!.id, anon.id);
    assert.equal(c.log.length, before);
    // The active user's refresh token is the one used.
    await authImpl(c).refreshCustomData();
    const req = c.log.at(-1)!;
    assert.equal(req.path, `${API}/auth/session`);
    const sessionOf = await main.baste.store.findSessionByRefreshHash(hashRefreshToken(refreshSecretOf(req.headers.authorization!.replace(/^Bearer /, ''))!));
    assert.equal(sessionOf!.session.userId, anon.id);
  });

  it('#38 logging out an anonymous user removes it from listUsers', async () => {
    const c = newClient(main);
    const anon = await c.client.auth.loginWithCredential(new AnonymousCredential());
    assert.deepEqual(c.client.auth.listUsers().map((u) => u.id), [anon.id]);
    await c.client.auth.logout();
    assert.equal(c.log.at(-1)!.method, 'DELETE');
    assert.equal(cls(c.log.at(-1)!.status), '2xx');
    assert.deepEqual(c.client.auth.listUsers(), []);
    // A new anonymous login is a new user.
    const next = await c.client.auth.loginWithCredential(new AnonymousCredential());
    assert.notEqual(next.id, anon.id);
  });
});

describe('Stitch: linking', () => {
  it('#41 an anonymous user links email/password: same id, identities [anon-user, local-userpass]', async () => {
    const c = newClient(main);
    const anon = await c.client.auth.loginWithCredential(new AnonymousCredential());
    const email = uniqueEmail('s41');
    await userpass(c).registerWithEmail(email, 'password41');
    const before = c.log.length;
    const linked = await anon.linkWithCredential(new UserPasswordCredential(email, 'password41'));
    const link = c.log[before]!;
    assert.equal(`${link.method} ${link.path}${new URL(link.url).search}`, `POST ${loginPath(main.appId, 'local-userpass')}?link=true`);
    assert.match(link.headers.authorization!, /^Bearer [^.]+\.[^.]+\.[^.]+$/);
    assert.equal(JSON.parse(link.responseBody!).user_id, anon.id);
    assert.equal(linked.id, anon.id);
    assert.deepEqual(linked.identities.map((i) => i.providerType), ['anon-user', 'local-userpass']);
    assert.equal(linked.profile.email, email);
    assert.equal(c.client.auth.user!.id, anon.id);
    assert.equal(c.client.auth.user!.loggedInProviderType, 'local-userpass');
  });

  it('#43 linking credentials that belong to another user is rejected and the user stays logged in', async () => {
    const other = newClient(main);
    const taken = await registerAndLogIn(other, uniqueEmail('s43'));
    const c = newClient(main);
    const anon = await c.client.auth.loginWithCredential(new AnonymousCredential());
    await assert.rejects(anon.linkWithCredential(new UserPasswordCredential(taken.email, taken.password)), (err: unknown) => {
      assert.ok(err instanceof StitchServiceError, String(err));
      assert.notEqual(err.errorCodeName, 'InvalidSession');
      assert.ok(err.message.length > 0);
      return true;
    });
    const status = c.log.at(-1)!.status!;
    assert.ok(status >= 400 && status < 500 && status !== 401, `status ${status}`);
    assert.equal(c.client.auth.isLoggedIn, true);
    assert.equal(c.client.auth.user!.id, anon.id);
    assert.equal(c.log.filter((r) => r.path === `${API}/auth/session`).length, 0, 'no refresh for a non-session error');
  });
});

describe('Stitch: email/password flows', () => {
  it('#49 confirmUser with bogus values rejects with "invalid token data"', async () => {
    const c = newClient(confirming);
    await rejectsStitch(userpass(c).confirmUser('bogus', 'bogus'), 'Unknown', 'invalid token data');
    const req = c.log.at(-1)!;
    assert.equal(req.path, userpassPath(confirming.appId, 'confirm'));
    assert.deepEqual(JSON.parse(req.body!), { token: 'bogus', tokenId: 'bogus' });
    assert.equal(JSON.parse(req.responseBody!).error_code, 'UserpassTokenInvalid');
  });

  it('confirmation: a pending user logs in only after confirmUser with the emailed token', async () => {
    const c = newClient(confirming);
    const email = uniqueEmail('s-confirm');
    await userpass(c).registerWithEmail(email, 'password-c');
    await rejectsStitch(c.client.auth.loginWithCredential(new UserPasswordCredential(email, 'password-c')), 'Unknown', 'confirmation required');
    const mail = confirming.outbox().filter((m) => m.to === email && m.kind === 'confirm');
    assert.equal(mail.length, 1);
    const { token, tokenId } = tokensOf(mail[0]!.link);
    await userpass(c).confirmUser(token, tokenId);
    const user = await c.client.auth.loginWithCredential(new UserPasswordCredential(email, 'password-c'));
    assert.equal(user.profile.email, email);
    await rejectsStitch(userpass(c).confirmUser(token, tokenId), 'Unknown', 'invalid token data');
  });

  it('#50 resendConfirmationEmail: UserAlreadyConfirmed for an auto-confirmed user, a new email for a pending one', async () => {
    const auto = newClient(main);
    const email = uniqueEmail('s50');
    await userpass(auto).registerWithEmail(email, 'password50');
    await rejectsStitch(userpass(auto).resendConfirmationEmail(email), 'UserAlreadyConfirmed', 'already confirmed');
    assert.equal(auto.log.at(-1)!.path, userpassPath(main.appId, 'confirm/send'));

    const c = newClient(confirming);
    const pending = uniqueEmail('s50p');
    await userpass(c).registerWithEmail(pending, 'password50');
    await userpass(c).resendConfirmationEmail(pending);
    assert.deepEqual(JSON.parse(c.log.at(-1)!.body!), { email: pending });
    assert.ok(c.log.at(-1)!.status! >= 200 && c.log.at(-1)!.status! < 300);
    const mails = confirming.outbox().filter((m) => m.to === pending && m.kind === 'confirm');
    assert.equal(mails.length, 2);
    const { token, tokenId } = tokensOf(mails[1]!.link);
    await userpass(c).confirmUser(token, tokenId);
    const user = await c.client.auth.loginWithCredential(new UserPasswordCredential(pending, 'password50'));
    assert.equal(user.profile.email, pending);
  });

  it('#52 #54 sendResetPasswordEmail posts to /reset/send; resetPassword with the emailed token sets the new password', async () => {
    const c = newClient(main);
    const { user, email } = await registerAndLogIn(c, uniqueEmail('s54'), 'old-password');
    await userpass(c).sendResetPasswordEmail(email);
    const send = c.log.at(-1)!;
    assert.equal(`${send.method} ${send.path}`, `POST ${userpassPath(main.appId, 'reset/send')}`);
    assert.deepEqual(JSON.parse(send.body!), { email });
    const mails = main.outbox().filter((m) => m.to === email && m.kind === 'reset');
    assert.equal(mails.length, 1);
    const { token, tokenId } = tokensOf(mails[0]!.link);

    await userpass(c).resetPassword(token, tokenId, 'new-password');
    const reset = c.log.at(-1)!;
    assert.equal(reset.path, userpassPath(main.appId, 'reset'));
    assert.deepEqual(JSON.parse(reset.body!), { token, tokenId, password: 'new-password' });

    const c2 = newClient(main);
    const again = await c2.client.auth.loginWithCredential(new UserPasswordCredential(email, 'new-password'));
    assert.equal(again.id, user.id);
    await rejectsStitch(c2.client.auth.loginWithCredential(new UserPasswordCredential(email, 'old-password')), 'Unknown', 'invalid username/password');
    await rejectsStitch(userpass(c2).resetPassword(token, tokenId, 'third-password'), 'Unknown', 'invalid token data');
  });

  it('#53 callResetPasswordFunction posts {email,password,arguments} to /reset/call and gets a JSON error', async () => {
    const c = newClient(main);
    const email = uniqueEmail('s53');
    await userpass(c).registerWithEmail(email, 'password53');
    await rejectsStitch(userpass(c).callResetPasswordFunction(email, 'password53b', ['arg1', 2]), 'Unknown', `failed to reset password for user "${email}"`);
    const req = c.log.at(-1)!;
    assert.equal(`${req.method} ${req.path}`, `POST ${userpassPath(main.appId, 'reset/call')}`);
    const body = JSON.parse(req.body!);
    assert.equal(body.email, email);
    assert.equal(body.password, 'password53b');
    assert.deepEqual(body.arguments, ['arg1', { $numberInt: '2' }]);
    assert.equal(req.status, 400);

    const f = newClient(resetFn);
    const femail = uniqueEmail('s53f');
    await userpass(f).registerWithEmail(femail, 'password53');
    await rejectsStitch(userpass(f).callResetPasswordFunction(femail, 'password53b', ['no']), 'Unknown', `failed to reset password for user "${femail}"`);
    assert.equal(f.log.at(-1)!.status, 400);
    await rejectsStitch(userpass(f).sendResetPasswordEmail(femail), 'Unknown', 'please use reset password via function');
    const user = await f.client.auth.loginWithCredential(new UserPasswordCredential(femail, 'password53'));
    assert.equal(user.profile.email, femail);
    // a successful reset function sets the new password at once
    await userpass(f).callResetPasswordFunction(femail, 'password53c', ['ok']);
    const again = await f.client.auth.loginWithCredential(new UserPasswordCredential(femail, 'password53c'));
    assert.equal(again.profile.email, femail);
  });
});
