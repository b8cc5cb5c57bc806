// The Stitch browser SDK's OAuth redirect flow, run in Node (wire-protocol §11): window and
// localStorage shims, a mocked `window.location`/`history`, and a Transport on Node's fetch.
// Checklist 84 (loginWithRedirect + handleRedirectResult), 85 (fragment keys), 86 (linkUserWithRedirect
// through X-Stitch-Location), 87 (a callback error rejects handleRedirectResult).
// Its own file: the shims are process-wide.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGraphApi, type FakeGraphApi } from './fakes/graph-api.js';
import { startOidcProvider, type FakeOidcProvider } from './fakes/oidc-provider.js';
import { APP_REDIRECT, browse, fragmentOf } from './helpers/oauth.js';
import { appConfig, provider, startServer, type TestServer } from './helpers/server.js';

// --- browser shims, before the SDK is loaded ---
const storage = new Map<string, string>();
const localStorageShim = {
  getItem: (k: string) => storage.get(k) ?? null,
  setItem: (k: string, v: string) => void storage.set(k, String(v)),
  removeItem: (k: string) => void storage.delete(k),
  clear: () => storage.clear(),
};
const page = new URL(APP_REDIRECT);
/** Every URL the SDK navigated to with `location.replace`. */
const navigations: string[] = [];
const location = {
  protocol: page.protocol,
  host: page.host,
  pathname: page.pathname,
  hash: '',
  replace(url: string) {
    navigations.push(url);
  },
};
const history = {
  replaceState(_state: unknown, _title: string, url: string) {
    location.hash = new URL(url).hash;
  },
};
Object.assign(globalThis, { window: { location, history, localStorage: localStorageShim }, localStorage: localStorageShim });
const sdk = await import('mongodb-stitch-browser-sdk');
const { AnonymousCredential, FacebookRedirectCredential, GoogleRedirectCredential, MemoryStorage, Stitch, StitchAppClientConfiguration } = sdk;

/** Forwards every SDK request to Node's fetch (the SDK's own transport needs XMLHttpRequest). */
const nodeTransport = {
  async roundTrip(request: { method: string; url: string; headers: Record<string, string>; body?: string }) {
    const res = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body });
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k] = v));
    return { headers, statusCode: res.status, body: await res.text() };
  },
  stream(): never {
    throw new Error('streams are not used here');
  },
};

const APP_ID = 'stitch-browser-oauth';
let idp: FakeOidcProvider;
let graph: FakeGraphApi;
let server: TestServer;
let n = 0;

function newClient() {
  Stitch.clearApps();
  location.hash = '';
  return Stitch.initializeAppClient(
    APP_ID,
    new StitchAppClientConfiguration.Builder()
      .withBaseUrl(server.url)
      .withTransport(nodeTransport as never)
      .withStorage(new MemoryStorage(`sb-${n++}`))
      .build(),
  );
}

/** The browser client has no close(); its auth object stops the 60-second refresh timer that keeps Node alive. */
const closeClient = (client: ReturnType<typeof newClient>) => (client.auth as unknown as { close(): void }).close();

