// Assembles one app's server from explicit configuration: nothing here reads files other than
// through the store, or the environment. The CLI and the tests both start servers this way,
// so a test can run several apps in one process.

import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { Admin } from './admin/admin.js';
import { AdminSessions } from './admin/sessions.js';
import { AdminTokens } from './admin/tokens.js';
import { TriggerAdmin } from './admin/triggers.js';
import type { AppConfig } from './app/model.js';
import { ApiKeys } from './auth/api-keys.js';
import { argon2Hasher, type PasswordHasher } from './auth/passwords.js';
import { OAuthRedirects } from './auth/oauth-redirect.js';
import type { AppleEndpoints } from './auth/providers/oauth2-apple.js';
import { buildProviders } from './auth/registry.js';
import { AuthService } from './auth/service.js';
import { LoginThrottle, type ThrottleSettings } from './auth/throttle.js';
import { outboxMailer, smtpMailer, type Mailer } from './email/mailer.js';
import type { DocumentEngine } from './data/engine.js';
import { customUserDataLookup } from './data/custom-user-data.js';
import { dataEngines, type MongoClusterOptions } from './data/engines.js';
import { openSqliteDocuments } from './data/sqlite-engine.js';
import { activeUsers, ExecutionUsers } from './functions/execution-user.js';
import { Functions } from './functions/functions.js';
import { HttpFunctions } from './functions/http-functions.js';
import { FunctionRuntime } from './functions/runtime.js';
import { AuthTriggers } from './functions/triggers.js';
import { ScheduledTriggers } from './triggers/scheduled.js';
import { DatabaseTriggers } from './triggers/database.js';
import { buildHttp, type HttpOptions } from './http/app.js';
import { readinessOf } from './http/routes/health.js';
import { ensureDataDir } from './store/data-dir.js';
import { SigningKeys } from './sessions/keys.js';
import { REFRESH_EXPIRATION_RELOAD_MS, RefreshTokenExpiration } from './sessions/refresh-expiration.js';
import { Sessions } from './sessions/sessions.js';
import { MongoService } from './services/mongodb/service.js';
import { prepareDependencies } from './functions/dependencies.js';
import { openSqliteStore } from './store/sqlite/index.js';
import { ownerOf } from './store/owner.js';
import type { Store } from './store/store.js';
import { emailPagesUrl, type UnknownEmailAnswer } from './users/email-password.js';
import { Users } from './users/users.js';
import { applyConnectionLimits, type ConnectionLimits } from './http/connection-limits.js';
import { systemClock, type Clock } from './util/clock.js';
import { WATCH_DEFAULTS, WatchHub, type WatchLimits } from './watch/hub.js';

