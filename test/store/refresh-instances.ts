// Refreshes (Sessions over a Store) through two instances sharing one database: a backend's test
// file calls `refreshAcrossInstances(name, openPair)`, where `openPair()` opens two stores on one
// fresh database (SQLite: two connections to one file; PostgreSQL: two pools on one schema). A
// refresh may find its session in the store's cache, whose last use lags the other instance's
// refreshes; revocations must still be refused, and the idle timeout decided on the row.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SigningKeys } from '../../src/sessions/keys.js';
import { Sessions, type SessionSettings } from '../../src/sessions/sessions.js';
import type { Store } from '../../src/store/store.js';

const HOUR = 3_600_000;

export function refreshAcrossInstances(name: string, openPair: () => Promise<readonly [Store, Store]>): void {
  describe(`refresh through two instances: ${name}`, () => {
    /** Both instances' Sessions on one fake clock, and a way to log a new user in through the first. */
    const setUp = async (a: Store, b: Store, settings: Partial<SessionSettings> = {}) => {
      const clock = { now: Date.UTC(2026, 0, 1) };
      const all: SessionSettings = { domainId: 'd', accessTokenTtlSeconds: 60, refreshTokenTtlSeconds: 30 * 24 * 3600, ...settings };
      const sessionsOf = async (store: Store) => {
        const keys = new SigningKeys(store, () => clock.now, 60_000);
        await keys.init();
        return new Sessions(store, keys, () => clock.now, all);
      };
      const onA = await sessionsOf(a);
      const onB = await sessionsOf(b);
      let n = 0;
      const login = async () => {
        const deviceId = `${++n}`.padStart(24, 'd');
        const { session, refreshSecret } = onA.prepare({ deviceId, providerName: 'local-userpass', providerType: 'local-userpass' });
        const identity = { externalId: `ri${n}`, providerName: 'local-userpass', providerType: 'local-userpass', providerId: 'p'.repeat(24), data: {} };
        const { userId } = await a.loginIdentity({ identity, newUserId: `${n}`.padStart(24, 'e'), userType: 'normal', now: clock.now, open: { session, device: { id: deviceId, lastSeenAt: clock.now } } });
        const token = await onA.refreshTokenFor({ ...session, userId }, refreshSecret, { id: identity.externalId, providerType: 'local-userpass', providerId: 'p'.repeat(24) });
        return { userId, sessionId: session.id, token };
      };
      return { clock, onA, onB, login };
    };
    const refused = (message: RegExp) => (err: unknown) => {
      assert.equal((err as { code?: string }).code, 'InvalidSession');
      assert.match((err as Error).message, message);
      return true;
    };
    /** Refreshes through `sessions` until refused; fails after 100 ms. */
    const refusedWithin100ms = async (sessions: Sessions, token: string) => {
      const t0 = performance.now();
      for (;;) {
        try {
          await sessions.refresh(token);
        } catch (err) {
          return refused(/failed to find refresh token/)(err);
        }
        assert.ok(performance.now() - t0 < 100, 'still refreshed 100 ms after the revocation');
        await new Promise((r) => setTimeout(r, 2));
      }
    };

    it('a refresh is served by the store’s cache; a logout or a deletion through the other instance is refused within 100 ms', async () => {
      const [a, b] = await openPair();
      try {
        const { onA, onB, login } = await setUp(a, b);
        const x = await login();
        // A cache out of service for a moment (PostgreSQL: a late heartbeat on a busy machine) keeps nothing.
        for (let i = 0; i < 200 && !b.sessionCacheStats!().live; i++) await new Promise((r) => setTimeout(r, 5));
        await onB.refresh(x.token);
        const hits = b.sessionCacheStats!().hits;
        await onB.refresh(x.token);
        assert.equal(b.sessionCacheStats!().hits, hits + 1, 'the second refresh on b read nothing');

        await onA.logout(x.token);
        await refusedWithin100ms(onB, x.token);

        const y = await login();
        await onB.refresh(y.token);
        await onB.refresh(y.token);
        await a.deleteUser(y.userId);
        await refusedWithin100ms(onB, y.token);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('refreshes of one session at once through one instance write its last use once', async () => {
      const [a, b] = await openPair();
      try {
        const { clock, onB, login } = await setUp(a, b, { slidingExpiration: true });
        const x = await login();
        await onB.refresh(x.token);
        clock.now += 5000;
        const touch = b.touchSession.bind(b);
        let touches = 0;
        b.touchSession = (...args) => {
          touches++;
          return touch(...args);
        };
        const refreshed = await Promise.all(Array.from({ length: 20 }, () => onB.refresh(x.token)));
        assert.equal(touches, 1);
        const [row] = await a.listSessionsOfUser(x.userId);
        assert.equal(row?.lastUsedAt, clock.now);
        for (const r of refreshed) assert.equal(r.session.expiresAt, row?.expiresAt, 'each answer tells the expiry written');
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('ends a session for its idle time only on the row: a use through the other instance counts though the cached record lags it', async () => {
      const [a, b] = await openPair();
      try {
        const { clock, onA, onB, login } = await setUp(a, b, { idleTimeoutSeconds: 3600 });
        const x = await login();
        await onB.refresh(x.token); // b caches the session, last used at login
        clock.now += 0.8 * HOUR;
        await onA.refresh(x.token); // recorded; not announced to b (its cached last use lags)
        clock.now += 0.4 * HOUR; // 1.2 h after the use b knows of, 0.4 h after the last one
        await onB.refresh(x.token);
        assert.ok(await a.findSession(x.sessionId), 'the session lives on');
        assert.equal((await a.listSessionsOfUser(x.userId))[0]?.lastUsedAt, clock.now, 'and its use is recorded');

        // Unused for the idle time: ended, whichever instance is asked.
        clock.now += 1.1 * HOUR;
        await assert.rejects(onA.refresh(x.token), refused(/session ended after 3600 seconds without use/));
        assert.equal(await a.findSession(x.sessionId), null);
        await assert.rejects(onB.refresh(x.token), refused(/failed to find refresh token/));
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });
}
