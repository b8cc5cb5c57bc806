// The README's quick start, end to end on the bundled example app (what `npm start` serves):
// `baste serve --app examples/todo` prints where mail goes, realm-web registers, the outbox holds
// the link to Baste's confirm page on this server (the export names http://localhost:8080/…, the
// server listens elsewhere), Debian's Chromium (playwright-core) opens it and shows success, and
// realm-web logs in. Skipped, saying so, without /usr/bin/chromium.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import * as Realm from 'realm-web';
import { serve, stop, type Served } from './helpers/cli.js';
import { EXAMPLE } from './helpers/example-app.js';
import { mailedLink, readOutbox } from './helpers/outbox.js';
import { uniqueEmail } from './helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const noBrowser = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: the example app's browser test skipped (apt-get install -y chromium)`;
const APP_ID = 'todo-abcde';
const PASSWORD = 'todo-pass-1';

describe('the example app: register → the outbox link in Chromium → confirmed → logged in', { skip: noBrowser }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'baste-example-'));
  const dataDir = join(tmp, 'data');
  let served: Served;
  let browser: Browser;

  before(async () => {
    served = await serve(['--app', EXAMPLE, '--data-dir', dataDir]);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  after(async () => {
    await browser?.close();
    if (served) await stop(served);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('confirms through Baste\'s page and logs in with realm-web', async () => {
    // The banner tells a developer where the link will be.
    assert.ok(served.output().includes(`confirmation and reset links are written to ${join(dataDir, 'outbox')}/`), served.output());

    const app = new Realm.App({ id: APP_ID, baseUrl: served.url });
    const email = uniqueEmail('example');
    await app.emailPasswordAuth.registerUser({ email, password: PASSWORD });
    await assert.rejects(app.logIn(Realm.Credentials.emailPassword(email, PASSWORD)), (err: { errorCode?: string }) => err.errorCode === 'AuthError');

    const mail = readOutbox(dataDir).find((m) => m.to === email && m.kind === 'confirm');
    assert.equal(mail?.subject, 'Confirm your todo account');
    const link = mailedLink(dataDir, email);
    assert.equal(`${link.origin}${link.pathname}`, `${served.url}/app/${APP_ID}/confirm`);

    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    page.setDefaultTimeout(10_000);
    await page.goto(link.href);
    await page.getByRole('status').filter({ hasText: 'Your email address is confirmed' }).waitFor();
    assert.deepEqual(pageErrors, []);
    await page.close();

    const user = await app.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    assert.equal(user.profile.email, email);
    // The example's reset link opens Baste's reset page on this server too.
    await app.emailPasswordAuth.sendResetPasswordEmail({ email });
    const reset = mailedLink(dataDir, email, 'reset');
    assert.equal(`${reset.origin}${reset.pathname}`, `${served.url}/app/${APP_ID}/reset`);
    await user.logOut();
  });
});
