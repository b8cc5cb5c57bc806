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
    const functionName = triggerFunction(fields, warn);
    if (!functionName) continue;
    if (!functionNames.has(functionName.name)) throw fields.refuse(functionName.field, `function '${functionName.name}' is not defined in functions/`);
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
      functionName: functionName.name,
      operations: operations as AuthTriggerConfig['operations'],
      providers: config.stringArray('providers') ?? [],
      disabled: fields.bool('disabled', false),
    });
  }
  return triggers;
}

/**
 * The function a trigger runs: `function_name`, or (the current CLI's format) the FUNCTION event
 * processor's `config.function_name`. Other processors (AWS EventBridge) are not served: warned,
 * and the trigger is skipped (undefined).
 */
function triggerFunction(fields: Fields, warn: Warn): { name: string; field: string } | undefined {
  const direct = fields.string('function_name');
  const processors = fields.nested('event_processors');
  const viaProcessor = processors?.nested('FUNCTION')?.nested('config');
  const fromProcessor = viaProcessor?.string('function_name');
  const others = Object.keys(processors?.doc ?? {}).filter((k) => k !== 'FUNCTION');
  const unsupported = others.map((k) => (k === 'AWS_EVENTBRIDGE' ? 'EventBridge' : k)).join(', ');
  if (!direct && !fromProcessor) {
    warn(fields.file, others.length ? `event_processors: ${unsupported} is not supported by Baste; trigger ignored` : 'no function_name; trigger ignored');
    return undefined;
  }
  if (others.length) warn(fields.file, `event_processors: ${unsupported} is not supported by Baste (ignored); the function still runs`);
  if (direct && fromProcessor && direct !== fromProcessor) {
    throw fields.refuse('event_processors.FUNCTION.config.function_name', `names "${fromProcessor}" but function_name names "${direct}": keep one`);
  }
  if (direct) return { name: direct, field: 'function_name' };
  return fromProcessor && viaProcessor ? { name: fromProcessor, field: viaProcessor.path('function_name') } : undefined;
}
