// A full disk while serving: `baste serve` keeps its SQLite state on a small tmpfs, the file system
// is filled up, and every request that must write answers 503 ServiceUnavailable (Stitch shape,
// Retry-After) — never a 500 — while reads keep working; once space returns the same requests
// succeed without a restart, and everything acknowledged before, during and after is still there
// (also after a restart).
//
// The same on PostgreSQL's own disk: a throwaway cluster (initdb, run as the postgres OS user) keeps
// its data directory on a small tmpfs. What PostgreSQL 15 does when that fills (seen here, not
// assumed): a statement that must extend a table or index fails with SQLSTATE 53100 "could not
// extend file", and the server stays up; but its checkpointer PANICs when it cannot write its
// checkpoint files, so the postmaster ends every connection (57P02), replays the WAL and takes
// connections again, over and over while the disk stays full. Both reach Baste as store failures
// (src/store/failures.ts) and answer 503 + Retry-After; so does a session opened just after such a
// restart, which PostgreSQL ends (FATAL XX000 "could not write init file"). Writes that still fit in
// free space inside existing pages succeed, and are kept: a commit is in the WAL, which crash
// recovery replays. Reads answer 200, or 503 while PostgreSQL restarts (the test accepts both and
// reports how many of each). Once space returns PostgreSQL takes sessions again and so does Baste,
// without a restart of either.
//
// A real full file system needs a mount: root mounts a tmpfs here; elsewhere the tests are skipped,
// saying so (the PostgreSQL one also when no PostgreSQL server binaries are installed).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { serve, stop, type Served } from '../helpers/cli.js';
import { autoConfirmingExample } from '../helpers/example-app.js';
import { isStitchError, send, type Answer } from './harness.js';

const APP = 'todo-abcde';
const API = '/api/client/v2.0';
const SIZE_MB = 16;

