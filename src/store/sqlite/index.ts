// Embedded store on better-sqlite3 (WAL, synchronous = FULL so a committed write survives a kill -9
// and a power loss). better-sqlite3 is synchronous; reads run at the call. Every write is atomic
// and goes through group commit (src/util/sqlite-group-commit.ts): writes issued in the same turn
// of the event loop (concurrent requests) commit together, one fsync for all, each in its own
// savepoint; a write's promise resolves after that commit.

import Database from 'better-sqlite3';
import type {
  ActiveSession,
  AdminTokenRecord,
  ApiKeyCreateOutcome,
  AppSettings,
  SessionOpening,
  ApiKeyRecord,
  AuditEntry,
  DatabaseTriggerState,
  TriggerRunState,
  DeviceRecord,
  ImportedUser,
  ImportOutcome,
  LinkOutcome,
  NewIdentity,
  OAuthStateRecord,
  ProviderTokenRecord,
  SessionRecord,
  SigningKeyRecord,
  Store,
  TriggerProgress,
  UserpassAccount,
  UserpassToken,
  UserQuery,
  UserRecord,
  UserType,
} from '../store.js';
import { likeSubstring } from '../like.js';
import {
  flag,
  toAccount,
  toActive,
  toAdminToken,
  toApiKey,
  toAuditEntry,
  toDevice,
  toIdentity,
  toOAuthState,
  toSession,
  toSigningKey,
  toUser,
  toUserpassToken,
  type Row,
  toDatabaseTrigger,
  toTriggerRun,
} from '../rows.js';
import { GroupCommit } from '../../util/sqlite-group-commit.js';
import { planImport, writesSomething } from '../import-plan.js';
import { PASSWORD_RESET_REQUIRED } from '../store.js';
import type { DatabaseOwner } from '../owner.js';
import { claimFile } from './owner.js';
import { MIGRATIONS } from './schema.js';
import { SessionCache, type SessionCacheStats, type SessionWithUser } from '../session-cache.js';

/**
 * With `owner`, the file is claimed for that app on first open, and opening a file another app
 * claimed fails with DatabaseOwnedError (src/store/owner.ts); without it nothing is checked.
 */
