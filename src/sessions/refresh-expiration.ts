// The session policy: the refresh-token lifetime of new sessions (the admin API's
// `PUT …/security/refresh_token_expiration`, as on the platform), and Baste's own additions under
// `PUT …/security/session_policy`: a sliding lifetime (each refresh extends it) and an idle timeout
// (a session not refreshed for that long ends). All three are kept in the store so every instance
// sharing it applies the same values; until an operator sets one, the server's start-up value
// applies (createBaste `sessions`, `baste serve --refresh-token-expiration`, `--sliding-sessions`,
// `--session-idle-timeout`). A new lifetime applies to sessions opened after it; sliding and the
// idle timeout apply to every session at its next refresh.

import { BasteError } from '../errors.js';
import type { Store } from '../store/store.js';

/** The platform's bounds: 30 minutes to 5 years (its OpenAPI schema says 180 days; its text and UI say 5 years). */
export const REFRESH_EXPIRATION_MIN_SECONDS = 30 * 60;
export const REFRESH_EXPIRATION_MAX_SECONDS = 5 * 365 * 24 * 60 * 60;

/**
 * The idle timeout's bounds: an hour (twice the access-token lifetime, so a client in use, which
 * refreshes at least every 30 minutes, never idles out) to the lifetime's maximum; 0 turns it off.
 */
export const IDLE_TIMEOUT_MIN_SECONDS = 60 * 60;
export const IDLE_TIMEOUT_MAX_SECONDS = REFRESH_EXPIRATION_MAX_SECONDS;

export function requireIdleTimeout(value: unknown): number {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    (value !== 0 && (value < IDLE_TIMEOUT_MIN_SECONDS || value > IDLE_TIMEOUT_MAX_SECONDS))
  ) {
    throw new BasteError(
      'InvalidParameter',
      `idle_timeout_seconds must be 0 (no idle timeout) or a whole number of seconds from ${IDLE_TIMEOUT_MIN_SECONDS} (1 hour) to ${IDLE_TIMEOUT_MAX_SECONDS} (5 years)`,
    );
  }
  return value;
}

/** What `…/security/session_policy` shows and takes (a PUT may give either field alone). */
export interface SessionPolicyView {
  readonly sliding_expiration: boolean;
  readonly idle_timeout_seconds: number;
}

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

/** The server's start-up policy, until an operator sets one through the admin API. */
export interface SessionPolicyDefaults {
  readonly sliding?: boolean;
  readonly idleTimeoutSeconds?: number;
}

export class RefreshTokenExpiration {
  private cached: number;
  private cachedSliding: boolean;
  private cachedIdle: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    /** The lifetime until an operator sets one (60 days unless the server was started with another). */
    private readonly defaultSeconds: number,
    private readonly defaults: SessionPolicyDefaults = {},
  ) {
    this.cached = defaultSeconds;
    this.cachedSliding = defaults.sliding ?? false;
    this.cachedIdle = defaults.idleTimeoutSeconds ?? 0;
  }

  /** The lifetime new sessions get, as last read. */
  get seconds(): number {
    return this.cached;
  }

  /** Whether refreshes extend sessions, as last read. */
  get sliding(): boolean {
    return this.cachedSliding;
  }

  /** The idle timeout (0: none), as last read. */
  get idleTimeoutSeconds(): number {
    return this.cachedIdle;
  }

  /** Reads the store now; resolves to the lifetime. */
  async load(): Promise<number> {
    const [seconds, sliding, idle] = await Promise.all([
      this.store.getSetting('refreshTokenExpirationSeconds'),
      this.store.getSetting('sessionSliding'),
      this.store.getSetting('sessionIdleTimeoutSeconds'),
    ]);
    this.cached = seconds ?? this.defaultSeconds;
    this.cachedSliding = sliding ?? this.defaults.sliding ?? false;
    this.cachedIdle = idle ?? this.defaults.idleTimeoutSeconds ?? 0;
    return this.cached;
  }

  async set(value: unknown): Promise<number> {
    const seconds = requireRefreshExpiration(value);
    await this.store.putSetting('refreshTokenExpirationSeconds', seconds);
    this.cached = seconds;
    return seconds;
  }

  /** The sliding flag and idle timeout, read from the store. */
  async policy(): Promise<SessionPolicyView> {
    await this.load();
    return { sliding_expiration: this.cachedSliding, idle_timeout_seconds: this.cachedIdle };
  }

  /**
   * `PUT …/security/session_policy`: either field or both; anything else (an unknown field, a wrong
   * type, a value out of bounds, an empty body) is refused and nothing is changed.
   */
  async setPolicy(body: Record<string, unknown>): Promise<SessionPolicyView> {
    const unknown = Object.keys(body).filter((k) => k !== 'sliding_expiration' && k !== 'idle_timeout_seconds');
    if (unknown.length > 0) throw new BasteError('InvalidParameter', `unknown session policy field '${unknown[0]!.slice(0, 64)}'`);
    if (body.sliding_expiration === undefined && body.idle_timeout_seconds === undefined) {
      throw new BasteError('MissingParameter', 'sliding_expiration or idle_timeout_seconds is required');
    }
    if (body.sliding_expiration !== undefined && typeof body.sliding_expiration !== 'boolean') {
      throw new BasteError('InvalidParameter', 'sliding_expiration must be true or false');
    }
    const idle = body.idle_timeout_seconds === undefined ? undefined : requireIdleTimeout(body.idle_timeout_seconds);
    const sliding = body.sliding_expiration as boolean | undefined;
    if (sliding !== undefined) {
      await this.store.putSetting('sessionSliding', sliding);
      this.cachedSliding = sliding;
    }
    if (idle !== undefined) {
      await this.store.putSetting('sessionIdleTimeoutSeconds', idle);
      this.cachedIdle = idle;
    }
    return { sliding_expiration: this.cachedSliding, idle_timeout_seconds: this.cachedIdle };
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
