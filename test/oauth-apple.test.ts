// Sign in with Apple (`oauth2-apple`) against a local server speaking Apple's REST API: id_token
// logins through realm-web and in realm-core's shape, with the Bundle ID and the Services ID both
// accepted, every refusal, the JWK set refetched for an unknown kid; the redirect flow with
// Apple's form_post (the name of the first authorization kept), the ES256 client secret Baste
// signs (verified by the fake's token endpoint), a pasted one, and the Apple token revoked when the
// user is deleted (client route, admin API, `baste users delete`), a failed revocation not failing it.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as Realm from 'realm-web';
import { usersCommand } from '../src/admin/commands.js';
import { AdminTokens } from '../src/admin/tokens.js';
import { argon2Hasher } from '../src/auth/passwords.js';
import { CLIENT_SECRET_TTL_SECONDS } from '../src/auth/providers/oauth2-apple.js';
import { checkProviders, tokenRevokers } from '../src/auth/registry.js';
import { ConfigError } from '../src/errors.js';
import { APPLE_ISSUER, startAppleId, type AppleUser, type FakeAppleId } from './fakes/apple-id.js';
import { APP_REDIRECT, fragmentOf } from './helpers/oauth.js';
import { appConfig, provider, startServer, type TestServer } from './helpers/server.js';
import { request } from './helpers/wire.js';

const APP_ID = 'apple-app-abcde';
const SERVICES_ID = 'com.example.todo.web';
const BUNDLE_ID = 'com.example.todo';

let apple: FakeAppleId;
let server: TestServer;
let n = 0;
const newUser = (extra: Partial<AppleUser> = {}): AppleUser => ({
  sub: `00${process.pid}.${Date.now().toString(16)}${n++}.0123`,
  email: `u${n}@privaterelay.appleid.com`,
  email_verified: 'true',
  is_private_email: 'true',
  firstName: 'Ada',
  lastName: `Lovelace${n}`,
  ...extra,
});

const api = (path: string, s: TestServer = server) => `${s.url}/api/client/v2.0/app/${s.appId}/auth/providers/${path}`;
const post = (path: string, body: unknown, s: TestServer = server) => request('POST', api(path, s), { body });
const profileOf = async (accessToken: string, s: TestServer = server) => (await request('GET', `${s.url}/api/client/v2.0/auth/profile`, { token: accessToken })).json;

/** The provider as exported (`config.clientId`, `secret_config`, `redirect_uris`) plus Baste's key fields. */
const appleProviderConfig = (extra: { config?: Record<string, unknown>; secretConfig?: Record<string, string> } = {}) =>
  provider('oauth2-apple', { clientId: SERVICES_ID, additionalClientIds: [BUNDLE_ID], teamId: apple.teamId, keyId: apple.keyId, ...extra.config }, {
    secretConfig: extra.secretConfig ?? { privateKey: 'appleKey' },
    redirectUris: [APP_REDIRECT],
  });

async function startApple(extra: Parameters<typeof appleProviderConfig>[0] = {}, secrets: [string, string][] = [['appleKey', apple.p8]]) {
  return startServer(
    { ...appConfig([provider('anon-user'), appleProviderConfig(extra)], APP_ID), secrets: new Map(secrets) },
    { appleEndpoints: apple.endpoints(), jwksCooldownMs: 0 },
  );
}

/**
 * The browser's part of the redirect flow without a browser: Baste → Apple's authorize page, whose
 * form posts (form_post, with Apple's Origin) to Baste's callback → the app's page.
 */
async function redirectFlow(s: TestServer, query = `redirect=${encodeURIComponent(APP_REDIRECT)}&state=st4te`) {
  const start = await fetch(api(`oauth2-apple/login?${query}`, s), { redirect: 'manual' });
  assert.equal(start.status, 302, await start.clone().text());
  return atApple(start.headers.get('location')!);
}

