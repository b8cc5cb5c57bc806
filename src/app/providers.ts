// Authentication providers: `auth/providers.json` (20210101) or `auth_providers/<name>.json`
// (20180301, 20200603), mapped to ProviderConfig. Provider-specific options are checked by the
// provider modules, not here.

import { ConfigError } from '../errors.js';
import { PROVIDER_TYPES, type ConfigLayout, type MetadataField, type ProviderConfig, type ProviderType } from './model.js';
import type { AppDir } from './dir.js';
import { asObject, Fields, isObject, isProviderName, PROVIDER_NAME_RULE, typeName, type Warn } from './check.js';
import { derivedId, isHexId } from './ids.js';

export const MODERN_PROVIDERS_FILE = 'auth/providers.json';
export const LEGACY_PROVIDERS_DIR = 'auth_providers';

export interface LoadedProviders {
  /** Each keeps where it was configured (`source`), so every later message names that file. */
  readonly providers: Map<string, ProviderConfig>;
  /** Where providers are configured in this export, for the "none enabled" refusal. */
  readonly location: string;
}

export async function loadProviders(
  dir: AppDir,
  layout: ConfigLayout,
  appId: string,
  skipped: ReadonlySet<string>,
  warn: Warn,
): Promise<LoadedProviders> {
  await warnUnknownAuthFiles(dir, skipped, warn);
  const hasModern = await dir.isFile(MODERN_PROVIDERS_FILE);
  const hasLegacy = await dir.isDir(LEGACY_PROVIDERS_DIR);
  const useModern = hasModern && hasLegacy ? layout === '20210101' : hasModern || (!hasLegacy && layout === '20210101');
  if (hasModern && hasLegacy) {
    const [used, unused] = useModern
      ? [MODERN_PROVIDERS_FILE, `${LEGACY_PROVIDERS_DIR}/`]
      : [`${LEGACY_PROVIDERS_DIR}/`, MODERN_PROVIDERS_FILE];
    warn(unused, `ignored: providers are read from ${used} in the ${layout} layout`);
  }
  const result: LoadedProviders = {
    providers: new Map(),
    location: useModern ? MODERN_PROVIDERS_FILE : `${LEGACY_PROVIDERS_DIR}/<name>.json`,
  };
  const add = (fields: Fields, name: string) => {
    if (result.providers.has(name)) {
      throw fields.refuse('name', `provider "${name}" is configured twice (also in ${result.providers.get(name)?.source?.file})`);
    }
    const read = readProvider(fields, name, appId, warn);
    if (read) result.providers.set(name, { ...read, source: { file: fields.file, prefix: fields.prefix } });
  };

  if (useModern && hasModern) {
    const file = MODERN_PROVIDERS_FILE;
    const doc = asObject(await dir.readJson(file), file, 'an object of provider name → provider config');
    for (const [key, entry] of Object.entries(doc)) {
      if (!isProviderName(key)) throw new ConfigError(file, key, `provider name ${PROVIDER_NAME_RULE}`);
      if (!isObject(entry)) throw new ConfigError(file, key, `must be an object, not ${typeName(entry)}`);
      const fields = new Fields(file, entry, key);
      // The key is what the export is indexed by; a differing inner name is a hand edit.
      const inner = fields.string('name');
      if (inner !== undefined && inner !== key) {
        warn(file, `${key}.name is "${inner}" but the provider is listed under "${key}"; using "${key}"`);
      }
      add(fields, key);
    }
  } else if (!useModern) {
    for (const entry of await dir.list(LEGACY_PROVIDERS_DIR)) {
      if (entry.name.startsWith('.')) continue;
      if (entry.kind !== 'file' || !entry.name.endsWith('.json')) {
        warn(entry.path, 'unknown file or folder (ignored)');
        continue;
      }
      const fields = new Fields(entry.path, asObject(await dir.readJson(entry.path), entry.path));
      const name = fields.string('name') ?? entry.name.slice(0, -'.json'.length);
      if (!isProviderName(name)) throw fields.refuse('name', `provider name ${PROVIDER_NAME_RULE}`);
      add(fields, name);
    }
  }
  return result;
}

async function warnUnknownAuthFiles(dir: AppDir, skipped: ReadonlySet<string>, warn: Warn): Promise<void> {
  for (const entry of await dir.list('auth')) {
    if (entry.name.startsWith('.') || entry.path === MODERN_PROVIDERS_FILE || entry.path === 'auth/custom_user_data.json' || skipped.has(entry.path)) continue;
    warn(entry.path, 'unknown file or folder (ignored)');
  }
}

