// Session policy and per-session revocation, observed through realm-web with a clock the test
// moves: the refresh-token lifetime, a sliding lifetime, the idle timeout (admin API
// `security/session_policy`), the session lists of the admin API and of a user's own client route,
// and ending one session without touching the others. A refresh after a session ends is 401 and
// realm-web logs its user out.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as Realm from 'realm-web';
import { AdminTokens } from '../src/admin/tokens.js';
import { appConfig, autoConfirmUserpass, provider, startServer, uniqueEmail, type TestServer } from './helpers/server.js';
import { assertError, request, type Answer } from './helpers/wire.js';

const DAY = 86_400_000;
let now = Date.UTC(2026, 3, 1);
let server: TestServer;
let adminToken: string;

before(async () => {
  server = await startServer(appConfig([provider('anon-user'), autoConfirmUserpass()], 'policy-app-abcde'), {
    clock: () => now,
    sessions: { refreshTokenTtlSeconds: 10 * 86_400, settingsReloadMs: 0 },
  });
  adminToken = (await new AdminTokens(server.baste.store, () => now).create('policy tests')).token;
});
after(() => server?.close());

const call = (method: string, path: string, bearer: string, body?: unknown): Promise<Answer> => request(method, server.url + path, { token: bearer, body });

const admin = (method: string, path: string, body?: unknown) => call(method, `/api/admin/v3.0/apps/${server.appId}${path}`, adminToken, body);
const setPolicy = async (body: Record<string, unknown>) => {
  const res = await admin('PUT', '/security/session_policy', body);
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return res.json;
};

/** A realm-web App of its own (its own storage, so its own device). */
const newApp = () =>
  new Realm.App({ id: server.appId, baseUrl: server.url, storage: new (Realm.getEnvironment().defaultStorage.constructor as any)() } as Realm.AppConfiguration);

async function logIn(app = newApp(), email = uniqueEmail('policy')) {
  await app.emailPasswordAuth.registerUser({ email, password: 'password1' }).catch(() => undefined);
  return app.logIn(Realm.Credentials.emailPassword(email, 'password1'));
}

/** A refresh through the SDK (refreshCustomData is POST /auth/session). */
const refresh = (user: Realm.User) => user.refreshCustomData();

async function assertLoggedOutByRefresh(user: Realm.User, message: RegExp) {
  await assert.rejects(refresh(user), (err: unknown) => {
    assert.ok(err instanceof Realm.MongoDBRealmError, String(err));
    assert.equal(err.statusCode, 401);
    assert.equal(err.errorCode, 'InvalidSession');
    assert.match(err.message, message);
    return true;
  });
  assert.equal(user.state, 'logged-out');
  assert.equal(user.accessToken, null);
  assert.equal(user.refreshToken, null);
  // Logging out a user whose session is over is quiet, as after any logout.
  await user.logOut();
}

describe('session policy through realm-web', () => {
  it('shows the policy, and refuses bad input changing nothing', async () => {
    assert.deepEqual((await admin('GET', '/security/session_policy')).json, { sliding_expiration: false, idle_timeout_seconds: 0 });
    for (const [body, code] of [
      [{ sliding_expiration: 'yes' }, 'InvalidParameter'],
      [{ idle_timeout_seconds: 60 }, 'InvalidParameter'],
      [{ idle_timeout_seconds: 1.5 }, 'InvalidParameter'],
      [{ idle_timeout_seconds: 3600, sliding_expiration: 1 }, 'InvalidParameter'],
      [{ idle: 3600 }, 'InvalidParameter'],
      [{}, 'MissingParameter'],
    ] as const) {
      assertError(await admin('PUT', '/security/session_policy', body), 400, code);
    }
    assert.deepEqual((await admin('GET', '/security/session_policy')).json, { sliding_expiration: false, idle_timeout_seconds: 0 });
    const log = (await admin('GET', '/audit_log')).json as { action: string }[];
    assert.equal(log.filter((e) => e.action === 'security.session_policy').length, 0);
  });

  it('a fixed lifetime: refreshes do not extend it; a refresh after it is 401 and the user is logged out', async () => {
    const user = await logIn();
    now += 6 * DAY;
    await refresh(user);
    now += 4 * DAY + 1000; // 10 days after login
    await assertLoggedOutByRefresh(user, /refresh token expired/);
  });

  it('a sliding lifetime: each refresh extends it to a full lifetime from then', async () => {
    assert.deepEqual(await setPolicy({ sliding_expiration: true }), { sliding_expiration: true, idle_timeout_seconds: 0 });
    const user = await logIn();
    for (let i = 0; i < 4; i++) {
      now += 6 * DAY; // 24 days in all, well past the 10-day lifetime
      await refresh(user);
      assert.equal(user.state, 'active');
    }
    const [session] = (await admin('GET', `/users/${user.id}/sessions`)).json;
    assert.equal(session.expiration_date, Math.floor(now / 1000) + 10 * 86_400);
    now += 10 * DAY + 1000;
    await assertLoggedOutByRefresh(user, /refresh token expired/);
    await setPolicy({ sliding_expiration: false });
  });

  it('an idle timeout: a session unused that long ends, one in use lives on', async () => {
    assert.deepEqual(await setPolicy({ idle_timeout_seconds: 2 * 86_400 }), { sliding_expiration: false, idle_timeout_seconds: 172_800 });
    const idle = await logIn();
    const busy = await logIn();
    now += DAY;
    await refresh(busy);
    now += DAY + 1000;
    await refresh(busy);
    assert.equal(busy.state, 'active');
    // The idle session is no longer listed, and its refresh ends it.
    assert.deepEqual((await admin('GET', `/users/${idle.id}/sessions`)).json, []);
    await assertLoggedOutByRefresh(idle, /session ended after 172800 seconds without use/);
    // The sweep removes sessions idle past the timeout.
    now += 2 * DAY + 1000;
    await server.baste.sweepAnonymousUsers();
    assert.deepEqual(await server.baste.store.listSessionsOfUser(busy.id), []);
    await assertLoggedOutByRefresh(busy, /failed to find refresh token/);
    await setPolicy({ idle_timeout_seconds: 0 });
  });
});

