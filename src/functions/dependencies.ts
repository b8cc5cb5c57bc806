// Makes an export's function dependencies ready at start: unpacks `functions/node_modules.tar.gz`
// into `<data-dir>/dependencies/<digest>/` (once per archive content), and says which packages the
// export's package.json declares that no folder holds, with the command that installs them. Baste
// never runs npm itself.
//
// The archive is read here (node:zlib and a small tar reader), not by a system `tar`: entries with
// absolute paths or `..`, links and devices are skipped, and sizes are bounded. The platform
// accepted archives up to 15 MB (docs-app-services, source/functions/dependencies.txt).

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Logger } from 'pino';
import type { FunctionDependencies } from '../app/model.js';
import { ConfigError } from '../errors.js';
import type { ModuleRoots } from './modules.js';

export interface ArchiveLimits {
  /** Bytes of the archive file (compressed). */
  readonly maxArchiveBytes: number;
  /** Bytes of everything unpacked. */
  readonly maxUnpackedBytes: number;
  readonly maxEntries: number;
}

export const ARCHIVE_LIMITS: ArchiveLimits = { maxArchiveBytes: 64 * 1024 * 1024, maxUnpackedBytes: 512 * 1024 * 1024, maxEntries: 200_000 };

/** What unpacking skipped, by reason, for one warning. */
export interface Unpacked {
  readonly files: number;
  readonly skipped: readonly string[];
}

const octal = (block: Buffer, start: number, length: number): number => {
  const field = block.subarray(start, start + length);
  // GNU base-256 for sizes beyond 8 GiB: never needed within our limits.
  if (field[0]! & 0x80) throw new Error('an entry is too large');
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  return text === '' ? 0 : parseInt(text, 8);
};
const text = (block: Buffer, start: number, length: number) => block.subarray(start, start + length).toString('utf8').replace(/\0.*$/s, '');

/** A safe relative path for an entry, or null (absolute, `..`, empty). */
function safePath(name: string): string | null {
  const parts = name.replace(/\\/g, '/').split('/').filter((p) => p !== '' && p !== '.');
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name) || parts.length === 0 || parts.some((p) => p === '..' || p.includes('\0'))) return null;
  return parts.join('/');
}

/** Pax extended header records (`<len> key=value\n`). */
function paxRecords(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space < 0) break;
    const len = parseInt(data.subarray(i, space).toString('latin1'), 10);
    if (!(len > 0)) break;
    const record = data.subarray(space + 1, i + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    i += len;
  }
  return out;
}

/**
 * Unpacks a tar (optionally gzipped) archive into `dest` (which must not exist yet). Regular files
 * and folders only; the archive's modes, owners and times are not kept (files are 0644).
 */
export function unpackTar(archive: Buffer, dest: string, limits: ArchiveLimits = ARCHIVE_LIMITS): Unpacked {
  const gzipped = archive[0] === 0x1f && archive[1] === 0x8b;
  const tar = gzipped ? gunzipSync(archive, { maxOutputLength: limits.maxUnpackedBytes + 1024 * 1024 }) : archive;
  const skipped: string[] = [];
  let files = 0;
  let entries = 0;
  let total = 0;
  let longName: string | null = null;
  let pax: Record<string, string> = {};
  mkdirSync(dest, { recursive: true });
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break; // end of archive
    if (++entries > limits.maxEntries) throw new Error(`more than ${limits.maxEntries} entries`);
    const size = pax.size !== undefined ? Number(pax.size) : octal(header, 124, 12);
    const type = String.fromCharCode(header[156]!);
    const dataStart = offset + 512;
    if (!Number.isSafeInteger(size) || size < 0 || dataStart + size > tar.length) throw new Error('truncated or corrupt archive');
    const data = tar.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      pax = paxRecords(data);
      continue;
    }
    if (type === 'g') continue;
    if (type === 'L') {
      longName = data.toString('utf8').replace(/\0.*$/s, '');
      continue;
    }
    const prefix = text(header, 257, 6).startsWith('ustar') ? text(header, 345, 155) : '';
    const name = pax.path ?? longName ?? (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100));
    pax = {};
    longName = null;
    const rel = safePath(name);
    if (rel === null) {
      skipped.push(`${name} (outside the archive's folder)`);
      continue;
    }
    if (type === '5') {
      mkdirSync(join(dest, rel), { recursive: true });
      continue;
    }
    if (type !== '0' && type !== '\0' && type !== '7') {
      skipped.push(`${rel} (${type === '2' ? 'symbolic link' : type === '1' ? 'hard link' : 'not a regular file'})`);
      continue;
    }
    total += size;
    if (total > limits.maxUnpackedBytes) throw new Error(`more than ${limits.maxUnpackedBytes} bytes unpacked`);
    mkdirSync(join(dest, dirname(rel)), { recursive: true });
    writeFileSync(join(dest, rel), data, { mode: 0o644 });
    files++;
  }
  return { files, skipped };
}

