// Values (`values/<name>.json`) and the active environment's values (`environments/<env>.json`).

import { ConfigError } from '../errors.js';
import type { AppConfig, ValueConfig } from './model.js';
import type { AppDir } from './dir.js';
import { asObject, Fields, isValueName, VALUE_NAME_RULE, type Warn } from './check.js';

export interface LoadedValues {
  readonly values: Map<string, ValueConfig>;
  /** Value name → file it came from, for later warnings. */
  readonly files: Map<string, string>;
}

export async function loadValues(dir: AppDir, warn: Warn): Promise<LoadedValues> {
  const result: LoadedValues = { values: new Map(), files: new Map() };
  for (const entry of await dir.list('values')) {
    if (entry.name.startsWith('.')) continue;
    if (entry.kind !== 'file' || !entry.name.endsWith('.json')) {
      warn(entry.path, 'unknown file or folder (ignored)');
      continue;
    }
    const value = readValue(new Fields(entry.path, asObject(await dir.readJson(entry.path), entry.path)), entry.name, warn);
    const earlier = result.files.get(value.name);
    if (earlier) throw new ConfigError(entry.path, 'name', `value "${value.name}" is already defined in ${earlier}`);
    result.values.set(value.name, value);
    result.files.set(value.name, entry.path);
  }
  return result;
}

function readValue(fields: Fields, fileName: string, warn: Warn): ValueConfig {
  const base = fileName.slice(0, -'.json'.length);
  const name = fields.string('name') ?? base;
  if (!isValueName(name)) throw fields.refuse('name', `value name ${VALUE_NAME_RULE}`);
  if (name !== base) warn(fields.file, `defines value "${name}", not "${base}"; using "${name}"`);
  const fromSecret = fields.bool('from_secret', false);
  if (!('value' in fields.doc)) warn(fields.file, 'no value; it reads as null');
  const value = fields.doc.value ?? null;
  if (fromSecret && (typeof value !== 'string' || value === '')) {
    throw fields.refuse('value', 'must be the name of a secret when from_secret is true');
  }
  return { name, fromSecret, value };
}

/** `environments/<env>.json`, where the unnamed environment's file is `no-environment.json`. */
export const environmentFile = (environment: string) => `environments/${environment || 'no-environment'}.json`;

export async function loadEnvironmentValues(
  dir: AppDir,
  environment: string,
  warn: Warn,
): Promise<Record<string, unknown>> {
  const file = environmentFile(environment);
  if (!(await dir.isFile(file))) {
    if (environment !== '') warn(file, `not found; environment "${environment}" has no values`);
    return {};
  }
  return new Fields(file, asObject(await dir.readJson(file), file)).object('values') ?? {};
}

/** Every value as functions and rules see it (`context.values.get`, `%%values`): secret-backed ones resolved. */
export function resolvedValues(app: Pick<AppConfig, 'values' | 'secrets'>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const v of app.values.values()) out[v.name] = v.fromSecret ? app.secrets.get(String(v.value)) : v.value;
  return out;
}
