// Facebook (`oauth2-facebook`) against a local Graph API double: the accessToken credential with
// realm-web and the Stitch server SDK, metadata, domain restrictions, every refusal, the
// realm-web redirect flow (83, 85), link-with-redirect (86), callback errors (87), and linking.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FacebookCredential, UserPasswordCredential } from 'mongodb-stitch-server-sdk';
import * as Realm from 'realm-web';
import { startGraphApi, type FacebookUser, type FakeGraphApi } from './fakes/graph-api.js';
import { APP_REDIRECT, browse, fragmentOf, installRealmPopup } from './helpers/oauth.js';
import { appConfig, autoConfirmUserpass, provider, startServer, uniqueEmail, type TestServer } from './helpers/server.js';
import { stitchClientFor } from './helpers/stitch.js';
import { assertError, request } from './helpers/wire.js';

const popups = installRealmPopup();

const APP_ID = 'facebook-app-abcde';
const metadataFields = [
  { required: true, name: 'email' },
  { required: false, name: 'name' },
  { required: false, name: 'picture' },
  { required: false, name: 'first_name' },
  { required: false, name: 'last_name' },
];

let graph: FakeGraphApi;
let server: TestServer;
let n = 0;
const newUser = (extra: Partial<FacebookUser> = {}): FacebookUser => ({
  id: `${Date.now()}${n++}`,
  name: `Face ${n}`,
  email: `f${n}@example.com`,
  first_name: 'Face',
  last_name: `${n}`,
  picture: `https://pics.example/f${n}.jpg`,
  ...extra,
});
const api = (path: string) => `${server.url}/api/client/v2.0/app/${APP_ID}/auth/providers/${path}`;

const post = (path: string, body: unknown, accessToken?: string) => request('POST', api(path), { body, token: accessToken });
const profileOf = async (accessToken: string) => (await request('GET', `${server.url}/api/client/v2.0/auth/profile`, { token: accessToken })).json;

function stitchClient() {
  return stitchClientFor(server, `fb-${Date.now()}-${n++}`);
}

before(async () => {
  graph = await startGraphApi();
  const facebook = (name: string, extra: Record<string, unknown> = {}, secret = 'fbSecret') =>
    provider('oauth2-facebook', { clientId: graph.appId, ...graph.endpoints() }, {
      name,
      secretConfig: { clientSecret: secret },
      metadataFields,
      redirectUris: [APP_REDIRECT],
      ...extra,
    });
  const app = appConfig(
    [
      provider('anon-user'),
      autoConfirmUserpass(),
      facebook('oauth2-facebook'),
      facebook('facebook-corp', { domainRestrictions: ['corp.example'] }),
      facebook('facebook-misconfigured', {}, 'wrongSecret'),
    ],
    APP_ID,
  );
  server = await startServer({ ...app, secrets: new Map([['fbSecret', graph.appSecret], ['wrongSecret', 'not-the-secret']]) });
});
after(async () => {
  await server.close();
  await graph.close();
});

