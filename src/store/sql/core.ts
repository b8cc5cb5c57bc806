// The store's SQL, written once for SQLite and PostgreSQL. Statements use PostgreSQL's `$1`
// placeholders; a dialect rewrites them (SQLite: plain `?`, see sqlite/index.ts) and the token
// `#seq` (insertion order, the tie-break after a time: SQLite's rowid, PostgreSQL's identity
// column `seq`). Booleans are passed as booleans and arrays as arrays: SQLite binds them as 0/1
// and JSON text. Literals TRUE/FALSE mean 1/0 in SQLite.
//
// SqlStore holds every method that is one statement, or reads only. What each dialect keeps is
// what its concurrency needs: SQLite runs a multi-statement write synchronously in one group-commit
// savepoint (sqlite/index.ts), PostgreSQL in a retried transaction with row or advisory locks, or as
// one statement with CTEs, and announces session-cache invalidations (postgres/index.ts).

import type {
  ActiveSession,
  AdminTokenRecord,
  ApiKeyRecord,
  AppSettings,
  AuditEntry,
  DatabaseTriggerState,
  DeviceRecord,
  IdentityRecord,
  OAuthStateRecord,
  ProviderTokenRecord,
  SessionRecord,
  SigningKeyRecord,
  TriggerProgress,
  TriggerRunState,
  UserpassAccount,
  UserpassToken,
  UserQuery,
  UserRecord,
} from '../store.js';
import { PASSWORD_RESET_REQUIRED } from '../store.js';
import { likeSubstring } from '../like.js';
import {
  flag,
  toAccount,
  toActive,
  toAdminToken,
  toApiKey,
  toAuditEntry,
  toDatabaseTrigger,
  toDevice,
  toIdentity,
  toOAuthState,
  toSession,
  toSigningKey,
  toTriggerRun,
  toUser,
  toUserpassToken,
  type Row,
} from '../rows.js';

