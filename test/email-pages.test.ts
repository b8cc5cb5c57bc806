// Baste's own confirm and reset pages (/app/{appId}/confirm, /reset), driven in Debian's Chromium
// through playwright-core: a provider with no emailConfirmationUrl / resetPasswordUrl mails links
// to them; realm-web registers, the outbox link confirms in the browser, realm-web logs in; a reset
// link's form sets a new password; a bad, used or incomplete link says so and changes nothing.
// The HTTP-only checks (where links point, headers, forged Host) run without the browser.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import * as Realm from 'realm-web';
import { AdminTokens } from '../src/admin/tokens.js';
import { appConfig, provider, startServer, tokensOf, uniqueEmail, type TestServer } from './helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const noBrowser = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: email page browser tests skipped (apt-get install -y chromium)`;
const APP_ID = 'pages-app-abcde';
const PASSWORD = 'first-pass-1';

/** Email/password that confirms by email and names no page of its own: links open Baste's. */
const pagesUserpass = () => provider('local-userpass', { autoConfirm: false });

const logLines: string[] = [];
let server: TestServer;

before(async () => {
  const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (logLines.push(chunk.toString()), done()) }));
  // The pages' own calls carry the server's origin: the app's list of origins does not apply to them.
  server = await startServer({ ...appConfig([pagesUserpass()], APP_ID), allowedRequestOrigins: ['http://app.example'] }, { logger });
});
after(async () => {
  await server?.close();
});

const realm = () => new Realm.App({ id: APP_ID, baseUrl: server.url });
const lastMail = (to: string, kind: string) => {
  const mail = server.outbox().filter((m) => m.to === to && m.kind === kind).at(-1);
  assert.ok(mail, `no ${kind} email for ${to}`);
  return mail;
};
/** realm-web's refusal, as an error code. */
const refusal = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (err) {
    return (err as { errorCode?: string }).errorCode ?? String(err);
  }
  assert.fail('expected a refusal');
};

describe('links when the provider names no page', () => {
  it('point at /app/{appId}/confirm and /reset on the address the server was reached at', async () => {
    const email = uniqueEmail('link');
    await realm().emailPasswordAuth.registerUser({ email, password: PASSWORD });
    const link = new URL(lastMail(email, 'confirm').link);
    assert.equal(`${link.origin}${link.pathname}`, `${server.url}/app/${APP_ID}/confirm`);
    assert.ok(link.searchParams.get('token') && link.searchParams.get('tokenId'));
    await realm().emailPasswordAuth.sendResetPasswordEmail({ email });
    assert.equal(new URL(lastMail(email, 'reset').link).pathname, `/app/${APP_ID}/reset`);
  });

  it('never follow the Host header the client sent (a forged one cannot receive the token)', async () => {
    const email = uniqueEmail('forged');
    const { port } = new URL(server.url);
    const status = await new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ email, password: PASSWORD });
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: `/api/client/v2.0/app/${APP_ID}/auth/providers/local-userpass/register`, headers: { host: 'evil.example', 'content-type': 'application/json' } },
        (res) => (res.resume(), resolve(res.statusCode ?? 0)),
      );
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(status, 201);
    assert.ok(lastMail(email, 'confirm').link.startsWith(`${server.url}/app/${APP_ID}/confirm?`));
  });

  it('use --base-url when it is given', async () => {
    const other = await startServer(appConfig([pagesUserpass()], APP_ID), { http: { baseUrl: 'https://auth.example.com/' } });
    try {
      const email = uniqueEmail('base');
      // Plain HTTP: realm-web would follow /location to the (unresolvable) public URL.
      const res = await fetch(`${other.url}/api/client/v2.0/app/${APP_ID}/auth/providers/local-userpass/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: PASSWORD }),
      });
      assert.equal(res.status, 201);
      const link = other.outbox().find((m) => m.to === email)!.link;
      assert.ok(link.startsWith(`https://auth.example.com/app/${APP_ID}/confirm?token=`), link);
    } finally {
      await other.close();
    }
  });

  it("an operator's reset (admin API) links to the reset page where the operator reached the server", async () => {
    const email = uniqueEmail('operator');
    await realm().emailPasswordAuth.registerUser({ email, password: PASSWORD });
    const { token } = await new AdminTokens(server.baste.store, Date.now).create('pages test');
    const pending = lastMail(email, 'confirm');
    await realm().emailPasswordAuth.confirmUser(tokensOf(pending.link));
    const user = await realm().logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    const res = await fetch(`${server.url}/api/admin/v3.0/groups/g/apps/${APP_ID}/users/${user.id}/send_password_reset`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 204);
    assert.ok(lastMail(email, 'reset').link.startsWith(`${server.url}/app/${APP_ID}/reset?token=`));
  });

  it('a provider URL of its own still wins', async () => {
    const own = await startServer(appConfig([provider('local-userpass', { autoConfirm: false, emailConfirmationUrl: 'https://app.example/confirm' })], APP_ID));
    try {
      const email = uniqueEmail('own');
      await new Realm.App({ id: APP_ID, baseUrl: own.url }).emailPasswordAuth.registerUser({ email, password: PASSWORD });
      assert.ok(own.outbox()[0]!.link.startsWith('https://app.example/confirm?token='));
    } finally {
      await own.close();
    }
  });
});

