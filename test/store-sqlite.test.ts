import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { GroupCommit } from '../src/util/sqlite-group-commit.js';
import { storeFailureOf } from '../src/store/failures.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { SessionCache } from '../src/store/session-cache.js';
import type { ActiveSession, UserRecord } from '../src/store/store.js';
import { storeConformance } from './store/conformance.js';
import { refreshAcrossInstances } from './store/refresh-instances.js';

const dir = mkdtempSync(join(tmpdir(), 'baste-store-'));
let n = 0;
after(() => rmSync(dir, { recursive: true, force: true }));

storeConformance('sqlite', async () => openSqliteStore(join(dir, `store-${n++}.sqlite`)));
refreshAcrossInstances('sqlite (two connections to one file)', async () => {
  const file = join(dir, `pair-${n++}.sqlite`);
  return [openSqliteStore(file), openSqliteStore(file)] as const;
});

it('sqlite: keeps what was committed across a reopen, and migrates an existing file without loss', async () => {
  const file = join(dir, 'durable.sqlite');
  const first = openSqliteStore(file);
  await first.loginIdentity({ identity: { externalId: 'e', providerName: 'anon-user', providerType: 'anon-user', providerId: 'p', data: {} }, newUserId: 'd'.repeat(24), userType: 'normal', now: 1 });
  await first.close();
  const second = openSqliteStore(file);
  assert.equal((await second.getUser('d'.repeat(24)))?.identities.length, 1);
  await second.close();
});

// ---- Session cache (src/store/session-cache.ts) ----

const userpass = (externalId: string, data: Record<string, unknown>) => ({ externalId, providerName: 'local-userpass', providerType: 'local-userpass', providerId: 'p'.repeat(24), data });

/** A user logged in with one session through `store`. */
async function loggedIn(store: ReturnType<typeof openSqliteStore>, n: number) {
  const s = { id: (0xc000 + n).toString(16).padStart(24, '0'), refreshHash: `cr${n}`, deviceId: 'd'.repeat(24), providerName: 'local-userpass', providerType: 'local-userpass', createdAt: 1, expiresAt: 10_000, apiKeyId: null, lastUsedAt: 1, address: null, expiryCap: null };
  const { userId } = await store.loginIdentity({
    identity: userpass(`cache${n}`, { email: `c${n}@x`, profile: { roles: ['reader'] } }),
    newUserId: (0xa000 + n).toString(16).padStart(24, '0'),
    userType: 'normal',
    now: 1,
    open: { session: s, device: { id: s.deviceId, lastSeenAt: 1 } },
  });
  return { userId, sessionId: s.id, session: { ...s, userId } };
}

it('sqlite: hands out the same frozen records until a write that can change them runs', async () => {
  const store = openSqliteStore(join(dir, 'cache-frozen.sqlite'));
  try {
    const { userId, sessionId } = await loggedIn(store, 1);
    const first = await store.findSessionWithUser(sessionId);
    assert.ok(first);
    assert.equal(await store.findSessionWithUser(sessionId), first, 'served from the cache');
    assert.equal(await store.findSession(sessionId), first.active);
    const identity = first.user.identities[0]!;
    for (const o of [first, first.active, first.active.session, first.user, first.user.identities, identity, identity.data, identity.data.profile, (identity.data.profile as { roles: unknown }).roles]) {
      assert.ok(Object.isFrozen(o));
    }

    // Tables no cached record comes from, written by requests without a session: the cache stays.
    await store.hitCounter('login:x', 1000, 1);
    await store.putOAuthState({ idHash: 'h', providerName: 'g', clientState: 'c', redirectUri: 'r', callbackUrl: 'c', device: {}, linkSessionId: null, codeVerifier: 'v', nonce: 'n', createdAt: 1, expiresAt: 2 });
    await store.createUserpassAccount({ id: 'e'.repeat(24), email: 'new@x', passwordHash: 'h', confirmed: false, createdAt: 1 });
    await store.putUserpassToken({ id: 't', accountId: 'e'.repeat(24), kind: 'confirm', tokenHash: 'th', expiresAt: 5 });
    assert.equal(await store.findSessionWithUser(sessionId), first);

    // Nor writes of tables it holds, about other users and sessions.
    await store.createAdminToken({ id: 'a'.repeat(24), name: 'ops', tokenHash: 'ath', createdAt: 1 });
    const other = await loggedIn(store, 2);
    await store.touchSession(other.sessionId, other.userId, 60);
    await store.deleteSession(other.sessionId);
    assert.equal(await store.findSessionWithUser(sessionId), first);

    // A write of the user's own rows drops its entries.
    await store.touchSession(sessionId, userId, 50);
    const second = await store.findSessionWithUser(sessionId);
    assert.notEqual(second, first);
    assert.equal(second?.user.lastAuthAt, 50);
  } finally {
    await store.close();
  }
});

