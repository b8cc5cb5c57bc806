// Authentication triggers: after a login, a user's creation or deletion, each matching trigger's
// function runs as the system user with the platform's event object. They run after the response
// is on its way; a failing trigger is logged and never breaks the login.

import type { Logger } from 'pino';
import type { AppConfig, AuthTriggerConfig } from '../app/model.js';
import type { CallUser } from './runtime.js';

export type AuthOperation = 'LOGIN' | 'CREATE' | 'DELETE';

export interface AuthEvent {
  readonly operationType: AuthOperation;
  readonly providers: readonly string[];
  readonly user: CallUser;
  readonly time: Date;
}

export type RunAsSystem = (name: string, args: unknown[]) => Promise<unknown>;

export class AuthTriggers {
  private readonly triggers: readonly AuthTriggerConfig[];
  private pending = new Set<Promise<unknown>>();

  constructor(
    app: AppConfig,
    private readonly run: RunAsSystem,
    private readonly logger: Logger,
  ) {
    this.triggers = [...(app.triggers?.values() ?? [])].filter((t) => !t.disabled);
  }

  private matching(op: AuthOperation, providers: readonly string[]): AuthTriggerConfig[] {
    return this.triggers.filter(
      (t) => t.operations.includes(op) && (t.providers.length === 0 || providers.some((p) => t.providers.includes(p))),
    );
  }

  /** Is any trigger listening? Lets callers skip building the event. */
  wants(op: AuthOperation, providers: readonly string[]): boolean {
    return this.matching(op, providers).length > 0;
  }

  /** Schedules every matching trigger; never throws. */
  fire(op: AuthOperation, providers: readonly string[], user: CallUser): void {
    for (const trigger of this.matching(op, providers)) {
      const event: AuthEvent = { operationType: op, providers, user, time: new Date() };
      const job = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => this.run(trigger.functionName, [event]))
        .then(
          () => this.logger.debug({ trigger: trigger.name, op }, 'auth trigger ran'),
          (err: unknown) => this.logger.error({ trigger: trigger.name, op, error: (err as Error).message }, 'auth trigger failed'),
        )
        .finally(() => this.pending.delete(job));
      this.pending.add(job);
    }
  }

  /** Resolves when every scheduled trigger has finished (shutdown, tests). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
