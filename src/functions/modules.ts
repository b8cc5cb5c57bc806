// `require()` for functions, the host's half: resolves a module name the way Node's CommonJS loader
// does, confined to the app's own dependency folders (and, for the built-in modules Baste
// implements with npm packages, to those packages), and reads the files. The isolate asks by
// module id and never sees a host path: ids name a root by index and a path inside it.
//
// Which built-ins exist and which are refused follows the App Services docs
// (docs-app-services, source/functions/javascript-support.txt): a module the platform supported
// and Baste cannot give fails at its `require` with the reason, never later.

import { builtinModules, createRequire } from 'node:module';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { BUILTIN_PACKAGES, BUILTIN_SOURCES, INTERNAL_PACKAGES, refusedBuiltin } from './node-builtins.js';

/** A module the isolate may load: `id` is what it caches by and asks the host for. */
export interface ResolvedModule {
  readonly id: string;
  readonly kind: 'js' | 'json';
  /** What the module sees as `__filename` / `__dirname`: a path inside the app, not the host's. */
  readonly filename: string;
  readonly dirname: string;
}

export type Resolution = ResolvedModule | { readonly error: string; readonly code: 'MODULE_NOT_FOUND' | 'ERR_MODULE_REFUSED' };

/** Where the app's packages live, and what its package.json declares (for the hint when one is missing). */
export interface ModuleRoots {
  /** `node_modules` folders, first match wins. */
  readonly folders: readonly string[];
  /** Package name → version range, from the export's package.json. */
  readonly declared?: Readonly<Record<string, string>>;
  /** The export's folder holding that package.json (for `npm install --prefix`). */
  readonly manifestDir?: string;
}

class ModuleRefused extends Error {
  constructor(
    message: string,
    readonly code: 'MODULE_NOT_FOUND' | 'ERR_MODULE_REFUSED',
  ) {
    super(message);
  }
}

/** Node's own loader, for the npm packages behind `buffer` and `punycode` (Baste's dependencies). */
const basteRequire = createRequire(import.meta.url);

const NODE_BUILTINS = new Set(builtinModules);
const MAX_CACHED = 10_000;

let basteNodeModules: string | undefined;
/** Baste's own node_modules folder, real path (the worktree's may be a symlink). */
const basteModulesDir = () => (basteNodeModules ??= dirname(dirname(realpathSync(basteRequire.resolve('buffer/')))));

/** Where a file lies: an app root (its index) or Baste's own packages. */
interface Place {
  readonly root: number | 'baste';
  readonly path: string;
}

const isFile = (p: string) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};
const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};
const readJson = (p: string): unknown => JSON.parse(readFileSync(p, 'utf8'));
const within = (dir: string, path: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/** The one conditions Baste's loader matches in a package's `exports`, in Node's order of precedence. */
const CONDITIONS = new Set(['require', 'node', 'default']);

/** A target of package.json `exports` for the `require` conditions: a string, an array, or a condition map. */
function exportTarget(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    for (const v of value) {
      const t = exportTarget(v);
      if (t) return t;
    }
    return null;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (!CONDITIONS.has(k)) continue;
      const t = exportTarget(v);
      if (t) return t;
    }
  }
  return null;
}

export class ModuleResolver {
  private readonly roots: string[];
  private readonly places = new Map<string, Place>();
  private readonly cache = new Map<string, Resolution>();

  constructor(private readonly config: ModuleRoots = { folders: [] }) {
    // Real paths: a file is inside a root only if its real path is (symlinks out are refused).
    this.roots = config.folders.flatMap((f) => {
      try {
        return [realpathSync(f)];
      } catch {
        return [];
      }
    });
  }

  /** Resolves `spec` as required from module `parentId` (null: a function body). Cached. */
  resolve(spec: string, parentId: string | null): Resolution {
    const key = `${parentId ?? ''}\0${spec}`;
    let found = this.cache.get(key);
    if (!found) {
      try {
        found = this.resolveUncached(spec, parentId);
      } catch (err) {
        found = err instanceof ModuleRefused ? { error: err.message, code: err.code } : { error: `cannot load module '${spec}': ${(err as Error).message}`, code: 'ERR_MODULE_REFUSED' };
      }
      // Names may come from a caller's input (require(name)): the cache stays bounded.
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(key, found);
    }
    return found;
  }

  /** The source text of a resolved module (a JSON module's is checked here, parsed in the isolate per call). */
  source(id: string): string {
    if (id.startsWith('node:')) {
      const text = BUILTIN_SOURCES[id.slice(5)];
      if (text === undefined) throw new Error(`unknown built-in module '${id}'`);
      return text;
    }
    const place = this.places.get(id);
    if (!place) throw new Error(`unknown module '${id}'`);
    const text = readFileSync(place.path, 'utf8');
    if (place.path.endsWith('.json')) {
      try {
        JSON.parse(text);
      } catch (err) {
        throw new Error(`module '${this.label(place)}' is not valid JSON: ${(err as Error).message}`);
      }
    }
    // A shebang line is not JavaScript; Node strips it too.
    return text.startsWith('#!') ? `//${text.slice(2)}` : text;
  }

