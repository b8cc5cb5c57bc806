// Brute-force throttle for password logins: fixed-window counters of failures per account and
// per client address, kept in the store so the limit holds across instances. Successes are not counted.

import { BasteError } from '../errors.js';
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

export class LoginThrottle {
  constructor(
    private readonly counters: CounterStore,
    private readonly clock: Clock,
    private readonly settings: ThrottleSettings,
  ) {}

  private keys(scope: string, account: string, address: string) {
    return [
      { key: `${scope}:account:${account}`, max: this.settings.maxFailuresPerAccount },
      { key: `${scope}:address:${address}`, max: this.settings.maxFailuresPerAddress },
    ];
  }

  /** Throws TooManyRequests (with Retry-After) while either counter is at its limit. */
  async check(scope: string, account: string, address: string): Promise<void> {
    const windowMs = this.settings.windowSeconds * 1000;
    const now = this.clock();
    for (const { key, max } of this.keys(scope, account, address)) {
      const { count, windowStart } = await this.counters.readCounter(key, windowMs, now);
      if (count >= max) {
        const retryAfterSeconds = Math.max(1, Math.ceil((windowStart + windowMs - now) / 1000));
        throw new BasteError('TooManyRequests', 'too many failed login attempts; try again later', {
          retryAfterSeconds,
        });
      }
    }
  }

  async recordFailure(scope: string, account: string, address: string): Promise<void> {
    const windowMs = this.settings.windowSeconds * 1000;
    const now = this.clock();
    for (const { key } of this.keys(scope, account, address)) await this.counters.hitCounter(key, windowMs, now);
  }
}
