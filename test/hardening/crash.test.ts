// kill -9 during a login storm: a real `baste serve` takes concurrent registrations, logins
// (email/password and anonymous) and session refreshes, is killed with SIGKILL while requests are
// in flight, and is started again on the same state. Everything it acknowledged must still be
// there: every registered user logs in with its password, every refresh token it handed out
// refreshes, every access token it handed out reads the profile. On SQLite and PostgreSQL.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { serve, stop, type Served } from '../helpers/cli.js';
import { freshDatabase } from '../helpers/postgres.js';
import { autoConfirmingExample } from '../helpers/example-app.js';
import { BACKENDS, FULL } from './harness.js';

const APP = 'todo-abcde';
const API = '/api/client/v2.0';
/** How long the storm runs before the kill, and how many clients storm at once. */
const STORM_MS = FULL ? 6_000 : 1_500;
const CLIENTS = FULL ? 48 : 16;
const ROUNDS = FULL ? 3 : 1;

interface Acked {
  /** Registrations answered 201: email → password. */
  users: Map<string, string>;
  /** Refresh tokens from logins answered 200. */
  refreshTokens: Set<string>;
  /** Access tokens from logins and refreshes answered 2xx. */
  accessTokens: Set<string>;
}

const post = (url: string, body?: unknown, bearer?: string) =>
  fetch(url, {
    method: 'POST',
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/** One client's loop: register, log in, refresh, anonymous login; only 2xx answers are recorded. */
async function stormClient(url: string, id: number, acked: Acked, stopped: () => boolean, counts: { sent: number; failed: number; inFlight: number }) {
  const app = `${url}${API}/app/${APP}`;
  for (let i = 0; !stopped(); i++) {
    const step = async <T>(fn: () => Promise<T>): Promise<T | undefined> => {
      counts.sent++;
      counts.inFlight++;
      try {
        return await fn();
      } catch {
        counts.failed++; // the connection died with the server: not acknowledged
        return undefined;
      } finally {
        counts.inFlight--;
      }
    };
    const email = `storm-${process.pid}-${id}-${i}-${Math.random().toString(36).slice(2, 8)}@example.com`;
    const password = `pw-${id}-${i}-secret`;
    const reg = await step(() => post(`${app}/auth/providers/local-userpass/register`, { email, password }));
    if (reg?.status !== 201) continue;
    acked.users.set(email, password);
    for (const provider of ['local-userpass', 'anon-user']) {
      const res = await step(async () => {
        const r = await post(`${app}/auth/providers/${provider}/login`, provider === 'anon-user' ? {} : { username: email, password });
        return r.status === 200 ? ((await r.json()) as { access_token: string; refresh_token: string }) : undefined;
      });
      if (!res) continue;
      acked.refreshTokens.add(res.refresh_token);
      acked.accessTokens.add(res.access_token);
      const refreshed = await step(async () => {
        const r = await post(`${url}${API}/auth/session`, undefined, res.refresh_token);
        return r.status === 201 ? ((await r.json()) as { access_token: string }) : undefined;
      });
      if (refreshed) acked.accessTokens.add(refreshed.access_token);
    }
  }
}

/** Runs `fn` over `items` with at most `n` at once. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

for (const backend of BACKENDS) {
  describe(`kill -9 during a login storm (${backend})`, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'baste-crash-'));
    // The example app confirming users at once: every acknowledged registration can log in.
    const appDir = mkdtempSync(join(tmpdir(), 'baste-crash-app-'));
    const EXAMPLE = autoConfirmingExample(join(appDir, 'todo'));
    let db: { url: string; drop: () => Promise<void> } | undefined;
    let served: Served | undefined;
    after(async () => {
      if (served) await stop(served, 'SIGKILL');
      await db?.drop();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(appDir, { recursive: true, force: true });
    });

    it('keeps every acknowledged user, login and refresh token', { timeout: FULL ? 600_000 : 180_000 }, async () => {
      if (backend === 'postgres') db = await freshDatabase();
      const args = ['--app', EXAMPLE, '--data-dir', dataDir, '--log-level', 'warn', ...(db ? ['--database', db.url] : [])];
      const acked: Acked = { users: new Map(), refreshTokens: new Set(), accessTokens: new Set() };
      const counts = { sent: 0, failed: 0, inFlight: 0 };
      let inFlightAtKill = 0;
      for (let round = 0; round < ROUNDS; round++) {
        served = await serve(args);
        let stopped = false;
        const clients = Array.from({ length: CLIENTS }, (_, id) => stormClient(served!.url, id + round * CLIENTS, acked, () => stopped, counts));
        await sleep(STORM_MS);
        inFlightAtKill += counts.inFlight;
        // SIGKILL: no shutdown hook runs, whatever was not on disk is lost.
        assert.equal(await stop(served, 'SIGKILL'), null);
        stopped = true;
        await Promise.all(clients);
      }
      console.log(
        `[hardening] kill -9 on ${backend}: ${ROUNDS} kill(s), ${counts.sent} requests, ${inFlightAtKill} in flight at the kill(s), ${counts.failed} cut off; ` +
          `acknowledged ${acked.users.size} users, ${acked.refreshTokens.size} logins, ${acked.accessTokens.size} access tokens`,
      );
      assert.ok(inFlightAtKill > 0, 'the kill came while requests were in flight');
      assert.ok(acked.users.size > 0 && acked.refreshTokens.size > 0, 'the storm got acknowledgements before the kill');

      served = await serve(args);
      const url = served.url;
      const lost: string[] = [];
      await pool([...acked.users], 4, async ([email, password]) => {
        const r = await post(`${url}${API}/app/${APP}/auth/providers/local-userpass/login`, { username: email, password });
        if (r.status !== 200) lost.push(`user ${email}: login ${r.status} ${await r.text()}`);
      });
      await pool([...acked.refreshTokens], 8, async (token) => {
        const r = await post(`${url}${API}/auth/session`, undefined, token);
        if (r.status !== 201) lost.push(`refresh token: ${r.status} ${await r.text()}`);
      });
      await pool([...acked.accessTokens], 8, async (token) => {
        const r = await fetch(`${url}${API}/auth/profile`, { headers: { authorization: `Bearer ${token}` } });
        if (r.status !== 200) lost.push(`access token: ${r.status} ${await r.text()}`);
      });
      console.log(`[hardening] kill -9 on ${backend}: after restart ${lost.length} acknowledged items lost`);
      assert.deepEqual(lost.slice(0, 10), []);
    });
  });
}