export interface BasteOptions {
  readonly app: AppConfig;
  /** SQLite file, outbox and other local state live here. */
  readonly dataDir: string;
  /** Defaults to SQLite in `dataDir`. */
  readonly store?: Store;
  readonly logger?: Logger;
  readonly http?: Partial<HttpOptions>;
  /** How long slow or idle clients may hold a connection, and how many connections at most. */
  readonly connections?: ConnectionLimits;
  /**
   * `refreshTokenTtlSeconds`, `slidingExpiration` and `idleTimeoutSeconds` (0: none) are the
   * session policy until an operator sets it through the admin API (sessions/refresh-expiration.ts);
   * `settingsReloadMs` how often those settings are re-read from the store (0: never).
   */
  readonly sessions?: {
    accessTokenTtlSeconds?: number;
    refreshTokenTtlSeconds?: number;
    slidingExpiration?: boolean;
    idleTimeoutSeconds?: number;
    settingsReloadMs?: number;
  };
  readonly throttle?: Partial<ThrottleSettings>;
  /** What the email/password routes answer for a taken or unregistered email (default `conceal`; see UnknownEmailAnswer). */
  readonly unknownEmails?: UnknownEmailAnswer;
  /** Anonymous users inactive this long are removed (with expired sessions, tokens and counters), every `intervalSeconds` (0 disables the sweep). */
  readonly anonymousSweep?: { inactiveDays?: number; intervalSeconds?: number };
  readonly smtp?: { url: string; from: string };
  readonly mailer?: Mailer;
  readonly hasher?: PasswordHasher;
  readonly clock?: Clock;
  /** Custom-token JWK set: fetch budget and least time between refetches (both default 5 s). */
  readonly jwksTimeoutMs?: number;
  readonly jwksCooldownMs?: number;
  /** Budget for each call to Google, Facebook or Apple (default 10 s). */
  readonly oauthTimeoutMs?: number;
  /** Tests only: Apple's endpoints on a local server speaking its protocol (never from the app directory). */
  readonly appleEndpoints?: Partial<AppleEndpoints>;
  /** Documents of the data service; defaults to SQLite in `dataDir`. */
  readonly documents?: DocumentEngine;
  /**
   * A MongoDB cluster for data sources without a `config.uri` of their own (BASTE_MONGODB_URI);
   * without one they keep their documents in `documents`.
   */
  readonly mongodb?: MongoClusterOptions;
  /**
   * Function sandbox: wall-clock limit per call (default 120 s), isolate heap (default 256 MiB),
   * isolates kept ready (default 2) and the most at once while runaway calls hold some (default 8).
   */
  readonly functions?: { timeoutMs?: number; memoryMb?: number; isolates?: number; maxIsolates?: number };
  /** The web console's files, served at /admin/ (default: the package's `admin-console/`; null: no console). */
  readonly adminConsoleDir?: string | null;
  /** The email confirm and reset pages' files, served at /app/{appId}/confirm and /reset (default: the package's `email-pages/`; null: none). */
  readonly emailPagesDir?: string | null;
  /** How often (real time) scheduled triggers look for a due tick, default 1 s; 0: only when `scheduledTriggers.runDue()` is called (tests). */
  readonly scheduleCheckMs?: number;
  /**
   * Database triggers: how often (real time) to look for changes other instances committed
   * (default 1 s; 0: only as this instance's own writes commit, or `databaseTriggers.runDue()`), and
   * how long a trigger's lease lasts without renewal (default 30 s).
   */
  readonly databaseTriggers?: { pollMs?: number; leaseMs?: number };
  /** Watch streams: how many may be open (in all, per user), heartbeats, polling for other instances' writes (see WatchLimits). */
  readonly watch?: Partial<WatchLimits>;
}

/** The console shipped with the package, next to `src/` and `dist/`. */
export const ADMIN_CONSOLE_DIR = fileURLToPath(new URL('../admin-console/', import.meta.url));
/** The confirm and reset pages shipped with the package. */
export const EMAIL_PAGES_DIR = fileURLToPath(new URL('../email-pages/', import.meta.url));

export interface Baste {
  readonly http: FastifyInstance;
  readonly store: Store;
  readonly auth: AuthService;
  readonly apiKeys: ApiKeys;
  readonly triggers: AuthTriggers;
  /** Scheduled triggers; a test moves the injected clock and calls `runDue()`. */
  readonly scheduledTriggers: ScheduledTriggers;
  /** Database triggers; a test calls `runDue()` to deliver what is pending. */
  readonly databaseTriggers: DatabaseTriggers;
  /** Open watch streams. */
  readonly watch: WatchHub;
  /** Starts listening; resolves to the URL clients use (e.g. http://127.0.0.1:8080). */
  listen(port: number, host: string): Promise<string>;
  /** Runs the anonymous-user sweep once; returns how many users it removed. */
  sweepAnonymousUsers(): Promise<number>;
  close(): Promise<void>;
}

export const DEFAULTS = {
  accessTokenTtlSeconds: 30 * 60,
  refreshTokenTtlSeconds: 60 * 24 * 60 * 60,
  throttle: { maxFailuresPerAccount: 10, maxFailuresPerAddress: 100, windowSeconds: 15 * 60 },
  anonymousInactiveDays: 90,
  anonymousSweepIntervalSeconds: 60 * 60,
  functionTimeoutMs: 120_000,
  functionMemoryMb: 256,
} as const;

/** The data directory cannot be used (a file in the way, read-only, full): said in one line, no stack. */
export class DataDirError extends Error {
  override readonly name = 'DataDirError';
}

