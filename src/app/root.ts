// The root config file: which one is there, which layout the export really uses, and the app-wide
// fields (app id, name, environment, allowed origins).

import { ConfigError } from '../errors.js';
import type { ConfigLayout } from './model.js';
import type { AppDir } from './dir.js';
import { APP_NAME_RULE, asObject, Fields, isAppName, isObject, type Warn } from './check.js';
import { NOT_SERVED_YET_MESSAGE, NOT_SUPPORTED_MESSAGE, ROOT_SECTIONS_NOT_SERVED_YET } from './features.js';

/** Root file names by preference, with the layout each one belongs to (the newest layout's names first). */
export const ROOT_FILES: readonly (readonly [string, ConfigLayout])[] = [
  ['root_config.json', '20210101'],
  ['realm_config.json', '20210101'],
  ['config.json', '20200603'],
  ['stitch.json', '20180301'],
];

const KNOWN_VERSIONS: readonly ConfigLayout[] = ['20210101', '20200603', '20180301'];

/** Values the `environment` field can take (App Services' environments). */
export const ENVIRONMENTS: readonly string[] = ['', 'development', 'testing', 'qa', 'production'];

export interface RootConfig {
  readonly file: string;
  readonly layout: ConfigLayout;
  readonly configVersion: number | null;
  readonly appId: string;
  readonly name: string;
  readonly environment: string;
  readonly allowedRequestOrigins: readonly string[];
}

export interface RootOptions {
  /** The client app id given on the command line (`--app-id` / BASTE_APP_ID): wins over the export's. */
  readonly appId?: string;
}

/** How to pass an app id, for messages. */
export const APP_ID_HINT = 'pass the id your clients use with --app-id <id> (or BASTE_APP_ID=<id>)';

interface Candidate {
  readonly file: string;
  readonly layout: ConfigLayout;
  readonly fields: Fields;
}

export async function readRoot(dir: AppDir, warn: Warn, options: RootOptions = {}): Promise<RootConfig> {
  const present: Candidate[] = [];
  for (const [file, layout] of ROOT_FILES) {
    if (await dir.isFile(file)) present.push({ file, layout, fields: new Fields(file, asObject(await dir.readJson(file), file)) });
  }
  if (present.length === 0) {
    throw new ConfigError(
      dir.root,
      undefined,
      `no app config found: expected one of ${ROOT_FILES.map(([f]) => f).join(', ')}`,
    );
  }
  const structure = await structuralLayout(dir);
  const chosen = chooseRoot(present, structure);
  const others = present.filter((c) => c !== chosen);
  if (others.length > 0) {
    const why = structure ? `it matches the folder contents (${structure.evidence})` : 'it describes the app most fully';
    warn(chosen.file, `used as the root config: ${why}; ${others.map((o) => o.file).join(', ')} ignored`);
    for (const other of others) warn(other.file, `ignored: ${chosen.file} is the root config of this app`);
  }

  const { file, fields } = chosen;
  const configVersion = readConfigVersion(fields);
  const layout = decideLayout(file, chosen.layout, configVersion, structure, warn);
  const appId = await readAppId(dir, chosen, others, options.appId, warn);
  // A root `hosting` section without the hosting/ folder (which features.ts reports) still says the app used it.
  const hosting = fields.raw('hosting');
  if (isObject(hosting) && hosting.enabled === true && !(await dir.isDir('hosting'))) warn(file, `hosting: ${NOT_SUPPORTED_MESSAGE}`);
  for (const key of ROOT_SECTIONS_NOT_SERVED_YET) {
    const section = fields.raw(key);
    // Not ours to validate yet, so a malformed section is not a refusal either.
    if (isObject(section) && section.enabled === true) warn(file, `${key}: ${NOT_SERVED_YET_MESSAGE}`);
  }
  return {
    file,
    layout,
    configVersion,
    appId,
    name: readName(fields, others, appId, warn),
    environment: readEnvironment(fields),
    allowedRequestOrigins: readOrigins(fields, layout, warn),
  };
}

