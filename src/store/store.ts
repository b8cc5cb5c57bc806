// The one storage interface for auth state. Every method is async so a networked backend
// (PostgreSQL) can implement it as well as the embedded SQLite one. Times are epoch milliseconds.

/** Test hook: what a store's session cache (src/store/session-cache.ts) did (conformance tests observe per-user invalidation through it, not through timing). */
export interface SessionCacheStats {
  readonly hits: number;
  readonly misses: number;
  /** Fills not kept because their user or session was invalidated while they were read. */
  readonly staleFills: number;
  readonly size: number;
  /** False while the store cannot trust the cache (PostgreSQL: notification channel down): every lookup reads the database. */
  readonly live: boolean;
}

export type UserType = 'normal' | 'server';

export interface IdentityRecord {
  /** Provider-side id: the wire's `identities[].id`. */
  readonly externalId: string;
  readonly providerName: string;
  readonly providerType: string;
  readonly providerId: string;
  /** Metadata the provider gave at the last login (e.g. `{email}`). */
  readonly data: Record<string, unknown>;
  readonly createdAt: number;
}

export interface UserRecord {
  readonly id: string;
  readonly type: UserType;
  readonly disabled: boolean;
  readonly createdAt: number;
  readonly lastAuthAt: number;
  readonly identities: readonly IdentityRecord[];
}

export interface SessionRecord {
  readonly id: string;
  readonly userId: string;
  /** SHA-256 of the refresh token; the token itself is never stored. */
  readonly refreshHash: string;
  readonly deviceId: string;
  readonly providerName: string;
  readonly providerType: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** The API key a session was opened with, if any: disabling or deleting the key ends the session. */
  readonly apiKeyId?: string | null;
  /** Its login or latest refresh (the idle timeout counts from it); createdAt when absent. */
  readonly lastUsedAt?: number;
  /** The client address the login came from (as --trust-proxy decides), for the session lists. */
  readonly address?: string | null;
  /** A time no refresh moves the expiry past (a Custom JWT's `exp`, when its provider says so). */
  readonly expiryCap?: number | null;
}

export type ApiKeyKind = 'user' | 'server';

export interface ApiKeyRecord {
  readonly id: string;
  /** The owner for a user key; the key's own user (type `server`) for a server key. */
  readonly userId: string;
  readonly kind: ApiKeyKind;
  readonly name: string;
  /** SHA-256 of the key; the key itself is shown once at creation and never stored. */
  readonly keyHash: string;
  readonly disabled: boolean;
  readonly createdAt: number;
}

export type ApiKeyCreateOutcome = 'created' | 'name-taken' | 'limit-reached';

export interface DeviceRecord {
  readonly id: string;
  readonly userId: string;
  readonly platform?: string;
  readonly platformVersion?: string;
  readonly sdkVersion?: string;
  readonly appId?: string;
  readonly appVersion?: string;
  readonly lastSeenAt: number;
}

/** An email/password registration; becomes a user identity at its first login. */
export interface UserpassAccount {
  readonly id: string;
  readonly email: string;
  readonly passwordHash: string;
  readonly confirmed: boolean;
  readonly createdAt: number;
}

export type UserpassTokenKind = 'confirm' | 'reset';

export interface UserpassToken {
  /** The `tokenId` sent to the user. */
  readonly id: string;
  readonly accountId: string;
  readonly kind: UserpassTokenKind;
  /** SHA-256 of the `token`. */
  readonly tokenHash: string;
  readonly expiresAt: number;
}

export interface SigningKeyRecord {
  readonly kid: string;
  /** Base64 of the HMAC key. */
  readonly secret: string;
  readonly createdAt: number;
  /** Set when a newer key took over; tokens signed with this one stay valid until they expire. */
  readonly retiredAt: number | null;
}

export interface NewIdentity {
  readonly externalId: string;
  readonly providerName: string;
  readonly providerType: string;
  readonly providerId: string;
  readonly data: Record<string, unknown>;
}

/** A token a provider issued for an identity (Apple's refresh token): never shown, only revoked. */
export interface ProviderTokenRecord {
  readonly providerName: string;
  readonly externalId: string;
  readonly token: string;
}

