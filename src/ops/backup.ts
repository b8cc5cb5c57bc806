// `baste backup` and `baste restore`: the SQLite state of a data directory (the store,
// baste.sqlite, and the documents, documents.sqlite) as one gzipped tar file, taken while the
// server runs.
//
// Consistency: one connection opens the store, attaches the documents and holds a read
// transaction on both while SQLite's backup API copies them, so each copy is the database as of
// that transaction's start, and the two starts are microseconds apart (store first: a database
// trigger's delivery progress, kept in the store, can then only lag the change events it refers
// to, and a lag is redelivered, never skipped). In WAL mode the held read transaction does not
// block the server's writers; the WAL just grows until the copy ends. Every write the server
// acknowledged before the backup began is in it (acknowledged implies committed and synced).
//
// The archive: `baste-backup.json` (what it holds, with SHA-256 sums), then the database files.
// Restoring checks the sums, runs SQLite's integrity check on each file and checks that the
// store belongs to the expected app before anything in the data directory is replaced.

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, fsyncSync, mkdtempSync, openSync, closeSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import Database from 'better-sqlite3';
import { ensureDataDir } from '../store/data-dir.js';
import { readEntries, TarError, writeEnd, writeEntry } from './tar.js';

/** A backup or restore that cannot be done: one line saying what and what to do. */
export class BackupError extends Error {
  override readonly name = 'BackupError';
}

export const MANIFEST = 'baste-backup.json';
const STORE = 'baste.sqlite';
const DOCUMENTS = 'documents.sqlite';
const DATABASES = [STORE, DOCUMENTS] as const;
const FORMAT = 'baste-backup';
const VERSION = 1;

interface Manifest {
  readonly format: typeof FORMAT;
  readonly version: number;
  readonly createdAt: string;
  /** The app the store is claimed by (src/store/owner.ts), or null for a store never claimed. */
  readonly appId: string | null;
  readonly users: number;
  readonly documents: number;
  readonly files: readonly { readonly name: string; readonly size: number; readonly sha256: string }[];
}

export interface BackupSummary {
  readonly file: string;
  readonly appId: string | null;
  readonly users: number;
  readonly documents: number;
  readonly bytes: number;
}

const count = (db: Database.Database, schema: string, table: string): number =>
  db.prepare(`SELECT 1 FROM ${schema}.sqlite_master WHERE type = 'table' AND name = ?`).get(table)
    ? (db.prepare(`SELECT count(*) FROM ${schema}.${table}`).pluck().get() as number)
    : 0;

const ownerOfFile = (db: Database.Database, schema = 'main'): string | null =>
  db.prepare(`SELECT 1 FROM ${schema}.sqlite_master WHERE type = 'table' AND name = 'baste_owner'`).get()
    ? ((db.prepare(`SELECT app_id FROM ${schema}.baste_owner`).pluck().get() as string | undefined) ?? null)
    : null;

function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  return pipeline(createReadStream(path), hash).then(() => hash.digest('hex'));
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** SQLite's full integrity check of a copy; throws BackupError naming what failed. */
function checkIntegrity(path: string, what: string): void {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { fileMustExist: true, readonly: true });
    const result = db.pragma('integrity_check', { simple: true });
    if (result !== 'ok') throw new BackupError(`${what} fails SQLite's integrity check: ${String(result)}`);
  } catch (err) {
    if (err instanceof BackupError) throw err;
    throw new BackupError(`${what} is not a usable SQLite database: ${(err as Error).message}`);
  } finally {
    db?.close();
  }
}

