// Parts of an export that Baste skips. They never fail a load: each found path is reported once
// and the loaders leave it alone.

import type { AppDir } from './dir.js';
import type { Warn } from './check.js';

/**
 * Export parts that later work will serve. Shrink this list as each feature lands.
 * Paths are relative to the app directory; `*` matches within one path segment.
 */
export const NOT_SERVED_YET: readonly string[] = [];

/**
 * The functions' dependencies (app/dependencies.ts reads them): set aside from the function
 * loader without a warning. A zip archive is set aside with one (Baste reads tar archives).
 */
export const DEPENDENCY_PARTS: readonly string[] = [
  'functions/package.json',
  'functions/package-lock.json',
  'functions/yarn.lock',
  'functions/npm-shrinkwrap.json',
  'functions/node_modules',
  'functions/node_modules.tar',
  'functions/node_modules.tar.gz',
  'functions/node_modules.tgz',
  'package.json',
  'package-lock.json',
  'yarn.lock',
  'node_modules',
];
export const ZIP_ARCHIVE = 'functions/node_modules.zip';
export const ZIP_ARCHIVE_MESSAGE = 'zip dependency archives are not read by Baste (ignored): make it a tar.gz (tar -czf node_modules.tar.gz node_modules/) or unpack it into functions/node_modules';

/** Root config sections (legacy layouts) that later work will serve, reported when enabled. */
export const ROOT_SECTIONS_NOT_SERVED_YET: readonly string[] = [];

/** Function config fields that later work will honour; for now the function runs without them. */
export const FUNCTION_FIELDS_NOT_SERVED_YET: readonly string[] = [];

/** Export parts for features Baste does not offer at all (`sync/`: partition-sync.ts reports it). */
export const NOT_SUPPORTED: readonly string[] = ['graphql', 'hosting', 'log_forwarders', 'data_api_config.json'];

export const NOT_SERVED_YET_MESSAGE = 'not served yet by Baste (ignored)';
export const NOT_SUPPORTED_MESSAGE = 'not supported by Baste (ignored)';

const segmentPattern = (glob: string) =>
  new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);

/** Existing paths matching `pattern`. Dot-entries never match: they are tool metadata. */
async function expand(dir: AppDir, pattern: string): Promise<string[]> {
  let found = [''];
  for (const segment of pattern.split('/')) {
    const re = segmentPattern(segment);
    const next: string[] = [];
    for (const base of found) {
      for (const entry of await dir.list(base)) {
        if (!entry.name.startsWith('.') && re.test(entry.name)) next.push(entry.path);
      }
    }
    found = next;
  }
  return found;
}

/** Warns once per skipped path and returns them all, so loaders can step around them. */
export async function findSkippedParts(dir: AppDir, warn: Warn): Promise<ReadonlySet<string>> {
  const skipped = new Set<string>();
  const groups = [
    [NOT_SUPPORTED, NOT_SUPPORTED_MESSAGE],
    [NOT_SERVED_YET, NOT_SERVED_YET_MESSAGE],
    [[ZIP_ARCHIVE], ZIP_ARCHIVE_MESSAGE],
    [DEPENDENCY_PARTS, null],
  ] as const;
  for (const [patterns, message] of groups) {
    for (const pattern of patterns) {
      for (const path of await expand(dir, pattern)) {
        skipped.add(path);
        if (message !== null) warn(path, message);
      }
    }
  }
  return skipped;
}
