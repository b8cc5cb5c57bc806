// The root config file: which one is there, which layout the export really uses, and the app-wide
// fields (app id, name, environment, allowed origins).

import { ConfigError } from '../errors.js';
import type { ConfigLayout } from './model.js';
import type { AppDir } from './dir.js';
import { APP_NAME_RULE, asObject, Fields, isAppName, isObject, type Warn } from './check.js';
import { NOT_SERVED_YET_MESSAGE, ROOT_SECTIONS_NOT_SERVED_YET } from './features.js';

/** Root file names by preference, with the layout each one belongs to (spec §G.2). */
export const ROOT_FILES: readonly (readonly [string, ConfigLayout])[] = [
  ['root_config.json', '20210101'],
  ['realm_config.json', '20210101'],
  ['config.json', '20200603'],
  ['stitch.json', '20180301'],
];

const KNOWN_VERSIONS: readonly ConfigLayout[] = ['20210101', '20200603', '20180301'];

/** Values the `environment` field can take (spec §G.1). */
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

export async function readRoot(dir: AppDir, warn: Warn): Promise<RootConfig> {
  const present: (readonly [string, ConfigLayout])[] = [];
  for (const candidate of ROOT_FILES) if (await dir.isFile(candidate[0])) present.push(candidate);
  const [chosen, ...others] = present;
  if (!chosen) {
    throw new ConfigError(
      dir.root,
      undefined,
      `no app config found: expected one of ${ROOT_FILES.map(([f]) => f).join(', ')}`,
    );
  }
  const [file, fileLayout] = chosen;
  for (const [other] of others) warn(other, `ignored: ${file} is the root config of this app`);

  const fields = new Fields(file, asObject(await dir.readJson(file), file));
  const configVersion = readConfigVersion(fields);
  const layout = await decideLayout(dir, file, fileLayout, configVersion, warn);
  const appId = await readAppId(dir, fields, warn);
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
    name: readName(fields, appId, warn),
    environment: readEnvironment(fields),
    allowedRequestOrigins: readOrigins(fields, layout, warn),
  };
}

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
async function structuralLayout(dir: AppDir): Promise<{ legacy: boolean; evidence: string } | null> {
  const modern = await dir.isFile('auth/providers.json');
  const legacy = await dir.isDir('auth_providers');
  if (modern === legacy) return null; // neither, or a half-converted export: the version decides
  return modern ? { legacy: false, evidence: 'auth/providers.json' } : { legacy: true, evidence: 'auth_providers/' };
}

async function decideLayout(
  dir: AppDir,
  file: string,
  fileLayout: ConfigLayout,
  version: number | null,
  warn: Warn,
): Promise<ConfigLayout> {
  const versionLayout = asLayout(version);
  const structure = await structuralLayout(dir);
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

async function readAppId(dir: AppDir, fields: Fields, warn: Warn): Promise<string> {
  let appId = fields.string('app_id');
  if (!appId) {
    appId = await appIdFromMeta(dir);
    if (appId) warn('.mdb/app_meta.json', `app_id taken from here: ${fields.file} has none`);
  }
  if (!appId) {
    throw fields.refuse('app_id', 'missing: the client app id (the {app} in /api/client/v2.0/app/{app}/...) is required');
  }
  // It becomes a URL path segment and a key in the store.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(appId)) {
    throw fields.refuse('app_id', 'must be 1–128 characters of A–Z, a–z, 0–9, ., _ and -, starting with a letter or digit');
  }
  return appId;
}

/** realm-cli keeps the app id it pulled from in `.mdb/app_meta.json`. */
async function appIdFromMeta(dir: AppDir): Promise<string | undefined> {
  const file = '.mdb/app_meta.json';
  if (!(await dir.isFile(file))) return undefined;
  return new Fields(file, asObject(await dir.readJson(file), file)).string('app_id') || undefined;
}

function readName(fields: Fields, appId: string, warn: Warn): string {
  const name = fields.string('name');
  if (name !== undefined) {
    if (!isAppName(name)) throw fields.refuse('name', APP_NAME_RULE);
    return name;
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
