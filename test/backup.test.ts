// `baste backup` / `baste restore`, run as an operator runs them: a backup taken from the data
// directory of a running `baste serve` while realm-web clients register, log in and insert,
// restored into a fresh directory, and a second server started there, where every user and
// document acknowledged before the backup began is present (and none begun after it ended).
// Then what restore refuses: damaged or foreign files, another app's backup, a data directory
// that holds databases (without --force) or one a server is using (even with --force).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import * as Realm from 'realm-web';
import { BIN, serve, stop, type Served } from './helpers/cli.js';
import { mailedLink } from './helpers/outbox.js';
import { uniqueEmail } from './helpers/server.js';

const EXAMPLE = join(import.meta.dirname, '..', 'examples', 'todo');
const APP_ID = 'todo-abcde';
const tmp = mkdtempSync(join(tmpdir(), 'baste-backup-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI without blocking this process (the load keeps running meanwhile). */
function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('close', (status) => resolve({ status, stdout, stderr })));
}

/** An anonymous login over the wire (realm-web would reuse its stored anonymous user across servers). */
async function anonymous(url: string): Promise<string> {
  const res = await fetch(`${url}/api/client/v2.0/app/${APP_ID}/auth/providers/anon-user/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(res.status, 200);
  return ((await res.json()) as { access_token: string }).access_token;
}

const profileStatus = async (url: string, token: string) =>
  (await fetch(`${url}/api/client/v2.0/auth/profile`, { headers: { authorization: `Bearer ${token}` } })).status;

interface Acked {
  email: string;
  userId: string;
  accessToken: string;
  /** When the login request was sent and when it was answered (performance.now()). */
  sentAt: number;
  ackedAt: number;
  docs: { id: string; sentAt: number; ackedAt: number }[];
}

describe('baste backup under write load, then restore', () => {
  const dirA = join(tmp, 'live');
  const dirB = join(tmp, 'restored');
  const archive = join(tmp, 'backup.tar.gz');
  let a: Served;
  let b: Served | undefined;
  const acked: Acked[] = [];
  let backupStart = 0;
  let backupEnd = 0;
  let backupOut = { status: null as number | null, stdout: '', stderr: '' };

  before(async () => {
    a = await serve(['--app', EXAMPLE, '--data-dir', dirA]);
    let running = true;
    // Each worker: register, confirm, log in (the user exists from then on), insert documents.
    const worker = async (w: number) => {
      const app = new Realm.App({ id: APP_ID, baseUrl: a.url });
      while (running) {
        const email = uniqueEmail(`load${w}`);
        await app.emailPasswordAuth.registerUser({ email, password: 'secret123' });
        // The example app confirms by email: follow the link its outbox holds.
        const link = mailedLink(dirA, email);
        await app.emailPasswordAuth.confirmUser({ token: link.searchParams.get('token')!, tokenId: link.searchParams.get('tokenId')! });
        const sentAt = performance.now();
        const user = await app.logIn(Realm.Credentials.emailPassword(email, 'secret123'));
        const entry: Acked = { email, userId: user.id, accessToken: user.accessToken!, sentAt, ackedAt: performance.now(), docs: [] };
        acked.push(entry);
        const items = user.mongoClient('mongodb-atlas').db('todo').collection<{ _id: unknown; owner_id: string; n: number }>('items');
        for (let n = 0; n < 3 && running; n++) {
          const docSent = performance.now();
          const { insertedId } = await items.insertOne({ owner_id: user.id, n } as never);
          entry.docs.push({ id: String(insertedId), sentAt: docSent, ackedAt: performance.now() });
        }
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    const settled = Promise.allSettled(workers);
    while (acked.length < 12) await new Promise((r) => setTimeout(r, 50));
    backupStart = performance.now();
    backupOut = await cli(['backup', '--data-dir', dirA, '--to', archive]);
    backupEnd = performance.now();
    // A little more load after it, which the backup must not hold.
    await new Promise((r) => setTimeout(r, 700));
    running = false;
    for (const r of await settled) if (r.status === 'rejected') throw r.reason;
    await stop(a);
  });
  after(async () => {
    if (b) await stop(b);
  });

  it('backs up while the server writes', (t) => {
    assert.equal(backupOut.status, 0, backupOut.stderr);
    assert.match(backupOut.stdout, /^backed up .* \(app todo-abcde: \d+ users?, \d+ documents?\) to .*backup\.tar\.gz/);
    // Owner-only: it holds password hashes and signing keys.
    assert.equal(statSync(archive).mode & 0o777, 0o600);
    const during = acked.flatMap((u) => [u.ackedAt, ...u.docs.map((d) => d.ackedAt)]).filter((t) => t > backupStart && t < backupEnd);
    assert.ok(during.length > 0, 'no write was acknowledged while the backup ran: the test did not load the server');
    t.diagnostic(`${acked.length} users, ${acked.reduce((n, u) => n + u.docs.length, 0)} documents acknowledged; ${during.length} writes acknowledged during the ${Math.round(backupEnd - backupStart)} ms backup command`);
  });

  it('restores into a fresh directory where every acknowledged user and document is present', async () => {
    const r = await cli(['restore', '--from', archive, '--data-dir', dirB, '--app', EXAMPLE]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^restored the backup of .* into /);
    b = await serve(['--app', EXAMPLE, '--data-dir', dirB]);
    const app = new Realm.App({ id: APP_ID, baseUrl: b.url });
    const before = acked.filter((u) => u.ackedAt < backupStart);
    const begunAfter = acked.filter((u) => u.sentAt > backupEnd);
    assert.ok(before.length >= 12 && begunAfter.length > 0, `${before.length} users before, ${begunAfter.length} after`);
    for (const u of before) {
      // The old server's access token is good here: the signing keys came along.
      const profile: Response = await fetch(`${b.url}/api/client/v2.0/auth/profile`, { headers: { authorization: `Bearer ${u.accessToken}` } });
      assert.equal(profile.status, 200, `${u.email}: ${await profile.text()}`);
      const user = await app.logIn(Realm.Credentials.emailPassword(u.email, 'secret123'));
      assert.equal(user.id, u.userId, u.email);
      const found = await user.mongoClient('mongodb-atlas').db('todo').collection<{ _id: unknown }>('items').find({});
      const ids = new Set(found.map((d) => String(d._id)));
      for (const d of u.docs.filter((d) => d.ackedAt < backupStart)) assert.ok(ids.has(d.id), `${u.email}: document ${d.id} lost`);
      // Nothing begun after the backup ended is in it.
      for (const d of u.docs.filter((d) => d.sentAt > backupEnd)) assert.ok(!ids.has(d.id), `${u.email}: document ${d.id} from after the backup`);
    }
    for (const u of begunAfter) {
      await assert.rejects(app.logIn(Realm.Credentials.emailPassword(u.email, 'secret123')), `${u.email} logged in after the backup is in it`);
    }
  });
});

describe('baste restore refuses', () => {
  const source = join(tmp, 'source');
  const archive = join(tmp, 'small.tar.gz');
  before(async () => {
    const s = await serve(['--app', EXAMPLE, '--data-dir', source]);
    await anonymous(s.url);
    const r = await cli(['backup', '--data-dir', source, '--to', archive]);
    assert.equal(r.status, 0, r.stderr);
    await stop(s);
  });

  it('an existing backup file without --force, and a directory without databases', async () => {
    const again = await cli(['backup', '--data-dir', source, '--to', archive]);
    assert.deepEqual([again.status, again.stderr], [1, `baste: ${archive} exists; choose another file or pass --force to replace it\n`]);
    assert.equal((await cli(['backup', '--data-dir', source, '--to', archive, '--force'])).status, 0);
    const empty = await cli(['backup', '--data-dir', join(tmp, 'nothing-here'), '--to', join(tmp, 'x.tar.gz')]);
    assert.equal(empty.status, 1);
    assert.match(empty.stderr, /^baste: .*nothing-here holds no Baste database \(baste\.sqlite\).*pg_dump/);
    const pg = await cli(['backup', '--data-dir', source, '--to', join(tmp, 'y.tar.gz'), '--database', 'postgres://x@127.0.0.1/db']);
    assert.equal(pg.status, 2);
    assert.match(pg.stderr, /pg_dump/);
  });

  it('a damaged archive, a file that is no backup, and another app', async () => {
    const bytes = readFileSync(archive);
    const damaged = Buffer.from(bytes);
    damaged[Math.floor(damaged.length / 2)]! ^= 0xff;
    writeFileSync(join(tmp, 'damaged.tar.gz'), damaged);
    writeFileSync(join(tmp, 'truncated.tar.gz'), bytes.subarray(0, bytes.length - 200));
    writeFileSync(join(tmp, 'notes.txt'), 'hello\n');
    for (const [file, message] of [
      ['damaged.tar.gz', /is not a Baste backup, or is damaged|is damaged \(its checksum does not match\)/],
      ['truncated.tar.gz', /is not a Baste backup, or is damaged/],
      ['notes.txt', /is not a Baste backup, or is damaged/],
    ] as const) {
      const target = join(tmp, `into-${file}`);
      const r = await cli(['restore', '--from', join(tmp, file), '--data-dir', target]);
      assert.equal(r.status, 1, file);
      assert.match(r.stderr, message, file);
      assert.ok(!r.stderr.includes('    at '), r.stderr);
      assert.ok(!existsSync(join(target, 'baste.sqlite')), file);
    }
    const other = await cli(['restore', '--from', archive, '--data-dir', join(tmp, 'other-app'), '--app', EXAMPLE, '--app-id', 'other-zzzzz']);
    assert.equal(other.status, 1);
    assert.match(other.stderr, /the backup is of app 'todo-abcde', not 'other-zzzzz'/);
    assert.ok(!existsSync(join(tmp, 'other-app', 'baste.sqlite')));
  });

  it('a data directory with databases without --force; a running one even with --force; a stopped one with --force', async () => {
    const target = join(tmp, 'occupied');
    const s = await serve(['--app', EXAMPLE, '--data-dir', target]);
    const newer = await anonymous(s.url);
    try {
      const plain = await cli(['restore', '--from', archive, '--data-dir', target]);
      assert.equal(plain.status, 1);
      assert.match(plain.stderr, /already holds a Baste database .*pass --force/);
      const live = await cli(['restore', '--from', archive, '--data-dir', target, '--force']);
      assert.equal(live.status, 1);
      assert.match(live.stderr, /is in use \(a Baste server is running on .*\): stop it, then restore/);
      // The server was left alone.
      assert.equal(await profileStatus(s.url, newer), 200);
    } finally {
      await stop(s);
    }
    const forced = await cli(['restore', '--from', archive, '--data-dir', target, '--force']);
    assert.equal(forced.status, 0, forced.stderr);
    assert.match(forced.stdout, /replacing its databases/);
    const s2 = await serve(['--app', EXAMPLE, '--data-dir', target]);
    try {
      // The user made after the backup is gone with the databases it lived in.
      assert.equal(await profileStatus(s2.url, newer), 401);
    } finally {
      await stop(s2);
    }
  });
});
