// Triggers in the admin API: `GET …/triggers`, `GET …/triggers/{triggerId}` in the platform's
// Trigger shape (source/openapi-admin-v3.yaml of mongodb/docs-app-services: `_id`, `name`,
// `type`, `disabled`, `function_name`, `config`, `event_processors`), plus Baste's own `listens_to`
// and `status` (the platform's Trigger object has no status; its UI showed one): the last run,
// the last failure and the backlog, read from the store so every instance answers the same.
// `PUT …/triggers/{triggerId}/resume` with `disable_token` is the platform's resume of a
// database trigger (there: a suspended one; Baste never suspends, see the README).
//
// Triggers are the app's files: nothing here creates, changes or deletes one.

import { EJSON } from 'bson';
import type { AppConfig } from '../app/model.js';
import { BasteError } from '../errors.js';
import type { Store, TriggerRunState } from '../store/store.js';
import type { DatabaseTriggers } from '../triggers/database.js';
import { allTriggers, describeTrigger, triggerId, type AnyTrigger, type TriggerType } from '../triggers/describe.js';
import type { ScheduledTriggers } from '../triggers/scheduled.js';
import type { Clock } from '../util/clock.js';
import { recordAudit } from './admin.js';
import type { Actor } from './tokens.js';

export interface TriggerAdminDeps {
  readonly app: AppConfig;
  readonly store: Store;
  readonly clock: Clock;
  readonly database: Pick<DatabaseTriggers, 'status' | 'resume'>;
  readonly scheduled: Pick<ScheduledTriggers, 'status'>;
}

/** Baste's status of a trigger; dates in Unix seconds, as in the rest of the admin API. */
export interface AdminTriggerStatus {
  /** When its function last ran (finished), from any instance. */
  readonly last_run_date: number | null;
  readonly last_error: { readonly message: string; readonly date: number } | null;
  /** Runs (database: events delivered) and failures counted since the store was created. */
  readonly runs: number;
  readonly failures: number;
  /**
   * What waits: database triggers, the changes recorded and not yet delivered (null on a real
   * MongoDB); scheduled triggers, the ticks missed since the last claimed one; authentication
   * triggers, null (they run as their event happens).
   */
  readonly backlog: number | null;
  /** Database triggers: the instance delivering it now (its lease), if any. */
  readonly delivering_instance?: string | null;
}

export interface AdminTrigger {
  readonly _id: string;
  readonly name: string;
  readonly type: TriggerType;
  readonly disabled: boolean;
  readonly function_name: string;
  readonly config: Record<string, unknown>;
  readonly event_processors: { readonly FUNCTION: { readonly config: { readonly function_name: string } } };
  readonly listens_to: string;
  readonly status: AdminTriggerStatus;
}

const seconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));

/** The trigger's `config` as the platform spells it. */
function platformConfig(t: AnyTrigger): Record<string, unknown> {
  switch (t.type) {
    case 'AUTHENTICATION':
      return { operation_type: t.config.operations.length === 1 ? t.config.operations[0] : [...t.config.operations], providers: [...t.config.providers] };
    case 'SCHEDULED':
      return { schedule: t.config.schedule, skip_catchup_events: t.config.skipCatchupEvents };
    case 'DATABASE': {
      const c = t.config;
      return {
        ...(c.serviceName ? { service_name: c.serviceName } : {}),
        database: c.database,
        collection: c.collection,
        operation_types: [...c.operations],
        // As exported: Extended JSON.
        match: EJSON.serialize(c.match, { relaxed: false }),
        project: EJSON.serialize(c.project, { relaxed: false }),
        full_document: c.fullDocument,
        full_document_before_change: c.fullDocumentBeforeChange,
        unordered: c.unordered,
        skip_catchup_events: c.skipCatchupEvents,
      };
    }
  }
}

export class TriggerAdmin {
  constructor(private readonly deps: TriggerAdminDeps) {}

