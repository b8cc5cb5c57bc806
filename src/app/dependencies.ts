// The functions' own dependencies as an export carries them (docs-app-services,
// source/functions/dependencies.txt): a `functions/package.json` listing packages by name and
// version, a `node_modules` folder (in `functions/` or beside it), and/or the uploaded archive
// `functions/node_modules.tar.gz`. Loading only finds them; the server unpacks the archive into
// its data directory at start (functions/dependencies.ts) and functions `require` from them.

import { resolve } from 'node:path';
import type { AppDir } from './dir.js';
import type { Warn } from './check.js';
import type { FunctionDependencies } from './model.js';
import { isObject } from './check.js';

const FOLDERS = ['functions/node_modules', 'node_modules'];
const ARCHIVES = ['functions/node_modules.tar.gz', 'functions/node_modules.tgz', 'functions/node_modules.tar'];
const MANIFESTS = ['functions/package.json', 'package.json'];

export async function loadFunctionDependencies(dir: AppDir, warn: Warn): Promise<FunctionDependencies | undefined> {
  const folders: string[] = [];
  for (const rel of FOLDERS) if (await dir.isDir(rel)) folders.push(resolve(dir.root, rel));
  let archive: string | undefined;
  for (const rel of ARCHIVES) {
    if (!(await dir.isFile(rel))) continue;
    if (archive) warn(rel, 'a second dependency archive (ignored): only the first of node_modules.tar.gz, .tgz, .tar is unpacked');
    else archive = resolve(dir.root, rel);
  }
  let declared: Record<string, string> = {};
  let manifest: string | undefined;
  for (const rel of MANIFESTS) {
    if (!(await dir.isFile(rel))) continue;
    const json = await dir.readJson(rel);
    const deps = isObject(json) ? json.dependencies : undefined;
    if (deps === undefined) continue;
    if (!isObject(deps) || Object.values(deps).some((v) => typeof v !== 'string')) {
      warn(rel, 'dependencies must map package names to version strings (ignored)');
      continue;
    }
    declared = { ...(deps as Record<string, string>) };
    manifest = rel;
    break;
  }
  if (folders.length === 0 && !archive && Object.keys(declared).length === 0) return undefined;
  return {
    folders,
    ...(archive ? { archive } : {}),
    declared,
    ...(manifest ? { manifest, manifestDir: resolve(dir.root, manifest, '..') } : {}),
  };
}
