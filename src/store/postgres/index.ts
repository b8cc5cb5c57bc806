// Store on PostgreSQL through a `pg` connection pool, for several Baste instances sharing one
// database. Every single-statement method, and the statement text used here, is shared with
// SQLite (src/store/sql/core.ts); this file keeps what differs: how concurrent writers from other
// processes are kept apart, and the session cache's invalidations (LISTEN/NOTIFY, invalidations.ts):
//  - first login of an identity: the user and identity are inserted in one transaction with
//    `INSERT ... ON CONFLICT DO NOTHING` on the identity; the loser of a race rolls back (its
//    user row with it) and finds the winner's identity;
//  - logins arriving together are committed together (group commit, loginStatement), new
//    anonymous identities in one multi-row statement (FRESH_LOGINS);
//  - signing-key rotation: a transaction holding an exclusive lock on the key table;
//  - deletions that depend on what else exists lock the user rows first;
//  - a transaction that lost a race is run again (transaction.ts).
// Times are BIGINT epoch milliseconds; int8 values are parsed to numbers for this pool only.

import pg from 'pg';
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
  UserType,
} from '../store.js';
import { toAccount, toActive, toIdentity, toUser, type Row } from '../rows.js';
import type { DatabaseOwner } from '../owner.js';
import { planImport, writesSomething } from '../import-plan.js';
import { claimSchema, prepareSchema } from './owner.js';
import { MIGRATIONS } from './schema.js';
import { SessionCache, type SessionCacheStats, type SessionWithUser } from '../session-cache.js';
import { InvalidationListener, type ListenerOptions } from './invalidations.js';
import { inTransaction, MAX_ATTEMPTS, StaleRead, type TransactionOptions } from './transaction.js';
import { apiKeyParams, expiredSessions, identityParams, SQL, SqlStore, type SqlFragments, type Written } from '../sql/core.js';
import { createHash, randomBytes } from 'node:crypto';

type Queryable = pg.Pool | pg.PoolClient;

export interface PostgresStoreOptions {
  /**
   * Keep the tables in this schema (created when missing) instead of the connection's default
   * (usually `public`). Letters, digits and underscores only.
   */
  readonly schema?: string;
  /** Most connections the pool opens (default 10). */
  readonly maxConnections?: number;
  /** Told when an idle pooled connection fails; the pool drops it and connects again when needed. */
  readonly onError?: (err: Error) => void;
  /**
   * The app served: the schema is claimed for it on first open, and opening one another app
   * claimed fails with DatabaseOwnedError (src/store/owner.ts). Without it nothing is checked.
   */
  readonly owner?: DatabaseOwner;
  /**
   * Cache session lookups in this process, invalidated through LISTEN/NOTIFY (invalidations.ts);
   * on by default. Writes announce their changes either way, so a store without a cache (a CLI
   * command) still reaches the caches of the servers. Options tune the heartbeat (tests).
   */
  readonly sessionCache?: boolean | Pick<ListenerOptions, 'heartbeatMs' | 'staleAfterMs' | 'reconnectAfterMs' | 'maxBackoffMs'>;
}

/** Arbitrary first half of the migration advisory lock key ('bast'); the second half is the schema. */
const MIGRATION_LOCK_CLASS = 0x62617374;
/** First half of the advisory lock key that serializes server API key creation ('skey'). */
const SERVER_KEYS_LOCK_CLASS = 0x736b6579;
const INT8_OID = 20;

/** int8 (BIGINT, count(*)) as a JS number: every value we store is an epoch-ms time or a count. */
const typeParsers = {
  getTypeParser(oid: number, format?: string) {
    if (oid === INT8_OID && format !== 'binary') return (value: string) => Number(value);
    return (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format);
  },
} as unknown as pg.CustomTypesConfig;

/** Opens a pool on `url` (postgres://user:password@host:port/database), then brings the schema up to date. */
export async function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<Store> {
  const schema = opts.schema;
  if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`invalid PostgreSQL schema name '${schema}'`);
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.maxConnections ?? 10,
    types: typeParsers,
    // Every connection of the pool resolves table names in the chosen schema.
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  pool.on('error', (err) => opts.onError?.(err));
  let channel: string;
  try {
    await migrate(pool, schema, opts.owner);
    channel = invalidationChannel((await pool.query('SELECT current_schema() AS s')).rows[0].s as string);
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  const store = new PostgresStore(pool, channel);
  if (opts.sessionCache !== false) {
    await store.startCache({
      url,
      channel,
      origin: store.origin,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
      ...(typeof opts.sessionCache === 'object' ? opts.sessionCache : {}),
    });
  }
  return store;
}

/**
 * The connection pool of a store openPostgresStore opened, for the document engine to share (one
 * pool per instance, sized by maxConnections); null for any other store. Ended by the store's close.
 */
export function poolOfPostgresStore(store: Store): pg.Pool | null {
  return store instanceof PostgresStore ? store.pool : null;
}

/** The NOTIFY channel of a schema's session changes (a channel name has at most 63 bytes). */
function invalidationChannel(schema: string): string {
  const name = `baste_sessions.${schema}`;
  return Buffer.byteLength(name) <= 63 ? name : `baste_sessions.${createHash('sha256').update(schema).digest('hex').slice(0, 40)}`;
}

/** Bulk deletions announce each session or user up to this many, and `all` beyond. */
const MAX_NAMED_INVALIDATIONS = 1000;