/**
 * Several root files happen (a realm-cli v1 `config.json` left beside a `realm_config.json` holding
 * only a name): the one that matches the folder's layout and says most about the app wins.
 */
function chooseRoot(present: readonly Candidate[], structure: Structure | null): Candidate {
  const score = (c: Candidate) => {
    const version = asLayout(numberOrNull(c.fields.doc.config_version));
    const layout = version ?? c.layout;
    let s = 0;
    if (structure && structure.legacy === (layout !== '20210101')) s += 4;
    if (typeof c.fields.doc.app_id === 'string' && c.fields.doc.app_id !== '') s += 2;
    if (version) s += 1;
    return s;
  };
  // Stable: on a tie the earlier file of ROOT_FILES wins.
  return present.reduce((best, c) => (score(c) > score(best) ? c : best));
}

const numberOrNull = (v: unknown): number | null =>
  typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : null;

function readConfigVersion(fields: Fields): number | null {
  const v = fields.raw('config_version');
  if (v === undefined) return null;
  // Hand-edited exports sometimes quote it.
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) {
    throw fields.refuse('config_version', 'must be a whole number such as 20210101');
  }
  return n;
}

const asLayout = (version: number | null): ConfigLayout | null =>
  KNOWN_VERSIONS.find((l) => String(version) === l) ?? null;

/** Where the providers live is the most reliable sign of an export's real layout. */
interface Structure {
  readonly legacy: boolean;
  readonly evidence: string;
}

async function structuralLayout(dir: AppDir): Promise<Structure | null> {
  const modern = await dir.isFile('auth/providers.json');
  const legacy = await dir.isDir('auth_providers');
  if (modern === legacy) return null; // neither, or a half-converted export: the version decides
  return modern ? { legacy: false, evidence: 'auth/providers.json' } : { legacy: true, evidence: 'auth_providers/' };
}

function decideLayout(
  file: string,
  fileLayout: ConfigLayout,
  version: number | null,
  structure: Structure | null,
  warn: Warn,
): ConfigLayout {
  const versionLayout = asLayout(version);
  let layout: ConfigLayout;
  if (structure && !structure.legacy) layout = '20210101';
  else if (structure?.legacy) {
    // 20180301 and 20200603 share a structure; the version, then the file name, tells them apart.
    layout =
      versionLayout && versionLayout !== '20210101'
        ? versionLayout
        : fileLayout !== '20210101'
          ? fileLayout
          : '20200603';
  } else layout = versionLayout ?? fileLayout;

  if (version === null) {
    warn(file, `no config_version; loaded as the ${layout} layout`);
  } else if (!versionLayout) {
    warn(file, `config_version ${version} is not one Baste knows (${KNOWN_VERSIONS.join(', ')}); loaded as the ${layout} layout`);
  } else {
    if (versionLayout !== fileLayout) {
      warn(file, `${file} belongs to the ${fileLayout} layout but its config_version is ${version}`);
    }
    if (versionLayout !== layout) {
      warn(file, `config_version ${version} disagrees with the folder contents (${structure?.evidence}); loaded as the ${layout} layout`);
    }
  }
  return layout;
}

const APP_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const APP_ID_RULE = 'must be 1–128 characters of A–Z, a–z, 0–9, ., _ and -, starting with a letter or digit';

/**
 * The client app id (the {app} in /api/client/v2.0/app/{app}/...). Many exports have none or "":
 * the command line's wins, then every place an export keeps it.
 */
async function readAppId(
  dir: AppDir,
  root: Candidate,
  others: readonly Candidate[],
  given: string | undefined,
  warn: Warn,
): Promise<string> {
  const found = await appIdInExport(dir, root, others);
  if (given !== undefined) {
    // It becomes a URL path segment and a key in the store.
    if (!APP_ID_PATTERN.test(given)) throw new ConfigError('--app-id', undefined, `"${given}" ${APP_ID_RULE}`);
    if (found && found.appId !== given) warn(found.file, `${found.field} is "${found.appId}"; serving as "${given}" (--app-id)`);
    return given;
  }
  if (!found) {
    throw new ConfigError(
      root.file,
      'app_id',
      `missing: this export names no client app id (not in ${root.file}, .mdb/meta.json or .mdb/app_meta.json); ${APP_ID_HINT}`,
    );
  }
  if (found.file !== root.file) warn(found.file, `${found.field} "${found.appId}" used as the app id: ${root.file} has none`);
  if (!APP_ID_PATTERN.test(found.appId)) throw new ConfigError(found.file, found.field, APP_ID_RULE);
  return found.appId;
}