export type LinkOutcome = 'linked' | 'already-linked' | 'taken';

/**
 * The password hash of an email/password account brought over without its password (App Services
 * never exports one): no password verifies against it, and a login is told to reset the password.
 */
export const PASSWORD_RESET_REQUIRED = '!reset-required';

/**
 * A user brought over from another server (`baste users import`), written as one unit: the user
 * with its own id, dates and state, its identities, and the email/password accounts behind its
 * `local-userpass` identities. Without `user`, only the accounts (pending registrations).
 */
export interface ImportedUser {
  readonly user: {
    readonly id: string;
    readonly type: UserType;
    readonly disabled: boolean;
    readonly createdAt: number;
    readonly lastAuthAt: number;
  } | null;
  readonly identities: readonly (NewIdentity & { readonly createdAt: number })[];
  readonly accounts: readonly UserpassAccount[];
}

/**
 * `imported`: something was written (a new user, or identities and accounts a known user lacked);
 * `unchanged`: everything was already there; `conflict`: nothing was written, and why.
 */
export type ImportOutcome = { readonly status: 'imported' | 'unchanged' } | { readonly status: 'conflict'; readonly reason: string };

/**
 * A browser OAuth redirect in flight (`GET …/auth/providers/{name}/login?redirect=…`): written when `/login?redirect=…` sends the
 * browser to the provider, taken (once) when the provider calls back. Kept in the store so any
 * instance can finish a flow another one started.
 */
export interface OAuthStateRecord {
  /** SHA-256 of the `state` we sent to the provider; the value itself is never stored. */
  readonly idHash: string;
  readonly providerName: string;
  /** The client's own `state`, echoed in the result fragment. */
  readonly clientState: string;
  /** Where the browser goes at the end, already checked against the provider's `redirect_uris`. */
  readonly redirectUri: string;
  /** Our callback URL as sent to the provider (the code exchange must repeat it exactly). */
  readonly callbackUrl: string;
  /** The client's device facts (login flows), as JSON-safe values. */
  readonly device: Readonly<Record<string, unknown>>;
  /** Link flows: the session whose user receives the identity. */
  readonly linkSessionId: string | null;
  /** PKCE `code_verifier` and OpenID Connect `nonce` of the authorization request. */
  readonly codeVerifier: string;
  readonly nonce: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** What the admin users list asks for: one page in id order, optionally filtered. */
export interface UserQuery {
  /** Only users whose id sorts after this one in the list's order (the last id of the previous page). */
  readonly after?: string;
  readonly limit: number;
  /** Highest id first (then `after` means ids below it). */
  readonly descending?: boolean;
  /** Only users with an identity of one of these provider types. */
  readonly providerTypes?: readonly string[];
  /** Only disabled (true) or enabled (false) users. */
  readonly disabled?: boolean;
  /** Case-insensitive substring of an identity's `email` or `name`, or the exact user id. */
  readonly search?: string;
}

/**
 * Settings an operator changes at run time through the admin API, kept in the store so every
 * instance sharing it sees them. Absent until first set (the app's default applies).
 */
export interface AppSettings {
  /** Lifetime of new sessions' refresh tokens, in seconds. */
  readonly refreshTokenExpirationSeconds: number;
  /** Whether each refresh extends a session's lifetime (from that refresh). */
  readonly sessionSliding: boolean;
  /** A session not refreshed for this long ends (0: never), in seconds. */
  readonly sessionIdleTimeoutSeconds: number;
}

/** An operator's credential for the admin API: only its SHA-256 is kept. */
export interface AdminTokenRecord {
  readonly id: string;
  readonly name: string;
  readonly tokenHash: string;
  readonly createdAt: number;
}

/** One admin action: who did what to which target, and when. */
export interface AuditEntry {
  readonly id: string;
  readonly at: number;
  /** The admin token's id (or `cli` for the command line) and its name. */
  readonly actorId: string;
  readonly actorName: string;
  /** e.g. `user.disable`, `api_key.create`. */
  readonly action: string;
  /** What the action applied to: a user id, an email, an API key id. */
  readonly target: string;
  /** Facts worth keeping with it (never a secret). */
  readonly details: Record<string, unknown>;
}

/** Session joined with the state of its user: what every access-token check needs. */
export interface ActiveSession {
  readonly session: SessionRecord;
  readonly userDisabled: boolean;
}

/** A session about to open on a device, for a user the store resolves: written with the login. */
export interface SessionOpening {
  readonly session: Omit<SessionRecord, 'userId'>;
  readonly device: Omit<DeviceRecord, 'userId'>;
}

export interface Store {
  /**
   * Find the user owning the identity (refreshing its data and last login) or create user and
   * identity, atomically. With `open`, the device and session are written in the same commit
   * (one fsync per login), unless the user is disabled: then nothing is written.
   */
  loginIdentity(input: {
    identity: NewIdentity;
    newUserId: string;
    userType: UserType;
    now: number;
    open?: SessionOpening;
  }): Promise<{ userId: string; created: boolean; disabled: boolean }>;
  /** Attach an identity to an existing user unless another user owns it. */
  linkIdentity(userId: string, identity: NewIdentity, now: number): Promise<LinkOutcome>;
  getUser(id: string): Promise<UserRecord | null>;
  findIdentityOwner(providerName: string, externalId: string): Promise<{ userId: string } | null>;
  setUserDisabled(id: string, disabled: boolean): Promise<boolean>;
  /** Removes the user with its identities, sessions, devices and email/password accounts. */
  deleteUser(id: string): Promise<boolean>;
  /** Deletes users whose only identities are anonymous and who were last active before `before`. */
  deleteInactiveAnonymousUsers(before: number): Promise<number>;