export function openSqliteStore(file: string, opts: { owner?: DatabaseOwner } = {}): Store {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  try {
    // Before migrating, so a refused app changes nothing.
    if (opts.owner) claimFile(db, file, opts.owner);
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return new SqliteStore(db);
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
  );
  MIGRATIONS.forEach((sql, i) => {
    const version = i + 1;
    if (applied.has(version)) return;
    db.transaction(() => {
      db.exec(sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(version, Date.now());
    }).immediate();
  });
}

/** The named parameters of insertSession. */
const sessionParams = (s: SessionRecord) => ({
  ...s,
  apiKeyId: s.apiKeyId ?? null,
  lastUsedAt: s.lastUsedAt ?? s.createdAt,
  address: s.address ?? null,
  expiryCap: s.expiryCap ?? null,
});

class SqliteStore implements Store {
  private readonly q;
  private readonly batches: GroupCommit;
  private readonly sessions = new SessionCache();
  private readonly dataVersion: () => number;
  private lastDataVersion: number;

  constructor(private readonly db: Database.Database) {
    this.batches = new GroupCommit(db);
    const dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.dataVersion = () => dataVersion.get() as number;
    this.lastDataVersion = this.dataVersion();
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      identity: p('SELECT user_id FROM identities WHERE provider_name = ? AND external_id = ?'),
      identityOwner: p(
        'SELECT i.user_id, u.disabled FROM identities i JOIN users u ON u.id = i.user_id WHERE i.provider_name = ? AND i.external_id = ?',
      ),
      refreshIdentity: p('UPDATE identities SET data = ? WHERE provider_name = ? AND external_id = ?'),
      touchUser: p('UPDATE users SET last_auth_at = ? WHERE id = ?'),
      insertUser: p('INSERT INTO users (id, type, disabled, created_at, last_auth_at) VALUES (?, ?, 0, ?, ?)'),
      insertIdentity: p(
        `INSERT INTO identities (provider_name, external_id, user_id, provider_type, provider_id, data, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      user: p('SELECT * FROM users WHERE id = ?'),
      identitiesOf: p('SELECT * FROM identities WHERE user_id = ? ORDER BY created_at, rowid'),
      setDisabled: p('UPDATE users SET disabled = ? WHERE id = ?'),
      deleteUser: p('DELETE FROM users WHERE id = ?'),
      userpassIdsOf: p(`SELECT external_id FROM identities WHERE user_id = ? AND provider_type = 'local-userpass'`),
      deleteAccount: p('DELETE FROM userpass_accounts WHERE id = ?'),
      staleAnonymous: p(
        `SELECT u.id FROM users u WHERE u.last_auth_at < ?
           AND EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id)
           AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id AND i.provider_type <> 'anon-user')`,
      ),
      insertSession: p(
        `INSERT INTO sessions (id, user_id, refresh_hash, device_id, provider_name, provider_type, created_at, expires_at, api_key_id, last_used_at, address, expiry_cap)
         VALUES (@id, @userId, @refreshHash, @deviceId, @providerName, @providerType, @createdAt, @expiresAt, @apiKeyId, @lastUsedAt, @address, @expiryCap)`,
      ),
      sessionByHash: p(
        'SELECT s.*, u.disabled AS user_disabled FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.refresh_hash = ?',
      ),
      sessionById: p(
        'SELECT s.*, u.disabled AS user_disabled FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?',
      ),
      deleteSession: p('DELETE FROM sessions WHERE id = ?'),
      deleteSessionsOf: p('DELETE FROM sessions WHERE user_id = ?'),
      deleteSessionOfUser: p('DELETE FROM sessions WHERE id = ? AND user_id = ? RETURNING id').pluck(),
      deleteExpired: p('DELETE FROM sessions WHERE expires_at <= ? RETURNING id').pluck(),
      deleteIdle: p('DELETE FROM sessions WHERE last_used_at < ? RETURNING id').pluck(),
      touchSession: p('UPDATE sessions SET last_used_at = ?, expires_at = COALESCE(?, expires_at) WHERE id = ?'),
      upsertDevice: p(
        `INSERT INTO devices (id, user_id, platform, platform_version, sdk_version, app_id, app_version, last_seen_at)
         VALUES (@id, @userId, @platform, @platformVersion, @sdkVersion, @appId, @appVersion, @lastSeenAt)
         ON CONFLICT (id, user_id) DO UPDATE SET platform = excluded.platform,
           platform_version = excluded.platform_version, sdk_version = excluded.sdk_version,
           app_id = excluded.app_id, app_version = excluded.app_version, last_seen_at = excluded.last_seen_at`,
      ),
      devicesOf: p('SELECT * FROM devices WHERE user_id = ? ORDER BY last_seen_at DESC'),
      insertAccount: p(
        `INSERT INTO userpass_accounts (id, email, password_hash, confirmed, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (email) DO NOTHING`,
      ),
      accountByEmail: p('SELECT * FROM userpass_accounts WHERE email = ?'),
      accountById: p('SELECT * FROM userpass_accounts WHERE id = ?'),
      confirmAccount: p('UPDATE userpass_accounts SET confirmed = 1 WHERE id = ?'),
      setPassword: p('UPDATE userpass_accounts SET password_hash = ? WHERE id = ?'),
      putToken: p(
        `INSERT INTO userpass_tokens (id, account_id, kind, token_hash, expires_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (account_id, kind) DO UPDATE SET id = excluded.id, token_hash = excluded.token_hash,
           expires_at = excluded.expires_at`,
      ),
      takeToken: p('DELETE FROM userpass_tokens WHERE id = ? AND token_hash = ? RETURNING *'),
      counter: p('SELECT window_start, count FROM counters WHERE key = ?'),
      setCounter: p(
        `INSERT INTO counters (key, window_start, count) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET window_start = excluded.window_start, count = excluded.count`,
      ),
      staleCounters: p('DELETE FROM counters WHERE window_start < ?'),
      expiredTokens: p('DELETE FROM userpass_tokens WHERE expires_at <= ?'),
      keys: p('SELECT * FROM signing_keys ORDER BY created_at'),
      countKeysOf: p('SELECT COUNT(*) AS n FROM api_keys WHERE user_id = ?'),
      countServerKeys: p(`SELECT COUNT(*) AS n FROM api_keys WHERE kind = 'server'`),
      keyNamedOf: p('SELECT 1 FROM api_keys WHERE user_id = ? AND name = ?'),
      serverKeyNamed: p(`SELECT 1 FROM api_keys WHERE kind = 'server' AND name = ?`),
      insertApiKey: p(
        `INSERT INTO api_keys (id, user_id, kind, name, key_hash, disabled, created_at)
         VALUES (@id, @userId, @kind, @name, @keyHash, @disabled, @createdAt)`,
      ),
      keysOf: p('SELECT * FROM api_keys WHERE user_id = ? ORDER BY created_at, rowid'),
      serverKeys: p(`SELECT * FROM api_keys WHERE kind = 'server' ORDER BY created_at, rowid`),
      keyByHash: p('SELECT k.*, u.disabled AS user_disabled FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?'),
      keyOf: p('SELECT * FROM api_keys WHERE user_id = ? AND id = ?'),
      setKeyDisabled: p('UPDATE api_keys SET disabled = ? WHERE user_id = ? AND id = ?'),
      deleteKey: p('DELETE FROM api_keys WHERE user_id = ? AND id = ?'),
      deleteSessionsOfKey: p('DELETE FROM sessions WHERE api_key_id = ?'),
      retireKeys: p('UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL'),
      insertKey: p('INSERT INTO signing_keys (kid, secret, created_at, retired_at) VALUES (?, ?, ?, ?)'),
      putOAuthState: p(
        `INSERT INTO oauth_states (id_hash, provider_name, client_state, redirect_uri, callback_url, device, link_session_id,
           code_verifier, nonce, created_at, expires_at)
         VALUES (@idHash, @providerName, @clientState, @redirectUri, @callbackUrl, @device, @linkSessionId,
           @codeVerifier, @nonce, @createdAt, @expiresAt)`,
      ),
      putProviderToken: p(
        `INSERT INTO provider_tokens (provider_name, external_id, token, updated_at)
         SELECT provider_name, external_id, ?, ? FROM identities WHERE provider_name = ? AND external_id = ?
         ON CONFLICT (provider_name, external_id) DO UPDATE SET token = excluded.token, updated_at = excluded.updated_at`,
      ),
      providerTokensOf: p(
        `SELECT t.provider_name, t.external_id, t.token FROM provider_tokens t
         JOIN identities i ON i.provider_name = t.provider_name AND i.external_id = t.external_id WHERE i.user_id = ?`,
      ),
      takeOAuthState: p('DELETE FROM oauth_states WHERE id_hash = ? RETURNING *'),
      expiredOAuthStates: p('DELETE FROM oauth_states WHERE expires_at <= ?'),
      sessionsOf: p('SELECT * FROM sessions WHERE user_id = ? ORDER BY created_at, rowid'),
      pendingAccounts: p(
        `SELECT a.* FROM userpass_accounts a WHERE a.id > ?
           AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.provider_type = 'local-userpass' AND i.external_id = a.id)
         ORDER BY a.id LIMIT ?`,
      ),
      awaitingReset: p('SELECT * FROM userpass_accounts WHERE password_hash = ? AND id > ? ORDER BY id LIMIT ?'),
      insertImportedUser: p('INSERT INTO users (id, type, disabled, created_at, last_auth_at) VALUES (?, ?, ?, ?, ?)'),
      insertAdminToken: p('INSERT INTO admin_tokens (id, name, token_hash, created_at) VALUES (@id, @name, @tokenHash, @createdAt)'),
      adminTokenByHash: p('SELECT * FROM admin_tokens WHERE token_hash = ?'),
      setting: p('SELECT value FROM app_settings WHERE name = ?').pluck(),
      putSetting: p('INSERT INTO app_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value'),
      adminTokens: p('SELECT * FROM admin_tokens ORDER BY created_at, rowid'),
      deleteAdminToken: p('DELETE FROM admin_tokens WHERE id = ?'),
      claimTick: p('INSERT INTO scheduled_ticks (trigger_name, tick, claimed_at, ran) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
      lastTick: p('SELECT MAX(tick) FROM scheduled_ticks WHERE trigger_name = ?').pluck(),
      pruneTicks: p(
        `DELETE FROM scheduled_ticks WHERE trigger_name = @trigger AND tick < @before
           AND tick < (SELECT MAX(tick) FROM scheduled_ticks WHERE trigger_name = @trigger)`,
      ),
      initTrigger: p('INSERT INTO database_triggers (trigger_name, source, position, disabled) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
      trigger: p('SELECT * FROM database_triggers WHERE trigger_name = ?'),
      triggers: p('SELECT * FROM database_triggers ORDER BY trigger_name'),
      resetTrigger: p('UPDATE database_triggers SET source = ?, position = ?, disabled = ?, lease_owner = NULL, lease_until = 0 WHERE trigger_name = ?'),
      recordRun: p(
        `INSERT INTO trigger_runs (trigger_name, runs, failed, last_run_at, last_error_at, last_error)
           VALUES (@trigger, @ran, @failed, CASE WHEN @ran > 0 THEN @at END, CASE WHEN @error IS NOT NULL THEN @at END, @error)
         ON CONFLICT (trigger_name) DO UPDATE SET runs = runs + @ran, failed = failed + @failed,
           last_run_at = CASE WHEN @ran > 0 THEN MAX(COALESCE(last_run_at, @at), @at) ELSE last_run_at END,
           last_error = CASE WHEN @error IS NOT NULL AND @at >= COALESCE(last_error_at, @at) THEN @error ELSE last_error END,
           last_error_at = CASE WHEN @error IS NOT NULL THEN MAX(COALESCE(last_error_at, @at), @at) ELSE last_error_at END`,
      ),
      triggerRuns: p('SELECT * FROM trigger_runs ORDER BY trigger_name'),
      leaseTrigger: p(
        `UPDATE database_triggers SET lease_owner = @owner, lease_until = @until
         WHERE trigger_name = @trigger AND (lease_owner IS NULL OR lease_owner = @owner OR lease_until < @now) RETURNING *`,
      ),
      advanceTrigger: p(
        `UPDATE database_triggers SET position = @position, lease_until = @leaseUntil, delivered = delivered + @ran, failed = failed + @failed,
           last_run_at = CASE WHEN @ran > 0 THEN @at ELSE last_run_at END,
           last_error_at = CASE WHEN @lastError IS NOT NULL THEN @at ELSE last_error_at END,
           last_error = COALESCE(@lastError, last_error)
         WHERE trigger_name = @trigger AND lease_owner = @owner`,
      ),
      releaseTrigger: p('UPDATE database_triggers SET lease_owner = NULL, lease_until = 0 WHERE trigger_name = ? AND lease_owner = ?'),
      insertAudit: p(
        `INSERT INTO audit_log (id, at, actor_id, actor_name, action, target, details)
         VALUES (@id, @at, @actorId, @actorName, @action, @target, @details)`,
      ),
      auditFirst: p('SELECT * FROM audit_log ORDER BY seq DESC LIMIT ?'),
      auditAfter: p('SELECT * FROM audit_log WHERE seq < (SELECT seq FROM audit_log WHERE id = ?) ORDER BY seq DESC LIMIT ?'),
    };
  }

  /**
   * Runs `run` atomically with the writes of the same turn of the event loop; settles after their commit.
   * A write that changes a user, its identities or its sessions drops exactly those from the session
   * cache (dropUser / dropSession) while it runs: reads are synchronous and a batch runs in one
   * synchronous flush, so every read after it misses, even before the commit resolves. A write
   * rolled back after dropping has only cost a read. Tables no cached record comes from (counters,
   * oauth_states, userpass_*, api_keys alone, devices, keys, admin tokens, audit log) drop nothing.
   */
  private write<T>(run: () => T): Promise<T> {
    return this.batches.write(run);
  }

  loginIdentity(input: { identity: NewIdentity; newUserId: string; userType: UserType; now: number; open?: SessionOpening }) {
    return this.write(() => {
      const { identity: id, newUserId, userType, now, open } = input;
      const found = this.q.identityOwner.get(id.providerName, id.externalId) as Row | undefined;
      let userId = newUserId;
      if (found) {
        userId = found.user_id as string;
        if (found.disabled === 1) return { userId, created: false, disabled: true };
        this.q.refreshIdentity.run(JSON.stringify(id.data), id.providerName, id.externalId);
        this.q.touchUser.run(now, userId);
        this.sessions.dropUser(userId);
      } else {
        this.q.insertUser.run(newUserId, userType, now, now);
        this.insertIdentity(newUserId, id, now);
      }
      if (open) this.openSessionNow({ ...open.session, userId }, { ...open.device, userId });
      return { userId, created: !found, disabled: false };
    });
  }

  private insertIdentity(userId: string, id: NewIdentity, now: number): void {
    this.q.insertIdentity.run(
      id.providerName,
      id.externalId,
      userId,
      id.providerType,
      id.providerId,
      JSON.stringify(id.data),
      now,
    );
  }

  linkIdentity(userId: string, identity: NewIdentity, now: number): Promise<LinkOutcome> {
    return this.write((): LinkOutcome => {
      const found = this.q.identity.get(identity.providerName, identity.externalId) as Row | undefined;
      if (found) return found.user_id === userId ? 'already-linked' : 'taken';
      this.insertIdentity(userId, identity, now);
      this.q.touchUser.run(now, userId);
      this.sessions.dropUser(userId);
      return 'linked';
    });
  }

  async getUser(id: string): Promise<UserRecord | null> {
    const r = this.q.user.get(id) as Row | undefined;
    return r ? this.withIdentities(r) : null;
  }

  private withIdentities(r: Row): UserRecord {
    return toUser(r, (this.q.identitiesOf.all(r.id) as Row[]).map(toIdentity));
  }

  async findIdentityOwner(providerName: string, externalId: string) {
    const r = this.q.identity.get(providerName, externalId) as Row | undefined;
    return r ? { userId: r.user_id as string } : null;
  }

  setUserDisabled(id: string, disabled: boolean): Promise<boolean> {
    return this.write(() => {
      const changed = this.q.setDisabled.run(disabled ? 1 : 0, id).changes > 0;
      if (changed && disabled) this.q.deleteSessionsOf.run(id);
      if (changed) this.sessions.dropUser(id);
      return changed;
    });
  }

  deleteUser(id: string): Promise<boolean> {
    return this.write(() => this.deleteUserNow(id));
  }

  private deleteUserNow(id: string): boolean {
    this.sessions.dropUser(id);
    for (const r of this.q.userpassIdsOf.all(id) as Row[]) this.q.deleteAccount.run(r.external_id);
    return this.q.deleteUser.run(id).changes > 0;
  }

  deleteInactiveAnonymousUsers(before: number): Promise<number> {
    return this.write(() => {
      const ids = (this.q.staleAnonymous.all(before) as Row[]).map((r) => r.id as string);
      for (const id of ids) this.deleteUserNow(id);
      return ids.length;
    });
  }

  createSession(session: SessionRecord): Promise<void> {
    return this.write(() => {
      this.q.insertSession.run(sessionParams(session));
    });
  }

  openSession(session: SessionRecord, device: DeviceRecord): Promise<void> {
    return this.write(() => this.openSessionNow(session, device));
  }

  private openSessionNow(session: SessionRecord, device: DeviceRecord): void {
    this.upsertDeviceNow(device);
    this.q.insertSession.run(sessionParams(session));
  }

  createUserApiKey(key: ApiKeyRecord, limit: number): Promise<ApiKeyCreateOutcome> {
    return this.write((): ApiKeyCreateOutcome => {
      if ((this.q.countKeysOf.get(key.userId) as { n: number }).n >= limit) return 'limit-reached';
      if (this.q.keyNamedOf.get(key.userId, key.name)) return 'name-taken';
      this.insertApiKey(key);
      return 'created';
    });
  }

  createServerApiKey(key: ApiKeyRecord, identity: NewIdentity, limit: number): Promise<ApiKeyCreateOutcome> {
    return this.write((): ApiKeyCreateOutcome => {
      if ((this.q.countServerKeys.get() as { n: number }).n >= limit) return 'limit-reached';
      if (this.q.serverKeyNamed.get(key.name)) return 'name-taken';
      this.q.insertUser.run(key.userId, 'server', key.createdAt, key.createdAt);
      this.insertIdentity(key.userId, identity, key.createdAt);
      this.insertApiKey(key);
      return 'created';
    });
  }

  private insertApiKey(key: ApiKeyRecord): void {
    this.q.insertApiKey.run({ ...key, disabled: key.disabled ? 1 : 0 });
  }

  async listApiKeys(userId: string): Promise<ApiKeyRecord[]> {
    return (this.q.keysOf.all(userId) as Row[]).map(toApiKey);
  }

  async listServerApiKeys(): Promise<ApiKeyRecord[]> {
    return (this.q.serverKeys.all() as Row[]).map(toApiKey);
  }

  async findApiKeyByHash(hash: string) {
    const r = this.q.keyByHash.get(hash) as Row | undefined;
    return r ? { key: toApiKey(r), userDisabled: flag(r.user_disabled) } : null;
  }

  setApiKeyDisabled(userId: string, id: string, disabled: boolean): Promise<boolean> {
    return this.write(() => {
      const changed = this.q.setKeyDisabled.run(disabled ? 1 : 0, userId, id).changes > 0;
      // The key's sessions are its owner's: dropping the owner covers them.
      if (changed && disabled && this.q.deleteSessionsOfKey.run(id).changes > 0) this.sessions.dropUser(userId);
      return changed;
    });
  }

  deleteApiKey(userId: string, id: string): Promise<boolean> {
    return this.write(() => {
      const r = this.q.keyOf.get(userId, id) as Row | undefined;
      if (!r) return false;
      this.q.deleteKey.run(userId, id);
      if (this.q.deleteSessionsOfKey.run(id).changes > 0) this.sessions.dropUser(userId);
      if (r.kind === 'server') this.deleteUserNow(userId);
      return true;
    });
  }

  async findSessionByRefreshHash(hash: string): Promise<ActiveSession | null> {
    return toActive(this.q.sessionByHash.get(hash) as Row | undefined);
  }

  async findSession(id: string): Promise<ActiveSession | null> {
    // A miss fills the cache with the user too (~23 µs instead of ~7 µs for the session alone), so
    // the next lookup of a session in use, either kind, is a ~1.5 µs hit.
    return this.sessionWithUser(id)?.active ?? null;
  }

  async findSessionWithUser(id: string): Promise<{ active: ActiveSession; user: UserRecord } | null> {
    return this.sessionWithUser(id);
  }

  /** Through the session cache (session-cache.ts); the records returned are frozen and shared. */
  private sessionWithUser(id: string): SessionWithUser | null {
    // `PRAGMA data_version` changes when another connection (the CLI, any process) has committed
    // to the file since the last read: what it changed is unknown, so everything goes. Read before
    // the rows, so an entry is never older than the version it was checked against.
    const version = this.dataVersion();
    if (version !== this.lastDataVersion) {
      this.sessions.clear();
      this.lastDataVersion = version;
    }
    const cached = this.sessions.get(id);
    if (cached) return cached;
    const since = this.sessions.begin();
    // Synchronous statements on one connection: nothing is written between the reads.
    const active = toActive(this.q.sessionById.get(id) as Row | undefined);
    const user = active && (this.q.user.get(active.session.userId) as Row | undefined);
    return active && user ? this.sessions.set(id, { active, user: this.withIdentities(user) }, since) : null;
  }

  sessionCacheStats(): SessionCacheStats {
    return this.sessions.stats();
  }

  touchSession(sessionId: string, userId: string, now: number, expiresAt?: number): Promise<void> {
    return this.write(() => {
      this.q.touchUser.run(now, userId);
      this.q.touchSession.run(now, expiresAt ?? null, sessionId);
      this.sessions.dropUser(userId);
    });
  }

  deleteSession(id: string): Promise<boolean> {
    return this.write(() => {
      this.sessions.dropSession(id);
      return this.q.deleteSession.run(id).changes > 0;
    });
  }

  deleteSessionsOfUser(userId: string): Promise<number> {
    return this.write(() => {
      this.sessions.dropUser(userId);
      return this.q.deleteSessionsOf.run(userId).changes;
    });
  }

  deleteSessionOfUser(userId: string, sessionId: string): Promise<boolean> {
    return this.write(() => {
      const ids = this.q.deleteSessionOfUser.all(sessionId, userId) as string[];
      for (const id of ids) this.sessions.dropSession(id);
      return ids.length > 0;
    });
  }

  deleteExpiredSessions(now: number, idleBefore?: number): Promise<number> {
    return this.write(() => {
      const ids = [...(this.q.deleteExpired.all(now) as string[]), ...(idleBefore === undefined ? [] : (this.q.deleteIdle.all(idleBefore) as string[]))];
      for (const id of ids) this.sessions.dropSession(id);
      return ids.length;
    });
  }

  private upsertDeviceNow(d: DeviceRecord): void {
    this.q.upsertDevice.run({
      id: d.id,
      userId: d.userId,
      platform: d.platform ?? null,
      platformVersion: d.platformVersion ?? null,
      sdkVersion: d.sdkVersion ?? null,
      appId: d.appId ?? null,
      appVersion: d.appVersion ?? null,
      lastSeenAt: d.lastSeenAt,
    });
  }

  async listDevices(userId: string): Promise<DeviceRecord[]> {
    return (this.q.devicesOf.all(userId) as Row[]).map(toDevice);
  }

  createUserpassAccount(a: UserpassAccount): Promise<'created' | 'exists'> {
    return this.write(() => {
      const r = this.q.insertAccount.run(a.id, a.email, a.passwordHash, a.confirmed ? 1 : 0, a.createdAt);
      return r.changes > 0 ? 'created' : 'exists';
    });
  }

  async findUserpassAccountByEmail(email: string): Promise<UserpassAccount | null> {
    const r = this.q.accountByEmail.get(email) as Row | undefined;
    return r ? toAccount(r) : null;
  }

  async findUserpassAccount(id: string): Promise<UserpassAccount | null> {
    const r = this.q.accountById.get(id) as Row | undefined;
    return r ? toAccount(r) : null;
  }

  confirmUserpassAccount(id: string): Promise<void> {
    return this.write(() => {
      this.q.confirmAccount.run(id);
    });
  }

  setUserpassPassword(id: string, passwordHash: string): Promise<void> {
    return this.write(() => {
      this.q.setPassword.run(passwordHash, id);
    });
  }

  deleteUserpassAccount(id: string): Promise<void> {
    return this.write(() => {
      this.q.deleteAccount.run(id);
    });
  }

  putUserpassToken(t: UserpassToken): Promise<void> {
    return this.write(() => {
      this.q.putToken.run(t.id, t.accountId, t.kind, t.tokenHash, t.expiresAt);
    });
  }

  takeUserpassToken(id: string, tokenHash: string): Promise<UserpassToken | null> {
    return this.write(() => {
      const r = this.q.takeToken.get(id, tokenHash) as Row | undefined;
      return r ? toUserpassToken(r) : null;
    });
  }

  hitCounter(key: string, windowMs: number, now: number) {
    return this.write(() => {
      const current = this.currentWindow(key, windowMs, now);
      const next = { windowStart: current.windowStart, count: current.count + 1 };
      this.q.setCounter.run(key, next.windowStart, next.count);
      return next;
    });
  }

  async readCounter(key: string, windowMs: number, now: number) {
    return this.currentWindow(key, windowMs, now);
  }

  private currentWindow(key: string, windowMs: number, now: number) {
    const r = this.q.counter.get(key) as Row | undefined;
    if (!r || (r.window_start as number) + windowMs <= now) return { windowStart: now, count: 0 };
    return { windowStart: r.window_start as number, count: r.count as number };
  }

  deleteStaleCounters(before: number): Promise<number> {
    return this.write(() => this.q.staleCounters.run(before).changes);
  }

  deleteExpiredUserpassTokens(now: number): Promise<number> {
    return this.write(() => this.q.expiredTokens.run(now).changes);
  }

  putProviderToken(providerName: string, externalId: string, token: string, now: number): Promise<void> {
    return this.write(() => {
      this.q.putProviderToken.run(token, now, providerName, externalId);
    });
  }

  async providerTokensOfUser(userId: string): Promise<ProviderTokenRecord[]> {
    return (this.q.providerTokensOf.all(userId) as Row[]).map((r) => ({
      providerName: r.provider_name as string,
      externalId: r.external_id as string,
      token: r.token as string,
    }));
  }

  putOAuthState(state: OAuthStateRecord): Promise<void> {
    return this.write(() => {
      this.q.putOAuthState.run({ ...state, device: JSON.stringify(state.device) });
    });
  }

  takeOAuthState(idHash: string, now: number): Promise<OAuthStateRecord | null> {
    return this.write(() => {
      const r = this.q.takeOAuthState.get(idHash) as Row | undefined;
      if (!r || (r.expires_at as number) <= now) return null;
      return toOAuthState(r);
    });
  }

  deleteExpiredOAuthStates(now: number): Promise<number> {
    return this.write(() => this.q.expiredOAuthStates.run(now).changes);
  }

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    return (this.q.keys.all() as Row[]).map(toSigningKey);
  }

  rotateSigningKey(key: SigningKeyRecord): Promise<void> {
    return this.write(() => {
      this.q.retireKeys.run(key.createdAt);
      this.q.insertKey.run(key.kid, key.secret, key.createdAt, key.retiredAt);
    });
  }

  async listUsers(query: UserQuery): Promise<UserRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.after !== undefined) {
      where.push(query.descending ? 'u.id < ?' : 'u.id > ?');
      params.push(query.after);
    }
    if (query.providerTypes !== undefined) {
      where.push(`EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id AND i.provider_type IN (SELECT value FROM json_each(?)))`);
      params.push(JSON.stringify(query.providerTypes));
    }
    if (query.disabled !== undefined) {
      where.push('u.disabled = ?');
      params.push(query.disabled ? 1 : 0);
    }
    if (query.search !== undefined) {
      where.push(
        `(u.id = ? OR EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id
           AND (json_extract(i.data, '$.email') LIKE ? ESCAPE '\\' OR json_extract(i.data, '$.name') LIKE ? ESCAPE '\\')))`,
      );
      const pattern = likeSubstring(query.search);
      params.push(query.search, pattern, pattern);
    }
    const sql = `SELECT u.* FROM users u ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY u.id ${query.descending ? 'DESC' : ''} LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, query.limit) as Row[];
    return rows.map((r) => this.withIdentities(r));
  }

  async listSessionsOfUser(userId: string): Promise<SessionRecord[]> {
    return (this.q.sessionsOf.all(userId) as Row[]).map(toSession);
  }

  importUser(record: ImportedUser, opts: { dryRun?: boolean } = {}): Promise<ImportOutcome> {
    // A dry run throws its outcome out of the write: its savepoint rolls back, and nothing is kept.
    const dryRun = Symbol('dry run');
    const attempt = this.write((): ImportOutcome => {
      const plan = planImport(record, {
        userExists: record.user !== null && this.q.user.get(record.user.id) !== undefined,
        identityOwners: record.identities.map((i) => ((this.q.identity.get(i.providerName, i.externalId) as Row | undefined)?.user_id as string | undefined) ?? null),
        accountsById: record.accounts.map((a) => (this.q.accountById.get(a.id) as Row | undefined) ?? null).map((r) => (r ? toAccount(r) : null)),
        accountsByEmail: record.accounts.map((a) => (this.q.accountByEmail.get(a.email) as Row | undefined) ?? null).map((r) => (r ? toAccount(r) : null)),
      });
      if (plan.conflict !== null) return { status: 'conflict', reason: plan.conflict };
      const u = record.user;
      if (plan.insertUser && u) this.q.insertImportedUser.run(u.id, u.type, u.disabled ? 1 : 0, u.createdAt, u.lastAuthAt);
      if (u && plan.identities.length > 0) this.sessions.dropUser(u.id);
      for (const i of plan.identities) this.insertIdentity(u!.id, i, i.createdAt);
      for (const a of plan.accounts) this.q.insertAccount.run(a.id, a.email, a.passwordHash, a.confirmed ? 1 : 0, a.createdAt);
      const outcome: ImportOutcome = { status: writesSomething(plan) ? 'imported' : 'unchanged' };
      if (opts.dryRun) throw Object.assign(new Error('dry run'), { [dryRun]: outcome });
      return outcome;
    });
    return attempt.catch((err: unknown) => {
      const outcome = (err as Record<symbol, ImportOutcome> | null)?.[dryRun];
      if (outcome) return outcome;
      throw err;
    });
  }

  async listAccountsAwaitingReset(query: { after?: string; limit: number }): Promise<UserpassAccount[]> {
    return (this.q.awaitingReset.all(PASSWORD_RESET_REQUIRED, query.after ?? '', query.limit) as Row[]).map(toAccount);
  }

  async listPendingUserpassAccounts(query: { after?: string; limit: number }): Promise<UserpassAccount[]> {
    return (this.q.pendingAccounts.all(query.after ?? '', query.limit) as Row[]).map(toAccount);
  }

  createAdminToken(token: AdminTokenRecord): Promise<void> {
    return this.write(() => {
      this.q.insertAdminToken.run(token);
    });
  }

  async findAdminTokenByHash(hash: string): Promise<AdminTokenRecord | null> {
    const r = this.q.adminTokenByHash.get(hash) as Row | undefined;
    return r ? toAdminToken(r) : null;
  }

  async listAdminTokens(): Promise<AdminTokenRecord[]> {
    return (this.q.adminTokens.all() as Row[]).map(toAdminToken);
  }

  deleteAdminToken(id: string): Promise<boolean> {
    return this.write(() => this.q.deleteAdminToken.run(id).changes > 0);
  }

  appendAuditEntry(entry: AuditEntry): Promise<void> {
    return this.write(() => {
      this.q.insertAudit.run({ ...entry, details: JSON.stringify(entry.details) });
    });
  }

  async listAuditEntries(query: { after?: string; limit: number }): Promise<AuditEntry[]> {
    const rows = query.after === undefined ? this.q.auditFirst.all(query.limit) : this.q.auditAfter.all(query.after, query.limit);
    return (rows as Row[]).map(toAuditEntry);
  }

  async getSetting<K extends keyof AppSettings>(name: K): Promise<AppSettings[K] | null> {
    const value = this.q.setting.get(name) as string | undefined;
    return value === undefined ? null : (JSON.parse(value) as AppSettings[K]);
  }

  putSetting<K extends keyof AppSettings>(name: K, value: AppSettings[K]): Promise<void> {
    return this.write(() => {
      this.q.putSetting.run(name, JSON.stringify(value));
    });
  }

  claimScheduledTick(trigger: string, tick: number, claimedAt: number, ran: boolean): Promise<boolean> {
    return this.write(() => this.q.claimTick.run(trigger, tick, claimedAt, ran ? 1 : 0).changes > 0);
  }

  async lastScheduledTick(trigger: string): Promise<number | null> {
    return (this.q.lastTick.get(trigger) as number | null | undefined) ?? null;
  }

  pruneScheduledTicks(trigger: string, before: number): Promise<number> {
    return this.write(() => this.q.pruneTicks.run({ trigger, before }).changes);
  }

  async listDatabaseTriggers(): Promise<DatabaseTriggerState[]> {
    return (this.q.triggers.all() as Row[]).map(toDatabaseTrigger);
  }

  async initDatabaseTrigger(trigger: string, init: { source: string; position: string; disabled: boolean }): Promise<DatabaseTriggerState> {
    await this.write(() => this.q.initTrigger.run(trigger, init.source, init.position, init.disabled ? 1 : 0));
    return toDatabaseTrigger(this.q.trigger.get(trigger) as Row);
  }

  async resetDatabaseTrigger(trigger: string, change: { source: string; position: string; disabled: boolean }): Promise<void> {
    await this.write(() => this.q.resetTrigger.run(change.source, change.position, change.disabled ? 1 : 0, trigger));
  }

  async leaseDatabaseTrigger(trigger: string, owner: string, now: number, until: number): Promise<DatabaseTriggerState | null> {
    const row = await this.write(() => this.q.leaseTrigger.get({ trigger, owner, now, until }) as Row | undefined);
    return row ? toDatabaseTrigger(row) : null;
  }

  advanceDatabaseTrigger(trigger: string, owner: string, p: TriggerProgress): Promise<boolean> {
    return this.write(
      () =>
        this.q.advanceTrigger.run({ trigger, owner, position: p.position, leaseUntil: p.leaseUntil, ran: p.ran, failed: p.failed, at: p.at, lastError: p.lastError ?? null })
          .changes > 0,
    );
  }

  async releaseDatabaseTrigger(trigger: string, owner: string): Promise<void> {
    await this.write(() => this.q.releaseTrigger.run(trigger, owner));
  }

  async recordTriggerRun(trigger: string, run: { at: number; ran: boolean; error?: string }): Promise<void> {
    const error = run.error ?? null;
    await this.write(() => this.q.recordRun.run({ trigger, at: run.at, ran: run.ran ? 1 : 0, failed: error === null ? 0 : 1, error }));
  }

  async listTriggerRuns(): Promise<TriggerRunState[]> {
    return (this.q.triggerRuns.all() as Row[]).map(toTriggerRun);
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    this.batches.flush();
    this.db.close();
  }
}
