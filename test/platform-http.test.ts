// Function code from a Stitch-era export, unmodified, over real HTTP: a Twilio-style form webhook
// reading `payload.query.Body`, a partner webhook checking `requestHeaders.Authorization`, header
// names as the platform gave them (client calls through realm-web and the Stitch server SDK too),
// form bodies in HTTPS endpoints with their limits, and legacy third-party services: the `http`
// service as `context.services.get("myHttp").post(...)`, the ones Baste does not serve failing
// with one clear error. Fixture: test/fixtures/apps/stitch-sms-desk.

import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { AnonymousCredential, type StitchAppClient } from 'mongodb-stitch-server-sdk';
import * as Realm from 'realm-web';
import { loadAppDirectory } from '../src/app/load.js';
import type { AppConfig } from '../src/app/model.js';
import { appFunction, endpointConfig, startServer, type TestServer } from './helpers/server.js';
import { stitchClientFor } from './helpers/stitch.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'apps', 'stitch-sms-desk');
const HOOK_SECRET = 'twilio-hook-2019';
const FORM = 'application/x-www-form-urlencoded';

/** An endpoint function as people wrote them: echoes what it was given. */
const ECHO_FORM = `exports = function(payload, response) {
  return {
    query: payload.query,
    keys: Object.keys(payload.query),
    body: payload.body === undefined ? null : payload.body.text(),
    contentType: payload.headers["Content-Type"],
    tags: payload.headers["X-Tag"],
    auth: context.request.requestHeaders.Authorization,
    forwardedFor: context.request.requestHeaders["X-Forwarded-For"],
    lowerCaseNames: Object.keys(payload.headers).filter(function(k) { return k === k.toLowerCase() && /[a-z]/.test(k); })
  };
};`;

interface Seen {
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
}