describe('per-session revocation', () => {
  it('records last use to the second: a refresh within a second of the last recorded one writes nothing', async () => {
    const user = await logIn();
    const lastUsed = async () => (await admin('GET', `/users/${user.id}/sessions`)).json[0].last_used_date as number;
    now += 60_000 - (now % 1000) + 500; // half past a second: a write 999 ms later would show
    await refresh(user);
    const recorded = await lastUsed();
    assert.equal(recorded, Math.floor(now / 1000));
    now += 999;
    await refresh(user);
    assert.equal(await lastUsed(), recorded, 'within a second: not written');
    now += 1_500; // 2.499 s after the recorded use: written
    await refresh(user);
    assert.equal(await lastUsed(), Math.floor(now / 1000));
  });

  it('the admin API lists a user’s sessions with device, address, created and last used, and ends one only', async () => {
    const email = uniqueEmail('two-devices');
    const phone = await logIn(newApp(), email);
    const created = Math.floor(now / 1000);
    now += 60_000;
    const laptop = await logIn(newApp(), email);
    assert.equal(phone.id, laptop.id);
    now += 60_000;
    await refresh(laptop);

    const listed = await admin('GET', `/users/${phone.id}/sessions`);
    assert.equal(listed.status, 200);
    assert.equal(listed.json.length, 2);
    const [first, second] = listed.json;
    assert.equal(first.address, '127.0.0.1');
    assert.equal(first.provider_type, 'local-userpass');
    assert.equal(first.creation_date, created);
    assert.equal(first.last_used_date, created);
    assert.equal(second.last_used_date, created + 120);
    assert.equal(first.device_id, phone.deviceId);
    assert.equal(second.device_id, laptop.deviceId);
    assert.equal(typeof first.device.platform, 'string');
    assert.equal(typeof first.device.sdk_version, 'string');
    for (const s of listed.json) assert.equal(JSON.stringify(s).includes('refresh'), false);
    // The user detail shows the same sessions.
    assert.deepEqual((await admin('GET', `/users/${phone.id}`)).json.sessions, listed.json);

    const revoked = await admin('DELETE', `/users/${phone.id}/sessions/${first._id}`);
    assert.equal(revoked.status, 204);
    // The phone's access token stops working at once; realm-web refreshes, gets 401 and logs it out.
    await assert.rejects(phone.functions.callFunction('nothing'), (err: unknown) => err instanceof Realm.MongoDBRealmError && err.statusCode === 401);
    assert.equal(phone.state, 'logged-out');
    // The laptop is untouched.
    await refresh(laptop);
    assert.equal(laptop.state, 'active');
    assert.equal((await admin('GET', `/users/${phone.id}/sessions`)).json.length, 1);

    assertError(await admin('DELETE', `/users/${phone.id}/sessions/${first._id}`), 404, 'SessionNotFound');
    const other = await logIn();
    assertError(await admin('DELETE', `/users/${other.id}/sessions/${second._id}`), 404, 'SessionNotFound');
    await refresh(laptop);
    const log = (await admin('GET', '/audit_log')).json as { action: string; target: string; details: { session?: string } }[];
    assert.ok(log.some((e) => e.action === 'user.session.revoke' && e.target === phone.id && e.details.session === first._id));
  });

  it('a user lists and ends their own sessions through GET/DELETE /auth/sessions (access token)', async () => {
    const email = uniqueEmail('self');
    const a = await logIn(newApp(), email);
    const b = await logIn(newApp(), email);
    const stranger = await logIn();

    const mine = await call('GET', '/api/client/v2.0/auth/sessions', a.accessToken!);
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.json.map((s: any) => s.current), [true, false]);
    assert.deepEqual(mine.json.map((s: any) => s.device_id), [a.deviceId, b.deviceId]);
    const bSession = mine.json[1]._id;

    // Another user's session is not found, and stays.
    assertError(await call('DELETE', `/api/client/v2.0/auth/sessions/${bSession}`, stranger.accessToken!), 404, 'SessionNotFound');
    await refresh(b);
    // A refresh token is not accepted here.
    assertError(await call('GET', '/api/client/v2.0/auth/sessions', a.refreshToken!), 401, 'InvalidSession');

    assert.equal((await call('DELETE', `/api/client/v2.0/auth/sessions/${bSession}`, a.accessToken!)).status, 204);
    await assertLoggedOutByRefresh(b, /failed to find refresh token/);
    await refresh(a);
    const left = await call('GET', '/api/client/v2.0/auth/sessions', a.accessToken!);
    assert.deepEqual(left.json.map((s: any) => s.current), [true]);
    assertError(await call('GET', '/api/client/v2.0/auth/sessions', 'not-a-token'), 401, 'InvalidSession');
  });
});