/** Statements both dialects run, some inside their own transactions. */
export const SQL = {
  identityOwner: 'SELECT user_id FROM identities WHERE provider_name = $1 AND external_id = $2',
  identityOwnerWithDisabled:
    'SELECT i.user_id, u.disabled FROM identities i JOIN users u ON u.id = i.user_id WHERE i.provider_name = $1 AND i.external_id = $2',
  refreshIdentity: 'UPDATE identities SET data = $1 WHERE provider_name = $2 AND external_id = $3',
  user: 'SELECT * FROM users WHERE id = $1',
  insertUser: 'INSERT INTO users (id, type, disabled, created_at, last_auth_at) VALUES ($1, $2, $3, $4, $5)',
  insertIdentity: `INSERT INTO identities (provider_name, external_id, user_id, provider_type, provider_id, data, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)`,
  touchUser: 'UPDATE users SET last_auth_at = $1 WHERE id = $2',
  setDisabled: 'UPDATE users SET disabled = $1 WHERE id = $2',
  deleteUser: 'DELETE FROM users WHERE id = $1',
  /** The email/password accounts of a user, which its deletion removes (no foreign key ties them). */
  deleteAccountsOf: `DELETE FROM userpass_accounts WHERE id IN (
    SELECT external_id FROM identities WHERE user_id = $1 AND provider_type = 'local-userpass')`,
  /** Users whose every identity is anonymous and who last logged in before $1. */
  staleAnonymous: `u.last_auth_at < $1
    AND EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id)
    AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id AND i.provider_type <> 'anon-user')`,
  insertSession: `INSERT INTO sessions (id, user_id, refresh_hash, device_id, provider_name, provider_type, created_at, expires_at,
      api_key_id, last_used_at, address, expiry_cap)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
  sessionWithUser: 'SELECT s.*, u.disabled AS user_disabled FROM sessions s JOIN users u ON u.id = s.user_id',
  deleteSession: 'DELETE FROM sessions WHERE id = $1',
  deleteSessionsOf: 'DELETE FROM sessions WHERE user_id = $1',
  deleteSessionOfUser: 'DELETE FROM sessions WHERE id = $1 AND user_id = $2 RETURNING id',
  deleteSessionsOfKey: 'DELETE FROM sessions WHERE api_key_id = $1',
  identitiesOf: 'SELECT * FROM identities WHERE user_id = $1 ORDER BY created_at, #seq',
  countKeysOf: 'SELECT COUNT(*) AS n FROM api_keys WHERE user_id = $1',
  keyNamedOf: 'SELECT 1 FROM api_keys WHERE user_id = $1 AND name = $2',
  countServerKeys: `SELECT COUNT(*) AS n FROM api_keys WHERE kind = 'server'`,
  serverKeyNamed: `SELECT 1 FROM api_keys WHERE kind = 'server' AND name = $1`,
  insertApiKey: 'INSERT INTO api_keys (id, user_id, kind, name, key_hash, disabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
  setKeyDisabled: 'UPDATE api_keys SET disabled = $1 WHERE user_id = $2 AND id = $3',
  deleteKey: 'DELETE FROM api_keys WHERE user_id = $1 AND id = $2 RETURNING kind',
  retireKeys: 'UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL',
  insertKey: 'INSERT INTO signing_keys (kid, secret, created_at, retired_at) VALUES ($1, $2, $3, $4)',
  accountById: 'SELECT * FROM userpass_accounts WHERE id = $1',
  accountByEmail: 'SELECT * FROM userpass_accounts WHERE email = $1',
  insertAccount: 'INSERT INTO userpass_accounts (id, email, password_hash, confirmed, created_at) VALUES ($1, $2, $3, $4, $5)',
  userExists: 'SELECT 1 FROM users WHERE id = $1',
  /** Inserts or updates a device ($1…$8 in deviceParams order). */
  upsertDevice: `INSERT INTO devices (id, user_id, platform, platform_version, sdk_version, app_id, app_version, last_seen_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (id, user_id) DO UPDATE SET platform = excluded.platform,
      platform_version = excluded.platform_version, sdk_version = excluded.sdk_version,
      app_id = excluded.app_id, app_version = excluded.app_version, last_seen_at = excluded.last_seen_at`,
} as const;

/** The deletion of expired sessions, and of those idle since before `idleBefore`; returns their ids. */
export function expiredSessions(now: number, idleBefore?: number): [string, unknown[]] {
  return idleBefore === undefined
    ? ['DELETE FROM sessions WHERE expires_at <= $1 RETURNING id', [now]]
    : ['DELETE FROM sessions WHERE expires_at <= $1 OR last_used_at < $2 RETURNING id', [now, idleBefore]];
}

/** Users joined with their identities (`u` may be a CTE), one row per identity. */
export const USERS_WITH_IDENTITIES = `SELECT u.id, u.type, u.disabled, u.created_at, u.last_auth_at,
       i.external_id, i.provider_name, i.provider_type, i.provider_id, i.data, i.created_at AS identity_created_at`;

/** Folds rows of USERS_WITH_IDENTITIES, ordered by user, into users in that order. */
export function groupUsers(rows: Row[]): UserRecord[] {
  const users = new Map<string, UserRecord & { identities: IdentityRecord[] }>();
  for (const row of rows) {
    const id = row.id as string;
    let user = users.get(id);
    if (!user) {
      user = toUser(row, [] as IdentityRecord[]);
      users.set(id, user);
    }
    if (row.external_id === null) continue;
    // The identity's created_at comes aliased, next to the user's.
    user.identities.push(toIdentity({ ...row, created_at: row.identity_created_at }));
  }
  return [...users.values()];
}

/** The parameters of SQL.insertSession. */
export const sessionParams = (s: SessionRecord): unknown[] => [
  s.id, s.userId, s.refreshHash, s.deviceId, s.providerName, s.providerType, s.createdAt, s.expiresAt,
  s.apiKeyId ?? null, s.lastUsedAt ?? s.createdAt, s.address ?? null, s.expiryCap ?? null,
];

/** The parameters of SQL.upsertDevice. */
export const deviceParams = (d: DeviceRecord): unknown[] => [
  d.id, d.userId, d.platform ?? null, d.platformVersion ?? null, d.sdkVersion ?? null, d.appId ?? null, d.appVersion ?? null, d.lastSeenAt,
];

export const identityParams = (userId: string, id: { providerName: string; externalId: string; providerType: string; providerId: string; data: unknown }, now: number): unknown[] =>
  [id.providerName, id.externalId, userId, id.providerType, id.providerId, JSON.stringify(id.data), now];

export const apiKeyParams = (k: ApiKeyRecord): unknown[] => [k.id, k.userId, k.kind, k.name, k.keyHash, k.disabled, k.createdAt];

/** What a write statement returned (RETURNING) and how many rows it changed. */
export interface Written {
  readonly rows: Row[];
  readonly changes: number;
}

/** The SQL that differs between the dialects, in the few places a statement is built at run time. */
export interface SqlFragments {
  /** `column IN the array bound at param`. */
  inArray(column: string, param: string): string;
  /** A JSON object's top-level string field, from a TEXT column. */
  jsonText(column: string, key: string): string;
  /** Case-insensitive LIKE (SQLite's LIKE is, for ASCII). */
  readonly ilike: string;
}

export abstract class SqlStore {
  protected abstract readonly fragments: SqlFragments;
  /** Rows of a read, outside any transaction. */
  protected abstract read(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** One write statement, atomic on its own (SQLite: in the next group commit). */
  protected abstract exec(sql: string, params?: readonly unknown[]): Promise<Written>;

  protected async first(sql: string, params?: readonly unknown[]): Promise<Row | undefined> {
    return (await this.read(sql, params))[0];
  }

  protected async changes(sql: string, params?: readonly unknown[]): Promise<number> {
    return (await this.exec(sql, params)).changes;
  }

  async getUser(id: string): Promise<UserRecord | null> {
    // One statement, so user and identities come from the same snapshot.
    const rows = await this.read(
      `${USERS_WITH_IDENTITIES} FROM users u LEFT JOIN identities i ON i.user_id = u.id WHERE u.id = $1 ORDER BY i.created_at, i.#seq`,
      [id],
    );
    return groupUsers(rows)[0] ?? null;
  }

  async listUsers(query: UserQuery): Promise<UserRecord[]> {
    const f = this.fragments;
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => `$${params.push(value)}`;
    if (query.after !== undefined) where.push(`id ${query.descending ? '<' : '>'} ${param(query.after)}`);
    if (query.providerTypes !== undefined) {
      where.push(`EXISTS (SELECT 1 FROM identities i WHERE i.user_id = users.id AND ${f.inArray('i.provider_type', param(query.providerTypes))})`);
    }
    if (query.disabled !== undefined) where.push(`disabled = ${param(query.disabled)}`);
    if (query.search !== undefined) {
      const exact = param(query.search);
      const pattern = param(likeSubstring(query.search));
      const like = (key: string) => `${f.jsonText('i.data', key)} ${f.ilike} ${pattern} ESCAPE '\\'`;
      where.push(`(id = ${exact} OR EXISTS (SELECT 1 FROM identities i WHERE i.user_id = users.id AND (${like('email')} OR ${like('name')})))`);
    }
    const limit = param(query.limit);
    const order = query.descending ? 'DESC' : 'ASC';
    // One statement: the page and its identities come from the same snapshot.
    const rows = await this.read(
      `WITH page AS (SELECT * FROM users ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id ${order} LIMIT ${limit})
       ${USERS_WITH_IDENTITIES}
         FROM page u LEFT JOIN identities i ON i.user_id = u.id
        ORDER BY u.id ${order}, i.created_at, i.#seq`,
      params,
    );
    return groupUsers(rows);
  }

  async findIdentityOwner(providerName: string, externalId: string): Promise<{ userId: string } | null> {
    const r = await this.first(SQL.identityOwner, [providerName, externalId]);
    return r ? { userId: r.user_id as string } : null;
  }

  async createSession(session: SessionRecord): Promise<void> {
    await this.exec(SQL.insertSession, sessionParams(session));
  }

  async findSessionByRefreshHash(hash: string): Promise<ActiveSession | null> {
    return toActive(await this.first(`${SQL.sessionWithUser} WHERE s.refresh_hash = $1`, [hash]));
  }

  async listSessionsOfUser(userId: string): Promise<SessionRecord[]> {
    // Ties on created_at by id: session ids are ObjectIds, increasing within a process.
    return (await this.read('SELECT * FROM sessions WHERE user_id = $1 ORDER BY created_at, id', [userId])).map(toSession);
  }

  async listDevices(userId: string): Promise<DeviceRecord[]> {
    return (await this.read('SELECT * FROM devices WHERE user_id = $1 ORDER BY last_seen_at DESC', [userId])).map(toDevice);
  }

  async listApiKeys(userId: string): Promise<ApiKeyRecord[]> {
    return (await this.read('SELECT * FROM api_keys WHERE user_id = $1 ORDER BY created_at, #seq', [userId])).map(toApiKey);
  }

  async listServerApiKeys(): Promise<ApiKeyRecord[]> {
    return (await this.read(`SELECT * FROM api_keys WHERE kind = 'server' ORDER BY created_at, #seq`)).map(toApiKey);
  }

  async findApiKeyByHash(hash: string): Promise<{ key: ApiKeyRecord; userDisabled: boolean } | null> {
    const r = await this.first('SELECT k.*, u.disabled AS user_disabled FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = $1', [hash]);
    return r ? { key: toApiKey(r), userDisabled: flag(r.user_disabled) } : null;
  }

  async createUserpassAccount(a: UserpassAccount): Promise<'created' | 'exists'> {
    const n = await this.changes(`${SQL.insertAccount} ON CONFLICT (email) DO NOTHING`, [a.id, a.email, a.passwordHash, a.confirmed, a.createdAt]);
    return n > 0 ? 'created' : 'exists';
  }

  async findUserpassAccountByEmail(email: string): Promise<UserpassAccount | null> {
    const r = await this.first(SQL.accountByEmail, [email]);
    return r ? toAccount(r) : null;
  }

  async findUserpassAccount(id: string): Promise<UserpassAccount | null> {
    const r = await this.first(SQL.accountById, [id]);
    return r ? toAccount(r) : null;
  }

  async confirmUserpassAccount(id: string): Promise<void> {
    await this.exec('UPDATE userpass_accounts SET confirmed = TRUE WHERE id = $1', [id]);
  }

  async setUserpassPassword(id: string, passwordHash: string): Promise<void> {
    await this.exec('UPDATE userpass_accounts SET password_hash = $1 WHERE id = $2', [passwordHash, id]);
  }

  async deleteUserpassAccount(id: string): Promise<void> {
    await this.exec('DELETE FROM userpass_accounts WHERE id = $1', [id]);
  }

  async putUserpassToken(t: UserpassToken): Promise<void> {
    await this.exec(
      `INSERT INTO userpass_tokens (id, account_id, kind, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (account_id, kind) DO UPDATE SET id = excluded.id, token_hash = excluded.token_hash, expires_at = excluded.expires_at`,
      [t.id, t.accountId, t.kind, t.tokenHash, t.expiresAt],
    );
  }

  async takeUserpassToken(id: string, tokenHash: string): Promise<UserpassToken | null> {
    // One statement: of two uses racing on one token, exactly one gets the row.
    const r = (await this.exec('DELETE FROM userpass_tokens WHERE id = $1 AND token_hash = $2 RETURNING *', [id, tokenHash])).rows[0];
    return r ? toUserpassToken(r) : null;
  }

  async deleteExpiredUserpassTokens(now: number): Promise<number> {
    return this.changes('DELETE FROM userpass_tokens WHERE expires_at <= $1', [now]);
  }

  async listAccountsAwaitingReset(query: { after?: string; limit: number }): Promise<UserpassAccount[]> {
    const rows = await this.read('SELECT * FROM userpass_accounts WHERE password_hash = $1 AND id > $2 ORDER BY id LIMIT $3', [
      PASSWORD_RESET_REQUIRED,
      query.after ?? '',
      query.limit,
    ]);
    return rows.map(toAccount);
  }

  async listPendingUserpassAccounts(query: { after?: string; limit: number }): Promise<UserpassAccount[]> {
    const rows = await this.read(
      `SELECT a.* FROM userpass_accounts a WHERE a.id > $1
          AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.provider_type = 'local-userpass' AND i.external_id = a.id)
        ORDER BY a.id LIMIT $2`,
      [query.after ?? '', query.limit],
    );
    return rows.map(toAccount);
  }

  async hitCounter(key: string, windowMs: number, now: number): Promise<{ count: number; windowStart: number }> {
    // One statement: concurrent hits on one key serialize on its row, none is lost.
    const r = (
      await this.exec(
        `INSERT INTO counters (key, window_start, count) VALUES ($1, $2, 1)
         ON CONFLICT (key) DO UPDATE SET
           window_start = CASE WHEN counters.window_start + $3 <= $2 THEN $2 ELSE counters.window_start END,
           count        = CASE WHEN counters.window_start + $3 <= $2 THEN 1 ELSE counters.count + 1 END
         RETURNING window_start, count`,
        [key, now, windowMs],
      )
    ).rows[0]!;
    return { count: r.count as number, windowStart: r.window_start as number };
  }

  async readCounter(key: string, windowMs: number, now: number): Promise<{ count: number; windowStart: number }> {
    const r = await this.first('SELECT window_start, count FROM counters WHERE key = $1', [key]);
    if (!r || (r.window_start as number) + windowMs <= now) return { windowStart: now, count: 0 };
    return { windowStart: r.window_start as number, count: r.count as number };
  }

  async deleteStaleCounters(before: number): Promise<number> {
    return this.changes('DELETE FROM counters WHERE window_start < $1', [before]);
  }

  async putProviderToken(providerName: string, externalId: string, token: string, now: number): Promise<void> {
    // Kept only while the identity exists (the foreign key removes it with the identity).
    await this.exec(
      `INSERT INTO provider_tokens (provider_name, external_id, token, updated_at)
       SELECT provider_name, external_id, $1, $2 FROM identities WHERE provider_name = $3 AND external_id = $4
       ON CONFLICT (provider_name, external_id) DO UPDATE SET token = excluded.token, updated_at = excluded.updated_at`,
      [token, now, providerName, externalId],
    );
  }

  async providerTokensOfUser(userId: string): Promise<ProviderTokenRecord[]> {
    const rows = await this.read(
      `SELECT t.provider_name, t.external_id, t.token FROM provider_tokens t
       JOIN identities i ON i.provider_name = t.provider_name AND i.external_id = t.external_id WHERE i.user_id = $1`,
      [userId],
    );
    return rows.map((r) => ({ providerName: r.provider_name as string, externalId: r.external_id as string, token: r.token as string }));
  }

  async putOAuthState(s: OAuthStateRecord): Promise<void> {
    await this.exec(
      `INSERT INTO oauth_states (id_hash, provider_name, client_state, redirect_uri, callback_url, device, link_session_id,
         code_verifier, nonce, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [s.idHash, s.providerName, s.clientState, s.redirectUri, s.callbackUrl, JSON.stringify(s.device), s.linkSessionId, s.codeVerifier, s.nonce, s.createdAt, s.expiresAt],
    );
  }

  async takeOAuthState(idHash: string, now: number): Promise<OAuthStateRecord | null> {
    // One statement: of two callbacks racing on one state, exactly one gets the row.
    const r = (await this.exec('DELETE FROM oauth_states WHERE id_hash = $1 RETURNING *', [idHash])).rows[0];
    if (!r || (r.expires_at as number) <= now) return null;
    return toOAuthState(r);
  }

  async deleteExpiredOAuthStates(now: number): Promise<number> {
    return this.changes('DELETE FROM oauth_states WHERE expires_at <= $1', [now]);
  }

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    return (await this.read('SELECT * FROM signing_keys ORDER BY created_at, kid')).map(toSigningKey);
  }

  async createAdminToken(t: AdminTokenRecord): Promise<void> {
    await this.exec('INSERT INTO admin_tokens (id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)', [t.id, t.name, t.tokenHash, t.createdAt]);
  }

  async findAdminTokenByHash(hash: string): Promise<AdminTokenRecord | null> {
    const r = await this.first('SELECT * FROM admin_tokens WHERE token_hash = $1', [hash]);
    return r ? toAdminToken(r) : null;
  }

  async listAdminTokens(): Promise<AdminTokenRecord[]> {
    return (await this.read('SELECT * FROM admin_tokens ORDER BY created_at, #seq')).map(toAdminToken);
  }

  async deleteAdminToken(id: string): Promise<boolean> {
    return (await this.changes('DELETE FROM admin_tokens WHERE id = $1', [id])) > 0;
  }

  async appendAuditEntry(e: AuditEntry): Promise<void> {
    await this.exec('INSERT INTO audit_log (id, at, actor_id, actor_name, action, target, details) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      e.id, e.at, e.actorId, e.actorName, e.action, e.target, JSON.stringify(e.details),
    ]);
  }

  async listAuditEntries(query: { after?: string; limit: number }): Promise<AuditEntry[]> {
    const rows =
      query.after === undefined
        ? await this.read('SELECT * FROM audit_log ORDER BY seq DESC LIMIT $1', [query.limit])
        : await this.read('SELECT * FROM audit_log WHERE seq < (SELECT seq FROM audit_log WHERE id = $1) ORDER BY seq DESC LIMIT $2', [query.after, query.limit]);
    return rows.map(toAuditEntry);
  }

  async getSetting<K extends keyof AppSettings>(name: K): Promise<AppSettings[K] | null> {
    const r = await this.first('SELECT value FROM app_settings WHERE name = $1', [name]);
    return r ? (JSON.parse(r.value as string) as AppSettings[K]) : null;
  }

  async putSetting<K extends keyof AppSettings>(name: K, value: AppSettings[K]): Promise<void> {
    await this.exec('INSERT INTO app_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [
      name,
      JSON.stringify(value),
    ]);
  }

  async claimScheduledTick(trigger: string, tick: number, claimedAt: number, ran: boolean): Promise<boolean> {
    // The primary key decides: of concurrent inserts of one tick, exactly one adds a row.
    const n = await this.changes('INSERT INTO scheduled_ticks (trigger_name, tick, claimed_at, ran) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
      trigger, tick, claimedAt, ran,
    ]);
    return n > 0;
  }

  async lastScheduledTick(trigger: string): Promise<number | null> {
    const r = await this.first('SELECT MAX(tick) AS tick FROM scheduled_ticks WHERE trigger_name = $1', [trigger]);
    return (r?.tick as number | null | undefined) ?? null;
  }

  async pruneScheduledTicks(trigger: string, before: number): Promise<number> {
    return this.changes(
      `DELETE FROM scheduled_ticks WHERE trigger_name = $1 AND tick < $2
         AND tick < (SELECT MAX(tick) FROM scheduled_ticks WHERE trigger_name = $1)`,
      [trigger, before],
    );
  }

  async listDatabaseTriggers(): Promise<DatabaseTriggerState[]> {
    return (await this.read('SELECT * FROM database_triggers ORDER BY trigger_name')).map(toDatabaseTrigger);
  }

  async initDatabaseTrigger(trigger: string, init: { source: string; position: string; disabled: boolean }): Promise<DatabaseTriggerState> {
    await this.exec('INSERT INTO database_triggers (trigger_name, source, position, disabled) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
      trigger, init.source, init.position, init.disabled,
    ]);
    return toDatabaseTrigger((await this.first('SELECT * FROM database_triggers WHERE trigger_name = $1', [trigger]))!);
  }

  async resetDatabaseTrigger(trigger: string, change: { source: string; position: string; disabled: boolean }): Promise<void> {
    await this.exec('UPDATE database_triggers SET source = $1, position = $2, disabled = $3, lease_owner = NULL, lease_until = 0 WHERE trigger_name = $4', [
      change.source, change.position, change.disabled, trigger,
    ]);
  }

  async leaseDatabaseTrigger(trigger: string, owner: string, now: number, until: number): Promise<DatabaseTriggerState | null> {
    // One UPDATE decides: of instances racing for a free or expired lease, the row lock lets one win.
    const { rows } = await this.exec(
      `UPDATE database_triggers SET lease_owner = $2, lease_until = $4
       WHERE trigger_name = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < $3) RETURNING *`,
      [trigger, owner, now, until],
    );
    return rows[0] ? toDatabaseTrigger(rows[0]) : null;
  }

  async advanceDatabaseTrigger(trigger: string, owner: string, p: TriggerProgress): Promise<boolean> {
    const lastError = p.lastError ?? null;
    const n = await this.changes(
      `UPDATE database_triggers SET position = $3, lease_until = $4, delivered = delivered + $5, failed = failed + $6,
         last_run_at = COALESCE($7, last_run_at), last_error_at = COALESCE($8, last_error_at), last_error = COALESCE($9, last_error)
       WHERE trigger_name = $1 AND lease_owner = $2`,
      [trigger, owner, p.position, p.leaseUntil, p.ran, p.failed, p.ran > 0 ? p.at : null, lastError === null ? null : p.at, lastError],
    );
    return n > 0;
  }

  async releaseDatabaseTrigger(trigger: string, owner: string): Promise<void> {
    await this.exec('UPDATE database_triggers SET lease_owner = NULL, lease_until = 0 WHERE trigger_name = $1 AND lease_owner = $2', [trigger, owner]);
  }

  async recordTriggerRun(trigger: string, run: { at: number; ran: boolean; error?: string }): Promise<void> {
    // Runs may be recorded out of order (instances, retries): the latest time wins, and the
    // message of the latest error.
    const error = run.error ?? null;
    await this.exec(
      `INSERT INTO trigger_runs AS t (trigger_name, runs, failed, last_run_at, last_error_at, last_error) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (trigger_name) DO UPDATE SET runs = t.runs + excluded.runs, failed = t.failed + excluded.failed,
         last_run_at = CASE WHEN t.last_run_at IS NULL OR t.last_run_at < excluded.last_run_at THEN excluded.last_run_at ELSE t.last_run_at END,
         last_error = CASE WHEN excluded.last_error IS NOT NULL AND (t.last_error_at IS NULL OR excluded.last_error_at >= t.last_error_at)
                           THEN excluded.last_error ELSE t.last_error END,
         last_error_at = CASE WHEN t.last_error_at IS NULL OR t.last_error_at < excluded.last_error_at THEN excluded.last_error_at ELSE t.last_error_at END`,
      [trigger, run.ran ? 1 : 0, error === null ? 0 : 1, run.ran ? run.at : null, error === null ? null : run.at, error],
    );
  }

  async listTriggerRuns(): Promise<TriggerRunState[]> {
    return (await this.read('SELECT * FROM trigger_runs ORDER BY trigger_name')).map(toTriggerRun);
  }
}

export type { Row };