/** Mounts a tmpfs of `sizeMb` at `dir`, or says why it cannot. */
function mountTmpfs(dir: string, sizeMb = SIZE_MB): string | null {
  if (process.platform !== 'linux') return 'needs Linux (tmpfs)';
  if (process.getuid?.() !== 0) return 'a real full file system needs a tmpfs mount, which needs root (run the suite as root to include it)';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return `mount -t tmpfs failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
}

/** Writes to `file` until the file system refuses (ENOSPC), big chunks first, then pages. */
function fill(file: string): number {
  const fd = openSync(file, 'a');
  let written = 0;
  try {
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (err) {
          if ((err as { code?: string }).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

/** Requests against a served todo app, with everything the server acknowledged remembered. */
function workload(url: () => string) {
  const counts = { requests: 0, unavailable: 0, otherServerErrors: 0, nonStitch: 0 };
  const record = (label: string, a: Answer) => {
    counts.requests++;
    if (a.status === 503 && Number(a.headers.get('retry-after')) > 0 && JSON.parse(a.text).error_code === 'ServiceUnavailable') counts.unavailable++;
    else if (a.status >= 500) counts.otherServerErrors++;
    if (!isStitchError(a)) counts.nonStitch++;
    assert.ok(a.status < 500 || a.status === 503, `${label}: ${a.status} ${a.text}`);
    assert.ok(isStitchError(a), `${label}: ${a.status} ${a.text}`);
    return a;
  };
  const json = { 'content-type': 'application/json' };
  const acked = new Map<string, string>(); // email → password
  const refreshTokens: string[] = [];
  let n = 0;
  const login = (base: string, email: string, password: string) =>
    send(`${base}${API}/app/${APP}/auth/providers/local-userpass/login`, { method: 'POST', headers: json, body: JSON.stringify({ username: email, password }) });
  return {
    counts,
    acked,
    refreshTokens,
    record,
    login,
    /** One round of writes: register, password login, anonymous login, refresh. Returns the answers. */
    async writes(): Promise<Answer[]> {
      const email = `full-${process.pid}-${n++}@example.com`;
      const answers: Answer[] = [];
      const reg = record('register', await send(`${url()}${API}/app/${APP}/auth/providers/local-userpass/register`, { method: 'POST', headers: json, body: JSON.stringify({ email, password: 'secret123' }) }));
      answers.push(reg);
      if (reg.status === 201) acked.set(email, 'secret123');
      for (const [provider, body] of [['local-userpass', { username: email, password: 'secret123' }], ['anon-user', {}]] as const) {
        const a = record(`${provider} login`, await send(`${url()}${API}/app/${APP}/auth/providers/${provider}/login`, { method: 'POST', headers: json, body: JSON.stringify(body) }));
        answers.push(a);
        if (a.status === 200) refreshTokens.push((JSON.parse(a.text) as { refresh_token: string }).refresh_token);
      }
      if (refreshTokens.length > 0) {
        answers.push(record('refresh', await send(`${url()}${API}/auth/session`, { method: 'POST', headers: { authorization: `Bearer ${refreshTokens[0]}` } })));
      }
      return answers;
    },
    /** Everything acknowledged logs in or refreshes on the server at `base`. */
    async check(base: string, when: string) {
      for (const [email, password] of acked) {
        const a = await login(base, email, password);
        assert.equal(a.status, 200, `${when}: ${email} ${a.text}`);
      }
      for (const token of refreshTokens) {
        const a = await send(`${base}${API}/auth/session`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
        assert.equal(a.status, 201, `${when}: refresh ${a.text}`);
      }
    },
  };
}

describe('a full disk while serving (SQLite)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baste-full-'));
  // The example app confirming users at once (no outbox file to write on the full disk), off the tmpfs.
  const appDir = mkdtempSync(join(tmpdir(), 'baste-full-app-'));
  const EXAMPLE = autoConfirmingExample(join(appDir, 'todo'));
  let mounted = false;
  let served: Served | undefined;
  after(() => {
    if (served) void stop(served, 'SIGKILL');
    if (mounted) execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(appDir, { recursive: true, force: true });
  });

  it('answers writes 503 with Retry-After, keeps reads, recovers when space returns, loses nothing acknowledged', { timeout: 120_000 }, async (t) => {
    const why = mountTmpfs(dir);
    if (why) return t.skip(why);
    mounted = true;
    const dataDir = join(dir, 'data');
    const args = ['--app', EXAMPLE, '--data-dir', dataDir, '--log-level', 'warn'];
    served = await serve(args);
    const w = workload(() => served!.url);
    const { counts, record } = w;

    // Before: everything works.
    for (const a of await w.writes()) assert.ok(a.status < 300, a.text);
    const [first] = [...w.acked];
    const access = (JSON.parse((await w.login(served.url, first![0], first![1])).text) as { access_token: string }).access_token;

    // Full: no space left at all.
    const filler = join(dir, 'filler');
    const filled = fill(filler);
    let refused = 0;
    for (let i = 0; i < 8; i++) refused += (await w.writes()).filter((a) => a.status === 503).length;
    assert.ok(refused > 0, 'writes were refused while the disk was full');
    // Reads need no space: the profile and the location still answer.
    assert.equal(record('profile', await send(`${served.url}${API}/auth/profile`, { headers: { authorization: `Bearer ${access}` } })).status, 200);
    assert.equal(record('location', await send(`${served.url}${API}/app/${APP}/location`)).status, 200);

    // Space returns: the same requests succeed, no restart.
    rmSync(filler);
    for (let i = 0; i < 3; i++) for (const a of await w.writes()) assert.ok(a.status < 300, `after space returned: ${a.status} ${a.text}`);

    // Everything acknowledged (before, during and after) is there, now and after a restart.
    await w.check(served.url, 'after space returned');
    await stop(served, 'SIGKILL');
    served = await serve(args);
    await w.check(served.url, 'after a restart');
    console.log(
      `[hardening] full disk (${SIZE_MB} MiB tmpfs, ${Math.round(filled / 1024)} KiB filler): ${counts.requests} requests, ${counts.unavailable} answered 503 ServiceUnavailable with Retry-After, ` +
        `${counts.otherServerErrors} other 5xx, ${counts.nonStitch} non-Stitch error bodies; ${w.acked.size} users and ${w.refreshTokens.length} logins acknowledged, all kept`,
    );
    assert.deepEqual([counts.otherServerErrors, counts.nonStitch], [0, 0]);
  });
});

/** The newest installed PostgreSQL's server binaries (Debian's layout), or null. */
function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(root, versions[0]!, 'bin') : null;
}

/** The uid and gid of the `postgres` OS user (PostgreSQL refuses to run as root), or null. */
function postgresUser(): { uid: number; gid: number } | null {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { stdio: 'pipe' }).toString().trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    return null;
  }
}

/** A TCP port nobody listens on now. */
const sparePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

const PG_SIZE_MB = 64;

describe('a full disk under PostgreSQL while serving', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baste-pgfull-'));
  // The cluster's log stays off the tmpfs, so what PostgreSQL says about the full disk is kept.
  const logDir = mkdtempSync(join(tmpdir(), 'baste-pgfull-log-'));
  const pgLog = join(logDir, 'postgresql.log');
  const baste = mkdtempSync(join(tmpdir(), 'baste-pgfull-data-'));
  // The example app confirming users at once, so every registration can log in.
  const appDir = mkdtempSync(join(tmpdir(), 'baste-pgfull-app-'));
  const EXAMPLE = autoConfirmingExample(join(appDir, 'todo'));
  const pgData = join(dir, 'data');
  let bin = '';
  let mounted = false;
  let started = false;
  let served: Served | undefined;
  const asPostgres = (cmd: string, args: string[]) =>
    execFileSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { stdio: 'pipe', timeout: 60_000 }).toString();
  const pgRunning = () => {
    try {
      asPostgres('pg_ctl', ['-D', pgData, 'status']);
      return true;
    } catch {
      return false; // exit status 3: not running
    }
  };
  after(async () => {
    if (served) await stop(served, 'SIGKILL');
    if (started) {
      try {
        asPostgres('pg_ctl', ['-D', pgData, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already down
      }
    }
    if (mounted) execFileSync('umount', ['-l', dir]);
    for (const d of [dir, logDir, baste, appDir]) rmSync(d, { recursive: true, force: true });
  });

  it('answers writes 503 with Retry-After while PostgreSQL’s disk is full, loses nothing acknowledged, recovers without a restart of Baste', { timeout: 300_000 }, async (t) => {
    const found = postgresBin();
    if (!found) return t.skip('no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (install postgresql to include it)');
    bin = found;
    const owner = postgresUser();
    if (!owner) return t.skip('no postgres OS user to run a throwaway cluster as');
    const why = mountTmpfs(dir, PG_SIZE_MB);
    if (why) return t.skip(why);
    mounted = true;
    chownSync(dir, owner.uid, owner.gid);
    chownSync(logDir, owner.uid, owner.gid);
    // 1 MiB WAL segments and a small max_wal_size keep the cluster well inside the tmpfs; no unix socket.
    asPostgres('initdb', ['-D', pgData, '--auth=trust', '-U', 'postgres', '--wal-segsize=1', '--no-sync', '-E', 'UTF8', '--no-locale']);
    const port = await sparePort();
    const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off -c max_wal_size=4MB -c min_wal_size=2MB -c shared_buffers=8MB`;
    asPostgres('pg_ctl', ['-D', pgData, '-l', pgLog, '-w', '-t', '60', '-o', options, 'start']);
    started = true;
    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    await admin.connect();
    await admin.query('CREATE DATABASE baste');
    await admin.end();

    const args = ['--app', EXAMPLE, '--data-dir', baste, '--database', `postgres://postgres@127.0.0.1:${port}/baste`, '--log-level', 'warn'];
    served = await serve(args);
    const w = workload(() => served!.url);
    const { counts, record } = w;
    for (let i = 0; i < 3; i++) for (const a of await w.writes()) assert.ok(a.status < 300, a.text);
    const [first] = [...w.acked];
    const access = (JSON.parse((await w.login(served.url, first![0], first![1])).text) as { access_token: string }).access_token;

    // Full: no space left at all.
    const filler = join(dir, 'filler');
    const filled = fill(filler);
    const reads = { ok: 0, unavailable: 0 };
    const read = async () => {
      for (const [label, path, init] of [
        ['profile', `${API}/auth/profile`, { headers: { authorization: `Bearer ${access}` } }],
        ['location', `${API}/app/${APP}/location`, {}],
      ] as const) {
        const a = record(label, await send(served!.url + path, init));
        if (a.status === 200) reads.ok++;
        else if (a.status === 503) reads.unavailable++;
        else assert.fail(`${label} while full: ${a.status} ${a.text}`);
      }
    };
    let refused = 0;
    let acceptedWhileFull = 0;
    const deadline = Date.now() + 60_000;
    // Writes until PostgreSQL has refused some (free space inside its pages takes a few first).
    for (let i = 0; i < 40 && (refused < 8 || i < 8) && Date.now() < deadline; i++) {
      const answers = await w.writes();
      refused += answers.filter((a) => a.status === 503).length;
      acceptedWhileFull += answers.filter((a) => a.status < 300).length;
      await read();
    }
    assert.ok(refused > 0, 'writes were refused while the disk was full');
    // The checkpointer cannot write while the disk is full: a checkpoint now is what makes PostgreSQL
    // PANIC and restart (it would come on its own with time or WAL volume); Baste answers 503 meanwhile.
    const log = () => (existsSync(pgLog) ? readFileSync(pgLog, 'utf8') : '');
    const checkpoint = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    checkpoint.on('error', () => {}); // its own connection ends with the PANIC
    try {
      await checkpoint.connect();
      await checkpoint.query('CHECKPOINT');
    } catch {
      // expected: the checkpointer failed, and PostgreSQL ended every connection
    }
    await checkpoint.end().catch(() => {});
    for (let i = 0; i < 6; i++) {
      const answers = await w.writes();
      refused += answers.filter((a) => a.status === 503).length;
      acceptedWhileFull += answers.filter((a) => a.status < 300).length;
      await read();
    }
    const panicked = /PANIC/.test(log());

    // Space returns: writes succeed again, Baste not restarted. PostgreSQL restarts itself after a
    // PANIC; if its crash recovery could not finish on the full disk it stays down, and is started here.
    rmSync(filler);
    let restartedPostgres = false;
    if (!pgRunning()) {
      asPostgres('pg_ctl', ['-D', pgData, '-l', pgLog, '-w', '-t', '60', '-o', options, 'start']);
      restartedPostgres = true;
    }
    const since = Date.now();
    for (;;) {
      const answers = await w.writes();
      if (answers.every((a) => a.status < 300)) break;
      assert.ok(Date.now() - since < 30_000, `writes did not recover within 30 s of space returning: ${answers.map((a) => `${a.status} ${a.text}`).join('; ')}`);
      await sleep(250);
    }
    const recoveredMs = Date.now() - since;
    for (let i = 0; i < 3; i++) for (const a of await w.writes()) assert.ok(a.status < 300, `after space returned: ${a.status} ${a.text}`);

    await w.check(served.url, 'after space returned');
    await stop(served, 'SIGKILL');
    served = await serve(args);
    await w.check(served.url, 'after a restart of Baste');
    const panics = log().match(/PANIC: .*/g) ?? [];
    console.log(
      `[hardening] full disk under PostgreSQL (${PG_SIZE_MB} MiB tmpfs, ${Math.round(filled / 1024)} KiB filler): ${counts.requests} requests, ${counts.unavailable} answered 503 ServiceUnavailable with Retry-After, ` +
        `${counts.otherServerErrors} other 5xx, ${counts.nonStitch} non-Stitch error bodies; while full ${acceptedWhileFull} writes accepted, ${refused} refused, reads ${reads.ok} answered 200 and ${reads.unavailable} 503; ` +
        `PostgreSQL ${panicked ? `PANICked ${panics.length} time(s) (${[...new Set(panics.map((p) => p.replace(/"[^"]*"/, '<file>')))].join(' | ')})` : 'did not PANIC'}, ` +
        `${restartedPostgres ? 'was started again by the test' : 'restarted itself'}; writes recovered ${recoveredMs} ms after space returned; ${w.acked.size} users and ${w.refreshTokens.length} logins acknowledged, all kept`,
    );
    assert.deepEqual([counts.otherServerErrors, counts.nonStitch], [0, 0]);
  });
});
