// Assembles one app's server from explicit configuration: nothing here reads files other than
// through the store, or the environment. The CLI and the tests both start servers this way,
// so a test can run several apps in one process.

import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
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
import { buildHttp } from './http/app.js';
import type { HttpOptions } from './http/deps.js';
import { readinessOf } from './http/routes/health.js';
import { ensureDataDir } from './store/data-dir.js';
import { SigningKeys } from './sessions/keys.js';
import { RefreshTokenExpiration } from './sessions/refresh-expiration.js';
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
import { WatchHub, type WatchLimits } from './watch/hub.js';
import { DEFAULTS, seconds } from './defaults.js';
import { Closers, Late } from './util/closers.js';

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

/**
 * Opens the server's parts in order, each release registered as its part opens: a step that fails
 * releases what the steps before it opened (last first), and close() releases the same list.
 * A store or document engine passed in belongs to the caller and is never closed here.
 */
export async function createBaste(opts: BasteOptions): Promise<Baste> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const closers = new Closers();
  try {
    return await assemble(opts, logger, closers);
  } catch (err) {
    await closers.closeAll((what, closeErr) => logger.warn({ err: closeErr, what }, 'releasing a failed start')).catch(() => undefined);
    throw err;
  }
}

async function assemble(opts: BasteOptions, logger: Logger, closers: Closers): Promise<Baste> {
  const clock = opts.clock ?? systemClock;
  // Files opened here are claimed for this app: another app's data directory is refused (store/owner.ts).
  const owner = ownerOf(opts.app);
  const inDataDir = <T>(step: () => T): T => {
    try {
      return step();
    } catch (err) {
      throw asDataDirError(opts.dataDir, err);
    }
  };
  inDataDir(() => ensureDataDir(opts.dataDir));
  // The functions' npm packages (an archive is unpacked into the data directory): before anything
  // is opened, since a broken archive refuses the start.
  const moduleRoots = inDataDir(() => prepareDependencies(opts.app.functionDependencies, opts.dataDir, logger));
  const store = opts.store ?? closers.own('store', inDataDir(() => openSqliteStore(join(opts.dataDir, 'baste.sqlite'), { owner })), (s) => s.close());

  const accessTtlSeconds = opts.sessions?.accessTokenTtlSeconds ?? seconds(DEFAULTS.sessions.accessTokenTtlMs);
  const keys = new SigningKeys(store, clock, accessTtlSeconds * 1000);
  await keys.init();
  const documents =
    opts.documents ?? closers.own('documents', inDataDir(() => openSqliteDocuments(join(opts.dataDir, 'documents.sqlite'), { owner })), (d) => d.close());
  const engines = closers.own('MongoDB clusters', await dataEngines(documents, opts.mongodb, opts.app.dataSources?.values()), (e) => e.close());
  const customData = opts.app.customUserData
    ? customUserDataLookup(opts.app.customUserData, engines.engineFor(opts.app.dataSources?.get(opts.app.customUserData.serviceName)))
    : undefined;
  const refreshExpiration = new RefreshTokenExpiration(store, opts.sessions?.refreshTokenTtlSeconds ?? seconds(DEFAULTS.sessions.refreshTokenTtlMs), {
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
      accessTokenTtlSeconds: accessTtlSeconds,
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
  // %function), as do the functions and their execution users (run-as scripts run in the sandbox):
  // the runtime is given both before they exist, and calls neither until a function runs.
  const mongoLate = new Late<MongoService>('the data service');
  const executionUsersLate = new Late<ExecutionUsers>('the execution users');
  const runtime = closers.own(
    'function runtime',
    new FunctionRuntime(opts.app, {
      timeoutMs: opts.functions?.timeoutMs ?? DEFAULTS.functions.timeoutMs,
      memoryMb: opts.functions?.memoryMb ?? DEFAULTS.functions.memoryMb,
      isolates: opts.functions?.isolates,
      maxIsolates: opts.functions?.maxIsolates,
      logger,
      dataService: (service, op, args, caller, argTypes) => mongoLate.get().execute(service, op, args, caller, argTypes),
      executionUser: (name, argsEjson, current, request) => executionUsersLate.get().forNestedCall(name, current, argsEjson, request),
      modules: moduleRoots,
    }),
    (r) => r.close(),
  );
  await runtime.warm();
  const executionUsers = executionUsersLate.set(new ExecutionUsers(opts.app, runtime, activeUsers((id) => store.getUser(id), customData?.find)));
  const functions = new Functions(opts.app, runtime, executionUsers);
  const system = (name: string, args: unknown[]) => functions.callFromSystem(name, args);
  const mongo = mongoLate.set(new MongoService(opts.app, engines.engineFor, (name, args, caller) => functions.callFromSystem(name, args, caller.user, caller.request)));
  // A data source's cluster or indexes that cannot be set up refuse the start.
  await mongo.prepare();
  const throttle = new LoginThrottle(store, clock, {
    maxFailuresPerAccount: DEFAULTS.throttle.maxFailuresPerAccount,
    maxFailuresPerAddress: DEFAULTS.throttle.maxFailuresPerAddress,
    windowSeconds: seconds(DEFAULTS.throttle.windowMs),
    ...opts.throttle,
  });
  const hasher = opts.hasher ?? argon2Hasher();
  const userpass = {
    accounts: store,
    hasher,
    mailer,
    throttle,
    clock,
    unknownEmails: opts.unknownEmails,
    runFunction: system,
    pagesUrl: opts.http?.baseUrl ? emailPagesUrl(opts.http.baseUrl, opts.app.appId) : undefined,
  };
  const providers = await buildProviders(opts.app, {
    userpass,
    apiKeys: store,
    jwksTimeoutMs: opts.jwksTimeoutMs ?? DEFAULTS.jwks.timeoutMs,
    jwksCooldownMs: opts.jwksCooldownMs ?? DEFAULTS.jwks.cooldownMs,
    oauthTimeoutMs: opts.oauthTimeoutMs ?? DEFAULTS.oauthTimeoutMs,
    appleEndpoints: opts.appleEndpoints,
    clock,
    runFunction: system,
  });
  const triggers = closers.own(
    'auth triggers',
    new AuthTriggers(opts.app, system, logger, (trigger, error) =>
      store.recordTriggerRun(trigger, { at: clock(), ran: true, ...(error !== undefined && { error }) }),
    ),
    (t) => t.settled(),
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
  // Runs in flight are waited for once the timers (started last) are stopped and the server closed.
  const scheduledTriggers = closers.own('scheduled triggers', new ScheduledTriggers(opts.app, store, clock, system, logger), (t) => t.settled());
  const databaseTriggers = new DatabaseTriggers(opts.app, store, engines.engineFor, clock, system, logger, {
    instanceId: instanceId(opts.dataDir),
    leaseMs: opts.databaseTriggers?.leaseMs,
  });
  await databaseTriggers.prepare();
  closers.add('database triggers', () => databaseTriggers.stop());
  const adminTokens = new AdminTokens(store, clock, throttle);
  const watch = closers.own('watch streams', new WatchHub({ ...DEFAULTS.watch, ...opts.watch }, (sessionId, userId) => sessions.sessionLive(sessionId, userId), logger), (w) => w.stop());
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
  closers.add('http server', async () => {
    // Streams end first: open responses would hold the server's close.
    await watch.stop();
    await http.close();
  });
  applyConnectionLimits(http.server, opts.connections);

  const inactiveMs = opts.anonymousSweep?.inactiveDays !== undefined ? opts.anonymousSweep.inactiveDays * 86_400_000 : DEFAULTS.anonymousSweep.inactiveMs;
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

  // Started last, and stopped first: nothing above can fail and leave them running.
  const sweepEveryMs = opts.anonymousSweep?.intervalSeconds !== undefined ? opts.anonymousSweep.intervalSeconds * 1000 : DEFAULTS.anonymousSweep.intervalMs;
  const sweepTimer =
    sweepEveryMs > 0
      ? setInterval(() => {
          sweepAnonymousUsers().catch((err: unknown) => logger.error({ err }, 'anonymous user sweep failed'));
        }, sweepEveryMs)
      : null;
  sweepTimer?.unref();
  scheduledTriggers.start(opts.scheduleCheckMs ?? DEFAULTS.scheduledTriggers.checkMs);
  databaseTriggers.start(opts.databaseTriggers?.pollMs ?? DEFAULTS.databaseTriggers.pollMs);
  refreshExpiration.start(opts.sessions?.settingsReloadMs ?? DEFAULTS.sessions.settingsReloadMs, (err) =>
    logger.error({ err }, 'reading the refresh token expiration failed'),
  );
  closers.add('timers', () => {
    if (sweepTimer) clearInterval(sweepTimer);
    refreshExpiration.stop();
    scheduledTriggers.stop();
  });

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
    close: () => closers.closeAll((what, err) => logger.error({ err, what }, 'closing failed')),
  };
}
