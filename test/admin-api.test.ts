// The admin API on a real server: every route, the admin-token check (and that client tokens and
// admin tokens never pass for each other), the audit log, and that a refused request changes nothing.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { AdminTokens } from '../src/admin/tokens.js';
import type { Store } from '../src/store/store.js';
import { newObjectIdHex } from '../src/util/ids.js';
import { SignJWT } from 'jose';
import type { AppConfig } from '../src/app/model.js';
import { appConfig, appFunction, decodeJwt, emailConfirmUserpass, provider, startServer, tokensOf, uniqueEmail, type TestServer } from './helpers/server.js';

const GOOGLE_SECRET = 'google-client-secret-value-9f2c';
const PASSWORD = 'correct horse 1';

let server: TestServer;
let token: string;
let tokenId: string;
const logLines: string[] = [];
/** Everything secret the tests see; none of it may reach a log line. */
const secrets: string[] = [PASSWORD, GOOGLE_SECRET];

before(async () => {
  const app = {
    ...appConfig([
      provider('anon-user'),
      emailConfirmUserpass(),
      provider('api-key'),
      provider('oauth2-google', { clientId: 'google-client-id', clientSecret: 'inline-legacy-secret' }, { secretConfig: { clientSecret: 'googleSecret' } }),
    ]),
    secrets: new Map([['googleSecret', GOOGLE_SECRET]]),
    allowedRequestOrigins: ['http://app.example'],
  };
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _enc, done) {
        logLines.push(chunk.toString());
        done();
      },
    }),
  );
  server = await startServer(app, { logger });
  const created = await new AdminTokens(server.baste.store, Date.now).create('ops team');
  token = created.token;
  tokenId = created._id;
  secrets.push(token);
});

after(async () => {
  await server?.close();
});

const base = () => `/api/admin/v3.0/apps/${server.appId}`;

interface Answer {
  status: number;
  contentType: string | null;
  headers: Headers;
  json: any;
  text: string;
}

/** `bearer` null sends no token; by default the admin token goes along. */
async function call(method: string, path: string, bearer: string | null = token, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...extraHeaders };
  if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(server.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), headers: res.headers, json: text ? JSON.parse(text) : undefined, text };
}

const admin = (method: string, path: string, body?: unknown) => call(method, base() + path, token, body);

function assertError(res: Answer, status: number, code: string, text?: RegExp) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.contentType, 'application/json');
  assert.deepEqual(Object.keys(res.json).sort(), ['error', 'error_code', 'link']);
  assert.equal(res.json.error_code, code, res.text);
  if (text) assert.match(res.json.error, text);
}

const clientPath = (route: string) => `/api/client/v2.0/app/${server.appId}/auth/providers/${route}`;

async function register(email = uniqueEmail('adm')) {
  const res = await call('POST', clientPath('local-userpass/register'), null, { email, password: PASSWORD });
  assert.equal(res.status, 201, res.text);
  return email;
}

async function login(email: string, password = PASSWORD, device: Record<string, unknown> = {}) {
  return call('POST', clientPath('local-userpass/login'), null, { username: email, password, options: { device } });
}

/** An email/password user made by the admin API, logged in once. */
async function loggedInUser(device: Record<string, unknown> = { platform: 'chrome', platformVersion: '126', sdkVersion: '2.0.1' }) {
  const email = uniqueEmail('adm');
  const created = await admin('POST', '/users', { email, password: PASSWORD });
  assert.equal(created.status, 201, created.text);
  const session = await login(email, PASSWORD, device);
  assert.equal(session.status, 200, session.text);
  secrets.push(session.json.access_token, session.json.refresh_token);
  return { email, id: created.json._id as string, access: session.json.access_token as string, refresh: session.json.refresh_token as string };
}

/** Everything an admin route could change, read straight from the store. */
async function snapshot(store: Store = server.baste.store) {
  const users = await store.listUsers({ limit: 10_000 });
  return JSON.stringify({
    users,
    sessions: await Promise.all(users.map((u) => store.listSessionsOfUser(u.id))),
    pending: await store.listPendingUserpassAccounts({ limit: 10_000 }),
    keys: await store.listServerApiKeys(),
    audit: await store.listAuditEntries({ limit: 10_000 }),
    tokens: await store.listAdminTokens(),
    refreshExpiration: await store.getSetting('refreshTokenExpirationSeconds'),
  });
}

