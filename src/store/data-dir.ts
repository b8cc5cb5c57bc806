// Where a server keeps its files (the SQLite databases, the outbox, unpacked function packages),
// and the directory's creation.
//
// The default is `.baste-data/<app id>` in the working directory, outside the app export: an
// export is usually a git repository, and a data directory inside it (the old default,
// `<app>/.baste`) is one `git add .` away from publishing the user database and the token signing
// keys. An existing `<app>/.baste` keeps being used, so upgrading changes nothing for a running
// installation. Every directory Baste creates gets a `.gitignore` of `*`, so wherever it lands
// (the working directory may be a repository too) git leaves it out.

import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, isAbsolute } from 'node:path';

/** The data directory of releases before this default moved, inside the app directory. */
export const LEGACY_DATA_DIR = '.baste';
/** The folder, in the working directory, that holds one data directory per app id. */
export const DATA_ROOT = '.baste-data';

/** An app id as one path segment: ids are letters, digits and dashes, but `--app-id` takes anything. */
const segment = (appId: string): string => {
  const safe = appId.replace(/[^A-Za-z0-9._-]/g, '_');
  return safe === '' || /^\.+$/.test(safe) ? '_' : safe;
};

export interface DefaultDataDir {
  readonly dir: string;
  /** The old default, `<app>/.baste`, found in use and kept. */
  readonly legacy: boolean;
}

/** The data directory when `--data-dir` is not given (see the top of this file). */
export function defaultDataDir(appDir: string, appId: string, cwd: string): DefaultDataDir {
  const legacy = join(resolve(appDir), LEGACY_DATA_DIR);
  if (isDirectory(legacy)) return { dir: legacy, legacy: true };
  return { dir: resolve(cwd, DATA_ROOT, segment(appId)), legacy: false };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Is `path` the directory `dir` or inside it? */
export function isInside(path: string, dir: string): boolean {
  const rel = relative(resolve(dir), resolve(path));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

const GITIGNORE = '# Baste data directory: user database, signing keys, emails. Never commit it.\n*\n';

/**
 * Creates the data directory (owner-only) if it is missing; a directory created here gets its
 * `.gitignore`. One that exists is left as it is: it is the operator's.
 */
export function ensureDataDir(dir: string): void {
  const created = !existsSync(dir);
  // Also when it exists: a file in the way fails here, as the start-up error explains (server.ts).
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (created) writeFileSync(join(dir, '.gitignore'), GITIGNORE, { mode: 0o600 });
}