  createSession(session: SessionRecord): Promise<void>;
  /** Records the device (insert or update) and creates the session, in one commit. */
  openSession(session: SessionRecord, device: DeviceRecord): Promise<void>;
  /**
   * May come from the session cache, as findSession (its `lastUsedAt` may lag another instance's
   * refresh); with `fresh`, read from the database (and the cache refilled with it).
   */
  findSessionByRefreshHash(hash: string, opts?: { fresh?: boolean }): Promise<ActiveSession | null>;
  /**
   * May come from a cache. Every change is read at once by the instance that made it; on other
   * instances sharing the database, the session's `lastUsedAt` and the user's `lastAuthAt` may lag
   * a touchSession that did not move the expiry (nothing that checks a session relies on them: the
   * idle timeout is decided on a fresh read; read listSessionsOfUser / getUser for those).
   * Everything else reaches every instance within 100 ms.
   */
  findSession(id: string): Promise<ActiveSession | null>;
  /** The session with its user and identities, read together (one round trip on PostgreSQL); cached as findSession. */
  findSessionWithUser(id: string): Promise<{ active: ActiveSession; user: UserRecord } | null>;
  /** Marks user and session as used now (refresh); with `expiresAt`, the session's expiry moves there (sliding lifetime). */
  touchSession(sessionId: string, userId: string, now: number, expiresAt?: number): Promise<void>;
  deleteSession(id: string): Promise<boolean>;
  /** Deletes one session when it is the user's (per-session revocation); false otherwise. */
  deleteSessionOfUser(userId: string, sessionId: string): Promise<boolean>;
  deleteSessionsOfUser(userId: string): Promise<number>;
  /** Deletes sessions expired at `now`, and with `idleBefore` those last used before it (idle timeout). */
  deleteExpiredSessions(now: number, idleBefore?: number): Promise<number>;

  listDevices(userId: string): Promise<DeviceRecord[]>;

  /** Adds a user key unless the owner already has `limit` keys or one with that name. */
  createUserApiKey(key: ApiKeyRecord, limit: number): Promise<ApiKeyCreateOutcome>;
  /** Creates the server user with its `api-key` identity and the key, in one step. */
  createServerApiKey(key: ApiKeyRecord, identity: NewIdentity, limit: number): Promise<ApiKeyCreateOutcome>;
  listApiKeys(userId: string): Promise<ApiKeyRecord[]>;
  listServerApiKeys(): Promise<ApiKeyRecord[]>;
  findApiKeyByHash(hash: string): Promise<{ key: ApiKeyRecord; userDisabled: boolean } | null>;
  /** Ends the sessions the key opened when disabling. False when the user has no such key. */
  setApiKeyDisabled(userId: string, id: string, disabled: boolean): Promise<boolean>;
  /** Deletes the key and the sessions it opened; a server key takes its user along. */
  deleteApiKey(userId: string, id: string): Promise<boolean>;