/**
 * The folders functions `require` from, in order: `functions/node_modules`, the unpacked archive,
 * the `node_modules` beside `functions/`. Logs what is declared but not installed.
 */
export function prepareDependencies(deps: FunctionDependencies | undefined, dataDir: string, logger: Logger): ModuleRoots {
  if (!deps) return { folders: [] };
  const folders = [...deps.folders];
  // The archive comes after functions/node_modules and before the folder beside functions/.
  if (deps.archive) folders.splice(/functions[\\/]node_modules$/.test(folders[0] ?? '') ? 1 : 0, 0, unpackArchive(deps.archive, dataDir, logger));
  const missing = Object.keys(deps.declared).filter((name) => !folders.some((f) => existsSync(join(f, name, 'package.json'))));
  if (missing.length > 0) {
    logger.warn(
      { missing, packageJson: deps.manifest },
      `${deps.manifest ?? 'package.json'} declares packages that are not installed: ${missing.join(', ')}. ` +
        `Functions that require them will fail; install them with \`npm install --omit=dev --prefix ${deps.manifestDir ?? '.'}\` and restart`,
    );
  }
  return { folders, declared: deps.declared, ...(deps.manifestDir ? { manifestDir: deps.manifestDir } : {}) };
}

/** Unpacks the archive once per content into the data directory; returns its node_modules folder. */
function unpackArchive(archivePath: string, dataDir: string, logger: Logger): string {
  const archive = readFileSync(archivePath);
  if (archive.length > ARCHIVE_LIMITS.maxArchiveBytes) {
    throw new ConfigError(archivePath, undefined, `the dependency archive is larger than ${ARCHIVE_LIMITS.maxArchiveBytes / 1024 / 1024} MB`);
  }
  const base = join(dataDir, 'dependencies');
  const digest = createHash('sha256').update(archive).digest('hex').slice(0, 16);
  const target = join(base, digest);
  if (!existsSync(target)) {
    const staging = join(base, `.unpacking-${digest}-${process.pid}`);
    rmSync(staging, { recursive: true, force: true });
    try {
      const { files, skipped } = unpackTar(archive, staging);
      if (skipped.length > 0) logger.warn({ archive: archivePath, skipped: skipped.slice(0, 20) }, `${skipped.length} entries of the dependency archive were skipped`);
      logger.info({ archive: archivePath, files }, 'unpacked the functions’ dependency archive');
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      throw new ConfigError(archivePath, undefined, `cannot unpack the dependency archive: ${(err as Error).message}`);
    }
    renameSync(staging, target);
    // Older unpacked archives are no longer needed.
    for (const old of readdirSync(base)) if (old !== digest && !old.startsWith('.unpacking-')) rmSync(join(base, old), { recursive: true, force: true });
  }
  // `tar -czf node_modules.tar.gz node_modules/` (the documented way) puts everything under node_modules/.
  return existsSync(join(target, 'node_modules')) ? join(target, 'node_modules') : target;
}