/** The file a provider was configured in (configs built by hand: the modern layout's). */
export const providerFile = (config: Pick<ProviderConfig, 'source'>): string => config.source?.file ?? MODERN_PROVIDERS_FILE;

/** A refusal of a provider's setting `path` (e.g. `config.clientId`), naming the file it came from. */
export function providerConfigError(config: Pick<ProviderConfig, 'name' | 'source'>, path: string, reason: string): ConfigError {
  if (!config.source) return new ConfigError(MODERN_PROVIDERS_FILE, `${config.name}.${path}`, reason);
  const { file, prefix } = config.source;
  return new ConfigError(file, prefix ? `${prefix}.${path}` : path, reason);
}

/**
 * A provider's required string setting: absent or empty says it is required (`what` it holds);
 * any other type says what was expected and which type was found (never the value: a misplaced
 * secret must not reach a log), naming the file and field.
 */
export function requiredProviderString(config: Pick<ProviderConfig, 'name' | 'source'>, path: string, value: unknown, what: string): string {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) throw providerConfigError(config, path, `is required (${what})`);
  if (typeof value !== 'string') throw providerConfigError(config, path, `must be a string (${what}), not ${typeName(value)}`);
  return value;
}

/** `path` of a provider's setting as messages show it, e.g. `oauth2-google.secret_config.clientSecret` or, in its own file, `secret_config.clientSecret`. */
export function providerSettingName(config: Pick<ProviderConfig, 'name' | 'source'>, path: string): string {
  const err = providerConfigError(config, path, '');
  return `${err.file} (${err.field})`;
}

const isProviderType = (t: string): t is ProviderType => (PROVIDER_TYPES as readonly string[]).includes(t);

/** One provider document; null when its type is one Baste does not serve. */
function readProvider(fields: Fields, name: string, appId: string, warn: Warn): ProviderConfig | null {
  let type = fields.string('type');
  if (type === undefined) {
    // Realm requires name === type, so the name is the best guess.
    warn(fields.file, `${fields.path('type')}: missing; assuming "${name}"`);
    type = name;
  }
  if (!isProviderType(type)) {
    warn(fields.file, `${fields.path('type')}: provider type "${type}" is not supported by Baste; provider "${name}" skipped`);
    return null;
  }
  return {
    name,
    type,
    disabled: fields.bool('disabled', false),
    id: readId(fields, appId, name, warn),
    config: fields.object('config') ?? {},
    ...readSecretConfig(fields),
    metadataFields: readMetadataFields(fields),
    redirectUris: fields.stringArray('redirect_uris') ?? [],
    domainRestrictions: fields.stringArray('domain_restrictions') ?? [],
  };
}

/** Legacy exports carry the server's id; keeping it keeps `provider_id` stable across a migration. */
function readId(fields: Fields, appId: string, name: string, warn: Warn): string {
  const id = fields.raw('id');
  if (typeof id === 'string' && isHexId(id)) return id.toLowerCase();
  if (id !== undefined) warn(fields.file, `${fields.path('id')}: not a 24-hex id; a derived id is used instead`);
  return derivedId(`baste:provider:${appId}:${name}`);
}

/** `secret_config` values name one secret, or several for custom-token `signingKeys`. */
function readSecretConfig(fields: Fields): Pick<ProviderConfig, 'secretConfig' | 'secretConfigLists'> {
  const secretConfig: Record<string, string> = {};
  const secretConfigLists: Record<string, string[]> = {};
  const inner = fields.nested('secret_config');
  for (const [key, v] of Object.entries(inner?.doc ?? {})) {
    if (typeof v === 'string') secretConfig[key] = v;
    else if (inner && Array.isArray(v)) secretConfigLists[key] = inner.stringArray(key) ?? [];
    else if (inner && v !== null) throw inner.refuse(key, `must be a secret name or a list of them, not ${typeName(v)}`);
  }
  return { secretConfig, secretConfigLists };
}

function readMetadataFields(fields: Fields): MetadataField[] {
  const items = fields.array('metadata_fields') ?? [];
  return items.map((item, i) => {
    const path = `${fields.path('metadata_fields')}[${i}]`;
    if (!isObject(item)) throw new ConfigError(fields.file, path, `must be an object, not ${typeName(item)}`);
    const f = new Fields(fields.file, item, path);
    const name = f.string('name');
    if (!name) throw f.refuse('name', 'missing: the field name or JWT path to copy');
    const fieldName = f.string('field_name');
    if (fieldName !== undefined && (fieldName === '' || fieldName.length > 64)) {
      throw f.refuse('field_name', 'must be 1–64 characters');
    }
    return fieldName === undefined
      ? { required: f.bool('required', false), name }
      : { required: f.bool('required', false), name, fieldName };
  });
}
