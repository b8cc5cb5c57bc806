// The web console at /admin/, driven in Debian's Chromium through playwright-core (never a
// downloaded browser): sign in with an admin token, confirm a pending user registered through
// realm-web, find them, disable them and watch their next realm-web call fail, enable, delete;
// server API keys (copied with one click), a user's own API keys, the audit log and its links,
// stale errors and late views, a phone-sized screen, keyboard use. Skipped, saying so, when
// /usr/bin/chromium is missing (`apt-get install chromium`; .ci/run installs it).
//
// BASTE_SCREENSHOTS=1 also writes docs/screenshots/users.png and user.png (the README shows them).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import * as Realm from 'realm-web';
import { AdminTokens } from '../src/admin/tokens.js';
import { newObjectIdHex } from '../src/util/ids.js';
import { appConfig, appFunction, databaseTrigger, emailConfirmUserpass, provider, role, startServer, type TestServer } from './helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: admin console browser tests skipped (apt-get install -y chromium)`;
const SCREENSHOTS = process.env.BASTE_SCREENSHOTS ? join(import.meta.dirname, '..', 'docs', 'screenshots') : null;
const PASSWORD = 'console-pass-1';

describe('admin console in Chromium', { skip }, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let token: string;
  const pageErrors: string[] = [];
  /** Every console message, to check that no secret is ever logged. */
  const consoleLines: string[] = [];

  before(async () => {
    server = await startServer({
      ...appConfig([provider('anon-user'), emailConfirmUserpass(), provider('api-key')], 'console-app-abcde'),
      // The console's own requests carry the server's origin: the app's list does not apply to them.
      allowedRequestOrigins: ['http://app.example'],
      functions: new Map([
        appFunction('onNote', 'exports = function(event) { if (event.fullDocument.bad) throw new Error("cannot file note " + event.fullDocument.n); };', { private: true }),
        appFunction('nightly', 'exports = function() {};', { private: true }),
      ]),
      dataSources: new Map([['mongodb-atlas', { name: 'mongodb-atlas', type: 'mongodb-atlas', defaultRules: { roles: [role('all', { read: true, write: true })], filters: [] }, collections: new Map() }]]),
      scheduledTriggers: new Map([['cleanup', { name: 'cleanup', functionName: 'nightly', schedule: '0 3 * * *', skipCatchupEvents: false, disabled: false }]]),
      databaseTriggers: new Map([databaseTrigger('fileNote', { functionName: 'onNote', database: 'app', collection: 'notes' })]),
    }, { databaseTriggers: { pollMs: 50 } });
    token = (await new AdminTokens(server.baste.store, Date.now).create('console test')).token;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    page.on('console', (msg) => {
      consoleLines.push(msg.text());
      // The admin API's refusals (a wrong token, a user not found) are answers the console shows;
      // a missing file of the console itself (its icon, say) is a bug.
      const refusal = /status of 4\d\d/.test(msg.text()) && new URL(msg.location().url || 'about:blank', server.url).pathname.startsWith('/api/admin/');
      if (msg.type() === 'error' && !refusal) pageErrors.push(`${msg.text()} (${msg.location().url})`);
    });
    page.on('response', (res) => {
      if (res.status() >= 400 && !new URL(res.url()).pathname.startsWith('/api/admin/')) pageErrors.push(`${res.status()} ${res.url()}`);
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  const realm = () => new Realm.App({ id: server.appId, baseUrl: server.url });
  const heading = (name: string) => page.getByRole('heading', { level: 1, name, exact: true });
  const status = (text: string | RegExp) => page.getByRole('status').filter({ hasText: text }).waitFor();
  /** Clicks an action, then the confirming button of the dialog it opens. */
  async function confirmed(action: string, confirm: string) {
    await page.getByRole('button', { name: action, exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: confirm, exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
  }
  async function rejectsWith(p: Promise<unknown>, statusCode: number, errorCode: string) {
    await assert.rejects(p, (err: unknown) => {
      assert.ok(err instanceof Realm.MongoDBRealmError, String(err));
      assert.equal(err.statusCode, statusCode);
      assert.equal(err.errorCode, errorCode);
      return true;
    });
  }

  it('serves the console with its content types and a strict content security policy', async () => {
    const res = await page.goto(`${server.url}/admin`);
    assert.equal(res?.status(), 200);
    assert.equal(new URL(page.url()).pathname, '/admin/');
    assert.equal(res?.headers()['content-type'], 'text/html; charset=utf-8');
    assert.match(res?.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    for (const [file, type] of [['console.js', 'text/javascript; charset=utf-8'], ['console.css', 'text/css; charset=utf-8']]) {
      const r = await fetch(`${server.url}/admin/${file}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), type);
    }
    // The head every page shares, written once (src/http/static-files.ts), and its icon.
    const html = await res!.text();
    assert.equal(html.match(/<meta charset="utf-8">/g)?.length, 1);
    assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
    assert.equal(html.includes('baste:head'), false);
    assert.equal(await page.evaluate(() => document.querySelector<HTMLLinkElement>('link[rel="icon"]')?.href), `${server.url}/admin/favicon.svg`);
    for (const path of ['/admin/favicon.svg', `/app/${server.appId}/favicon.svg`]) {
      const icon = await fetch(server.url + path);
      assert.equal(icon.status, 200, path);
      assert.equal(icon.headers.get('content-type'), 'image/svg+xml');
      assert.match(await icon.text(), /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    }
    const confirmPage = await (await fetch(`${server.url}/app/${server.appId}/confirm`)).text();
    assert.equal(confirmPage.slice(0, confirmPage.indexOf('<title>')), html.slice(0, html.indexOf('<title>')), 'the email pages share the head');
    for (const path of ['/admin/..%2f..%2fpackage.json', '/admin/%2e%2e', '/admin/.env', '/admin/console.ts', '/admin/sub%2Fconsole.js']) {
      const r = await fetch(server.url + path);
      assert.equal(r.status, 404, path);
      assert.equal(r.headers.get('content-type'), 'application/json');
    }
  });

  it('refuses a wrong token and signs in with an admin token', async () => {
    await heading('Sign in').waitFor();
    // Keyboard only: the token field has the focus, Enter signs in, and a refusal keeps the focus there.
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'token');
    await page.keyboard.type('baste_admin_wrong');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').filter({ hasText: 'That admin token was refused.' }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'token');
    await page.getByLabel('Admin token').fill(token);
    await page.keyboard.press('Enter');
    await heading('Users').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'H1', 'focus moves to the new view');
    // The skip link leads past the navigation.
    await page.getByRole('link', { name: 'Skip to content' }).focus();
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');
    await page.waitForTimeout(100);
    assert.equal(await page.evaluate(() => [document.activeElement?.id, location.hash]).then((v) => v.join(' ')), 'main #/users', 'the router is not disturbed');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('baste.adminToken')), token);
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
    await page.getByText('test-app (console-app-abcde)').waitFor();
  });

  it('confirms a pending user registered through realm-web, who can then log in', async () => {
    const app = realm();
    const email = 'ada.lovelace@example.com';
    await app.emailPasswordAuth.registerUser({ email, password: PASSWORD });
    await rejectsWith(app.logIn(Realm.Credentials.emailPassword(email, PASSWORD)), 401, 'AuthError');

    await page.getByRole('link', { name: 'Pending' }).click();
    await heading('Pending users').waitFor();
    const row = page.getByRole('row').filter({ hasText: email });
    await row.getByText('Pending confirmation').waitFor();
    await confirmed(`Confirm ${email}`, 'Confirm user');
    await status(`${email} confirmed.`);
    assert.equal(await page.getByRole('row').filter({ hasText: email }).count(), 0, 'no longer pending');

    const user = await app.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    assert.equal(user.profile.email, email);
  });

  it('finds the user, shows their page, disables them (their next realm-web call fails), enables and deletes them', async () => {
    // A few more people, so the table has something to show.
    const others = realm();
    for (const email of ['grace.hopper@example.com', 'katherine.johnson@example.com']) {
      await others.emailPasswordAuth.registerUser({ email, password: PASSWORD });
      await page.evaluate(async ([t, e]) => {
        await fetch(`/api/admin/v3.0/apps/console-app-abcde/user_registrations/by_email/${encodeURIComponent(e!)}/confirm`, { method: 'POST', headers: { authorization: `Bearer ${t}` } });
      }, [token, email]);
      await others.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    }
    await others.logIn(Realm.Credentials.anonymous());
    await server.baste.store.loginIdentity({
      identity: { externalId: 'g-1', providerName: 'oauth2-google', providerType: 'oauth2-google', providerId: 'p'.repeat(24), data: { name: 'Margaret Hamilton', email: 'margaret@example.com' } },
      newUserId: newObjectIdHex(),
      userType: 'normal',
      now: Date.now(),
    });

    const app = realm();
    const email = 'ada.lovelace@example.com';
    const user = await app.logIn(Realm.Credentials.emailPassword(email, PASSWORD));

    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await heading('Users').waitFor();
    await page.getByRole('link', { name: 'grace.hopper@example.com' }).waitFor();
    if (SCREENSHOTS) {
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: join(SCREENSHOTS, 'users.png') });
    }

    // Search and provider filter.
    await page.getByLabel('Email, name or user id').fill('LOVELACE');
    await page.getByLabel('Provider').selectOption('local-userpass');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/search=LOVELACE/);
    const found = page.getByRole('table', { name: '1 user', exact: true });
    await found.waitFor();
    assert.deepEqual(await found.getByRole('link').allTextContents(), [email]);
    await page.getByLabel('Provider').selectOption('anon-user');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('No user matches.').waitFor();
    await page.getByLabel('Provider').selectOption('');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: email }).click();

    // The user page.
    await heading(email).waitFor();
    await page.getByText(user.id).first().waitFor();
    await page.getByRole('table', { name: 'How this user logs in' }).getByRole('cell', { name: 'local-userpass' }).first().waitFor();
    await page.getByRole('table', { name: /^\d+ active sessions?$/ }).waitFor();
    await page.getByText('No custom user data.').waitFor();
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, 'user.png'), fullPage: true });

    // Escape cancels a confirmation: nothing happens.
    await page.getByRole('button', { name: 'Delete user', exact: true }).click();
    await page.getByRole('dialog').waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'hidden' });
    assert.ok(await server.baste.store.getUser(user.id));

    // Disable: the user's next realm-web call fails, and realm-web logs them out.
    await confirmed('Disable user', 'Disable user');
    await status('User disabled: every session has ended.');
    await page.getByText('Disabled', { exact: true }).waitFor();
    await rejectsWith(user.refreshProfile(), 401, 'InvalidSession');
    assert.equal(user.state, 'logged-out');
    await rejectsWith(app.logIn(Realm.Credentials.emailPassword(email, PASSWORD)), 403, 'UserDisabled');

    // Enable: they log in again, same user.
    await confirmed('Enable user', 'Enable user');
    await status('User enabled: they can log in again.');
    const again = await app.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    assert.equal(again.id, user.id);
    await again.refreshProfile();

    // Revoke one session: a second device (its own storage) logs in; revoking the first device's
    // session in the sessions table logs that device out and leaves the second one alone.
    const otherDevice = new Realm.App({ id: server.appId, baseUrl: server.url, storage: new (Realm.getEnvironment().defaultStorage.constructor as any)() } as Realm.AppConfiguration);
    const second = await otherDevice.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    assert.notEqual(second.deviceId, again.deviceId);
    await page.reload();
    await heading(email).waitFor();
    const sessions = page.getByRole('table', { name: '2 active sessions' });
    await sessions.waitFor();
    const [firstSession] = await server.baste.store.listSessionsOfUser(user.id);
    assert.equal(firstSession?.deviceId, again.deviceId);
    await sessions.getByRole('row').filter({ hasText: again.deviceId! }).getByRole('cell', { name: '127.0.0.1' }).waitFor();
    await confirmed(`Revoke session ${firstSession!.id}`, 'Revoke session');
    await status('The session has ended; the user’s other sessions go on.');
    await page.getByRole('table', { name: '1 active session' }).waitFor();
    await rejectsWith(again.refreshProfile(), 401, 'InvalidSession');
    assert.equal(again.state, 'logged-out');
    await second.refreshProfile();
    assert.equal(second.state, 'active');

    // Revoke sessions: logged out everywhere, still enabled.
    const again2 = await app.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    await page.reload();
    await heading(email).waitFor();
    await confirmed('Revoke sessions', 'Revoke sessions');
    await status('Every session of this user has ended.');
    await rejectsWith(again2.refreshProfile(), 401, 'InvalidSession');
    await rejectsWith(second.refreshProfile(), 401, 'InvalidSession');
    const third = await app.logIn(Realm.Credentials.emailPassword(email, PASSWORD));

    // Delete: back to the list, the user is gone, their session too.
    await confirmed('Delete user', 'Delete user');
    await heading('Users').waitFor();
    await status(`User ${email} deleted.`);
    assert.equal(await page.getByRole('link', { name: email }).count(), 0);
    await rejectsWith(third.refreshProfile(), 401, 'InvalidSession');
    assert.equal(await server.baste.store.getUser(user.id), null);
  });

  it('adds a user, re-sends a confirmation and deletes a pending registration', async () => {
    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await heading('Users').waitFor();
    await page.getByText('Add a user').click();
    await page.getByLabel('Email', { exact: true }).fill('hedy.lamarr@example.com');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Add user' }).click();
    await heading('hedy.lamarr@example.com').waitFor();
    await status('User hedy.lamarr@example.com added.');
    const hedy = await realm().logIn(Realm.Credentials.emailPassword('hedy.lamarr@example.com', PASSWORD));
    assert.equal(hedy.profile.email, 'hedy.lamarr@example.com');

    const email = 'pending.person@example.com';
    await realm().emailPasswordAuth.registerUser({ email, password: PASSWORD });
    const sent = server.outbox().filter((m) => m.to === email).length;
    await page.getByRole('link', { name: 'Pending' }).click();
    await heading('Pending users').waitFor();
    await page.getByRole('button', { name: `Send a confirmation email to ${email}` }).click();
    await status(`Confirmation email sent to ${email}.`);
    assert.equal(server.outbox().filter((m) => m.to === email).length, sent + 1);
    await confirmed(`Delete the registration of ${email}`, 'Delete registration');
    await status(`Registration of ${email} deleted.`);
    assert.equal(await server.baste.store.findUserpassAccountByEmail(email), null);
  });

  it("shows a user's own API keys on their page", async () => {
    const hedy = await realm().logIn(Realm.Credentials.emailPassword('hedy.lamarr@example.com', PASSWORD));
    const phone = await hedy.apiKeys.create('hedy-phone');
    const laptop = await hedy.apiKeys.create('hedy-laptop');
    await hedy.apiKeys.disable(laptop._id);
    await page.goto(`${server.url}/admin/#/users/${hedy.id}`);
    await heading('hedy.lamarr@example.com').waitFor();
    const keys = page.getByRole('table', { name: '2 API keys' });
    await keys.getByRole('row').filter({ hasText: 'hedy-phone' }).getByText('Enabled').waitFor();
    await keys.getByRole('row').filter({ hasText: 'hedy-laptop' }).getByText('Disabled').waitFor();
    await keys.getByText(phone._id).waitFor();
    assert.equal(await page.getByText(phone.key!).count(), 0, 'never the key itself');
    await hedy.apiKeys.delete(laptop._id);
    await page.reload();
    await page.getByRole('table', { name: '1 API key', exact: true }).waitFor();
    await hedy.logOut();
  });

  it('clears an error once the next action succeeds or the view changes; a late view never draws over the current one', async () => {
    const alert = page.getByRole('alert');
    const addUser = async (email: string) => {
      await page.getByRole('link', { name: 'Users', exact: true }).click();
      await heading('Users').waitFor();
      await page.getByText('Add a user').click();
      await page.getByLabel('Email', { exact: true }).fill(email);
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Add user' }).click();
    };
    await addUser('hedy.lamarr@example.com');
    await alert.filter({ hasText: 'AccountNameInUse' }).waitFor();
    // The next action succeeds: its message replaces the error.
    await page.getByLabel('Email', { exact: true }).fill('ida.rhodes@example.com');
    await page.getByRole('button', { name: 'Add user' }).click();
    await heading('ida.rhodes@example.com').waitFor();
    await status('User ida.rhodes@example.com added.');
    assert.equal(await alert.textContent(), '');
    // An error, then another view: gone.
    await addUser('hedy.lamarr@example.com');
    await alert.filter({ hasText: 'AccountNameInUse' }).waitFor();
    await page.getByRole('link', { name: 'Providers' }).click();
    await heading('Authentication providers').waitFor();
    assert.equal(await alert.textContent(), '');
    // A slow view asked for, then another: the slow one, answering last, is not drawn.
    await page.route('**/api/admin/v3.0/apps/*/api_keys', async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 800));
      await route.continue();
    });
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('link', { name: 'Triggers' }).click();
    await heading('Triggers').waitFor();
    await page.waitForTimeout(1500);
    await page.unroute('**/api/admin/v3.0/apps/*/api_keys');
    assert.equal(await heading('Server API keys').count(), 0);
    await heading('Triggers').waitFor();
    assert.equal(await page.evaluate(() => [location.hash, document.title].join(' ')), '#/triggers Triggers · Baste admin');
  });

  it('creates, disables and deletes a server API key', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
    await heading('Server API keys').waitFor();
    await page.getByLabel('Name').fill('console-key');
    await page.getByRole('button', { name: 'Create key' }).click();
    await status('Server API key console-key created.');
    const key = await page.getByLabel('API key', { exact: true }).inputValue();
    assert.ok(key.length > 40);
    const user = await realm().logIn(Realm.Credentials.apiKey(key));
    assert.equal(user.providerType, 'api-key');

    // One click copies it.
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await page.evaluate(() => navigator.clipboard.writeText('something else'));
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    await status('The key is on the clipboard.');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);
    // Without the clipboard API (plain HTTP from another machine), the key is selected for Ctrl+C.
    await page.evaluate(() => {
      Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true });
      document.getSelection()?.removeAllRanges();
    });
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    await status(/The key is (on the clipboard|selected: press Ctrl\+C)/);
    assert.deepEqual(
      await page.evaluate(() => {
        const input = document.activeElement as HTMLInputElement;
        return [input.id, input.selectionStart, input.selectionEnd, input.value.length];
      }),
      ['new-key', 0, key.length, key.length],
    );
    assert.equal((await page.getByRole('status').textContent())?.includes(key), false);
    assert.equal(consoleLines.some((line) => line.includes(key)), false, 'the key is never logged');
    // Shown once: another view, and back, and it is gone.
    await page.getByRole('link', { name: 'Providers' }).click();
    await heading('Authentication providers').waitFor();
    await page.getByRole('link', { name: 'API keys' }).click();
    await heading('Server API keys').waitFor();
    assert.equal(await page.getByLabel('API key', { exact: true }).count(), 0);
    assert.equal(await page.getByText(key).count(), 0);

    await confirmed('Disable key console-key', 'Disable key');
    await status('Key console-key disabled.');
    assert.equal(await page.getByLabel('API key', { exact: true }).count(), 0, 'the key is not shown again');
    await rejectsWith(realm().logIn(Realm.Credentials.apiKey(key)), 401, 'AuthError');
    await page.getByRole('button', { name: 'Enable key console-key' }).click();
    await status('Key console-key enabled.');
    await confirmed('Delete key console-key', 'Delete key');
    await status('Key console-key deleted.');
    await page.getByText('No server API keys.').waitFor();

    // A key that stays, for the audit log's links; its name leads to its server user, whose page shows it.
    await page.getByLabel('Name').fill('kept-key');
    await page.getByRole('button', { name: 'Create key' }).click();
    await status('Server API key kept-key created.');
    await page.getByRole('link', { name: 'kept-key' }).click();
    await heading('kept-key').waitFor();
    await page.getByRole('table', { name: '1 API key', exact: true }).getByRole('link', { name: 'kept-key' }).waitFor();
  });

  it('shows triggers with their last run, last error and backlog, and resumes a database trigger', async () => {
    const user = await realm().logIn(Realm.Credentials.anonymous());
    await user.mongoClient('mongodb-atlas').db('app').collection('notes').insertMany([{ n: 1 }, { n: 2, bad: true }]);
    await server.baste.databaseTriggers.settled();
    await page.getByRole('link', { name: 'Triggers' }).click();
    await heading('Triggers').waitFor();
    const row = page.getByRole('row').filter({ hasText: 'fileNote' });
    await row.getByText('INSERT on app.notes').waitFor();
    await row.getByText(/cannot file note 2/).waitFor();
    await row.getByRole('cell', { name: '2 / 1', exact: true }).waitFor();
    await row.getByRole('cell', { name: 'none', exact: true }).waitFor();
    const cleanup = page.getByRole('row').filter({ hasText: 'cleanup' });
    await cleanup.getByText('0 3 * * * (UTC)').waitFor();
    await cleanup.getByRole('cell', { name: 'Scheduled', exact: true }).waitFor();
    assert.equal(await cleanup.getByRole('button').count(), 0, 'only database triggers resume');

    await page.getByRole('button', { name: 'Resume trigger fileNote' }).click();
    await status('Trigger fileNote resumed.');
    await confirmed('Skip pending events of trigger fileNote', 'Skip and resume');
    await status('Trigger fileNote resumed past its pending events.');
    assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'H1', 'focus back on the view');
  });

  it('shows providers and the audit log, then signs out', async () => {
    await page.getByRole('link', { name: 'Providers' }).click();
    await heading('Authentication providers').waitFor();
    await page.getByRole('cell', { name: 'local-userpass' }).first().waitFor();

    await page.getByRole('link', { name: 'Audit log' }).click();
    await heading('Audit log').waitFor();
    const rows = page.getByRole('row');
    await rows.filter({ hasText: 'user.delete' }).waitFor();
    assert.ok(await rows.filter({ hasText: 'console test' }).count() >= 8);
    for (const action of ['user_registration.confirm', 'user.disable', 'user.enable', 'user.logout', 'api_key.create', 'api_key.delete', 'trigger.resume']) {
      assert.ok((await rows.filter({ hasText: action }).count()) >= 1, action);
    }

    // Targets link to what they are now, while they exist.
    const row = (action: string, text: string) => rows.filter({ hasText: action }).filter({ hasText: text });
    const hedyId = (await server.baste.store.listUsers({ limit: 100 })).find((u) => u.identities.some((i) => i.data.email === 'hedy.lamarr@example.com'))!.id;
    assert.equal(await row('user.create', 'hedy.lamarr@example.com').getByRole('link').getAttribute('href'), `#/users/${hedyId}`);
    assert.equal(await row('user.delete', '').getByRole('link').count(), 0, 'a deleted user links nowhere');
    assert.equal(await row('user_registration.delete', '').getByRole('link').count(), 0);
    assert.equal(await row('api_key.delete', 'console-key').getByRole('link').count(), 0);
    const grace = row('user_registration.confirm', 'grace.hopper@example.com').getByRole('link');
    assert.match((await grace.getAttribute('href')) ?? '', /^#\/users\/[0-9a-f]{24}$/, 'a confirmed registration leads to its user');
    await row('api_key.create', 'kept-key').getByRole('link').click();
    await heading('Server API keys').waitFor();
    await page.locator('tr[aria-current="true"]').filter({ hasText: 'kept-key' }).waitFor();
    await page.goBack();
    await heading('Audit log').waitFor();
    await rows.filter({ hasText: 'trigger.resume' }).first().getByRole('link').click();
    await heading('Triggers').waitFor();
    await page.locator('tr[aria-current="true"]').filter({ hasText: 'fileNote' }).waitFor();
    await page.goBack();
    await heading('Audit log').waitFor();
    await row('user.create', 'hedy.lamarr@example.com').getByRole('link').click();
    await heading('hedy.lamarr@example.com').waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading('Sign in').waitFor();
    await status('Signed out.');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('baste.adminToken')), null);
    assert.deepEqual(pageErrors, []);
  });

  it('fits a phone: no page wider than 375 px, wide tables scroll inside their box', async () => {
    const phone = await browser.newPage({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
    phone.setDefaultTimeout(10_000);
    try {
      await phone.goto(`${server.url}/admin/`);
      const pageWidth = () => phone.evaluate(() => document.scrollingElement!.scrollWidth);
      await phone.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
      assert.ok((await pageWidth()) <= 375, `sign in: ${await pageWidth()} px`);
      await phone.getByLabel('Admin token').fill(token);
      await phone.keyboard.press('Enter');
      await phone.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
      const hedy = (await server.baste.store.listUsers({ limit: 100 })).find((u) => u.identities.some((i) => i.data.email === 'hedy.lamarr@example.com'))!;
      const views: [string, string][] = [
        ['#/users', 'Users'],
        [`#/users/${hedy.id}`, 'hedy.lamarr@example.com'],
        ['#/pending', 'Pending users'],
        ['#/api-keys', 'Server API keys'],
        ['#/providers', 'Authentication providers'],
        ['#/triggers', 'Triggers'],
        ['#/audit', 'Audit log'],
      ];
      for (const [hash, title] of views) {
        await phone.evaluate((h) => (location.hash = h), hash);
        await phone.getByRole('heading', { level: 1, name: title, exact: true }).waitFor();
        assert.ok((await pageWidth()) <= 375, `${hash}: the page is ${await pageWidth()} px wide`);
        for (const box of await phone.locator('.table-wrap').all()) {
          const [client, right] = await box.evaluate((el) => [el.clientWidth, el.getBoundingClientRect().right]);
          assert.ok(client <= 375 && right <= 375, `${hash}: a table box reaches ${right} px`);
        }
      }
      // The widest table scrolls within its box, which takes focus for keyboard scrolling.
      await phone.evaluate(() => (location.hash = '#/triggers'));
      const triggers = phone.getByRole('region', { name: 'Triggers' });
      assert.ok(await triggers.evaluate((el) => el.scrollWidth > el.clientWidth), 'the triggers table is wider than the screen');
      await triggers.focus();
      await phone.keyboard.press('ArrowRight');
      await phone.waitForFunction(() => document.querySelector('.table-wrap')!.scrollLeft > 0);
      // A confirmation dialog fits too.
      await phone.evaluate((id) => (location.hash = `#/users/${id}`), hedy.id);
      await phone.getByRole('button', { name: 'Delete user', exact: true }).click();
      const box = await phone.getByRole('dialog').boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 375, `the dialog spans ${box?.x}..${box && box.x + box.width}`);
      await phone.keyboard.press('Escape');
    } finally {
      await phone.close();
    }
  });
});