  async list(): Promise<AdminTrigger[]> {
    const [runs, database, scheduled] = await Promise.all([
      this.deps.store.listTriggerRuns(),
      this.deps.database.status(),
      this.deps.scheduled.status(),
    ]);
    const runsOf = new Map(runs.map((r) => [r.trigger, r]));
    const databaseOf = new Map(database.map((d) => [d.trigger, d]));
    const scheduledOf = new Map(scheduled.map((s) => [s.trigger, s]));
    return allTriggers(this.deps.app).map((t) => {
      const recorded = runsOf.get(t.config.name);
      let status: AdminTriggerStatus;
      if (t.type === 'DATABASE') {
        const d = databaseOf.get(t.config.name);
        // Event failures are counted on the trigger's row; a broken stream in trigger_runs: the later one shows.
        const errors = [d?.lastErrorAt != null && d.lastError != null ? { at: d.lastErrorAt, message: d.lastError } : null, lastError(recorded)]
          .filter((e): e is { at: number; message: string } => e !== null)
          .sort((a, b) => b.at - a.at);
        status = {
          last_run_date: seconds(d?.lastRunAt ?? null),
          last_error: errors[0] ? { message: errors[0].message, date: seconds(errors[0].at)! } : null,
          runs: d?.delivered ?? 0,
          failures: (d?.failed ?? 0) + (recorded?.failed ?? 0),
          backlog: d?.backlog ?? null,
          delivering_instance: d && d.leaseOwner !== null && d.leaseUntil > this.deps.clock() ? d.leaseOwner : null,
        };
      } else {
        const error = lastError(recorded);
        status = {
          last_run_date: seconds(recorded?.lastRunAt ?? null),
          last_error: error ? { message: error.message, date: seconds(error.at)! } : null,
          runs: recorded?.runs ?? 0,
          failures: recorded?.failed ?? 0,
          backlog: t.type === 'SCHEDULED' ? (scheduledOf.get(t.config.name)?.missed ?? 0) : null,
        };
      }
      const d = describeTrigger(t);
      return {
        _id: triggerId(this.deps.app, t),
        name: t.config.name,
        type: t.type,
        disabled: t.config.disabled,
        function_name: t.config.functionName,
        config: platformConfig(t),
        event_processors: { FUNCTION: { config: { function_name: t.config.functionName } } },
        listens_to: d.notes.length ? `${d.listensTo} (${d.notes.join(', ')})` : d.listensTo,
        status,
      };
    });
  }

  /** By `_id`, or by name (Baste's: names are unique, and what an operator knows). */
  async get(id: string): Promise<AdminTrigger> {
    const found = (await this.list()).find((t) => t._id === id.toLowerCase() || t.name === id);
    if (!found) throw new BasteError('TriggerNotFound', `trigger not found: '${id.slice(0, 64)}'`);
    return found;
  }

  /** `PUT …/resume {disable_token}`: database triggers only, as on the platform. */
  async resume(actor: Actor, id: string, body: Record<string, unknown>): Promise<void> {
    const skip = body.disable_token ?? false;
    if (typeof skip !== 'boolean') throw new BasteError('InvalidParameter', 'disable_token must be true or false');
    const trigger = await this.get(id);
    if (trigger.type !== 'DATABASE') throw new BasteError('InvalidParameter', `only database triggers can be resumed; '${trigger.name}' is ${trigger.type.toLowerCase()}`);
    if (trigger.disabled) throw new BasteError('InvalidParameter', `trigger '${trigger.name}' is disabled in the app's files: enable it there`);
    if (!(await this.deps.database.resume(trigger.name, skip))) {
      throw new BasteError('InvalidParameter', `trigger '${trigger.name}' is not delivered by this server (its data source reports no changes)`);
    }
    await recordAudit(this.deps, actor, 'trigger.resume', trigger._id, { name: trigger.name, skipped_pending: skip });
  }
}

function lastError(r: TriggerRunState | undefined): { at: number; message: string } | null {
  return r && r.lastErrorAt !== null && r.lastError !== null ? { at: r.lastErrorAt, message: r.lastError } : null;
}
