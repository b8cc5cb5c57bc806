// Read access to an app directory. Paths are '/'-separated and relative to the app root, which
// is also how every warning and ConfigError names a file.

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { parseJson } from './json.js';

export type EntryKind = 'file' | 'dir';

export interface DirEntry {
  readonly name: string;
  /** Relative path of the entry. */
  readonly path: string;
  readonly kind: EntryKind | 'other';
}

export const joinRel = (...parts: string[]) => parts.filter((p) => p !== '' && p !== '.').join('/');

const errorCode = (e: unknown) => (e as NodeJS.ErrnoException | undefined)?.code ?? 'unknown error';

export class AppDir {
  constructor(readonly root: string) {}

  private abs(rel: string): string {
    return join(this.root, ...rel.split('/'));
  }

  /** Kind of the entry at `rel` (following symlinks), or null when there is none. */
  async kind(rel: string): Promise<EntryKind | 'other' | null> {
    try {
      const s = await stat(this.abs(rel));
      return s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other';
    } catch (e) {
      if (errorCode(e) === 'ENOENT' || errorCode(e) === 'ENOTDIR') return null;
      throw new ConfigError(rel || this.root, undefined, `cannot read (${errorCode(e)})`);
    }
  }

  async isFile(rel: string): Promise<boolean> {
    return (await this.kind(rel)) === 'file';
  }

  async isDir(rel: string): Promise<boolean> {
    return (await this.kind(rel)) === 'dir';
  }

  /** Entries of the folder `rel`, sorted by name so warnings come out in a stable order; [] if absent. */
  async list(rel: string): Promise<DirEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.abs(rel));
    } catch (e) {
      if (errorCode(e) === 'ENOENT' || errorCode(e) === 'ENOTDIR') return [];
      throw new ConfigError(rel || this.root, undefined, `cannot read folder (${errorCode(e)})`);
    }
    names.sort();
    return Promise.all(
      names.map(async (name) => {
        const path = joinRel(rel, name);
        return { name, path, kind: (await this.kind(path)) ?? 'other' };
      }),
    );
  }

  async readText(rel: string): Promise<string> {
    try {
      return await readFile(this.abs(rel), 'utf8');
    } catch (e) {
      throw new ConfigError(rel, undefined, `cannot read file (${errorCode(e)})`);
    }
  }

  async readJson(rel: string): Promise<unknown> {
    return parseJson(await this.readText(rel), rel);
  }
}
