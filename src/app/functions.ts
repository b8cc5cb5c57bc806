// Function configs and sources. Two shapes, picked by what the `functions/` folder holds:
// a `functions/config.json` manifest with `functions/<name>.js` (20210101; names may nest), or
// one `functions/<name>/{config.json,source.js}` folder per function (20180301, 20200603).

import { ConfigError } from '../errors.js';
import type { FunctionConfig } from './model.js';
import { joinRel, type AppDir } from './dir.js';
import { asObject, Fields, FUNCTION_NAME_RULE, isFunctionName, isObject, runAsUserIdOf, typeName, type Warn } from './check.js';
import { FUNCTION_FIELDS_NOT_SERVED_YET, NOT_SERVED_YET_MESSAGE } from './features.js';

const ROOT = 'functions';
const MANIFEST = 'functions/config.json';
const UNKNOWN = 'unknown file or folder (ignored)';

type Settings = Omit<FunctionConfig, 'source' | 'file' | 'name'>;

/**
 * Settings of a function the export has source for but no config: private, so loading it never
 * widens access (the platform's import invented a config; clients could not have relied on it).
 */
const UNDECLARED: Settings = { private: true, runAsSystem: false, canEvaluate: {} };
const UNDECLARED_NOTE = 'loaded as private (callable from functions, triggers and endpoints, not by clients); declare it to change that';

export async function loadFunctions(
  dir: AppDir,
  skipped: ReadonlySet<string>,
  warn: Warn,
): Promise<Map<string, FunctionConfig>> {
  if (!(await dir.isDir(ROOT))) return new Map();
  if (!(await dir.isFile(MANIFEST)) && (await hasLegacyFolders(dir))) return loadLegacy(dir, skipped, warn);
  return loadWithManifest(dir, skipped, warn);
}

async function hasLegacyFolders(dir: AppDir): Promise<boolean> {
  for (const entry of await dir.list(ROOT)) {
    if (entry.kind === 'dir' && (await dir.isFile(`${entry.path}/source.js`))) return true;
  }
  return false;
}

/** Settings shared by both shapes; `fields` is prefixed with the function name in a manifest. */
function readSettings(fields: Fields, warn: Warn): Settings {
  for (const key of FUNCTION_FIELDS_NOT_SERVED_YET) {
    if (fields.raw(key)) warn(fields.file, `${fields.path(key)}: ${NOT_SERVED_YET_MESSAGE}`);
  }
  // Exports write unset execution users as "".
  const runAsUserId = runAsUserIdOf(fields, warn);
  const runAsUserIdScriptSource = fields.string('run_as_user_id_script_source') || undefined;
  if (runAsUserId && runAsUserIdScriptSource) {
    throw fields.refuse('run_as_user_id_script_source', 'cannot be combined with run_as_user_id: a function runs as one user');
  }
  return {
    private: fields.bool('private', false),
    runAsSystem: fields.bool('run_as_system', false),
    ...(runAsUserId ? { runAsUserId } : {}),
    ...(runAsUserIdScriptSource ? { runAsUserIdScriptSource } : {}),
    // Realm's default is the empty expression, which always passes.
    canEvaluate: fields.raw('can_evaluate') ?? {},
  };
}

