// One conformance suite for every Store backend. A backend's test file calls
// `storeConformance(name, open)` where `open()` returns a fresh, empty store.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { PASSWORD_RESET_REQUIRED, type DeviceRecord, type IdentityRecord, type ImportedUser, type NewIdentity, type OAuthStateRecord, type SessionRecord, type Store } from '../../src/store/store.js';
import { newObjectIdHex } from '../../src/util/ids.js';

const identity = (externalId: string, providerType = 'anon-user', data: Record<string, unknown> = {}): NewIdentity => ({
  externalId,
  providerName: providerType,
  providerType,
  providerId: 'p'.repeat(24),
  data,
});

const session = (userId: string, extra: Partial<SessionRecord> = {}): SessionRecord => ({
  id: newObjectIdHex(),
  userId,
  refreshHash: newObjectIdHex() + newObjectIdHex(),
  deviceId: newObjectIdHex(),
  providerName: 'anon-user',
  providerType: 'anon-user',
  createdAt: 1000,
  expiresAt: 10_000,
  apiKeyId: null,
  address: null,
  expiryCap: null,
  ...extra,
  lastUsedAt: extra.lastUsedAt ?? extra.createdAt ?? 1000,
});

export function storeConformance(name: string, open: () => Promise<Store>): void {
  describe(`store conformance: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('creates a user at the first login of an identity and finds it afterwards, refreshing its data', async () => {
      const first = await store.loginIdentity({ identity: identity('e1', 'local-userpass', { email: 'a@x' }), newUserId: 'u1'.padEnd(24, '0'), userType: 'normal', now: 10 });
      assert.deepEqual(first, { userId: 'u1'.padEnd(24, '0'), created: true, disabled: false });
      const again = await store.loginIdentity({ identity: identity('e1', 'local-userpass', { email: 'b@x' }), newUserId: 'u2'.padEnd(24, '0'), userType: 'normal', now: 20 });
      assert.deepEqual(again, { userId: 'u1'.padEnd(24, '0'), created: false, disabled: false });
      const user = await store.getUser(first.userId);
      assert.equal(user?.identities.length, 1);
      assert.deepEqual(user?.identities[0]?.data, { email: 'b@x' });
      assert.equal(user?.lastAuthAt, 20);
      assert.equal(user?.createdAt, 10);
      assert.equal(await store.getUser('u2'.padEnd(24, '0')), null);
    });

    it('creates one user when the same identity logs in many times at once', async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.loginIdentity({ identity: identity('same'), newUserId: `u${i}`.padEnd(24, '0'), userType: 'normal', now: 1 }),
        ),
      );
      assert.equal(new Set(results.map((r) => r.userId)).size, 1);
      assert.equal(results.filter((r) => r.created).length, 1);
    });

    it('answers each of many logins at once on its own: new, returning, twice the same, disabled, and failing ones', async () => {
      const opening = (id = newObjectIdHex()) => {
        const { userId: _, ...rest } = session('x'.repeat(24), { id });
        return { session: rest, device: { id: rest.deviceId, lastSeenAt: 2 } };
      };
      const known = (await store.loginIdentity({ identity: identity('known'), newUserId: 'k'.repeat(24), userType: 'normal', now: 1 })).userId;
      const off = (await store.loginIdentity({ identity: identity('off'), newUserId: 'd'.repeat(24), userType: 'normal', now: 1 })).userId;
      await store.setUserDisabled(off, true);
      const taken = session(known);
      await store.createSession(taken);
      type Case = { kind: 'new' | 'known' | 'twice' | 'disabled' | 'session-taken' | 'user-id-taken'; ext: string; newUserId: string; open: ReturnType<typeof opening> };
      const kinds: Case['kind'][] = ['new', 'known', 'twice', 'disabled', 'session-taken', 'user-id-taken'];
      const cases: Case[] = Array.from({ length: 72 }, (_, i) => {
        const kind = kinds[i % kinds.length]!;
        const ext = { new: `n${i}`, known: 'known', twice: `t${Math.floor(i / 12)}`, disabled: 'off', 'session-taken': `s${i}`, 'user-id-taken': `x${i}` }[kind];
        // A user id already taken (by `known`): the new user cannot be inserted, so this login fails.
        const newUserId = kind === 'user-id-taken' ? known : `${i}`.padStart(24, 'f');
        return { kind, ext, newUserId, open: opening(kind === 'session-taken' ? taken.id : undefined) };
      });
      const outcomes = await Promise.allSettled(
        cases.map((c) => store.loginIdentity({ identity: identity(c.ext), newUserId: c.newUserId, userType: 'normal', now: 2, open: c.open })),
      );
      const twiceOwners = new Map<string, string[]>();
      for (const [i, c] of cases.entries()) {
        const o = outcomes[i]!;
        const label = `login ${i} (${c.kind})`;
        if (c.kind === 'session-taken' || c.kind === 'user-id-taken') {
          assert.equal(o.status, 'rejected', label);
          assert.equal(await store.findIdentityOwner('anon-user', c.ext), null, `${label} left no identity behind`);
          if (c.kind === 'user-id-taken') assert.equal(await store.findSession(c.open.session.id), null, `${label} left no session`);
          continue;
        }
        assert.equal(o.status, 'fulfilled', label);
        const r = (o as PromiseFulfilledResult<Awaited<ReturnType<Store['loginIdentity']>>>).value;
        const opened = await store.findSession(c.open.session.id);
        if (c.kind === 'disabled') {
          assert.deepEqual(r, { userId: off, created: false, disabled: true }, label);
          assert.equal(opened, null, `${label} opened no session`);
          continue;
        }
        if (c.kind === 'new') assert.deepEqual(r, { userId: c.newUserId, created: true, disabled: false }, label);
        if (c.kind === 'known') assert.deepEqual(r, { userId: known, created: false, disabled: false }, label);
        if (c.kind === 'twice') twiceOwners.set(c.ext, [...(twiceOwners.get(c.ext) ?? []), r.userId + (r.created ? '+' : '')]);
        assert.equal(opened?.session.userId, r.userId, `${label} opened its session for its user`);
      }
      // Each identity logging in twice at once: one user, created by exactly one of the two.
      assert.equal(twiceOwners.size, 6);
      for (const owners of twiceOwners.values()) {
        assert.equal(owners.length, 2);
        assert.equal(owners.filter((o) => o.endsWith('+')).length, 1, owners.join());
        assert.equal(new Set(owners.map((o) => o.replace('+', ''))).size, 1, owners.join());
      }
      assert.equal((await store.getUser(known))?.identities.length, 1);
      assert.deepEqual(await store.findSession(taken.id), { session: taken, userDisabled: false });
    });

    it('commits logins of new anonymous identities arriving together, each with its identity, user, device and session', async () => {
      const cases = Array.from({ length: 40 }, (_c, i) => {
        const { userId: _, ...rest } = session('x'.repeat(24));
        const device = { id: rest.deviceId, platform: 'web', platformVersion: `${i}`, sdkVersion: '1', appId: 'app', appVersion: '2', lastSeenAt: 3 };
        return { ext: `fresh${i}`, newUserId: `${i}`.padStart(24, 'a'), open: { session: rest, device }, data: { n: i, quote: 'a"b\\c,{}' } };
      });
      const results = await Promise.all(
        cases.map((c) => store.loginIdentity({ identity: identity(c.ext, 'anon-user', c.data), newUserId: c.newUserId, userType: 'normal', now: 3, open: c.open })),
      );
      for (const [i, c] of cases.entries()) {
        assert.deepEqual(results[i], { userId: c.newUserId, created: true, disabled: false }, `login ${i}`);
        const user = await store.getUser(c.newUserId);
        assert.deepEqual(user?.identities.map((x) => [x.externalId, x.providerType, x.data, x.createdAt]), [[c.ext, 'anon-user', c.data, 3]]);
        assert.equal(user?.createdAt, 3);
        assert.equal(user?.lastAuthAt, 3);
        assert.equal(user?.type, 'normal');
        assert.deepEqual(await store.findSession(c.open.session.id), { session: { ...c.open.session, userId: c.newUserId }, userDisabled: false });
        assert.deepEqual(await store.listDevices(c.newUserId), [{ ...c.open.device, userId: c.newUserId }]);
      }
    });

    it('answers anonymous logins arriving together that are not new after all: returning, twice the same, disabled', async () => {
      const opening = () => {
        const { userId: _, ...rest } = session('x'.repeat(24));
        return { session: rest, device: { id: rest.deviceId, lastSeenAt: 4 } };
      };
      const known = (await store.loginIdentity({ identity: identity('back'), newUserId: 'b'.repeat(24), userType: 'normal', now: 1 })).userId;
      const off = (await store.loginIdentity({ identity: identity('gone'), newUserId: 'c'.repeat(24), userType: 'normal', now: 1 })).userId;
      await store.setUserDisabled(off, true);
      // With and without logins of other providers among them (one transaction, or the anonymous logins' statement alone).
      const kinds = ['new', 'known', 'twice', 'disabled', 'new', 'known', 'twice', 'disabled', 'other'] as const;
      const cases = Array.from({ length: 54 }, (_c, i) => {
        const kind = i < 18 ? kinds[i % 4]! : kinds[i % kinds.length]!;
        const ext = { new: `new${i}`, known: 'back', twice: `two${Math.floor(i / 9)}`, disabled: 'gone', other: `other${i}` }[kind];
        return { kind, ext, newUserId: `${i}`.padStart(24, 'e'), open: opening() };
      });
      const results: Awaited<ReturnType<Store['loginIdentity']>>[] = [];
      for (const part of [cases.slice(0, 18), cases.slice(18)]) {
        results.push(
          ...(await Promise.all(
            part.map((c) =>
              store.loginIdentity({ identity: identity(c.ext, c.kind === 'other' ? 'local-userpass' : 'anon-user'), newUserId: c.newUserId, userType: 'normal', now: 4, open: c.open }),
            ),
          )),
        );
      }
      const twiceOwners = new Map<string, string[]>();
      for (const [i, c] of cases.entries()) {
        const r = results[i]!;
        const label = `login ${i} (${c.kind})`;
        const opened = await store.findSession(c.open.session.id);
        if (c.kind === 'disabled') {
          assert.deepEqual(r, { userId: off, created: false, disabled: true }, label);
          assert.equal(opened, null, `${label} opened no session`);
          continue;
        }
        if (c.kind === 'new' || c.kind === 'other') assert.deepEqual(r, { userId: c.newUserId, created: true, disabled: false }, label);
        if (c.kind === 'known') assert.deepEqual(r, { userId: known, created: false, disabled: false }, label);
        if (c.kind === 'twice') twiceOwners.set(c.ext, [...(twiceOwners.get(c.ext) ?? []), r.userId + (r.created ? '+' : '')]);
        assert.equal(opened?.session.userId, r.userId, `${label} opened its session for its user`);
        if (!r.created) assert.equal(await store.getUser(c.newUserId), null, `${label} created no user`);
      }
      assert.equal(twiceOwners.size, 6);
      for (const owners of twiceOwners.values()) {
        assert.equal(owners.filter((o) => o.endsWith('+')).length, 1, owners.join());
        assert.equal(new Set(owners.map((o) => o.replace('+', ''))).size, 1, owners.join());
      }
      assert.equal((await store.getUser(known))?.lastAuthAt, 4);
      assert.equal((await store.getUser(off))?.lastAuthAt, 1);
    });

    it('fails only the failing one of new anonymous logins arriving together', async () => {
      const u = (await store.loginIdentity({ identity: identity('owner'), newUserId: 'o'.repeat(24), userType: 'normal', now: 1 })).userId;
      const taken = session(u);
      await store.createSession(taken);
      const cases = Array.from({ length: 30 }, (_c, i) => {
        const { userId: _, ...rest } = session('x'.repeat(24), i === 17 ? { id: taken.id } : {});
        return { ext: `lone${i}`, newUserId: `${i}`.padStart(24, 'd'), open: { session: rest, device: { id: rest.deviceId, lastSeenAt: 5 } } };
      });
      const outcomes = await Promise.allSettled(
        cases.map((c) => store.loginIdentity({ identity: identity(c.ext), newUserId: c.newUserId, userType: 'normal', now: 5, open: c.open })),
      );
      for (const [i, c] of cases.entries()) {
        if (i === 17) {
          assert.equal(outcomes[i]!.status, 'rejected');
          assert.equal(await store.findIdentityOwner('anon-user', c.ext), null);
          assert.equal(await store.getUser(c.newUserId), null);
          continue;
        }
        assert.deepEqual(outcomes[i], { status: 'fulfilled', value: { userId: c.newUserId, created: true, disabled: false } }, `login ${i}`);
        assert.equal((await store.findSession(c.open.session.id))?.session.userId, c.newUserId);
      }
      assert.deepEqual(await store.findSession(taken.id), { session: taken, userDisabled: false });
    });

    it('links an identity once and refuses one owned by another user', async () => {
      const a = (await store.loginIdentity({ identity: identity('a'), newUserId: 'a'.repeat(24), userType: 'normal', now: 1 })).userId;
      const b = (await store.loginIdentity({ identity: identity('b'), newUserId: 'b'.repeat(24), userType: 'normal', now: 1 })).userId;
      assert.equal(await store.linkIdentity(a, identity('x', 'local-userpass'), 2), 'linked');
      assert.equal(await store.linkIdentity(a, identity('x', 'local-userpass'), 3), 'already-linked');
      assert.equal(await store.linkIdentity(b, identity('x', 'local-userpass'), 4), 'taken');
      assert.deepEqual((await store.getUser(a))?.identities.map((i) => i.externalId), ['a', 'x']);
      assert.deepEqual((await store.getUser(b))?.identities.map((i) => i.externalId), ['b']);
      assert.deepEqual(await store.findIdentityOwner('local-userpass', 'x'), { userId: a });
      assert.equal(await store.findIdentityOwner('local-userpass', 'nope'), null);
    });

    it('writes issued together succeed or fail each on its own, and a failed one leaves nothing behind', async () => {
      const u = (await store.loginIdentity({ identity: identity('w'), newUserId: 'w'.repeat(24), userType: 'normal', now: 1 })).userId;
      const existing = session(u);
      await store.createSession(existing);
      const fresh = session(u);
      const opened = session('y'.repeat(24));
      const { userId: _, ...openedSession } = opened;
      const lostDevice = { id: newObjectIdHex(), userId: u, platform: 'node', lastSeenAt: 2 };
      const outcomes = await Promise.allSettled([
        store.createSession({ ...session(u), refreshHash: existing.refreshHash }), // refresh hash taken
        store.createSession(fresh),
        store.openSession({ ...session(u), id: existing.id }, lostDevice), // session id taken: the device is not kept either
        store.loginIdentity({
          identity: identity('w2'),
          newUserId: 'y'.repeat(24),
          userType: 'normal',
          now: 2,
          open: { session: openedSession, device: { id: opened.deviceId, lastSeenAt: 2 } },
        }),
        store.hitCounter('w', 1000, 2),
      ]);
      assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      assert.deepEqual(await store.findSession(existing.id), { session: existing, userDisabled: false });
      assert.deepEqual(await store.findSession(fresh.id), { session: fresh, userDisabled: false });
      assert.deepEqual(await store.findSession(opened.id), { session: opened, userDisabled: false });
      assert.deepEqual((await store.listSessionsOfUser(u)).map((s) => s.id).sort(), [existing.id, fresh.id].sort());
      assert.deepEqual(await store.listDevices(u), []);
      assert.equal((await store.readCounter('w', 1000, 2)).count, 1);
    });

    it('finds sessions by id and refresh hash, with the user disabled flag, and deletes them', async () => {
      const u = (await store.loginIdentity({ identity: identity('s'), newUserId: 's'.repeat(24), userType: 'normal', now: 1 })).userId;
      const s = session(u);
      await store.createSession(s);
      assert.deepEqual(await store.findSession(s.id), { session: s, userDisabled: false });
      assert.deepEqual(await store.findSessionByRefreshHash(s.refreshHash), { session: s, userDisabled: false });
      assert.equal(await store.deleteSession(s.id), true);
      assert.equal(await store.deleteSession(s.id), false);
      assert.equal(await store.findSession(s.id), null);
    });

    it('opens the device and session with the login, for new and returning users, and not for disabled ones', async () => {
      const opening = () => {
        const { userId: _, ...rest } = session('x'.repeat(24));
        const device = { id: rest.deviceId, platform: 'node', platformVersion: '20', sdkVersion: '2.0.1', appId: 'a', appVersion: '1', lastSeenAt: 5 };
        return { session: rest, device };
      };
      const first = opening();
      const created = await store.loginIdentity({ identity: identity('o1'), newUserId: 'o'.repeat(24), userType: 'normal', now: 5, open: first });
      assert.deepEqual(created, { userId: 'o'.repeat(24), created: true, disabled: false });
      assert.deepEqual(await store.findSession(first.session.id), { session: { ...first.session, userId: created.userId }, userDisabled: false });
      assert.deepEqual(await store.listDevices(created.userId), [{ ...first.device, userId: created.userId }]);

      // Returning on the same device: the device record is updated, a second session opens.
      const again = opening();
      const sameDevice = { ...again, session: { ...again.session, deviceId: first.device.id }, device: { ...first.device, sdkVersion: '2.0.2', lastSeenAt: 6 } };
      const returning = await store.loginIdentity({ identity: identity('o1'), newUserId: 'p'.repeat(24), userType: 'normal', now: 6, open: sameDevice });
      assert.deepEqual(returning, { userId: created.userId, created: false, disabled: false });
      assert.ok(await store.findSession(sameDevice.session.id));
      assert.deepEqual(await store.listDevices(created.userId), [{ ...sameDevice.device, userId: created.userId }]);

      // Disabled: nothing is written.
      await store.setUserDisabled(created.userId, true);
      const refused = opening();
      assert.deepEqual(await store.loginIdentity({ identity: identity('o1'), newUserId: 'q'.repeat(24), userType: 'normal', now: 7, open: refused }), {
        userId: created.userId,
        created: false,
        disabled: true,
      });
      assert.equal(await store.findSession(refused.session.id), null);
      assert.equal((await store.listDevices(created.userId)).length, 1);

      // A known user (API key logins): device and session together.
      const other = (await store.loginIdentity({ identity: identity('o2'), newUserId: 'r'.repeat(24), userType: 'normal', now: 1 })).userId;
      const direct = opening();
      await store.openSession({ ...direct.session, userId: other }, { ...direct.device, userId: other });
      assert.deepEqual(await store.findSession(direct.session.id), { session: { ...direct.session, userId: other }, userDisabled: false });
      assert.deepEqual(await store.listDevices(other), [{ ...direct.device, userId: other }]);
    });

    it('reads a session with its user and identities in one lookup, as findSession and getUser do', async () => {
      const u = (await store.loginIdentity({ identity: identity('w1', 'local-userpass', { email: 'w@x' }), newUserId: 'w'.repeat(24), userType: 'normal', now: 3 })).userId;
      await store.linkIdentity(u, identity('w2', 'anon-user', { note: 'second' }), 4);
      const s = session(u);
      await store.createSession(s);
      const both = await store.findSessionWithUser(s.id);
      assert.deepEqual(both, { active: await store.findSession(s.id), user: await store.getUser(u) });
      assert.deepEqual(both?.user.identities.map((i) => i.externalId), ['w1', 'w2']);
      assert.equal(await store.findSessionWithUser('0'.repeat(24)), null);
      await store.setUserDisabled(u, true); // ends the user's sessions
      assert.equal(await store.findSessionWithUser(s.id), null);
    });

    // A store may cache session lookups (the SQLite one does): each of these reads first, so a
    // cache would hold the session, then writes, and the very next read must see the write.

    /**
     * Reads the session every way (twice: a cache hit, if any; by refresh hash too, when given),
     * runs `write`, and reads it again.
     */
    const readWriteRead = async (sessionId: string, write: () => Promise<unknown>, refreshHash?: string) => {
      for (let i = 0; i < 2; i++) {
        assert.ok(await store.findSessionWithUser(sessionId), 'found before the write');
        assert.ok(await store.findSession(sessionId), 'found before the write');
        if (refreshHash !== undefined) assert.ok(await store.findSessionByRefreshHash(refreshHash), 'found before the write');
      }
      await write();
      return {
        withUser: await store.findSessionWithUser(sessionId),
        alone: await store.findSession(sessionId),
        byRefresh: refreshHash === undefined ? undefined : await store.findSessionByRefreshHash(refreshHash),
      };
    };
    const ended = (read: { withUser: unknown; alone: unknown; byRefresh?: unknown }, what: string) => {
      assert.equal(read.withUser, null, `${what}: findSessionWithUser`);
      assert.equal(read.alone, null, `${what}: findSession`);
      if (read.byRefresh !== undefined) assert.equal(read.byRefresh, null, `${what}: findSessionByRefreshHash`);
    };

    it('ends a session read just before at the next read: logout, disable, delete, revoke, expiry and anonymous sweeps', async () => {
      const login = async (n: number, now = 1) =>
        (await store.loginIdentity({ identity: identity(`end${n}`), newUserId: `e${n}`.padEnd(24, '0'), userType: 'normal', now })).userId;
      const withSession = async (userId: string, extra: Partial<SessionRecord> = {}) => {
        const s = session(userId, extra);
        await store.createSession(s);
        return s;
      };
      const u1 = await login(1);
      const kept = await withSession(u1);
      const s1 = await withSession(u1);
      ended(await readWriteRead(s1.id, () => store.deleteSession(s1.id), s1.refreshHash), 'deleteSession');
      assert.deepEqual(await store.findSession(kept.id), { session: kept, userDisabled: false }, 'the user’s other session stays');

      const s2 = await withSession(u1);
      ended(await readWriteRead(s2.id, () => store.deleteSessionsOfUser(u1), s2.refreshHash), 'deleteSessionsOfUser');
      assert.equal(await store.findSession(kept.id), null);

      const s3 = await withSession(u1);
      ended(await readWriteRead(s3.id, () => store.setUserDisabled(u1, true), s3.refreshHash), 'setUserDisabled');

      const u2 = await login(2);
      const s4 = await withSession(u2);
      ended(await readWriteRead(s4.id, () => store.deleteUser(u2), s4.refreshHash), 'deleteUser');

      const u3 = await login(3);
      const s5 = await withSession(u3, { expiresAt: 500 });
      ended(await readWriteRead(s5.id, () => store.deleteExpiredSessions(1000), s5.refreshHash), 'deleteExpiredSessions');

      const u4 = await login(4, 100);
      const s6 = await withSession(u4);
      ended(await readWriteRead(s6.id, () => store.deleteInactiveAnonymousUsers(500), s6.refreshHash), 'deleteInactiveAnonymousUsers');
    });

    it('invalidates its session cache per user: other users’ logins, refreshes and logouts keep a cached session, the user’s own writes drop it', async () => {
      const stats = () => {
        const s = store.sessionCacheStats?.();
        assert.ok(s, 'the store keeps a session cache');
        return s;
      };
      /** A cache out of service for a moment (PostgreSQL: a late heartbeat on a busy machine) neither serves nor keeps entries. */
      const whenLive = async () => {
        for (let i = 0; i < 200 && !stats().live; i++) await new Promise((r) => setTimeout(r, 5));
      };
      /** Reads the session by id; true when it was served from the cache (observed through the hit counter, not timing). */
      const hit = async (id: string) => {
        await whenLive();
        const before = stats().hits;
        assert.ok(await store.findSessionWithUser(id), 'found');
        return stats().hits === before + 1;
      };
      /** The same, by refresh-token hash (a refresh). */
      const refreshHit = async (refreshHash: string) => {
        await whenLive();
        const before = stats().hits;
        assert.ok(await store.findSessionByRefreshHash(refreshHash), 'found');
        return stats().hits === before + 1;
      };
      const loginWithSession = async (n: string, newUserId: string, now = 5) => {
        const s = session(newUserId);
        const { userId: _, ...opened } = s;
        const { userId } = await store.loginIdentity({ identity: identity(n), newUserId, userType: 'normal', now, open: { session: opened, device: { id: s.deviceId, lastSeenAt: now } } });
        return { userId, sessionId: s.id, refreshHash: s.refreshHash };
      };
      const a = await loginWithSession('pa', 'pa'.padEnd(24, '0'));
      const b = await loginWithSession('pb', 'pb'.padEnd(24, '0'));
      assert.equal(await hit(a.sessionId), false, 'the first read fills the cache');
      assert.equal(await hit(a.sessionId), true);
      assert.equal(await refreshHit(a.refreshHash), true, 'a refresh finds the entry an access check filled');
      assert.equal(await refreshHit(b.refreshHash), false, 'a refresh fills the cache too');
      assert.equal(await hit(b.sessionId), true);
      assert.equal(await refreshHit(b.refreshHash), true);
      assert.equal(await store.findSessionByRefreshHash('no such hash'), null);

      // User B: logs in again (its identity data and last login change), refreshes, logs out a session, gets a new one.
      const again = await loginWithSession('pb', 'xx'.padEnd(24, '0'), 6);
      assert.equal(again.userId, b.userId);
      await store.touchSession(again.sessionId, b.userId, 7);
      await store.deleteSession(b.sessionId);
      assert.equal(await store.findSessionByRefreshHash(b.refreshHash), null, 'a logged-out session is not found by its refresh token');
      // New users log in, one is disabled and one deleted.
      const c = await loginWithSession('pc', 'pc'.padEnd(24, '0'));
      const d = await loginWithSession('pd', 'pd'.padEnd(24, '0'));
      await store.setUserDisabled(c.userId, true);
      await store.deleteUser(d.userId);
      assert.equal(await hit(a.sessionId), true, 'A’s entry survived the writes of other users');
      assert.equal(await refreshHit(a.refreshHash), true);
      assert.equal(await hit(again.sessionId), false, 'B’s new session was read from the store');

      // A's own refresh updates A's entries in place: still served from the cache, with the new times.
      await store.touchSession(a.sessionId, a.userId, 9);
      assert.equal(await hit(a.sessionId), true);
      assert.equal((await store.findSessionWithUser(a.sessionId))?.user.lastAuthAt, 9);
      assert.equal(await refreshHit(a.refreshHash), true);
      assert.equal((await store.findSessionByRefreshHash(a.refreshHash))?.session.lastUsedAt, 9);
      // A fresh read goes to the database, whatever is cached.
      await whenLive();
      const before = stats().hits;
      assert.deepEqual(await store.findSessionByRefreshHash(a.refreshHash, { fresh: true }), await store.findSession(a.sessionId));
      assert.equal(stats().hits, before + 1, 'only the second of those two reads was a hit');
      // A's own login (identity data, last login) drops A's entries.
      await loginWithSession('pa', 'yy'.padEnd(24, '0'), 10);
      assert.equal(await refreshHit(a.refreshHash), false);
      assert.equal((await store.findSessionWithUser(a.sessionId))?.user.lastAuthAt, 10);
      // Ending one of A's sessions keeps A's other sessions cached.
      const a2 = session(a.userId);
      await store.createSession(a2);
      assert.equal(await hit(a2.id), false);
      assert.equal(await hit(a2.id), true);
      await store.deleteSession(a.sessionId);
      assert.equal(await store.findSessionWithUser(a.sessionId), null);
      assert.equal(await store.findSessionByRefreshHash(a.refreshHash), null);
      assert.equal(await hit(a2.id), true, 'the user’s other session stays cached');
      assert.equal(await refreshHit(a2.refreshHash), true);
    });

    it('ends the sessions of a disabled or deleted API key, and of a deleted server key’s user, at the next read', async () => {
      const u = (await store.loginIdentity({ identity: identity('ko', 'local-userpass'), newUserId: 'k0'.padEnd(24, '0'), userType: 'normal', now: 1 })).userId;
      const userKey = (id: string) => ({ id, userId: u, kind: 'user' as const, name: id, keyHash: `h-${id}`, disabled: false, createdAt: 5 });
      const k1 = 'k1'.padEnd(24, '0');
      const k2 = 'k2'.padEnd(24, '0');
      await store.createUserApiKey(userKey(k1), 5);
      await store.createUserApiKey(userKey(k2), 5);
      const other = session(u);
      await store.createSession(other);
      const byKey1 = session(u, { apiKeyId: k1, providerName: 'api-key', providerType: 'api-key' });
      await store.createSession(byKey1);
      ended(await readWriteRead(byKey1.id, () => store.setApiKeyDisabled(u, k1, true), byKey1.refreshHash), 'setApiKeyDisabled');
      const byKey2 = session(u, { apiKeyId: k2, providerName: 'api-key', providerType: 'api-key' });
      await store.createSession(byKey2);
      ended(await readWriteRead(byKey2.id, () => store.deleteApiKey(u, k2), byKey2.refreshHash), 'deleteApiKey');
      assert.deepEqual(await store.findSession(other.id), { session: other, userDisabled: false }, 'sessions the keys did not open stay');

      const server = { id: 'ks'.padEnd(24, '0'), userId: 'su'.padEnd(24, '0'), kind: 'server' as const, name: 'srv', keyHash: 'h-srv', disabled: false, createdAt: 9 };
      await store.createServerApiKey(server, identity(server.id, 'api-key'), 5);
      // A session of the server user not opened by the key: it ends with the user.
      const ofServerUser = session(server.userId);
      await store.createSession(ofServerUser);
      ended(await readWriteRead(ofServerUser.id, () => store.deleteApiKey(server.userId, server.id), ofServerUser.refreshHash), 'deleteApiKey (server key)');
    });

    it('reads a user’s new identity data, new identity and last activity right after they are written', async () => {
      const first = { email: 'a@x', profile: { roles: ['reader'] } };
      const s = session('r'.repeat(24));
      const { userId: _, ...opened } = s;
      const u = (
        await store.loginIdentity({
          identity: identity('re', 'local-userpass', first),
          newUserId: 'r'.repeat(24),
          userType: 'normal',
          now: 10,
          open: { session: opened, device: { id: s.deviceId, lastSeenAt: 10 } },
        })
      ).userId;
      assert.deepEqual((await store.findSessionWithUser(s.id))?.user.identities[0]?.data, first);

      const second = { email: 'b@x', profile: { roles: ['writer'] } };
      const relogin = await readWriteRead(s.id, () => store.loginIdentity({ identity: identity('re', 'local-userpass', second), newUserId: 'x'.repeat(24), userType: 'normal', now: 20 }));
      assert.deepEqual(relogin.withUser?.user.identities.map((i) => i.data), [second]);
      assert.equal(relogin.withUser?.user.lastAuthAt, 20);

      const linked = await readWriteRead(s.id, () => store.linkIdentity(u, identity('re2', 'anon-user', { note: 'linked' }), 30));
      assert.deepEqual(linked.withUser?.user.identities.map((i) => [i.externalId, i.data]), [['re', second], ['re2', { note: 'linked' }]]);
      assert.equal(linked.withUser?.user.lastAuthAt, 30);

      const touched = await readWriteRead(s.id, () => store.touchSession(s.id, u, 40));
      assert.equal(touched.withUser?.user.lastAuthAt, 40);
      const used = { ...s, lastUsedAt: 40 };
      assert.deepEqual(touched.withUser, { active: { session: used, userDisabled: false }, user: await store.getUser(u) });
      assert.deepEqual(touched.alone, { session: used, userDisabled: false });

      // A sliding refresh moves the expiry too, read at once.
      const slid = await readWriteRead(s.id, () => store.touchSession(s.id, u, 50, 90_000));
      assert.deepEqual(slid.alone, { session: { ...s, lastUsedAt: 50, expiresAt: 90_000 }, userDisabled: false });
      assert.deepEqual(slid.withUser?.active, slid.alone);
    });

    it('keeps a session’s last use, login address and expiry cap, and revokes one session of a user only', async () => {
      const u = (await store.loginIdentity({ identity: identity('pol'), newUserId: 'e1'.padEnd(24, '0'), userType: 'normal', now: 1 })).userId;
      const v = (await store.loginIdentity({ identity: identity('pom'), newUserId: 'e2'.padEnd(24, '0'), userType: 'normal', now: 1 })).userId;
      const phone = session(u, { address: '203.0.113.7', expiryCap: 5000, createdAt: 100 });
      const laptop = session(u, { address: '2001:db8::1', createdAt: 200 });
      const { userId: _, ...opening } = laptop;
      await store.createSession(phone);
      await store.loginIdentity({ identity: identity('pol'), newUserId: 'x'.repeat(24), userType: 'normal', now: 200, open: { session: opening, device: { id: laptop.deviceId, lastSeenAt: 200 } } });
      const other = session(v);
      await store.openSession(other, { id: other.deviceId, userId: v, lastSeenAt: 1 });
      assert.deepEqual(await store.listSessionsOfUser(u), [phone, laptop]);
      assert.deepEqual((await store.findSession(phone.id))?.session, phone);
      assert.deepEqual((await store.findSessionByRefreshHash(laptop.refreshHash))?.session, laptop);
      assert.deepEqual((await store.findSessionWithUser(other.id))?.active.session, other);

      // Not the user's session: nothing happens.
      assert.equal(await store.deleteSessionOfUser(u, other.id), false);
      assert.equal(await store.deleteSessionOfUser(v, phone.id), false);
      assert.ok(await store.findSession(other.id));
      assert.equal(await store.deleteSessionOfUser(u, phone.id), true);
      assert.equal(await store.deleteSessionOfUser(u, phone.id), false);
      assert.equal(await store.findSession(phone.id), null);
      assert.deepEqual(await store.listSessionsOfUser(u), [laptop]);
      assert.ok(await store.findSession(other.id));
    });

    it('sweeps expired sessions, and idle ones when asked', async () => {
      const u = (await store.loginIdentity({ identity: identity('sw'), newUserId: 'e3'.padEnd(24, '0'), userType: 'normal', now: 1 })).userId;
      const expired = session(u, { expiresAt: 500, createdAt: 100 });
      const idle = session(u, { createdAt: 100, lastUsedAt: 150, expiresAt: 10_000 });
      const used = session(u, { createdAt: 100, expiresAt: 10_000 });
      for (const s of [expired, idle, used]) await store.createSession(s);
      await store.touchSession(used.id, u, 900);
      assert.equal(await store.deleteExpiredSessions(600), 1);
      assert.deepEqual((await store.listSessionsOfUser(u)).map((s) => s.id).sort(), [idle.id, used.id].sort());
      assert.equal(await store.deleteExpiredSessions(600, 800), 1);
      assert.deepEqual((await store.listSessionsOfUser(u)).map((s) => s.id), [used.id]);
    });

    it('keeps a caller’s changes to the records it was handed out of later reads', async () => {
      const data = { email: 'm@x', profile: { roles: ['reader'] } };
      const u = (await store.loginIdentity({ identity: identity('mut', 'local-userpass', data), newUserId: 'm'.repeat(24), userType: 'normal', now: 7 })).userId;
      const s = session(u);
      await store.createSession(s);
      const expected = {
        active: { session: s, userDisabled: false },
        user: {
          id: u,
          type: 'normal',
          disabled: false,
          createdAt: 7,
          lastAuthAt: 7,
          identities: [{ externalId: 'mut', providerName: 'local-userpass', providerType: 'local-userpass', providerId: 'p'.repeat(24), data, createdAt: 7 }],
        },
      };
      const found = await store.findSessionWithUser(s.id);
      assert.deepEqual(found, expected);
      const active = await store.findSession(s.id);
      const attempts: ((f: NonNullable<typeof found>) => void)[] = [
        (f) => void ((f.active as { userDisabled: boolean }).userDisabled = true),
        (f) => void ((f.active.session as { expiresAt: number }).expiresAt = 0),
        (f) => void ((f.active.session as { userId: string }).userId = 'x'),
        (f) => void ((f.user as { disabled: boolean }).disabled = true),
        (f) => void (f.user.identities as IdentityRecord[]).push(f.user.identities[0]!),
        (f) => void ((f.user.identities[0] as { providerType: string }).providerType = 'x'),
        (f) => void ((f.user.identities[0]!.data as Record<string, unknown>).email = 'mallory@x'),
        (f) => void (f.user.identities[0]!.data.profile as { roles: string[] }).roles.push('admin'),
        (f) => void (f.user.identities as IdentityRecord[]).splice(0),
      ];
      for (const attempt of attempts) {
        try {
          attempt(found!);
        } catch {
          // Frozen: the store hands the same records to every caller.
        }
      }
      try {
        (active as { userDisabled: boolean }).userDisabled = true;
      } catch {
        // Frozen.
      }
      assert.deepEqual(await store.findSessionWithUser(s.id), expected);
      assert.deepEqual(await store.findSession(s.id), expected.active);
      assert.deepEqual(await store.getUser(u), expected.user);
    });

    it('ends every session of a user who is disabled, and only those', async () => {
      const u = (await store.loginIdentity({ identity: identity('d1'), newUserId: 'd'.repeat(24), userType: 'normal', now: 1 })).userId;
      const v = (await store.loginIdentity({ identity: identity('d2'), newUserId: 'e'.repeat(24), userType: 'normal', now: 1 })).userId;
      const s1 = session(u);
      const s2 = session(v);
      await store.createSession(s1);
      await store.createSession(s2);
      assert.equal(await store.setUserDisabled(u, true), true);
      assert.equal(await store.findSession(s1.id), null);
      assert.ok(await store.findSession(s2.id));
      assert.equal((await store.getUser(u))?.disabled, true);
      assert.equal(await store.setUserDisabled(u, false), true);
      assert.equal((await store.getUser(u))?.disabled, false);
      assert.equal(await store.setUserDisabled('f'.repeat(24), true), false);
      // a disabled user's identity reports it, and the login does not count as activity
      await store.setUserDisabled(u, true);
      const refused = await store.loginIdentity({ identity: identity('d1'), newUserId: '0'.repeat(24), userType: 'normal', now: 99 });
      assert.deepEqual(refused, { userId: u, created: false, disabled: true });
      assert.equal((await store.getUser(u))?.lastAuthAt, 1);
    });

    it('deletes a user with identities, sessions and email/password accounts', async () => {
      await store.createUserpassAccount({ id: 'acc'.padEnd(24, '0'), email: 'del@x', passwordHash: 'h', confirmed: true, createdAt: 1 });
      const u = (await store.loginIdentity({ identity: identity('acc'.padEnd(24, '0'), 'local-userpass'), newUserId: 'f'.repeat(24), userType: 'normal', now: 1 })).userId;
      const s = session(u);
      await store.createSession(s);
      assert.equal(await store.deleteUser(u), true);
      assert.equal(await store.getUser(u), null);
      assert.equal(await store.findSession(s.id), null);
      assert.equal(await store.findUserpassAccountByEmail('del@x'), null);
      assert.equal(await store.findIdentityOwner('local-userpass', 'acc'.padEnd(24, '0')), null);
      assert.equal(await store.deleteUser(u), false);
    });

    it('keeps one provider token per identity (the latest), lists a user’s, and drops them with the identity', async () => {
      const a = (await store.loginIdentity({ identity: identity('apple-1', 'oauth2-apple'), newUserId: 'a'.repeat(24), userType: 'normal', now: 1 })).userId;
      const b = (await store.loginIdentity({ identity: identity('apple-2', 'oauth2-apple'), newUserId: 'b'.repeat(24), userType: 'normal', now: 1 })).userId;
      await store.linkIdentity(a, identity('anon-1'), 2);
      await store.putProviderToken('oauth2-apple', 'apple-1', 'token-1', 3);
      await store.putProviderToken('oauth2-apple', 'apple-1', 'token-1b', 4);
      await store.putProviderToken('oauth2-apple', 'apple-2', 'token-2', 4);
      // No identity, no token (and no error).
      await store.putProviderToken('oauth2-apple', 'nobody', 'token-x', 5);
      assert.deepEqual(await store.providerTokensOfUser(a), [{ providerName: 'oauth2-apple', externalId: 'apple-1', token: 'token-1b' }]);
      assert.deepEqual(await store.providerTokensOfUser('c'.repeat(24)), []);
      assert.ok(!JSON.stringify(await store.getUser(a)).includes('token-1b'), 'the token is not part of the user record');
      await store.deleteUser(a);
      assert.deepEqual(await store.providerTokensOfUser(a), []);
      // A new user with the same Apple identity starts without the old token.
      const again = (await store.loginIdentity({ identity: identity('apple-1', 'oauth2-apple'), newUserId: 'd'.repeat(24), userType: 'normal', now: 6 })).userId;
      assert.deepEqual(await store.providerTokensOfUser(again), []);
      assert.deepEqual((await store.providerTokensOfUser(b)).map((t) => t.token), ['token-2']);
    });

    it('sweeps only anonymous-only users inactive since the cut-off', async () => {
      const old = (await store.loginIdentity({ identity: identity('old'), newUserId: '1'.repeat(24), userType: 'normal', now: 100 })).userId;
      const fresh = (await store.loginIdentity({ identity: identity('fresh'), newUserId: '2'.repeat(24), userType: 'normal', now: 900 })).userId;
      const linked = (await store.loginIdentity({ identity: identity('linked'), newUserId: '3'.repeat(24), userType: 'normal', now: 100 })).userId;
      await store.linkIdentity(linked, identity('pw', 'local-userpass'), 100);
      assert.equal(await store.deleteInactiveAnonymousUsers(500), 1);
      assert.equal(await store.getUser(old), null);
      assert.ok(await store.getUser(fresh));
      assert.ok(await store.getUser(linked));
    });

    it('keeps devices per user', async () => {
      const u = (await store.loginIdentity({ identity: identity('dev'), newUserId: '4'.repeat(24), userType: 'normal', now: 1 })).userId;
      // Each login records its device with its session; a device seen again is updated.
      const onDevice = (device: DeviceRecord) => store.openSession(session(u, { deviceId: device.id }), device);
      await onDevice({ id: '5'.repeat(24), userId: u, platform: 'node', lastSeenAt: 1 });
      await onDevice({ id: '5'.repeat(24), userId: u, platform: 'chrome', sdkVersion: '2.0.1', lastSeenAt: 2 });
      await onDevice({ id: '6'.repeat(24), userId: u, platform: 'node', lastSeenAt: 3 });
      const devices = await store.listDevices(u);
      assert.deepEqual(devices.map((d) => [d.id, d.platform, d.lastSeenAt]), [['6'.repeat(24), 'node', 3], ['5'.repeat(24), 'chrome', 2]]);
      assert.equal(devices[1]?.sdkVersion, '2.0.1');
      assert.equal(devices[1]?.appVersion, undefined);
      assert.deepEqual(await store.listDevices('0'.repeat(24)), []);
    });

    it('stores email/password accounts with a unique, case-sensitive email', async () => {
      const a = { id: '6'.repeat(24), email: 'Me@x', passwordHash: 'h1', confirmed: false, createdAt: 1 };
      assert.equal(await store.createUserpassAccount(a), 'created');
      assert.equal(await store.createUserpassAccount({ ...a, id: '7'.repeat(24), passwordHash: 'h2' }), 'exists');
      assert.equal(await store.createUserpassAccount({ ...a, id: '8'.repeat(24), email: 'me@x' }), 'created');
      assert.deepEqual(await store.findUserpassAccountByEmail('Me@x'), a);
      await store.confirmUserpassAccount(a.id);
      await store.setUserpassPassword(a.id, 'h3');
      assert.deepEqual(await store.findUserpassAccount(a.id), { ...a, confirmed: true, passwordHash: 'h3' });
      await store.deleteUserpassAccount(a.id);
      assert.equal(await store.findUserpassAccount(a.id), null);
    });

    it('redeems a confirmation token once, only with the right hash, and replaces an older one of the same kind', async () => {
      const acc = '9'.repeat(24);
      await store.createUserpassAccount({ id: acc, email: 't@x', passwordHash: 'h', confirmed: false, createdAt: 1 });
      await store.putUserpassToken({ id: 'old', accountId: acc, kind: 'confirm', tokenHash: 'hash-old', expiresAt: 50 });
      const t = { id: 'tid', accountId: acc, kind: 'confirm' as const, tokenHash: 'hash-1', expiresAt: 99 };
      await store.putUserpassToken(t);
      await store.putUserpassToken({ id: 'rid', accountId: acc, kind: 'reset', tokenHash: 'hash-r', expiresAt: 99 });
      assert.equal(await store.takeUserpassToken('old', 'hash-old'), null);
      assert.equal(await store.takeUserpassToken('tid', 'wrong'), null);
      assert.deepEqual(await store.takeUserpassToken('tid', 'hash-1'), t);
      assert.equal(await store.takeUserpassToken('tid', 'hash-1'), null);
      assert.equal((await store.takeUserpassToken('rid', 'hash-r'))?.kind, 'reset');
    });

    it('counts hits in fixed windows', async () => {
      assert.deepEqual(await store.readCounter('k', 100, 1000), { count: 0, windowStart: 1000 });
      assert.deepEqual(await store.hitCounter('k', 100, 1000), { count: 1, windowStart: 1000 });
      assert.deepEqual(await store.hitCounter('k', 100, 1050), { count: 2, windowStart: 1000 });
      assert.deepEqual(await store.readCounter('k', 100, 1099), { count: 2, windowStart: 1000 });
      assert.deepEqual(await store.hitCounter('k', 100, 1100), { count: 1, windowStart: 1100 });
      const hits = await Promise.all(Array.from({ length: 20 }, () => store.hitCounter('c', 10_000, 5000)));
      assert.equal(Math.max(...hits.map((h) => h.count)), 20);
    });

    it('drops stale counters and expired email/password tokens', async () => {
      await store.hitCounter('old', 100, 1000);
      await store.hitCounter('new', 100, 5000);
      assert.equal(await store.deleteStaleCounters(2000), 1);
      assert.deepEqual(await store.readCounter('old', 100_000, 1500), { count: 0, windowStart: 1500 });
      assert.deepEqual(await store.readCounter('new', 100, 5050), { count: 1, windowStart: 5000 });
      const acc = 'c'.repeat(24);
      await store.createUserpassAccount({ id: acc, email: 'tok@x', passwordHash: 'h', confirmed: false, createdAt: 1 });
      await store.putUserpassToken({ id: 'gone', accountId: acc, kind: 'confirm', tokenHash: 'h1', expiresAt: 100 });
      await store.putUserpassToken({ id: 'kept', accountId: acc, kind: 'reset', tokenHash: 'h2', expiresAt: 300 });
      assert.equal(await store.deleteExpiredUserpassTokens(200), 1);
      assert.equal(await store.takeUserpassToken('gone', 'h1'), null);
      assert.equal((await store.takeUserpassToken('kept', 'h2'))?.id, 'kept');
    });

    it('keeps user API keys per owner: limit, unique names, disable and delete end the sessions they opened', async () => {
      const u = (await store.loginIdentity({ identity: identity('k-owner', 'local-userpass'), newUserId: 'b1'.padEnd(24, '0'), userType: 'normal', now: 1 })).userId;
      const key = (id: string, name: string) => ({ id, userId: u, kind: 'user' as const, name, keyHash: `hash-${id}`, disabled: false, createdAt: 5 });
      assert.equal(await store.createUserApiKey(key('k1'.padEnd(24, '0'), 'one'), 2), 'created');
      assert.equal(await store.createUserApiKey(key('k2'.padEnd(24, '0'), 'one'), 2), 'name-taken');
      assert.equal(await store.createUserApiKey(key('k3'.padEnd(24, '0'), 'two'), 2), 'created');
      assert.equal(await store.createUserApiKey(key('k4'.padEnd(24, '0'), 'three'), 2), 'limit-reached');
      assert.deepEqual((await store.listApiKeys(u)).map((k) => k.name), ['one', 'two']);
      assert.deepEqual(await store.findApiKeyByHash(`hash-${'k1'.padEnd(24, '0')}`), { key: key('k1'.padEnd(24, '0'), 'one'), userDisabled: false });
      const s = session(u, { apiKeyId: 'k1'.padEnd(24, '0'), providerType: 'api-key', providerName: 'api-key' });
      const other = session(u);
      await store.createSession(s);
      await store.createSession(other);
      assert.equal((await store.findSession(s.id))?.session.apiKeyId, 'k1'.padEnd(24, '0'));
      assert.equal(await store.setApiKeyDisabled('f'.repeat(24), 'k1'.padEnd(24, '0'), true), false);
      assert.equal(await store.setApiKeyDisabled(u, 'k1'.padEnd(24, '0'), true), true);
      assert.equal((await store.findApiKeyByHash(`hash-${'k1'.padEnd(24, '0')}`))?.key.disabled, true);
      assert.equal(await store.findSession(s.id), null);
      assert.ok(await store.findSession(other.id));
      assert.equal(await store.setApiKeyDisabled(u, 'k1'.padEnd(24, '0'), false), true);
      assert.equal(await store.deleteApiKey(u, 'k1'.padEnd(24, '0')), true);
      assert.equal(await store.deleteApiKey(u, 'k1'.padEnd(24, '0')), false);
      assert.equal(await store.findApiKeyByHash(`hash-${'k1'.padEnd(24, '0')}`), null);
      assert.ok(await store.getUser(u));
      assert.equal(await store.deleteUser(u), true);
      assert.deepEqual(await store.listApiKeys(u), []);
    });

    it('creates a server API key with its own server user, and deleting the key removes that user', async () => {
      const mk = (n: number, name: string) => ({
        key: { id: `s${n}`.padEnd(24, '0'), userId: `su${n}`.padEnd(24, '0'), kind: 'server' as const, name, keyHash: `shash-${n}`, disabled: false, createdAt: 9 },
        identity: identity(`s${n}`.padEnd(24, '0'), 'api-key'),
      });
      const a = mk(1, 'backend');
      assert.equal(await store.createServerApiKey(a.key, a.identity, 2), 'created');
      const b = mk(2, 'backend');
      assert.equal(await store.createServerApiKey(b.key, b.identity, 2), 'name-taken');
      assert.equal(await store.getUser(b.key.userId), null);
      const c = mk(3, 'worker');
      assert.equal(await store.createServerApiKey(c.key, c.identity, 2), 'created');
      const d = mk(4, 'third');
      assert.equal(await store.createServerApiKey(d.key, d.identity, 2), 'limit-reached');
      const user = await store.getUser(a.key.userId);
      assert.equal(user?.type, 'server');
      assert.deepEqual(user?.identities.map((i) => [i.providerType, i.externalId]), [['api-key', a.key.id]]);
      assert.deepEqual((await store.listServerApiKeys()).map((k) => k.name), ['backend', 'worker']);
      assert.equal(await store.deleteApiKey(a.key.userId, a.key.id), true);
      assert.equal(await store.getUser(a.key.userId), null);
      assert.deepEqual((await store.listServerApiKeys()).map((k) => k.name), ['worker']);
    });

    it('rotates signing keys: one active, the others retired', async () => {
      assert.deepEqual(await store.listSigningKeys(), []);
      await store.rotateSigningKey({ kid: 'k1', secret: 's1', createdAt: 1, retiredAt: null });
      await store.rotateSigningKey({ kid: 'k2', secret: 's2', createdAt: 2, retiredAt: null });
      const keys = await store.listSigningKeys();
      assert.deepEqual(keys.map((k) => [k.kid, k.retiredAt]), [['k1', 2], ['k2', null]]);
    });

    it('keeps an OAuth redirect state until it is taken once, and never returns an expired one', async () => {
      const state = (idHash: string, expiresAt: number, linkSessionId: string | null = null): OAuthStateRecord => ({
        idHash,
        providerName: 'oauth2-google',
        clientState: 'client-state',
        redirectUri: 'http://app.example/done?x=1',
        callbackUrl: 'http://baste.example/api/client/v2.0/auth/callback',
        device: { deviceId: 'd'.repeat(24), platform: 'node' },
        linkSessionId,
        codeVerifier: 'verifier',
        nonce: 'nonce',
        createdAt: 100,
        expiresAt,
      });
      const live = state('h-live', 1000, 's'.repeat(24));
      await store.putOAuthState(live);
      await store.putOAuthState(state('h-plain', 1000));
      await store.putOAuthState(state('h-old', 500));
      await store.putOAuthState(state('h-gone', 400));
      await assert.rejects(store.putOAuthState(state('h-live', 2000)), 'a state hash is unique');
      assert.equal(await store.takeOAuthState('h-unknown', 600), null);
      assert.deepEqual(await store.takeOAuthState('h-live', 600), live);
      assert.equal(await store.takeOAuthState('h-live', 600), null, 'a state works once');
      assert.equal((await store.takeOAuthState('h-plain', 600))?.linkSessionId, null);
      assert.equal(await store.takeOAuthState('h-old', 600), null, 'expired');
      assert.equal(await store.deleteExpiredOAuthStates(600), 1, 'the expired one was already removed when taken');
      await store.putOAuthState(state('h-race', 1000));
      const raced = await Promise.all(Array.from({ length: 5 }, () => store.takeOAuthState('h-race', 600)));
      assert.equal(raced.filter(Boolean).length, 1, 'concurrent takes: one winner');
    });

    it('lists users a page at a time in id order, filtered by provider type and by email/name substring', async () => {
      const id = (n: number) => n.toString(16).padStart(24, '0');
      for (let n = 1; n <= 7; n++) {
        const type = n % 2 ? 'local-userpass' : 'anon-user';
        const data = n % 2 ? { email: `Person${n}@Example.com` } : {};
        await store.loginIdentity({ identity: identity(`ext${n}`, type, data), newUserId: id(n), userType: 'normal', now: n });
      }
      await store.linkIdentity(id(2), identity('g2', 'oauth2-google', { name: 'Ada 100%_Lovelace', email: 'ada@x' }), 9);
      const ids = (users: { id: string }[]) => users.map((u) => u.id);

      assert.deepEqual(ids(await store.listUsers({ limit: 3 })), [id(1), id(2), id(3)]);
      assert.deepEqual(ids(await store.listUsers({ limit: 3, after: id(3) })), [id(4), id(5), id(6)]);
      assert.deepEqual(ids(await store.listUsers({ limit: 3, after: id(6) })), [id(7)]);
      assert.deepEqual(await store.listUsers({ limit: 3, after: id(7) }), []);
      const page = await store.listUsers({ limit: 2 });
      assert.deepEqual(page[1]?.identities.map((i) => i.providerType), ['anon-user', 'oauth2-google'], 'identities come along, in link order');
      assert.equal(page[0]?.createdAt, 1);

      assert.deepEqual(ids(await store.listUsers({ limit: 50, providerTypes: ['anon-user'] })), [id(2), id(4), id(6)]);
      assert.deepEqual(ids(await store.listUsers({ limit: 50, providerTypes: ['oauth2-google'] })), [id(2)]);
      assert.deepEqual(ids(await store.listUsers({ limit: 2, providerTypes: ['local-userpass'], after: id(1) })), [id(3), id(5)]);
      assert.deepEqual(ids(await store.listUsers({ limit: 50, search: 'person5@example' })), [id(5)], 'case-insensitive substring of the email');
      assert.deepEqual(ids(await store.listUsers({ limit: 50, search: 'EXAMPLE.COM' })), [id(1), id(3), id(5), id(7)]);
      assert.deepEqual(ids(await store.listUsers({ limit: 50, search: 'lovelace' })), [id(2)], 'the name');
      assert.deepEqual(ids(await store.listUsers({ limit: 50, search: '100%_' })), [id(2)], 'wildcards are literal');
      assert.deepEqual(await store.listUsers({ limit: 50, search: 'e%m' }), [], '% is no wildcard');
      assert.deepEqual(await store.listUsers({ limit: 50, search: 'p_rson' }), [], '_ is no wildcard');
      assert.deepEqual(ids(await store.listUsers({ limit: 50, search: id(4) })), [id(4)], 'the exact user id');
      assert.deepEqual(ids(await store.listUsers({ limit: 50, search: 'example', providerTypes: ['local-userpass'], after: id(3) })), [id(5), id(7)]);
      assert.deepEqual(await store.listUsers({ limit: 50, search: 'ext1' }), [], 'not the identity id or other fields');

      // Newest id first, `after` then continuing downwards.
      assert.deepEqual(ids(await store.listUsers({ limit: 3, descending: true })), [id(7), id(6), id(5)]);
      assert.deepEqual(ids(await store.listUsers({ limit: 3, descending: true, after: id(5) })), [id(4), id(3), id(2)]);
      assert.deepEqual(ids(await store.listUsers({ limit: 3, descending: true, after: id(2) })), [id(1)]);
      const desc = await store.listUsers({ limit: 50, descending: true, providerTypes: ['oauth2-google'] });
      assert.deepEqual(desc[0]?.identities.map((i) => i.providerType), ['anon-user', 'oauth2-google'], 'identities still in link order');
      // Any of several provider types; an empty list matches nobody.
      assert.deepEqual(ids(await store.listUsers({ limit: 50, providerTypes: ['oauth2-google', 'local-userpass'] })), [id(1), id(2), id(3), id(5), id(7)]);
      assert.deepEqual(await store.listUsers({ limit: 50, providerTypes: [] }), []);
      assert.deepEqual(await store.listUsers({ limit: 50, providerTypes: ["x') OR 1=1 --"] }), [], 'a provider type is a value, never SQL');
      // Enabled or disabled.
      await store.setUserDisabled(id(3), true);
      await store.setUserDisabled(id(6), true);
      assert.deepEqual(ids(await store.listUsers({ limit: 50, disabled: true })), [id(3), id(6)]);
      assert.deepEqual(ids(await store.listUsers({ limit: 50, disabled: false })), [id(1), id(2), id(4), id(5), id(7)]);
      assert.deepEqual(ids(await store.listUsers({ limit: 2, disabled: false, descending: true, providerTypes: ['local-userpass'] })), [id(7), id(5)]);
      assert.deepEqual(ids(await store.listUsers({ limit: 50, disabled: true, search: 'person3' })), [id(3)]);
    });

    it('keeps app settings: null until set, then the last value put', async () => {
      assert.equal(await store.getSetting('refreshTokenExpirationSeconds'), null);
      await store.putSetting('refreshTokenExpirationSeconds', 3600);
      assert.equal(await store.getSetting('refreshTokenExpirationSeconds'), 3600);
      await Promise.all([store.putSetting('refreshTokenExpirationSeconds', 7200), store.putSetting('refreshTokenExpirationSeconds', 7200)]);
      await store.putSetting('refreshTokenExpirationSeconds', 157_680_000);
      assert.equal(await store.getSetting('refreshTokenExpirationSeconds'), 157_680_000);
      assert.equal(await store.getSetting('sessionSliding'), null);
      await store.putSetting('sessionSliding', true);
      await store.putSetting('sessionIdleTimeoutSeconds', 86_400);
      assert.equal(await store.getSetting('sessionSliding'), true);
      assert.equal(await store.getSetting('sessionIdleTimeoutSeconds'), 86_400);
      await store.putSetting('sessionSliding', false);
      assert.equal(await store.getSetting('sessionSliding'), false);
    });

    it('lists the sessions of a user', async () => {
      const u = (await store.loginIdentity({ identity: identity('ls'), newUserId: 'c1'.padEnd(24, '0'), userType: 'normal', now: 1 })).userId;
      const v = (await store.loginIdentity({ identity: identity('lt'), newUserId: 'c2'.padEnd(24, '0'), userType: 'normal', now: 1 })).userId;
      const first = session(u, { createdAt: 100 });
      const second = session(u, { createdAt: 200 });
      await store.createSession(second);
      await store.createSession(first);
      await store.createSession(session(v));
      assert.deepEqual(await store.listSessionsOfUser(u), [first, second]);
      await store.deleteSessionsOfUser(u);
      assert.deepEqual(await store.listSessionsOfUser(u), []);
    });

    it('lists email/password registrations no user holds yet, in id order', async () => {
      const acc = (n: number, confirmed: boolean) => ({ id: `a${n}`.padEnd(24, '0'), email: `p${n}@x`, passwordHash: 'h', confirmed, createdAt: n });
      for (const [n, confirmed] of [[1, false], [2, true], [3, false], [4, false]] as const) await store.createUserpassAccount(acc(n, confirmed));
      // The third one logged in: it is a user now.
      await store.loginIdentity({ identity: identity(acc(3, false).id, 'local-userpass', { email: 'p3@x' }), newUserId: 'd3'.padEnd(24, '0'), userType: 'normal', now: 5 });
      assert.deepEqual(await store.listPendingUserpassAccounts({ limit: 50 }), [acc(1, false), acc(2, true), acc(4, false)]);
      assert.deepEqual(await store.listPendingUserpassAccounts({ limit: 1, after: acc(1, false).id }), [acc(2, true)]);
      assert.deepEqual(await store.listPendingUserpassAccounts({ limit: 5, after: acc(4, false).id }), []);
    });

    describe('importing users', () => {
      const uid = 'b1'.padEnd(24, '0');
      const imported = (extra: Partial<ImportedUser> = {}): ImportedUser => ({
        user: { id: uid, type: 'normal', disabled: true, createdAt: 1_000, lastAuthAt: 2_000 },
        identities: [
          { ...identity('jwt-sub-1', 'custom-token', { name: 'Ada' }), createdAt: 1_000 },
          { ...identity('c1'.padEnd(24, '0'), 'local-userpass', { email: 'ada@x' }), createdAt: 1_500 },
        ],
        accounts: [{ id: 'c1'.padEnd(24, '0'), email: 'ada@x', passwordHash: PASSWORD_RESET_REQUIRED, confirmed: true, createdAt: 1_000 }],
        ...extra,
      });

      it('writes the user with its own id, dates, state, identities and accounts; again, it changes nothing', async () => {
        assert.deepEqual(await store.importUser(imported()), { status: 'imported' });
        const user = await store.getUser(uid);
        assert.deepEqual(
          { ...user, identities: user?.identities.map((i) => [i.providerType, i.externalId, i.data, i.createdAt]) },
          {
            id: uid,
            type: 'normal',
            disabled: true,
            createdAt: 1_000,
            lastAuthAt: 2_000,
            identities: [
              ['custom-token', 'jwt-sub-1', { name: 'Ada' }, 1_000],
              ['local-userpass', 'c1'.padEnd(24, '0'), { email: 'ada@x' }, 1_500],
            ],
          },
        );
        assert.equal((await store.findUserpassAccountByEmail('ada@x'))?.passwordHash, PASSWORD_RESET_REQUIRED);
        assert.deepEqual(await store.importUser(imported()), { status: 'unchanged' });
        assert.equal((await store.getUser(uid))?.identities.length, 2);
        // The identity logs in as the imported user.
        const login = await store.loginIdentity({ identity: identity('jwt-sub-1', 'custom-token'), newUserId: 'ff'.padEnd(24, '0'), userType: 'normal', now: 3_000 });
        assert.deepEqual(login, { userId: uid, created: false, disabled: true });
      });

      it('adds the identities a known user lacks, and nothing else', async () => {
        await store.importUser(imported({ identities: imported().identities.slice(0, 1), accounts: [] }));
        assert.deepEqual(await store.importUser(imported({ user: { ...imported().user!, disabled: false, createdAt: 5 } })), { status: 'imported' });
        const user = await store.getUser(uid);
        assert.equal(user?.identities.length, 2);
        assert.equal(user?.disabled, true, 'what the store holds stays');
        assert.equal(user?.createdAt, 1_000);
      });

      it('refuses, writing nothing, an identity of another user or an account clashing by email or id', async () => {
        const other = await store.loginIdentity({ identity: identity('jwt-sub-1', 'custom-token'), newUserId: 'e1'.padEnd(24, '0'), userType: 'normal', now: 1 });
        const taken = await store.importUser(imported());
        assert.equal(taken.status, 'conflict');
        assert.match((taken as { reason: string }).reason, new RegExp(`custom-token 'jwt-sub-1' belongs to another user \\(${other.userId}\\)`));
        assert.equal(await store.getUser(uid), null);
        assert.equal(await store.findUserpassAccountByEmail('ada@x'), null);

        await store.createUserpassAccount({ id: 'd9'.padEnd(24, '0'), email: 'ada@x', passwordHash: 'h', confirmed: true, createdAt: 1 });
        const byEmail = await store.importUser(imported({ identities: imported().identities.slice(1) }));
        assert.match((byEmail as { reason: string }).reason, /email 'ada@x' is already registered to another email\/password account/);
        const byId = await store.importUser({ user: null, identities: [], accounts: [{ id: 'd9'.padEnd(24, '0'), email: 'bob@x', passwordHash: 'h', confirmed: false, createdAt: 1 }] });
        assert.match((byId as { reason: string }).reason, /already exists with another email/);
        assert.equal(await store.getUser(uid), null);
        assert.equal(await store.findUserpassAccountByEmail('bob@x'), null);
      });

      it('works out a dry run without keeping anything', async () => {
        assert.deepEqual(await store.importUser(imported(), { dryRun: true }), { status: 'imported' });
        assert.equal(await store.getUser(uid), null);
        assert.equal(await store.findUserpassAccountByEmail('ada@x'), null);
        await store.importUser(imported());
        assert.deepEqual(await store.importUser(imported(), { dryRun: true }), { status: 'unchanged' });
      });

      it('imports a pending registration alone, and lists the accounts still waiting for a password', async () => {
        const pending = { id: 'a7'.padEnd(24, '0'), email: 'pen@x', passwordHash: PASSWORD_RESET_REQUIRED, confirmed: false, createdAt: 9 };
        assert.deepEqual(await store.importUser({ user: null, identities: [], accounts: [pending] }), { status: 'imported' });
        await store.importUser(imported());
        await store.createUserpassAccount({ id: 'a1'.padEnd(24, '0'), email: 'own@x', passwordHash: 'h', confirmed: true, createdAt: 1 });
        assert.deepEqual((await store.listAccountsAwaitingReset({ limit: 10 })).map((a) => a.email), ['pen@x', 'ada@x']);
        assert.deepEqual((await store.listAccountsAwaitingReset({ limit: 10, after: pending.id })).map((a) => a.email), ['ada@x']);
        await store.setUserpassPassword('c1'.padEnd(24, '0'), 'new-hash');
        assert.deepEqual((await store.listAccountsAwaitingReset({ limit: 10 })).map((a) => a.email), ['pen@x']);
      });
    });

    it('keeps admin tokens by hash', async () => {
      const t = (n: number) => ({ id: `t${n}`.padEnd(24, '0'), name: `ops ${n}`, tokenHash: `th-${n}`, createdAt: n });
      await store.createAdminToken(t(1));
      await store.createAdminToken(t(2));
      await assert.rejects(store.createAdminToken({ ...t(3), tokenHash: 'th-1' }), 'a token hash is unique');
      assert.deepEqual(await store.findAdminTokenByHash('th-2'), t(2));
      assert.equal(await store.findAdminTokenByHash('th-9'), null);
      assert.deepEqual(await store.listAdminTokens(), [t(1), t(2)]);
      assert.equal(await store.deleteAdminToken(t(1).id), true);
      assert.equal(await store.deleteAdminToken(t(1).id), false);
      assert.equal(await store.findAdminTokenByHash('th-1'), null);
      assert.deepEqual(await store.listAdminTokens(), [t(2)]);
    });

    it('appends to the audit log and reads it newest first, a page at a time', async () => {
      const entry = (n: number) => ({
        id: `e${n}`.padEnd(24, '0'),
        at: 1000 + n,
        actorId: 'a'.repeat(24),
        actorName: 'ops',
        action: n % 2 ? 'user.disable' : 'user.enable',
        target: `u${n}`,
        details: { n, nested: { ok: true } },
      });
      // Ids out of order on purpose: the log keeps the order of appends.
      for (const n of [3, 1, 2, 5, 4]) await store.appendAuditEntry(entry(n));
      assert.deepEqual(await store.listAuditEntries({ limit: 2 }), [entry(4), entry(5)]);
      assert.deepEqual(await store.listAuditEntries({ limit: 2, after: entry(5).id }), [entry(2), entry(1)]);
      assert.deepEqual(await store.listAuditEntries({ limit: 2, after: entry(1).id }), [entry(3)]);
      assert.deepEqual(await store.listAuditEntries({ limit: 2, after: entry(3).id }), []);
      await assert.rejects(store.appendAuditEntry(entry(3)), 'an entry id is unique');
    });

    it('claims each scheduled tick once, however many claim it at once, and keeps the latest tick when pruning', async () => {
      assert.equal(await store.lastScheduledTick('nightly'), null);
      const claims = await Promise.all(Array.from({ length: 8 }, () => store.claimScheduledTick('nightly', 60_000, 1, true)));
      assert.equal(claims.filter(Boolean).length, 1);
      assert.equal(await store.claimScheduledTick('nightly', 60_000, 2, false), false);
      // Another trigger's tick at the same time is its own.
      assert.equal(await store.claimScheduledTick('hourly', 60_000, 1, true), true);
      assert.equal(await store.claimScheduledTick('nightly', 180_000, 3, false), true);
      assert.equal(await store.claimScheduledTick('nightly', 120_000, 3, true), true, 'an earlier tick not yet claimed still can be');
      assert.equal(await store.lastScheduledTick('nightly'), 180_000);
      assert.equal(await store.pruneScheduledTicks('nightly', 150_000), 2);
      assert.equal(await store.lastScheduledTick('nightly'), 180_000);
      assert.equal(await store.pruneScheduledTicks('nightly', 10_000_000), 0, 'the latest tick stays');
      assert.equal(await store.lastScheduledTick('nightly'), 180_000);
      assert.equal(await store.lastScheduledTick('hourly'), 60_000);
    });

    it('counts trigger runs and keeps the last failure, per trigger', async () => {
      assert.deepEqual(await store.listTriggerRuns(), []);
      await store.recordTriggerRun('nightly', { at: 1000, ran: true });
      await store.recordTriggerRun('nightly', { at: 2000, ran: true, error: 'boom' });
      await store.recordTriggerRun('nightly', { at: 3000, ran: true });
      await store.recordTriggerRun('onChange', { at: 4000, ran: false, error: 'stream broke' });
      await Promise.all([5004, 5001, 5003, 5000, 5002].map((at) => store.recordTriggerRun('busy', { at, ran: true })));
      await store.recordTriggerRun('nightly', { at: 1500, ran: false, error: 'late report of an older failure' });
      assert.deepEqual(await store.listTriggerRuns(), [
        { trigger: 'busy', runs: 5, failed: 0, lastRunAt: 5004, lastErrorAt: null, lastError: null },
        { trigger: 'nightly', runs: 3, failed: 2, lastRunAt: 3000, lastErrorAt: 2000, lastError: 'boom' },
        { trigger: 'onChange', runs: 0, failed: 1, lastRunAt: null, lastErrorAt: 4000, lastError: 'stream broke' },
      ]);
    });

    it('leases a database trigger to one instance, records its progress, and frees the lease on a reset', async () => {
      const init = await store.initDatabaseTrigger('onOrder', { source: 'embedded:shop.orders', position: '7', disabled: false });
      assert.equal(init.position, '7');
      assert.equal((await store.initDatabaseTrigger('onOrder', { source: 'x', position: '99', disabled: true })).position, '7', 'an existing row stays');
      assert.ok(await store.leaseDatabaseTrigger('onOrder', 'a', 100, 1000));
      assert.equal(await store.leaseDatabaseTrigger('onOrder', 'b', 200, 1200), null, 'held by a');
      assert.equal(await store.advanceDatabaseTrigger('onOrder', 'a', { position: '9', leaseUntil: 1100, ran: 2, failed: 1, at: 300, lastError: 'nope' }), true);
      assert.equal(await store.advanceDatabaseTrigger('onOrder', 'b', { position: '10', leaseUntil: 1100, ran: 1, failed: 0, at: 300 }), false);
      let [state] = await store.listDatabaseTriggers();
      assert.deepEqual(
        { position: state!.position, leaseOwner: state!.leaseOwner, delivered: state!.delivered, failed: state!.failed, lastRunAt: state!.lastRunAt, lastError: state!.lastError, lastErrorAt: state!.lastErrorAt },
        { position: '9', leaseOwner: 'a', delivered: 2, failed: 1, lastRunAt: 300, lastError: 'nope', lastErrorAt: 300 },
      );
      // A reset (resume without catch-up) moves the position and frees the lease: a's next step is refused.
      await store.resetDatabaseTrigger('onOrder', { source: 'embedded:shop.orders', position: '20', disabled: false });
      assert.equal(await store.advanceDatabaseTrigger('onOrder', 'a', { position: '10', leaseUntil: 1100, ran: 1, failed: 0, at: 400 }), false);
      const taken = await store.leaseDatabaseTrigger('onOrder', 'b', 500, 1500);
      assert.equal(taken?.position, '20');
      await store.releaseDatabaseTrigger('onOrder', 'b');
      [state] = await store.listDatabaseTriggers();
      assert.equal(state!.leaseOwner, null);
      assert.ok(await store.leaseDatabaseTrigger('onOrder', 'a', 600, 1600), 'a released lease is free at once');
    });

    it('deletes expired sessions', async () => {
      const u = (await store.loginIdentity({ identity: identity('exp'), newUserId: 'a1'.padEnd(24, '0'), userType: 'normal', now: 1 })).userId;
      const live = session(u, { expiresAt: 2000 });
      const dead = session(u, { expiresAt: 500 });
      await store.createSession(live);
      await store.createSession(dead);
      assert.equal(await store.deleteExpiredSessions(1000), 1);
      assert.ok(await store.findSession(live.id));
      assert.equal(await store.findSession(dead.id), null);
    });
  });
}
