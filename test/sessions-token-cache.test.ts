// The verified access-token cache (Sessions): it may spare the signature check, never the
// expiry, the key's validity or the session lookup.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rotateSigningKey, SigningKeys } from '../src/sessions/keys.js';
import { Sessions } from '../src/sessions/sessions.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import type { Store } from '../src/store/store.js';

const TTL = 60;

describe('verified access tokens', () => {
  let dir: string;
  let store: Store;
  let now = Date.UTC(2026, 0, 1);
  const clock = () => now;
  let keys: SigningKeys;
  let sessions: Sessions;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baste-token-cache-'));
    store = openSqliteStore(join(dir, 'baste.sqlite'));
    keys = new SigningKeys(store, clock, TTL * 1000);
    await keys.init();
    sessions = new Sessions(store, keys, clock, { domainId: 'd', accessTokenTtlSeconds: TTL, refreshTokenTtlSeconds: 3600 });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A user with a live session and its access token. */
  async function login(): Promise<{ token: string; sessionId: string; userId: string }> {
    const userId = Math.random().toString(16).slice(2).padEnd(24, '0').slice(0, 24);
    const { session } = sessions.prepare({ deviceId: '0'.repeat(24), providerName: 'anon-user', providerType: 'anon-user' });
    await store.loginIdentity({
      identity: { providerName: 'anon-user', providerType: 'anon-user', providerId: 'p', externalId: userId, data: {} },
      newUserId: userId,
      userType: 'normal',
      now,
      open: { session, device: { id: '0'.repeat(24), lastSeenAt: now } },
    });
    return { token: await sessions.accessTokenFor({ id: session.id, userId, deviceId: '0'.repeat(24) }), sessionId: session.id, userId };
  }

  const refusal = (message: RegExp) => (err: unknown) => {
    assert.equal((err as { code?: string }).code, 'InvalidSession');
    assert.match((err as Error).message, message);
    return true;
  };

  it('refuses a remembered token once it expires, at the second jose would', async () => {
    const { token, userId } = await login();
    assert.equal((await sessions.verifyAccessToken(token)).userId, userId);
    assert.equal((await sessions.verifyAccessToken(token)).userId, userId);
    now += (TTL - 1) * 1000;
    assert.equal((await sessions.verifyAccessToken(token)).userId, userId);
    now += 1000; // exp == now: expired
    await assert.rejects(sessions.verifyAccessToken(token), refusal(/expired/));
    await assert.rejects(sessions.verifyAccessToken(token), refusal(/expired/));
  });

  it('still refuses any other text once a token is remembered', async () => {
    const { token } = await login();
    await sessions.verifyAccessToken(token);
    const [h, p, sig] = token.split('.');
    const flipped = `${h}.${p}.${sig.slice(0, -2)}${sig.at(-2) === 'A' ? 'B' : 'A'}${sig.at(-1)}`;
    await assert.rejects(sessions.verifyAccessToken(flipped), refusal(/not valid/));
    const other = await login();
    const swapped = `${h}.${other.token.split('.')[1]}.${sig}`; // another token's claims under this signature
    await assert.rejects(sessions.verifyAccessToken(swapped), refusal(/not valid/));
  });

  it('still reads the session: a remembered token of an ended session is refused', async () => {
    const { token, sessionId } = await login();
    await sessions.verifyAccessTokenWithUser(token);
    await sessions.end(sessionId);
    await assert.rejects(sessions.verifyAccessTokenWithUser(token), refusal(/session has ended/));
    await assert.rejects(sessions.verifyAccessToken(token), refusal(/session has ended/));
  });

  it('re-checks a remembered token after the keys are reloaded, and refuses it once its key is retired', async () => {
    // A grace period shorter than the token's lifetime, so the key goes before the token expires.
    const shortKeys = new SigningKeys(store, clock, 10_000);
    await shortKeys.init();
    const short = new Sessions(store, shortKeys, clock, { domainId: 'd', accessTokenTtlSeconds: TTL, refreshTokenTtlSeconds: 3600 });
    const { token, userId } = await login();
    assert.equal((await short.verifyAccessToken(token)).userId, userId);
    await rotateSigningKey(store, now);
    now += 2000;
    await shortKeys.verificationKey('not-a-kid'); // an unknown kid reloads (at most once a second): new key objects
    assert.equal((await short.verifyAccessToken(token)).userId, userId);
    now += 9000; // retired 11 s ago, grace 10 s; the token has 49 s left
    await assert.rejects(short.verifyAccessToken(token), refusal(/unknown signing key/));
  });
});