describe('platform HTTP semantics in a Stitch export', () => {
  let server: TestServer;
  let target: Server;
  let targetUrl: string;
  const seen: Seen[] = [];
  let rw: Realm.App;
  let stitch: StitchAppClient;

  const hook = (service: string, name: string, query = '') => `${server.url}/api/client/v2.0/app/${server.appId}/service/${service}/incoming_webhook/${name}${query}`;
  const ep = (path: string) => `${server.url}/app/${server.appId}/endpoint${path}`;

  /** A raw request, so repeated header lines go out as separate lines. */
  const raw = (url: string, method: string, headers: Record<string, string | string[]>, body?: Buffer | string) =>
    new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
      const req = httpRequest(url, { method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
        });
      });
      req.on('error', reject);
      req.end(body);
    });

  before(async () => {
    // Where the legacy `http` service sends its requests: answers 201 with the body it got.
    target = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        seen.push({ method: req.method ?? '', headers: req.headers, body });
        if (req.method === 'HEAD') return void res.writeHead(200, { 'x-head': 'yes' }).end();
        res.writeHead(201, { 'content-type': 'application/json' }).end(body || '{}');
      });
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/hooks/owner`;

    const { config } = await loadAppDirectory(FIXTURE);
    // The export has no HTTPS endpoints (Stitch had none): add two, as a converted app would.
    const app: AppConfig = {
      ...config,
      functions: new Map([
        ...config.functions,
        appFunction('echoForm', ECHO_FORM, { private: true, runAsSystem: true }),
        appFunction('keyedCanonical', 'exports = function() { return "in"; };', { private: true, runAsSystem: true, canEvaluate: { '%%request.requestHeaders.X-Desk-Key': 'k1' } }),
        appFunction('keyedLower', 'exports = function() { return "in"; };', { private: true, runAsSystem: true, canEvaluate: { '%%request.requestHeaders.x-desk-key': 'k1' } }),
      ]),
      endpoints: [
        endpointConfig('/sms', 'echoForm', { httpMethod: '*' }),
        endpointConfig('/keyed/canonical', 'keyedCanonical'),
        endpointConfig('/keyed/lower', 'keyedLower'),
      ],
    };
    server = await startServer(app, { functions: { timeoutMs: 5000, memoryMb: 64 } });
    rw = new Realm.App({ id: server.appId, baseUrl: server.url });
    await rw.logIn(Realm.Credentials.anonymous(false));
    stitch = stitchClientFor(server, `platform-http-${Date.now()}`);
    await stitch.auth.loginWithCredential(new AnonymousCredential());
  });

  after(async () => {
    stitch.close();
    await server.close();
    await new Promise((r) => target.close(r));
  });

  describe('form bodies', () => {
    it('a Twilio-style webhook reads the SMS from payload.query, beside the URL parameters (which win)', async () => {
      const sms = 'From=%2B15551230000&To=%2B15559870000&Body=Hello+desk%21+%E2%98%95&MessageSid=SM0001&store=south';
      const res = await fetch(hook('smsInbound', 'onMessage', `?secret=${HOOK_SECRET}&store=north`), {
        method: 'POST',
        headers: { 'content-type': `${FORM}; charset=UTF-8`, 'x-twilio-signature': 'ignored' },
        body: sms,
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/xml');
      assert.match(await res.text(), /<Message>Thanks, we got: Hello desk! ☕<\/Message>/);
      const inbox = (await rw.currentUser!.functions.latestMessages()) as Record<string, unknown>[];
      assert.deepEqual(inbox, [{ from: '+15551230000', to: '+15559870000', body: 'Hello desk! ☕', sid: 'SM0001', store: 'north' }]);
    });

    it('the webhook still checks its secret first, and refuses a malformed form without running', async () => {
      const wrong = await fetch(hook('smsInbound', 'onMessage', '?secret=nope'), { method: 'POST', headers: { 'content-type': FORM }, body: 'From=x&Body=y&MessageSid=SM0002' });
      assert.equal(wrong.status, 401);
      const bad = await fetch(hook('smsInbound', 'onMessage', `?secret=${HOOK_SECRET}`), { method: 'POST', headers: { 'content-type': FORM }, body: 'From=x&Body=100%&MessageSid=SM0003' });
      assert.equal(bad.status, 400);
      const err = (await bad.json()) as Record<string, unknown>;
      assert.equal(err.error_code, 'BadRequest');
      assert.match(String(err.error), /not valid application\/x-www-form-urlencoded: field 2 has a '%'/);
      assert.equal(err.link, '');
      const inbox = (await rw.currentUser!.functions.latestMessages()) as { sid: string }[];
      assert.deepEqual(inbox.map((m) => m.sid), ['SM0001'], 'neither request stored anything');
    });

    it('endpoints: form fields join payload.query; a repeated key keeps its first value; secret never appears; the body stays', async () => {
      const body = 'a=1&a=2&b=x+y%20z&secret=leak&empty=&flag&&__proto__=p';
      const res = await raw(ep('/sms?a=0&c=3'), 'POST', { 'content-type': FORM }, body);
      assert.equal(res.status, 200);
      assert.deepEqual(res.json.keys, ['a', 'c', 'b', 'empty', 'flag', '__proto__']);
      const query = res.json.query as Record<string, unknown>;
      assert.deepEqual([query.a, query.c, query.b, query.empty, query.flag, Object.getOwnPropertyDescriptor(query, '__proto__')?.value], ['0', '3', 'x y z', '', '', 'p']);
      assert.equal(res.json.body, body);
      // The same fields posted as JSON stay in the body only.
      const json = await raw(ep('/sms?c=3'), 'POST', { 'content-type': 'application/json' }, '{"a":"1"}');
      assert.deepEqual(json.json.query, { c: '3' });
    });

    it('multipart bodies are left to the function (payload.body); fields are not parsed into query', async () => {
      const form = new FormData();
      form.append('Body', 'in a multipart');
      const res = await fetch(ep('/sms?c=3'), { method: 'POST', body: form });
      const out = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, 200);
      assert.deepEqual(out.query, { c: '3' });
      assert.match(String(out.body), /name="Body"\r\n\r\nin a multipart/);
    });

    it('bad or oversized forms are a Stitch-shaped 4xx, never a 500', async () => {
      const cases: [string, Blob | string, number, string, RegExp][] = [
        ['bad escape', 'a=%zz', 400, 'BadRequest', /field 1 has a '%'/],
        ['truncated escape', 'a=1&b=%4', 400, 'BadRequest', /field 2 has a '%'/],
        ['not UTF-8', 'name=%ff%fe', 400, 'BadRequest', /field 1 is not UTF-8/],
        ['raw bytes not UTF-8', new Blob([new Uint8Array([0x61, 0x3d, 0xc3])]), 400, 'BadRequest', /field 1 is not UTF-8/],
        ['too many fields', Array.from({ length: 10_001 }, (_, i) => `f${i}=1`).join('&'), 400, 'BadRequest', /at most 10000 fields/],
        ['over 10 MiB', `a=${'x'.repeat(10 * 1024 * 1024)}`, 413, 'PayloadTooLarge', /at most 10 MiB/],
      ];
      for (const [what, body, status, code, message] of cases) {
        const res = await fetch(ep('/sms'), { method: 'POST', headers: { 'content-type': FORM }, body });
        const err = (await res.json()) as Record<string, unknown>;
        assert.equal(res.status, status, what);
        assert.equal(res.headers.get('content-type'), 'application/json', what);
        assert.deepEqual([err.error_code, err.link], [code, ''], what);
        assert.match(String(err.error), message, what);
      }
      // The same 10,000 fields are fine.
      const ok = await fetch(ep('/sms'), { method: 'POST', headers: { 'content-type': FORM }, body: Array.from({ length: 10_000 }, (_, i) => `f${i}=1`).join('&') });
      assert.equal(ok.status, 200);
      assert.equal(((await ok.json()) as { keys: string[] }).keys.length, 10_000);
    });
  });

  describe('header names', () => {
    it('endpoints see canonical names with one array element per header line, Authorization included', async () => {
      const res = await raw(ep('/sms'), 'GET', {
        authorization: 'Token partner-1',
        'x-forwarded-for': '203.0.113.9',
        'X-TAG': ['first', 'second, with a comma'],
      });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json.auth, ['Token partner-1']);
      assert.deepEqual(res.json.forwardedFor, ['203.0.113.9']);
      assert.deepEqual(res.json.tags, ['first', 'second, with a comma']);
      assert.deepEqual(res.json.lowerCaseNames, []);
    });

    it('a partner webhook checks context.request.requestHeaders.Authorization and reads payload.headers', async () => {
      const call = (token: string) =>
        raw(hook('partner', 'orderStatus', '?order=A-17&status=shipped'), 'POST', {
          Authorization: `Token ${token}`,
          'content-type': 'application/json',
          'x-forwarded-for': '198.51.100.4',
          'x-request-id': 'r-1',
        }, '{}');
      const ok = await call('p-77d1f0');
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.json, { contentType: ['application/json'], forwardedFor: ['198.51.100.4'], requestId: ['r-1'], order: 'A-17', status: 'shipped' });
      const refused = await call('p-guess');
      assert.deepEqual([refused.status, refused.json], [401, { error: 'bad partner token' }]);
    });

    it('client calls: canonical names, Authorization and Cookie withheld (realm-web, the Stitch SDK, raw HTTP)', async () => {
      const viaRealmWeb = (await rw.currentUser!.functions.whoIsCalling()) as Record<string, unknown>;
      assert.equal(viaRealmWeb.authorization, null);
      assert.deepEqual(viaRealmWeb.contentType, ['application/json']);
      const viaStitch = (await stitch.callFunction('whoIsCalling', [])) as Record<string, unknown>;
      assert.equal(viaStitch.authorization, null);
      assert.deepEqual(viaStitch.contentType, ['application/json']);
      const res = await raw(`${server.url}/api/client/v2.0/app/${server.appId}/functions/call`, 'POST', {
        authorization: `Bearer ${rw.currentUser!.accessToken}`,
        'content-type': 'application/json',
        cookie: 'session=abc',
        'x-desk-client': 'web',
      }, JSON.stringify({ name: 'whoIsCalling', arguments: [] }));
      assert.equal(res.status, 200);
      assert.deepEqual([res.json.authorization, res.json.cookie, res.json.client], [null, null, ['web']]);
      const names = res.json.names as string[];
      assert.ok(names.includes('Content-Type') && names.includes('X-Desk-Client') && names.includes('Host'), names.join());
      assert.ok(names.every((n) => /^[A-Z0-9]/.test(n) && !/-[a-z]/.test(n)), names.join());
    });

    it('can_evaluate finds a header by its canonical name and by the lower-case name of the docs example', async () => {
      for (const path of ['/keyed/canonical', '/keyed/lower']) {
        assert.equal((await fetch(ep(path), { headers: { 'x-desk-key': 'k1' } })).status, 200, path);
        assert.equal((await fetch(ep(path), { headers: { 'x-desk-key': 'k2' } })).status, 403, path);
      }
    });
  });

  describe('legacy third-party services', () => {
    it('the http service posts with the options of context.http and answers its response shape', async () => {
      seen.length = 0;
      const out = (await rw.currentUser!.functions.notifyOwner(targetUrl, 'new SMS')) as Record<string, unknown>;
      assert.deepEqual(out, { status: 201, headStatus: 200, echoed: { text: 'new SMS', at: new Date(0) } });
      assert.deepEqual(seen.map((s) => s.method), ['POST', 'HEAD']);
      assert.equal(seen[0]!.headers['content-type'], 'application/json');
      assert.equal(seen[0]!.headers['x-desk'], 'sms-desk');
      assert.deepEqual(JSON.parse(seen[0]!.body), { text: 'new SMS', at: { $date: '1970-01-01T00:00:00Z' } });
    });

    it('the http service sends a multipart form and cookies; an option Baste cannot honour fails, sending nothing', async () => {
      seen.length = 0;
      assert.equal(await stitch.callFunction('postLead', [targetUrl, { name: 'Ann', phone: '+15551230000' }, false]), 201);
      assert.equal(seen.length, 1);
      const [sent] = seen;
      assert.match(String(sent!.headers['content-type']), /^multipart\/form-data; boundary=/);
      assert.equal(sent!.headers.cookie, 'crm_session=s-42');
      for (const [field, value] of [['name', 'Ann'], ['phone', '+15551230000'], ['source', 'sms-desk']]) {
        assert.match(sent!.body, new RegExp(`name="${field}"\r\n\r\n${value!.replace('+', '\\+')}\r\n`));
      }
      await assert.rejects(stitch.callFunction('postLead', [targetUrl, { name: 'Bo', phone: '1' }, true]), /digestAuth is not supported by Baste/);
      assert.equal(seen.length, 1);
    });

    it('a service Baste does not serve fails with one error naming it and its type, at any depth', async () => {
      await assert.rejects(stitch.callFunction('sendReceipt', ['ann@example.com', 'A-17']), /service 'SendMail' \(type aws-ses\) is not served by Baste/);
      await assert.rejects(rw.currentUser!.functions.archiveReceipt('r/1.txt', 'thanks'), /service 'aws' \(type aws\) is not served by Baste/);
      assert.deepEqual(await rw.currentUser!.functions.textBack('+15551230000', 'hi'), { found: true, error: "service 'twilio' (type twilio) is not served by Baste" });
    });

    it('clients cannot call a third-party service directly: no requests leave the server for them', async () => {
      seen.length = 0;
      const res = await fetch(`${server.url}/api/client/v2.0/app/${server.appId}/functions/call`, {
        method: 'POST',
        headers: { authorization: `Bearer ${rw.currentUser!.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ service: 'myHttp', name: 'post', arguments: [{ url: targetUrl, body: 'x' }] }),
      });
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as Record<string, unknown>).error_code, 'ServiceNotFound');
      assert.equal(seen.length, 0);
    });
  });
});