// The server reads `PRAGMA data_version` once per turn of the event loop: a foreign commit reaches
// the lookups of the next turn (the CLI's writes here are awaited, which crosses turns already).
it('sqlite: a write by another connection to the file (the CLI) reaches the lookups of the next turn', async () => {
  const file = join(dir, 'cache-other.sqlite');
  const server = openSqliteStore(file);
  const cli = openSqliteStore(file);
  const raw = new Database(file);
  raw.pragma('busy_timeout = 5000');
  /** Reads through the server's store twice: the second read is a cache hit. */
  const cached = async (sessionId: string) => {
    const found = await server.findSessionWithUser(sessionId);
    assert.ok(found);
    assert.equal(await server.findSessionWithUser(sessionId), found, 'cached');
    return found;
  };
  try {
    const a = await loggedIn(server, 1);
    await cached(a.sessionId);
    await cli.loginIdentity({ identity: userpass('cache1', { email: 'changed@x' }), newUserId: 'f'.repeat(24), userType: 'normal', now: 9 });
    const relogged = await server.findSessionWithUser(a.sessionId);
    assert.deepEqual(relogged?.user.identities.map((i) => i.data), [{ email: 'changed@x' }]);
    assert.equal(relogged?.user.lastAuthAt, 9);

    await cached(a.sessionId);
    assert.equal(await cli.deleteSession(a.sessionId), true);
    assert.equal(await server.findSessionWithUser(a.sessionId), null);
    assert.equal(await server.findSession(a.sessionId), null);

    const b = await loggedIn(server, 2);
    await cached(b.sessionId);
    assert.equal(await cli.setUserDisabled(b.userId, true), true); // `baste users disable`
    assert.equal(await server.findSessionWithUser(b.sessionId), null);
    assert.equal(await server.findSession(b.sessionId), null);

    // A user disabled without its sessions ending (no Store method does that): reported as disabled.
    const c = await loggedIn(server, 3);
    await cached(c.sessionId);
    raw.prepare('UPDATE users SET disabled = 1 WHERE id = ?').run(c.userId);
    await nextTurn();
    assert.deepEqual((await server.findSessionWithUser(c.sessionId))?.active, { session: c.session, userDisabled: true });
    assert.deepEqual(await server.findSession(c.sessionId), { session: c.session, userDisabled: true });
    raw.prepare('UPDATE users SET disabled = 0 WHERE id = ?').run(c.userId);
    await nextTurn();
    assert.equal((await cached(c.sessionId)).active.userDisabled, false);
    assert.equal(await cli.deleteUser(c.userId), true);
    assert.equal(await server.findSessionWithUser(c.sessionId), null);
  } finally {
    raw.close();
    await cli.close();
    await server.close();
  }
});

