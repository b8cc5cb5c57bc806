// Every value the server assumes when its options (or `baste serve`'s flags) leave one unsaid, in
// one table so the code, `--help` and the README cannot drift apart. Durations are milliseconds
// throughout, whatever unit the option that overrides them is given in.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const DEFAULTS = {
  sessions: {
    accessTokenTtlMs: 30 * MINUTE,
    /** New sessions' lifetime until an operator sets one through the admin API. */
    refreshTokenTtlMs: 60 * DAY,
    /**
     * How often the operator's session settings are re-read from the store. A login reads the
     * cached value (a store round trip per login would cost the login path), so a change made on
     * another instance applies here within this long; on the instance that made it, at once.
     */
    settingsReloadMs: 10 * SECOND,
  },
  throttle: { maxFailuresPerAccount: 10, maxFailuresPerAddress: 100, windowMs: 15 * MINUTE },
  anonymousSweep: { inactiveMs: 90 * DAY, intervalMs: HOUR },
  functions: { timeoutMs: 120 * SECOND, memoryMb: 256, isolates: 2, maxIsolates: 8 },
  /** Slow or idle clients (http/connection-limits.ts); the most connections depends on the descriptor limit. */
  connections: { headersTimeoutMs: 10 * SECOND, requestTimeoutMs: 60 * SECOND, keepAliveTimeoutMs: 65 * SECOND },
  /** Largest request body on routes that set no limit of their own. */
  bodyLimitBytes: 18 * 1024 * 1024,
  /** `/readyz`: how long the store may take to answer before it counts as unavailable. */
  readinessTimeoutMs: 2 * SECOND,
  scheduledTriggers: { checkMs: SECOND },
  databaseTriggers: { pollMs: SECOND, leaseMs: 30 * SECOND },
  watch: {
    maxStreams: 5000,
    maxStreamsPerUser: 25,
    heartbeatMs: 20 * SECOND,
    pollMs: 50,
    maxBufferedBytes: 1024 * 1024,
    sessionCheckMs: 500,
  },
  /**
   * Page cache of each SQLite connection (the store's, the documents'), KiB. better-sqlite3 builds
   * SQLite with 16 MiB each, which a write-heavy load fills and keeps (issue 20: peak RSS); the
   * operating system's page cache still holds the file.
   */
  sqliteCacheKib: 4096,
  /** Custom-token and OpenID JWK sets: fetch budget and least time between refetches. */
  jwks: { timeoutMs: 5 * SECOND, cooldownMs: 5 * SECOND },
  /** Each call to Google, Facebook or Apple. */
  oauthTimeoutMs: 10 * SECOND,
} as const;

/** Whole seconds of a default, for options and flags given in seconds. */
export const seconds = (ms: number): number => Math.round(ms / SECOND);
