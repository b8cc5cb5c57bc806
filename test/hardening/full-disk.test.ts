// A full disk while serving: `baste serve` keeps its SQLite state on a small tmpfs, the file system
// is filled up, and every request that must write answers 503 ServiceUnavailable (Stitch shape,
// Retry-After) — never a 500 — while reads keep working; once space returns the same requests
// succeed without a restart, and everything acknowledged before, during and after is still there
// (also after a restart).
//
// A real full file system needs a mount: root mounts a tmpfs here; elsewhere the test is skipped,
// saying so. (PostgreSQL's disk is the database server's: its disk-full SQLSTATE 53100 maps to the
// same 503, see src/store/failures.ts.)

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { serve, stop, type Served } from '../helpers/cli.js';
import { autoConfirmingExample } from '../helpers/example-app.js';
import { isStitchError, send, type Answer } from './harness.js';

const APP = 'todo-abcde';
const API = '/api/client/v2.0';
const SIZE_MB = 16;

/** Mounts a tmpfs of `SIZE_MB` at `dir`, or says why it cannot. */
function mountTmpfs(dir: string): string | null {
  if (process.platform !== 'linux') return 'needs Linux (tmpfs)';
  if (process.getuid?.() !== 0) return 'a real full file system needs a tmpfs mount, which needs root (run the suite as root to include it)';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE_MB}m`, 'tmpfs', dir], { stdio: 'pipe' });
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
    const url = served.url;
    const counts = { requests: 0, unavailable: 0, otherServerErrors: 0, nonStitch: 0 };
    const record = (label: string, a: Answer) => {
      counts.requests++;
      if (a.status === 503 && Number(a.headers.get('retry-after')) > 0 && JSON.parse(a.text).error_code === 'ServiceUnavailable') counts.unavailable++;
      else if (a.status >= 500) counts.otherServerErrors++;
      if (!isStitchError(a)) counts.nonStitch++;
      assert.ok(a.status < 500 || a.status === 503, `${label}: ${a.status} ${a.text}`);
      return a;
    };
    const json = { 'content-type': 'application/json' };
    const acked = new Map<string, string>(); // email → password
    const refreshTokens: string[] = [];
    let n = 0;
    /** One round of writes: register, password login, anonymous login, refresh. Returns the answers. */
    const writes = async (): Promise<Answer[]> => {
      const email = `full-${process.pid}-${n++}@example.com`;
      const answers: Answer[] = [];
      const reg = record('register', await send(`${url}${API}/app/${APP}/auth/providers/local-userpass/register`, { method: 'POST', headers: json, body: JSON.stringify({ email, password: 'secret123' }) }));
      answers.push(reg);
      if (reg.status === 201) acked.set(email, 'secret123');
      for (const [provider, body] of [['local-userpass', { username: email, password: 'secret123' }], ['anon-user', {}]] as const) {
        const login = record(`${provider} login`, await send(`${url}${API}/app/${APP}/auth/providers/${provider}/login`, { method: 'POST', headers: json, body: JSON.stringify(body) }));
        answers.push(login);
        if (login.status === 200) refreshTokens.push((JSON.parse(login.text) as { refresh_token: string }).refresh_token);
      }
      if (refreshTokens.length > 0) {
        answers.push(record('refresh', await send(`${url}${API}/auth/session`, { method: 'POST', headers: { authorization: `Bearer ${refreshTokens[0]}` } })));
      }
      return answers;
    };

    // Before: everything works.
    for (const a of await writes()) assert.ok(a.status < 300, a.text);
    const before = [...acked];
    const access = (JSON.parse((await send(`${url}${API}/app/${APP}/auth/providers/local-userpass/login`, { method: 'POST', headers: json, body: JSON.stringify({ username: before[0]![0], password: 'secret123' }) })).text) as { access_token: string }).access_token;

    // Full: no space left at all.
    const filler = join(dir, 'filler');
    const filled = fill(filler);
    let refused = 0;
    for (let i = 0; i < 8; i++) refused += (await writes()).filter((a) => a.status === 503).length;
    assert.ok(refused > 0, 'writes were refused while the disk was full');
    // Reads need no space: the profile and the location still answer.
    assert.equal(record('profile', await send(`${url}${API}/auth/profile`, { headers: { authorization: `Bearer ${access}` } })).status, 200);
    assert.equal(record('location', await send(`${url}${API}/app/${APP}/location`)).status, 200);

    // Space returns: the same requests succeed, no restart.
    rmSync(filler);
    for (let i = 0; i < 3; i++) for (const a of await writes()) assert.ok(a.status < 300, `after space returned: ${a.status} ${a.text}`);

    // Everything acknowledged (before, during and after) is there, now and after a restart.
    const check = async (base: string, when: string) => {
      for (const [email, password] of acked) {
        const a = await send(`${base}${API}/app/${APP}/auth/providers/local-userpass/login`, { method: 'POST', headers: json, body: JSON.stringify({ username: email, password }) });
        assert.equal(a.status, 200, `${when}: ${email} ${a.text}`);
      }
      for (const token of refreshTokens) {
        const a = await send(`${base}${API}/auth/session`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
        assert.equal(a.status, 201, `${when}: refresh ${a.text}`);
      }
    };
    await check(url, 'after space returned');
    await stop(served, 'SIGKILL');
    served = await serve(args);
    await check(served.url, 'after a restart');
    console.log(
      `[hardening] full disk (${SIZE_MB} MiB tmpfs, ${Math.round(filled / 1024)} KiB filler): ${counts.requests} requests, ${counts.unavailable} answered 503 ServiceUnavailable with Retry-After, ` +
        `${counts.otherServerErrors} other 5xx, ${counts.nonStitch} non-Stitch error bodies; ${acked.size} users and ${refreshTokens.length} logins acknowledged, all kept`,
    );
    assert.deepEqual([counts.otherServerErrors, counts.nonStitch], [0, 0]);
  });
});