describe('admin API: who may call it', () => {
  let victim: Awaited<ReturnType<typeof loggedInUser>>;
  let pendingEmail: string;
  let keyId: string;
  let serverKey: string;
  let routes: [string, string, unknown?][];

  before(async () => {
    victim = await loggedInUser();
    pendingEmail = await register();
    const key = await admin('POST', '/api_keys', { name: 'auth-test-key' });
    keyId = key.json._id;
    serverKey = key.json.key;
    secrets.push(serverKey);
    const enc = encodeURIComponent(pendingEmail);
    routes = [
      ['GET', ''],
      ['GET', '/users'],
      ['POST', '/users', { email: uniqueEmail('never'), password: PASSWORD }],
      ['GET', `/users/${victim.id}`],
      ['GET', `/users/${victim.id}/devices`],
      ['GET', `/users/${victim.id}/api_keys`],
      ['PUT', `/users/${victim.id}/disable`],
      ['PUT', `/users/${victim.id}/enable`],
      ['PUT', `/users/${victim.id}/logout`],
      ['DELETE', `/users/${victim.id}`],
      ['GET', '/user_registrations'],
      ['GET', '/user_registrations/pending_users'],
      ['POST', `/user_registrations/by_email/${enc}/run_confirm`],
      ['POST', '/users/verify_token', { token: victim.access }],
      ['GET', '/security/refresh_token_expiration'],
      ['PUT', '/security/refresh_token_expiration', { expiration_time_seconds: 3600 }],
      ['GET', '/custom_user_data'],
      ['POST', `/user_registrations/by_email/${enc}/confirm`],
      ['POST', `/user_registrations/by_email/${enc}/send_confirm`],
      ['DELETE', `/user_registrations/by_email/${enc}`],
      ['GET', '/api_keys'],
      ['POST', '/api_keys', { name: 'never' }],
      ['GET', `/api_keys/${keyId}`],
      ['PUT', `/api_keys/${keyId}/disable`],
      ['PUT', `/api_keys/${keyId}/enable`],
      ['DELETE', `/api_keys/${keyId}`],
      ['GET', '/auth_providers'],
      ['GET', '/audit_log'],
    ];
  });

  it('refuses every route without a valid admin token: 401 InvalidSession in the Stitch shape, and nothing changes', async () => {
    const anon = (await call('POST', clientPath('anon-user/login'), null, {})).json;
    const keyLogin = (await call('POST', clientPath('api-key/login'), null, { key: serverKey })).json;
    const before = await snapshot();
    const outbox = server.outbox().length;
    const bad: [string, Record<string, string>][] = [
      ['no Authorization header', {}],
      ['a Basic header', { authorization: `Basic ${Buffer.from(`admin:${token}`).toString('base64')}` }],
      ['an empty bearer', { authorization: 'Bearer ' }],
      ['an unknown admin token', { authorization: `Bearer ${token.slice(0, -4)}AAAA` }],
      ['the token without its prefix', { authorization: `Bearer ${token.replace('baste_admin_', '')}` }],
      ["a user's access token", { authorization: `Bearer ${victim.access}` }],
      ["a user's refresh token", { authorization: `Bearer ${victim.refresh}` }],
      ['an anonymous access token', { authorization: `Bearer ${anon.access_token}` }],
      ["a server API key's access token", { authorization: `Bearer ${keyLogin.access_token}` }],
      ['the server API key itself', { authorization: `Bearer ${serverKey}` }],
    ];
    // The refused requests also cover the `groups/{groupId}` spelling of every route.
    for (const prefix of [base(), `/api/admin/v3.0/groups/any-group/apps/${server.appId}`]) {
      for (const [method, path, body] of routes) {
        for (const [what, headers] of bad) {
          const res = await call(method, prefix + path, null, body, headers);
          assert.equal(res.status, 401, `${method} ${path} with ${what}`);
          assertError(res, 401, 'InvalidSession');
        }
      }
    }
    for (const [, headers] of bad) assertError(await call('GET', '/api/admin/v3.0/apps', null, undefined, headers), 401, 'InvalidSession');
    const clientToken = await call('GET', `${base()}/users`, victim.access);
    assert.match(clientToken.json.error, /admin token/);
    assert.equal(await snapshot(), before);
    assert.equal(server.outbox().length, outbox, 'no email sent');
    // The victim's session is untouched.
    assert.equal((await call('GET', '/api/client/v2.0/auth/profile', victim.access)).status, 200);
  });

  it('refuses the admin token on every kind of client route', async () => {
    const before = await snapshot();
    assertError(await call('GET', '/api/client/v2.0/auth/profile', token), 401, 'InvalidSession');
    assertError(await call('POST', '/api/client/v2.0/auth/session', token), 401, 'InvalidSession');
    assertError(await call('DELETE', '/api/client/v2.0/auth/session', token), 401, 'InvalidSession');
    assertError(await call('DELETE', '/api/client/v2.0/auth/delete', token), 401, 'InvalidSession');
    assertError(await call('GET', '/api/client/v2.0/auth/api_keys', token), 401, 'InvalidSession');
    assertError(await call('POST', '/api/client/v2.0/auth/api_keys', token, { name: 'k' }), 401, 'InvalidSession');
    assertError(await call('POST', `/api/client/v2.0/app/${server.appId}/functions/call`, token, { name: 'f', arguments: [] }), 401, 'InvalidSession');
    assertError(await call('POST', `${clientPath('local-userpass/login')}?link=true`, token, { username: victim.email, password: PASSWORD }), 401, 'InvalidSession');
    // ... nor as a credential.
    assertError(await call('POST', clientPath('api-key/login'), null, { key: token }), 401, 'AuthError', /invalid API key/);
    assert.equal(await snapshot(), before);
  });

  it('accepts the app by client app id or by its 24-hex id, and refuses any other app', async () => {
    const domainId = (await admin('GET', '')).json._id;
    assert.match(domainId, /^[0-9a-f]{24}$/);
    assert.deepEqual((await call('GET', '/api/admin/v3.0/apps')).json, [{ _id: domainId, client_app_id: server.appId, name: 'test-app' }]);
    assert.equal((await call('GET', `/api/admin/v3.0/apps/${domainId}/users`)).status, 200);
    assert.equal((await call('GET', `/api/admin/v3.0/groups/g1/apps/${server.appId}/auth_providers`)).status, 200);
    const before = await snapshot();
    assertError(await call('PUT', `/api/admin/v3.0/apps/other-app/users/${victim.id}/disable`), 404, 'AppNotFound');
    assertError(await call('GET', '/api/admin/v3.0/apps/other-app/users'), 404, 'AppNotFound');
    assert.equal(await snapshot(), before);
    assertError(await admin('GET', '/no_such_thing'), 404, 'NotServedByBaste');
  });

  it('stops accepting a deleted admin token', async () => {
    const tokens = new AdminTokens(server.baste.store, Date.now);
    const other = await tokens.create('short-lived');
    secrets.push(other.token);
    assert.equal((await call('GET', '/api/admin/v3.0/apps', other.token)).status, 200);
    await tokens.delete(other._id);
    assertError(await call('GET', '/api/admin/v3.0/apps', other.token), 401, 'InvalidSession', /unknown or revoked/);
    await assert.rejects(tokens.delete(other._id), /no admin token/);
  });

  it('answers with no-store and ignores the app’s allowed request origins', async () => {
    const elsewhere = { origin: 'http://elsewhere.example' };
    assertError(await call('POST', clientPath('anon-user/login'), null, {}, elsewhere), 403, 'DomainNotAllowed');
    const res = await call('GET', `${base()}/users`, token, undefined, elsewhere);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    // ... but still wants the token.
    assertError(await call('GET', `${base()}/users`, null, undefined, elsewhere), 401, 'InvalidSession');
  });
});

