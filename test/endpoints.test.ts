// HTTPS endpoints and incoming webhooks over raw HTTP: validation by secret and signature,
// who the function runs as, the payload and response objects, and refusals that run nothing.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { FunctionConfig } from '../src/app/model.js';
import { appConfig, appFunction, autoConfirmUserpass, endpointConfig, provider, webhookConfig, startServer, type TestServer, uniqueEmail } from './helpers/server.js';

const fn = (name: string, source: string, extra: Partial<FunctionConfig> = {}) => appFunction(name, source, { private: true, ...extra });

const endpoint = endpointConfig;

const webhook = webhookConfig;

const ECHO = `exports = function(payload, response) {
  return {
    user: context.user.id || null,
    type: context.user.type,
    system: context.runningAsSystem(),
    method: context.request.httpMethod,
    rawQuery: context.request.rawQueryString,
    query: payload.query,
    body: payload.body ? payload.body.text() : null,
    webhookUrl: context.request.webhookUrl,
  };
};`;

const SECRET = 'endpoint-secret-value';
const HOOK_SECRET = 'hook-secret-value';

describe('HTTPS endpoints and webhooks', () => {
  let server: TestServer;
  const url = (path: string) => `${server.url}${path}`;
  const ep = (path: string) => url(`/app/${server.appId}/endpoint${path}`);
  const hook = (name: string, query = '') => url(`/api/client/v2.0/app/${server.appId}/service/http/incoming_webhook/${name}${query}`);
  const json = async (res: Response) => ({ status: res.status, body: res.status === 204 ? undefined : await res.json(), headers: res.headers });

  before(async () => {
    const app = {
      ...appConfig([provider('anon-user'), autoConfirmUserpass(), provider('api-key')], 'ep-app-abcde'),
      functions: new Map([
        fn('echoSystem', ECHO, { runAsSystem: true }),
        fn('echoUser', ECHO),
        fn('custom', `exports = function(payload, response) {
          response.setStatusCode(201);
          response.setHeader("X-Made-By", "baste");
          response.addHeader("X-Many", "a");
          response.addHeader("X-Many", "b");
          response.setBody(JSON.stringify({ got: EJSON.parse(payload.body.text()).n }));
          return "ignored";
        };`, { runAsSystem: true }),
        fn('statusOnly', 'exports = function(payload, response) { response.setStatusCode(202); return { kept: true }; };', { runAsSystem: true }),
        fn('quiet', 'exports = function() { return "nothing to say"; };', { runAsSystem: true }),
        fn('write', 'exports = function() { return "wrote"; };', { runAsSystem: true }),
      ]),
      secrets: new Map([['ep-secret', SECRET]]),
      endpoints: [
        endpoint('/echo', 'echoSystem', { httpMethod: '*' }),
        endpoint('/me', 'echoUser'),
        endpoint('/secret', 'echoSystem', { validationMethod: 'SECRET_AS_QUERY_PARAM', secretName: 'ep-secret' }),
        endpoint('/signed', 'write', { httpMethod: 'POST', validationMethod: 'VERIFY_PAYLOAD', secretName: 'ep-secret' }),
        endpoint('/custom', 'custom', { httpMethod: 'POST' }),
        endpoint('/status', 'statusOnly'),
        endpoint('/quiet', 'quiet', { respondResult: false }),
        endpoint('/off', 'echoSystem', { disabled: true }),
      ],
      webhooks: [
        webhook('ping', 'exports = function(payload) { return { pong: payload.query.n }; };', { validationMethod: 'SECRET_AS_QUERY_PARAM', secret: HOOK_SECRET }),
        webhook('signed', 'exports = function(payload) { return EJSON.parse(payload.body.text()); };', { httpMethod: 'POST', validationMethod: 'VERIFY_PAYLOAD', secret: HOOK_SECRET }),
        webhook('authed', ECHO, { runAsAuthedUser: true, httpMethod: 'POST' }),
        webhook('scripted', ECHO, { runAsUserIdScriptSource: 'function(payload) { return { runAsSystemUser: true }; }' }),
        webhook('guarded', ECHO, { runAsSystem: true, canEvaluate: { '%%request.requestHeaders.x-team': 'blue' } }),
        webhook('getOnly', 'exports = function() { return 1; };', { httpMethod: 'GET', runAsSystem: true }),
        webhook('silent', 'exports = function(payload, response) { response.setStatusCode(200); return { not: "sent" }; };', { runAsSystem: true }),
      ],
    };
    server = await startServer(app, { functions: { timeoutMs: 2000, memoryMb: 64 } });
  });
  after(() => server.close());

  const login = async () => {
    const email = uniqueEmail('ep');
    const base = `${server.url}/api/client/v2.0/app/${server.appId}/auth/providers/local-userpass`;
    await fetch(`${base}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'secret123' }) });
    const res = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: email, password: 'secret123' }) });
    return { email, ...(await res.json()) } as { email: string; access_token: string; refresh_token: string; user_id: string };
  };

  it('runs a system endpoint with the payload and request, answering its result as JSON', async () => {
    const res = await json(await fetch(ep('/echo?x=1&x=2&y=z'), { method: 'PUT', body: 'raw text', headers: { 'content-type': 'text/plain' } }));
    assert.equal(res.status, 200);
    assert.equal(res.body.system, true);
    assert.equal(res.body.type, 'system');
    assert.equal(res.body.method, 'PUT');
    // A repeated key keeps its first value (data-api/custom-endpoints.txt); rawQueryString has them all.
    assert.deepEqual(res.body.query, { x: '1', y: 'z' });
    assert.equal(res.body.rawQuery, 'x=1&x=2&y=z');
    assert.equal(res.body.body, 'raw text');
    assert.equal(res.body.webhookUrl, ep('/echo'));
  });

  it('requires application auth for a function that does not run as system, from a bearer token, email/password or an API key', async () => {
    const none = await json(await fetch(ep('/me')));
    assert.equal(none.status, 401);
    assert.equal(none.body.error_code, 'IncomingWebhookAuthFailed');
    const u = await login();
    const bearer = await json(await fetch(ep('/me'), { headers: { authorization: `Bearer ${u.access_token}` } }));
    assert.equal(bearer.status, 200);
    assert.deepEqual([bearer.body.user, bearer.body.system], [u.user_id, false]);
    const byPassword = await json(await fetch(ep('/me'), { headers: { email: u.email, password: 'secret123' } }));
    assert.equal(byPassword.body.user, u.user_id);
    const key = await (await fetch(`${server.url}/api/client/v2.0/auth/api_keys`, { method: 'POST', headers: { authorization: `Bearer ${u.refresh_token}`, 'content-type': 'application/json' }, body: '{"name":"ep"}' })).json();
    const byKey = await json(await fetch(ep('/me'), { headers: { 'api-key': key.key } }));
    assert.equal(byKey.body.user, u.user_id);
    const wrong = await json(await fetch(ep('/me'), { headers: { email: u.email, password: 'wrong-pass' } }));
    assert.equal(wrong.status, 401);
    const forged = await json(await fetch(ep('/me'), { headers: { authorization: 'Bearer a.b.c' } }));
    assert.equal(forged.status, 401);
    assert.doesNotMatch(forged.body.error, /malformed|signature/);
  });

  it('SECRET_AS_QUERY_PARAM: refuses a missing or wrong secret, hides the secret from the function', async () => {
    assert.equal((await fetch(ep('/secret'))).status, 401);
    assert.equal((await fetch(ep(`/secret?secret=${SECRET}x`))).status, 401);
    const ok = await json(await fetch(ep(`/secret?a=1&secret=${SECRET}`)));
    assert.equal(ok.status, 200);
    assert.equal(ok.body.rawQuery, 'a=1');
    assert.deepEqual(ok.body.query, { a: '1' });
  });

  it('VERIFY_PAYLOAD: the Endpoint-Signature must be the HMAC-SHA256 of the exact body', async () => {
    const body = '{"amount": 10}';
    const sig = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
    const post = (b: string, signature?: string) =>
      fetch(ep('/signed'), { method: 'POST', headers: { 'content-type': 'application/json', ...(signature ? { 'endpoint-signature': signature } : {}) }, body: b });
    assert.equal((await post(body)).status, 401);
    assert.equal((await post('{"amount": 1000}', sig)).status, 401);
    assert.equal((await post(body, sig.replace(/.$/, (c) => (c === '0' ? '1' : '0')))).status, 401);
    const ok = await post(body, sig);
    assert.equal(ok.status, 200);
    assert.equal(await ok.json(), 'wrote');
  });

  it('honours the response object: status, headers and body override the result', async () => {
    const res = await fetch(ep('/custom'), { method: 'POST', body: '{"n": 5}', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-made-by'), 'baste');
    assert.equal(res.headers.get('x-many'), 'a, b');
    assert.deepEqual(await res.json(), { got: 5 });
    // an endpoint keeps its return value when only the status was set; respond_result false answers 204
    const status = await json(await fetch(ep('/status')));
    assert.deepEqual([status.status, status.body], [202, { kept: true }]);
    const quiet = await fetch(ep('/quiet'));
    assert.equal(quiet.status, 204);
    assert.equal(await quiet.text(), '');
  });

  it('answers unknown, disabled and wrong-method endpoints without running anything', async () => {
    assert.equal((await fetch(ep('/nope'))).status, 404);
    assert.equal((await fetch(ep('/off'))).status, 404);
    const wrongMethod = await fetch(ep('/me'), { method: 'DELETE' });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('content-type'), 'application/json');
    assert.equal((await fetch(url('/app/other-app/endpoint/echo'))).status, 404);
  });

  it('webhooks: secret in the query, signature over the body (X-Hook-Signature), unknown and wrong method', async () => {
    assert.equal((await fetch(hook('ping', '?n=3'))).status, 401);
    const ping = await json(await fetch(hook('ping', `?n=3&secret=${HOOK_SECRET}`)));
    assert.deepEqual([ping.status, ping.body], [200, { pong: '3' }]);
    const body = JSON.stringify({ hello: 'world' });
    const sig = `sha256=${createHmac('sha256', HOOK_SECRET).update(body).digest('hex')}`;
    const signed = await json(await fetch(hook('signed'), { method: 'POST', body, headers: { 'x-hook-signature': sig } }));
    assert.deepEqual([signed.status, signed.body], [200, { hello: 'world' }]);
    assert.equal((await fetch(hook('signed'), { method: 'POST', body: '{"hello":"moon"}', headers: { 'x-hook-signature': sig } })).status, 401);
    assert.equal((await fetch(hook('nope'))).status, 404);
    assert.equal((await fetch(hook('getOnly'), { method: 'POST', body: '{}' })).status, 405);
  });

  it('webhooks: run_as_authed_user takes credentials from the body or the headers, never both', async () => {
    const u = await login();
    const none = await fetch(hook('authed'), { method: 'POST', body: '{}' });
    assert.equal(none.status, 401);
    const inBody = await json(await fetch(hook('authed'), { method: 'POST', body: JSON.stringify({ email: u.email, password: 'secret123' }) }));
    assert.deepEqual([inBody.status, inBody.body.user, inBody.body.system], [200, u.user_id, false]);
    const inHeaders = await json(await fetch(hook('authed'), { method: 'POST', body: '{}', headers: { email: u.email, password: 'secret123' } }));
    assert.equal(inHeaders.body.user, u.user_id);
    const both = await json(await fetch(hook('authed'), { method: 'POST', body: JSON.stringify({ email: u.email, password: 'secret123' }), headers: { email: u.email, password: 'secret123' } }));
    assert.equal(both.status, 401);
    assert.match(both.body.error, /not both/);
  });

  it('webhooks: a run-as script can choose the system user; can_evaluate sees the request', async () => {
    const scripted = await json(await fetch(hook('scripted')));
    assert.deepEqual([scripted.status, scripted.body.system, scripted.body.type], [200, true, 'system']);
    const refused = await json(await fetch(hook('guarded'), { headers: { 'x-team': 'red' } }));
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error_code, 'FunctionNotCallable');
    assert.equal((await fetch(hook('guarded'), { headers: { 'x-team': 'blue' } })).status, 200);
  });

  it('webhooks: once the response is touched, the return value is not sent', async () => {
    const res = await fetch(hook('silent'));
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
  });
});
