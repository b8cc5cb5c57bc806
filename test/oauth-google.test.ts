// Google (`oauth2-google`) against a local OpenID Connect provider: the authCode and id_token
// credentials with realm-web and the Stitch server SDK, metadata, domain restrictions, every
// refusal, the realm-web redirect flow (checklist 83, 85), link-with-redirect (86), callback
// errors (87), the redirect allow-list, and linking across providers.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GoogleCredential, UserPasswordCredential } from 'mongodb-stitch-server-sdk';
import * as Realm from 'realm-web';
import { checkProviders } from '../src/auth/registry.js';
import { ConfigError } from '../src/errors.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { startOidcProvider, type FakeOidcProvider, type OidcUser } from './fakes/oidc-provider.js';
import { APP_REDIRECT, browse, fragmentOf, installRealmPopup } from './helpers/oauth.js';
import { appConfig, autoConfirmUserpass, decodeJwt, provider, startServer, uniqueEmail, type TestServer } from './helpers/server.js';
import { stitchClientFor } from './helpers/stitch.js';
import { assertError, request } from './helpers/wire.js';

// Before any Realm.App exists: the popup is driven in-process.
const popups = installRealmPopup();

const APP_ID = 'google-app-abcde';
const metadataFields = [
  { required: true, name: 'email' },
  { required: false, name: 'name' },
  { required: false, name: 'picture' },
  { required: false, name: 'first_name' },
  { required: false, name: 'last_name' },
];

let idp: FakeOidcProvider;
let server: TestServer;
let n = 0;
const newUser = (extra: Partial<OidcUser> = {}): OidcUser => ({
  sub: `g-${process.pid}-${n++}`,
  email: `u${n}@example.com`,
  email_verified: true,
  name: `User ${n}`,
  given_name: 'User',
  family_name: `${n}`,
  picture: `https://pics.example/${n}.png`,
  ...extra,
});

const callbackUrl = () => `${server.url}/api/client/v2.0/auth/callback`;
const api = (path: string) => `${server.url}/api/client/v2.0/app/${APP_ID}/auth/providers/${path}`;

const post = (path: string, body: unknown, accessToken?: string) => request('POST', api(path), { body, token: accessToken });
const profileOf = async (accessToken: string) => (await request('GET', `${server.url}/api/client/v2.0/auth/profile`, { token: accessToken })).json;
const anonLogin = () => post('anon-user/login', {}).then((r) => r.json);

function stitchClient() {
  return stitchClientFor(server, `google-${Date.now()}-${n++}`);
}

before(async () => {
  idp = await startOidcProvider();
  const google = (name: string, extra: Record<string, unknown> = {}) =>
    provider('oauth2-google', { clientId: idp.clientId, openId: false, ...idp.endpoints() }, {
      name,
      secretConfig: { clientSecret: 'googleSecret' },
      metadataFields,
      redirectUris: [APP_REDIRECT, 'myapp://oauth'],
      ...extra,
    });
  const app = appConfig(
    [provider('anon-user'), autoConfirmUserpass(), google('oauth2-google'), google('google-corp', { domainRestrictions: ['corp.example'] })],
    APP_ID,
  );
  server = await startServer({ ...app, secrets: new Map([['googleSecret', idp.clientSecret]]) });
});
after(async () => {
  await server.close();
  await idp.close();
});