/** Copies the data directory's databases into `opts.to` (a .tar.gz) while a server may be using them. */
export async function backupDataDir(opts: { dataDir: string; to: string; force?: boolean; now?: () => Date }): Promise<BackupSummary> {
  const dataDir = resolve(opts.dataDir);
  const to = resolve(opts.to);
  const storeFile = join(dataDir, STORE);
  const documentsFile = join(dataDir, DOCUMENTS);
  if (!existsSync(storeFile)) {
    throw new BackupError(
      `${dataDir} holds no Baste database (${STORE}); pass the data directory the server uses (--data-dir). ` +
        'A server run with --database keeps its state in PostgreSQL: back that up with pg_dump (README, "Backups")',
    );
  }
  if (existsSync(to) && !opts.force) throw new BackupError(`${to} exists; choose another file or pass --force to replace it`);
  if (!existsSync(dirname(to))) throw new BackupError(`cannot write ${to}: the directory ${dirname(to)} does not exist`);

  // Copies and the archive are made beside the target and renamed into place: a failed or
  // interrupted backup never leaves a half-written file under the name asked for.
  const staging = mkdtempSync(join(dirname(to), `.${basename(to)}.`));
  try {
    const db = new Database(storeFile, { fileMustExist: true, timeout: 10_000 });
    let users: number, documents: number, appId: string | null;
    const copies: string[] = [STORE];
    try {
      const withDocuments = existsSync(documentsFile);
      if (withDocuments) {
        db.prepare('ATTACH DATABASE ? AS docs').run(documentsFile);
        copies.push(DOCUMENTS);
      }
      // The snapshot: the read transaction starts on each database at its first read.
      db.exec('BEGIN');
      users = count(db, 'main', 'users');
      appId = ownerOfFile(db);
      documents = withDocuments ? count(db, 'docs', 'documents') : 0;
      // Thousands of pages a step: the held transaction already keeps the copy consistent.
      const progress = () => 4096;
      await db.backup(join(staging, STORE), { progress });
      // `attached` is better-sqlite3's option (missing from its type declarations).
      if (withDocuments) await db.backup(join(staging, DOCUMENTS), { attached: 'docs', progress } as Database.BackupOptions);
      db.exec('COMMIT');
    } finally {
      db.close();
    }

    const files = [];
    for (const name of copies) {
      const path = join(staging, name);
      checkIntegrity(path, `the copy of ${name}`);
      files.push({ name, size: statSync(path).size, sha256: await sha256File(path) });
    }
    const now = (opts.now ?? (() => new Date()))();
    const manifest: Manifest = { format: FORMAT, version: VERSION, createdAt: now.toISOString(), appId, users, documents, files };

    // Owner-only: the store holds password hashes and the token signing keys.
    const archive = join(staging, 'backup.tar.gz');
    const gzip = createGzip();
    const written = pipeline(gzip, createWriteStream(archive, { mode: 0o600 }));
    await writeEntry(gzip, MANIFEST, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), now.getTime());
    for (const f of files) await writeEntry(gzip, f.name, { path: join(staging, f.name), size: f.size }, now.getTime());
    await writeEnd(gzip);
    gzip.end();
    await written;
    fsyncPath(archive);
    renameSync(archive, to);
    fsyncPath(dirname(to));
    return { file: to, appId, users, documents, bytes: statSync(to).size };
  } catch (err) {
    if (err instanceof BackupError) throw err;
    const e = err as { code?: string; message?: string };
    throw new BackupError(`backup of ${dataDir} failed: ${e.message ?? String(err)}`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

export interface RestoreSummary {
  readonly dataDir: string;
  readonly appId: string | null;
  readonly users: number;
  readonly documents: number;
  readonly createdAt: string;
  /** Databases that were there before and were replaced (--force). */
  readonly replaced: boolean;
}

function parseManifest(text: string): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch {
    throw new BackupError(`not a Baste backup: ${MANIFEST} is not JSON`);
  }
  if (m?.format !== FORMAT) throw new BackupError(`not a Baste backup: ${MANIFEST} has no format '${FORMAT}'`);
  if (m.version !== VERSION) throw new BackupError(`this backup's format version ${String(m.version)} is not one this Baste reads (${VERSION}); restore it with the release that made it`);
  if (!Array.isArray(m.files) || !m.files.some((f) => f?.name === STORE)) throw new BackupError(`not a Baste backup: ${MANIFEST} lists no ${STORE}`);
  for (const f of m.files) {
    if (!(DATABASES as readonly string[]).includes(f.name) || typeof f.sha256 !== 'string' || !Number.isSafeInteger(f.size)) {
      throw new BackupError(`not a Baste backup: ${MANIFEST} lists an unexpected file ${JSON.stringify(f?.name)}`);
    }
  }
  return m;
}

/**
 * Is a server (or anything) using this SQLite file? Leaving WAL mode needs the only connection,
 * so it fails with SQLITE_BUSY while another is open; when it succeeds the file is not in use,
 * and it is about to be replaced anyway.
 */
function inUse(path: string): boolean {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { fileMustExist: true, timeout: 0 });
    db.pragma('journal_mode = DELETE');
    return false;
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
  } finally {
    db?.close();
  }
}

/**
 * Restores a backup into `opts.dataDir`: a new or empty directory, or (with `force`) one whose
 * databases are replaced, which no running server may be using.
 */
