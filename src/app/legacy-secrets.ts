// The 2017-18 Stitch `secrets.json`: secret material written next to the export instead of being
// referenced by name. Each provider field in it becomes a synthetic secret the provider's
// `secret_config` points at, so providers resolve secrets one way whatever the export's age.

import { ConfigError } from '../errors.js';
import type { ProviderConfig } from './model.js';
import type { AppDir } from './dir.js';
import { asObject, Fields, isObject, typeName, type Warn } from './check.js';
import { NOT_SERVED_YET_MESSAGE } from './features.js';
import { MAX_SECRET_LENGTH } from './secrets.js';

export const LEGACY_SECRETS_FILE = 'secrets.json';

/** Contains a '.', which real secret names cannot, so it never collides with one. */
export const legacySecretName = (provider: string, field: string) => `__legacy.${provider}.${field}`;

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
  const fields = new Fields(file, asObject(await dir.readJson(file), file));

  for (const [key, section] of Object.entries(fields.doc)) {
    if (key === 'auth_providers') continue;
    if (key === 'services' && isObject(section) && Object.keys(section).length === 0) continue;
    warn(file, key === 'services' ? `services: ${NOT_SERVED_YET_MESSAGE}` : `${key}: unknown section (ignored)`);
  }

  for (const [providerName, secrets] of Object.entries(fields.object('auth_providers') ?? {})) {
    const path = `auth_providers.${providerName}`;
    if (!isObject(secrets)) throw new ConfigError(file, path, `must be an object, not ${typeName(secrets)}`);
    const provider = result.providers.get(providerName);
    if (!provider) {
      warn(file, `${path}: no supported provider "${providerName}" is configured (ignored)`);
      continue;
    }
    const secretConfig: Record<string, string> = { ...provider.secretConfig };
    for (const [field, material] of Object.entries(secrets)) {
      if (typeof material !== 'string') {
        throw new ConfigError(file, `${path}.${field}`, `must be a string, not ${typeName(material)}`);
      }
      if (material.length > MAX_SECRET_LENGTH) {
        throw new ConfigError(file, `${path}.${field}`, `secret is longer than ${MAX_SECRET_LENGTH} characters`);
      }
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