describe('Google credential logins', () => {
  it('[RW] #16 Credentials.google({authCode}): code exchanged, id_token validated, metadata in the profile; the same sub is the same user', async () => {
    const who = newUser();
    const app = new Realm.App({ id: APP_ID, baseUrl: server.url });
    const user = await app.logIn(Realm.Credentials.google({ authCode: idp.issueAuthCode(who, callbackUrl()) }));
    assert.equal(user.providerType, 'oauth2-google');
    assert.equal(user.profile.email, who.email);
    assert.equal(user.profile.name, who.name);
    assert.equal(user.profile.pictureUrl, who.picture);
    assert.equal(user.profile.firstName, 'User');
    assert.equal(user.profile.lastName, who.family_name);
    assert.deepEqual(user.identities.map((i) => [i.id, i.providerType]), [[who.sub, 'oauth2-google']]);
    assert.ok(idp.requests.includes('/token'));
    // The same Google account through the id_token credential: the same user.
    const again = await app.logIn(Realm.Credentials.google({ idToken: await idp.idToken(who) }));
    assert.equal(again.id, user.id);
    await app.removeUser(again);
  });

  it('[S] #16 GoogleCredential(authCode) logs in; profile data and provider type', async () => {
    const who = newUser();
    const client = stitchClient();
    try {
      const user = await client.auth.loginWithCredential(new GoogleCredential(idp.issueAuthCode(who, callbackUrl())));
      assert.equal(user.loggedInProviderType, 'oauth2-google');
      assert.equal(user.profile.email, who.email);
      assert.equal(user.profile.name, who.name);
      assert.deepEqual(user.identities.map((i) => i.providerType), ['oauth2-google']);
    } finally {
      client.close();
    }
  });

  it('fills metadata from userinfo when the id_token lacks it, and logs in by userinfo alone without an id_token', async () => {
    const who = newUser();
    idp.profileInIdToken = false;
    try {
      const res = await post('oauth2-google/login', { authCode: idp.issueAuthCode(who, callbackUrl()) });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      const profile = await profileOf(res.json.access_token);
      assert.equal(profile.data.email, who.email);
      assert.equal(profile.data.first_name, 'User');
      assert.ok(idp.requests.includes('/userinfo'));
    } finally {
      idp.profileInIdToken = true;
    }
    const noOpenId = await post('oauth2-google/login', { authCode: idp.issueAuthCode(who, callbackUrl(), { scope: 'email profile' }) });
    assert.equal(noOpenId.status, 200, JSON.stringify(noOpenId.json));
    assert.deepEqual((await profileOf(noOpenId.json.access_token)).identities.map((i: any) => i.id), [who.sub]);
  });

  it('refuses each bad credential with its own message', async () => {
    const who = newUser();
    const now = Math.floor(Date.now() / 1000);
    const used = idp.issueAuthCode(who, callbackUrl());
    assert.equal((await post('oauth2-google/login', { authCode: used })).status, 200);
    const cases: [string, Record<string, unknown>, RegExp, number?][] = [
      ['expired id_token', { id_token: await idp.idToken(who, { exp: now - 120, iat: now - 3600 }) }, /id_token has expired/],
      ['foreign audience', { id_token: await idp.idToken(who, { aud: 'someone-elses-client-id' }) }, /audience is not this app's Google client id/],
      ['wrong issuer', { id_token: await idp.idToken(who, { iss: 'https://evil.example' }) }, /issuer is not/],
      ['signed by another key', { id_token: await idp.idToken(who, {}, { foreignKey: true }) }, /signature verification failed/],
      ['HS256 with the client secret', { id_token: await idp.idToken(who, {}, { alg: 'HS256' }) }, /not signed with RS256/],
      ['issued in the future', { id_token: await idp.idToken(who, { iat: now + 3600, exp: now + 7200 }) }, /future/],
      ['malformed id_token', { id_token: 'not.a.jwt' }, /malformed/],
      ['replayed authCode', { authCode: used }, /invalid_grant/],
      ['unknown authCode', { authCode: 'nope' }, /invalid_grant/],
      ['authCode for another redirect_uri', { authCode: idp.issueAuthCode(who, 'https://elsewhere.example/cb') }, /redirect_uri_mismatch/],
      ['required email missing', { id_token: await idp.idToken({ sub: 'no-email' }) }, /required metadata field 'email' is missing/],
      ['no credential', {}, /needs an 'authCode' or an 'id_token'/, 400],
      ['not a string', { authCode: 42 }, /authCode must be a non-empty string/, 400],
      ['too long', { id_token: 'x'.repeat(20_000) }, /longer than/, 400],
    ];
    for (const [name, body, message, status = 401] of cases) {
      const res = await post('oauth2-google/login', body);
      assert.equal(res.status, status, `${name}: ${JSON.stringify(res.json)}`);
      assert.match(res.json.error, message, name);
      assert.equal(typeof res.json.error_code, 'string');
    }
  });

  it('[S] a refused credential rejects the SDK call with the server message', async () => {
    const client = stitchClient();
    try {
      await assert.rejects(client.auth.loginWithCredential(new GoogleCredential('bogus-code')), /invalid_grant/);
      assert.equal(client.auth.isLoggedIn, false);
    } finally {
      client.close();
    }
  });

  it('enforces domain_restrictions on the (verified) email domain', async () => {
    const outsider = await post('google-corp/login', { id_token: await idp.idToken(newUser()) });
    assertError(outsider, 403, 'DomainNotAllowed');
    assert.match(outsider.json.error, /email domain 'example.com' is not in domain_restrictions/);
    const unverified = await post('google-corp/login', { id_token: await idp.idToken(newUser({ email: 'x@corp.example', email_verified: false })) });
    assert.equal(unverified.status, 403);
    assert.match(unverified.json.error, /not verified/);
    const insider = newUser({ email: 'Bob@CORP.example' });
    const ok = await post('google-corp/login', { authCode: idp.issueAuthCode(insider, callbackUrl()) });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    // [S] with a provider name other than the type.
    const client = stitchClient();
    try {
      await assert.rejects(client.auth.loginWithCredential(new GoogleCredential(idp.issueAuthCode(newUser(), callbackUrl()), 'google-corp')), /domain_restrictions/);
      const user = await client.auth.loginWithCredential(new GoogleCredential(idp.issueAuthCode(insider, callbackUrl()), 'google-corp'));
      assert.equal(user.id, ok.json.user_id);
      assert.equal(user.loggedInProviderName, 'google-corp');
    } finally {
      client.close();
    }
  });
});

describe('Google redirect flow', () => {
  it('[RW] #83 #85 logIn(Credentials.google({redirectUrl})) follows Baste → provider → callback, and the fragment carries both key sets', async () => {
    const who = newUser();
    idp.user = who;
    const app = new Realm.App({ id: APP_ID, baseUrl: server.url });
    const before = popups.length;
    const user = await app.logIn(Realm.Credentials.google({ redirectUrl: APP_REDIRECT }));
    assert.equal(user.providerType, 'oauth2-google');
    assert.equal(user.profile.email, who.email);
    assert.deepEqual(user.identities.map((i) => i.id), [who.sub]);
    const popup = popups[before]!;
    const opened = new URL(popup.opened);
    assert.equal(opened.pathname, `/api/client/v2.0/app/${APP_ID}/auth/providers/oauth2-google/login`);
    const clientState = opened.searchParams.get('state')!;
    assert.match(clientState, /^[a-z]{12}$/);
    assert.equal(popup.result.visited.length, 3, 'Baste login → provider → Baste callback');
    const f = popup.fragment!;
    assert.equal(f._stitch_state, clientState);
    assert.equal(f._baas_state, clientState);
    assert.equal(f._stitch_client_app_id, APP_ID);
    assert.equal(f._baas_client_app_id, APP_ID);
    assert.equal(f._stitch_ua, f._baas_ua);
    const parts = f._stitch_ua!.split('$');
    assert.equal(parts.length, 4);
    assert.equal(parts[2], user.id);
    assert.match(parts[3]!, /^[0-9a-f]{24}$/);
    assert.equal(decodeJwt(parts[0]!).sub, user.id);
    assert.equal(f._stitch_link, undefined);
    assert.equal(f._stitch_error, undefined);
    // The refresh token of the fragment is a working one.
    await user.refreshAccessToken();
    // The provider was asked for the right things: our callback, S256 PKCE, a nonce, the scopes metadata needs.
    const authorize = new URL(popup.result.visited[1]!);
    assert.equal(authorize.searchParams.get('redirect_uri'), callbackUrl());
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(authorize.searchParams.get('nonce'));
    assert.notEqual(authorize.searchParams.get('state'), clientState, 'our own state goes to the provider');
    assert.deepEqual(authorize.searchParams.get('scope')!.split(' ').sort(), ['email', 'openid', 'profile']);
    await app.removeUser(user);
  });

  it('[RW] #87 a provider error comes back as _stitch_error/_baas_error and the login rejects', async () => {
    idp.failNextAuthorization('access_denied');
    const app = new Realm.App({ id: APP_ID, baseUrl: server.url });
    const before = popups.length;
    await assert.rejects(app.logIn(Realm.Credentials.google({ redirectUrl: APP_REDIRECT })), /Failed to decode 'authInfo'/);
    const f = popups[before]!.fragment!;
    assert.match(f._stitch_error!, /Google login refused: access_denied/);
    assert.equal(f._baas_error, f._stitch_error);
    assert.equal(f._stitch_client_app_id, APP_ID);
    assert.ok(f._baas_state);
    assert.equal(f._stitch_ua, undefined);
  });

  it('refuses a redirect that is not listed in redirect_uris, and never redirects there', async () => {
    for (const redirect of ['http://evil.example/', `${APP_REDIRECT}x`, `${APP_REDIRECT}/../evil`, 'HTTP://APP.EXAMPLE/auth/done', '']) {
      const res = await fetch(api(`oauth2-google/login?redirect=${encodeURIComponent(redirect)}&state=abc`), { redirect: 'manual' });
      assert.equal(res.status, 400, redirect);
      assert.equal(res.headers.get('location'), null);
      assert.equal(res.headers.get('content-type'), 'application/json');
      const body = (await res.json()) as Record<string, string>;
      assert.match(body.error!, redirect ? /is not listed in redirect_uris of provider 'oauth2-google'/ : /'redirect' query parameter is required/);
    }
    const noState = await fetch(api(`oauth2-google/login?redirect=${encodeURIComponent(APP_REDIRECT)}`), { redirect: 'manual' });
    assert.equal(noState.status, 400);
    // A custom scheme listed for a mobile app is fine.
    const mobile = await fetch(api(`oauth2-google/login?redirect=${encodeURIComponent('myapp://oauth')}&state=abc`), { redirect: 'manual' });
    assert.equal(mobile.status, 302);
    assert.ok(mobile.headers.get('location')!.startsWith(`${idp.url}/authorize?`));
    // Providers without a redirect flow say so.
    const anon = await fetch(api(`anon-user/login?redirect=${encodeURIComponent(APP_REDIRECT)}&state=abc`), { redirect: 'manual' });
    assert.equal(anon.status, 400);
    const unknown = await fetch(api(`nope/login?redirect=${encodeURIComponent(APP_REDIRECT)}&state=abc`), { redirect: 'manual' });
    assert.equal(unknown.status, 404);
  });

  it('a state works once, and an unknown state is a JSON error (there is nowhere safe to redirect)', async () => {
    idp.user = newUser();
    const start = await fetch(api(`oauth2-google/login?redirect=${encodeURIComponent(APP_REDIRECT)}&state=once`), { redirect: 'manual' });
    const authorize = await fetch(start.headers.get('location')!, { redirect: 'manual' });
    const callback = authorize.headers.get('location')!;
    // A HEAD (link preview, prefetch) neither finishes the flow nor uses the state up.
    const head = await fetch(callback, { method: 'HEAD', redirect: 'manual' });
    assert.notEqual(head.status, 302);
    const first = await fetch(callback, { redirect: 'manual' });
    assert.equal(first.status, 302);
    assert.ok(fragmentOf(first.headers.get('location')!)._stitch_ua);
    assert.equal(first.headers.get('cache-control'), 'no-store');
    const replay = await fetch(callback, { redirect: 'manual' });
    assert.equal(replay.status, 400);
    assert.match(((await replay.json()) as { error: string }).error, /unknown, used or expired OAuth state/);
    const forged = await fetch(`${callbackUrl()}?code=x&state=made-up`, { redirect: 'manual' });
    assert.equal(forged.status, 400);
    const none = await fetch(`${callbackUrl()}?code=x`, { redirect: 'manual' });
    assert.equal(none.status, 400);
  });

  it('the device of the redirect flow is kept (the fragment device id is the one the client sent)', async () => {
    idp.user = newUser();
    const deviceId = 'abcdefabcdefabcdefabcdef';
    const device = Buffer.from(JSON.stringify({ deviceId, platform: 'chrome', sdkVersion: '4.9.0' })).toString('base64');
    const result = await browse(api(`oauth2-google/login?redirect=${encodeURIComponent(APP_REDIRECT)}&state=dev&device=${encodeURIComponent(device)}`));
    assert.equal(fragmentOf(result.location!)._stitch_ua!.split('$')[3], deviceId);
  });
});

describe('Google redirect flow across instances', () => {
  it('a flow started on one instance finishes on another sharing the store (the state lives in the store)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baste-oauth-shared-'));
    const file = join(dir, 'shared.sqlite');
    const app = {
      ...appConfig([provider('oauth2-google', { clientId: idp.clientId, ...idp.endpoints() }, { secretConfig: { clientSecret: 'g' }, redirectUris: [APP_REDIRECT] })], APP_ID),
      secrets: new Map([['g', idp.clientSecret]]),
    };
    const a = await startServer(app, { store: openSqliteStore(file) });
    const b = await startServer(app, { store: openSqliteStore(file) });
    try {
      const who = newUser();
      idp.user = who;
      const start = await fetch(`${a.url}/api/client/v2.0/app/${APP_ID}/auth/providers/oauth2-google/login?redirect=${encodeURIComponent(APP_REDIRECT)}&state=shared`, { redirect: 'manual' });
      const authorize = await fetch(start.headers.get('location')!, { redirect: 'manual' });
      const callback = new URL(authorize.headers.get('location')!);
      assert.equal(callback.origin, a.url);
      // The load balancer sends the provider's callback to the other instance.
      const atB = await fetch(`${b.url}${callback.pathname}${callback.search}`, { redirect: 'manual' });
      assert.equal(atB.status, 302);
      const f = fragmentOf(atB.headers.get('location')!);
      assert.equal(f._baas_state, 'shared');
      const [access] = f._baas_ua!.split('$');
      const profile = (await (await fetch(`${a.url}/api/client/v2.0/auth/profile`, { headers: { authorization: `Bearer ${access}` } })).json()) as Record<string, any>;
      assert.deepEqual(profile.identities.map((i: any) => i.id), [who.sub]);
    } finally {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Google redirect flow state lifetime', () => {
  it('a state older than 10 minutes is refused at the callback', async () => {
    let now = Date.now();
    const app = {
      ...appConfig([provider('oauth2-google', { clientId: idp.clientId, ...idp.endpoints() }, { secretConfig: { clientSecret: 'g' }, redirectUris: [APP_REDIRECT] })], APP_ID),
      secrets: new Map([['g', idp.clientSecret]]),
    };
    const s = await startServer(app, { clock: () => now });
    try {
      const start = await fetch(`${s.url}/api/client/v2.0/app/${APP_ID}/auth/providers/oauth2-google/login?redirect=${encodeURIComponent(APP_REDIRECT)}&state=late`, { redirect: 'manual' });
      const callback = (await fetch(start.headers.get('location')!, { redirect: 'manual' })).headers.get('location')!;
      now += 10 * 60 * 1000 + 1;
      const res = await fetch(callback, { redirect: 'manual' });
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as Record<string, string>).error!, /expired/);
    } finally {
      await s.close();
    }
  });
});

