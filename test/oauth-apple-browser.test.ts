// Sign in with Apple's redirect flow in Debian's Chromium (playwright-core, never a downloaded
// browser): an app page (its own loopback server: Chromium keeps public origins off loopback) runs realm-web's browser bundle and calls
// `app.logIn(Credentials.apple(redirectUrl))`; the popup goes Baste → the local Apple server,
// whose page posts the result back (response_mode=form_post, from Apple's origin, which the app's
// allowed_request_origins does not list) → Baste's callback → the app's redirect page, where
// `Realm.handleAuthRedirect()` hands the session to the opener. Skipped, saying so, without
// /usr/bin/chromium (`apt-get install chromium`; .ci/run installs it).

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { startAppleId, type FakeAppleId } from './fakes/apple-id.js';
import { appConfig, provider, startServer, type TestServer } from './helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: Apple browser tests skipped (apt-get install -y chromium)`;
const APP_ID = 'apple-browser-abcde';
const SERVICES_ID = 'com.example.todo.web';
const REALM_WEB = readFileSync(join(import.meta.dirname, '..', 'node_modules', 'realm-web', 'dist', 'bundle.iife.js'), 'utf8');

describe('Sign in with Apple in Chromium', { skip }, () => {
  let apple: FakeAppleId;
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let appPages: Server;
  let ORIGIN = '';
  let REDIRECT = '';
  const pageErrors: string[] = [];
  /** Every request the browser made to Baste, Apple or the app (method and URL without the fragment). */
  const requests: string[] = [];

  before(async () => {
    apple = await startAppleId({ clientIds: [SERVICES_ID] });
    // The app's own pages: the page that logs in, and the redirect page.
    const html = (script: string) => `<!doctype html><html><head><script src="/realm-web.js"></script></head><body><script>${script}</script></body></html>`;
    appPages = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/realm-web.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(REALM_WEB);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      if (path === '/auth/done') return void res.end(html('Realm.handleAuthRedirect();'));
      res.end(html(`window.app = new Realm.App({ id: ${JSON.stringify(APP_ID)}, baseUrl: ${JSON.stringify(server.url)} });`));
    });
    await new Promise<void>((resolve) => appPages.listen(0, '127.0.0.1', resolve));
    ORIGIN = `http://127.0.0.1:${(appPages.address() as AddressInfo).port}`;
    REDIRECT = `${ORIGIN}/auth/done`;
    server = await startServer(
      {
        ...appConfig([provider('oauth2-apple', { clientId: SERVICES_ID, teamId: apple.teamId, keyId: apple.keyId }, { secretConfig: { privateKey: 'appleKey' }, redirectUris: [REDIRECT] })], APP_ID),
        secrets: new Map([['appleKey', apple.p8]]),
        allowedRequestOrigins: [ORIGIN],
      },
      { appleEndpoints: apple.endpoints() },
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    context = await browser.newContext();
    context.setDefaultTimeout(15_000);
    context.on('request', (r) => requests.push(`${r.method()} ${r.url().split('#')[0]}`));
    context.on('page', (p) => p.on('pageerror', (err) => pageErrors.push(String(err))));
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await apple?.close();
    appPages?.closeAllConnections();
    await new Promise((resolve) => appPages?.close(resolve));
  });

  // A flow that goes astray leaves realm-web waiting for the popup: the time limit fails it.
  it('realm-web logs in through Apple’s form_post and gets the user with the name Apple sent', { timeout: 30_000 }, async () => {
    const who = { sub: '001234.applebrowser.0001', email: 'grace@privaterelay.appleid.com', email_verified: 'true', is_private_email: 'true', firstName: 'Grace', lastName: 'Hopper' };
    apple.user = who;
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    await page.goto(`${ORIGIN}/`);
    const popup = context.waitForEvent('page');
    const user = await page.evaluate(async (redirect) => {
      const realm = (window as unknown as { Realm: any; app: any }).Realm;
      const u = await (window as unknown as { app: any }).app.logIn(realm.Credentials.apple(redirect));
      return { id: u.id, providerType: u.providerType, profile: u.profile, identities: u.identities, refreshToken: u.refreshToken };
    }, REDIRECT);
    assert.equal(user.providerType, 'oauth2-apple');
    assert.deepEqual(user.identities.map((i: any) => i.id), [who.sub]);
    assert.equal(user.profile.email, who.email);
    assert.equal(user.profile.name, 'Grace Hopper');
    assert.equal(user.profile.firstName, 'Grace');
    assert.equal(user.profile.lastName, 'Hopper');
    assert.match(user.id, /^[0-9a-f]{24}$/);
    assert.deepEqual(pageErrors, []);

    // The popup went Baste → Apple → (a POST from Apple's page) Baste's callback → the app's redirect page.
    await popup;
    const path = requests.filter((r) => !r.endsWith('/realm-web.js') && !r.includes('/location') && !r.includes('/auth/profile'));
    const login = path.findIndex((r) => r.startsWith(`GET ${server.url}/api/client/v2.0/app/${APP_ID}/auth/providers/oauth2-apple/login?`));
    assert.ok(login >= 0, path.join('\n'));
    assert.ok(path[login + 1]!.startsWith(`GET ${apple.url}/auth/authorize?`), path.join('\n'));
    assert.equal(path[login + 2], `POST ${server.url}/api/client/v2.0/auth/callback`);
    assert.equal(path[login + 3], `GET ${REDIRECT}`);
    // The Apple refresh token of the exchange is kept for the deletion, and revoked by it.
    const revokedBefore = apple.revoked.length;
    await page.evaluate(async () => {
      const app = (window as unknown as { app: any }).app;
      await app.deleteUser(app.currentUser);
    });
    assert.deepEqual(apple.revoked.slice(revokedBefore), [apple.refreshTokens.get(who.sub)]);
    await page.close();
  });
});
