// Stitch Twilio service webhooks (issue 15): every call must carry the X-Twilio-Signature Twilio
// computes with the service's auth token (HMAC-SHA1 over the URL it requested and the sorted POST
// parameters, base64), over the URL as Twilio saw it (--base-url, or the proxy's headers with
// --trust-proxy). A refused call runs nothing; a webhook whose token is missing is not served and
// the load says why. Fixture: a 2018-format Stitch export (stitch-2019-twilio), over real HTTP.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as Realm from 'realm-web';
import { loadAppDirectory } from '../src/app/load.js';
import type { AppConfig } from '../src/app/model.js';
import { twilioSignature } from '../src/functions/twilio-signature.js';
import { startServer, type TestServer } from './helpers/server.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'apps', 'stitch-2019-twilio');
const TOKEN = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const LEGACY_TOKEN = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const FORM = 'application/x-www-form-urlencoded';
const SMS: [string, string][] = [
  ['ToCountry', 'US'],
  ['SmsMessageSid', 'SM0123456789abcdef0123456789abcdef'],
  ['Body', 'Hello from the field'],
  ['From', '+15550100001'],
  ['To', '+15550100002'],
  ['AccountSid', 'AC0123456789abcdef0123456789abcdef'],
];

/** Twilio's algorithm, written out here independently of the server's. */
const sign = (token: string, url: string, params: [string, string][]) =>
  createHmac('sha1', token)
    .update([...params].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).reduce((acc, [k, v]) => acc + k + v, url))
    .digest('base64');

const hookPath = (appId: string, service: string, name: string, query = '') => `/api/client/v2.0/app/${appId}/service/${service}/incoming_webhook/${name}${query}`;