describe('admin API: users', () => {
  it('lists users 50 at a time with an `after` cursor, filtered by provider type and by email or name', async () => {
    const store = server.baste.store;
    // 120 more users straight in the store: anonymous ones, and Google ones with a name.
    for (let i = 0; i < 120; i++) {
      const google = i % 3 === 0;
      await store.loginIdentity({
        identity: {
          externalId: `ext-${i}-${newObjectIdHex()}`,
          providerName: google ? 'oauth2-google' : 'anon-user',
          providerType: google ? 'oauth2-google' : 'anon-user',
          providerId: 'p'.repeat(24),
          data: google ? { name: `Grace Hopper ${i}`, email: `grace${i}@navy.example` } : {},
        },
        newUserId: newObjectIdHex(),
        userType: 'normal',
        now: Date.now(),
      });
    }
    const all = await store.listUsers({ limit: 10_000 });
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const res = await admin('GET', `/users${after ? `?after=${after}` : ''}`);
      assert.equal(res.status, 200);
      assert.ok(res.json.length <= 50);
      seen.push(...res.json.map((u: { _id: string }) => u._id));
      after = res.headers.get('x-baste-next-after');
      if (after) assert.equal(res.json.length, 50);
      pages++;
    } while (after);
    assert.deepEqual(seen, all.map((u) => u.id));
    assert.equal(pages, Math.ceil(all.length / 50));

    const google = await admin('GET', '/users?provider_type=oauth2-google');
    assert.equal(google.json.length, 40);
    assert.ok(google.json.every((u: any) => u.identities.every((i: any) => i.provider_type === 'oauth2-google')));
    const grace = await admin('GET', `/users?search=${encodeURIComponent('HOPPER 11')}`);
    assert.deepEqual(grace.json.map((u: any) => u.data.name), ['Grace Hopper 111', 'Grace Hopper 114', 'Grace Hopper 117'], 'case-insensitive substring of the name');
    const byEmail = await admin('GET', '/users?search=grace33%40navy');
    assert.deepEqual(byEmail.json.map((u: any) => u.data.email), ['grace33@navy.example']);
    assert.deepEqual((await admin('GET', `/users?search=${byEmail.json[0]._id}`)).json.map((u: any) => u._id), [byEmail.json[0]._id]);
    assert.deepEqual((await admin('GET', '/users?search=nobody-has-this')).json, []);
    assert.equal((await admin('GET', '/users?provider_type=anon-user&search=grace')).json.length, 0);
    // The user object has the App Services shape.
    const one = byEmail.json[0];
    assert.deepEqual(Object.keys(one).sort(), ['_id', 'creation_date', 'data', 'disabled', 'identities', 'last_authentication_date', 'type']);
    assert.deepEqual(Object.keys(one.identities[0]).sort(), ['id', 'provider_id', 'provider_name', 'provider_type']);
    assert.equal(typeof one.creation_date, 'number');
    assert.ok(one.creation_date < 1e11, 'creation_date is in seconds');
    assertError(await admin('GET', '/users?after=a&after=b'), 400, 'InvalidParameter');
    assertError(await admin('GET', `/users?search=${'x'.repeat(300)}`), 400, 'InvalidParameter');
  });

  it('shows a user with identities, provider data, custom data, devices and sessions, never a secret', async () => {
    const u = await loggedInUser({ deviceId: newObjectIdHex(), platform: 'firefox', platformVersion: '128.0', sdkVersion: '2.0.1', appVersion: '3.1' });
    await login(u.email); // a second session
    const res = await admin('GET', `/users/${u.id}`);
    assert.equal(res.status, 200);
    const user = res.json;
    assert.equal(user._id, u.id);
    assert.equal(user.type, 'normal');
    assert.equal(user.disabled, false);
    assert.deepEqual(user.data, { email: u.email });
    assert.deepEqual(user.custom_data, {});
    assert.equal(user.identities.length, 1);
    assert.equal(user.identities[0].provider_type, 'local-userpass');
    assert.deepEqual(user.identities[0].provider_data, { email: u.email });
    assert.equal(user.active_sessions, 2);
    assert.equal(user.sessions.length, 2);
    assert.deepEqual(Object.keys(user.sessions[0]).sort(), ['_id', 'address', 'creation_date', 'device', 'device_id', 'expiration_date', 'last_used_date', 'provider_name', 'provider_type']);
    assert.ok(user.devices.some((d: any) => d.platform === 'firefox' && d.platform_version === '128.0' && d.app_version === '3.1'));
    assert.deepEqual((await admin('GET', `/users/${u.id}/devices`)).json, user.devices);
    // Upper-case ids are the same user.
    assert.equal((await admin('GET', `/users/${u.id.toUpperCase()}`)).json._id, u.id);
    for (const secret of [u.refresh, u.access, '$argon2', PASSWORD]) assert.equal(res.text.includes(secret), false, 'no secret in the answer');
    const sessions = await server.baste.store.listSessionsOfUser(u.id);
    assert.ok(sessions.every((s) => !res.text.includes(s.refreshHash)), 'no refresh-token hash either');

    assertError(await admin('GET', `/users/${'0'.repeat(24)}`), 404, 'UserNotFound', /no user with id/);
    assertError(await admin('GET', '/users/not-a-user-id'), 404, 'UserNotFound');
    assertError(await admin('GET', `/users/${'0'.repeat(24)}/devices`), 404, 'UserNotFound');
  });

  it('creates a confirmed email/password user, refusing a taken email or a bad password without changing anything', async () => {
    const email = uniqueEmail('created');
    const res = await admin('POST', '/users', { email, password: PASSWORD });
    assert.equal(res.status, 201);
    assert.deepEqual(res.json.data, { email });
    assert.equal(res.json.identities[0].provider_type, 'local-userpass');
    assert.equal(res.text.includes(PASSWORD), false);
    assert.equal(server.outbox().filter((m) => m.to === email).length, 0, 'no confirmation email');
    const session = await login(email);
    assert.equal(session.status, 200, 'logs in without confirmation');
    assert.equal(session.json.user_id, res.json._id, 'the login finds the created user');

    const before = await snapshot();
    assertError(await admin('POST', '/users', { email, password: 'other password' }), 409, 'AccountNameInUse');
    assertError(await admin('POST', '/users', { email: uniqueEmail('x'), password: 'short' }), 400, 'InvalidParameter', /password/);
    assertError(await admin('POST', '/users', { email: 'not-an-email', password: PASSWORD }), 400, 'InvalidParameter');
    assertError(await admin('POST', '/users', { password: PASSWORD }), 400, 'MissingParameter');
    assertError(await admin('POST', '/users', [1, 2]), 400, 'BadRequest');
    assert.equal(await snapshot(), before);
  });

  it('disables a user (their tokens stop working at once, logins are refused) and enables them again', async () => {
    const u = await loggedInUser();
    assert.equal((await admin('PUT', `/users/${u.id}/disable`)).status, 204);
    assertError(await call('GET', '/api/client/v2.0/auth/profile', u.access), 401, 'InvalidSession');
    assertError(await call('POST', '/api/client/v2.0/auth/session', u.refresh), 401, 'InvalidSession');
    assertError(await login(u.email), 403, 'UserDisabled');
    const shown = (await admin('GET', `/users/${u.id}`)).json;
    assert.equal(shown.disabled, true);
    assert.equal(shown.active_sessions, 0);
    assert.equal((await admin('GET', `/users?search=${encodeURIComponent(u.email)}`)).json[0].disabled, true);

    assert.equal((await admin('PUT', `/users/${u.id}/enable`)).status, 204);
    assert.equal((await admin('GET', `/users/${u.id}`)).json.disabled, false);
    const again = await login(u.email);
    assert.equal(again.status, 200);
    assert.equal(again.json.user_id, u.id);
    assertError(await call('GET', '/api/client/v2.0/auth/profile', u.access), 401, 'InvalidSession', /session has ended/);

    const before = await snapshot();
    assertError(await admin('PUT', `/users/${'0'.repeat(24)}/disable`), 404, 'UserNotFound');
    assertError(await admin('PUT', '/users/nope/enable'), 404, 'UserNotFound');
    assert.equal(await snapshot(), before);
  });

  it('revokes every session of a user, who stays enabled', async () => {
    const u = await loggedInUser();
    const second = (await login(u.email)).json;
    assert.equal((await admin('PUT', `/users/${u.id}/logout`)).status, 204);
    for (const access of [u.access, second.access_token]) assertError(await call('GET', '/api/client/v2.0/auth/profile', access), 401, 'InvalidSession');
    for (const refresh of [u.refresh, second.refresh_token]) assertError(await call('POST', '/api/client/v2.0/auth/session', refresh), 401, 'InvalidSession');
    assert.equal((await admin('GET', `/users/${u.id}`)).json.active_sessions, 0);
    assert.equal((await login(u.email)).status, 200);
    assertError(await admin('PUT', `/users/${'0'.repeat(24)}/logout`), 404, 'UserNotFound');
  });

  it('deletes a user with their identities, sessions and email/password account', async () => {
    const u = await loggedInUser();
    assert.equal((await admin('DELETE', `/users/${u.id}`)).status, 204);
    assertError(await admin('GET', `/users/${u.id}`), 404, 'UserNotFound');
    assertError(await call('GET', '/api/client/v2.0/auth/profile', u.access), 401, 'InvalidSession');
    assertError(await login(u.email), 401, 'InvalidPassword');
    assert.deepEqual((await admin('GET', `/users?search=${encodeURIComponent(u.email)}`)).json, []);
    const before = await snapshot();
    assertError(await admin('DELETE', `/users/${u.id}`), 404, 'UserNotFound');
    assert.equal(await snapshot(), before);
    // The email is free again.
    assert.equal((await admin('POST', '/users', { email: u.email, password: PASSWORD })).status, 201);
  });
});

