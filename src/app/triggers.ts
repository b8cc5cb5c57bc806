// Triggers (`triggers/<name>.json`). Authentication and scheduled triggers are served; database
// triggers are read so the export loads, and reported as not served.

import { ConfigError } from '../errors.js';
import { CronError, parseCron } from '../triggers/cron.js';
import type { AuthTriggerConfig, ScheduledTriggerConfig } from './model.js';
import type { AppDir } from './dir.js';
import { asObject, Fields, isValueName, type Warn } from './check.js';

const OPERATIONS = new Set(['LOGIN', 'CREATE', 'DELETE']);

export interface LoadedTriggers {
  readonly auth: Map<string, AuthTriggerConfig>;
  readonly scheduled: Map<string, ScheduledTriggerConfig>;
}

export async function loadTriggers(dir: AppDir, functionNames: ReadonlySet<string>, warn: Warn): Promise<LoadedTriggers> {
  const auth = new Map<string, AuthTriggerConfig>();
  const scheduled = new Map<string, ScheduledTriggerConfig>();
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
    if (type !== 'AUTHENTICATION' && type !== 'SCHEDULED') {
      warn(entry.path, `${type ?? 'untyped'} triggers are not served yet by Baste (ignored)`);
      continue;
    }
    const fn = triggerFunction(fields, warn);
    if (!fn) continue;
    if (!functionNames.has(fn.name)) throw fields.refuse(fn.field, `function '${fn.name}' is not defined in functions/`);
    if (auth.has(name) || scheduled.has(name)) throw fields.refuse('name', `trigger "${name}" is defined twice`);
    const config = fields.nested('config') ?? new Fields(entry.path, {}, 'config');
    const disabled = fields.bool('disabled', false);
    if (type === 'SCHEDULED') {
      const schedule = config.string('schedule');
      if (!schedule) throw config.refuse('schedule', 'a scheduled trigger needs a CRON expression');
      try {
        parseCron(schedule);
      } catch (err) {
        if (err instanceof CronError) throw config.refuse('schedule', err.message);
        throw err;
      }
      scheduled.set(name, {
        name,
        functionName: fn.name,
        schedule,
        // The scheduled trigger page spells it at the top level (`skip_catchup_event`); the
        // config reference and the admin API put `skip_catchup_events` in `config`.
        skipCatchupEvents: config.bool('skip_catchup_events', fields.bool('skip_catchup_events', fields.bool('skip_catchup_event', false))),
        disabled,
      });
      continue;
    }
    // The docs show operation_type both as a string and as a list: accept both.
    const rawOp = config.raw('operation_type');
    const operations = typeof rawOp === 'string' ? [rawOp] : config.stringArray('operation_type') ?? [];
    if (operations.length === 0 || !operations.every((op) => OPERATIONS.has(op))) {
      throw config.refuse('operation_type', 'must be LOGIN, CREATE or DELETE (or a list of them)');
    }
    auth.set(name, {
      name,
      functionName: fn.name,
      operations: operations as AuthTriggerConfig['operations'],
      providers: config.stringArray('providers') ?? [],
      disabled,
    });
  }
  return { auth, scheduled };
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
