// Embedded store on better-sqlite3 (WAL; an acknowledged write survives a kill -9 and a power
// loss). better-sqlite3 is synchronous; reads run at the call. Every write is atomic and goes
// through group commit (src/util/sqlite-group-commit.ts): writes issued in the same turn of the
// event loop (concurrent requests) commit together, each in its own savepoint, and a write's
// promise resolves after that commit and an fsync of the WAL, run off the event loop (the
// connection is switched to synchronous = NORMAL there, after the migrations below, which commit
// with FULL).
// The statements are those of src/store/sql/core.ts (shared with PostgreSQL); this file keeps the
// writes made of several statements, each run synchronously inside one group-commit write.

import Database from 'better-sqlite3';
import type {
  ActiveSession,
  ApiKeyCreateOutcome,
  SessionOpening,
  ApiKeyRecord,
  DeviceRecord,
  ImportedUser,
  ImportOutcome,
  LinkOutcome,
  NewIdentity,
  SessionRecord,
  SigningKeyRecord,
  Store,
  UserRecord,
  UserType,
} from '../store.js';
import { flag, toAccount, toActive, toIdentity, toUser, type Row } from '../rows.js';
import { GroupCommit, type Fsync } from '../../util/sqlite-group-commit.js';
import { planImport, writesSomething } from '../import-plan.js';
import type { DatabaseOwner } from '../owner.js';
import { claimFile } from './owner.js';
import { MIGRATIONS } from './schema.js';
import { SessionCache, type SessionCacheStats, type SessionWithUser } from '../session-cache.js';
import { apiKeyParams, deviceParams, expiredSessions, identityParams, sessionParams, SQL, SqlStore, type SqlFragments, type Written } from '../sql/core.js';
import { DEFAULTS } from '../../defaults.js';

/**
 * With `owner`, the file is claimed for that app on first open, and opening a file another app
 * claimed fails with DatabaseOwnedError (src/store/owner.ts); without it nothing is checked.
 */