describe('admin API: pending email/password registrations', () => {
  it('lists registrations no user holds yet, re-sends the confirmation, confirms one and deletes another', async () => {
    const first = await register();
    const second = await register();
    const pending = (await admin('GET', '/user_registrations')).json as any[];
    const mine = pending.filter((p) => [first, second].includes(p.login_ids[0].id));
    assert.equal(mine.length, 2);
    assert.deepEqual(Object.keys(mine[0]).sort(), ['_id', 'creation_date', 'domain_id', 'login_ids', 'user_id']);
    assert.deepEqual(mine[0].login_ids[0], { id_type: 'email', id: first, confirmed: false });
    assert.equal(mine[0].user_id, null);
    assert.equal(JSON.stringify(pending).includes('argon2'), false);
    assertError(await login(first), 401, 'AuthError', /confirmation required/);

    // Re-send: a new link goes out.
    const sentBefore = server.outbox().filter((m) => m.to === first).length;
    assert.equal((await admin('POST', `/user_registrations/by_email/${encodeURIComponent(first)}/send_confirm`)).status, 204);
    const mails = server.outbox().filter((m) => m.to === first);
    assert.equal(mails.length, sentBefore + 1);
    assert.equal(mails.at(-1)!.kind, 'confirm');

    // Confirm: the person becomes a user at once and can log in.
    assert.equal((await admin('POST', `/user_registrations/by_email/${encodeURIComponent(first)}/confirm`)).status, 204);
    const session = await login(first);
    assert.equal(session.status, 200);
    const listed = (await admin('GET', `/users?search=${encodeURIComponent(first)}`)).json;
    assert.deepEqual(listed.map((u: any) => u._id), [session.json.user_id]);
    assert.equal((await admin('GET', '/user_registrations')).json.some((p: any) => p.login_ids[0].id === first), false);
    // The emailed link still works, and changes nothing any more.
    assert.equal((await call('POST', clientPath('local-userpass/confirm'), null, tokensOf(mails.at(-1)!.link))).status, 204);
    assert.equal((await login(first)).json.user_id, session.json.user_id);

    const before = await snapshot();
    assertError(await admin('POST', `/user_registrations/by_email/${encodeURIComponent(first)}/confirm`), 400, 'UserAlreadyConfirmed');
    assertError(await admin('POST', `/user_registrations/by_email/${encodeURIComponent(first)}/send_confirm`), 400, 'UserAlreadyConfirmed');
    assertError(await admin('POST', '/user_registrations/by_email/nobody%40example.com/confirm'), 404, 'UserNotFound');
    assertError(await admin('POST', '/user_registrations/by_email/nobody%40example.com/send_confirm'), 404, 'UserNotFound');
    assertError(await admin('DELETE', '/user_registrations/by_email/nobody%40example.com'), 404, 'UserNotFound');
    assertError(await admin('DELETE', `/user_registrations/by_email/${encodeURIComponent(first)}`), 400, 'BadRequest', /delete the user instead/);
    assert.equal(await snapshot(), before);

    assert.equal((await admin('DELETE', `/user_registrations/by_email/${encodeURIComponent(second)}`)).status, 204);
    assert.equal((await admin('GET', '/user_registrations')).json.some((p: any) => p.login_ids[0].id === second), false);
    await register(second); // may register again
  });

  it('pages pending registrations 50 at a time', async () => {
    const store = server.baste.store;
    for (let i = 0; i < 60; i++) {
      await store.createUserpassAccount({ id: newObjectIdHex(), email: uniqueEmail('bulk'), passwordHash: 'h', confirmed: i % 2 === 0, createdAt: Date.now() });
    }
    const all = await store.listPendingUserpassAccounts({ limit: 10_000 });
    const first = await admin('GET', '/user_registrations');
    assert.equal(first.json.length, 50);
    const next = first.headers.get('x-baste-next-after');
    assert.equal(next, first.json[49]._id);
    const second = await admin('GET', `/user_registrations?after=${next}`);
    assert.equal(second.headers.get('x-baste-next-after'), all.length > 100 ? second.json[49]._id : null);
    assert.deepEqual([...first.json, ...second.json].map((p: any) => p._id), all.slice(0, 100).map((a) => a.id));
  });
});

describe('admin API: server API keys', () => {
  it('creates a key (shown once), lists, disables, enables and deletes it; logins follow', async () => {
    const created = await admin('POST', '/api_keys', { name: 'backend' });
    assert.equal(created.status, 201);
    const { _id: id, key } = created.json;
    secrets.push(key);
    assert.match(id, /^[0-9a-f]{24}$/);
    assert.equal(typeof key, 'string');
    assert.deepEqual(Object.keys(created.json).sort(), ['_id', 'creation_date', 'disabled', 'key', 'name', 'user_id']);
    const keyLogin = () => call('POST', clientPath('api-key/login'), null, { key });
    const session = await keyLogin();
    assert.equal(session.status, 200);
    assert.equal((await call('GET', '/api/client/v2.0/auth/profile', session.json.access_token)).json.type, 'server');

    const listed = await admin('GET', '/api_keys');
    assert.ok(listed.json.some((k: any) => k._id === id && k.name === 'backend' && k.disabled === false));
    assert.equal(listed.text.includes(key), false, 'the list never shows a key');
    const stored = (await server.baste.store.listServerApiKeys()).find((k) => k.id === id)!;
    assert.equal(listed.text.includes(stored.keyHash), false, 'nor its hash');
    assert.deepEqual((await admin('GET', `/api_keys/${id}`)).json, listed.json.find((k: any) => k._id === id));

    assert.equal((await admin('PUT', `/api_keys/${id}/disable`)).status, 204);
    assertError(await keyLogin(), 401, 'AuthError');
    assertError(await call('GET', '/api/client/v2.0/auth/profile', session.json.access_token), 401, 'InvalidSession');
    assert.equal((await admin('GET', `/api_keys/${id}`)).json.disabled, true);
    assert.equal((await admin('PUT', `/api_keys/${id}/enable`)).status, 204);
    assert.equal((await keyLogin()).status, 200);

    const before = await snapshot();
    assertError(await admin('POST', '/api_keys', { name: 'backend' }), 409, 'APIKeyAlreadyExists');
    assertError(await admin('POST', '/api_keys', {}), 400, 'MissingParameter');
    assertError(await admin('POST', '/api_keys', { name: 'x'.repeat(65) }), 400, 'InvalidParameter');
    for (const [method, path] of [['GET', ''], ['PUT', '/disable'], ['PUT', '/enable'], ['DELETE', '']] as const) {
      assertError(await admin(method, `/api_keys/${'0'.repeat(24)}${path}`), 404, 'APIKeyNotFound');
    }
    assert.equal(await snapshot(), before);

    assert.equal((await admin('DELETE', `/api_keys/${id}`)).status, 204);
    assertError(await keyLogin(), 401, 'AuthError');
    assertError(await admin('GET', `/api_keys/${id}`), 404, 'APIKeyNotFound');
    assertError(await admin('GET', `/users/${created.json.user_id}`), 404, 'UserNotFound');
  });
});