/** What is wrong with the data directory, in words, for a failure met while preparing it. */
export function dataDirProblem(dataDir: string, err: unknown): DataDirError {
  const e = err as { code?: string; message?: string };
  const why: Record<string, string> = {
    EEXIST: 'is not a directory (a file has that name)',
    ENOTDIR: 'cannot be created: part of its path is a file',
    EACCES: 'is not writable by this user (permission denied)',
    EPERM: 'is not writable by this user (operation not permitted)',
    EROFS: 'is on a read-only file system',
    ENOSPC: 'is on a full disk (no space left on device)',
    EDQUOT: 'is over its disk quota',
    SQLITE_READONLY: 'holds a database that cannot be written (read-only)',
    SQLITE_CANTOPEN: 'holds no database that can be opened (is it writable?)',
    SQLITE_FULL: 'is on a full disk (the database cannot grow)',
  };
  const reason = why[e?.code ?? ''] ?? (e?.code?.startsWith('SQLITE_IOERR') ? `cannot be read or written (${e.message})` : `cannot be used: ${e?.message ?? String(err)}`);
  return new DataDirError(`data directory ${dataDir} ${reason}`);
}

/** Throws DataDirError for the failures of a file system or SQLite file that an operator must fix; anything else as it was. */
function asDataDirError(dataDir: string, err: unknown): unknown {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^(E[A-Z]+|SQLITE_[A-Z_]+)$/.test(code) ? dataDirProblem(dataDir, err) : err;
}

/**
 * This instance's name in trigger leases: kept in the data directory, so a restarted instance
 * takes back its own leases at once instead of waiting for them to expire.
 */
function instanceId(dataDir: string): string {
  const file = join(dataDir, 'instance-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (id) return id;
  } catch {
    // none yet
  }
  const id = randomUUID();
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
}