export async function restoreDataDir(opts: { from: string; dataDir: string; force?: boolean; appId?: string }): Promise<RestoreSummary> {
  const from = resolve(opts.from);
  const dataDir = resolve(opts.dataDir);
  if (!existsSync(from)) throw new BackupError(`${from} does not exist`);
  if (existsSync(dataDir) && !statSync(dataDir).isDirectory()) throw new BackupError(`${dataDir} is not a directory`);
  const present = DATABASES.filter((name) => existsSync(join(dataDir, name)));
  if (present.length > 0 && !opts.force) {
    throw new BackupError(
      `${dataDir} already holds a Baste database (${present.join(', ')}); restore into a new directory, ` +
        'or stop the server using it and pass --force to replace its databases',
    );
  }

  ensureDataDir(dataDir);
  const staging = mkdtempSync(join(dataDir, '.restore-'));
  try {
    const manifest = await extract(from, staging);
    for (const f of manifest.files) checkIntegrity(join(staging, f.name), `${f.name} in the backup`);
    const db = new Database(join(staging, STORE), { readonly: true });
    const owner = (() => {
      try {
        return ownerOfFile(db);
      } finally {
        db.close();
      }
    })();
    if (owner !== manifest.appId) throw new BackupError(`the backup is inconsistent: its store belongs to app '${owner}', its manifest says '${manifest.appId}'`);
    if (opts.appId !== undefined && owner !== null && owner !== opts.appId) {
      throw new BackupError(`the backup is of app '${owner}', not '${opts.appId}'; pass the app it was taken from (or its --app-id)`);
    }

    // Checked last, just before the swap: a server started meanwhile is seen too.
    for (const name of present) {
      if (inUse(join(dataDir, name))) {
        throw new BackupError(`${join(dataDir, name)} is in use (a Baste server is running on ${dataDir}): stop it, then restore`);
      }
    }
    for (const name of DATABASES) {
      const target = join(dataDir, name);
      // A WAL left beside the old file would be replayed into the new one: it goes with it.
      for (const suffix of ['-wal', '-shm', '-journal']) rmSync(target + suffix, { force: true });
      if (manifest.files.some((f) => f.name === name)) renameSync(join(staging, name), target);
      else if (existsSync(target)) unlinkSync(target);
    }
    fsyncPath(dataDir);
    return { dataDir, appId: manifest.appId, users: manifest.users, documents: manifest.documents, createdAt: manifest.createdAt, replaced: present.length > 0 };
  } catch (err) {
    if (err instanceof BackupError) throw err;
    if (err instanceof TarError) throw new BackupError(`${from} is not a Baste backup, or is damaged: ${err.message}`);
    const e = err as { code?: string; message?: string };
    if (e.code === 'Z_DATA_ERROR' || e.code === 'Z_BUF_ERROR') throw new BackupError(`${from} is not a Baste backup, or is damaged (not gzip data, or truncated)`);
    throw new BackupError(`restore into ${dataDir} failed: ${e.message ?? String(err)}`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Unpacks the archive's databases into `dir`, checking each against the manifest. */
async function extract(from: string, dir: string): Promise<Manifest> {
  const input = createReadStream(from).pipe(createGunzip());
  // A gunzip failure is thrown by the iteration below; this keeps it from being unhandled.
  input.on('error', () => {});
  let manifest: Manifest | undefined;
  const seen = new Set<string>();
  for await (const entry of readEntries(input)) {
    if (!manifest) {
      if (entry.name !== MANIFEST || !entry.regular || entry.size > 1 << 20) throw new BackupError(`${from} is not a Baste backup (it does not start with ${MANIFEST})`);
      const parts: Buffer[] = [];
      for await (const c of entry.chunks()) parts.push(c);
      manifest = parseManifest(Buffer.concat(parts).toString('utf8'));
      continue;
    }
    const expected = manifest.files.find((f) => f.name === entry.name);
    if (!expected || !entry.regular || seen.has(entry.name)) throw new BackupError(`${from} holds an unexpected entry ${JSON.stringify(entry.name)}`);
    seen.add(entry.name);
    const path = join(dir, entry.name);
    const hash = createHash('sha256');
    const out = createWriteStream(path, { mode: 0o600 });
    let size = 0;
    try {
      for await (const c of entry.chunks()) {
        hash.update(c);
        size += c.length;
        if (!out.write(c)) await once(out, 'drain');
      }
      out.end();
    } catch (err) {
      out.destroy();
      throw err;
    } finally {
      // Closed before the caller removes the directory it is in.
      if (!out.closed) await once(out, 'close');
    }
    if (size !== expected.size || hash.digest('hex') !== expected.sha256) throw new BackupError(`${entry.name} in ${from} is damaged (its checksum does not match)`);
    fsyncPath(path);
  }
  if (!manifest) throw new BackupError(`${from} is not a Baste backup (it is empty)`);
  const missing = manifest.files.filter((f) => !seen.has(f.name)).map((f) => f.name);
  if (missing.length > 0) throw new BackupError(`${from} is incomplete: ${missing.join(', ')} missing`);
  return manifest;
}