/** Apple's authorize page, whose form posts itself (with Apple's Origin) to Baste's callback. */
async function atApple(authorize: string) {
  const page = await fetch(authorize);
  const html = await page.text();
  const action = /<form method="POST" action="([^"]+)"/.exec(html)?.[1];
  assert.ok(action, html);
  const unescape = (v: string) => v.replace(/&#(\d+);/g, (_, c) => String.fromCharCode(Number(c)));
  const fields = [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [unescape(m[1]!), unescape(m[2]!)]);
  const callback = await fetch(unescape(action), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://appleid.apple.com' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
  return { authorize: new URL(authorize), callback, form: Object.fromEntries(fields) as Record<string, string> };
}

async function redirectLogin(s: TestServer = server) {
  const { callback, authorize, form } = await redirectFlow(s);
  assert.equal(callback.status, 303);
  const f = fragmentOf(callback.headers.get('location')!);
  assert.equal(f._stitch_error, undefined, f._stitch_error);
  const [accessToken, refreshToken, userId] = f._baas_ua!.split('$') as [string, string, string];
  return { accessToken, refreshToken, userId, authorize, form };
}

before(async () => {
  apple = await startAppleId({ clientIds: [SERVICES_ID, BUNDLE_ID] });
  server = await startApple();
});
after(async () => {
  await server?.close();
  await apple?.close();
});

describe('Apple id_token logins', () => {
  it('[RW] Credentials.apple(idToken) with the Services ID and with the Bundle ID: one user, Apple’s email facts in the profile', async () => {
    const who = newUser();
    const app = new Realm.App({ id: APP_ID, baseUrl: server.url });
    const web = await app.logIn(Realm.Credentials.apple(await apple.idToken(who, { aud: SERVICES_ID })));
    assert.equal(web.providerType, 'oauth2-apple');
    assert.equal(web.profile.email, who.email);
    assert.deepEqual(web.identities.map((i) => [i.id, i.providerType]), [[who.sub, 'oauth2-apple']]);
    const native = await app.logIn(Realm.Credentials.apple(await apple.idToken(who, { aud: BUNDLE_ID })));
    assert.equal(native.id, web.id);
    const profile = await profileOf(native.accessToken!);
    assert.equal(profile.data.email_verified, true);
    assert.equal(profile.data.is_private_email, true);
    await app.removeUser(native);
  });

  it('the device SDKs’ request (realm-core: {id_token} with options.device) logs in', async () => {
    const who = newUser({ email_verified: true, is_private_email: false });
    const res = await fetch(api('oauth2-apple/login'), {
      method: 'POST',
      headers: { 'content-type': 'application/json;charset=utf-8', accept: 'application/json' },
      body: JSON.stringify({ id_token: await apple.idToken(who, { aud: BUNDLE_ID }), options: { device: { appId: BUNDLE_ID, platform: 'iOS', platformVersion: '17.4', sdk: 'Swift', sdkVersion: '10.54.0', coreVersion: '14.14.0' } } }),
    });
    const json = (await res.json()) as Record<string, string>;
    assert.equal(res.status, 200, JSON.stringify(json));
    for (const key of ['access_token', 'refresh_token', 'user_id', 'device_id']) assert.equal(typeof json[key], 'string');
    assert.equal((await profileOf(json.access_token!)).data.is_private_email, false);
  });

  it('refuses each bad id_token with its own message, and logs nobody in', async () => {
    const who = newUser();
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, Record<string, unknown>, RegExp, number?][] = [
      ['wrong audience', { id_token: await apple.idToken(who, { aud: 'com.someone.else' }) }, /audience is not any of this app's Apple client ids/],
      ['wrong issuer', { id_token: await apple.idToken(who, { iss: 'https://appleid.apple.com.evil.example' }) }, /issuer is not https:\/\/appleid\.apple\.com/],
      ['expired', { id_token: await apple.idToken(who, { exp: now - 300, iat: now - 900 }) }, /id_token has expired/],
      ['bad signature (a key not in the set, known kid)', { id_token: await apple.idToken(who, {}, { foreignKey: true }) }, /signature verification failed/],
      ['unknown kid, not in the set even after a refetch', { id_token: await apple.idToken(who, {}, { foreignKey: true, kid: 'no-such-kid' }) }, /no key in Apple's JWK set matches/],
      ['nonce mismatch', { id_token: await apple.idToken(who, { nonce: 'nonce-a' }), nonce: 'nonce-b' }, /nonce does not match/],
      ['nonce sent, none in the token', { id_token: await apple.idToken(who), nonce: 'nonce-a' }, /nonce does not match/],
      ['issued in the future', { id_token: await apple.idToken(who, { iat: now + 3600, exp: now + 7200 }) }, /future/],
      ['malformed', { id_token: 'a.b.c' }, /malformed/],
      ['no id_token', {}, /needs an 'id_token'/, 400],
      ['not a string', { id_token: 7 }, /id_token must be a non-empty string/, 400],
    ];
    for (const [name, body, message, status = 401] of cases) {
      const res = await post('oauth2-apple/login', body);
      assert.equal(res.status, status, `${name}: ${JSON.stringify(res.json)}`);
      assert.match(res.json.error, message, name);
      assert.equal(typeof res.json.link, 'string');
    }
    // [RW] a refusal rejects the SDK call.
    const app = new Realm.App({ id: APP_ID, baseUrl: server.url });
    await assert.rejects(app.logIn(Realm.Credentials.apple(await apple.idToken(who, { aud: 'com.someone.else' }))), /audience/);
    assert.equal(app.currentUser, null);
  });

  it('accepts the nonce sent as is or as the SHA-256 hex Apple was given (Firebase’s convention)', async () => {
    const who = newUser();
    const plain = await post('oauth2-apple/login', { id_token: await apple.idToken(who, { nonce: 'raw-nonce-1' }), nonce: 'raw-nonce-1' });
    assert.equal(plain.status, 200, JSON.stringify(plain.json));
    const { createHash } = await import('node:crypto');
    const hashed = await post('oauth2-apple/login', { id_token: await apple.idToken(who, { nonce: createHash('sha256').update('raw-nonce-2').digest('hex') }), nonce: 'raw-nonce-2' });
    assert.equal(hashed.status, 200, JSON.stringify(hashed.json));
    assert.equal(hashed.json.user_id, plain.json.user_id);
  });

  it('fetches the JWK set again for an unknown kid (Apple rotated its keys), and only then', async () => {
    const who = newUser();
    assert.equal((await post('oauth2-apple/login', { id_token: await apple.idToken(who) })).status, 200);
    const fetchesBefore = apple.requests.filter((p) => p === '/auth/keys').length;
    assert.equal((await post('oauth2-apple/login', { id_token: await apple.idToken(who) })).status, 200);
    assert.equal(apple.requests.filter((p) => p === '/auth/keys').length, fetchesBefore, 'a known kid is served from the cache');
    await apple.rotateKey();
    const rotated = await post('oauth2-apple/login', { id_token: await apple.idToken(who) });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.json));
    assert.equal(apple.requests.filter((p) => p === '/auth/keys').length, fetchesBefore + 1);
  });
});