it('session cache: bounded, dropping the oldest entry; drops per user and per session; refuses a fill its user was dropped during', () => {
  const cache = new SessionCache(2);
  const entry = (id: string, user = id) => ({ active: { session: { id, refreshHash: `h-${id}` } } as unknown as ActiveSession, user: { id: user } as unknown as UserRecord });
  for (const id of ['a', 'b', 'c']) {
    assert.equal(cache.get(id), undefined);
    cache.set(id, entry(id), cache.begin());
  }
  assert.equal(cache.size, 2);
  assert.equal(cache.get('a'), undefined);
  assert.equal(cache.get('c')?.user.id, 'c');

  const big = new SessionCache(10);
  big.set('s1', entry('s1', 'u1'), big.begin());
  big.set('s2', entry('s2', 'u1'), big.begin());
  big.set('s3', entry('s3', 'u2'), big.begin());
  big.dropSession('s1');
  assert.deepEqual([big.get('s1'), big.get('s2')?.user.id, big.get('s3')?.user.id], [undefined, 'u1', 'u2']);
  assert.equal(big.getByRefreshHash('h-s1'), undefined, 'a dropped session is not found by its refresh hash');
  assert.equal(big.getByRefreshHash('h-s2')?.active.session.id, 's2');
  big.dropUser('u1');
  assert.deepEqual([big.get('s2'), big.get('s3')?.user.id], [undefined, 'u2']);
  assert.deepEqual([big.getByRefreshHash('h-s2'), big.getByRefreshHash('h-s3')?.user.id], [undefined, 'u2']);

  // A refresh's touch updates the user's entries in place; a fill read before it is refused.
  const touching = new SessionCache(10);
  const record = (id: string, user: string) => ({
    active: { session: { id, userId: user, refreshHash: `h-${id}`, lastUsedAt: 1, expiresAt: 100 }, userDisabled: false } as unknown as ActiveSession,
    user: { id: user, lastAuthAt: 1 } as unknown as UserRecord,
  });
  touching.set('t1', record('t1', 'v'), touching.begin());
  touching.set('t2', record('t2', 'v'), touching.begin());
  const before = touching.begin();
  touching.touched('t1', 'v', 50, 200);
  assert.deepEqual(touching.getByRefreshHash('h-t1')?.active.session, { id: 't1', userId: 'v', refreshHash: 'h-t1', lastUsedAt: 50, expiresAt: 200 });
  assert.deepEqual([touching.get('t2')?.active.session.lastUsedAt, touching.get('t2')?.user.lastAuthAt], [1, 50]);
  assert.ok(Object.isFrozen(touching.get('t1')!.active.session));
  touching.set('t3', record('t3', 'v'), before);
  assert.equal(touching.get('t3'), undefined);
  touching.touched('t9', 'nobody', 60);
  assert.equal(touching.size, 2, 'a touch adds nothing');

  // A fill read before a drop of its user (or session, or a clear) and stored after it is not kept.
  for (const drop of [() => big.dropUser('u1'), () => big.dropSession('s4'), () => big.clear()]) {
    const since = big.begin();
    drop();
    big.set('s4', entry('s4', 'u1'), since);
    assert.equal(big.get('s4'), undefined);
  }
  big.set('s4', entry('s4', 'u1'), big.begin());
  assert.equal(big.get('s4')?.user.id, 'u1', 'kept when nothing changed meanwhile');
  assert.equal(big.stats().staleFills, 3);

  let live = false;
  const gated = new SessionCache(10, () => live);
  gated.set('s', entry('s'), gated.begin());
  assert.equal(gated.get('s'), undefined, 'nothing kept or served while not live');
  live = true;
  gated.set('s', entry('s'), gated.begin());
  assert.equal(gated.get('s')?.user.id, 's');
  live = false;
  assert.equal(gated.get('s'), undefined);
});

// ---- Group commit (src/util/sqlite-group-commit.ts) ----

/**
 * Commit records in the store's write-ahead log: one per committed transaction, each made durable
 * by one fsync. Frames whose salt differs from the header's are left over from
 * before the last checkpoint reset and are not counted.
 */
function walCommits(file: string): { salt: string; commits: number } {
  const wal = readFileSync(`${file}-wal`);
  const pageSize = wal.readUInt32BE(8);
  const salt = [wal.readUInt32BE(16), wal.readUInt32BE(20)] as const;
  let commits = 0;
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    if (wal.readUInt32BE(at + 8) !== salt[0] || wal.readUInt32BE(at + 12) !== salt[1]) break;
    if (wal.readUInt32BE(at + 4) !== 0) commits++;
  }
  return { salt: salt.join(':'), commits };
}

/** Runs `work` and returns how many commits reached the log meanwhile. */
async function commitsDuring(file: string, work: () => Promise<unknown>): Promise<number> {
  const before = walCommits(file);
  await work();
  const after = walCommits(file);
  assert.equal(after.salt, before.salt, 'the log was not reset by a checkpoint meanwhile');
  return after.commits - before.commits;
}

const anon = (externalId: string) => ({ externalId, providerName: 'anon-user', providerType: 'anon-user', providerId: 'p'.repeat(24), data: {} });
const hex = (n: number) => n.toString(16).padStart(24, '0');
const opening = (n: number) => ({
  session: { id: hex(0x5000 + n), refreshHash: `r${n}`, deviceId: hex(0xd000 + n), providerName: 'anon-user', providerType: 'anon-user', createdAt: 1, expiresAt: 10_000, apiKeyId: null, lastUsedAt: 1, address: null, expiryCap: null },
  device: { id: hex(0xd000 + n), platform: 'node', lastSeenAt: 1 },
});
const sessionOf = (userId: string, n: number) => ({ ...opening(n).session, userId });