describe('Facebook credential logins', () => {
  it('[RW] #17 Credentials.facebook(token): checked with /debug_token and /me, metadata in the profile; the same Facebook user is the same user', async () => {
    const who = newUser();
    const app = new Realm.App({ id: APP_ID, baseUrl: server.url });
    const before = graph.requests.length;
    const user = await app.logIn(Realm.Credentials.facebook(graph.userToken(who)));
    assert.deepEqual(graph.requests.slice(before), ['/debug_token', '/me']);
    assert.equal(user.providerType, 'oauth2-facebook');
    assert.equal(user.profile.email, who.email);
    assert.equal(user.profile.name, who.name);
    assert.equal(user.profile.pictureUrl, who.picture, 'the picture object becomes its URL');
    assert.equal(user.profile.firstName, 'Face');
    assert.equal(user.profile.lastName, who.last_name);
    assert.deepEqual(user.identities.map((i) => [i.id, i.providerType]), [[who.id, 'oauth2-facebook']]);
    const again = await post('oauth2-facebook/login', { accessToken: graph.userToken(who) });
    assert.equal(again.json.user_id, user.id);
    await app.removeUser(user);
  });

  it('[S] #17 FacebookCredential logs in; a token of another app is rejected', async () => {
    const who = newUser();
    const client = stitchClient();
    try {
      const user = await client.auth.loginWithCredential(new FacebookCredential(graph.userToken(who)));
      assert.equal(user.loggedInProviderType, 'oauth2-facebook');
      assert.equal(user.profile.email, who.email);
      await assert.rejects(
        client.auth.loginWithCredential(new FacebookCredential(graph.userToken(newUser(), { appId: '999' }))),
        /issued for another Facebook app/,
      );
    } finally {
      client.close();
    }
  });

  it('refuses each bad credential with its own message', async () => {
    const cases: [string, string, Record<string, unknown>, RegExp, number?][] = [
      ['unknown token', 'oauth2-facebook', { accessToken: 'EAAnope' }, /access token is not valid \(Invalid OAuth access token/],
      ['expired token', 'oauth2-facebook', { accessToken: graph.userToken(newUser(), { expiresInSeconds: -60 }) }, /not valid \(Error validating access token: Session has expired/],
      ['another app', 'oauth2-facebook', { accessToken: graph.userToken(newUser(), { appId: '42' }) }, /issued for another Facebook app/],
      ['required email missing', 'oauth2-facebook', { accessToken: graph.userToken(newUser({ email: undefined })) }, /required metadata field 'email' is missing from the Facebook profile/],
      ['wrong app secret in the config', 'facebook-misconfigured', { accessToken: graph.userToken(newUser()) }, /refused to inspect the access token \(Invalid OAuth access token signature/],
      ['no token', 'oauth2-facebook', {}, /needs an 'accessToken'/, 400],
      ['not a string', 'oauth2-facebook', { accessToken: ['x'] }, /accessToken must be a non-empty string/, 400],
    ];
    for (const [name, providerName, body, message, status = 401] of cases) {
      const res = await post(`${providerName}/login`, body);
      assert.equal(res.status, status, `${name}: ${JSON.stringify(res.json)}`);
      assert.match(res.json.error, message, name);
    }
  });

  it('enforces domain_restrictions on the email domain', async () => {
    const outsider = await post('facebook-corp/login', { accessToken: graph.userToken(newUser()) });
    assertError(outsider, 403, 'DomainNotAllowed');
    assert.match(outsider.json.error, /email domain 'example.com' is not in domain_restrictions/);
    const insider = await post('facebook-corp/login', { accessToken: graph.userToken(newUser({ email: 'carl@corp.example' })) });
    assert.equal(insider.status, 200, JSON.stringify(insider.json));
    const noEmail = await post('facebook-corp/login', { accessToken: graph.userToken(newUser({ email: undefined })) });
    assert.equal(noEmail.status, 403);
    assert.match(noEmail.json.error, /gave none/);
  });

  it('an unreachable Graph API is a clear 502', async () => {
    const dead = await startGraphApi();
    const endpoints = dead.endpoints();
    await dead.close();
    const s = await startServer(
      { ...appConfig([provider('oauth2-facebook', { clientId: '1', ...endpoints }, { secretConfig: { clientSecret: 's' } })], APP_ID), secrets: new Map([['s', 'v']]) },
      { oauthTimeoutMs: 2000 },
    );
    try {
      const res = await request('POST', `${s.url}/api/client/v2.0/app/${APP_ID}/auth/providers/oauth2-facebook/login`, { body: { accessToken: 'EAAx' } });
      assertError(res, 502, 'OAuthProviderUnavailable', /Facebook Graph API \/debug_token could not be reached/);
    } finally {
      await s.close();
    }
  });
});

describe('Facebook redirect flow', () => {
  it('[RW] #83 #85 logIn(Credentials.facebook(redirectUrl)) goes through the dialog and the code exchange; both key sets in the fragment', async () => {
    const who = newUser();
    graph.user = who;
    const app = new Realm.App({ id: APP_ID, baseUrl: server.url });
    const before = popups.length;
    const user = await app.logIn(Realm.Credentials.facebook(APP_REDIRECT));
    assert.equal(user.providerType, 'oauth2-facebook');
    assert.equal(user.profile.email, who.email);
    assert.deepEqual(user.identities.map((i) => i.id), [who.id]);
    const popup = popups[before]!;
    const clientState = new URL(popup.opened).searchParams.get('state');
    const f = popup.fragment!;
    assert.equal(f._baas_state, clientState);
    assert.equal(f._stitch_state, clientState);
    assert.equal(f._stitch_client_app_id, APP_ID);
    assert.equal(f._baas_ua!.split('$')[2], user.id);
    const dialog = new URL(popup.result.visited[1]!);
    assert.equal(dialog.pathname, '/dialog/oauth');
    assert.equal(dialog.searchParams.get('redirect_uri'), `${server.url}/api/client/v2.0/auth/callback`);
    assert.deepEqual(dialog.searchParams.get('scope')!.split(','), ['public_profile', 'email']);
    assert.ok(graph.requests.includes('/oauth/access_token'));
    await app.removeUser(user);
  });

  it('[RW] #87 the user declining in the dialog ends in _stitch_error/_baas_error and the login rejects', async () => {
    graph.failNextDialog('access_denied');
    const app = new Realm.App({ id: APP_ID, baseUrl: server.url });
    const before = popups.length;
    await assert.rejects(app.logIn(Realm.Credentials.facebook(APP_REDIRECT)), /Failed to decode 'authInfo'/);
    const f = popups[before]!.fragment!;
    assert.match(f._baas_error!, /Facebook login refused: access_denied: Permissions error/);
    assert.equal(f._stitch_error, f._baas_error);
  });

  it('refuses an unlisted redirect', async () => {
    const res = await fetch(api(`oauth2-facebook/login?redirect=${encodeURIComponent('https://phish.example/')}&state=s`), { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
  });
});

describe('linking Facebook', () => {
  it('[S] links Facebook into an email/password user (same id); a later Facebook login finds that user', async () => {
    const email = uniqueEmail('fbl');
    await fetch(api('local-userpass/register'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'password1' }) });
    const who = newUser();
    const client = stitchClient();
    try {
      const user = await client.auth.loginWithCredential(new UserPasswordCredential(email, 'password1'));
      const linked = await user.linkWithCredential(new FacebookCredential(graph.userToken(who)));
      assert.equal(linked.id, user.id);
      assert.deepEqual(linked.identities.map((i) => i.providerType), ['local-userpass', 'oauth2-facebook']);
      const again = await post('oauth2-facebook/login', { accessToken: graph.userToken(who) });
      assert.equal(again.json.user_id, user.id);
    } finally {
      client.close();
    }
  });

  it('#43 refuses to link a Facebook identity owned by another user; both users are unchanged', async () => {
    const who = newUser();
    const owner = await post('oauth2-facebook/login', { accessToken: graph.userToken(who) });
    const anon = (await post('anon-user/login', {})).json;
    const res = await post('oauth2-facebook/login?link=true', { accessToken: graph.userToken(who) }, anon.access_token);
    assertError(res, 409, 'IdentityAlreadyExists');
    assert.deepEqual((await profileOf(anon.access_token)).identities.map((i: any) => i.provider_type), ['anon-user']);
    assert.deepEqual((await profileOf(owner.json.access_token)).identities.map((i: any) => i.id), [who.id]);
  });

  it('[RW] #86 link-with-redirect into an anonymous user: same id, then Facebook login finds that user', async () => {
    const who = newUser();
    graph.user = who;
    const app = new Realm.App({ id: APP_ID, baseUrl: server.url });
    const anon = await app.logIn(Realm.Credentials.anonymous(false));
    const before = popups.length;
    await anon.linkCredentials(Realm.Credentials.facebook(APP_REDIRECT));
    assert.deepEqual(anon.identities.map((i) => i.providerType), ['anon-user', 'oauth2-facebook']);
    assert.equal(popups[before]!.fragment!._baas_link, 'ok');
    assert.ok(popups[before]!.opened.startsWith(`${graph.url}/dialog/oauth?`));
    const later = await post('oauth2-facebook/login', { accessToken: graph.userToken(who) });
    assert.equal(later.json.user_id, anon.id);
    // The anonymous user became permanent: logging out no longer deletes it.
    await anon.logOut();
    const afterLogout = await post('oauth2-facebook/login', { accessToken: graph.userToken(who) });
    assert.equal(afterLogout.json.user_id, anon.id);
    await app.removeUser(anon);
  });

  it('a link-with-redirect whose starting session ended meanwhile is refused in the fragment', async () => {
    graph.user = newUser();
    const anon = (await post('anon-user/login', {})).json;
    // A permanent identity first, so that logging out does not delete the user.
    await post('oauth2-facebook/login?link=true', { accessToken: graph.userToken(newUser()) }, anon.access_token);
    const start = await fetch(api(`oauth2-facebook/login?link=true&providerRedirectHeader=true&state=late&redirect=${encodeURIComponent(APP_REDIRECT)}`), {
      headers: { authorization: `Bearer ${anon.access_token}` },
    });
    assert.equal(start.status, 200);
    await fetch(`${server.url}/api/client/v2.0/auth/session`, { method: 'DELETE', headers: { authorization: `Bearer ${anon.refresh_token}` } });
    const result = await browse(start.headers.get('x-stitch-location')!);
    const f = fragmentOf(result.location!);
    assert.match(f._stitch_error!, /session that started the link has ended/);
    assert.equal(f._stitch_ua, undefined);
  });
});