describe('linking Google', () => {
  it('[RW] #41 links Google (id_token) into an anonymous user: same id, both identities; a later Google login finds that user', async () => {
    const who = newUser();
    const app = new Realm.App({ id: APP_ID, baseUrl: server.url });
    const anon = await app.logIn(Realm.Credentials.anonymous(false));
    await anon.linkCredentials(Realm.Credentials.google({ idToken: await idp.idToken(who) }));
    assert.deepEqual(anon.identities.map((i) => i.providerType), ['anon-user', 'oauth2-google']);
    assert.equal(anon.profile.email, who.email);
    const later = await post('oauth2-google/login', { authCode: idp.issueAuthCode(who, callbackUrl()) });
    assert.equal(later.json.user_id, anon.id);
    await app.removeUser(anon);
  });

  it('[S] links Google (authCode) into an email/password user; later Google login → the same user', async () => {
    const email = uniqueEmail('gl');
    await fetch(api('local-userpass/register'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'password1' }) });
    const who = newUser();
    const client = stitchClient();
    try {
      const user = await client.auth.loginWithCredential(new UserPasswordCredential(email, 'password1'));
      const linked = await user.linkWithCredential(new GoogleCredential(idp.issueAuthCode(who, callbackUrl())));
      assert.equal(linked.id, user.id);
      assert.deepEqual(linked.identities.map((i) => i.providerType), ['local-userpass', 'oauth2-google']);
      const again = await client.auth.loginWithCredential(new GoogleCredential(idp.issueAuthCode(who, callbackUrl())));
      assert.equal(again.id, user.id);
    } finally {
      client.close();
    }
  });

  it('#43 refuses to link a Google identity that belongs to another user, and changes nothing', async () => {
    const who = newUser();
    const owner = await post('oauth2-google/login', { id_token: await idp.idToken(who) });
    assert.equal(owner.status, 200);
    const anon = await anonLogin();
    const res = await post('oauth2-google/login?link=true', { id_token: await idp.idToken(who) }, anon.access_token);
    assertError(res, 409, 'IdentityAlreadyExists');
    const profile = await profileOf(anon.access_token);
    assert.deepEqual(profile.identities.map((i: any) => i.provider_type), ['anon-user']);
    assert.deepEqual((await profileOf(owner.json.access_token)).identities.map((i: any) => i.id), [who.sub]);
    // [RW] the SDK call rejects and the user stays logged in.
    const app = new Realm.App({ id: APP_ID, baseUrl: server.url });
    const rwAnon = await app.logIn(Realm.Credentials.anonymous(false));
    await assert.rejects(rwAnon.linkCredentials(Realm.Credentials.google({ idToken: await idp.idToken(who) })), /already exists/);
    assert.equal(rwAnon.isLoggedIn, true);
    await app.removeUser(rwAnon);
  });

  it('[RW] #86 link-with-redirect: 200 with X-Stitch-Location and X-BaaS-Location, then the callback links into the same user', async () => {
    const who = newUser();
    idp.user = who;
    const app = new Realm.App({ id: APP_ID, baseUrl: server.url });
    const anon = await app.logIn(Realm.Credentials.anonymous(false));
    // The raw exchange first: both headers, the provider's URL, no redirect status.
    const raw = await fetch(api(`oauth2-google/login?link=true&providerRedirectHeader=true&state=rawlink&redirect=${encodeURIComponent(APP_REDIRECT)}`), {
      headers: { authorization: `Bearer ${anon.accessToken}`, origin: 'http://app.example' },
    });
    assert.equal(raw.status, 200);
    const stitchLocation = raw.headers.get('x-stitch-location');
    assert.ok(stitchLocation?.startsWith(`${idp.url}/authorize?`));
    assert.equal(raw.headers.get('x-baas-location'), stitchLocation);
    assert.equal(raw.headers.get('access-control-allow-origin'), 'http://app.example');
    assert.equal(raw.headers.get('access-control-allow-credentials'), 'true');
    assert.match(raw.headers.get('access-control-expose-headers') ?? '', /X-BaaS-Location/i);
    assert.match(raw.headers.get('access-control-expose-headers') ?? '', /X-Stitch-Location/i);
    // Without the access token, no link flow starts.
    const anonymous = await fetch(api(`oauth2-google/login?link=true&providerRedirectHeader=true&state=x&redirect=${encodeURIComponent(APP_REDIRECT)}`));
    assert.equal(anonymous.status, 401);

    const before = popups.length;
    await anon.linkCredentials(Realm.Credentials.google({ redirectUrl: APP_REDIRECT }));
    assert.deepEqual(anon.identities.map((i) => i.providerType), ['anon-user', 'oauth2-google']);
    const f = popups[before]!.fragment!;
    assert.equal(f._baas_link, 'ok');
    assert.equal(f._stitch_link, 'ok');
    assert.equal(f._baas_ua!.split('$')[2], anon.id);
    assert.ok(popups[before]!.opened.startsWith(`${idp.url}/authorize?`), 'realm-web opened the X-BaaS-Location URL');
    // Both the old and the new session of the user still work.
    await anon.refreshAccessToken();
    const later = await post('oauth2-google/login', { id_token: await idp.idToken(who) });
    assert.equal(later.json.user_id, anon.id);
    await app.removeUser(anon);
  });

  it('link-with-redirect of an identity owned by another user ends in an error fragment; nothing changes', async () => {
    const who = newUser();
    const owner = await post('oauth2-google/login', { id_token: await idp.idToken(who) });
    idp.user = who;
    const anon = await anonLogin();
    const start = await fetch(api(`oauth2-google/login?link=true&providerRedirectHeader=true&state=taken&redirect=${encodeURIComponent(APP_REDIRECT)}`), {
      headers: { authorization: `Bearer ${anon.access_token}` },
    });
    const result = await browse(start.headers.get('x-baas-location')!);
    const f = fragmentOf(result.location!);
    assert.match(f._stitch_error!, /already exists/);
    assert.equal(f._stitch_state, 'taken');
    assert.equal(f._stitch_ua, undefined);
    assert.deepEqual((await profileOf(anon.access_token)).identities.map((i: any) => i.provider_type), ['anon-user']);
    assert.deepEqual((await profileOf(owner.json.access_token)).identities.length, 1);
  });
});