it('sqlite: concurrent writes share one commit; awaited ones commit one by one', async () => {
  const file = join(dir, 'group.sqlite');
  const store = openSqliteStore(file);
  try {
    const logins = Array.from({ length: 20 }, (_, i) => () =>
      store.loginIdentity({ identity: anon(`c${i}`), newUserId: hex(0x100 + i), userType: 'normal', now: 1, open: opening(i) }),
    );
    let results: { userId: string; created: boolean }[] = [];
    const concurrent = await commitsDuring(file, async () => {
      results = await Promise.all(logins.map((login) => login()));
    });
    assert.equal(concurrent, 1);
    assert.deepEqual(results.map((r) => r.created), Array(20).fill(true));

    const sequential = await commitsDuring(file, async () => {
      for (let i = 0; i < 5; i++) await store.touchSession(hex(0x5000 + i), hex(0x100 + i), 2);
    });
    assert.equal(sequential, 5, 'the counter sees every commit');

    // Within a batch, writes run in the order they were issued and see the earlier ones.
    const hits = await Promise.all(Array.from({ length: 5 }, () => store.hitCounter('k', 1000, 1)));
    assert.deepEqual(hits.map((h) => h.count), [1, 2, 3, 4, 5]);
  } finally {
    await store.close();
  }
});

it('sqlite: a failing write in a batch rejects alone, undone entirely; the others commit and another connection reads them', async () => {
  const file = join(dir, 'group-fail.sqlite');
  const store = openSqliteStore(file);
  try {
    const u = (await store.loginIdentity({ identity: anon('f'), newUserId: hex(1), userType: 'normal', now: 1 })).userId;
    const first = sessionOf(u, 1);
    let outcomes: PromiseSettledResult<unknown>[] = [];
    const commits = await commitsDuring(file, async () => {
      outcomes = await Promise.allSettled([
        store.createSession(first),
        store.createSession({ ...sessionOf(u, 2), refreshHash: first.refreshHash }), // unique refresh hash: fails
        // Device written, then the session fails (same id as `first`): the device goes too.
        store.openSession({ ...sessionOf(u, 3), id: first.id }, { ...opening(3).device, userId: u }),
        store.createSession(sessionOf(u, 4)),
        store.loginIdentity({ identity: anon('g'), newUserId: hex(2), userType: 'normal', now: 1, open: opening(5) }),
      ]);
    });
    assert.equal(commits, 1);
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled']);
    assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /UNIQUE constraint failed: sessions\.refresh_hash/);
    assert.match(String((outcomes[2] as PromiseRejectedResult).reason), /UNIQUE constraint failed: sessions\.id/);

    const other = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const ids = (other.prepare('SELECT id FROM sessions ORDER BY id').all() as { id: string }[]).map((r) => r.id);
      assert.deepEqual(ids, [hex(0x5001), hex(0x5004), hex(0x5005)]);
      const devices = (other.prepare('SELECT id FROM devices ORDER BY id').all() as { id: string }[]).map((r) => r.id);
      assert.deepEqual(devices, [hex(0xd005)], 'the failed openSession left no device');
      assert.equal((other.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n, 2);
    } finally {
      other.close();
    }
  } finally {
    await store.close();
  }
});