describe("admin API: a user's API keys", () => {
  it('lists the keys a user made (a server user: its key), never a key or its hash; 404 for no such user', async () => {
    const u = await loggedInUser();
    const other = await loggedInUser();
    assert.deepEqual((await admin('GET', `/users/${u.id}/api_keys`)).json, []);
    const made: Record<string, string> = {};
    for (const [who, name] of [[u, 'phone'], [u, 'laptop'], [other, 'elsewhere']] as const) {
      const res = await call('POST', '/api/client/v2.0/auth/api_keys', who.refresh, { name });
      assert.equal(res.status, 201, res.text);
      made[name] = res.json._id;
      secrets.push(res.json.key);
    }
    assert.equal((await call('PUT', `/api/client/v2.0/auth/api_keys/${made.laptop}/disable`, u.refresh)).status, 204);

    const res = await admin('GET', `/users/${u.id}/api_keys`);
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.json.map((k: any) => [k._id, k.name, k.disabled, k.user_id]),
      [
        [made.phone, 'phone', false, u.id],
        [made.laptop, 'laptop', true, u.id],
      ],
    );
    // The shape of the server keys' list: no `key`, and nothing of the stored hash.
    for (const k of res.json) assert.deepEqual(Object.keys(k).sort(), ['_id', 'creation_date', 'disabled', 'name', 'user_id']);
    for (const stored of await server.baste.store.listApiKeys(u.id)) assert.equal(res.text.includes(stored.keyHash), false);
    assert.equal(res.text.includes('elsewhere'), false, "another user's key is not there");

    const server_ = await admin('POST', '/api_keys', { name: 'server-user-key' });
    secrets.push(server_.json.key);
    assert.deepEqual((await admin('GET', `/users/${server_.json.user_id}/api_keys`)).json.map((k: any) => k._id), [server_.json._id]);

    assertError(await admin('GET', `/users/${'0'.repeat(24)}/api_keys`), 404, 'UserNotFound');
    assertError(await admin('GET', '/users/not-an-id/api_keys'), 404, 'UserNotFound');
  });
});

describe('admin API: providers', () => {
  it('shows every provider with its options and the names of its secrets, never a secret', async () => {
    const res = await admin('GET', '/auth_providers');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.map((p: any) => p.type), ['anon-user', 'local-userpass', 'api-key', 'oauth2-google']);
    const google = res.json.find((p: any) => p.type === 'oauth2-google');
    assert.deepEqual(google.secret_config, { clientSecret: 'googleSecret' });
    assert.equal(google.config.clientId, 'google-client-id');
    assert.equal(google.config.clientSecret, '(hidden)');
    assert.equal(res.text.includes(GOOGLE_SECRET), false);
    assert.equal(res.text.includes('inline-legacy-secret'), false);
    const userpass = res.json.find((p: any) => p.type === 'local-userpass');
    assert.equal(userpass.config.emailConfirmationUrl, 'http://app.example/confirm');
    assert.deepEqual(Object.keys(userpass).sort(), ['_id', 'config', 'disabled', 'domain_restrictions', 'metadata_fields', 'name', 'redirect_uris', 'secret_config', 'type']);
  });
});

describe('admin API: audit log', () => {
  it('records who did what to which target, newest first, 50 per page', async () => {
    const u = await loggedInUser();
    await admin('PUT', `/users/${u.id}/disable`);
    await admin('PUT', `/users/${u.id}/enable`);
    const latest = (await admin('GET', '/audit_log')).json;
    assert.deepEqual(
      latest.slice(0, 3).map((e: any) => [e.action, e.target]),
      [
        ['user.enable', u.id],
        ['user.disable', u.id],
        ['user.create', u.id],
      ],
    );
    const entry = latest[0];
    assert.deepEqual(entry.actor, { id: tokenId, name: 'ops team' });
    assert.ok(Math.abs(Date.parse(entry.time) - Date.now()) < 60_000);
    assert.deepEqual(latest[2].details, { email: u.email, provider: 'local-userpass' });
    // Every kind of change is there.
    const actions = new Set<string>();
    let after: string | null = null;
    const ids: string[] = [];
    do {
      const res = await admin('GET', `/audit_log${after ? `?after=${after}` : ''}`);
      assert.ok(res.json.length <= 50);
      res.json.forEach((e: any) => {
        actions.add(e.action);
        ids.push(e._id);
      });
      after = res.headers.get('x-baste-next-after');
    } while (after);
    assert.equal(new Set(ids).size, ids.length, 'no entry twice across pages');
    for (const action of [
      'user.create',
      'user.disable',
      'user.enable',
      'user.logout',
      'user.delete',
      'user_registration.confirm',
      'user_registration.send_confirm',
      'user_registration.delete',
      'api_key.create',
      'api_key.disable',
      'api_key.enable',
      'api_key.delete',
    ]) {
      assert.ok(actions.has(action), `${action} is logged`);
    }
    // 60 more entries: the first page is full and points at the next.
    for (let i = 0; i < 30; i++) {
      await admin('PUT', `/users/${u.id}/logout`);
      await admin('PUT', `/users/${u.id}/enable`);
    }
    const page = await admin('GET', '/audit_log');
    assert.equal(page.json.length, 50);
    assert.equal(page.headers.get('x-baste-next-after'), page.json[49]._id);
    const next = await admin('GET', `/audit_log?after=${page.json[49]._id}`);
    assert.notEqual(next.json[0]._id, page.json[49]._id);
    assert.equal(JSON.stringify(page.json).includes(PASSWORD), false);
  });

  it('says what each target is now, for a link, and null once it is gone', async () => {
    const kept = await loggedInUser();
    const gone = await loggedInUser();
    assert.equal((await admin('DELETE', `/users/${gone.id}`)).status, 204);
    const key = (await admin('POST', '/api_keys', { name: 'audit-kept' })).json;
    const goneKey = (await admin('POST', '/api_keys', { name: 'audit-gone' })).json;
    secrets.push(key.key, goneKey.key);
    assert.equal((await admin('DELETE', `/api_keys/${goneKey._id}`)).status, 204);
    const waiting = await register();
    assert.equal((await admin('POST', `/user_registrations/by_email/${encodeURIComponent(waiting)}/send_confirm`)).status, 204);
    const confirmed = await register();
    assert.equal((await admin('POST', `/user_registrations/by_email/${encodeURIComponent(confirmed)}/confirm`)).status, 204);
    const dropped = await register();
    assert.equal((await admin('DELETE', `/user_registrations/by_email/${encodeURIComponent(dropped)}`)).status, 204);
    assert.equal((await admin('PUT', '/security/refresh_token_expiration', { expiration_time_seconds: 60 * 24 * 3600 })).status, 204);

    const entries = (await admin('GET', '/audit_log')).json as any[];
    const now = (action: string, target: string) => {
      const entry = entries.find((e) => e.action === action && e.target === target);
      assert.ok(entry, `${action} ${target}`);
      return entry.current_target;
    };
    assert.deepEqual(now('user.create', kept.id), { type: 'user', id: kept.id });
    assert.equal(now('user.create', gone.id), null);
    assert.equal(now('user.delete', gone.id), null);
    assert.deepEqual(now('api_key.create', key._id), { type: 'api_key', id: key._id });
    assert.equal(now('api_key.create', goneKey._id), null);
    assert.deepEqual(now('user_registration.send_confirm', waiting), { type: 'user_registration', id: waiting });
    const confirmedUser = entries.find((e) => e.action === 'user_registration.confirm' && e.target === confirmed).details.user_id;
    assert.match(confirmedUser, /^[0-9a-f]{24}$/);
    assert.deepEqual(now('user_registration.confirm', confirmed), { type: 'user', id: confirmedUser }, 'a confirmed registration leads to its user');
    assert.equal(now('user_registration.delete', dropped), null);
    assert.equal(now('security.refresh_token_expiration', server.appId), null, 'the app itself links nowhere');
  });
});