describe('Apple redirect flow (form_post)', () => {
  it('asks Apple for name and email with form_post, exchanges the code with a client secret Baste signed, and keeps the first authorization’s name', async () => {
    const who = newUser();
    apple.user = who;
    const secretsBefore = apple.acceptedSecrets.length;
    const first = await redirectLogin();
    // The authorization request as Apple wants it.
    const q = first.authorize.searchParams;
    assert.equal(first.authorize.origin + first.authorize.pathname, apple.endpoints().authorizationEndpoint);
    assert.equal(q.get('client_id'), SERVICES_ID);
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('response_mode'), 'form_post');
    assert.equal(q.get('scope'), 'name email');
    assert.match(first.authorize.search, /scope=name%20email/, 'the space as %20');
    assert.equal(q.get('redirect_uri'), `${server.url}/api/client/v2.0/auth/callback`);
    assert.ok(q.get('nonce'), 'a nonce goes to Apple');
    assert.notEqual(q.get('state'), 'st4te', 'our own state goes to Apple');
    assert.ok(first.form.user, 'Apple sent the name this first time');
    // The client secret the token endpoint verified: ES256, kid, iss = team, sub = Services ID, aud = Apple, short-lived.
    const secret = apple.acceptedSecrets[secretsBefore]!;
    assert.deepEqual(decodeProtectedHeader(secret), { alg: 'ES256', kid: apple.keyId });
    const claims = decodeJwt(secret);
    assert.equal(claims.iss, apple.teamId);
    assert.equal(claims.sub, SERVICES_ID);
    assert.equal(claims.aud, APPLE_ISSUER);
    assert.equal(claims.exp! - claims.iat!, CLIENT_SECRET_TTL_SECONDS);
    assert.ok(CLIENT_SECRET_TTL_SECONDS <= 15_777_000, 'within Apple’s six months');

    const profile = await profileOf(first.accessToken);
    assert.deepEqual(profile.identities.map((i: any) => [i.id, i.provider_type]), [[who.sub, 'oauth2-apple']]);
    assert.equal(profile.data.first_name, who.firstName);
    assert.equal(profile.data.last_name, who.lastName);
    assert.equal(profile.data.name, `${who.firstName} ${who.lastName}`);
    assert.equal(profile.data.email, who.email);
    // Later logins (the flow again, or an id_token) carry no name: the stored one stays.
    const second = await redirectLogin();
    assert.equal(second.form.user, undefined);
    assert.equal(second.userId, first.userId);
    const viaToken = await post('oauth2-apple/login', { id_token: await apple.idToken(who) });
    assert.equal(viaToken.json.user_id, first.userId);
    const later = await profileOf(viaToken.json.access_token);
    assert.equal(later.data.name, `${who.firstName} ${who.lastName}`);
    assert.equal(later.data.first_name, who.firstName);
    // The client secret is reused while it is fresh.
    assert.equal(apple.acceptedSecrets.at(-1), secret);
  });

  it('[RW] logIn(Credentials.apple(redirectUrl)) opens Baste’s login URL for oauth2-apple', async () => {
    let opened = '';
    const env = Realm.getEnvironment();
    Realm.setEnvironment({ ...env, openWindow: (url: string) => ((opened = url), { closed: true, close() {} }) as never });
    try {
      const app = new Realm.App({ id: APP_ID, baseUrl: server.url });
      await assert.rejects(app.logIn(Realm.Credentials.apple(APP_REDIRECT)));
      const u = new URL(opened);
      assert.equal(u.pathname, `/api/client/v2.0/app/${APP_ID}/auth/providers/oauth2-apple/login`);
      assert.equal(u.searchParams.get('redirect'), APP_REDIRECT);
      // That URL, followed as a browser would, ends at the app with a session.
      apple.user = newUser();
      const { callback } = await redirectFlow(server, u.search.slice(1));
      assert.equal(fragmentOf(callback.headers.get('location')!)._baas_state, u.searchParams.get('state'));
    } finally {
      Realm.setEnvironment(env);
    }
  });

  it('a cancelled sign-in, a wrong nonce and a replayed form end at the app with an error (or a JSON error once the state is used)', async () => {
    apple.user = newUser();
    apple.failNextAuthorization('user_cancelled_authorize');
    const cancelled = await redirectFlow(server);
    assert.equal(cancelled.callback.status, 303);
    assert.match(fragmentOf(cancelled.callback.headers.get('location')!)._stitch_error!, /Apple login refused: user_cancelled_authorize/);

    apple.wrongNonceNext = true;
    const nonce = await redirectFlow(server);
    const f = fragmentOf(nonce.callback.headers.get('location')!);
    assert.match(f._baas_error!, /Apple login refused: the id_token 'nonce' claim/);
    assert.equal(f._baas_ua, undefined);

    const ok = await redirectFlow(server);
    assert.equal(ok.callback.status, 303);
    const replay = await fetch(`${server.url}/api/client/v2.0/auth/callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(ok.form).toString(),
      redirect: 'manual',
    });
    assert.equal(replay.status, 400);
    assert.match(((await replay.json()) as Record<string, string>).error!, /unknown, used or expired OAuth state/);
    const notForm = await fetch(`${server.url}/api/client/v2.0/auth/callback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"state":"x"}' });
    assert.equal(notForm.status, 400);
  });

  it('works with a pasted client secret (App Services’ way); an expired one is refused saying what to do', async () => {
    const pasted = await startApple({ config: { teamId: undefined, keyId: undefined }, secretConfig: { clientSecret: 'appleSecret' } }, [['appleSecret', await apple.pastedClientSecret(SERVICES_ID)]]);
    try {
      apple.user = newUser();
      const { userId } = await redirectLogin(pasted);
      assert.match(userId, /^[0-9a-f]{24}$/);
    } finally {
      await pasted.close();
    }
    const old = Math.floor(Date.now() / 1000) - 200 * 86_400;
    const expiredSecret = await apple.pastedClientSecret(SERVICES_ID, { iat: old, expiresIn: 180 * 86_400 });
    const expired = await startApple({ config: { teamId: undefined, keyId: undefined }, secretConfig: { clientSecret: 'appleSecret' } }, [['appleSecret', expiredSecret]]);
    try {
      const { callback } = await redirectFlow(expired);
      const error = fragmentOf(callback.headers.get('location')!)._stitch_error!;
      assert.match(error, /invalid_client/);
      assert.match(error, /a pasted client secret lasts six months at most: set .*config\.teamId/);
    } finally {
      await expired.close();
    }
  });

  it('allowed_request_origins does not refuse Apple’s post to the callback', async () => {
    const strict = await startServer(
      { ...appConfig([appleProviderConfig()], APP_ID), secrets: new Map([['appleKey', apple.p8]]), allowedRequestOrigins: ['http://app.example'] },
      { appleEndpoints: apple.endpoints() },
    );
    try {
      apple.user = newUser();
      const { userId } = await redirectLogin(strict);
      assert.ok(userId, 'logged in');
      // Elsewhere the rule still holds.
      const other = await fetch(api('oauth2-apple/login', strict), { method: 'POST', headers: { origin: 'https://appleid.apple.com', 'content-type': 'application/json' }, body: '{}' });
      assert.equal(other.status, 403);
    } finally {
      await strict.close();
    }
  });
});