describe('a provider URL naming these pages on a loopback host (an export made for localhost)', () => {
  it('opens them on this server wherever it listens; another app\'s page or another host is mailed as written', async () => {
    const cases: [string, (serverUrl: string) => string][] = [
      [`http://localhost:8080/app/${APP_ID}/confirm`, (u) => `${u}/app/${APP_ID}/confirm`],
      [`http://127.0.0.1:9999/app/${APP_ID}/confirm/`, (u) => `${u}/app/${APP_ID}/confirm`],
      ['http://localhost:8080/app/other-app-xyz/confirm', () => 'http://localhost:8080/app/other-app-xyz/confirm'],
      [`https://app.example/app/${APP_ID}/confirm`, () => `https://app.example/app/${APP_ID}/confirm`],
    ];
    for (const [configured, expected] of cases) {
      const own = await startServer(appConfig([provider('local-userpass', { autoConfirm: false, emailConfirmationUrl: configured })], APP_ID));
      try {
        const email = uniqueEmail('loopback');
        await new Realm.App({ id: APP_ID, baseUrl: own.url }).emailPasswordAuth.registerUser({ email, password: PASSWORD });
        const link = new URL(own.outbox()[0]!.link);
        assert.equal(`${link.origin}${link.pathname}`, expected(own.url), configured);
      } finally {
        await own.close();
      }
    }
  });
});

