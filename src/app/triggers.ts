// Triggers (`triggers/<name>.json`): authentication, scheduled and database triggers. Database
// triggers come in the App Services layout (`event_processors.FUNCTION`, `config.operation_types`)
// and Stitch's (`function_name`, `config.service_name`); their `match` is EJSON, as exported.

import { ConfigError } from '../errors.js';
import { CronError, parseCron } from '../triggers/cron.js';
import { EJSON } from 'bson';
import type { AuthTriggerConfig, ChangeOperation, DatabaseTriggerConfig, ScheduledTriggerConfig } from './model.js';
import type { AppDir } from './dir.js';
import { asObject, Fields, isValueName, type Warn } from './check.js';
import { isHexId } from './ids.js';

const OPERATIONS = new Set(['LOGIN', 'CREATE', 'DELETE']);
const CHANGE_OPERATIONS = new Set<string>(['INSERT', 'UPDATE', 'REPLACE', 'DELETE']);

export interface LoadedTriggers {
  readonly auth: Map<string, AuthTriggerConfig>;
  readonly scheduled: Map<string, ScheduledTriggerConfig>;
  readonly database: Map<string, DatabaseTriggerConfig>;
}

export async function loadTriggers(dir: AppDir, functionNames: ReadonlySet<string>, warn: Warn): Promise<LoadedTriggers> {
  const auth = new Map<string, AuthTriggerConfig>();
  const scheduled = new Map<string, ScheduledTriggerConfig>();
  const database = new Map<string, DatabaseTriggerConfig>();
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
    if (type !== 'AUTHENTICATION' && type !== 'SCHEDULED' && type !== 'DATABASE') {
      warn(entry.path, `${type ?? 'untyped'} triggers are not served yet by Baste (ignored)`);
      continue;
    }
    const fn = triggerFunction(fields, warn);
    if (!fn) continue;
    if (!functionNames.has(fn.name)) throw fields.refuse(fn.field, `function '${fn.name}' is not defined in functions/`);
    if (auth.has(name) || scheduled.has(name) || database.has(name)) throw fields.refuse('name', `trigger "${name}" is defined twice`);
    const config = fields.nested('config') ?? new Fields(entry.path, {}, 'config');
    const disabled = fields.bool('disabled', false);
    const rawId = fields.raw('id');
    const id = typeof rawId === 'string' && isHexId(rawId) ? { id: rawId.toLowerCase() } : {};
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
        ...id,
        functionName: fn.name,
        schedule,
        // The scheduled trigger page spells it at the top level (`skip_catchup_event`); the
        // config reference and the admin API put `skip_catchup_events` in `config`.
        skipCatchupEvents: config.bool('skip_catchup_events', fields.bool('skip_catchup_events', fields.bool('skip_catchup_event', false))),
        disabled,
      });
      continue;
    }
    if (type === 'DATABASE') {
      const trigger = databaseTrigger(name, fn.name, config, disabled, entry.path, warn);
      if (trigger) database.set(name, { ...trigger, ...id });
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
      ...id,
      functionName: fn.name,
      operations: operations as AuthTriggerConfig['operations'],
      providers: config.stringArray('providers') ?? [],
      disabled,
    });
  }
  return { auth, scheduled, database };
}

/**
 * A DATABASE trigger's config (reference/config/triggers.txt). Database- and deployment-level
 * triggers (no collection) and their collection-level operation types are not served: warned, and
 * the trigger is skipped (undefined).
 */
function databaseTrigger(name: string, functionName: string, config: Fields, disabled: boolean, file: string, warn: Warn): DatabaseTriggerConfig | undefined {
  const database = config.string('database');
  const collection = config.string('collection');
  if (!database || !collection) {
    warn(file, 'database and deployment triggers (no config.database or config.collection) are not served by Baste; trigger ignored');
    return undefined;
  }
  // Stitch spelled one operation as a string in some exports: a list or a string.
  const rawOps = config.raw('operation_types') ?? config.raw('operation_type');
  const key = config.has('operation_types') ? 'operation_types' : 'operation_type';
  const ops = typeof rawOps === 'string' ? [rawOps] : config.stringArray(key) ?? [];
  const unknown = ops.filter((op) => !CHANGE_OPERATIONS.has(op));
  if (ops.length === 0) throw config.refuse(key, 'a database trigger needs at least one of INSERT, UPDATE, REPLACE, DELETE');
  if (unknown.length === ops.length) {
    warn(file, `operation types ${unknown.join(', ')} are not served by Baste (only INSERT, UPDATE, REPLACE, DELETE); trigger ignored`);
    return undefined;
  }
  if (unknown.length) warn(file, `operation types ${unknown.join(', ')} are not served by Baste (ignored)`);
  const ejsonObject = (field: string): Record<string, unknown> => {
    const raw = config.object(field);
    if (!raw) return {};
    try {
      return EJSON.deserialize(raw, { relaxed: false }) as Record<string, unknown>;
    } catch (err) {
      throw config.refuse(field, `is not valid Extended JSON: ${(err as Error).message}`);
    }
  };
  if (config.bool('maximum_throughput', false)) warn(file, 'config.maximum_throughput has no meaning for Baste (ignored)');
  const serviceName = config.string('service_name');
  return {
    name,
    functionName,
    ...(serviceName ? { serviceName } : {}),
    database,
    collection,
    operations: [...new Set(ops.filter((op) => CHANGE_OPERATIONS.has(op)))] as ChangeOperation[],
    match: ejsonObject('match'),
    project: ejsonObject('project'),
    fullDocument: config.bool('full_document', false),
    fullDocumentBeforeChange: config.bool('full_document_before_change', false),
    unordered: config.bool('unordered', false),
    skipCatchupEvents: config.bool('skip_catchup_events', false),
    disabled,
  };
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
