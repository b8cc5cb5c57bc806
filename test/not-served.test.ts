// Routes the platform has and Baste does not serve answer a Stitch-shaped 404 `NotServedByBaste`
// naming the feature and what to do instead, over real HTTP: realm-core's Device Sync WebSocket,
// GraphQL, push registration, any other path under the client and admin APIs. Elsewhere an
// unknown path stays a plain `NotFound`.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import * as Realm from 'realm-web';
import { appConfig, provider, startServer, type TestServer } from './helpers/server.js';

const APP_ID = 'unserved-abcde';
let server: TestServer;

before(async () => {
  server = await startServer(appConfig([provider('anon-user')], APP_ID));
});
after(async () => {
  await server?.close();
});

interface Answer {
  status: number;
  contentType: string | null;
  body: { error: string; error_code: string; link: string };
}

async function send(method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const res = await fetch(`${server.url}${path}`, { method, headers: init.headers, body: init.body });
  return { status: res.status, contentType: res.headers.get('content-type'), body: (await res.json()) as Answer['body'] };
}

/** The not-served answer: 404, JSON exactly (the Stitch SDK parses nothing else), the Stitch shape. */
function assertNotServed(a: Answer, mentions: RegExp) {
  assert.equal(a.status, 404);
  assert.equal(a.contentType, 'application/json');
  assert.deepEqual(Object.keys(a.body).sort(), ['error', 'error_code', 'link']);
  assert.equal(a.body.error_code, 'NotServedByBaste');
  assert.match(a.body.error, /not served by Baste/);
  assert.match(a.body.error, mentions);
}

describe('routes Baste does not serve', () => {
  it("realm-core's Device Sync WebSocket handshake is refused with 404 (a fatal error to its sync client, not a retry)", async () => {
    const { port } = new URL(server.url);
    const answer = await new Promise<{ status: number; contentType?: string; text: string }>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port,
        path: `/api/client/v2.0/app/${APP_ID}/realm-sync`,
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'sec-websocket-version': '13',
          'sec-websocket-protocol': 'com.mongodb.realm-query-sync#10',
          authorization: 'Bearer not-even-a-token',
        },
      });
      req.on('upgrade', () => reject(new Error('the server switched protocols')));
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], text }));
      });
      req.on('error', reject);
      req.end();
    });
    assertNotServed({ status: answer.status, contentType: answer.contentType ?? null, body: JSON.parse(answer.text) }, /Device Sync \(realm-sync\).*without a sync configuration/);
  });

  it('GraphQL, push registration and their sub-paths say which feature it is', async () => {
    const json = { 'content-type': 'application/json' };
    assertNotServed(await send('POST', `/api/client/v2.0/app/${APP_ID}/graphql`, { headers: json, body: '{"query":"{ items { _id } }"}' }), /GraphQL API/);
    assertNotServed(await send('GET', `/api/client/v2.0/app/${APP_ID}/graphql/schema`), /GraphQL API/);
    assertNotServed(await send('PUT', `/api/client/v2.0/app/${APP_ID}/push/providers/gcm/registration`, { headers: json, body: '{"registrationToken":"x"}' }), /push notifications/);
    assertNotServed(await send('DELETE', `/api/client/v2.0/app/${APP_ID}/push/providers/gcm/registration`), /push notifications/);
  });

  it('any other path under the client API is not served, naming the method and path', async () => {
    const a = await send('GET', `/api/client/v2.0/app/${APP_ID}/no/such/route?x=secret-looking`);
    assertNotServed(a, /^GET \/api\/client\/v2\.0\/app\/unserved-abcde\/no\/such\/route is not served by Baste/);
    assert.doesNotMatch(a.body.error, /secret-looking/, 'the query string is not echoed');
    // A served path with a method it does not take.
    assertNotServed(await send('DELETE', `/api/client/v2.0/app/${APP_ID}/location`), /^DELETE \/api\/client\/v2\.0\/app\/unserved-abcde\/location is not served/);
  });

  it('an unknown admin API path is not served, with or without a token (nothing about the app is revealed)', async () => {
    const a = await send('GET', `/api/admin/v3.0/groups/g/apps/${APP_ID}/hosting/assets`);
    assertNotServed(a, /admin API serves the user, API key, trigger and security routes/);
    const b = await send('GET', `/api/admin/v3.0/groups/g/apps/${APP_ID}/logs`, { headers: { authorization: 'Bearer baste_admin_not-a-real-token' } });
    assertNotServed(b, /^GET \/api\/admin\/v3\.0\/groups\/g\/apps\/unserved-abcde\/logs is not served by Baste/);
  });

  it('a path outside the APIs stays a plain NotFound', async () => {
    const a = await send('GET', '/nowhere');
    assert.equal(a.status, 404);
    assert.equal(a.body.error_code, 'NotFound');
    assert.equal(a.body.error, 'no route for GET /nowhere');
  });

  it('realm-web surfaces the message and code as they are, and does not refresh or retry on it', async () => {
    const seen: string[] = [];
    const counting = (input: string, init?: RequestInit) => (seen.push(`${init?.method ?? 'GET'} ${new URL(input).pathname}`), fetch(input, init));
    const app = new Realm.App({ id: APP_ID, baseUrl: server.url, fetch: counting as never });
    const user = await app.logIn(Realm.Credentials.anonymous());
    // realm-web's own authenticated request to a path it has no helper for (what a GraphQL client
    // built on it does): the access token goes along, the 404 comes back once.
    const fetcher = (app as unknown as { fetcher: { fetchJSON(r: unknown): Promise<unknown> } }).fetcher;
    try {
      await assert.rejects(
        fetcher.fetchJSON({ method: 'POST', path: `/api/client/v2.0/app/${APP_ID}/graphql`, body: { query: '{ items { _id } }' }, tokenType: 'access', user }),
        (err: { statusCode?: number; errorCode?: string; error?: string }) => {
          assert.equal(err.statusCode, 404);
          assert.equal(err.errorCode, 'NotServedByBaste');
          assert.match(err.error ?? '', /GraphQL API is not served by Baste/);
          return true;
        },
      );
    } finally {
      await user.logOut();
    }
    assert.deepEqual(seen.filter((s) => s.endsWith('/graphql')), [`POST /api/client/v2.0/app/${APP_ID}/graphql`]);
    assert.ok(!seen.some((s) => s === 'POST /api/client/v2.0/auth/session'), `no refresh: ${seen.join(', ')}`);
  });
});