  createUserpassAccount(account: UserpassAccount): Promise<'created' | 'exists'>;
  findUserpassAccountByEmail(email: string): Promise<UserpassAccount | null>;
  findUserpassAccount(id: string): Promise<UserpassAccount | null>;
  confirmUserpassAccount(id: string): Promise<void>;
  setUserpassPassword(id: string, passwordHash: string): Promise<void>;
  deleteUserpassAccount(id: string): Promise<void>;
  /** Replaces any earlier token of the same kind for the account. */
  putUserpassToken(token: UserpassToken): Promise<void>;
  /** Removes and returns the token when both id and hash match: a token works once, and a wrong guess burns nothing. */
  takeUserpassToken(id: string, tokenHash: string): Promise<UserpassToken | null>;

  /** Adds one hit to a fixed-window counter and returns the count in the current window. */
  hitCounter(key: string, windowMs: number, now: number): Promise<{ count: number; windowStart: number }>;
  readCounter(key: string, windowMs: number, now: number): Promise<{ count: number; windowStart: number }>;

  /** Housekeeping: drops counters whose window ended before `before`, and expired email/password tokens. */
  deleteStaleCounters(before: number): Promise<number>;
  deleteExpiredUserpassTokens(now: number): Promise<number>;

  /**
   * Keeps the token a provider issued for an identity (one per identity, the latest), to revoke it
   * when the user is deleted; it goes with the identity. Nothing happens when the identity is gone.
   */
  putProviderToken(providerName: string, externalId: string, token: string, now: number): Promise<void>;
  /** The kept provider tokens of a user's identities. */
  providerTokensOfUser(userId: string): Promise<ProviderTokenRecord[]>;

  /** Records an OAuth redirect in flight. */
  putOAuthState(state: OAuthStateRecord): Promise<void>;
  /** Removes and returns the state unless it has expired (an expired one is removed too): a state works once. */
  takeOAuthState(idHash: string, now: number): Promise<OAuthStateRecord | null>;
  deleteExpiredOAuthStates(now: number): Promise<number>;

  listSigningKeys(): Promise<SigningKeyRecord[]>;
  /** Inserts a key and retires the others, in one step. */
  rotateSigningKey(key: SigningKeyRecord): Promise<void>;

  // Administration (admin API, `baste users`, the console).
  /** One page of users in id order, with their identities. */
  listUsers(query: UserQuery): Promise<UserRecord[]>;
  /** The user's sessions (expired ones included until swept), oldest first. */
  listSessionsOfUser(userId: string): Promise<SessionRecord[]>;
  /**
   * Writes an imported user (see ImportedUser) unless one of its identities belongs to another
   * user, or one of its accounts clashes with another (same id with another email, or same email
   * with another id): then nothing is written. What exists already is left as it is, so importing
   * the same user again changes nothing. With `dryRun`, the outcome is worked out and nothing is kept.
   */
  importUser(record: ImportedUser, opts?: { dryRun?: boolean }): Promise<ImportOutcome>;
  /** Email/password accounts whose password hash is PASSWORD_RESET_REQUIRED, in id order. */
  listAccountsAwaitingReset(query: { after?: string; limit: number }): Promise<UserpassAccount[]>;
  /** Email/password registrations that no user holds yet (pending confirmation or first login), in id order. */
  listPendingUserpassAccounts(query: { after?: string; limit: number }): Promise<UserpassAccount[]>;
  createAdminToken(token: AdminTokenRecord): Promise<void>;
  findAdminTokenByHash(hash: string): Promise<AdminTokenRecord | null>;
  listAdminTokens(): Promise<AdminTokenRecord[]>;
  deleteAdminToken(id: string): Promise<boolean>;
  appendAuditEntry(entry: AuditEntry): Promise<void>;
  /** A setting's value, or null when it was never set. */
  getSetting<K extends keyof AppSettings>(name: K): Promise<AppSettings[K] | null>;
  putSetting<K extends keyof AppSettings>(name: K, value: AppSettings[K]): Promise<void>;
  /** Newest first; `after` is the id of the last entry of the previous page. */
  listAuditEntries(query: { after?: string; limit: number }): Promise<AuditEntry[]>;