async function loadWithManifest(
  dir: AppDir,
  skipped: ReadonlySet<string>,
  warn: Warn,
): Promise<Map<string, FunctionConfig>> {
  const functions = new Map<string, FunctionConfig>();
  const manifest = (await dir.isFile(MANIFEST)) ? await dir.readJson(MANIFEST) : [];
  if (!Array.isArray(manifest)) {
    throw new ConfigError(MANIFEST, undefined, `must contain an array of function configs, not ${typeName(manifest)}`);
  }
  for (const [i, entry] of manifest.entries()) {
    if (!isObject(entry)) throw new ConfigError(MANIFEST, `[${i}]`, `must be an object, not ${typeName(entry)}`);
    const name = new Fields(MANIFEST, entry, `[${i}]`).string('name');
    if (!name) throw new ConfigError(MANIFEST, `[${i}].name`, 'missing: every function needs a name');
    if (!isFunctionName(name)) throw new ConfigError(MANIFEST, `[${i}].name`, `function name ${FUNCTION_NAME_RULE}`);
    if (functions.has(name)) throw new ConfigError(MANIFEST, `[${i}].name`, `function "${name}" is listed twice`);
    const file = `${ROOT}/${name}.js`;
    if (!(await dir.isFile(file))) throw new ConfigError(MANIFEST, name, `no source file ${file}`);
    const settings = readSettings(new Fields(MANIFEST, entry, name), warn);
    functions.set(name, { name, ...settings, source: await dir.readText(file), file });
  }

  // Realm created missing manifest entries on import; Baste loads such files too, but private.
  for (const file of await listFiles(dir, ROOT, skipped)) {
    if (file === MANIFEST) continue;
    const name = file.slice(ROOT.length + 1, -'.js'.length);
    if (!file.endsWith('.js')) warn(file, UNKNOWN);
    else if (!isFunctionName(name)) warn(file, `not loaded: function name ${FUNCTION_NAME_RULE}`);
    else if (!functions.has(name)) {
      warn(file, `not listed in ${MANIFEST}; ${UNDECLARED_NOTE}`);
      functions.set(name, { name, ...UNDECLARED, source: await dir.readText(file), file });
    }
  }
  return functions;
}

/** Every file below `rel`, skipping dot-entries and the parts that features.ts set aside. */
async function listFiles(dir: AppDir, rel: string, skipped: ReadonlySet<string>): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await dir.list(rel)) {
    if (entry.name.startsWith('.') || skipped.has(entry.path)) continue;
    if (entry.kind === 'dir') files.push(...(await listFiles(dir, entry.path, skipped)));
    else files.push(entry.path);
  }
  return files;
}

async function loadLegacy(
  dir: AppDir,
  skipped: ReadonlySet<string>,
  warn: Warn,
): Promise<Map<string, FunctionConfig>> {
  const functions = new Map<string, FunctionConfig>();
  const origin = new Map<string, string>();
  for (const entry of await dir.list(ROOT)) {
    if (entry.name.startsWith('.') || skipped.has(entry.path)) continue;
    if (entry.kind !== 'dir') {
      warn(entry.path, UNKNOWN);
      continue;
    }
    const configFile = joinRel(entry.path, 'config.json');
    const sourceFile = joinRel(entry.path, 'source.js');
    const hasConfig = await dir.isFile(configFile);
    if (!(await dir.isFile(sourceFile))) {
      if (hasConfig) throw new ConfigError(configFile, undefined, `no source file ${sourceFile}`);
      warn(entry.path, UNKNOWN);
      continue;
    }
    if (!hasConfig) warn(sourceFile, `no ${configFile}; ${UNDECLARED_NOTE}`);
    const fields = new Fields(configFile, hasConfig ? asObject(await dir.readJson(configFile), configFile) : {});
    const name = fields.string('name') ?? entry.name;
    if (!isFunctionName(name)) throw fields.refuse('name', `function name ${FUNCTION_NAME_RULE}`);
    if (name !== entry.name) warn(configFile, `defines function "${name}" in folder "${entry.name}"; using "${name}"`);
    const earlier = origin.get(name);
    if (earlier) throw fields.refuse('name', `function "${name}" is already defined in ${earlier}`);
    origin.set(name, configFile);
    for (const other of await dir.list(entry.path)) {
      if (!other.name.startsWith('.') && other.path !== configFile && other.path !== sourceFile) warn(other.path, UNKNOWN);
    }
    const settings = hasConfig ? readSettings(fields, warn) : UNDECLARED;
    functions.set(name, { name, ...settings, source: await dir.readText(sourceFile), file: sourceFile });
  }
  return functions;
}