it("the signature is Twilio's (the test vector of Twilio's security docs)", () => {
  const params: [string, string][] = [['CallSid', 'CA1234567890ABCDE'], ['Caller', '+14158675309'], ['Digits', '1234'], ['From', '+14158675309'], ['To', '+18005551212']];
  assert.equal(twilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', params), 'RSOYDt4T1cUTdK1PDd93/VVr8B8=');
});

describe('Twilio webhooks verify X-Twilio-Signature', () => {
  let config: AppConfig;
  let server: TestServer;
  let behindProxy: TestServer;
  let withBaseUrl: TestServer;
  let inboxSize: () => Promise<number>;

  before(async () => {
    config = (await loadAppDirectory(FIXTURE, { secrets: { twilioAuthToken: TOKEN } })).config;
    server = await startServer(config, { functions: { timeoutMs: 5000, memoryMb: 64 } });
    const app = new Realm.App({ id: config.appId, baseUrl: server.url });
    const user = await app.logIn(Realm.Credentials.anonymous());
    inboxSize = async () => Number(await user.functions.callFunction('inboxSize'));
  });
  after(async () => {
    await server?.close();
    await behindProxy?.close();
    await withBaseUrl?.close();
  });

  const post = (s: TestServer, path: string, params: [string, string][], headers: Record<string, string>) =>
    fetch(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': `${FORM}; charset=UTF-8`, ...headers }, body: new URLSearchParams(params).toString() });

  it('loads both services\' webhooks with the secret holding their auth token (secret_config, legacy secrets.json)', () => {
    const hooks = Object.fromEntries((config.webhooks ?? []).map((w) => [`${w.service}/${w.name}`, w.twilioAuthTokenSecret]));
    assert.deepEqual(Object.keys(hooks).sort(), ['textline/inbound', 'twilio/onSms']);
    assert.equal(hooks['twilio/onSms'], 'twilioAuthToken');
    assert.equal(config.secrets.get(hooks['textline/inbound']!), LEGACY_TOKEN);
  });

  it('a correctly signed SMS runs the webhook, its form fields in payload.query', async () => {
    const path = hookPath(config.appId, 'twilio', 'onSms', '?tenant=acme');
    const res = await post(server, path, SMS, { 'x-twilio-signature': sign(TOKEN, `${server.url}${path}`, SMS) });
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await res.json(), { received: 'Hello from the field' });
    const legacy = hookPath(config.appId, 'textline', 'inbound');
    const res2 = await post(server, legacy, SMS, { 'x-twilio-signature': sign(LEGACY_TOKEN, `${server.url}${legacy}`, SMS) });
    assert.equal(res2.status, 200, await res2.clone().text());
    assert.equal(await inboxSize(), 2);
  });

  it('refused, running nothing: no signature, a wrong one, another key, a tampered body or URL', async () => {
    const path = hookPath(config.appId, 'twilio', 'onSms');
    const url = `${server.url}${path}`;
    const good = sign(TOKEN, url, SMS);
    const tampered: [string, string][] = SMS.map(([k, v]) => [k, k === 'Body' ? 'Send me money' : v]);
    for (const [what, params, headers] of [
      ['no signature', SMS, {}],
      ['garbage', SMS, { 'x-twilio-signature': 'not-a-signature' }],
      ['another auth token', SMS, { 'x-twilio-signature': sign(LEGACY_TOKEN, url, SMS) }],
      ['a tampered body', tampered, { 'x-twilio-signature': good }],
      ['an extra field', [...SMS, ['MediaUrl0', 'https://evil.example/x.png']], { 'x-twilio-signature': good }],
      ['another URL', SMS, { 'x-twilio-signature': sign(TOKEN, `${url}?tenant=other`, SMS) }],
    ] as [string, [string, string][], Record<string, string>][]) {
      const res = await post(server, path, params, headers);
      assert.equal(res.status, 401, what);
      const body = (await res.json()) as { error_code: string; error: string };
      assert.equal(body.error_code, 'IncomingWebhookAuthFailed', what);
      assert.doesNotMatch(body.error, new RegExp(TOKEN), what);
    }
    // The legacy-token webhook does not take the other token either.
    const legacy = hookPath(config.appId, 'textline', 'inbound');
    assert.equal((await post(server, legacy, SMS, { 'x-twilio-signature': sign(TOKEN, `${server.url}${legacy}`, SMS) })).status, 401);
    assert.equal(await inboxSize(), 2, 'no refused call stored anything');
  });

  it('the URL as Twilio saw it: --base-url, or the proxy\'s host and scheme with --trust-proxy', async () => {
    withBaseUrl = await startServer(config, { http: { baseUrl: 'https://sms.example.com/' }, functions: { timeoutMs: 5000, memoryMb: 64 } });
    const path = hookPath(config.appId, 'twilio', 'onSms');
    const local = await post(withBaseUrl, path, SMS, { 'x-twilio-signature': sign(TOKEN, `${withBaseUrl.url}${path}`, SMS) });
    assert.equal(local.status, 401, 'signed for the address Twilio did not call');
    const publicUrl = await post(withBaseUrl, path, SMS, { 'x-twilio-signature': sign(TOKEN, `https://sms.example.com${path}`, SMS) });
    assert.equal(publicUrl.status, 200);
    // Twilio's own validators accept the default port written out or not
    const withPort = await post(withBaseUrl, path, SMS, { 'x-twilio-signature': sign(TOKEN, `https://sms.example.com:443${path}`, SMS) });
    assert.equal(withPort.status, 200);

    behindProxy = await startServer(config, { http: { trustProxy: true }, functions: { timeoutMs: 5000, memoryMb: 64 } });
    const proxied = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'hooks.example.org' };
    const ok = await post(behindProxy, path, SMS, { ...proxied, 'x-twilio-signature': sign(TOKEN, `https://hooks.example.org${path}`, SMS) });
    assert.equal(ok.status, 200);
    const direct = await post(behindProxy, path, SMS, { ...proxied, 'x-twilio-signature': sign(TOKEN, `${behindProxy.url}${path}`, SMS) });
    assert.equal(direct.status, 401);
  });
});

describe('a Twilio webhook whose auth token is missing is not served, and the load says why', () => {
  it('secret named in secret_config but not provided', async () => {
    const { config, warnings } = await loadAppDirectory(FIXTURE);
    assert.deepEqual((config.webhooks ?? []).map((w) => `${w.service}/${w.name}`), ['textline/inbound']);
    const warning = warnings.find((w) => w.file === 'services/twilio/incoming_webhooks/onSms');
    assert.match(warning?.message ?? '', /not served: secret "twilioAuthToken" \(secret_config\.auth_token of services\/twilio\/config\.json\) is not provided \(--secrets or BASTE_SECRET_twilioAuthToken\)/);
    const server = await startServer(config);
    try {
      const res = await fetch(`${server.url}${hookPath(config.appId, 'twilio', 'onSms')}`, { method: 'POST', headers: { 'content-type': FORM }, body: 'Body=hi' });
      assert.equal(res.status, 404);
    } finally {
      await server.close();
    }
  });
});