async function migrate(pool: pg.Pool, schema: string | undefined, owner: DatabaseOwner | undefined): Promise<void> {
  await inTransaction(pool, async (c) => {
    // Held until commit: a second instance starting at the same time waits here, then finds
    // the migrations applied. Keyed by schema so independent schemas migrate independently.
    const name = await prepareSchema(c, MIGRATION_LOCK_CLASS, schema);
    await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    const applied = new Set((await c.query('SELECT version FROM schema_migrations')).rows.map((r: Row) => r.version as number));
    for (const [i, sql] of MIGRATIONS.entries()) {
      const version = i + 1;
      if (applied.has(version)) continue;
      await c.query(sql);
      await c.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [version, Date.now()]);
    }
    // Last, in the same transaction: a refusal undoes the migrations above too.
    if (owner) await claimSchema(c, name, owner);
  });
}

/** A login's statement waiting for group commit (loginStatement). */
interface PendingLogin {
  /** A named statement: PostgreSQL parses and plans it once per connection, not at every login. */
  readonly query: pg.QueryConfig;
  /** For an identity that is almost surely new (anonymous): its values in FRESH_COLUMNS order (FRESH_LOGINS). */
  readonly fresh?: readonly unknown[];
  readonly resolve: (row: Row | undefined) => void;
  readonly reject: (err: unknown) => void;
}

/** Login batches in flight at once (each on its own pooled connection). */
const LOGIN_BATCHES = 2;
/** Most logins committed together. */
const MAX_LOGIN_BATCH = 64;

/** The columns of FRESH_LOGINS's arrays, with their types. */
const FRESH_COLUMNS = [
  ['provider_name', 'text'], ['external_id', 'text'], ['data', 'text'], ['now', 'bigint'], ['user_id', 'text'], ['user_type', 'text'],
  ['provider_type', 'text'], ['provider_id', 'text'],
  ['device_id', 'text'], ['platform', 'text'], ['platform_version', 'text'], ['sdk_version', 'text'], ['app_id', 'text'], ['app_version', 'text'], ['last_seen_at', 'bigint'],
  ['session_id', 'text'], ['refresh_hash', 'text'], ['session_provider_name', 'text'], ['session_provider_type', 'text'], ['created_at', 'bigint'],
  ['expires_at', 'bigint'], ['api_key_id', 'text'], ['session_device_id', 'text'], ['last_used_at', 'bigint'], ['address', 'text'], ['expiry_cap', 'bigint'],
] as const;

/**
 * First logins of new identities, many in one statement (one array per column, FRESH_COLUMNS):
 * identity, user, device and session of each. An identity that exists (or is inserted twice in the
 * batch) is skipped on conflict and writes nothing: its login goes the general way (loginSql). No
 * announcement: nothing is cached about a user that did not exist.
 */
const FRESH_LOGINS: pg.QueryConfig = {
  name: 'baste_login_fresh',
  text: `WITH input AS (
       SELECT * FROM unnest(${FRESH_COLUMNS.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')}) AS t(${FRESH_COLUMNS.map(([c]) => c).join(', ')})
     ), inserted AS (
       INSERT INTO identities (provider_name, external_id, user_id, provider_type, provider_id, data, created_at)
       SELECT provider_name, external_id, user_id, provider_type, provider_id, data, now FROM input
       ON CONFLICT (provider_name, external_id) DO NOTHING RETURNING provider_name, external_id, user_id
     ), created AS (
       SELECT input.* FROM input JOIN inserted USING (provider_name, external_id, user_id)
     ), created_user AS (
       INSERT INTO users (id, type, disabled, created_at, last_auth_at) SELECT user_id, user_type, FALSE, now, now FROM created
     ), opened_device AS (
       INSERT INTO devices (id, user_id, platform, platform_version, sdk_version, app_id, app_version, last_seen_at)
       SELECT device_id, user_id, platform, platform_version, sdk_version, app_id, app_version, last_seen_at FROM created
     ), opened_session AS (
       INSERT INTO sessions (id, user_id, refresh_hash, device_id, provider_name, provider_type, created_at, expires_at, api_key_id, last_used_at, address, expiry_cap)
       SELECT session_id, user_id, refresh_hash, session_device_id, session_provider_name, session_provider_type, created_at, expires_at, api_key_id, last_used_at, address, expiry_cap FROM created
     )
     SELECT provider_name, external_id, user_id FROM inserted`,
};

/** What tells a fresh login's row in FRESH_LOGINS's answer. */
const freshKey = (providerName: unknown, externalId: unknown, userId: unknown) => `${providerName}\n${externalId}\n${userId}`;

/** The logins FRESH_LOGINS wrote, by freshKey. */
const freshKeys = (r: pg.QueryResult): Set<string> => new Set((r.rows as Row[]).map((row) => freshKey(row.provider_name, row.external_id, row.user_id)));

/** A transaction the caller ends itself by returning `ROLLBACK` instead of a result. */
const ROLLBACK = Symbol('rollback');

/** `#seq`, insertion order, is the identity column `seq` (core.ts). */
const text = (sql: string): string => (sql.includes('#seq') ? sql.replaceAll('#seq', 'seq') : sql);

