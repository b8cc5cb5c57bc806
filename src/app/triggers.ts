// Triggers (`triggers/<name>.json`). Authentication triggers are served; database and scheduled
// triggers are read so the export loads, and reported as not served.

import { ConfigError } from '../errors.js';
import type { AuthTriggerConfig } from './model.js';
import type { AppDir } from './dir.js';
import { asObject, Fields, isValueName, type Warn } from './check.js';

const OPERATIONS = new Set(['LOGIN', 'CREATE', 'DELETE']);

export async function loadTriggers(
  dir: AppDir,
  functionNames: ReadonlySet<string>,
  warn: Warn,
): Promise<Map<string, AuthTriggerConfig>> {
  const triggers = new Map<string, AuthTriggerConfig>();
  for (const entry of await dir.list('triggers')) {
    if (entry.name.startsWith('.')) continue;
    if (entry.kind !== 'file' || !entry.name.endsWith('.json')) {
      warn(entry.path, 'unknown file or folder (ignored)');
      continue;
    }
    const fields = new Fields(entry.path, asObject(await dir.readJson(entry.path), entry.path));
    const name = fields.string('name') ?? entry.name.slice(0, -'.json'.length);
    if (!isValueName(name)) throw fields.refuse('name', 'must be 1–64 characters of A–Z, a–z, 0–9, _ and -');
    const type = fields.string('type');
    if (type !== 'AUTHENTICATION') {
      warn(entry.path, `${type ?? 'untyped'} triggers are not served yet by Baste (ignored)`);
      continue;
    }
    const functionName = fields.string('function_name');
    if (!functionName) {
      // App Services may route events to an event processor (e.g. AWS EventBridge) instead.
      warn(entry.path, 'has no function_name (event processors are not supported); ignored');
      continue;
    }
    if (!functionNames.has(functionName)) throw fields.refuse('function_name', `function '${functionName}' is not defined in functions/`);
    const config = fields.nested('config') ?? new Fields(entry.path, {}, 'config');
    // The docs show operation_type both as a string and as a list: accept both.
    const rawOp = config.raw('operation_type');
    const operations = typeof rawOp === 'string' ? [rawOp] : config.stringArray('operation_type') ?? [];
    if (operations.length === 0 || !operations.every((op) => OPERATIONS.has(op))) {
      throw config.refuse('operation_type', 'must be LOGIN, CREATE or DELETE (or a list of them)');
    }
    if (triggers.has(name)) throw new ConfigError(entry.path, 'name', `trigger "${name}" is defined twice`);
    triggers.set(name, {
      name,
      functionName,
      operations: operations as AuthTriggerConfig['operations'],
      providers: config.stringArray('providers') ?? [],
      disabled: fields.bool('disabled', false),
    });
  }
  return triggers;
}