  /** What stack traces show for a module: its path inside the app's node_modules, or `node:<name>`. */
  filenameOf(id: string): string {
    const place = this.places.get(id);
    return place ? `/node_modules/${this.label(place)}` : id;
  }

  private label(place: Place): string {
    if (place.root === 'baste') return relative(basteModulesDir(), place.path).split(sep).join('/');
    return relative(this.roots[place.root]!, place.path).split(sep).join('/');
  }

  private resolveUncached(spec: string, parentId: string | null): Resolution {
    if (typeof spec !== 'string' || spec === '') throw new ModuleRefused('require: the module name must be a non-empty string', 'ERR_MODULE_REFUSED');
    const from = parentId === null ? 'the function' : `'${this.placeOf(parentId) ? this.label(this.placeOf(parentId)!) : parentId}'`;
    const builtin = spec.startsWith('node:') ? spec.slice(5) : NODE_BUILTINS.has(spec) || spec in BUILTIN_SOURCES || spec in BUILTIN_PACKAGES ? spec : null;
    if (builtin !== null) return this.builtin(builtin, spec);

    const parent = parentId === null ? null : parentId.startsWith('node:') ? null : this.placeOf(parentId);
    if (parent?.root === 'baste') return this.internal(spec, parent, from);
    const isRelative = spec === '.' || spec === '..' || spec.startsWith('./') || spec.startsWith('../');
    if (isAbsolute(spec) || /^[a-zA-Z]:[\\/]/.test(spec) || spec.includes('\\')) {
      throw new ModuleRefused(`cannot require '${spec}' from ${from}: functions load modules by package name or relative path, never by absolute path`, 'ERR_MODULE_REFUSED');
    }
    if (isRelative) {
      if (!parent) {
        throw new ModuleRefused(`cannot require '${spec}' from ${from}: a relative path resolves outside the app's dependencies (node_modules)`, 'ERR_MODULE_REFUSED');
      }
      const target = join(dirname(parent.path), spec);
      const file = this.asFileOrDir(target);
      if (!file) throw new ModuleRefused(`cannot find module '${spec}' required from ${from}`, 'MODULE_NOT_FOUND');
      return this.confined(file, parent.root as number, spec, from);
    }
    // A package: node_modules folders above the requiring module (inside its root), then each root.
    const [name, subpath] = splitPackage(spec);
    if (!name) throw new ModuleRefused(`cannot require '${spec}': not a valid package name`, 'ERR_MODULE_REFUSED');
    const candidates: { dir: string; root: number }[] = [];
    if (parent && typeof parent.root === 'number') {
      const root = this.roots[parent.root]!;
      for (let dir = dirname(parent.path); within(root, dir) && dir !== root; dir = dirname(dir)) {
        if (dir.endsWith(`${sep}node_modules`)) continue;
        candidates.push({ dir: join(dir, 'node_modules', name), root: parent.root });
      }
    }
    this.roots.forEach((root, i) => candidates.push({ dir: join(root, name), root: i }));
    for (const c of candidates) {
      if (!isDir(c.dir)) continue;
      const file = this.inPackage(c.dir, subpath, spec);
      if (!file) throw new ModuleRefused(`cannot find module '${spec}' required from ${from}: the package has no such entry`, 'MODULE_NOT_FOUND');
      return this.confined(file, c.root, spec, from);
    }
    throw new ModuleRefused(this.notInstalled(spec, name, from), 'MODULE_NOT_FOUND');
  }

  private notInstalled(spec: string, name: string, from: string): string {
    const declared = this.config.declared?.[name];
    if (declared !== undefined && this.config.manifestDir) {
      return `cannot find module '${spec}' required from ${from}: package.json declares ${name}@${declared} but it is not installed; run \`npm install --omit=dev --prefix ${this.config.manifestDir}\` and restart Baste`;
    }
    const where = this.roots.length === 0 ? 'the app has no dependencies (no functions/node_modules folder or archive)' : "it is not in the app's dependencies";
    return `cannot find module '${spec}' required from ${from}: ${where}`;
  }

  private builtin(name: string, spec: string): Resolution {
    if (BUILTIN_SOURCES[name] !== undefined) return { id: `node:${name}`, kind: 'js', filename: `node:${name}`, dirname: '.' };
    const pkg = BUILTIN_PACKAGES[name];
    if (pkg) return this.register({ root: 'baste', path: realpathSync(basteRequire.resolve(`${pkg}/`)) }, 'js');
    throw new ModuleRefused(refusedBuiltin(name, spec), 'ERR_MODULE_REFUSED');
  }

