// Database triggers: each change of a watched collection runs the trigger's function once, as the
// system user, with the change event (change-event.ts) as its argument.
//
// On the embedded engines the changes come from the outbox the write filled in its own transaction
// (ChangeLog): a crash after the commit loses nothing. A trigger's position in that outbox and a
// lease live in the store (one row per trigger): the instance holding the lease delivers, the
// others wait, so each event runs once across instances sharing the store. Position moves after
// each event (ordered) or after each batch run concurrently (`unordered`); an instance that dies
// mid-event leaves the event to whoever takes the expired lease (at least once: a function that
// finished just before the crash runs again). Lease owners are stable per data directory, so a
// restarted instance takes its own lease back at once.
//
// On a real MongoDB data source the events come from a change stream opened by the lease holder,
// its resume token stored as the position after each event.
//
// A failing function is logged with the event id and counted (`last_error`); later events run as
// usual (the platform suspended a trigger only when its change stream broke, see the README).

import { EJSON } from 'bson';
import type { Logger } from 'pino';
import type { AppConfig, DatabaseTriggerConfig, DataSourceConfig } from '../app/model.js';
import type { ChangeLog, Doc, DocumentEngine, StoredChange } from '../data/engine.js';
import type { ChangeFeed, MongoDocumentEngine } from '../data/mongodb-engine.js';
import type { RunAsSystem } from '../functions/triggers.js';
import type { DatabaseTriggerState, Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { changeEvent, compileEventFilter, listensTo } from './change-event.js';
import { DEFAULTS } from '../defaults.js';

export interface DatabaseTriggerOptions {
  /** Who holds leases: stable across restarts of one instance (its data directory). */
  readonly instanceId: string;
  /** How long a lease lasts without renewal (default 30 s); renewed while an event runs. */
  readonly leaseMs?: number;
  /** Changes read per step (default 100). */
  readonly batchSize?: number;
  /** Delivered changes are pruned; undelivered ones older than this too (default 7 days). */
  readonly keepMs?: number;
}

type Source = { readonly kind: 'embedded'; readonly log: ChangeLog } | { readonly kind: 'mongodb'; readonly engine: MongoDocumentEngine; readonly service: string };

interface Entry {
  readonly config: DatabaseTriggerConfig;
  readonly ns: string;
  readonly source: Source;
  /** Stored with the position: a trigger moved to another collection starts afresh there. */
  readonly sourceKey: string;
  readonly filter: (event: Doc) => Doc | null;
  running?: Promise<void>;
  again?: boolean;
  feed?: ChangeFeed;
}

/** What running one event did. */
type Outcome = { ran: boolean; error?: string };

export class DatabaseTriggers {
  private readonly entries: Entry[] = [];
  private readonly leaseMs: number;
  private readonly batchSize: number;
  private readonly keepMs: number;
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void)[] = [];
  private stopped = false;
  private polls = 0;

  constructor(
    private readonly app: AppConfig,
    private readonly store: Store,
    private readonly engineFor: (source: DataSourceConfig | undefined) => DocumentEngine,
    private readonly clock: Clock,
    private readonly run: RunAsSystem,
    private readonly logger: Logger,
    private readonly opts: DatabaseTriggerOptions,
  ) {
    this.leaseMs = opts.leaseMs ?? DEFAULTS.databaseTriggers.leaseMs;
    this.batchSize = opts.batchSize ?? 100;
    this.keepMs = opts.keepMs ?? 7 * 24 * 3600 * 1000;
  }

  /** The data source a trigger watches: the one it names, else the only (or first) one. */
  private dataSource(t: DatabaseTriggerConfig): DataSourceConfig | undefined {
    const sources = this.app.dataSources;
    return (t.serviceName ? sources?.get(t.serviceName) : undefined) ?? sources?.values().next().value;
  }

  /**
   * Starts recording the watched collections and brings each trigger's row up to date: a new
   * trigger (or one moved to another collection) starts at the current end; one enabled again
   * after being disabled catches up from where it stopped, or skips to the end with
   * `skip_catchup_events`. Disabled triggers keep their collections recorded, so they can.
   */
  async prepare(): Promise<void> {
    for (const config of this.app.databaseTriggers?.values() ?? []) {
      const ns = `${config.database}.${config.collection}`;
      const dataSource = this.dataSource(config);
      const engine = this.engineFor(dataSource);
      let source: Source;
      if (engine.changes) {
        source = { kind: 'embedded', log: engine.changes };
        engine.changes.capture(ns);
      } else if ('watch' in engine) {
        source = { kind: 'mongodb', engine: engine as MongoDocumentEngine, service: dataSource?.name ?? '' };
      } else {
        this.logger.warn({ trigger: config.name }, 'database trigger: its data source cannot report changes; ignored');
        continue;
      }
      const sourceKey = source.kind === 'embedded' ? `embedded:${ns}` : `mongodb:${source.service}:${ns}`;
      const end = async () => (source.kind === 'embedded' ? String(await source.log.latest(ns)) : '');
      const state = await this.store.initDatabaseTrigger(config.name, { source: sourceKey, position: await end(), disabled: config.disabled });
      if (state.source !== sourceKey) {
        await this.store.resetDatabaseTrigger(config.name, { source: sourceKey, position: await end(), disabled: config.disabled });
      } else if (state.disabled !== config.disabled) {
        const skip = !config.disabled && config.skipCatchupEvents;
        await this.store.resetDatabaseTrigger(config.name, { source: sourceKey, position: skip ? await end() : state.position, disabled: config.disabled });
        if (skip) this.logger.info({ trigger: config.name }, 'database trigger enabled again: skipped the events of while it was disabled');
      }
      if (!config.disabled) this.entries.push({ config, ns, source, sourceKey, filter: compileEventFilter(config) });
    }
  }

  /** Delivers as changes commit here, and looks for other instances' every `pollMs` (0: only runDue(), for tests). */
  start(pollMs: number): void {
    const logs = new Set(this.entries.flatMap((e) => (e.source.kind === 'embedded' ? [e.source.log] : [])));
    for (const log of logs) {
      this.unsubscribe.push(
        log.subscribe((ns) => {
          for (const entry of this.entries) if (entry.ns === ns && entry.source.kind === 'embedded' && entry.source.log === log) this.kick(entry);
        }),
      );
    }
    if (pollMs > 0 && this.entries.length > 0 && !this.timer) {
      this.timer = setInterval(() => void this.poll(), pollMs);
      this.timer.unref();
    }
    void this.poll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    await Promise.all(this.entries.map((e) => e.feed?.close().catch(() => undefined)));
    await this.settled();
    // Hand the leases back: another instance goes on at once instead of after they expire.
    await Promise.all(this.entries.map((e) => this.store.releaseDatabaseTrigger(e.config.name, this.opts.instanceId).catch(() => undefined)));
  }

  /** Delivers every pending embedded change this instance can lease, and prunes; resolves when done (tests). */
  async runDue(): Promise<void> {
    await this.poll(true);
    await this.settled();
  }

  async settled(): Promise<void> {
    for (;;) {
      const running = this.entries.map((e) => e.running).filter((r): r is Promise<void> => r !== undefined);
      if (running.length === 0) return;
      await Promise.allSettled(running);
    }
  }

  /**
   * Each trigger's state with its backlog (admin API): the changes recorded past its position, on
   * the embedded engines (a disabled trigger's too: what it catches up when enabled again); null
   * on a real MongoDB, whose change stream does not say how far behind a resume token is.
   */
  async status(): Promise<(DatabaseTriggerState & { backlog: number | null; watching: string })[]> {
    const states = new Map((await this.store.listDatabaseTriggers()).map((s) => [s.trigger, s]));
    const out = [];
    for (const config of this.app.databaseTriggers?.values() ?? []) {
      const state = states.get(config.name);
      if (!state) continue;
      const ns = `${config.database}.${config.collection}`;
      const log = this.engineFor(this.dataSource(config)).changes;
      const backlog = log && state.source === `embedded:${ns}` ? await log.count(ns, Number(state.position) || 0) : null;
      out.push({ ...state, backlog, watching: ns });
    }
    return out;
  }

  /**
   * `PUT …/triggers/{id}/resume`: delivers again at once; with `skipMissed` (the platform's
   * `disable_token`) first moves the trigger past what is pending (embedded: to the latest change;
   * MongoDB: drops the resume token, so the stream starts at now). False for a trigger this
   * instance does not deliver (disabled, or its data source reports no changes).
   */
  async resume(name: string, skipMissed: boolean): Promise<boolean> {
    const entry = this.entries.find((e) => e.config.name === name);
    if (!entry || this.stopped) return false;
    if (skipMissed) {
      const position = entry.source.kind === 'embedded' ? String(await entry.source.log.latest(entry.ns)) : '';
      await entry.feed?.close().catch(() => undefined);
      await this.store.resetDatabaseTrigger(name, { source: entry.sourceKey, position, disabled: false });
      this.logger.info({ trigger: name }, 'database trigger resumed past its pending events');
    }
    this.kick(entry);
    return true;
  }

  private async poll(prune = false): Promise<void> {
    if (this.stopped) return;
    for (const entry of this.entries) this.kick(entry);
    // Pruning is rare work: every 60th poll (a minute at the default), or when a test asks.
    if (prune || ++this.polls % 60 === 0) await this.prune().catch((err: unknown) => this.logger.error({ error: (err as Error).message }, 'pruning change events failed'));
  }

  /** Drops the changes every trigger of a collection has passed, and those older than keepMs. */
  private async prune(): Promise<void> {
    const states = new Map((await this.store.listDatabaseTriggers()).map((s) => [s.trigger, s]));
    const byLog = new Map<ChangeLog, Map<string, number>>();
    for (const config of this.app.databaseTriggers?.values() ?? []) {
      const entry = this.entries.find((e) => e.config.name === config.name);
      const engine = this.engineFor(this.dataSource(config));
      if (!engine.changes) continue;
      const ns = `${config.database}.${config.collection}`;
      const position = entry || config.disabled ? Number(states.get(config.name)?.position) || 0 : 0;
      const perNs = byLog.get(engine.changes) ?? new Map<string, number>();
      perNs.set(ns, Math.min(perNs.get(ns) ?? Number.POSITIVE_INFINITY, position));
      byLog.set(engine.changes, perNs);
    }
    const before = this.clock() - this.keepMs;
    for (const [log, perNs] of byLog) for (const [ns, upTo] of perNs) await log.prune(ns, upTo, before);
  }

  /** Runs the entry's delivery unless it is running; then once more if asked meanwhile. */
  private kick(entry: Entry): void {
    if (this.stopped) return;
    if (entry.running) {
      entry.again = true;
      return;
    }
    entry.again = false;
    const work = entry.source.kind === 'embedded' ? this.drain(entry, entry.source.log) : this.follow(entry, entry.source.engine);
    entry.running = work
      .catch(async (err: unknown) => {
        const error = (err as Error).message;
        this.logger.error({ trigger: entry.config.name, error }, 'database trigger delivery failed');
        // A broken change stream (a resume token gone from the oplog…) fails each poll: the admin API shows it.
        await this.store.recordTriggerRun(entry.config.name, { at: this.clock(), ran: false, error: `delivery failed: ${error}` }).catch(() => undefined);
      })
      .finally(() => {
        entry.running = undefined;
        if (entry.again) this.kick(entry);
      });
  }

  /** Keeps the lease alive while an event runs longer than a third of it. */
  private renewing(entry: Entry, position: () => string): () => void {
    const timer = setInterval(() => {
      void this.store
        .advanceDatabaseTrigger(entry.config.name, this.opts.instanceId, { position: position(), leaseUntil: this.clock() + this.leaseMs, ran: 0, failed: 0, at: this.clock() })
        .catch(() => undefined);
    }, Math.max(1000, this.leaseMs / 3));
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Embedded: leases the trigger and delivers what its collection recorded past its position. */
  private async drain(entry: Entry, log: ChangeLog): Promise<void> {
    const { name } = entry.config;
    const me = this.opts.instanceId;
    const leased = await this.store.leaseDatabaseTrigger(name, me, this.clock(), this.clock() + this.leaseMs);
    if (!leased) return;
    let position = Number(leased.position) || 0;
    const stopRenewing = this.renewing(entry, () => String(position));
    try {
      while (!this.stopped) {
        const batch = await log.read(entry.ns, position, this.batchSize);
        if (batch.length === 0) break;
        const steps: StoredChange[][] = entry.config.unordered ? [batch] : batch.map((c) => [c]);
        for (const step of steps) {
          const outcomes = await Promise.all(step.map((c) => this.deliver(entry, c)));
          const next = step[step.length - 1]!.seq;
          const failed = outcomes.filter((o) => o.error !== undefined);
          const kept = await this.store.advanceDatabaseTrigger(name, me, {
            position: String(next),
            leaseUntil: this.clock() + this.leaseMs,
            ran: outcomes.filter((o) => o.ran).length,
            failed: failed.length,
            at: this.clock(),
            ...(failed.length ? { lastError: failed[failed.length - 1]!.error } : {}),
          });
          // Another instance took the trigger (this one stalled past its lease): it goes on from there.
          if (!kept) return;
          position = next;
        }
      }
    } finally {
      stopRenewing();
    }
    await this.store.releaseDatabaseTrigger(name, me);
  }

  /** Runs the function with one change's event, when the trigger wants it; never throws. */
  private async deliver(entry: Entry, change: StoredChange): Promise<Outcome> {
    if (!listensTo(entry.config, change)) return { ran: false };
    const event = entry.filter(changeEvent(change, entry.config));
    if (!event) return { ran: false };
    return this.invoke(entry, event, (event._id as { _data?: string } | undefined)?._data ?? String(change.seq));
  }

  private async invoke(entry: Entry, event: Doc, eventId: string): Promise<Outcome> {
    try {
      await this.run(entry.config.functionName, [event]);
      this.logger.debug({ trigger: entry.config.name, eventId }, 'database trigger ran');
      return { ran: true };
    } catch (err) {
      const message = (err as Error).message;
      this.logger.error({ trigger: entry.config.name, eventId, error: message }, 'database trigger failed');
      return { ran: true, error: message };
    }
  }

  /**
   * A real MongoDB: while this instance holds the lease, follows the collection's change stream
   * from the stored resume token, storing each handled event's token. Losing the lease (or
   * stopping) closes the stream; the next poll tries again.
   */
  private async follow(entry: Entry, engine: MongoDocumentEngine): Promise<void> {
    const { name, operations, match, project, fullDocument, fullDocumentBeforeChange } = entry.config;
    const me = this.opts.instanceId;
    const leased = await this.store.leaseDatabaseTrigger(name, me, this.clock(), this.clock() + this.leaseMs);
    if (!leased) return;
    let position = leased.position;
    const pipeline: Doc[] = [{ $match: { operationType: { $in: operations.map((o) => o.toLowerCase()) } } }];
    if (Object.keys(match).length) pipeline.push({ $match: match });
    if (Object.keys(project).length) pipeline.push({ $project: project });
    const feed = await engine.watch(entry.ns, {
      pipeline,
      ...(position ? { resumeAfter: EJSON.parse(position, { relaxed: false }) as Doc } : {}),
      fullDocument,
      fullDocumentBeforeChange,
    });
    entry.feed = feed;
    // The lease is renewed on a timer while the stream is open, and on every event.
    let lost = false;
    const renew = setInterval(() => {
      void this.store
        .advanceDatabaseTrigger(name, me, { position, leaseUntil: this.clock() + this.leaseMs, ran: 0, failed: 0, at: this.clock() })
        .then((kept) => {
          if (!kept) {
            lost = true;
            void feed.close();
          }
        }, () => undefined);
    }, Math.max(1000, this.leaseMs / 3));
    renew.unref();
    try {
      for await (const event of feed) {
        if (this.stopped || lost) break;
        const token = EJSON.stringify(event._id, { relaxed: false });
        const outcome = await this.invoke(entry, event, token);
        const kept = await this.store.advanceDatabaseTrigger(name, me, {
          position: token,
          leaseUntil: this.clock() + this.leaseMs,
          ran: 1,
          failed: outcome.error === undefined ? 0 : 1,
          at: this.clock(),
          ...(outcome.error !== undefined ? { lastError: outcome.error } : {}),
        });
        if (!kept) break;
        position = token;
      }
    } finally {
      clearInterval(renew);
      entry.feed = undefined;
      await feed.close().catch(() => undefined);
    }
  }
}