describe('the pages over HTTP', () => {
  it('are served under a strict CSP, with their script and style sheet; nothing else is', async () => {
    for (const page of ['confirm', 'reset']) {
      const res = await fetch(`${server.url}/app/${APP_ID}/${page}?token=x&tokenId=y`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
      assert.match(await res.text(), new RegExp(`<script type="module" src="${page}.js">`));
    }
    for (const file of ['confirm.js', 'reset.js', 'flow.js', 'pages.css']) assert.equal((await fetch(`${server.url}/app/${APP_ID}/${file}`)).status, 200, file);
    for (const path of [`/app/${APP_ID}/confirm.html`, `/app/${APP_ID}/nothing.js`, `/app/${APP_ID}/..%2Fpackage.json`, '/app/other-app-xyz/confirm']) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 404, path);
      assert.ok(((await res.json()) as { error_code: string }).error_code, path);
    }
  });

  it('a request from an origin the app does not allow is refused, and the log names the origin', async () => {
    const res = await fetch(`${server.url}/api/client/v2.0/app/${APP_ID}/auth/providers/local-userpass/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://elsewhere.example' },
      body: JSON.stringify({ token: 'x', tokenId: 'y' }),
    });
    assert.equal(res.status, 403);
    const line = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.origin === 'http://elsewhere.example');
    assert.equal(line?.msg, 'request refused: origin not in allowed_request_origins');
    assert.equal(line?.level, 40);
  });

  it('log no token: the page addresses are logged with token and tokenId redacted', async () => {
    await fetch(`${server.url}/app/${APP_ID}/confirm?token=secret-token-value&tokenId=secret-id-value`);
    const log = logLines.join('');
    assert.match(log, /"path":"\/app\/pages-app-abcde\/confirm"/);
    assert.doesNotMatch(log, /secret-token-value|secret-id-value/);
  });
});

describe('the pages in Chromium', { skip: noBrowser }, () => {
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 390, height: 800 } });
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    page.on('console', (msg) => {
      // A refused call (a bad token's 400) is an expected console line; nothing else is.
      if (msg.type() === 'error' && !/status of 400/.test(msg.text())) pageErrors.push(msg.text());
    });
  });
  after(async () => {
    await browser?.close();
    assert.deepEqual(pageErrors, []);
  });

  it('register → the outbox link → confirmed → realm-web logs in', async () => {
    const email = uniqueEmail('confirm');
    await realm().emailPasswordAuth.registerUser({ email, password: PASSWORD });
    assert.equal(await refusal(realm().logIn(Realm.Credentials.emailPassword(email, PASSWORD))), 'AuthError'); // confirmation required
    const link = lastMail(email, 'confirm').link;
    await page.goto(link);
    await page.getByRole('status').filter({ hasText: 'Your email address is confirmed' }).waitFor();
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Confirm your email address');
    // The one-time token does not stay in the address bar (or the history).
    assert.equal(page.url(), `${server.url}/app/${APP_ID}/confirm`);
    const user = await realm().logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    assert.equal(user.profile.email, email);

    // The same link again: used up, said plainly.
    await page.goto(link);
    await page.getByRole('alert').filter({ hasText: 'This link is not valid any more' }).waitFor();
  });

  it('a bad or incomplete confirmation link says so and confirms nothing', async () => {
    const email = uniqueEmail('bad-confirm');
    await realm().emailPasswordAuth.registerUser({ email, password: PASSWORD });
    const { tokenId } = tokensOf(lastMail(email, 'confirm').link);
    await page.goto(`${server.url}/app/${APP_ID}/confirm?token=${'0'.repeat(64)}&tokenId=${tokenId}`);
    await page.getByRole('alert').filter({ hasText: 'This link is not valid any more' }).waitFor();
    assert.equal(await page.getByRole('status').textContent(), '');
    await page.goto(`${server.url}/app/${APP_ID}/confirm`);
    await page.getByRole('alert').filter({ hasText: 'This link is incomplete' }).waitFor();
    assert.equal(await refusal(realm().logIn(Realm.Credentials.emailPassword(email, PASSWORD))), 'AuthError');
  });

  it('reset → the outbox link → the form (twice, length rules) → the new password logs in', async () => {
    const email = uniqueEmail('reset');
    await realm().emailPasswordAuth.registerUser({ email, password: PASSWORD });
    await page.goto(lastMail(email, 'confirm').link);
    await page.getByRole('status').filter({ hasText: 'confirmed' }).waitFor();
    const before = await realm().logIn(Realm.Credentials.emailPassword(email, PASSWORD));

    await realm().emailPasswordAuth.sendResetPasswordEmail({ email });
    await page.goto(lastMail(email, 'reset').link);
    assert.equal(page.url(), `${server.url}/app/${APP_ID}/reset`);
    const password = page.getByLabel('New password', { exact: true });
    const repeat = page.getByLabel('New password again');
    // Focus starts in the first field, typed into from the keyboard.
    await page.keyboard.type('short');
    await repeat.fill('short');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('alert').filter({ hasText: 'at least 6 characters' }).waitFor();
    assert.equal(await password.getAttribute('aria-invalid'), 'true');
    await password.fill('second-pass-2');
    await repeat.fill('second-pass-3');
    await repeat.press('Enter');
    await page.getByRole('alert').filter({ hasText: 'not the same' }).waitFor();
    // Nothing was sent yet: the old password still logs in.
    await realm().logIn(Realm.Credentials.emailPassword(email, PASSWORD));

    await repeat.fill('second-pass-2');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('status').filter({ hasText: 'Your password is changed' }).waitFor();
    assert.equal(await page.getByRole('alert').textContent(), '');
    assert.equal(await page.locator('form').isHidden(), true);
    assert.equal(await refusal(realm().logIn(Realm.Credentials.emailPassword(email, PASSWORD))), 'InvalidPassword');
    assert.equal((await realm().logIn(Realm.Credentials.emailPassword(email, 'second-pass-2'))).id, before.id);
  });

  it('a bad reset link says so when the form is sent, and the password stays', async () => {
    const email = uniqueEmail('bad-reset');
    await realm().emailPasswordAuth.registerUser({ email, password: PASSWORD });
    await page.goto(lastMail(email, 'confirm').link);
    await page.getByRole('status').filter({ hasText: 'confirmed' }).waitFor();
    await realm().emailPasswordAuth.sendResetPasswordEmail({ email });
    const { tokenId } = tokensOf(lastMail(email, 'reset').link);
    await page.goto(`${server.url}/app/${APP_ID}/reset?token=${'f'.repeat(64)}&tokenId=${tokenId}`);
    await page.getByLabel('New password', { exact: true }).fill('third-pass-3');
    await page.getByLabel('New password again').fill('third-pass-3');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('alert').filter({ hasText: 'This link is not valid any more' }).waitFor();
    assert.equal(await refusal(realm().logIn(Realm.Credentials.emailPassword(email, 'third-pass-3'))), 'InvalidPassword');
    await realm().logIn(Realm.Credentials.emailPassword(email, PASSWORD));

    await page.goto(`${server.url}/app/${APP_ID}/reset?tokenId=${tokenId}`);
    await page.getByRole('alert').filter({ hasText: 'This link is incomplete' }).waitFor();
    assert.equal(await page.locator('form').isHidden(), true);
  });
});