  /** What the npm packages behind built-ins require: only each other, never the app's packages. */
  private internal(spec: string, parent: Place, from: string): Resolution {
    const [name] = splitPackage(spec);
    const isRelative = spec.startsWith('./') || spec.startsWith('../');
    if (!isRelative && (!name || !INTERNAL_PACKAGES.has(name))) throw new ModuleRefused(`cannot require '${spec}' from ${from}`, 'ERR_MODULE_REFUSED');
    const path = realpathSync(createRequire(parent.path).resolve(spec));
    return this.register({ root: 'baste', path }, path.endsWith('.json') ? 'json' : 'js');
  }

  /** A found file, checked to lie inside its root and to be something functions can load. */
  private confined(file: string, root: number, spec: string, from: string): Resolution {
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      throw new ModuleRefused(`cannot find module '${spec}' required from ${from}`, 'MODULE_NOT_FOUND');
    }
    if (!within(this.roots[root]!, real)) {
      throw new ModuleRefused(`cannot require '${spec}' from ${from}: it resolves outside the app's dependencies (node_modules); functions load nothing else`, 'ERR_MODULE_REFUSED');
    }
    if (real.endsWith('.node')) {
      throw new ModuleRefused(`cannot require '${spec}' from ${from}: it is a native addon (.node file), and functions in Baste run JavaScript only`, 'ERR_MODULE_REFUSED');
    }
    if (real.endsWith('.mjs')) {
      throw new ModuleRefused(`cannot require '${spec}' from ${from}: it is an ES module (.mjs), and functions load CommonJS modules only`, 'ERR_MODULE_REFUSED');
    }
    return this.register({ root, path: real }, real.endsWith('.json') ? 'json' : 'js');
  }

  private register(place: Place, kind: 'js' | 'json'): ResolvedModule {
    const label = this.label(place);
    const id = `${place.root === 'baste' ? 'baste' : `app${place.root}`}:${label}`;
    this.places.set(id, place);
    const filename = `/node_modules/${label}`;
    return { id, kind, filename, dirname: filename.slice(0, filename.lastIndexOf('/')) };
  }

  private placeOf(id: string): Place | undefined {
    return this.places.get(id);
  }

  /** A package's entry (`exports`, `main`, index.js) or subpath (`lodash/get`). */
  private inPackage(dir: string, subpath: string, spec: string): string | null {
    const manifestFile = join(dir, 'package.json');
    const manifest = isFile(manifestFile) ? (readJson(manifestFile) as { main?: unknown; exports?: unknown }) : {};
    const exp = manifest.exports;
    if (exp !== undefined && exp !== null) {
      const key = subpath === '' ? '.' : `./${subpath}`;
      const isMap = typeof exp === 'object' && !Array.isArray(exp) && Object.keys(exp).some((k) => k.startsWith('.'));
      const entry = isMap ? (exp as Record<string, unknown>)[key] : key === '.' ? exp : undefined;
      const target = entry === undefined ? null : exportTarget(entry);
      if (target) {
        if (!target.startsWith('./')) throw new ModuleRefused(`cannot require '${spec}': its package.json exports an invalid target '${target}'`, 'ERR_MODULE_REFUSED');
        return this.asFile(join(dir, target));
      }
      if (entry !== undefined) throw new ModuleRefused(`cannot require '${spec}': its package exports no CommonJS entry (it may be an ES module only)`, 'ERR_MODULE_REFUSED');
      // A subpath the package does not export: Node refuses it; older packages reached by path still load.
    }
    if (subpath !== '') return this.asFileOrDir(join(dir, subpath));
    if (typeof manifest.main === 'string' && manifest.main !== '') {
      const main = this.asFileOrDir(join(dir, manifest.main), false);
      if (main) return main;
    }
    return this.asFile(join(dir, 'index'));
  }

  private asFile(p: string): string | null {
    for (const candidate of [p, `${p}.js`, `${p}.json`, `${p}.cjs`, `${p}.node`]) if (isFile(candidate)) return candidate;
    return null;
  }

  private asFileOrDir(p: string, readMain = true): string | null {
    const file = this.asFile(p);
    if (file) return file;
    if (!isDir(p)) return null;
    if (readMain && isFile(join(p, 'package.json'))) {
      const main = (readJson(join(p, 'package.json')) as { main?: unknown }).main;
      if (typeof main === 'string' && main !== '') {
        const found = this.asFileOrDir(join(p, main), false);
        if (found) return found;
      }
    }
    return this.asFile(join(p, 'index'));
  }
}

/** `@scope/name/sub/path` → [`@scope/name`, `sub/path`]; null name when it is not a package name. */
function splitPackage(spec: string): [string | null, string] {
  const parts = spec.split('/');
  const n = spec.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, n).join('/');
  if (parts.length < n || parts.slice(0, n).some((p) => p === '' || p === '.' || p === '..')) return [null, ''];
  if (parts.slice(n).some((p) => p === '..')) return [null, ''];
  return [name, parts.slice(n).join('/')];
}
