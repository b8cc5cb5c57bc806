// Brute-force throttle for every credential check (logins of every provider, the reset and
// confirmation functions, reset and confirmation tokens): fixed-window counters of failures per
// account and per client address, kept in the store so the limit holds across instances.
// Successes are not counted. While either counter is at its limit the check is refused before
// anything runs, so a refused attempt changes nothing (even with the right credential).

import { createHash } from 'node:crypto';
import { BasteError, type ErrorCode } from '../errors.js';
import type { Clock } from '../util/clock.js';

export interface ThrottleSettings {
  readonly maxFailuresPerAccount: number;
  readonly maxFailuresPerAddress: number;
  readonly windowSeconds: number;
}

export interface CounterStore {
  hitCounter(key: string, windowMs: number, now: number): Promise<{ count: number; windowStart: number }>;
  readCounter(key: string, windowMs: number, now: number): Promise<{ count: number; windowStart: number }>;
}

/** The refusals that mean "wrong credential"; bad input and outages are not counted. */
export const CREDENTIAL_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'InvalidPassword',
  'AuthError',
  'UserNotFound',
  'UserpassTokenInvalid',
]);

const isFailure = (err: unknown, failures: ReadonlySet<ErrorCode>) => err instanceof BasteError && failures.has(err.code);

export class LoginThrottle {
  constructor(
    private readonly counters: CounterStore,
    private readonly clock: Clock,
    private readonly settings: ThrottleSettings,
  ) {}

  /**
   * Counter keys. The account is hashed: keys stay short and free of NUL bytes (PostgreSQL text
   * refuses them), and the counters table holds no email addresses. No account (an API key, an
   * OAuth code): the address alone is counted.
   */
  private keys(scope: string, account: string | null, address: string) {
    const keys = [{ key: `${scope}:address:${address}`, max: this.settings.maxFailuresPerAddress }];
    if (account !== null) {
      const hashed = createHash('sha256').update(account).digest('hex');
      keys.unshift({ key: `${scope}:account:${hashed}`, max: this.settings.maxFailuresPerAccount });
    }
    return keys;
  }

  /** Throws TooManyRequests (with Retry-After) while either counter is at its limit. */
  async check(scope: string, account: string | null, address: string): Promise<void> {
    const windowMs = this.settings.windowSeconds * 1000;
    const now = this.clock();
    for (const { key, max } of this.keys(scope, account, address)) {
      const { count, windowStart } = await this.counters.readCounter(key, windowMs, now);
      if (count >= max) {
        const retryAfterSeconds = Math.max(1, Math.ceil((windowStart + windowMs - now) / 1000));
        throw new BasteError('TooManyRequests', 'too many failed attempts; try again later', { retryAfterSeconds });
      }
    }
  }

  async recordFailure(scope: string, account: string | null, address: string): Promise<void> {
    const windowMs = this.settings.windowSeconds * 1000;
    const now = this.clock();
    for (const { key } of this.keys(scope, account, address)) await this.counters.hitCounter(key, windowMs, now);
  }

  /**
   * Runs one credential check under the throttle: refused unrun while throttled; a refusal whose
   * code is in `failures` is counted, then thrown on.
   */
  async guard<T>(
    scope: string,
    account: string | null,
    address: string,
    check: () => Promise<T>,
    failures: ReadonlySet<ErrorCode> = CREDENTIAL_FAILURES,
  ): Promise<T> {
    await this.check(scope, account, address);
    try {
      return await check();
    } catch (err) {
      if (isFailure(err, failures)) await this.recordFailure(scope, account, address);
      throw err;
    }
  }
}
