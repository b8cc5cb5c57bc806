// Signing-key rotation, token lifetimes and the anonymous sweep, with a clock the test moves.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rotateSigningKey } from '../src/sessions/keys.js';
import { appConfig, autoConfirmUserpass, decodeJwt, provider, startServer, type TestServer } from './helpers/server.js';

describe('sessions with a controlled clock', () => {
  let now = Date.UTC(2026, 0, 1);
  let server: TestServer;
  const call = (method: string, path: string, token?: string) =>
    fetch(`${server.url}/api/client/v2.0${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
      },
      body: method === 'POST' ? '{}' : undefined,
    });
  const loginAnon = async () => (await call('POST', `/app/${server.appId}/auth/providers/anon-user/login`)).json();

  before(async () => {
    server = await startServer(appConfig([provider('anon-user'), autoConfirmUserpass()]), {
      clock: () => now,
      sessions: { accessTokenTtlSeconds: 60, refreshTokenTtlSeconds: 3600 },
      anonymousSweep: { inactiveDays: 1, intervalSeconds: 0 },
    });
  });
  after(() => server.close());

  it('expires access tokens at their lifetime, and a refresh issues a new one', async () => {
    const login = await loginAnon();
    assert.equal((await call('GET', '/auth/profile', login.access_token)).status, 200);
    now += 61_000;
    const expired = await call('GET', '/auth/profile', login.access_token);
    assert.equal(expired.status, 401);
    assert.equal((await expired.json()).error_code, 'InvalidSession');
    const refreshed = await (await call('POST', '/auth/session', login.refresh_token)).json();
    assert.equal(decodeJwt(refreshed.access_token).iat, Math.floor(now / 1000));
    assert.equal((await call('GET', '/auth/profile', refreshed.access_token)).status, 200);
  });

  it('expires refresh tokens at their lifetime', async () => {
    const login = await loginAnon();
    now += 3601_000;
    assert.equal((await call('POST', '/auth/session', login.refresh_token)).status, 401);
  });

  it('keeps verifying tokens of a rotated key until they expire, and signs new ones with the new key', async () => {
    const before = await loginAnon();
    const oldKid = JSON.parse(Buffer.from(before.access_token.split('.')[0], 'base64url').toString()).kid;
    const newKid = await rotateSigningKey(server.baste.store, now);
    now += 2_000; // past the unknown-kid reload guard
    assert.equal((await call('GET', '/auth/profile', before.access_token)).status, 200);
    const after = await loginAnon();
    // the signer picks the new key up within a minute of the rotation
    now += 61_000;
    const refreshed = await (await call('POST', '/auth/session', after.refresh_token)).json();
    const refreshedKid = JSON.parse(Buffer.from(refreshed.access_token.split('.')[0], 'base64url').toString()).kid;
    assert.notEqual(oldKid, newKid);
    assert.equal(refreshedKid, newKid);
    // once the grace period (the access-token lifetime) is over, the retired key verifies nothing
    assert.equal((await call('GET', '/auth/profile', before.access_token)).status, 401);
  });

  it('sweeps anonymous users inactive past the limit, keeps active and linked ones', async () => {
    const stale = await loginAnon();
    now += 2 * 86_400_000;
    const fresh = await loginAnon();
    const removed = await server.baste.sweepAnonymousUsers();
    assert.ok(removed >= 1);
    assert.equal(await server.baste.store.getUser(stale.user_id), null);
    assert.ok(await server.baste.store.getUser(fresh.user_id));
    assert.equal((await call('POST', '/auth/session', stale.refresh_token)).status, 401);
  });
});
