// Authentication triggers: after a login, a user's creation or deletion, each matching trigger's
// function runs with the platform's event object, called by the system user (so as the system
// user, unless the function names its own: Functions.callFromSystem). They run after the response
// is on its way; a failing trigger is logged and never breaks the login.
//
// What is a login: a session opened by POST .../login (every provider, the OAuth redirect), and an
// HTTPS endpoint or webhook call that authenticates with application credentials (email+password,
// API key, JWT in its headers or body). The docs call those "login credentials" a caller sends to
// "authenticate each Data API request" (data-api/custom-endpoints.txt, data-api/authenticate.txt)
// and say "User sessions begin when a user logs in through an SDK or authenticates over HTTPS"
// (users.txt), so each such call fires LOGIN. A bearer access token does not: it rides a session
// whose login already fired ("without re-authenticating the user", data-api/authenticate.txt).

import type { Logger } from 'pino';
import type { AppConfig, AuthTriggerConfig } from '../app/model.js';
import type { CallUser } from './types.js';

export type AuthOperation = 'LOGIN' | 'CREATE' | 'DELETE';

export interface AuthEvent {
  readonly operationType: AuthOperation;
  readonly providers: readonly string[];
  readonly user: CallUser;
  readonly time: Date;
}

/** Runs a trigger's function, called by the system user (the name predates functions with their own users). */
export type RunAsSystem = (name: string, args: unknown[]) => Promise<unknown>;

/** Keeps a trigger's run (and its failure) where the admin API reads it; may reject. */
export type RecordRun = (trigger: string, error?: string) => Promise<void>;

export class AuthTriggers {
  private readonly triggers: readonly AuthTriggerConfig[];
  private pending = new Set<Promise<unknown>>();

  constructor(
    app: AppConfig,
    private readonly run: RunAsSystem,
    private readonly logger: Logger,
    private readonly record: RecordRun = async () => undefined,
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
          () => {
            this.logger.debug({ trigger: trigger.name, op }, 'auth trigger ran');
            return undefined;
          },
          (err: unknown) => {
            const error = (err as Error).message;
            this.logger.error({ trigger: trigger.name, op, error }, 'auth trigger failed');
            return error;
          },
        )
        .then((error) => this.record(trigger.name, error))
        .catch((err: unknown) => this.logger.error({ trigger: trigger.name, error: (err as Error).message }, 'recording an auth trigger run failed'))
        .finally(() => this.pending.delete(job));
      this.pending.add(job);
    }
  }

  /** Resolves when every scheduled trigger has finished (shutdown, tests). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
