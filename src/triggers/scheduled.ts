// Scheduled triggers: each tick of a trigger's CRON schedule runs its function once, as the system
// user and without arguments, across every instance sharing the store: the instance whose claim
// of (trigger, tick) inserts the row runs it. Time comes from the injected clock, so a test moves
// the clock and calls runDue() instead of waiting for the minute.
//
// Missed ticks (no instance ran, or the trigger was disabled) are found from the latest claimed
// tick: the function then runs once for all of them, or not at all with `skip_catchup_events`.
// The first start of a trigger claims the tick just past without running it, so deploying never
// fires at once and a later outage has a tick to count from.

import type { Logger } from 'pino';
import type { AppConfig, ScheduledTriggerConfig } from '../app/model.js';
import type { RunAsSystem } from '../functions/triggers.js';
import type { Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { nextTick, parseCron, previousTick, type CronSchedule } from './cron.js';

/** Claims older than this are pruned (the latest always stays): far beyond any clock skew between instances. */
const KEEP_CLAIMS_MS = 24 * 3600 * 1000;

interface Entry {
  readonly config: ScheduledTriggerConfig;
  readonly cron: CronSchedule;
  /** Before this time (clock ms) no new tick can be due: checks skip the store until then. */
  nextCheck: number;
}

/** Missed ticks are counted up to this many (a disabled every-minute trigger misses 1440 a day). */
export const MISSED_MAX = 1000;

export interface ScheduledTriggerStatus {
  readonly trigger: string;
  /** The latest tick claimed (epoch ms), null before the first start. */
  readonly lastTick: number | null;
  readonly missed: number;
}

/** What one check did for a trigger whose tick was due. */
export interface TickOutcome {
  readonly trigger: string;
  readonly tick: number;
  /**
   * `ran`: this instance claimed the tick and ran the function; `caught-up`: the same after missed
   * ticks; `skipped` (missed ticks, `skip_catchup_events`) and `baseline` (first start): claimed
   * without running; `taken`: already claimed, by another instance or an earlier check.
   */
  readonly outcome: 'ran' | 'caught-up' | 'skipped' | 'baseline' | 'taken';
}

export class ScheduledTriggers {
  private readonly entries: Entry[];
  private readonly configs: readonly ScheduledTriggerConfig[];
  private readonly pending = new Set<Promise<void>>();
  /** Checks run one after another, so one instance never races itself for a tick. */
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private checking = false;

  constructor(
    app: AppConfig,
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly run: RunAsSystem,
    private readonly logger: Logger,
  ) {
    this.configs = [...(app.scheduledTriggers?.values() ?? [])];
    this.entries = this.configs
      .filter((t) => !t.disabled)
      .map((config) => ({ config, cron: parseCron(config.schedule), nextCheck: 0 }));
  }

  /** Looks for due ticks every `intervalMs` of real time (0: never; tests call runDue()). */
  start(intervalMs: number): void {
    if (intervalMs <= 0 || this.entries.length === 0 || this.timer) return;
    this.timer = setInterval(() => {
      // A slow store must not pile checks up behind each other.
      if (this.checking) return;
      this.checking = true;
      void this.check().finally(() => (this.checking = false));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Claims every tick due at the clock's time and runs those this instance won; resolves when every run started so far has finished. */
  async runDue(): Promise<TickOutcome[]> {
    const outcomes = await this.check();
    await this.settled();
    return outcomes;
  }

  /** Resolves when every run started so far has finished (shutdown, tests). */
  async settled(): Promise<void> {
    await this.queue;
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /**
   * Each trigger's latest claimed tick and its backlog: the ticks due since then that no instance
   * claimed (missed while disabled or while nothing ran; counted up to MISSED_MAX).
   */
  async status(): Promise<ScheduledTriggerStatus[]> {
    const now = this.clock();
    const out: ScheduledTriggerStatus[] = [];
    for (const config of this.configs) {
      const cron = parseCron(config.schedule);
      const lastTick = await this.store.lastScheduledTick(config.name);
      const due = previousTick(cron, now);
      let missed = 0;
      // A trigger never started has nothing missed: its first start claims a baseline.
      if (lastTick !== null && due !== null) {
        for (let t = nextTick(cron, lastTick); t !== null && t <= due && missed < MISSED_MAX; t = nextTick(cron, t)) missed++;
      }
      out.push({ trigger: config.name, lastTick, missed });
    }
    return out;
  }

  private check(): Promise<TickOutcome[]> {
    const next = this.queue.then(() => this.checkAll());
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async checkAll(): Promise<TickOutcome[]> {
    const outcomes: TickOutcome[] = [];
    for (const entry of this.entries) {
      try {
        const outcome = await this.checkOne(entry);
        if (outcome) outcomes.push(outcome);
      } catch (err) {
        // The store failed: leave nextCheck alone so the next check tries again.
        this.logger.error({ trigger: entry.config.name, error: (err as Error).message }, 'scheduled trigger check failed');
      }
    }
    return outcomes;
  }

  private async checkOne(entry: Entry): Promise<TickOutcome | null> {
    const now = this.clock();
    if (now < entry.nextCheck) return null;
    const { name, skipCatchupEvents } = entry.config;
    const due = previousTick(entry.cron, now);
    if (due === null) return null;
    const last = await this.store.lastScheduledTick(name);
    let outcome: TickOutcome['outcome'];
    if (last !== null && last >= due) {
      outcome = 'taken';
    } else {
      if (last === null) outcome = 'baseline';
      else if (nextTick(entry.cron, last) === due) outcome = 'ran';
      else outcome = skipCatchupEvents ? 'skipped' : 'caught-up';
      const runs = outcome === 'ran' || outcome === 'caught-up';
      if (!(await this.store.claimScheduledTick(name, due, now, runs))) outcome = 'taken';
      else {
        if (runs) this.launch(entry.config, due, outcome === 'caught-up' ? last : null);
        else if (outcome === 'skipped') this.logger.info({ trigger: name, since: iso(last!), tick: iso(due) }, 'scheduled trigger skipped missed ticks');
        await this.store.pruneScheduledTicks(name, due - KEEP_CLAIMS_MS);
      }
    }
    entry.nextCheck = nextTick(entry.cron, due) ?? Number.POSITIVE_INFINITY;
    return { trigger: name, tick: due, outcome };
  }

  /** Runs the function after this turn; a failure is logged with the trigger and tick, and later ticks run as usual. */
  private launch(trigger: ScheduledTriggerConfig, tick: number, missedSince: number | null): void {
    const context = { trigger: trigger.name, tick: iso(tick), ...(missedSince !== null && { catchUpSince: iso(missedSince) }) };
    const job = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.run(trigger.functionName, []))
      .then(
        () => {
          this.logger.debug(context, 'scheduled trigger ran');
          return undefined;
        },
        (err: unknown) => {
          const error = (err as Error).message;
          this.logger.error({ ...context, error }, 'scheduled trigger failed');
          return error;
        },
      )
      // In the store, so every instance's admin API shows the last run and failure.
      .then((error) => this.store.recordTriggerRun(trigger.name, { at: this.clock(), ran: true, ...(error !== undefined && { error }) }))
      .catch((err: unknown) => this.logger.error({ ...context, error: (err as Error).message }, 'recording a scheduled trigger run failed'))
      .finally(() => this.pending.delete(job));
    this.pending.add(job);
  }
}

const iso = (ms: number) => new Date(ms).toISOString();