describe('Apple token revocation at account deletion', () => {
  it('[RW] app.deleteUser revokes the refresh token of the code exchange', async () => {
    const who = newUser();
    apple.user = who;
    const { accessToken, refreshToken, userId } = await redirectLogin();
    const appleRefresh = apple.refreshTokens.get(who.sub)!;
    assert.ok(appleRefresh, 'Apple issued a refresh token');
    assert.ok(!JSON.stringify(await profileOf(accessToken)).includes(appleRefresh), 'the Apple token is never shown');
    const res = await fetch(`${server.url}/api/client/v2.0/auth/delete`, { method: 'DELETE', headers: { authorization: `Bearer ${accessToken}` } });
    assert.equal(res.status, 204);
    assert.ok(apple.revoked.includes(appleRefresh), 'revoked at Apple');
    assert.equal(await server.baste.store.getUser(userId), null);
    assert.equal((await fetch(`${server.url}/api/client/v2.0/auth/session`, { method: 'POST', headers: { authorization: `Bearer ${refreshToken}` } })).status, 401);
    // [RW] the SDK's own call, for a user who logged in by redirect and then with an id_token.
    const other = newUser();
    apple.user = other;
    await redirectLogin();
    const app = new Realm.App({ id: APP_ID, baseUrl: server.url });
    const user = await app.logIn(Realm.Credentials.apple(await apple.idToken(other)));
    await app.deleteUser(user);
    assert.ok(apple.revoked.includes(apple.refreshTokens.get(other.sub)!), 'revoked at Apple');
  });

  it('link-with-redirect adds Apple to an anonymous user; the token kept then is revoked with the user', async () => {
    const who = newUser();
    apple.user = who;
    const anon = await post('anon-user/login', {});
    const start = await fetch(api(`oauth2-apple/login?link=true&providerRedirectHeader=true&state=lnk&redirect=${encodeURIComponent(APP_REDIRECT)}`), {
      headers: { authorization: `Bearer ${anon.json.access_token}` },
    });
    assert.equal(start.status, 200);
    const { callback } = await atApple(start.headers.get('x-baas-location')!);
    const f = fragmentOf(callback.headers.get('location')!);
    assert.equal(f._baas_link, 'ok', f._baas_error);
    assert.equal(f._baas_ua!.split('$')[2], anon.json.user_id);
    const profile = await profileOf(anon.json.access_token);
    assert.deepEqual(profile.identities.map((i: any) => i.provider_type), ['anon-user', 'oauth2-apple']);
    assert.equal(profile.data.name, `${who.firstName} ${who.lastName}`);
    const res = await fetch(`${server.url}/api/client/v2.0/auth/delete`, { method: 'DELETE', headers: { authorization: `Bearer ${anon.json.access_token}` } });
    assert.equal(res.status, 204);
    assert.ok(apple.revoked.includes(apple.refreshTokens.get(who.sub)!), 'revoked at Apple');
  });

  it('a user who only ever sent id_tokens has nothing to revoke', async () => {
    const who = newUser();
    const login = await post('oauth2-apple/login', { id_token: await apple.idToken(who) });
    const revokedBefore = apple.revoked.length;
    const res = await fetch(`${server.url}/api/client/v2.0/auth/delete`, { method: 'DELETE', headers: { authorization: `Bearer ${login.json.access_token}` } });
    assert.equal(res.status, 204);
    assert.equal(apple.revoked.length, revokedBefore);
  });

  it('the admin API’s delete revokes too; Apple failing does not stop the deletion', async () => {
    const token = (await new AdminTokens(server.baste.store, Date.now).create('apple test')).token;
    const adminDelete = (id: string) =>
      fetch(`${server.url}/api/admin/v3.0/apps/${APP_ID}/users/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    const who = newUser();
    apple.user = who;
    const { userId } = await redirectLogin();
    assert.equal((await adminDelete(userId)).status, 204);
    assert.ok(apple.revoked.includes(apple.refreshTokens.get(who.sub)!), 'revoked at Apple');

    const unlucky = newUser();
    apple.user = unlucky;
    const second = await redirectLogin();
    apple.failRevocations = true;
    try {
      assert.equal((await adminDelete(second.userId)).status, 204);
    } finally {
      apple.failRevocations = false;
    }
    assert.equal(await server.baste.store.getUser(second.userId), null);
    assert.ok(!apple.revoked.includes(apple.refreshTokens.get(unlucky.sub)!), 'Apple was down: nothing revoked');
  });

  it('`baste users delete` revokes as the server does', async () => {
    const who = newUser();
    apple.user = who;
    const { userId } = await redirectLogin();
    const out: string[] = [];
    const io = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => out.push(s) } };
    const app = { ...appConfig([appleProviderConfig()], APP_ID), secrets: new Map([['appleKey', apple.p8]]) };
    const status = await usersCommand('delete', { id: userId }, io, {
      store: server.baste.store,
      app,
      hasher: argon2Hasher(),
      clock: Date.now,
      actor: { id: 'cli', name: 'cli test' },
      revokerOf: await tokenRevokers(app, { appleEndpoints: apple.endpoints() }),
    });
    assert.equal(status, 0, out.join(''));
    assert.ok(apple.revoked.includes(apple.refreshTokens.get(who.sub)!), 'revoked at Apple');
  });
});

describe('Apple configuration', () => {
  const base = (config: Record<string, unknown>, secretConfig: Record<string, string> = {}, secrets: [string, string][] = []) => ({
    ...appConfig([provider('oauth2-apple', config, { secretConfig, redirectUris: [APP_REDIRECT] })]),
    secrets: new Map(secrets),
  });

  it('refuses a provider without clientId, with half the key fields, or with a key that is not the .p8; warns about a missing or expiring secret', async () => {
    await assert.rejects(checkProviders(base({})), (e: unknown) => e instanceof ConfigError && /clientId.*required/.test(e.message));
    await assert.rejects(checkProviders(base({ clientId: SERVICES_ID, teamId: 'T' })), /config\.keyId.*required/);
    await assert.rejects(checkProviders(base({ clientId: SERVICES_ID, teamId: 'T', keyId: 'K' })), /secret_config\.privateKey.*required/);
    await assert.rejects(checkProviders(base({ clientId: SERVICES_ID, teamId: 'T', keyId: 'K' }, { privateKey: 'k' })), /secret 'k' is not provided/);
    await assert.rejects(checkProviders(base({ clientId: SERVICES_ID, teamId: 'T', keyId: 'K' }, { privateKey: 'k' }, [['k', 'not a key']])), /not an ES256 \(P-256\) private key/);
    await assert.rejects(checkProviders(base({ clientId: SERVICES_ID, additionalClientIds: 'x' })), /additionalClientIds/);
    // The .p8 with its newlines written as \n (as in an env file) is fine.
    assert.deepEqual(await checkProviders(base({ clientId: SERVICES_ID, teamId: 'T', keyId: 'K' }, { privateKey: 'k' }, [['k', apple.p8.replace(/\n/g, '\\n')]])), []);
    assert.match((await checkProviders(base({ clientId: SERVICES_ID }))).join('\n'), /no Apple client secret, so only id_token logins work/);
    const soon = await apple.pastedClientSecret(SERVICES_ID, { expiresIn: 5 * 86_400 });
    assert.match((await checkProviders(base({ clientId: SERVICES_ID }, { clientSecret: 's' }, [['s', soon]]))).join('\n'), /pasted Apple client secret expires in 4 days/);
    const gone = await apple.pastedClientSecret(SERVICES_ID, { iat: 1_600_000_000, expiresIn: 86_400 });
    assert.match((await checkProviders(base({ clientId: SERVICES_ID }, { clientSecret: 's' }, [['s', gone]]))).join('\n'), /expired on 2020-09-14/);
  });

  it('without any secret: id_token logins work; the redirect flow is refused before anyone is sent to Apple', async () => {
    const s = await startServer({ ...appConfig([provider('oauth2-apple', { clientId: SERVICES_ID }, { redirectUris: [APP_REDIRECT] })], APP_ID) }, { appleEndpoints: apple.endpoints() });
    try {
      assert.equal((await post('oauth2-apple/login', { id_token: await apple.idToken(newUser()) }, s)).status, 200);
      const start = await fetch(api(`oauth2-apple/login?redirect=${encodeURIComponent(APP_REDIRECT)}&state=x`, s), { redirect: 'manual' });
      assert.equal(start.status, 401);
      assert.match(((await start.json()) as Record<string, string>).error!, /no client secret, so only id_token logins work/);
    } finally {
      await s.close();
    }
  });

  it('Apple’s endpoints are not read from the export: the browser is sent to appleid.apple.com whatever config says', async () => {
    const s = await startServer({
      ...appConfig([appleProviderConfig({ config: { authorizationEndpoint: `${apple.url}/auth/authorize`, tokenEndpoint: `${apple.url}/auth/token` } })], APP_ID),
      secrets: new Map([['appleKey', apple.p8]]),
    });
    try {
      const start = await fetch(api(`oauth2-apple/login?redirect=${encodeURIComponent(APP_REDIRECT)}&state=x`, s), { redirect: 'manual' });
      assert.equal(start.status, 302);
      assert.ok(start.headers.get('location')!.startsWith('https://appleid.apple.com/auth/authorize?'), start.headers.get('location')!);
    } finally {
      await s.close();
    }
  });
});