describe('admin API: App Services parity, on the users list', () => {
  it('sorts by _id ascending or descending, filters by status and by several provider types', async () => {
    const store = server.baste.store;
    const victim = await loggedInUser();
    assert.equal((await admin('PUT', `/users/${victim.id}/disable`)).status, 204);
    const all = (await store.listUsers({ limit: 10_000 })).map((u) => u.id);

    const asc = await admin('GET', '/users?sort=_id&desc=false');
    assert.deepEqual(asc.json.map((u: any) => u._id), all.slice(0, 50));
    const desc = await admin('GET', '/users?sort=_id&desc=true');
    const reversed = [...all].reverse();
    assert.deepEqual(desc.json.map((u: any) => u._id), reversed.slice(0, 50));
    // The cursor of a descending page continues downwards.
    const next = desc.headers.get('x-baste-next-after');
    assert.equal(next, reversed[49]);
    assert.deepEqual((await admin('GET', `/users?desc=true&after=${next}`)).json.map((u: any) => u._id), reversed.slice(50, 100));

    const disabled = (await admin('GET', '/users?status=disabled')).json;
    assert.ok(disabled.some((u: any) => u._id === victim.id));
    assert.ok(disabled.every((u: any) => u.disabled === true));
    const enabled = (await admin('GET', `/users?status=enabled&search=${encodeURIComponent(victim.email)}`)).json;
    assert.deepEqual(enabled, []);
    assert.equal((await admin('PUT', `/users/${victim.id}/enable`)).status, 204);
    assert.deepEqual((await admin('GET', `/users?status=enabled&search=${encodeURIComponent(victim.email)}`)).json.map((u: any) => u._id), [victim.id]);

    const typed = (await admin('GET', '/users?provider_types=oauth2-google,local-userpass')).json;
    assert.ok(typed.length > 0);
    assert.ok(typed.every((u: any) => u.identities.some((i: any) => ['oauth2-google', 'local-userpass'].includes(i.provider_type))));
    assert.ok(typed.some((u: any) => u.identities.some((i: any) => i.provider_type === 'local-userpass')));
    assert.ok(typed.some((u: any) => u.identities.some((i: any) => i.provider_type === 'oauth2-google')));
    const repeated = (await admin('GET', '/users?provider_types=oauth2-google&provider_types=local-userpass')).json;
    assert.deepEqual(repeated, typed, 'repeated parameters mean the same as a comma-separated list');
    assert.deepEqual((await admin('GET', '/users?provider_types=custom-token')).json, []);

    const before = await snapshot();
    assertError(await admin('GET', '/users?sort=creation_date'), 400, 'InvalidParameter', /only sort field is '_id'/);
    assertError(await admin('GET', '/users?desc=yes'), 400, 'InvalidParameter', /desc/);
    assertError(await admin('GET', '/users?status=pending'), 400, 'InvalidParameter', /status/);
    assertError(await admin('GET', `/users?provider_types=${Array.from({ length: 20 }, (_, i) => `t${i}`).join(',')}`), 400, 'InvalidParameter');
    assert.equal(await snapshot(), before);
  });
});

