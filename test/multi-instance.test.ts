// Two `baste serve` processes on one fresh PostgreSQL database, as behind a load balancer: a
// session opened on one works on the other, revocation on one is seen by the other at once,
// and concurrent registrations through both create one account.
// Runs when BASTE_TEST_DATABASE_URL is set; otherwise skipped, saying so.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { BIN, serve as serveCli, stop, type Served as Instance } from './helpers/cli.js';
import { confirmFromOutbox } from './helpers/outbox.js';
import { adminQuery, freshDatabase, skipWithoutPostgres } from './helpers/postgres.js';
import { LISTENER_APPLICATION_NAME } from '../src/store/postgres/invalidations.js';
import { request, type RequestOptions } from './helpers/wire.js';

const EXAMPLE = join(import.meta.dirname, '..', 'examples', 'todo');
/** Paths below are relative to /api/client/v2.0. */
const APP = '/app/todo-abcde';

/** Starts `baste serve --database` and resolves once it prints the URL it listens on. */
// With the platform's answers (409 for a taken email), so a registration race shows which one won.
const serve = async (database: string, dataDir: string) => {
  const on = await serveCli(['--app', EXAMPLE, '--database', database, '--data-dir', dataDir, '--log-level', 'warn', '--reveal-unknown-emails']);
  dataDirs.set(on, dataDir);
  return on;
};
/** Each instance's data directory: its outbox holds the confirmation links it mailed. */
const dataDirs = new WeakMap<Instance, string>();

const call = (base: Instance, method: string, path: string, opts: RequestOptions = {}) => request(method, `${base.url}/api/client/v2.0${path}`, opts);

/** Registers on `on` and, once accepted, confirms as the user would: the example app confirms by email, through that instance's outbox. */
const register = async (on: Instance, email: string) => {
  const res = await call(on, 'POST', `${APP}/auth/providers/local-userpass/register`, {
    body: { email, password: 'correct horse battery' },
  });
  if (res.status === 201) await confirmFromOutbox(dataDirs.get(on)!, email);
  return res;
};
const login = (on: Instance, email: string) =>
  call(on, 'POST', `${APP}/auth/providers/local-userpass/login`, {
    body: { username: email, password: 'correct horse battery' },
  });
const profile = (on: Instance, accessToken: string) => call(on, 'GET', '/auth/profile', { token: accessToken });
const refresh = (on: Instance, refreshToken: string) => call(on, 'POST', '/auth/session', { token: refreshToken });
const logout = (on: Instance, refreshToken: string) => call(on, 'DELETE', '/auth/session', { token: refreshToken });

/**
 * Each instance caches sessions, invalidated through PostgreSQL notifications (issue 20): a
 * revocation anywhere is refused everywhere within 100 ms. Asks `on` until it refuses `accessToken`.
 */
async function refusedWithin100ms(on: Instance, accessToken: string, what: string) {
  const t0 = performance.now();
  for (;;) {
    const p = await profile(on, accessToken);
    if (p.status === 401) return;
    assert.equal(p.status, 200, p.text);
    assert.ok(performance.now() - t0 < 100, `${what}: still served 100 ms after the revocation`);
  }
}

