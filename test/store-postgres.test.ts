// The PostgreSQL store: the shared conformance suite (each store in a fresh schema of the test
// database), then what only a networked store has to get right: migrations from instances
// starting together, and concurrent writers on separate connection pools.
// Runs when BASTE_TEST_DATABASE_URL is set; otherwise skipped, saying so.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { MIGRATIONS } from '../src/store/postgres/schema.js';
import { MIGRATIONS as SQLITE_MIGRATIONS } from '../src/store/sqlite/schema.js';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { NewIdentity, Store } from '../src/store/store.js';
import { adminQuery, freshDatabase, skipWithoutPostgres, TEST_DATABASE_URL, uniqueName } from './helpers/postgres.js';
import { storeConformance } from './store/conformance.js';
import { refreshAcrossInstances } from './store/refresh-instances.js';

const url = TEST_DATABASE_URL ?? '';
const schemas: string[] = [];
const newSchema = () => {
  const s = uniqueName('baste_t');
  schemas.push(s);
  return s;
};

after(async () => {
  if (!TEST_DATABASE_URL) return;
  for (const s of schemas) await adminQuery(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
});

const anon = (externalId: string): NewIdentity => ({
  externalId,
  providerName: 'anon-user',
  providerType: 'anon-user',
  providerId: 'p'.repeat(24),
  data: {},
});

describe('postgresql store', { skip: skipWithoutPostgres('PostgreSQL store tests') }, () => {
  storeConformance('postgresql', () => openPostgresStore(url, { schema: newSchema() }));
  refreshAcrossInstances('postgresql (two pools on one schema)', async () => {
    const schema = newSchema();
    const a = await openPostgresStore(url, { schema });
    return [a, await openPostgresStore(url, { schema })] as const;
  });

  describe('postgresql specifics', () => {
    it('migrates an empty database once when two stores open it at the same time', async () => {
      const db = await freshDatabase();
      try {
        const stores = await Promise.all([openPostgresStore(db.url), openPostgresStore(db.url)]);
        const versions = await adminQuery('SELECT version FROM schema_migrations ORDER BY version', [], db.url);
        assert.deepEqual(
          versions.rows.map((r) => r.version),
          MIGRATIONS.map((_, i) => i + 1),
        );
        // Both work on the same tables.
        const first = await stores[0]!.loginIdentity({ identity: anon('both'), newUserId: 'a'.repeat(24), userType: 'normal', now: 1 });
        assert.ok(await stores[1]!.getUser(first.userId));
        await Promise.all(stores.map((s) => s.close()));
        // Opening again applies nothing and keeps the data.
        const again = await openPostgresStore(db.url);
        assert.ok(await again.getUser(first.userId));
        await again.close();
        assert.equal((await adminQuery('SELECT count(*)::int AS n FROM schema_migrations', [], db.url)).rows[0].n, MIGRATIONS.length);
      } finally {
        await db.drop();
      }
    });

    it('many stores racing to create one schema all succeed', async () => {
      const schema = newSchema();
      const stores = await Promise.all(Array.from({ length: 5 }, () => openPostgresStore(url, { schema })));
      await Promise.all(stores.map((s) => s.close()));
      const applied = await adminQuery(`SELECT count(*)::int AS n FROM "${schema}".schema_migrations`);
      assert.equal(applied.rows[0].n, MIGRATIONS.length);
    });

    it('brings an older schema up to date without losing its rows', async () => {
      const schema = newSchema();
      await adminQuery(`CREATE SCHEMA "${schema}"`);
      const setUp = [
        `SET search_path = "${schema}"`,
        'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
        MIGRATIONS[0]!,
        'INSERT INTO schema_migrations VALUES (1, 0)',
        `INSERT INTO users VALUES ('${'1'.repeat(24)}', 'normal', FALSE, 5, 6)`,
        `INSERT INTO sessions (id, user_id, refresh_hash, device_id, provider_name, provider_type, created_at, expires_at)
           VALUES ('${'2'.repeat(24)}', '${'1'.repeat(24)}', 'h', 'd', 'anon-user', 'anon-user', 5, 99)`,
      ];
      await adminQuery(setUp.join(';\n'));
      const store = await openPostgresStore(url, { schema });
      try {
        assert.equal((await store.getUser('1'.repeat(24)))?.lastAuthAt, 6);
        const s = await store.findSession('2'.repeat(24));
        assert.equal(s?.session.expiresAt, 99);
        assert.equal(s?.session.apiKeyId, null);
      } finally {
        await store.close();
      }
    });

    it('has as many migrations as SQLite, leading to the same tables and columns (the shared SQL of src/store/sql/core.ts reads both)', async () => {
      // The two migration lists stay apart (their column types differ, and deployed databases
      // recorded each list's versions); this keeps them in step. PostgreSQL's `seq` columns are
      // SQLite's implicit rowid (`#seq` in core.ts).
      assert.equal(MIGRATIONS.length, SQLITE_MIGRATIONS.length);
      const lite = new Database(':memory:');
      for (const sql of SQLITE_MIGRATIONS) lite.exec(sql);
      const liteTables = (lite.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'sqlite_sequence' ORDER BY name`).all() as { name: string }[]).map(
        (t) => `${t.name}(${(lite.prepare(`SELECT name FROM pragma_table_info(?) ORDER BY name`).all(t.name) as { name: string }[]).map((c) => c.name).join(',')})`,
      );
      lite.close();
      const schema = newSchema();
      await (await openPostgresStore(url, { schema, sessionCache: false })).close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query(
          `SELECT table_name AS t, string_agg(column_name, ',' ORDER BY column_name) AS cols FROM information_schema.columns
            WHERE table_schema = $1 AND table_name NOT IN ('schema_migrations', 'baste_owner') AND NOT (column_name = 'seq' AND table_name <> 'audit_log')
            GROUP BY table_name ORDER BY table_name`,
          [schema],
        );
        assert.deepEqual(rows.map((r: { t: string; cols: string }) => `${r.t}(${r.cols})`), liteTables);
      } finally {
        await client.end();
      }
    });

    it('returns epoch-millisecond times as numbers', async () => {
      const store = await openPostgresStore(url, { schema: newSchema() });
      try {
        const now = Date.now();
        const { userId } = await store.loginIdentity({ identity: anon('t'), newUserId: 't'.repeat(24), userType: 'normal', now });
        const user = await store.getUser(userId);
        assert.equal(user?.createdAt, now);
        assert.equal(typeof user?.identities[0]?.createdAt, 'number');
        assert.deepEqual(await store.hitCounter('k', 60_000, now), { count: 1, windowStart: now });
      } finally {
        await store.close();
      }
    });

    describe('two connection pools on one schema', () => {
      let a: Store;
      let b: Store;
      const both = () => [a, b] as const;
      const open = async () => {
        const schema = newSchema();
        a = await openPostgresStore(url, { schema });
        b = await openPostgresStore(url, { schema });
      };
      const close = async () => {
        await Promise.all(both().map((s) => s.close()));
      };

      it('creates one user when one identity logs in many times at once through both', async () => {
        await open();
        try {
          const logins = Array.from({ length: 40 }, (_, i) =>
            both()[i % 2]!.loginIdentity({ identity: anon('same'), newUserId: `${i}`.padStart(24, '0'), userType: 'normal', now: 1 + i }),
          );
          const results = await Promise.all(logins);
          assert.equal(new Set(results.map((r) => r.userId)).size, 1);
          assert.equal(results.filter((r) => r.created).length, 1);
          const users = await adminQuery(`SELECT count(*)::int AS n FROM "${schemas.at(-1)}".users`);
          assert.equal(users.rows[0].n, 1);
        } finally {
          await close();
        }
      });

      it('creates one user when one anonymous identity logs in many times at once through both, opening each login\'s session', async () => {
        await open();
        try {
          const sessionId = (i: number) => `${i}`.padStart(24, 'a');
          const logins = Array.from({ length: 40 }, (_c, i) =>
            both()[i % 2]!.loginIdentity({
              identity: anon('racing'),
              newUserId: `${i}`.padStart(24, '0'),
              userType: 'normal',
              now: 1 + i,
              open: {
                session: { id: sessionId(i), refreshHash: `${i}`.padStart(64, 'b'), deviceId: 'd'.repeat(24), providerName: 'anon-user', providerType: 'anon-user', createdAt: 1, expiresAt: 1e6 },
                device: { id: 'd'.repeat(24), lastSeenAt: 1 + i },
              },
            }),
          );
          const results = await Promise.all(logins);
          const owners = new Set(results.map((r) => r.userId));
          assert.equal(owners.size, 1);
          assert.equal(results.filter((r) => r.created).length, 1);
          const counts = await adminQuery(
            `SELECT (SELECT count(*)::int FROM "${schemas.at(-1)}".users) AS users, (SELECT count(*)::int FROM "${schemas.at(-1)}".sessions) AS sessions,
                    (SELECT count(*)::int FROM "${schemas.at(-1)}".devices) AS devices`,
          );
          assert.deepEqual(counts.rows[0], { users: 1, sessions: 40, devices: 1 });
          for (let i = 0; i < 40; i++) assert.equal((await a.findSession(sessionId(i)))?.session.userId, [...owners][0]);
        } finally {
          await close();
        }
      });

      it('counts every concurrent hit of a counter', async () => {
        await open();
        try {
          const hits = await Promise.all(Array.from({ length: 60 }, (_, i) => both()[i % 2]!.hitCounter('shared', 60_000, 1000 + i)));
          assert.deepEqual(
            hits.map((h) => h.count).sort((x, y) => x - y),
            Array.from({ length: 60 }, (_, i) => i + 1),
          );
          assert.deepEqual(await a.readCounter('shared', 60_000, 2000), { count: 60, windowStart: hits.find((h) => h.count === 1)!.windowStart });
        } finally {
          await close();
        }
      });

      it('registers one email once, rotates keys to exactly one active key, and keeps API key limits', async () => {
        await open();
        try {
          const accounts = await Promise.all(
            Array.from({ length: 10 }, (_, i) =>
              both()[i % 2]!.createUserpassAccount({ id: `${i}`.padStart(24, 'a'), email: 'race@x', passwordHash: 'h', confirmed: true, createdAt: 1 }),
            ),
          );
          assert.equal(accounts.filter((r) => r === 'created').length, 1);

          await Promise.all(
            Array.from({ length: 10 }, (_, i) => both()[i % 2]!.rotateSigningKey({ kid: `k${i}`, secret: 's', createdAt: 10 + i, retiredAt: null })),
          );
          const keys = await a.listSigningKeys();
          assert.equal(keys.length, 10);
          assert.equal(keys.filter((k) => k.retiredAt === null).length, 1);

          const owner = (await a.loginIdentity({ identity: anon('owner'), newUserId: 'o'.repeat(24), userType: 'normal', now: 1 })).userId;
          const created = await Promise.all(
            Array.from({ length: 10 }, (_, i) =>
              both()[i % 2]!.createUserApiKey(
                { id: `${i}`.padStart(24, 'k'), userId: owner, kind: 'user', name: `key${i}`, keyHash: `h${i}`, disabled: false, createdAt: 1 },
                3,
              ),
            ),
          );
          assert.equal(created.filter((r) => r === 'created').length, 3);
          assert.equal((await b.listApiKeys(owner)).length, 3);
        } finally {
          await close();
        }
      });

      // ---- Session caches of two instances (src/store/postgres/invalidations.ts) ----

      /** A user with a session, cached by `b` (its second read is a hit, and so is a refresh's lookup). */
      const cachedOnB = async (n: number) => {
        const userId = (await a.loginIdentity({ identity: anon(`rev${n}`), newUserId: `r${n}`.padEnd(24, '0'), userType: 'normal', now: 1 })).userId;
        const s = { id: `s${n}`.padEnd(24, '0'), userId, refreshHash: `rh${n}`, deviceId: 'd'.repeat(24), providerName: 'api-key', providerType: 'api-key', createdAt: 1, expiresAt: 1e13, apiKeyId: `k${n}`.padEnd(24, '0') };
        await a.createUserApiKey({ id: s.apiKeyId, userId, kind: 'user', name: `key${n}`, keyHash: `kh${n}`, disabled: false, createdAt: 1 }, 5);
        await a.createSession(s);
        // A cache out of service for a moment (a late heartbeat on a busy machine) keeps nothing.
        for (let i = 0; i < 200 && !b.sessionCacheStats!().live; i++) await new Promise((r) => setTimeout(r, 5));
        assert.ok(await b.findSessionWithUser(s.id));
        const hits = b.sessionCacheStats!().hits;
        assert.ok(await b.findSession(s.id));
        assert.equal(b.sessionCacheStats!().hits, hits + 1, 'cached on b');
        assert.ok(await b.findSessionByRefreshHash(s.refreshHash));
        assert.equal(b.sessionCacheStats!().hits, hits + 2, 'a refresh on b is served from the cache');
        return { userId, sessionId: s.id, keyId: s.apiKeyId, refreshHash: s.refreshHash };
      };
      /** How long until `b` refuses the session, by id and by refresh-token hash (it must within 100 ms). */
      const refusedOnB = async (c: { sessionId: string; refreshHash: string }) => {
        const t0 = performance.now();
        while ((await b.findSession(c.sessionId)) !== null || (await b.findSessionByRefreshHash(c.refreshHash)) !== null) {
          assert.ok(performance.now() - t0 < 100, 'b still serves the revoked session 100 ms later');
          await new Promise((r) => setTimeout(r, 2));
        }
        return performance.now() - t0;
      };
      const listenerPid = async (store: Store) => {
        for (let i = 0; i < 500; i++) {
          const pid = await (store as unknown as { invalidationListenerPid(): Promise<number | null> }).invalidationListenerPid();
          if (pid !== null) return pid;
          await new Promise((r) => setTimeout(r, 10));
        }
        throw new Error('the listener never came back');
      };

      it('a revocation on one instance is refused by the other’s cache within 100 ms: logout, revoke all, disable, delete, API key disable and delete', async () => {
        await open();
        try {
          const revocations: [string, (c: Awaited<ReturnType<typeof cachedOnB>>) => Promise<unknown>][] = [
            ['logout', (c) => a.deleteSession(c.sessionId)],
            ['every session of the user (password reset, admin revoke)', (c) => a.deleteSessionsOfUser(c.userId)],
            ['disable', (c) => a.setUserDisabled(c.userId, true)],
            ['delete', (c) => a.deleteUser(c.userId)],
            ['API key disabled', (c) => a.setApiKeyDisabled(c.userId, c.keyId, true)],
            ['API key deleted', (c) => a.deleteApiKey(c.userId, c.keyId)],
          ];
          let n = 0;
          for (const [what, revoke] of revocations) {
            const c = await cachedOnB(n++);
            await revoke(c);
            const ms = await refusedOnB(c);
            assert.ok(ms < 100, `${what}: ${ms} ms`);
          }
          // Another user's cached session stays through all of that, and through other users' logins
          // and refreshes (announced per user), by id and by refresh hash.
          const kept = await cachedOnB(n++);
          const returning = await a.loginIdentity({ identity: anon('rev0'), newUserId: 'x'.repeat(24), userType: 'normal', now: 7 });
          assert.equal(returning.created, false);
          await a.touchSession('x', 'nobody', 5, 6);
          await new Promise((r) => setTimeout(r, 60)); // past the heartbeat: announcements have arrived
          for (let i = 0; i < 200 && !b.sessionCacheStats!().live; i++) await new Promise((r) => setTimeout(r, 5));
          const hits = b.sessionCacheStats!().hits;
          assert.ok(await b.findSession(kept.sessionId));
          assert.ok(await b.findSessionByRefreshHash(kept.refreshHash));
          assert.equal(b.sessionCacheStats!().hits, hits + 2);
        } finally {
          await close();
        }
      });

      it('a refresh that keeps the expiry is not announced (the other instance keeps its entry); a sliding one reaches it; revocations after refreshes still do', async () => {
        await open();
        try {
          const c = await cachedOnB(20);
          const readOnB = async () => {
            const hits = b.sessionCacheStats!().hits;
            const found = await b.findSessionWithUser(c.sessionId);
            return { found, hit: b.sessionCacheStats!().hits === hits + 1 };
          };
          // Plain refreshes: nothing b's checks read changed, so b keeps serving its entry
          // (waiting past the heartbeat, so an announcement would have arrived).
          for (let i = 0; i < 5; i++) await a.touchSession(c.sessionId, c.userId, 100 + i);
          await new Promise((r) => setTimeout(r, 60));
          const kept = await readOnB();
          assert.equal(kept.hit, true, 'b keeps its entry through refreshes that keep the expiry');
          assert.equal(kept.found?.active.session.expiresAt, 1e13);
          // a reads its own write exactly; b's cached last use lags (by refresh hash too) until it reads fresh.
          assert.equal((await a.findSessionWithUser(c.sessionId))?.active.session.lastUsedAt, 104);
          assert.equal((await b.findSessionByRefreshHash(c.refreshHash))?.session.lastUsedAt, 1);
          assert.equal((await b.findSessionByRefreshHash(c.refreshHash, { fresh: true }))?.session.lastUsedAt, 104);
          assert.equal((await readOnB()).found?.active.session.lastUsedAt, 104, 'the fresh read refilled b’s cache');

          // A sliding refresh moves the expiry: b sees the new one within 100 ms.
          await a.touchSession(c.sessionId, c.userId, 200, 2e13);
          const t0 = performance.now();
          while ((await b.findSession(c.sessionId))?.session.expiresAt !== 2e13) {
            assert.ok(performance.now() - t0 < 100, 'b still serves the old expiry 100 ms later');
            await new Promise((r) => setTimeout(r, 2));
          }

          // Revoked after all those refreshes: refused by b within 100 ms.
          assert.ok((await readOnB()).found);
          await a.deleteSession(c.sessionId);
          await refusedOnB(c);
        } finally {
          await close();
        }
      });

      it('reads the database, not the cache, while its LISTEN connection is gone (pg_terminate_backend), and caches again once it is back', async () => {
        await open();
        try {
          const c = await cachedOnB(1);
          const other = await cachedOnB(2);
          const pid = await listenerPid(b);
          await adminQuery('SELECT pg_terminate_backend($1)', [pid]);
          // Revoked at once, while b may not even have noticed yet: refused all the same.
          await a.deleteSession(c.sessionId);
          await refusedOnB(c);
          // While the listener is down, nothing is served from the cache: every read is a miss.
          for (let i = 0; i < 50 && b.sessionCacheStats!().live; i++) await new Promise((r) => setTimeout(r, 2));
          const down = b.sessionCacheStats!();
          if (!down.live) {
            await a.setUserDisabled(other.userId, true);
            assert.equal(await b.findSession(other.sessionId), null, 'read from the database while down');
            assert.equal(await b.findSessionByRefreshHash(other.refreshHash), null, 'a refresh too');
          }
          assert.notEqual(await listenerPid(b), pid, 'a new listening connection');
          const again = await cachedOnB(3);
          assert.ok(b.sessionCacheStats!().live);
          await a.deleteUser(again.userId);
          await refusedOnB(again);
        } finally {
          await close();
        }
      });

      it('stops trusting its cache within 100 ms when the LISTEN connection goes silent (its backend stopped), and no stale session survives', async (t) => {
        await open();
        const pid = await listenerPid(b);
        try {
          process.kill(pid, 'SIGSTOP');
        } catch {
          t.skip('PostgreSQL is not on this machine, or its processes cannot be signalled');
          await close();
          return;
        }
        let stopped = true;
        try {
          process.kill(pid, 'SIGCONT');
          stopped = false;
          const c = await cachedOnB(1);
          const later = await cachedOnB(2);
          process.kill(pid, 'SIGSTOP');
          stopped = true;
          // The notification of this logout is queued behind a backend that neither delivers nor closes.
          await a.deleteSession(c.sessionId);
          const ms = await refusedOnB(c);
          assert.ok(ms < 100, `${ms} ms`);
          assert.equal(b.sessionCacheStats!().live, false, 'out of service without heartbeats');
          await a.deleteUser(later.userId);
          const misses = b.sessionCacheStats!().misses;
          assert.equal(await b.findSessionByRefreshHash(later.refreshHash), null, 'a refresh reads the database');
          assert.equal(await b.findSession(later.sessionId), null, 'read from the database');
          assert.equal(b.sessionCacheStats!().misses, misses + 2);
          process.kill(pid, 'SIGCONT');
          stopped = false;
          for (let i = 0; i < 100 && !b.sessionCacheStats!().live; i++) await new Promise((r) => setTimeout(r, 5));
          assert.ok(b.sessionCacheStats!().live, 'back in service once heartbeats come through');
          assert.equal(await b.findSession(c.sessionId), null);
          assert.equal(await b.findSession(later.sessionId), null);
        } finally {
          if (stopped) process.kill(pid, 'SIGCONT');
          await close();
        }
      });
    });
  });
});
