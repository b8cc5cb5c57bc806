// Stitch GitHub service webhooks with a secret (issue 15): GitHub signs every delivery with
// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` and the legacy
// `X-Hub-Signature: sha1=<hex HMAC-SHA1>`, never with the generic `X-Hook-Signature`. A delivery
// signed as GitHub signs runs the webhook; anything else is refused and runs nothing. Fixture: a
// 2018-format Stitch export (stitch-2018-github), over real HTTP.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as Realm from 'realm-web';
import { loadAppDirectory } from '../src/app/load.js';
import type { AppConfig } from '../src/app/model.js';
import { startServer, type TestServer } from './helpers/server.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'apps', 'stitch-2018-github');
const SECRET = 'octo-deploy-7731';
// A push delivery as GitHub sends it: compact JSON, the signature over these exact bytes.
const PUSH = JSON.stringify({ ref: 'refs/heads/main', before: '9c2f0e1', after: '4b8d7a3', repository: { full_name: 'acme/site' } });
const hmac = (alg: 'sha256' | 'sha1', secret: string, body: string) => `${alg}=${createHmac(alg, secret).update(body).digest('hex')}`;

describe('GitHub webhooks verify X-Hub-Signature-256 and X-Hub-Signature', () => {
  let config: AppConfig;
  let server: TestServer;
  let pushCount: () => Promise<number>;

  before(async () => {
    config = (await loadAppDirectory(FIXTURE)).config;
    server = await startServer(config, { functions: { timeoutMs: 5000, memoryMb: 64 } });
    const app = new Realm.App({ id: config.appId, baseUrl: server.url });
    const user = await app.logIn(Realm.Credentials.anonymous());
    pushCount = async () => Number(await user.functions.callFunction('pushCount'));
  });
  after(async () => {
    await server?.close();
  });

  const deliver = (body: string, headers: Record<string, string>) =>
    fetch(`${server.url}/api/client/v2.0/app/${config.appId}/service/repo/incoming_webhook/onPush`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'user-agent': 'GitHub-Hookshot/5c1a2b3', 'x-github-event': 'push', ...headers },
    });

  it('loads the webhook as a GitHub-signed one', () => {
    const hook = config.webhooks?.find((w) => w.service === 'repo' && w.name === 'onPush');
    assert.equal(hook?.validationMethod, 'VERIFY_PAYLOAD');
    assert.equal(hook?.githubSignature, true);
  });

  it('a delivery signed as GitHub signs it (both headers) runs the webhook', async () => {
    const before = await pushCount();
    const res = await deliver(PUSH, { 'x-hub-signature-256': hmac('sha256', SECRET, PUSH), 'x-hub-signature': hmac('sha1', SECRET, PUSH) });
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await res.json(), { queued: '4b8d7a3' });
    assert.equal(await pushCount(), before + 1);
  });

  it('the SHA-256 header alone, or the legacy SHA-1 header alone, is accepted', async () => {
    const before = await pushCount();
    assert.equal((await deliver(PUSH, { 'x-hub-signature-256': hmac('sha256', SECRET, PUSH) })).status, 200);
    assert.equal((await deliver(PUSH, { 'x-hub-signature': hmac('sha1', SECRET, PUSH) })).status, 200);
    assert.equal(await pushCount(), before + 2);
  });

  it('anything else is refused with 401 and runs nothing', async () => {
    const before = await pushCount();
    const tampered = PUSH.replace('4b8d7a3', 'deadbee');
    const refusals: [string, Record<string, string>][] = [
      ['no signature', {}],
      ['a tampered body', { 'x-hub-signature-256': hmac('sha256', SECRET, PUSH) }],
      ['another secret', { 'x-hub-signature-256': hmac('sha256', 'not-the-secret', PUSH) }],
      ['a wrong SHA-256 beside a right SHA-1 (the SHA-256 header decides)', { 'x-hub-signature-256': hmac('sha256', 'nope', PUSH), 'x-hub-signature': hmac('sha1', SECRET, PUSH) }],
      ['a SHA-256 digest under the sha1 name', { 'x-hub-signature': hmac('sha256', SECRET, PUSH).replace('sha256=', 'sha1=') }],
      ['the generic X-Hook-Signature GitHub never sends', { 'x-hook-signature': hmac('sha256', SECRET, PUSH) }],
      ['the bare hex without its prefix', { 'x-hub-signature-256': hmac('sha256', SECRET, PUSH).slice(7) }],
    ];
    for (const [why, headers] of refusals) {
      const body = why === 'a tampered body' ? tampered : PUSH;
      const res = await deliver(body, headers);
      assert.equal(res.status, 401, why);
      const error = (await res.json()) as { error: string; error_code: string };
      assert.ok(error.error_code, why);
      assert.ok(!JSON.stringify(error).includes(SECRET), 'the secret is never in the answer');
    }
    assert.equal(await pushCount(), before, 'a refused delivery runs nothing');
  });
});