describe('admin API: App Services parity, with a confirmation function and custom user data', () => {
  let parity: TestServer;
  let parityToken: string;
  const pbase = () => `/api/admin/v3.0/groups/5f1a2b3c4d5e6f7a8b9c0d1e/apps/${parity.appId}`;
  /** `call` against the parity server. */
  const pcall = async (method: string, path: string, bearer: string | null, body?: unknown): Promise<Answer> => {
    const headers: Record<string, string> = {};
    if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(parity.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, contentType: res.headers.get('content-type'), headers: res.headers, json: text ? JSON.parse(text) : undefined, text };
  };
  const pa = (method: string, path: string, body?: unknown) => pcall(method, pbase() + path, parityToken, body);
  const client = (route: string) => `/api/client/v2.0/app/${parity.appId}/${route}`;

  before(async () => {
    const app: AppConfig = {
      ...appConfig(
        [
          provider('anon-user'),
          provider('local-userpass', {
            autoConfirm: false,
            runConfirmationFunction: true,
            confirmationFunctionName: 'confirm',
            resetPasswordUrl: 'http://app.example/reset',
          }),
        ],
        'parity-app-abcde',
      ),
      dataSources: new Map([['mongodb-atlas', { name: 'mongodb-atlas', type: 'mongodb-atlas', collections: new Map() }]]),
      customUserData: { serviceName: 'mongodb-atlas', database: 'app', collection: 'custom', userIdField: 'user_id', onUserCreationFunctionName: 'onCreate' },
      functions: new Map([
        // Pending at registration; a second run confirms ("never-" stays pending).
        appFunction(
          'confirm',
          `exports = async function({ username }) {
            const runs = context.services.get("mongodb-atlas").db("app").collection("confirm_runs");
            const before = await runs.count({ username });
            await runs.insertOne({ username });
            if (username.startsWith("never-")) return { status: "pending" };
            return { status: before === 0 ? "pending" : "success" };
          };`,
          { runAsSystem: true, private: true },
        ),
        appFunction(
          'onCreate',
          `exports = async function(user) {
            await context.services.get("mongodb-atlas").db("app").collection("custom").insertOne({ user_id: user.id, plan: "gold" });
          };`,
          { runAsSystem: true, private: true },
        ),
      ]),
    };
    parity = await startServer(app, { functions: { timeoutMs: 5000, memoryMb: 64 }, sessions: { settingsReloadMs: 100 } });
    parityToken = (await new AdminTokens(parity.baste.store, Date.now).create('parity')).token;
    secrets.push(parityToken);
  });
  after(async () => {
    await parity?.close();
  });

  it('verify_token decodes a live client access token of this app in the platform shape', async () => {
    const login = await pcall('POST', client('auth/providers/anon-user/login'), null, { options: { device: { deviceId: '0'.repeat(24) } } });
    assert.equal(login.status, 200, login.text);
    secrets.push(login.json.access_token, login.json.refresh_token);
    const claims = decodeJwt(login.json.access_token);
    const res = await pa('POST', '/users/verify_token', { token: login.json.access_token });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.json).sort(), ['custom_user_data', 'device_id', 'domain_id', 'exp', 'iat', 'iss', 'sub']);
    assert.equal(res.json.sub, login.json.user_id);
    assert.equal(res.json.iss, claims.baas_id, 'iss is the session id');
    assert.equal(res.json.domain_id, (await pa('GET', '')).json._id, "the app's 24-hex id");
    assert.equal(res.json.device_id, login.json.device_id);
    assert.equal(res.json.exp, claims.exp);
    assert.equal(res.json.iat, claims.iat);
    assert.ok(Number.isInteger(res.json.exp) && res.json.exp - res.json.iat === 1800);
    assert.equal(res.json.custom_user_data.plan, 'gold');
    assert.equal(res.json.custom_user_data.user_id, login.json.user_id);
  });

  it('verify_token answers "token expired" for an expired one, and a 4xx in the Stitch shape for anything else', async () => {
    const login = await pcall('POST', client('auth/providers/anon-user/login'), null, {});
    const { access_token: access, refresh_token: refresh, user_id: userId } = login.json;
    secrets.push(access, refresh);
    const header = JSON.parse(Buffer.from(access.split('.')[0], 'base64url').toString());
    const key = (await parity.baste.store.listSigningKeys()).find((k) => k.kid === header.kid)!;
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>, secret = Buffer.from(key.secret, 'base64'), kid = key.kid) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid }).sign(secret);
    const payload = decodeJwt(access);

    // Signed with this app's key, but its time is up: the platform's 200 and JSON string.
    const expired = await pa('POST', '/users/verify_token', { token: await sign({ ...payload, iat: now - 3600, exp: now - 1800 }) });
    assert.equal(expired.status, 200, expired.text);
    assert.match(expired.contentType ?? '', /^application\/json/);
    assert.equal(expired.json, 'token expired');

    const before = await snapshot(parity.baste.store);
    const refused: [string, unknown, number, string, RegExp?][] = [
      ['a forged signature', `${access.slice(0, access.lastIndexOf('.'))}.${'A'.repeat(43)}`, 401, 'InvalidSession'],
      ['another key under this kid', await sign(payload, Buffer.alloc(32, 7)), 401, 'InvalidSession'],
      ["another app's key", await sign(payload, Buffer.alloc(32, 7), newObjectIdHex()), 401, 'InvalidSession', /not signed by this app/],
      ["another app's domain, signed here", await sign({ ...payload, baas_domain_id: newObjectIdHex() }), 401, 'InvalidSession', /another app/],
      ['a refresh token', refresh, 401, 'InvalidSession'],
      ['a signed token that is not an access token', await sign({ ...payload, typ: 'refresh' }), 401, 'InvalidSession', /not an access token/],
      ['the admin token', parityToken, 401, 'InvalidSession'],
      ['garbage', 'not.a.jwt', 401, 'InvalidSession'],
      ['an empty token', '', 400, 'InvalidParameter'],
      ['a number', 42, 400, 'InvalidParameter'],
    ];
    for (const [what, token, status, code, text] of refused) {
      const res = await pa('POST', '/users/verify_token', { token });
      assert.equal(res.status, status, `${what}: ${res.text}`);
      assertError(res, status, code, text);
    }
    assertError(await pa('POST', '/users/verify_token', {}), 400, 'MissingParameter');
    assert.equal(await snapshot(parity.baste.store), before);

    // A token whose session was revoked no longer verifies.
    assert.equal((await pa('PUT', `/users/${userId}/logout`)).status, 204);
    assertError(await pa('POST', '/users/verify_token', { token: access }), 401, 'InvalidSession', /session has ended/);
  });

  it('pending_users lists what user_registrations lists; run_confirm re-runs the confirmation function', async () => {
    const email = uniqueEmail('later');
    const never = uniqueEmail('never');
    for (const e of [email, never]) {
      const reg = await pcall('POST', client('auth/providers/local-userpass/register'), null, { email: e, password: PASSWORD });
      assert.equal(reg.status, 201, reg.text);
    }
    const platform = await pa('GET', '/user_registrations/pending_users');
    assert.equal(platform.status, 200);
    assert.deepEqual(platform.json, (await pa('GET', '/user_registrations')).json);
    assert.deepEqual(
      platform.json.map((p: any) => p.login_ids[0].id).filter((id: string) => [email, never].includes(id)).sort(),
      [email, never].sort(),
    );
    const loginAs = (e: string) => pcall('POST', client('auth/providers/local-userpass/login'), null, { username: e, password: PASSWORD });
    assertError(await loginAs(email), 401, 'AuthError');

    // The function said pending at registration; run again, it confirms.
    const rerun = await pa('POST', `/user_registrations/by_email/${encodeURIComponent(email)}/run_confirm`);
    assert.equal(rerun.status, 202, rerun.text);
    assert.equal((await parity.baste.store.findUserpassAccountByEmail(email))?.confirmed, true);
    assert.equal((await loginAs(email)).status, 200);
    // Still pending after a re-run: nothing changes but the function ran.
    assert.equal((await pa('POST', `/user_registrations/by_email/${encodeURIComponent(never)}/run_confirm`)).status, 202);
    assert.equal((await parity.baste.store.findUserpassAccountByEmail(never))?.confirmed, false);

    const before = await snapshot(parity.baste.store);
    assertError(await pa('POST', `/user_registrations/by_email/${encodeURIComponent(email)}/run_confirm`), 400, 'UserAlreadyConfirmed');
    assertError(await pa('POST', '/user_registrations/by_email/nobody%40example.com/run_confirm'), 404, 'UserNotFound');
    assert.equal(await snapshot(parity.baste.store), before);
    const audit = (await pa('GET', '/audit_log')).json;
    assert.ok(audit.some((e: any) => e.action === 'user_registration.run_confirm' && e.target === email));
  });

  it('refresh_token_expiration: 60 days by default, set between 30 minutes and 5 years, applied to new sessions', async () => {
    const store = parity.baste.store;
    assert.deepEqual((await pa('GET', '/security/refresh_token_expiration')).json, { expiration_time_seconds: 60 * 24 * 3600 });
    const sessionLife = async () => {
      const login = await pcall('POST', client('auth/providers/anon-user/login'), null, {});
      secrets.push(login.json.access_token, login.json.refresh_token);
      const [session] = await store.listSessionsOfUser(login.json.user_id);
      return Math.round((session!.expiresAt - session!.createdAt) / 1000);
    };
    assert.equal(await sessionLife(), 60 * 24 * 3600);

    const before = await snapshot(store);
    for (const bad of [1799, 5 * 365 * 86400 + 1, 3600.5, '3600', null, -1]) {
      assertError(await pa('PUT', '/security/refresh_token_expiration', { expiration_time_seconds: bad }), 400, 'InvalidParameter', /30 minutes/);
    }
    assertError(await pa('PUT', '/security/refresh_token_expiration', {}), 400, 'InvalidParameter');
    assert.equal(await snapshot(store), before);

    assert.equal((await pa('PUT', '/security/refresh_token_expiration', { expiration_time_seconds: 1800 })).status, 204);
    assert.deepEqual((await pa('GET', '/security/refresh_token_expiration')).json, { expiration_time_seconds: 1800 });
    assert.equal(await sessionLife(), 1800, 'applied at once on the instance that set it');
    assert.equal(await store.getSetting('refreshTokenExpirationSeconds'), 1800, 'kept in the store');
    assert.equal((await pa('PUT', '/security/refresh_token_expiration', { expiration_time_seconds: 5 * 365 * 86400 })).status, 204);
    assert.equal(await sessionLife(), 5 * 365 * 86400);

    // Set by another instance sharing the store: picked up at the next reload (100 ms here).
    await store.putSetting('refreshTokenExpirationSeconds', 7200);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await sessionLife(), 7200);
    const audit = (await pa('GET', '/audit_log')).json;
    assert.deepEqual(audit.find((e: any) => e.action === 'security.refresh_token_expiration').details, { expiration_time_seconds: 5 * 365 * 86400 });
  });

  it('custom_user_data shows the configuration; an app without it says disabled', async () => {
    assert.deepEqual((await pa('GET', '/custom_user_data')).json, {
      enabled: true,
      mongo_service_name: 'mongodb-atlas',
      database_name: 'app',
      collection_name: 'custom',
      user_id_field: 'user_id',
      on_user_creation_function_name: 'onCreate',
    });
    assert.deepEqual((await admin('GET', '/custom_user_data')).json, { enabled: false });
  });
});