const FRAGMENTS: SqlFragments = {
  inArray: (column, param) => `${column} = ANY(${param}::text[])`,
  jsonText: (column, key) => `(${column}::jsonb ->> '${key}')`,
  ilike: 'ILIKE',
};

/** Inserts or updates the device of each user id `users` selects; parameters from `from`, in deviceParams order. */
function DEVICE_UPSERT(users: string, from: number): string {
  const p = (i: number) => `$${from + i}`;
  return `INSERT INTO devices (id, user_id, platform, platform_version, sdk_version, app_id, app_version, last_seen_at)
      SELECT ${p(0)}, u.user_id, ${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}::bigint FROM ${users} u
      ON CONFLICT (id, user_id) DO UPDATE SET platform = excluded.platform,
        platform_version = excluded.platform_version, sdk_version = excluded.sdk_version,
        app_id = excluded.app_id, app_version = excluded.app_version, last_seen_at = excluded.last_seen_at`;
}

function deviceParams(d: Omit<DeviceRecord, 'userId'>): unknown[] {
  return [d.id, d.platform ?? null, d.platformVersion ?? null, d.sdkVersion ?? null, d.appId ?? null, d.appVersion ?? null, d.lastSeenAt];
}

/**
 * CTEs that upsert a device and insert a session for the user id(s) that `users` selects,
 * numbering their parameters from `from` (the values of openSessionParams, in order).
 */
function OPEN_SESSION_CTES(users: string, from: number): string {
  const p = (i: number) => `$${from + i}`;
  return `opened_device AS (
      ${DEVICE_UPSERT(users, from)}
    ), opened_session AS (
      INSERT INTO sessions (id, user_id, refresh_hash, device_id, provider_name, provider_type, created_at, expires_at, api_key_id, last_used_at, address, expiry_cap)
      SELECT ${p(7)}, u.user_id, ${p(8)}, ${p(14)}, ${p(9)}, ${p(10)}, ${p(11)}::bigint, ${p(12)}::bigint, ${p(13)}, ${p(15)}::bigint, ${p(16)}, ${p(17)}::bigint FROM ${users} u
    )`;
}

function openSessionParams(s: Omit<SessionRecord, 'userId'>, d: Omit<DeviceRecord, 'userId'>): unknown[] {
  return [
    ...deviceParams(d), s.id, s.refreshHash, s.providerName, s.providerType, s.createdAt, s.expiresAt, s.apiKeyId ?? null, s.deviceId,
    s.lastUsedAt ?? s.createdAt, s.address ?? null, s.expiryCap ?? null,
  ];
}

class PostgresStore extends SqlStore implements Store {
  protected readonly fragments = FRAGMENTS;
  private closed = false;
  private cache: SessionCache | null = null;
  private listener: InvalidationListener | null = null;

  /**
   * Signs this store's announcements (`<kind>:<id>@<origin>`): its own listener skips them, as the
   * store has already dropped what they name (dropLocally, or everything when a write failed).
   */
  readonly origin = randomBytes(6).toString('hex');

  /** `channel`: where writes announce what they changed to every instance's session cache (invalidations.ts). */
  constructor(
    readonly pool: pg.Pool,
    private readonly channel: string,
  ) {
    super();
  }

  async startCache(opts: ListenerOptions): Promise<void> {
    let listener: InvalidationListener | null = null;
    const cache = new SessionCache(10_000, () => listener!.live());
    listener = new InvalidationListener(opts, {
      dropUser: (id) => cache.dropUser(id),
      dropSession: (id) => cache.dropSession(id),
      clear: () => cache.clear(),
    });
    this.cache = cache;
    this.listener = listener;
    await listener.start();
  }

  sessionCacheStats(): SessionCacheStats {
    return this.cache?.stats() ?? { hits: 0, misses: 0, staleFills: 0, size: 0, live: false };
  }

  /** Test hook: the backend pid of the connection listening for invalidations. */
  invalidationListenerPid(): Promise<number | null> {
    return this.listener?.backendPid() ?? Promise.resolve(null);
  }

  /**
   * Announces, in the transaction on `c`, that these sessions' or users' cached records changed
   * (or everything, past MAX_NAMED_INVALIDATIONS). Delivered to every instance at commit, or not
   * at all when the transaction rolls back. The caller drops them from this instance's cache once
   * committed (dropLocally).
   */
  private async announce(c: Queryable, kind: 'u' | 's', ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    if (ids.length > MAX_NAMED_INVALIDATIONS) await c.query('SELECT pg_notify($1, $2)', [this.channel, `all@${this.origin}`]);
    else await c.query(`SELECT pg_notify($1, '${kind}:' || id || $3) FROM unnest($2::text[]) id`, [this.channel, ids, `@${this.origin}`]);
  }

  /** After a commit: this instance's cache forgets at once what the write announced (its own notification follows). */
  private dropLocally(kind: 'u' | 's', ids: readonly string[]): void {
    const cache = this.cache;
    if (!cache) return;
    if (ids.length > MAX_NAMED_INVALIDATIONS) cache.clear();
    else for (const id of ids) (kind === 'u' ? cache.dropUser(id) : cache.dropSession(id));
  }

  protected async read(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    return (await this.pool.query(text(sql), params as unknown[])).rows as Row[];
  }

  protected async exec(sql: string, params: readonly unknown[] = []): Promise<Written> {
    const r = await this.pool.query(text(sql), params as unknown[]);
    return { rows: r.rows as Row[], changes: r.rowCount ?? 0 };
  }