  // Scheduled triggers: one row per trigger and tick, so instances sharing the store run each tick once.
  /**
   * Claims a trigger's tick (epoch ms): true for the one claim that inserts the row, false for
   * every later one, from any instance. `ran` says whether the claimer runs the function (false
   * for a start-up baseline or skipped catch-up).
   */
  claimScheduledTick(trigger: string, tick: number, claimedAt: number, ran: boolean): Promise<boolean>;
  /** The latest tick claimed for the trigger, or null when none ever was. */
  lastScheduledTick(trigger: string): Promise<number | null>;
  /** Drops the trigger's claims of ticks before `before`, always keeping its latest. */
  pruneScheduledTicks(trigger: string, before: number): Promise<number>;

  // Database triggers: a row per trigger holds where it is in its change stream and which instance
  // holds its lease, so instances sharing the store deliver each event once, in order.
  /** Every database trigger's state (admin API, validate). */
  listDatabaseTriggers(): Promise<DatabaseTriggerState[]>;
  /** Creates the trigger's row when missing, starting at `position`; returns the stored row. */
  initDatabaseTrigger(trigger: string, init: { source: string; position: string; disabled: boolean }): Promise<DatabaseTriggerState>;
  /**
   * Moves the trigger to another source or position, or records it (un)disabled (start-up, resume);
   * frees its lease, so an instance delivering from the old position stops at its next step.
   */
  resetDatabaseTrigger(trigger: string, change: { source: string; position: string; disabled: boolean }): Promise<void>;
  /** Takes the trigger's lease until `until` when it is free, expired or already `owner`'s; the row, or null when another instance holds it. */
  leaseDatabaseTrigger(trigger: string, owner: string, now: number, until: number): Promise<DatabaseTriggerState | null>;
  /** Records progress under the lease (and extends it); false when the lease was lost, and then nothing is written. */
  advanceDatabaseTrigger(trigger: string, owner: string, progress: TriggerProgress): Promise<boolean>;
  /** Gives the lease up, so another instance may take the trigger at once. */
  releaseDatabaseTrigger(trigger: string, owner: string): Promise<void>;

  // Runs of scheduled and authentication triggers, and database triggers' delivery failures (a
  // broken change stream): a row per trigger, so every instance's admin API shows the same.
  /** Counts a run (`ran`) and/or a failure (`error`) at `at`; the latest time wins, whatever order concurrent records commit in. */
  recordTriggerRun(trigger: string, run: { at: number; ran: boolean; error?: string }): Promise<void>;
  /** Every trigger's recorded runs and last failure. */
  listTriggerRuns(): Promise<TriggerRunState[]>;

  /**
   * Test hook: what the store's session cache (src/store/session-cache.ts) did, or absent when it
   * keeps none. Per-user invalidation is observed through it.
   */
  sessionCacheStats?(): SessionCacheStats;

  close(): Promise<void>;
}

export interface DatabaseTriggerState {
  readonly trigger: string;
  /** What it watches (`embedded:<db>.<coll>`, `mongodb:<service>:<db>.<coll>`): a change restarts it at the end. */
  readonly source: string;
  /** Where it is: the last delivered seq (embedded), or the last resume token as EJSON (MongoDB; '' none). */
  readonly position: string;
  readonly disabled: boolean;
  readonly leaseOwner: string | null;
  readonly leaseUntil: number;
  readonly lastRunAt: number | null;
  readonly lastErrorAt: number | null;
  readonly lastError: string | null;
  readonly delivered: number;
  readonly failed: number;
}

export interface TriggerRunState {
  readonly trigger: string;
  readonly runs: number;
  readonly failed: number;
  readonly lastRunAt: number | null;
  readonly lastErrorAt: number | null;
  readonly lastError: string | null;
}

export interface TriggerProgress {
  readonly position: string;
  readonly leaseUntil: number;
  /** Events run (successfully or not) and failed in this step, and when. */
  readonly ran: number;
  readonly failed: number;
  readonly at: number;
  readonly lastError?: string;
}
