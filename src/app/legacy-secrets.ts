// The 2017-18 Stitch `secrets.json`: secret material written next to the export instead of being
// referenced by name. Each provider field in it becomes a synthetic secret the provider's
// `secret_config` points at, so providers resolve secrets one way whatever the export's age.
// Hand-written ones come flat (secret name → material) and with trailing commas; both load.

import { ConfigError } from '../errors.js';
import type { ProviderConfig } from './model.js';
import type { AppDir } from './dir.js';
import { asObject, Fields, isObject, isValueName, typeName, VALUE_NAME_RULE, type Warn } from './check.js';
import { parseJson } from './json.js';
import { MAX_SECRET_LENGTH } from './secrets.js';

export const LEGACY_SECRETS_FILE = 'secrets.json';

/** Contains a '.', which real secret names cannot, so it never collides with one. */
export const legacySecretName = (provider: string, field: string) => `__legacy.${provider}.${field}`;
/** A service's secret in a legacy `secrets.json` (`services.<svc>.<field>`). */
export const legacyServiceSecretName = (service: string, field: string) => `__legacy.services.${service}.${field}`;

export interface LegacySecrets {
  readonly providers: Map<string, ProviderConfig>;
  /** Synthetic secret name → material. */
  readonly material: Record<string, string>;
}

export async function applyLegacySecrets(
  dir: AppDir,
  providers: ReadonlyMap<string, ProviderConfig>,
  warn: Warn,
): Promise<LegacySecrets> {
  const result: LegacySecrets = { providers: new Map(providers), material: {} };
  const file = LEGACY_SECRETS_FILE;
  if (!(await dir.isFile(file))) return result;
  const text = await dir.readText(file);
  const lenient = withoutTrailingCommas(text);
  if (lenient !== text) warn(file, 'trailing commas accepted (not valid JSON)');
  const fields = new Fields(file, asObject(parseJson(lenient, file), file));

  for (const [key, section] of Object.entries(fields.doc)) {
    if (key === 'auth_providers') continue;
    if (key === 'services') {
      if (!isObject(section)) throw new ConfigError(file, key, `must be an object, not ${typeName(section)}`);
      for (const [service, secrets] of Object.entries(section)) {
        checkMaterials(file, `services.${service}`, secrets);
        // A Twilio service's auth_token verifies its webhooks (endpoints.ts); nothing else is used.
        if (secrets.auth_token !== undefined) result.material[legacyServiceSecretName(service, 'auth_token')] = secrets.auth_token;
        if (Object.keys(secrets).some((field) => field !== 'auth_token')) {
          warn(file, `services.${service}: Baste does not serve this service; its secrets are not used (ignored)`);
        }
      }
      continue;
    }
    // A flat file: secret name → material, as `--secrets` takes it.
    if (typeof section === 'string') {
      if (!isValueName(key)) throw new ConfigError(file, key, `secret name ${VALUE_NAME_RULE}`);
      checkMaterial(file, key, section);
      result.material[key] = section;
      continue;
    }
    warn(file, `${key}: unknown section (ignored)`);
  }

  for (const [providerName, secrets] of Object.entries(fields.object('auth_providers') ?? {})) {
    const path = `auth_providers.${providerName}`;
    checkMaterials(file, path, secrets);
    const provider = result.providers.get(providerName);
    if (!provider) {
      warn(file, `${path}: no supported provider "${providerName}" is configured (ignored)`);
      continue;
    }
    const secretConfig: Record<string, string> = { ...provider.secretConfig };
    for (const [field, material] of Object.entries(secrets)) {
      checkMaterial(file, `${path}.${field}`, material);
      if (secretConfig[field] !== undefined || provider.secretConfigLists?.[field] !== undefined) {
        warn(file, `${path}.${field}: ignored, the provider's secret_config already names a secret for it`);
        continue;
      }
      const secretName = legacySecretName(providerName, field);
      secretConfig[field] = secretName;
      result.material[secretName] = material;
    }
    result.providers.set(providerName, { ...provider, secretConfig });
  }
  return result;
}

/** A section of secrets: field → material. */
function checkMaterials(file: string, path: string, secrets: unknown): asserts secrets is Record<string, string> {
  if (!isObject(secrets)) throw new ConfigError(file, path, `must be an object, not ${typeName(secrets)}`);
  for (const [field, material] of Object.entries(secrets)) checkMaterial(file, `${path}.${field}`, material);
}

/** Refusals say what is wrong, never the material. */
function checkMaterial(file: string, path: string, material: unknown): asserts material is string {
  if (typeof material !== 'string') throw new ConfigError(file, path, `must be a string, not ${typeName(material)}`);
  if (material.length > MAX_SECRET_LENGTH) throw new ConfigError(file, path, `secret is longer than ${MAX_SECRET_LENGTH} characters`);
}

/** `text` with each comma that directly precedes a closing `}` or `]` (outside strings) removed. */
export function withoutTrailingCommas(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    if (c === ',') {
      let j = i + 1;
      while (j < text.length && ' \t\r\n'.includes(text[j]!)) j++;
      if (text[j] === '}' || text[j] === ']') continue;
    }
    out += c;
  }
  return out;
}