export async function createBaste(opts: BasteOptions): Promise<Baste> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? pino({ level: 'silent' });
  // Files opened here are claimed for this app: another app's data directory is refused (store/owner.ts).
  const owner = ownerOf(opts.app);
  let store: Store;
  let moduleRoots: ReturnType<typeof prepareDependencies>;
  try {
    ensureDataDir(opts.dataDir);
    // The functions' npm packages (an archive is unpacked into the data directory): before anything
    // is opened, since a broken archive refuses the start.
    moduleRoots = prepareDependencies(opts.app.functionDependencies, opts.dataDir, logger);
    store = opts.store ?? openSqliteStore(join(opts.dataDir, 'baste.sqlite'), { owner });
  } catch (err) {
    throw asDataDirError(opts.dataDir, err);
  }
  const accessTtl = opts.sessions?.accessTokenTtlSeconds ?? DEFAULTS.accessTokenTtlSeconds;

  const keys = new SigningKeys(store, clock, accessTtl * 1000);
  await keys.init();
  let documents: DocumentEngine;
  try {
    documents = opts.documents ?? openSqliteDocuments(join(opts.dataDir, 'documents.sqlite'), { owner });
  } catch (err) {
    if (!opts.store) await store.close();
    throw asDataDirError(opts.dataDir, err);
  }
  const engines = dataEngines(documents, opts.mongodb);
  const customData = opts.app.customUserData
    ? customUserDataLookup(opts.app.customUserData, engines.engineFor(opts.app.dataSources?.get(opts.app.customUserData.serviceName)))
    : undefined;
  const refreshExpiration = new RefreshTokenExpiration(store, opts.sessions?.refreshTokenTtlSeconds ?? DEFAULTS.refreshTokenTtlSeconds, {
    sliding: opts.sessions?.slidingExpiration,
    idleTimeoutSeconds: opts.sessions?.idleTimeoutSeconds,
  });
  await refreshExpiration.load();
  const sessions = new Sessions(
    store,
    keys,
    clock,
    {
      domainId: opts.app.domainId,
      accessTokenTtlSeconds: accessTtl,
      // Read at every session opening: the operator's setting (admin API) as last loaded.
      get refreshTokenTtlSeconds() {
        return refreshExpiration.seconds;
      },
      get slidingExpiration() {
        return refreshExpiration.sliding;
      },
      get idleTimeoutSeconds() {
        return refreshExpiration.idleTimeoutSeconds;
      },
    },
    customData?.forToken,
  );
  const mailer =
    opts.mailer ??
    (opts.smtp ? smtpMailer(opts.smtp.url, opts.smtp.from, logger) : outboxMailer(join(opts.dataDir, 'outbox'), logger));
  // The data service and the functions reach each other (functions query data, rules call
  // %function), as do the functions and their execution users (run-as scripts run in the sandbox),
  // so both are bound late.
  let mongo: MongoService | undefined;
  let executionUsers: ExecutionUsers | undefined;
  const runtime = new FunctionRuntime(opts.app, {
    timeoutMs: opts.functions?.timeoutMs ?? DEFAULTS.functionTimeoutMs,
    memoryMb: opts.functions?.memoryMb ?? DEFAULTS.functionMemoryMb,
    isolates: opts.functions?.isolates,
    maxIsolates: opts.functions?.maxIsolates,
    logger,
    dataService: (service, op, args, caller, argTypes) => mongo!.execute(service, op, args, caller, argTypes),
    executionUser: (name, argsEjson, current, request) => executionUsers!.forNestedCall(name, current, argsEjson, request),
    modules: moduleRoots,
  });
  await runtime.warm();
  executionUsers = new ExecutionUsers(opts.app, runtime, activeUsers((id) => store.getUser(id), customData?.find));
  const functions = new Functions(opts.app, runtime, executionUsers);
  mongo = new MongoService(opts.app, engines.engineFor, (name, args, caller) => functions.callFromSystem(name, args, caller.user, caller.request));
  await mongo.prepare().catch(async (err: unknown) => {
    // A data source's cluster or indexes could not be set up: release what we opened first.
    await runtime.close();
    await engines.close();
    if (!opts.store) await store.close();
    throw err;
  });
  const throttle = new LoginThrottle(store, clock, { ...DEFAULTS.throttle, ...opts.throttle });
  const hasher = opts.hasher ?? argon2Hasher();
  const userpass = {
    accounts: store,
    hasher,
    mailer,
    throttle,
    clock,
    unknownEmails: opts.unknownEmails,
    runFunction: (name: string, args: unknown[]) => functions.callFromSystem(name, args),
    pagesUrl: opts.http?.baseUrl ? emailPagesUrl(opts.http.baseUrl, opts.app.appId) : undefined,
  };
  const providers = await buildProviders(opts.app, {
    userpass,
    apiKeys: store,
    jwksTimeoutMs: opts.jwksTimeoutMs,
    jwksCooldownMs: opts.jwksCooldownMs,
    oauthTimeoutMs: opts.oauthTimeoutMs,
    appleEndpoints: opts.appleEndpoints,
    clock,
    runFunction: (name, args) => functions.callFromSystem(name, args),
  }).catch(async (err: unknown) => {
    // A provider refused its configuration: release what we opened before saying so.
    await runtime.close();
    if (!opts.store) await store.close();
    throw err;
  });
  const triggers = new AuthTriggers(opts.app, (name, args) => functions.callFromSystem(name, args), logger, (trigger, error) =>
    store.recordTriggerRun(trigger, { at: clock(), ran: true, ...(error !== undefined && { error }) }),
  );
  const onUserCreation = opts.app.customUserData?.onUserCreationFunctionName;
  const users = new Users(store, opts.app, clock, {
    triggers,
    customData: customData?.find,
    onUserCreated: onUserCreation ? async (user) => void (await functions.callFromSystem(onUserCreation, [user], user)) : undefined,
    revokerOf: (name) => providers.get(name)?.revokeToken,
    log: logger,
    userpass,
  });
  const auth = new AuthService(providers, users, sessions, store, clock, throttle);
  const apiKeys = new ApiKeys(store, opts.app, clock, users);
  const httpFunctions = new HttpFunctions(opts.app, runtime, {
    fromAccessToken: async (token) => (await sessions.verifyAccessToken(token)).userId,
    fromCredential: (type, payload, ip, createUser) => auth.userForCredential(type, payload, { clientAddress: ip }, { createUser }),
    callUser: (userId) => users.callUser(userId),
  }, executionUsers);
  const admin = new Admin({
    store,
    app: opts.app,
    clock,
    apiKeys,
    users,
    customData: customData?.forToken,
    refreshExpiration,
    inspectAccessToken: (token) => sessions.inspectAccessToken(token),
  });
  const scheduledTriggers = new ScheduledTriggers(opts.app, store, clock, (name, args) => functions.callFromSystem(name, args), logger);
  const databaseTriggers = new DatabaseTriggers(opts.app, store, engines.engineFor, clock, (name, args) => functions.callFromSystem(name, args), logger, {
    instanceId: instanceId(opts.dataDir),
    leaseMs: opts.databaseTriggers?.leaseMs,
  });
  const adminTokens = new AdminTokens(store, clock, throttle);
  const watch = new WatchHub({ ...WATCH_DEFAULTS, ...opts.watch }, (sessionId, userId) => sessions.sessionLive(sessionId, userId), logger);
  const http = buildHttp({
    app: opts.app,
    auth,
    apiKeys,
    functions,
    httpFunctions,
    mongo,
    sessions,
    oauthRedirects: new OAuthRedirects(opts.app, auth, store, clock),
    logger,
    options: { trustProxy: false, ...opts.http },
    emailPagesDir: opts.emailPagesDir === undefined ? EMAIL_PAGES_DIR : opts.emailPagesDir,
    // A read of the signing keys: it reaches the store as a login would.
    readiness: readinessOf(() => store.listSigningKeys(), () => keys.loaded),
    watch,
    admin: {
      service: admin,
      tokens: adminTokens,
      sessions: new AdminSessions(adminTokens, store, clock, opts.app.domainId),
      consoleDir: opts.adminConsoleDir === undefined ? ADMIN_CONSOLE_DIR : opts.adminConsoleDir,
      triggers: new TriggerAdmin({ app: opts.app, store, clock, database: databaseTriggers, scheduled: scheduledTriggers }),
    },
  });
  applyConnectionLimits(http.server, opts.connections);

  const inactiveMs = (opts.anonymousSweep?.inactiveDays ?? DEFAULTS.anonymousInactiveDays) * 86_400_000;
  const sweepAnonymousUsers = async () => {
    const now = clock();
    const removed = await users.sweepAnonymous(now - inactiveMs);
    // Housekeeping rides on the same timer: nothing else removes these rows.
    const idle = refreshExpiration.idleTimeoutSeconds;
    await store.deleteExpiredSessions(now, idle > 0 ? now - idle * 1000 : undefined);
    await store.deleteExpiredUserpassTokens(now);
    await store.deleteExpiredOAuthStates(now);
    await store.deleteStaleCounters(now - 24 * 3600 * 1000);
    if (removed > 0) logger.info({ removed }, 'removed inactive anonymous users');
    return removed;
  };
  const intervalSeconds = opts.anonymousSweep?.intervalSeconds ?? DEFAULTS.anonymousSweepIntervalSeconds;
  const sweepTimer =
    intervalSeconds > 0
      ? setInterval(() => {
          sweepAnonymousUsers().catch((err: unknown) => logger.error({ err }, 'anonymous user sweep failed'));
        }, intervalSeconds * 1000)
      : null;
  sweepTimer?.unref();
  await databaseTriggers.prepare().catch(async (err: unknown) => {
    if (sweepTimer) clearInterval(sweepTimer);
    await watch.stop();
    await http.close();
    await runtime.close();
    await engines.close();
    if (!opts.store) await store.close();
    if (!opts.documents) await documents.close();
    throw err;
  });
  // Started last: nothing above can fail and leave them running.
  scheduledTriggers.start(opts.scheduleCheckMs ?? 1000);
  databaseTriggers.start(opts.databaseTriggers?.pollMs ?? 1000);
  refreshExpiration.start(opts.sessions?.settingsReloadMs ?? REFRESH_EXPIRATION_RELOAD_MS, (err) =>
    logger.error({ err }, 'reading the refresh token expiration failed'),
  );

  return {
    http,
    store,
    auth,
    apiKeys,
    triggers,
    scheduledTriggers,
    databaseTriggers,
    watch,
    sweepAnonymousUsers,
    async listen(port, host) {
      await http.listen({ port, host });
      const address = http.server.address();
      const actualPort = typeof address === 'object' && address ? address.port : port;
      const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
      return `http://${shownHost}:${actualPort}`;
    },
    async close() {
      if (sweepTimer) clearInterval(sweepTimer);
      refreshExpiration.stop();
      scheduledTriggers.stop();
      // Streams end first: open responses would hold the server's close.
      await watch.stop();
      await http.close();
      await triggers.settled();
      await scheduledTriggers.settled();
      await databaseTriggers.stop();
      await runtime.close();
      // A store passed in belongs to the caller; only the one we opened is ours to close.
      if (!opts.store) await store.close();
      if (!opts.documents) await documents.close();
      await engines.close();
    },
  };
}
