// The refresh-token lifetime of new sessions: an app setting an operator changes through the admin
// API (`PUT …/security/refresh_token_expiration`), kept in the store so every instance sharing it
// applies the same value. Sessions already open keep the expiry they were given.

import { BasteError } from '../errors.js';
import type { Store } from '../store/store.js';

/** The platform's bounds: 30 minutes to 5 years (its OpenAPI schema says 180 days; its text and UI say 5 years). */
export const REFRESH_EXPIRATION_MIN_SECONDS = 30 * 60;
export const REFRESH_EXPIRATION_MAX_SECONDS = 5 * 365 * 24 * 60 * 60;

/**
 * How often an instance re-reads the setting. A login reads the cached value (Sessions.prepare is
 * synchronous, and a store round trip per login would cost the login path), so a change made on
 * another instance applies to sessions opened here within this long; on the instance that made
 * the change, at once.
 */
export const REFRESH_EXPIRATION_RELOAD_MS = 10_000;

export function requireRefreshExpiration(value: unknown): number {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < REFRESH_EXPIRATION_MIN_SECONDS ||
    value > REFRESH_EXPIRATION_MAX_SECONDS
  ) {
    throw new BasteError(
      'InvalidParameter',
      `expiration_time_seconds must be a whole number of seconds from ${REFRESH_EXPIRATION_MIN_SECONDS} (30 minutes) to ${REFRESH_EXPIRATION_MAX_SECONDS} (5 years)`,
    );
  }
  return value;
}

export class RefreshTokenExpiration {
  private cached: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    /** The lifetime until an operator sets one (60 days unless the server was started with another). */
    private readonly defaultSeconds: number,
  ) {
    this.cached = defaultSeconds;
  }

  /** The lifetime new sessions get, as last read. */
  get seconds(): number {
    return this.cached;
  }

  /** Reads the store now. */
  async load(): Promise<number> {
    this.cached = (await this.store.getSetting('refreshTokenExpirationSeconds')) ?? this.defaultSeconds;
    return this.cached;
  }

  async set(value: unknown): Promise<number> {
    const seconds = requireRefreshExpiration(value);
    await this.store.putSetting('refreshTokenExpirationSeconds', seconds);
    this.cached = seconds;
    return seconds;
  }

  /** Re-reads the store every `everyMs`; a failed read keeps the last value (and is retried next time). */
  start(everyMs: number, onError: (err: unknown) => void): void {
    if (this.timer || everyMs <= 0) return;
    this.timer = setInterval(() => {
      this.load().catch(onError);
    }, everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