interface FoundAppId {
  readonly appId: string;
  readonly file: string;
  readonly field: string;
}

async function appIdInExport(dir: AppDir, root: Candidate, others: readonly Candidate[]): Promise<FoundAppId | undefined> {
  const places: [Fields, string][] = [
    ...[root, ...others].flatMap((c): [Fields, string][] => [[c.fields, 'app_id'], [c.fields, 'client_app_id']]),
  ];
  // The CLIs keep the app they pulled from in `.mdb/`: the client app id is `client_app_id` in
  // meta.json (whose `app_id` is the internal hex id) and `app_id` in the older app_meta.json.
  for (const [file, keys] of [['.mdb/meta.json', ['client_app_id']], ['.mdb/app_meta.json', ['app_id', 'client_app_id']]] as const) {
    if (!(await dir.isFile(file))) continue;
    const fields = new Fields(file, asObject(await dir.readJson(file), file));
    for (const key of keys) places.push([fields, key]);
  }
  for (const [fields, key] of places) {
    const v = fields.raw(key);
    if (typeof v === 'string' && v !== '') return { appId: v, file: fields.file, field: fields.path(key) };
  }
  return undefined;
}

function readName(fields: Fields, others: readonly Candidate[], appId: string, warn: Warn): string {
  const name = fields.string('name');
  if (name !== undefined) {
    if (!isAppName(name)) throw fields.refuse('name', APP_NAME_RULE);
    return name;
  }
  const other = others.find((o) => typeof o.fields.doc.name === 'string' && isAppName(o.fields.doc.name));
  if (other) {
    warn(fields.file, `no name; using "${String(other.fields.doc.name)}" from ${other.file}`);
    return String(other.fields.doc.name);
  }
  const derived = nameFromAppId(appId);
  warn(fields.file, `no name; using "${derived}" (from app_id)`);
  return derived;
}

/** Client app ids are `<name>-<5 random letters>`; the name is what is left without the suffix. */
export function nameFromAppId(appId: string): string {
  const base = appId.replace(/-[a-z]{5}$/, '');
  return base.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 32) || 'app';
}

function readEnvironment(fields: Fields): string {
  const env = fields.string('environment') ?? '';
  // It picks environments/<env>.json, so it must stay one of the documented names.
  if (!ENVIRONMENTS.includes(env)) {
    throw fields.refuse('environment', `must be one of ${ENVIRONMENTS.map((e) => JSON.stringify(e)).join(', ')}`);
  }
  return env;
}

function readOrigins(fields: Fields, layout: ConfigLayout, warn: Warn): readonly string[] {
  const top = fields.stringArray('allowed_request_origins');
  const legacy = fields.nested('security')?.stringArray('allowed_request_origins');
  const modern = layout === '20210101';
  const origins = (modern ? (top ?? legacy) : (legacy ?? top)) ?? [];
  if ((modern && !top && legacy) || (!modern && !legacy && top)) {
    const where = modern ? 'security.allowed_request_origins' : 'allowed_request_origins';
    warn(fields.file, `${where} used, which the ${layout} layout does not have`);
  }
  for (const origin of origins) {
    if (!isPlainOrigin(origin)) {
      warn(fields.file, `allowed request origin "${origin}" is not of the form <scheme>://<host>[:port]; no browser will match it`);
    }
  }
  return origins;
}

function isPlainOrigin(s: string): boolean {
  try {
    return new URL(s).origin === s;
  } catch {
    return false;
  }
}