describe('Google configuration', () => {
  it('refuses a provider without clientId, warns about one without its secret, refuses one with a bad endpoint URL or redirect URI', async () => {
    const base = (config: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      ({ ...appConfig([provider('oauth2-google', config, { secretConfig: { clientSecret: 's' }, ...extra })]), secrets: new Map([['s', 'v']]) });
    await assert.rejects(checkProviders(base({})), (e: unknown) => e instanceof ConfigError && /clientId/.test(e.message));
    // id_token logins need no secret (exports often have none): a warning, not a refusal.
    assert.match((await checkProviders({ ...base({ clientId: 'c' }), secrets: new Map() })).join('\n'), /no client secret.*provide secret 's'/);
    assert.match((await checkProviders(base({ clientId: 'c' }, { secretConfig: {} }))).join('\n'), /no client secret.*secret_config\.clientSecret/);
    await assert.rejects(checkProviders(base({ clientId: 'c', tokenEndpoint: 'ftp://x' })), /tokenEndpoint.*http\(s\) URL/);
    await assert.rejects(checkProviders(base({ clientId: 'c' }, { redirectUris: ['javascript:alert(1)'] })), /not allowed/);
    assert.deepEqual(await checkProviders(base({ clientId: 'c' }, { redirectUris: [APP_REDIRECT] })), []);
  });

  it('without a client secret (as many exports are): id_token logins work, authCode logins are refused saying why', async () => {
    const s = await startServer(appConfig([provider('oauth2-google', { clientId: idp.clientId, openId: false, ...idp.endpoints() }, { redirectUris: [APP_REDIRECT] })], APP_ID));
    try {
      const login = async (body: unknown) => {
        const res = await fetch(`${s.url}/api/client/v2.0/app/${APP_ID}/auth/providers/oauth2-google/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        return { status: res.status, json: (await res.json()) as Record<string, string> };
      };
      const ok = await login({ id_token: await idp.idToken(newUser()) });
      assert.equal(ok.status, 200);
      assert.ok(ok.json.access_token);
      const code = await login({ authCode: 'x' });
      assert.equal(code.status, 401);
      assert.match(code.json.error!, /no client secret, so only id_token logins work/);
      const redirect = await fetch(`${s.url}/api/client/v2.0/app/${APP_ID}/auth/providers/oauth2-google/login?redirect=${encodeURIComponent(APP_REDIRECT)}&state=abc`, { redirect: 'manual' });
      // No user is sent to Google on a flow that cannot finish.
      assert.ok(!(redirect.headers.get('location') ?? '').startsWith(idp.endpoints().authorizationEndpoint), redirect.headers.get('location') ?? '');
      assert.match(decodeURIComponent(redirect.headers.get('location') ?? (await redirect.text())), /no client secret/);
    } finally {
      await s.close();
    }
  });

  it('an unreachable token endpoint is a clear 502, not a hang', async () => {
    const dead = await startOidcProvider();
    const endpoints = dead.endpoints();
    await dead.close();
    const s = await startServer(
      { ...appConfig([provider('oauth2-google', { clientId: 'c', ...endpoints }, { secretConfig: { clientSecret: 's' } })], APP_ID), secrets: new Map([['s', 'v']]) },
      { oauthTimeoutMs: 2000 },
    );
    try {
      const login = (body: unknown) => request('POST', `${s.url}/api/client/v2.0/app/${APP_ID}/auth/providers/oauth2-google/login`, { body });
      assertError(await login({ authCode: 'x' }), 502, 'OAuthProviderUnavailable', /Google token endpoint could not be reached/);
      const idToken = await login({ id_token: await idp.idToken(newUser(), { aud: 'c', iss: endpoints.issuer }) });
      assertError(idToken, 502, 'JWKSUnavailable', /Google's JWK set could not be fetched/);
    } finally {
      await s.close();
    }
  });
});