describe('several instances on one PostgreSQL database', { skip: skipWithoutPostgres('PostgreSQL multi-instance tests') }, () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let tmp: string;
  let a: Instance;
  let b: Instance;

  before(async () => {
    db = await freshDatabase();
    tmp = mkdtempSync(join(tmpdir(), 'baste-multi-'));
    // Started together on an empty database: both migrate and create signing keys at once.
    const started = await Promise.allSettled([serve(db.url, join(tmp, 'a')), serve(db.url, join(tmp, 'b'))]);
    // Keep whichever started, so after() stops it even when the other failed (no hung run).
    [a, b] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined)) as [typeof a, typeof b];
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  });

  after(async () => {
    await Promise.all([a, b].filter(Boolean).map((s) => stop(s)));
    await db?.drop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('logs in on one, refreshes on the other, reads the profile on both; logout on one ends the session on both at once', async () => {
    assert.equal((await register(a, 'multi@example.com')).status, 201);
    const loggedIn = await login(b, 'multi@example.com');
    assert.equal(loggedIn.status, 200, loggedIn.text);
    const { access_token: accessFromB, refresh_token: refreshToken, user_id: userId } = loggedIn.json;

    const refreshed = await refresh(a, refreshToken);
    assert.equal(refreshed.status, 201, refreshed.text);
    const accessFromA = refreshed.json.access_token as string;

    // A token signed by either instance verifies on both: the signing keys live in the database.
    for (const on of [a, b]) {
      for (const token of [accessFromA, accessFromB]) {
        const p = await profile(on, token);
        assert.equal(p.status, 200, p.text);
        assert.equal(p.json.user_id, userId);
      }
    }

    assert.equal((await logout(a, refreshToken)).status, 204);
    // Refresh tokens are always looked up in the database; access tokens go through each
    // instance's session cache, which the logout's notification empties.
    assert.equal((await refresh(b, refreshToken)).status, 401);
    assert.equal((await profile(a, accessFromB)).status, 401, 'at once on the instance that logged out');
    await refusedWithin100ms(b, accessFromB, 'logout');
    await refusedWithin100ms(b, accessFromA, 'logout');
  });

  it('a disabled API key, a deleted user, and a user disabled or revoked from the command line are refused by both instances within 100 ms', async () => {
    /** A user logged in on `a`, whose access token both instances have cached. */
    const cachedUser = async (email: string) => {
      assert.equal((await register(a, email)).status, 201);
      const l = await login(a, email);
      assert.equal(l.status, 200, l.text);
      for (const on of [a, b, a, b]) assert.equal((await profile(on, l.json.access_token)).status, 200);
      return l.json as { access_token: string; refresh_token: string; user_id: string };
    };

    const owner = await cachedUser('keys@example.com');
    const key = await call(b, 'POST', '/auth/api_keys', { token: owner.refresh_token, body: { name: 'ci' } });
    assert.equal(key.status, 201, key.text);
    const byKey = await call(a, 'POST', `${APP}/auth/providers/api-key/login`, { body: { key: key.json.key } });
    assert.equal(byKey.status, 200, byKey.text);
    for (const on of [a, b, a, b]) assert.equal((await profile(on, byKey.json.access_token)).status, 200);
    assert.equal((await call(a, 'PUT', `/auth/api_keys/${key.json._id}/disable`, { token: owner.refresh_token })).status, 204);
    await refusedWithin100ms(b, byKey.json.access_token, 'API key disabled');
    await refusedWithin100ms(a, byKey.json.access_token, 'API key disabled');
    assert.equal((await profile(b, owner.access_token)).status, 200, 'the owner’s own session stays');

    const gone = await cachedUser('gone@example.com');
    assert.equal((await call(a, 'DELETE', '/auth/delete', { token: gone.access_token })).status, 204);
    await refusedWithin100ms(b, gone.access_token, 'user deleted');

    // Another process (`baste users …` against the database) has no cache of its own, and its
    // changes reach both servers' caches all the same.
    for (const command of ['disable', 'revoke']) {
      const u = await cachedUser(`${command}@example.com`);
      const run = spawnSync(process.execPath, [BIN, 'users', command, '--app', EXAMPLE, '--database', db.url, '--id', u.user_id], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(run.status, 0, run.stderr);
      for (const on of [a, b]) await refusedWithin100ms(on, u.access_token, `baste users ${command}`);
    }
  });

  it('no stale session survives the loss of the instances’ LISTEN connections (pg_terminate_backend): they read the database until it is back', async () => {
    const name = decodeURIComponent(new URL(db.url).pathname.slice(1));
    const listeners = `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = '${LISTENER_APPLICATION_NAME}'`;
    for (let round = 0; round < 3; round++) {
      const email = `listener-${round}@example.com`;
      assert.equal((await register(a, email)).status, 201);
      const l = await login(a, email);
      for (const on of [a, b, a, b]) assert.equal((await profile(on, l.json.access_token)).status, 200);
      const pids = (await adminQuery(listeners, [name])).rows.map((r) => r.pid as number);
      assert.equal(pids.length, 2, 'one listening connection per instance');
      await adminQuery(`SELECT pg_terminate_backend(pid) FROM (${listeners}) l`, [name]);
      // Revoked while neither instance listens: nobody is told, and both must refuse anyway.
      assert.equal((await logout(a, l.json.refresh_token)).status, 204);
      for (const on of [b, a]) await refusedWithin100ms(on, l.json.access_token, 'logout while the listeners were down');
    }
    // Back to listening, and revocations reach both again.
    for (let i = 0; i < 200 && (await adminQuery(listeners, [name])).rows.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await adminQuery(listeners, [name])).rows.length, 2);
    assert.equal((await register(b, 'listener-back@example.com')).status, 201);
    const back = await login(b, 'listener-back@example.com');
    for (const on of [a, b, a, b]) assert.equal((await profile(on, back.json.access_token)).status, 200);
    assert.equal((await logout(b, back.json.refresh_token)).status, 204);
    await refusedWithin100ms(a, back.json.access_token, 'logout after the listeners came back');
  });

  it('refreshes one session through both instances at once: every refresh succeeds', async () => {
    assert.equal((await register(b, 'twice@example.com')).status, 201);
    const { refresh_token: refreshToken } = (await login(a, 'twice@example.com')).json;
    const results = await Promise.all([a, b, a, b].map((on) => refresh(on, refreshToken)));
    for (const r of results) assert.equal(r.status, 201, r.text);
    for (const r of results) assert.equal((await profile(a, r.json.access_token)).status, 200);
  });

  it('of two simultaneous registrations of one email through the two instances, exactly one succeeds', async () => {
    for (let round = 0; round < 5; round++) {
      const email = `race-${round}@example.com`;
      const results = await Promise.all([register(a, email), register(b, email)]);
      assert.deepEqual(
        results.map((r) => r.status).sort(),
        [201, 409],
        results.map((r) => r.text).join('\n'),
      );
    }
  });

  it('creates one user when the same account logs in for the first time through both at once', async () => {
    assert.equal((await register(a, 'first@example.com')).status, 201);
    const logins = await Promise.all([login(a, 'first@example.com'), login(b, 'first@example.com'), login(a, 'first@example.com'), login(b, 'first@example.com')]);
    for (const l of logins) assert.equal(l.status, 200, l.text);
    assert.equal(new Set(logins.map((l) => l.json.user_id)).size, 1);
  });

  it('loses nothing committed when an instance is killed: the other serves what it wrote', async () => {
    assert.equal((await register(a, 'survivor@example.com')).status, 201);
    const before = await login(a, 'survivor@example.com');
    assert.equal(before.status, 200, before.text);
    await stop(a, 'SIGKILL');
    const p = await profile(b, before.json.access_token);
    assert.equal(p.status, 200, p.text);
    assert.equal((await refresh(b, before.json.refresh_token)).status, 201);
    const again = await login(b, 'survivor@example.com');
    assert.equal(again.json.user_id, before.json.user_id);
  });
});
