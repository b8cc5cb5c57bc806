// Secret material supplied at start-up: a `--secrets` JSON file and `BASTE_SECRET_<NAME>`
// environment variables. Refusals name the secret, never its value.

import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { asObject, isValueName, typeName, VALUE_NAME_RULE } from './check.js';
import { parseJson } from './json.js';

/** App Services refuses secret values over 500 characters. */
export const MAX_SECRET_LENGTH = 500;
export const SECRET_ENV_PREFIX = 'BASTE_SECRET_';

/**
 * Reads the secrets file (an object of secret name → string) and every `BASTE_SECRET_<NAME>`
 * variable of `env` (the name is case-sensitive, as written after the prefix).
 * An environment variable overrides the file: the file is the baseline an operator ships with the
 * app, the environment is what one deployment sets on top of it.
 */
export async function readSecrets(opts: {
  file?: string;
  env: Record<string, string | undefined>;
}): Promise<Record<string, string>> {
  const secrets: Record<string, string> = {};
  if (opts.file !== undefined) Object.assign(secrets, await readSecretsFile(opts.file));
  for (const [key, value] of Object.entries(opts.env)) {
    if (!key.startsWith(SECRET_ENV_PREFIX) || value === undefined) continue;
    const name = key.slice(SECRET_ENV_PREFIX.length);
    checkSecret('environment', key, name, value);
    secrets[name] = value;
  }
  return Object.freeze(secrets);
}

async function readSecretsFile(file: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, undefined, `cannot read secrets file (${(e as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  }
  const doc = asObject(parseJson(text, file), file, 'an object of secret name → value');
  for (const [name, value] of Object.entries(doc)) {
    if (typeof value !== 'string') throw new ConfigError(file, name, `must be a string, not ${typeName(value)}`);
    checkSecret(file, name, name, value);
  }
  return doc as Record<string, string>;
}

function checkSecret(file: string, field: string, name: string, value: string): void {
  if (!isValueName(name)) throw new ConfigError(file, field, `secret name ${VALUE_NAME_RULE}`);
  if (value.length > MAX_SECRET_LENGTH) {
    throw new ConfigError(file, field, `secret "${name}" is longer than ${MAX_SECRET_LENGTH} characters`);
  }
}