async function nextNavigation(count: number): Promise<string> {
  for (let i = 0; i < 200 && navigations.length <= count; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(navigations.length > count, 'the SDK navigated');
  return navigations[navigations.length - 1]!;
}

/** The browser goes from `url` through the provider back to the app; the page's hash becomes the fragment. */
async function landOnApp(url: string): Promise<Record<string, string>> {
  const result = await browse(url);
  assert.ok(result.location, `ended at the app: ${JSON.stringify(result)}`);
  location.hash = new URL(result.location).hash;
  return fragmentOf(result.location);
}

before(async () => {
  idp = await startOidcProvider();
  graph = await startGraphApi();
  const google = provider('oauth2-google', { clientId: idp.clientId, ...idp.endpoints() }, {
    secretConfig: { clientSecret: 'g' },
    metadataFields: [{ required: true, name: 'email' }, { required: false, name: 'name' }],
    redirectUris: [APP_REDIRECT],
  });
  const facebook = provider('oauth2-facebook', { clientId: graph.appId, ...graph.endpoints() }, {
    secretConfig: { clientSecret: 'f' },
    metadataFields: [{ required: false, name: 'email' }],
    redirectUris: [APP_REDIRECT],
  });
  const app = appConfig([provider('anon-user'), google, facebook], APP_ID);
  server = await startServer({ ...app, secrets: new Map([['g', idp.clientSecret], ['f', graph.appSecret]]) });
});
after(async () => {
  await server.close();
  await idp.close();
  await graph.close();
});

describe('Stitch browser SDK redirect flow (Node, with shims)', () => {
  it('[SB] #84 #85 loginWithRedirect navigates to /login?redirect&state(64)&device; handleRedirectResult resolves with an oauth2-google user', async () => {
    idp.user = { sub: 'sb-google-1', email: 'sb1@example.com', email_verified: true, name: 'SB One' };
    const client = newClient();
    try {
      const count = navigations.length;
      // No URL: the SDK defaults to the page's own URL, which is listed.
      client.auth.loginWithRedirect(new GoogleRedirectCredential());
      const url = new URL(await nextNavigation(count));
      assert.equal(url.origin, server.url);
      assert.equal(url.pathname, `/api/client/v2.0/app/${APP_ID}/auth/providers/oauth2-google/login`);
      assert.equal(url.searchParams.get('redirect'), APP_REDIRECT);
      const state = url.searchParams.get('state')!;
      assert.match(state, /^[A-Za-z0-9]{64}$/);
      const device = JSON.parse(Buffer.from(url.searchParams.get('device')!, 'base64').toString());
      assert.equal(device.sdkVersion, '4.9.0');
      const f = await landOnApp(url.href);
      assert.equal(f._stitch_state, state);
      assert.equal(f._stitch_client_app_id, APP_ID);
      assert.equal(f._stitch_ua!.split('$').length, 4);
      assert.equal(client.auth.hasRedirectResult(), true);
      const user = await client.auth.handleRedirectResult();
      assert.equal(user.loggedInProviderType, 'oauth2-google');
      assert.equal(user.profile.email, 'sb1@example.com');
      assert.equal(location.hash, '', 'the SDK cleaned the fragment up');
      assert.equal(client.auth.isLoggedIn, true);
      // The tokens from the fragment work: a refresh and a profile call.
      await client.auth.refreshCustomData();
    } finally {
      closeClient(client);
    }
  });

  it('[SB] #86 linkUserWithRedirect reads X-Stitch-Location, and the result links into the same user (_stitch_link=ok)', async () => {
    idp.user = { sub: 'sb-google-2', email: 'sb2@example.com', email_verified: true };
    const client = newClient();
    try {
      const anon = await client.auth.loginWithCredential(new AnonymousCredential());
      const count = navigations.length;
      await anon.linkUserWithRedirect(new GoogleRedirectCredential(APP_REDIRECT));
      const providerUrl = await nextNavigation(count);
      assert.ok(providerUrl.startsWith(`${idp.url}/authorize?`), providerUrl);
      const f = await landOnApp(providerUrl);
      assert.equal(f._stitch_link, 'ok');
      assert.equal(client.auth.hasRedirectResult(), true);
      const linked = await client.auth.handleRedirectResult();
      assert.equal(linked.id, anon.id);
      assert.deepEqual(linked.identities.map((i) => i.providerType), ['anon-user', 'oauth2-google']);
      assert.equal(linked.profile.email, 'sb2@example.com');
      // The refresh token from the fragment (a new session of the same user) works.
      await client.auth.refreshCustomData();
      assert.equal(client.auth.user?.id, anon.id);
    } finally {
      closeClient(client);
    }
  });

  it('[SB] #87 a provider error reaches the fragment and handleRedirectResult rejects with it', async () => {
    idp.failNextAuthorization('access_denied');
    const client = newClient();
    try {
      const count = navigations.length;
      client.auth.loginWithRedirect(new GoogleRedirectCredential(APP_REDIRECT));
      const f = await landOnApp(await nextNavigation(count));
      assert.match(f._stitch_error!, /access_denied/);
      assert.equal(client.auth.hasRedirectResult(), true);
      await assert.rejects(client.auth.handleRedirectResult(), /error handling redirect: Google login refused: access_denied/);
      assert.equal(client.auth.isLoggedIn, false);
    } finally {
      closeClient(client);
    }
  });

  it('[SB] FacebookRedirectCredential: the dialog, the code exchange and the Graph API checks end in a Facebook user', async () => {
    graph.user = { id: 'fb-sb-1', name: 'Fay SB', email: 'fay.sb@example.com' };
    const client = newClient();
    try {
      const count = navigations.length;
      client.auth.loginWithRedirect(new FacebookRedirectCredential(APP_REDIRECT));
      await landOnApp(await nextNavigation(count));
      const user = await client.auth.handleRedirectResult();
      assert.equal(user.loggedInProviderType, 'oauth2-facebook');
      assert.equal(user.profile.email, 'fay.sb@example.com');
      assert.deepEqual(user.identities.map((i) => i.id), ['fb-sb-1']);
    } finally {
      closeClient(client);
    }
  });
});