  private async rows(sql: string, params: unknown[] = [], on: Queryable = this.pool): Promise<Row[]> {
    return (await on.query(text(sql), params)).rows as Row[];
  }

  private async one(sql: string, params: unknown[] = [], on: Queryable = this.pool): Promise<Row | undefined> {
    return (await this.rows(sql, params, on))[0];
  }

  /** Rows a statement changed, in a transaction (`on`) or on its own. */
  private async count(sql: string, params: unknown[] = [], on: Queryable = this.pool): Promise<number> {
    return (await on.query(text(sql), params)).rowCount ?? 0;
  }

  private tx<T>(fn: (c: pg.PoolClient) => Promise<T>, opts?: TransactionOptions): Promise<T> {
    return this.writing(() => inTransaction(this.pool, fn, opts));
  }

  /**
   * Runs a write that may announce a change. When it fails, whether it committed is unknown (a
   * connection lost before the COMMIT's answer), and this instance skips its own announcements:
   * so its cache forgets everything.
   */
  private async writing<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err !== ROLLBACK) this.cache?.clear();
      throw err;
    }
  }

  async loginIdentity(input: { identity: NewIdentity; newUserId: string; userType: UserType; now: number; open?: SessionOpening }) {
    const { identity: id, newUserId, userType, now, open } = input;
    // One statement whatever the identity (one round trip, one commit; before, a new identity took
    // six round trips: anonymous logins are always new):
    //  - known identity: refresh its data and the user's last login, and open the session, unless
    //    the user is disabled (a refused login is not activity); announce the user's change;
    //  - new identity: insert identity, user and session together. The identity is inserted first
    //    with ON CONFLICT DO NOTHING, and the user only from what it returned, so a login of the
    //    same identity committed meanwhile leaves no user behind (foreign keys are checked at the
    //    end of the statement, so the identity may name the user inserted after it).
    // A login of the same identity committed after this statement's snapshot shows as neither
    // (no owner seen, insert skipped on conflict): look again.
    const sql = this.loginSql(open !== undefined);
    const params = [
      id.providerName, id.externalId, JSON.stringify(id.data), now, this.channel,
      ...(open ? openSessionParams(open.session, open.device) : []),
      newUserId, userType, id.providerType, id.providerId,
    ];
    // Anonymous identities are new at every login (a random external id, anon-user.ts): in a batch,
    // they are first tried with plain inserts together (FRESH_LOGINS).
    let fresh: unknown[] | undefined;
    if (open && id.providerType === 'anon-user') {
      const { session: s, device: d } = open;
      fresh = [
        id.providerName, id.externalId, params[2], now, newUserId, userType, id.providerType, id.providerId,
        ...deviceParams(d),
        s.id, s.refreshHash, s.providerName, s.providerType, s.createdAt, s.expiresAt, s.apiKeyId ?? null, s.deviceId, s.lastUsedAt ?? s.createdAt, s.address ?? null, s.expiryCap ?? null,
      ];
    }
    for (let attempt = 1; ; attempt++) {
      const query = { name: sql.name, text: sql.text, values: params };
      const found = await this.writing(() => this.loginStatement(query, attempt === 1 ? fresh : undefined));
      if (found?.created === true) return { userId: newUserId, created: true, disabled: false };
      if (found) {
        // The identity's data and the user's last login changed: its cached records go.
        if (found.disabled !== true) this.dropLocally('u', [found.user_id as string]);
        return { userId: found.user_id as string, created: false, disabled: found.disabled === true };
      }
      if (attempt >= MAX_ATTEMPTS) throw new Error('loginIdentity: the identity kept changing under us');
    }
  }

  /** loginIdentity's statement, with and without a session to open (built once: the origin is in its text). */
  private readonly loginSqls: { name: string; text: string }[] = [];

  private loginSql(open: boolean): { name: string; text: string } {
    const cached = this.loginSqls[open ? 1 : 0];
    if (cached) return cached;
    const n = open ? 24 : 6; // first parameter after the session's
    const p = (i: number) => `$${n + i}`;
    const sessionUsers = '(SELECT user_id FROM owner WHERE NOT owner.disabled UNION ALL SELECT user_id FROM inserted)';
    const text = `WITH owner AS (
         SELECT i.user_id, u.disabled FROM identities i JOIN users u ON u.id = i.user_id
          WHERE i.provider_name = $1 AND i.external_id = $2
       ), inserted AS (
         INSERT INTO identities (provider_name, external_id, user_id, provider_type, provider_id, data, created_at)
         SELECT $1, $2, ${p(0)}::text, ${p(2)}::text, ${p(3)}::text, $3::text, $4::bigint WHERE NOT EXISTS (SELECT 1 FROM owner)
         ON CONFLICT (provider_name, external_id) DO NOTHING RETURNING user_id
       ), created_user AS (
         INSERT INTO users (id, type, disabled, created_at, last_auth_at) SELECT user_id, ${p(1)}::text, FALSE, $4::bigint, $4::bigint FROM inserted
       ), refreshed AS (
         UPDATE identities SET data = $3::text WHERE provider_name = $1 AND external_id = $2
            AND EXISTS (SELECT 1 FROM owner WHERE NOT owner.disabled)
       ), touched AS (
         UPDATE users SET last_auth_at = $4::bigint FROM owner WHERE users.id = owner.user_id AND NOT owner.disabled
       )${open ? `, ${OPEN_SESSION_CTES(sessionUsers, 6)}` : ''}
       SELECT user_id, disabled, FALSE AS created, CASE WHEN NOT disabled THEN pg_notify($5, 'u:' || user_id || '@${this.origin}') END AS announced FROM owner
       UNION ALL SELECT user_id, FALSE, TRUE, NULL FROM inserted`;
    const sql = { name: `baste_login_${open ? 'open' : 'user'}_${this.origin}`, text };
    this.loginSqls[open ? 1 : 0] = sql;
    return sql;
  }

  /** Logins waiting for a batch (group commit, loginStatement). */
  private readonly loginQueue: PendingLogin[] = [];
  private loginBatches = 0;

  /**
   * Runs one login's statement with group commit: while LOGIN_BATCHES batches are in flight, the
   * logins that arrive wait and then run together, up to MAX_LOGIN_BATCH, in one transaction on
   * one connection, so they share one commit (one WAL flush) instead of paying one each. A login
   * alone runs on its own, as before. A login's statement fails only rarely (its identity insert
   * skips conflicts; a taken session or user id, a full disk, a lost connection), so rather than a
   * savepoint per login (two more round trips each): if any statement of a batch fails, the batch
   * rolls back and each of its logins runs again alone, getting its own result or its own error. A failed COMMIT leaves the outcome unknown: every login of the batch gets
   * that error, as a lone statement would. pg_notify in a statement is delivered at the commit
   * of its transaction, so announcements stay tied to what committed.
   */
  private loginStatement(query: pg.QueryConfig, fresh?: readonly unknown[]): Promise<Row | undefined> {
    return new Promise((resolve, reject) => {
      this.loginQueue.push({ query, fresh, resolve, reject });
      this.startLoginBatches();
    });
  }

  private startLoginBatches(): void {
    while (this.loginBatches < LOGIN_BATCHES && this.loginQueue.length > 0) {
      const batch = this.loginQueue.splice(0, MAX_LOGIN_BATCH);
      this.loginBatches++;
      void this.runLoginBatch(batch).finally(() => {
        this.loginBatches--;
        this.startLoginBatches();
      });
    }
  }

  private async runLoginBatch(batch: PendingLogin[]): Promise<void> {
    // Only fresh logins: their one statement is a transaction of its own (one round trip, one commit).
    if (batch.every((l) => l.fresh)) return this.runFreshLogins(batch);
    if (batch.length > 1) {
      let c: pg.PoolClient | undefined;
      let broken: Error | undefined;
      try {
        c = await this.pool.connect();
        await c.query('BEGIN');
        const results = await this.loginsIn(c, batch);
        if (results) {
          try {
            await c.query('COMMIT');
          } catch (err) {
            broken = err as Error;
            for (const l of batch) l.reject(err);
            return;
          }
          batch.forEach((l, i) => l.resolve(results[i]));
          return;
        }
        await c.query('ROLLBACK');
      } catch (err) {
        // BEGIN or ROLLBACK failed, or no connection: the logins run alone below.
        broken = err as Error;
      } finally {
        c?.release(broken);
      }
    }
    await Promise.all(batch.map((l) => this.runAlone(l)));
  }

  private runAlone(l: PendingLogin): Promise<void> {
    return this.pool.query(l.query).then((r) => l.resolve((r.rows as Row[])[0]), l.reject);
  }

  /**
   * Fresh logins outside a transaction: FRESH_LOGINS commits them all or none. If it fails, each
   * runs alone (its own result or error); those whose identity existed take the general statement.
   */
  private async runFreshLogins(batch: PendingLogin[]): Promise<void> {
    const inserted = await this.pool.query(this.freshQuery(batch)).then(freshKeys, () => null);
    await Promise.all(
      batch.map((l) => {
        const [providerName, externalId, , , userId] = l.fresh!; // FRESH_COLUMNS order
        if (inserted?.has(freshKey(providerName, externalId, userId))) l.resolve({ user_id: userId, disabled: false, created: true });
        else return this.runAlone(l);
      }),
    );
  }

  private freshQuery(fresh: PendingLogin[]): pg.QueryConfig {
    return { ...FRESH_LOGINS, values: FRESH_COLUMNS.map((_, k) => fresh.map((l) => l.fresh![k])) };
  }

  /**
   * The statements of a batch's logins in the open transaction on `c`: the fresh ones together
   * (FRESH_LOGINS), the others each on its own, and then those of the fresh ones whose identity
   * was there after all. Each login's row, or undefined when a statement failed (the transaction
   * is then aborted).
   */
  private async loginsIn(c: pg.PoolClient, batch: PendingLogin[]): Promise<(Row | undefined)[] | undefined> {
    const rows: (Row | undefined)[] = new Array(batch.length);
    const fresh: number[] = [];
    const general: number[] = [];
    batch.forEach((l, i) => (l.fresh ? fresh : general).push(i));
    // One at a time (node-postgres deprecates queueing queries on a busy client; it sent them one
    // after the other anyway). In an aborted transaction every later statement fails: stop there.
    const run = async (list: number[]): Promise<boolean> => {
      for (const i of list) {
        try {
          rows[i] = ((await c.query(batch[i]!.query)).rows as Row[])[0];
        } catch {
          return false;
        }
      }
      return true;
    };
    let inserted: Set<string> | undefined;
    if (fresh.length > 0) {
      try {
        inserted = freshKeys(await c.query(this.freshQuery(fresh.map((i) => batch[i]!))));
      } catch {
        return undefined;
      }
    }
    if (!(await run(general))) return undefined;
    const again: number[] = [];
    for (const i of fresh) {
      const l = batch[i]!;
      const [providerName, externalId, , , userId] = l.fresh!; // FRESH_COLUMNS order
      if (inserted?.has(freshKey(providerName, externalId, userId))) rows[i] = { user_id: userId, disabled: false, created: true };
      else again.push(i);
    }
    if (again.length > 0 && !(await run(again))) return undefined;
    return rows;
  }

  /** Inserts an identity unless one with its provider name and external id exists; true when inserted. */
  async linkIdentity(userId: string, identity: NewIdentity, now: number): Promise<LinkOutcome> {
    const outcome = await this.tx(async (c): Promise<LinkOutcome> => {
      const inserted = await this.count(`${SQL.insertIdentity} ON CONFLICT (provider_name, external_id) DO NOTHING`, identityParams(userId, identity, now), c);
      if (inserted > 0) {
        await c.query(SQL.touchUser, [now, userId]);
        await this.announce(c, 'u', [userId]);
        return 'linked';
      }
      const owner = await this.one(SQL.identityOwner, [identity.providerName, identity.externalId], c);
      // Owner gone between the two statements (user deleted): the identity is free again.
      if (!owner) throw new StaleRead('identity vanished while linking');
      return owner.user_id === userId ? 'already-linked' : 'taken';
    });
    if (outcome === 'linked') this.dropLocally('u', [userId]);
    return outcome;
  }

  async setUserDisabled(id: string, disabled: boolean): Promise<boolean> {
    const changed = await this.tx(async (c) => {
      const changed = (await this.count(SQL.setDisabled, [disabled, id], c)) > 0;
      if (changed && disabled) await c.query(SQL.deleteSessionsOf, [id]);
      if (changed) await this.announce(c, 'u', [id]);
      return changed;
    });
    if (changed) this.dropLocally('u', [id]);
    return changed;
  }

  async deleteUser(id: string): Promise<boolean> {
    const deleted = await this.tx((c) => this.deleteUserIn(c, id));
    if (deleted) this.dropLocally('u', [id]);
    return deleted;
  }

  private async deleteUserIn(c: pg.PoolClient, id: string): Promise<boolean> {
    // Lock the user first: a concurrent link (which key-share locks the user) waits, so the
    // email/password accounts read below are all there is.
    if (!(await this.one('SELECT id FROM users WHERE id = $1 FOR UPDATE', [id], c))) return false;
    await this.announce(c, 'u', [id]);
    await c.query(SQL.deleteAccountsOf, [id]);
    return (await this.count(SQL.deleteUser, [id], c)) > 0;
  }

  async deleteInactiveAnonymousUsers(before: number): Promise<number> {
    const stale = SQL.staleAnonymous;
    const { n, ids } = await this.tx(async (c) => {
      // Lock the candidates, then delete with a fresh snapshot that re-checks the condition: a
      // login or link that committed meanwhile keeps its user. Anonymous-only users have no
      // email/password accounts to remove.
      const ids = (await this.rows(`SELECT u.id FROM users u WHERE ${stale} FOR UPDATE`, [before], c)).map((r) => r.id as string);
      if (ids.length === 0) return { n: 0, ids };
      await this.announce(c, 'u', ids);
      return { n: await this.count(`DELETE FROM users u WHERE u.id = ANY($2) AND ${stale}`, [before, ids], c), ids };
    });
    this.dropLocally('u', ids);
    return n;
  }

  async openSession(session: SessionRecord, device: DeviceRecord): Promise<void> {
    await this.openSessionOn(this.pool, session, device);
  }

  /** Device and session in one statement: one commit outside a transaction. */
  private async openSessionOn(on: Queryable, session: SessionRecord, device: DeviceRecord): Promise<void> {
    await on.query(`WITH ${OPEN_SESSION_CTES('(SELECT $1::text AS user_id)', 2)} SELECT 1`, [session.userId, ...openSessionParams(session, device)]);
  }

  async createUserApiKey(key: ApiKeyRecord, limit: number): Promise<ApiKeyCreateOutcome> {
    return this.tx(async (c): Promise<ApiKeyCreateOutcome> => {
      // Creations for one owner queue on the owner's row, so the limit holds under concurrency.
      await c.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [key.userId]);
      const n = await this.one(SQL.countKeysOf, [key.userId], c);
      if ((n!.n as number) >= limit) return 'limit-reached';
      if (await this.one(SQL.keyNamedOf, [key.userId, key.name], c)) return 'name-taken';
      await c.query(SQL.insertApiKey, apiKeyParams(key));
      return 'created';
    });
  }

  async createServerApiKey(key: ApiKeyRecord, identity: NewIdentity, limit: number): Promise<ApiKeyCreateOutcome> {
    return this.tx(async (c): Promise<ApiKeyCreateOutcome> => {
      // Server keys have no common row to lock: creations queue on an advisory lock instead.
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))', [SERVER_KEYS_LOCK_CLASS]);
      const n = await this.one(SQL.countServerKeys, [], c);
      if ((n!.n as number) >= limit) return 'limit-reached';
      if (await this.one(SQL.serverKeyNamed, [key.name], c)) return 'name-taken';
      // A new user id: an identity already there is a real unique_violation, not a race to retry.
      await c.query(SQL.insertUser, [key.userId, 'server', false, key.createdAt, key.createdAt]);
      await c.query(SQL.insertIdentity, identityParams(key.userId, identity, key.createdAt));
      await c.query(SQL.insertApiKey, apiKeyParams(key));
      return 'created';
    });
  }

  async setApiKeyDisabled(userId: string, id: string, disabled: boolean): Promise<boolean> {
    const ended = { sessions: false };
    const changed = await this.tx(async (c) => {
      const changed = (await this.count(SQL.setKeyDisabled, [disabled, userId, id], c)) > 0;
      // The key's sessions are its owner's: announcing the owner covers them.
      ended.sessions = changed && disabled && (await this.count(SQL.deleteSessionsOfKey, [id], c)) > 0;
      if (ended.sessions) await this.announce(c, 'u', [userId]);
      return changed;
    });
    if (ended.sessions) this.dropLocally('u', [userId]);
    return changed;
  }

  async deleteApiKey(userId: string, id: string): Promise<boolean> {
    const deleted = await this.tx(async (c) => {
      const r = await this.one(SQL.deleteKey, [userId, id], c);
      if (!r) return false;
      await c.query(SQL.deleteSessionsOfKey, [id]);
      await this.announce(c, 'u', [userId]);
      if (r.kind === 'server') await this.deleteUserIn(c, userId);
      return true;
    });
    if (deleted) this.dropLocally('u', [userId]);
    return deleted;
  }

  async findSession(id: string): Promise<ActiveSession | null> {
    // With the cache, a miss fills it with the user too, so the next lookup of either kind is a hit.
    if (this.cache) return (await this.findSessionWithUser(id))?.active ?? null;
    return toActive(await this.one(`${SQL.sessionWithUser} WHERE s.id = $1`, [id]));
  }

  async findSessionWithUser(id: string): Promise<SessionWithUser | null> {
    const cache = this.cache;
    if (!cache) return this.readSessionWithUser('id', id);
    const cached = cache.get(id);
    if (cached) return cached;
    const since = cache.begin();
    const found = await this.readSessionWithUser('id', id);
    // Kept unless an invalidation of its user or session arrived while it was read (session-cache.ts).
    return found ? cache.set(id, found, since) : null;
  }

  /** Through the session cache, as findSessionWithUser: a refresh reads nothing while its session is cached. */
  override async findSessionByRefreshHash(hash: string, opts?: { fresh?: boolean }): Promise<ActiveSession | null> {
    const cache = this.cache;
    if (!cache) return super.findSessionByRefreshHash(hash);
    const cached = opts?.fresh ? undefined : cache.getByRefreshHash(hash);
    if (cached) return cached.active;
    const since = cache.begin();
    const found = await this.readSessionWithUser('refresh_hash', hash);
    return found ? cache.set(found.active.session.id, found, since).active : null;
  }

  /** The session whose `id` or `refresh_hash` is `key`, with its user. */
  private async readSessionWithUser(by: 'id' | 'refresh_hash', key: string): Promise<SessionWithUser | null> {
    // One statement (one round trip, one snapshot): the session, its user and the identities as JSON.
    const row = await this.one(
      `SELECT s.*, u.disabled AS user_disabled, u.type AS user_type, u.created_at AS user_created_at, u.last_auth_at AS user_last_auth_at,
              COALESCE((SELECT json_agg(json_build_object(
                         'external_id', i.external_id, 'provider_name', i.provider_name, 'provider_type', i.provider_type,
                         'provider_id', i.provider_id, 'data', i.data, 'created_at', i.created_at) ORDER BY i.created_at, i.seq)
                        FROM identities i WHERE i.user_id = u.id), '[]'::json) AS user_identities
         FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.${by} = $1`,
      [key],
    );
    const active = toActive(row);
    if (!row || !active) return null;
    const user = toUser(
      { id: row.user_id, type: row.user_type, disabled: row.user_disabled, created_at: row.user_created_at, last_auth_at: row.user_last_auth_at },
      (row.user_identities as Row[]).map(toIdentity),
    );
    return { active, user };
  }

  // Single statements below announce their change in their own (implicit) transaction.

  async touchSession(sessionId: string, userId: string, now: number, expiresAt?: number): Promise<void> {
    // One statement, one commit: the session's last use (and sliding expiry) and the user's last use.
    // Other instances are told only when the expiry moved: last_used_at and last_auth_at are in
    // their cached records, but nothing served from the cache relies on them (the access check reads
    // disabled, owner and expiry; profile and context.user the identities and type; a refresh ends
    // a session for its idle time only on a fresh read of the row). Announcing every refresh made refreshes queue
    // on PostgreSQL's global lock for notifying commits. A moved expiry is announced (for the one
    // session), or the other instances would refuse the session at its old expiry.
    if (expiresAt === undefined) {
      await this.writing(() =>
        this.pool.query(
          `WITH touched_session AS (UPDATE sessions SET last_used_at = $1 WHERE id = $3)
           UPDATE users SET last_auth_at = $1 WHERE id = $2`,
          [now, userId, sessionId],
        ),
      );
    } else {
      await this.writing(() =>
        this.pool.query(
          `WITH touched_session AS (UPDATE sessions SET last_used_at = $1, expires_at = $4::bigint WHERE id = $5 RETURNING id),
                touched AS (UPDATE users SET last_auth_at = $1 WHERE id = $2)
           SELECT pg_notify($3, 's:' || id || '@${this.origin}') FROM touched_session`,
          [now, userId, this.channel, expiresAt, sessionId],
        ),
      );
    }
    // This instance reads its own writes exactly: its cached entries of the user take the new times
    // (dropping them cost the user's next request a round trip, at every refresh).
    this.cache?.touched(sessionId, userId, now, expiresAt);
  }

  async deleteSession(id: string): Promise<boolean> {
    const deleted = await this.writing(() =>
      this.count(`WITH ended AS (DELETE FROM sessions WHERE id = $1 RETURNING id) SELECT pg_notify($2, 's:' || id || '@${this.origin}') FROM ended`, [
        id,
        this.channel,
      ]),
    );
    this.dropLocally('s', [id]);
    return deleted > 0;
  }

  async deleteSessionsOfUser(userId: string): Promise<number> {
    const r = await this.writing(() =>
      this.one(
        `WITH ended AS (DELETE FROM sessions WHERE user_id = $1 RETURNING id), n AS (SELECT count(*) AS n FROM ended)
         SELECT n, CASE WHEN n > 0 THEN pg_notify($2, 'u:' || $1::text || '@${this.origin}') END AS announced FROM n`,
        [userId, this.channel],
      ),
    );
    this.dropLocally('u', [userId]);
    return r!.n as number;
  }

  async deleteSessionOfUser(userId: string, sessionId: string): Promise<boolean> {
    const ids = await this.tx(async (c) => {
      const ids = (await this.rows(SQL.deleteSessionOfUser, [sessionId, userId], c)).map((r) => r.id as string);
      await this.announce(c, 's', ids);
      return ids;
    });
    this.dropLocally('s', ids);
    return ids.length > 0;
  }

  async deleteExpiredSessions(now: number, idleBefore?: number): Promise<number> {
    const ids = await this.tx(async (c) => {
      const ids = (await this.rows(...expiredSessions(now, idleBefore), c)).map((r) => r.id as string);
      await this.announce(c, 's', ids);
      return ids;
    });
    this.dropLocally('s', ids);
    return ids.length;
  }

  async rotateSigningKey(key: SigningKeyRecord): Promise<void> {
    await this.tx(async (c) => {
      // Rotations from several instances queue on this lock (readers are not blocked), so each
      // one retires every key inserted before it: exactly one key stays active.
      await c.query('LOCK TABLE signing_keys IN EXCLUSIVE MODE');
      await c.query(SQL.retireKeys, [key.createdAt]);
      await c.query(SQL.insertKey, [key.kid, key.secret, key.createdAt, key.retiredAt]);
    });
  }

  async importUser(record: ImportedUser, opts: { dryRun?: boolean } = {}): Promise<ImportOutcome> {
    let outcome: ImportOutcome | undefined;
    await this.tx(async (c) => {
      // Serializable: two imports (or an import and a login) racing on one identity or email
      // cannot both pass the checks below; the loser (serialization failure, or the unique
      // violation of an insert its checks did not expect) is retried and sees the winner's rows.
      await c.query('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE');
      const u = record.user;
      const accountOf = (r: Row | undefined) => (r ? toAccount(r) : null);
      const identityOwners: (string | null)[] = [];
      for (const i of record.identities) {
        const r = await this.one(SQL.identityOwner, [i.providerName, i.externalId], c);
        identityOwners.push((r?.user_id as string | undefined) ?? null);
      }
      const accountsById = [];
      const accountsByEmail = [];
      for (const a of record.accounts) {
        accountsById.push(accountOf(await this.one(SQL.accountById, [a.id], c)));
        accountsByEmail.push(accountOf(await this.one(SQL.accountByEmail, [a.email], c)));
      }
      const userExists = u !== null && (await this.one(SQL.userExists, [u.id], c)) !== undefined;
      const plan = planImport(record, { userExists, identityOwners, accountsById, accountsByEmail });
      if (plan.conflict !== null) {
        outcome = { status: 'conflict', reason: plan.conflict };
        return;
      }
      if (plan.insertUser && u) await c.query(SQL.insertUser, [u.id, u.type, u.disabled, u.createdAt, u.lastAuthAt]);
      for (const i of plan.identities) await c.query(SQL.insertIdentity, identityParams(u!.id, i, i.createdAt));
      if (u && plan.identities.length > 0) await this.announce(c, 'u', [u.id]);
      for (const a of plan.accounts) await c.query(SQL.insertAccount, [a.id, a.email, a.passwordHash, a.confirmed, a.createdAt]);
      outcome = { status: writesSomething(plan) ? 'imported' : 'unchanged' };
      // A dry run ends its transaction here: the outcome is known, nothing is kept.
      if (opts.dryRun) throw ROLLBACK;
    }, { retryUniqueViolation: true }).catch((err: unknown) => {
      if (err !== ROLLBACK) throw err;
    });
    if (record.user && !opts.dryRun && outcome?.status === 'imported') this.dropLocally('u', [record.user.id]);
    return outcome!;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener?.close();
    await this.pool.end();
  }
}