it('sqlite: a write resolves only once committed (another connection sees it then), and close() commits what is queued', async () => {
  const file = join(dir, 'group-visible.sqlite');
  const store = openSqliteStore(file);
  const other = new Database(file, { readonly: true, fileMustExist: true });
  const count = () => (other.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
  try {
    const pending = store.loginIdentity({ identity: anon('v'), newUserId: hex(7), userType: 'normal', now: 1, open: opening(7) });
    assert.equal(count(), 0, 'queued, not yet written');
    await pending;
    assert.equal(count(), 1);
    assert.equal((other.prepare('SELECT user_id FROM sessions WHERE id = ?').get(hex(0x5007)) as { user_id: string }).user_id, hex(7));

    const last = store.createSession(sessionOf(hex(7), 8));
    await store.close();
    await last;
    assert.ok(other.prepare('SELECT 1 FROM sessions WHERE id = ?').get(hex(0x5008)));
  } finally {
    other.close();
    await store.close();
  }
});

describe('sqlite group commit', () => {
  const open = (name: string) => {
    const db = new Database(join(dir, name));
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
             CREATE TABLE c (id INTEGER PRIMARY KEY, t_id INTEGER REFERENCES t(id) DEFERRABLE INITIALLY DEFERRED)`);
    return { db, batches: new GroupCommit(db), rows: () => (db.prepare('SELECT v FROM t ORDER BY id').all() as { v: string }[]).map((r) => r.v) };
  };
  const insert = (db: Database.Database, v: string) => () => db.prepare('INSERT INTO t (v) VALUES (?)').run(v).lastInsertRowid;

  it('counts one commit for a batch and one per write when they are awaited', async () => {
    const { db, batches, rows } = open('gc-count.sqlite');
    await Promise.all(['a', 'b', 'c'].map((v) => batches.write(insert(db, v))));
    await batches.write(insert(db, 'd'));
    assert.deepEqual(batches.stats, { commits: 2, writes: 4 });
    assert.deepEqual(rows(), ['a', 'b', 'c', 'd']);
    db.close();
  });

  it('when SQLite rolls back the whole transaction, the writes before fail with it and the later ones commit in a new one', async () => {
    const { db, batches, rows } = open('gc-lost.sqlite');
    const outcomes = await Promise.allSettled([
      batches.write(insert(db, 'before')),
      batches.write(() => {
        insert(db, 'lost')();
        db.exec('ROLLBACK'); // what an I/O error or a full disk does to the transaction
      }),
      batches.write(insert(db, 'after')),
    ]);
    assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected', 'fulfilled']);
    assert.deepEqual(rows(), ['after']);
    assert.equal(db.inTransaction, false);
    db.close();
  });

  it('rejects every write of the batch when the COMMIT fails, and leaves nothing behind', async () => {
    const { db, batches, rows } = open('gc-commit.sqlite');
    const outcomes = await Promise.allSettled([
      batches.write(insert(db, 'x')),
      batches.write(() => db.prepare('INSERT INTO c (t_id) VALUES (999)').run()), // checked at COMMIT
      batches.write(() => {
        throw new Error('own failure');
      }),
    ]);
    assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected', 'rejected']);
    assert.match(String((outcomes[0] as PromiseRejectedResult).reason), /FOREIGN KEY constraint failed/);
    assert.match(String((outcomes[2] as PromiseRejectedResult).reason), /own failure/);
    assert.deepEqual(rows(), []);
    assert.equal(db.inTransaction, false);
    // The next batch works.
    await batches.write(insert(db, 'y'));
    assert.deepEqual(rows(), ['y']);
    db.close();
  });
});

// ---- The WAL's fsync off the event loop (WalSync in src/util/sqlite-group-commit.ts) ----

describe('sqlite group commit: the fsync of the WAL', () => {
  /** An fsync that finishes when the test says so, recording each call. */
  const gatedFsync = () => {
    const calls: { fd: number; done: () => void; fail: (err: Error) => void }[] = [];
    const fsync = (fd: number) => new Promise<void>((done, fail) => calls.push({ fd, done, fail }));
    /** Waits until `n` fsyncs were asked for (the first also syncs the directory, for real). */
    const asked = async (n: number) => {
      for (let i = 0; i < 200 && calls.length < n; i++) await sleep(5);
      assert.equal(calls.length, n);
    };
    /** So that a failed assertion does not leave close() waiting forever. */
    const releaseAll = () => calls.forEach((c) => c.done());
    return { calls, fsync, asked, releaseAll };
  };
  /** Where a promise stands a moment later. */
  const stateOf = async (p: Promise<unknown>) => {
    let state = 'pending';
    p.then(() => (state = 'resolved'), () => (state = 'rejected'));
    await sleep(30);
    return state;
  };
  const eio = () => Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO', errno: -5, syscall: 'fsync' });

  it('acknowledges a batch only after an fsync started after its COMMIT; writes queued meanwhile commit together when it ends and wait for the next one', async () => {
    const file = join(dir, 'wal-sync.sqlite');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    const { calls, fsync, asked, releaseAll } = gatedFsync();
    const batches = new GroupCommit(db, { fsync });
    const other = new Database(file, { readonly: true });
    const rows = () => (other.prepare('SELECT v FROM t ORDER BY id').all() as { v: string }[]).map((r) => r.v);
    const insert = (v: string) => () => db.prepare('INSERT INTO t (v) VALUES (?)').run(v);
    try {
      assert.equal(db.pragma('synchronous', { simple: true }), 1, 'COMMIT itself does not fsync (NORMAL)');
      const a = batches.write(insert('a'));
      assert.equal(await stateOf(a), 'pending');
      assert.deepEqual(rows(), ['a'], 'committed, and visible before it is durable');
      await asked(1);

      const b = batches.write(insert('b'));
      await sleep(10);
      const c = batches.write(insert('c'));
      assert.equal(await stateOf(b), 'pending');
      assert.deepEqual(rows(), ['a'], 'queued while the fsync runs');
      assert.equal(calls.length, 1, 'one fsync at a time');
      // Committed outside the group commit while the fsync runs: not covered by it.
      db.prepare('INSERT INTO t (v) VALUES (?)').run('d');
      const d = batches.durable();

      calls[0]!.done();
      assert.equal(await stateOf(a), 'resolved');
      assert.deepEqual(rows(), ['a', 'd', 'b', 'c'], 'b and c committed when the fsync ended');
      assert.deepEqual(batches.stats, { commits: 2, writes: 3 }, 'in one batch');
      for (const p of [b, c, d]) assert.equal(await stateOf(p), 'pending', 'the fsync that acknowledged a started before they committed');
      await asked(2); // b, c and d share the next fsync
      assert.equal(calls[1]!.fd, calls[0]!.fd, 'the same WAL file');

      calls[1]!.done();
      assert.deepEqual(await Promise.all([b, c, d]).then(() => 'all'), 'all');
      assert.equal(calls.length, 2);
    } finally {
      releaseAll();
      other.close();
      await batches.close();
      db.close();
    }
  });

  it('a failed fsync rejects the writes it covered with a store failure (503), and every later write, until a restart', async () => {
    const file = join(dir, 'wal-eio.sqlite');
    const { calls, fsync, asked, releaseAll } = gatedFsync();
    const store = openSqliteStore(file, { fsync });
    try {
      const login = store.loginIdentity({ identity: anon('e1'), newUserId: hex(0xe1), userType: 'normal', now: 1 });
      assert.equal(await stateOf(login), 'pending');
      await asked(1);
      calls[0]!.fail(eio());
      const err = await login.then(() => null, (e: unknown) => e);
      assert.deepEqual(storeFailureOf(err), { kind: 'unavailable', what: `SQLite: ${(err as Error).message}` });
      assert.match((err as Error).message, /fsync .* failed \(EIO\)/);
      // Committed in the WAL (so visible), only not known to be on disk.
      assert.equal((await store.getUser(hex(0xe1)))?.id, hex(0xe1), 'reads keep working');

      const later = await store.createSession(sessionOf(hex(0xe1), 0xe2)).then(() => null, (e: unknown) => e);
      assert.equal(storeFailureOf(later)?.kind, 'unavailable');
      assert.equal(calls.length, 1, 'refused without committing or syncing again');
      assert.equal(await store.findSession(hex(0x5000 + 0xe2)), null);
    } finally {
      releaseAll();
      await store.close();
    }
    const reopened = openSqliteStore(file);
    try {
      await reopened.createSession(sessionOf(hex(0xe1), 0xe3));
    } finally {
      await reopened.close();
    }
  });

  it('close() waits for the fsync of what was committed and queued', async () => {
    const file = join(dir, 'wal-close.sqlite');
    const { calls, fsync, asked } = gatedFsync();
    const store = openSqliteStore(file, { fsync });
    const login = store.loginIdentity({ identity: anon('z'), newUserId: hex(0x2a), userType: 'normal', now: 1, open: opening(0x2a) });
    const closing = store.close();
    assert.equal(await stateOf(closing), 'pending');
    assert.equal(await stateOf(login), 'pending');
    await asked(1);
    calls[0]!.done();
    await closing;
    assert.equal((await login).created, true);
  });

  it('with the real fsync: writes resolve, and a database in memory has no WAL to sync', async () => {
    const store = openSqliteStore(join(dir, 'wal-real.sqlite'));
    try {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.loginIdentity({ identity: anon(`r${i}`), newUserId: hex(0x300 + i), userType: 'normal', now: 1, open: opening(0x300 + i) })));
      assert.equal(results.length, 8);
      await store.touchSession(hex(0x5300), hex(0x300), 2);
    } finally {
      await store.close();
    }
    const memory = new Database(':memory:');
    let synced = 0;
    const batches = new GroupCommit(memory, { fsync: async () => void synced++ });
    memory.exec('CREATE TABLE t (v TEXT)');
    await batches.write(() => memory.prepare('INSERT INTO t VALUES (1)').run());
    assert.equal(synced, 0);
    await batches.close();
    memory.close();
  });
});