describe('admin API: logging in as realm-cli and Admin API clients do', () => {
  const ADMIN = '/api/admin/v3.0';
  const adminLogin = (body: unknown) => call('POST', `${ADMIN}/auth/providers/mongodb-cloud/login`, null, body);
  const groupPath = (path: string) => `${ADMIN}/groups/5f1a2b3c4d5e6f7a8b9c0d1e/apps/${server.appId}${path}`;

  async function session(apiKey = token) {
    const res = await adminLogin({ username: 'public-key-ignored', apiKey });
    assert.equal(res.status, 200, res.text);
    secrets.push(res.json.access_token, res.json.refresh_token);
    return res.json as { access_token: string; refresh_token: string; user_id: string; device_id: string };
  }

  it('logs in with {username, apiKey}, calls the API with the access token, refreshes it and reads the profile', async () => {
    const s = await session();
    assert.deepEqual(Object.keys(s).sort(), ['access_token', 'device_id', 'refresh_token', 'user_id']);
    assert.equal(s.user_id, tokenId);
    assert.match(s.device_id, /^[0-9a-f]{24}$/);
    const access = decodeJwt(s.access_token);
    assert.equal(access.typ, 'admin_access');
    assert.equal((access.exp as number) - (access.iat as number), 1800);
    assert.equal(decodeJwt(s.refresh_token).typ, 'admin_refresh');

    const users = await call('GET', groupPath('/users'), s.access_token);
    assert.equal(users.status, 200, users.text);
    assert.ok(Array.isArray(users.json));
    assert.equal((await call('GET', `${ADMIN}/apps`, s.access_token)).status, 200);

    const profile = await call('GET', `${ADMIN}/auth/profile`, s.access_token);
    assert.equal(profile.status, 200, profile.text);
    assert.equal(profile.json.user_id, tokenId);
    assert.equal(profile.json.data.name, 'ops team');
    assert.deepEqual(profile.json.identities, [{ id: tokenId, provider_type: 'mongodb-cloud' }]);
    assert.equal((await call('GET', `${ADMIN}/auth/profile`, token)).json.user_id, tokenId, 'the admin token itself works as a bearer too');

    const refreshed = await call('POST', `${ADMIN}/auth/session`, s.refresh_token);
    assert.equal(refreshed.status, 201, refreshed.text);
    assert.deepEqual(Object.keys(refreshed.json), ['access_token']);
    secrets.push(refreshed.json.access_token);
    assert.equal((await call('GET', groupPath('/users'), refreshed.json.access_token)).status, 200);

    // What an operator did through a session is audited under the admin token.
    const created = await call('POST', groupPath('/api_keys'), s.access_token, { name: 'made-through-a-session' });
    assert.equal(created.status, 201, created.text);
    secrets.push(created.json.key);
    const entry = (await admin('GET', '/audit_log')).json.find((e: any) => e.action === 'api_key.create' && e.target === created.json._id);
    assert.deepEqual(entry.actor, { id: tokenId, name: 'ops team' });
    assert.equal((await admin('DELETE', `/api_keys/${created.json._id}`)).status, 204);
  });

  it('refuses a bad login, and each token where the other kind belongs, in the Stitch shape', async () => {
    const s = await session();
    const user = await loggedInUser();
    const before = await snapshot();
    assertError(await adminLogin({ username: 'x', apiKey: `${token.slice(0, -4)}AAAA` }), 401, 'InvalidSession');
    assertError(await adminLogin({ username: 'x', apiKey: user.access }), 401, 'InvalidSession', /admin token/);
    assertError(await adminLogin({ username: 'x' }), 400, 'MissingParameter', /apiKey/);
    assertError(await adminLogin({ apiKey: token }), 400, 'MissingParameter', /username/);
    assertError(await adminLogin({ username: 'x', apiKey: 7 }), 400, 'InvalidParameter');
    assertError(await adminLogin([token]), 400, 'BadRequest');

    // The admin session's refresh route takes its own refresh token only.
    for (const [what, bearer] of [
      ['the admin access token', s.access_token],
      ['the admin token', token],
      ["a user's refresh token", user.refresh],
      ["a user's access token", user.access],
    ] as const) {
      const res = await call('POST', `${ADMIN}/auth/session`, bearer);
      assert.equal(res.status, 401, `${what}: ${res.text}`);
      assertError(res, 401, 'InvalidSession');
    }
    assertError(await call('POST', `${ADMIN}/auth/session`, s.access_token), 401, 'InvalidSession', /incorrect token type/);
    // Admin routes refuse the admin refresh token and client tokens.
    for (const bearer of [s.refresh_token, user.access, user.refresh]) {
      assertError(await call('GET', groupPath('/users'), bearer), 401, 'InvalidSession', /admin token/);
      assertError(await call('GET', `${ADMIN}/auth/profile`, bearer), 401, 'InvalidSession');
    }
    // Client routes refuse both admin session tokens.
    for (const bearer of [s.access_token, s.refresh_token]) {
      assertError(await call('GET', '/api/client/v2.0/auth/profile', bearer), 401, 'InvalidSession');
      assertError(await call('POST', '/api/client/v2.0/auth/session', bearer), 401, 'InvalidSession');
      assertError(await call('DELETE', '/api/client/v2.0/auth/session', bearer), 401, 'InvalidSession');
      assertError(await call('POST', `/api/client/v2.0/app/${server.appId}/functions/call`, bearer, { name: 'f', arguments: [] }), 401, 'InvalidSession');
      assertError(await admin('POST', '/users/verify_token', { token: bearer }), 401, 'InvalidSession');
    }
    assert.equal(await snapshot(), before);
  });

  it('refuses an expired or re-signed admin token, and ends every session of a deleted admin token at once', async () => {
    const tokens = new AdminTokens(server.baste.store, Date.now);
    const other = await tokens.create('short-lived');
    secrets.push(other.token);
    const s = await session(other.token);
    const record = (await server.baste.store.listAdminTokens()).find((t) => t.id === other._id)!;
    const derived = createHmac('sha256', Buffer.from(record.tokenHash, 'hex')).update('baste admin session v1').digest();
    const now = Math.floor(Date.now() / 1000);
    const signed = (claims: Record<string, unknown>, key: Uint8Array = derived) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: `admin:${other._id}` }).sign(key);
    // The same claims under the right key work (the test signs what the server signs)...
    assert.equal((await call('GET', groupPath('/users'), await signed({ typ: 'admin_access', sub: other._id, iat: now, exp: now + 60 }))).status, 200);
    // ...expired, or under another key, they do not.
    assertError(await call('GET', groupPath('/users'), await signed({ typ: 'admin_access', sub: other._id, iat: now - 3600, exp: now - 1 })), 401, 'InvalidSession', /expired/);
    assertError(await call('GET', groupPath('/users'), await signed({ typ: 'admin_access', sub: other._id, iat: now, exp: now + 60 }, Buffer.alloc(32, 1))), 401, 'InvalidSession');
    assertError(await call('POST', `${ADMIN}/auth/session`, await signed({ typ: 'admin_refresh', sub: other._id, iat: now - 7200, exp: now - 1 })), 401, 'InvalidSession', /expired/);

    await tokens.delete(other._id);
    assertError(await call('GET', groupPath('/users'), s.access_token), 401, 'InvalidSession', /revoked/);
    assertError(await call('POST', `${ADMIN}/auth/session`, s.refresh_token), 401, 'InvalidSession', /revoked/);
    assertError(await adminLogin({ username: 'x', apiKey: other.token }), 401, 'InvalidSession');
  });
});

describe('admin API: logs', () => {
  it('writes one line per admin request and never a token, password or key', async () => {
    await new Promise((r) => setTimeout(r, 100));
    const log = logLines.join('');
    assert.ok(logLines.some((l) => l.includes('"path":"/api/admin/v3.0/apps/')));
    for (const secret of secrets) assert.equal(log.includes(secret), false, `a secret reached the log (${secret.slice(0, 6)}…)`);
  });
});