export function openSqliteStore(file: string, opts: { owner?: DatabaseOwner; fsync?: Fsync } = {}): Store {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('temp_store = MEMORY');
  db.pragma(`cache_size = -${DEFAULTS.sqliteCacheKib}`);
  try {
    // Before migrating, so a refused app changes nothing.
    if (opts.owner) claimFile(db, file, opts.owner);
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return new SqliteStore(db, opts.fsync);
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

/** A statement prepared once, and where each of its `?` takes its value from ($n - 1), or null when in order. */
interface Compiled {
  readonly statement: Database.Statement;
  readonly order: readonly number[] | null;
}

/** Binds what better-sqlite3 does not: booleans as 0/1, arrays as JSON text (json_each). */
const bindable = (v: unknown): unknown => (typeof v === 'boolean' ? (v ? 1 : 0) : Array.isArray(v) ? JSON.stringify(v) : v);

const FRAGMENTS: SqlFragments = {
  inArray: (column, param) => `${column} IN (SELECT value FROM json_each(${param}))`,
  jsonText: (column, key) => `json_extract(${column}, '$.${key}')`,
  ilike: 'LIKE',
};

class SqliteStore extends SqlStore implements Store {
  protected readonly fragments = FRAGMENTS;
  private readonly compiled = new Map<string, Compiled>();
  private readonly batches: GroupCommit;
  private readonly sessions = new SessionCache();
  private readonly dataVersion: () => number;
  private lastDataVersion: number;
  /** Set once `data_version` was read in this turn of the event loop (see checkDataVersion). */
  private versionCheckedThisTurn = false;
  private readonly endTurn = (): void => {
    this.versionCheckedThisTurn = false;
  };

  constructor(
    private readonly db: Database.Database,
    fsync?: Fsync,
  ) {
    super();
    this.batches = new GroupCommit(db, { fsync });
    const dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.dataVersion = () => dataVersion.get() as number;
    this.lastDataVersion = this.dataVersion();
  }

  /** Prepares a statement of src/store/sql/core.ts's form once: `$n` become `?`, `#seq` the rowid. */
  private compile(sql: string): Compiled {
    let c = this.compiled.get(sql);
    if (!c) {
      const order: number[] = [];
      const text = sql.replaceAll('#seq', 'rowid').replace(/\$(\d+)/g, (_, n: string) => {
        order.push(Number(n) - 1);
        return '?';
      });
      c = { statement: this.db.prepare(text), order: order.every((n, i) => n === i) ? null : order };
      this.compiled.set(sql, c);
    }
    return c;
  }

  private bind(c: Compiled, params: readonly unknown[]): unknown[] {
    return c.order ? c.order.map((i) => bindable(params[i])) : params.map(bindable);
  }

  /** Rows of a statement, now (synchronous). */
  private all(sql: string, params: readonly unknown[] = []): Row[] {
    const c = this.compile(sql);
    return c.statement.all(...this.bind(c, params)) as Row[];
  }

  private get(sql: string, params: readonly unknown[] = []): Row | undefined {
    const c = this.compile(sql);
    return c.statement.get(...this.bind(c, params)) as Row | undefined;
  }

  /** Runs a statement now (synchronous): inside a write, or as its own. */
  private run(sql: string, params: readonly unknown[] = []): Written {
    const c = this.compile(sql);
    if (c.statement.reader) {
      const rows = c.statement.all(...this.bind(c, params)) as Row[];
      return { rows, changes: rows.length };
    }
    return { rows: [], changes: c.statement.run(...this.bind(c, params)).changes };
  }

  protected read(sql: string, params?: readonly unknown[]): Promise<Row[]> {
    return Promise.resolve(this.all(sql, params));
  }

  protected exec(sql: string, params?: readonly unknown[]): Promise<Written> {
    return this.write(() => this.run(sql, params));
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
      const found = this.get(SQL.identityOwnerWithDisabled, [id.providerName, id.externalId]);
      let userId = newUserId;
      if (found) {
        userId = found.user_id as string;
        if (flag(found.disabled)) return { userId, created: false, disabled: true };
        this.run(SQL.refreshIdentity, [JSON.stringify(id.data), id.providerName, id.externalId]);
        this.run(SQL.touchUser, [now, userId]);
        this.sessions.dropUser(userId);
      } else {
        this.run(SQL.insertUser, [newUserId, userType, false, now, now]);
        this.run(SQL.insertIdentity, identityParams(newUserId, id, now));
      }
      if (open) this.openSessionNow({ ...open.session, userId }, { ...open.device, userId });
      return { userId, created: !found, disabled: false };
    });
  }

  linkIdentity(userId: string, identity: NewIdentity, now: number): Promise<LinkOutcome> {
    return this.write((): LinkOutcome => {
      const found = this.get(SQL.identityOwner, [identity.providerName, identity.externalId]);
      if (found) return found.user_id === userId ? 'already-linked' : 'taken';
      this.run(SQL.insertIdentity, identityParams(userId, identity, now));
      this.run(SQL.touchUser, [now, userId]);
      this.sessions.dropUser(userId);
      return 'linked';
    });
  }

  private withIdentities(r: Row): UserRecord {
    return toUser(r, this.all(SQL.identitiesOf, [r.id]).map(toIdentity));
  }

  setUserDisabled(id: string, disabled: boolean): Promise<boolean> {
    return this.write(() => {
      const changed = this.run(SQL.setDisabled, [disabled, id]).changes > 0;
      if (changed && disabled) this.run(SQL.deleteSessionsOf, [id]);
      if (changed) this.sessions.dropUser(id);
      return changed;
    });
  }

  deleteUser(id: string): Promise<boolean> {
    return this.write(() => this.deleteUserNow(id));
  }

  private deleteUserNow(id: string): boolean {
    this.sessions.dropUser(id);
    this.run(SQL.deleteAccountsOf, [id]);
    return this.run(SQL.deleteUser, [id]).changes > 0;
  }

  deleteInactiveAnonymousUsers(before: number): Promise<number> {
    return this.write(() => {
      const ids = this.all(`SELECT u.id FROM users u WHERE ${SQL.staleAnonymous}`, [before]).map((r) => r.id as string);
      for (const id of ids) this.deleteUserNow(id);
      return ids.length;
    });
  }

  openSession(session: SessionRecord, device: DeviceRecord): Promise<void> {
    return this.write(() => this.openSessionNow(session, device));
  }

  private openSessionNow(session: SessionRecord, device: DeviceRecord): void {
    this.run(SQL.upsertDevice, deviceParams(device));
    this.run(SQL.insertSession, sessionParams(session));
  }

  createUserApiKey(key: ApiKeyRecord, limit: number): Promise<ApiKeyCreateOutcome> {
    return this.write((): ApiKeyCreateOutcome => {
      if ((this.get(SQL.countKeysOf, [key.userId])!.n as number) >= limit) return 'limit-reached';
      if (this.get(SQL.keyNamedOf, [key.userId, key.name])) return 'name-taken';
      this.run(SQL.insertApiKey, apiKeyParams(key));
      return 'created';
    });
  }

  createServerApiKey(key: ApiKeyRecord, identity: NewIdentity, limit: number): Promise<ApiKeyCreateOutcome> {
    return this.write((): ApiKeyCreateOutcome => {
      if ((this.get(SQL.countServerKeys)!.n as number) >= limit) return 'limit-reached';
      if (this.get(SQL.serverKeyNamed, [key.name])) return 'name-taken';
      this.run(SQL.insertUser, [key.userId, 'server', false, key.createdAt, key.createdAt]);
      this.run(SQL.insertIdentity, identityParams(key.userId, identity, key.createdAt));
      this.run(SQL.insertApiKey, apiKeyParams(key));
      return 'created';
    });
  }

  setApiKeyDisabled(userId: string, id: string, disabled: boolean): Promise<boolean> {
    return this.write(() => {
      const changed = this.run(SQL.setKeyDisabled, [disabled, userId, id]).changes > 0;
      // The key's sessions are its owner's: dropping the owner covers them.
      if (changed && disabled && this.run(SQL.deleteSessionsOfKey, [id]).changes > 0) this.sessions.dropUser(userId);
      return changed;
    });
  }

  deleteApiKey(userId: string, id: string): Promise<boolean> {
    return this.write(() => {
      const r = this.run(SQL.deleteKey, [userId, id]).rows[0];
      if (!r) return false;
      if (this.run(SQL.deleteSessionsOfKey, [id]).changes > 0) this.sessions.dropUser(userId);
      if (r.kind === 'server') this.deleteUserNow(userId);
      return true;
    });
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
    this.checkDataVersion();
    return this.sessions.get(id) ?? this.fillSession('id', id);
  }

  /** Through the session cache, as findSession; `fresh` reads the row (and refills the cache with it). */
  override async findSessionByRefreshHash(hash: string, opts?: { fresh?: boolean }): Promise<ActiveSession | null> {
    this.checkDataVersion();
    return ((opts?.fresh ? undefined : this.sessions.getByRefreshHash(hash)) ?? this.fillSession('refresh_hash', hash))?.active ?? null;
  }

  /**
   * `PRAGMA data_version` changes when another connection (the CLI, any process) has committed
   * to the file since the last read: what it changed is unknown, so everything goes. Read before
   * the rows, so an entry is never older than the version it was checked against.
   * Read once per turn of the event loop, not per lookup: the pragma takes the WAL's read lock
   * (system calls: 12 % of the main thread in `mixed` when read per lookup), and a foreign commit
   * landing within one turn is the same race as one landing just after a read.
   */
  private checkDataVersion(): void {
    if (this.versionCheckedThisTurn) return;
    this.versionCheckedThisTurn = true;
    setImmediate(this.endTurn);
    const version = this.dataVersion();
    if (version !== this.lastDataVersion) {
      this.sessions.clear();
      this.lastDataVersion = version;
    }
  }

  /** Reads the session whose `id` or `refresh_hash` is `key` with its user, and caches them. */
  private fillSession(by: 'id' | 'refresh_hash', key: string): SessionWithUser | null {
    const since = this.sessions.begin();
    // Synchronous statements on one connection: nothing is written between the reads.
    const active = toActive(this.get(`${SQL.sessionWithUser} WHERE s.${by} = $1`, [key]));
    const user = active && this.get(SQL.user, [active.session.userId]);
    return active && user ? this.sessions.set(active.session.id, { active, user: this.withIdentities(user) }, since) : null;
  }

  sessionCacheStats(): SessionCacheStats {
    return this.sessions.stats();
  }

  async touchSession(sessionId: string, userId: string, now: number, expiresAt?: number): Promise<void> {
    await this.write(() => {
      this.run(SQL.touchUser, [now, userId]);
      this.run('UPDATE sessions SET last_used_at = $1, expires_at = COALESCE($2, expires_at) WHERE id = $3', [now, expiresAt ?? null, sessionId]);
    });
    // Once committed (not in the write: a batch rolled back would leave the cache ahead of the file),
    // the user's entries take the new times instead of being dropped. Until then they show the old ones.
    this.sessions.touched(sessionId, userId, now, expiresAt);
  }

  deleteSession(id: string): Promise<boolean> {
    return this.write(() => {
      this.sessions.dropSession(id);
      return this.run(SQL.deleteSession, [id]).changes > 0;
    });
  }

  deleteSessionsOfUser(userId: string): Promise<number> {
    return this.write(() => {
      this.sessions.dropUser(userId);
      return this.run(SQL.deleteSessionsOf, [userId]).changes;
    });
  }

  deleteSessionOfUser(userId: string, sessionId: string): Promise<boolean> {
    return this.write(() => {
      const ids = this.run(SQL.deleteSessionOfUser, [sessionId, userId]).rows.map((r) => r.id as string);
      for (const id of ids) this.sessions.dropSession(id);
      return ids.length > 0;
    });
  }

  deleteExpiredSessions(now: number, idleBefore?: number): Promise<number> {
    return this.write(() => {
      const ids = this.run(...expiredSessions(now, idleBefore)).rows.map((r) => r.id as string);
      for (const id of ids) this.sessions.dropSession(id);
      return ids.length;
    });
  }

  rotateSigningKey(key: SigningKeyRecord): Promise<void> {
    // One write: no other writer runs between retiring and inserting (one connection, group commit).
    return this.write(() => {
      this.run(SQL.retireKeys, [key.createdAt]);
      this.run(SQL.insertKey, [key.kid, key.secret, key.createdAt, key.retiredAt]);
    });
  }

  importUser(record: ImportedUser, opts: { dryRun?: boolean } = {}): Promise<ImportOutcome> {
    // A dry run throws its outcome out of the write: its savepoint rolls back, and nothing is kept.
    const dryRun = Symbol('dry run');
    const attempt = this.write((): ImportOutcome => {
      const u = record.user;
      const account = (sql: string, key: string) => {
        const r = this.get(sql, [key]);
        return r ? toAccount(r) : null;
      };
      const plan = planImport(record, {
        userExists: u !== null && this.get(SQL.userExists, [u.id]) !== undefined,
        identityOwners: record.identities.map((i) => (this.get(SQL.identityOwner, [i.providerName, i.externalId])?.user_id as string | undefined) ?? null),
        accountsById: record.accounts.map((a) => account(SQL.accountById, a.id)),
        accountsByEmail: record.accounts.map((a) => account(SQL.accountByEmail, a.email)),
      });
      if (plan.conflict !== null) return { status: 'conflict', reason: plan.conflict };
      if (plan.insertUser && u) this.run(SQL.insertUser, [u.id, u.type, u.disabled, u.createdAt, u.lastAuthAt]);
      if (u && plan.identities.length > 0) this.sessions.dropUser(u.id);
      for (const i of plan.identities) this.run(SQL.insertIdentity, identityParams(u!.id, i, i.createdAt));
      for (const a of plan.accounts) this.run(SQL.insertAccount, [a.id, a.email, a.passwordHash, a.confirmed, a.createdAt]);
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

  async close(): Promise<void> {
    if (!this.db.open) return;
    await this.batches.close();
    if (this.db.open) this.db.close();
  }
}
