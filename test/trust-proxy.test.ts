// --trust-proxy decides whether X-Forwarded-* headers are believed: for the client address the
// login throttle counts, and for the hostname the location route returns.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { appConfig, autoConfirmUserpass, provider, startServer, uniqueEmail, type TestServer } from './helpers/server.js';
import { clientOf } from './helpers/wire.js';

const throttle = { maxFailuresPerAccount: 100, maxFailuresPerAddress: 2, windowSeconds: 60 };

const failLogin = async (server: TestServer, forwardedFor: string, email: string) =>
  (await clientOf(server).login('local-userpass', { username: email, password: 'wrong-password' }, { 'x-forwarded-for': forwardedFor })).status;

const location = async (server: TestServer) =>
  (
    await (
      await fetch(`${server.url}/api/client/v2.0/app/${server.appId}/location`, {
        headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example' },
      })
    ).json()
  ).hostname;

describe('behind a trusted proxy', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(appConfig([provider('anon-user'), autoConfirmUserpass()]), { throttle, http: { trustProxy: true } });
  });
  after(() => server.close());

  it('counts failures per forwarded client address', async () => {
    const email = uniqueEmail();
    assert.equal(await failLogin(server, '198.51.100.1', email), 401);
    assert.equal(await failLogin(server, '198.51.100.1', email), 401);
    assert.equal(await failLogin(server, '198.51.100.1', email), 429);
    assert.equal(await failLogin(server, '198.51.100.2', email), 401);
  });

  it('returns the forwarded scheme and host as hostname', async () => {
    assert.equal(await location(server), 'https://public.example');
  });
});

describe('without --trust-proxy', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(appConfig([provider('anon-user'), autoConfirmUserpass()]), { throttle });
  });
  after(() => server.close());

  it('ignores X-Forwarded-For: a client cannot dodge the throttle by inventing addresses', async () => {
    const email = uniqueEmail();
    assert.equal(await failLogin(server, '198.51.100.1', email), 401);
    assert.equal(await failLogin(server, '198.51.100.2', email), 401);
    assert.equal(await failLogin(server, '198.51.100.3', email), 429);
  });

  it('ignores X-Forwarded-Host for the hostname', async () => {
    assert.equal(await location(server), server.url);
  });
});
