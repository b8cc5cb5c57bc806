// The `baste` command. The only place that reads the environment and command line; it builds
// the configuration and passes it down.

import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { userInfo } from 'node:os';
import { resolve, join } from 'node:path';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { pino } from 'pino';
import { adminTokenCommand, usersCommand } from './admin/commands.js';
import type { Actor } from './admin/tokens.js';
import { loadAppDirectory } from './app/load.js';
import type { LoadedApp } from './app/model.js';
import { readSecrets } from './app/secrets.js';
import { checkFunctionSources } from './app/source-check.js';
import { ApiKeys } from './auth/api-keys.js';
import { argon2Hasher } from './auth/passwords.js';
import { checkProviders, tokenRevokers } from './auth/registry.js';
import { BasteError, ConfigError } from './errors.js';
import { outboxMailer, smtpMailer, type Mailer } from './email/mailer.js';
import { createBaste, dataDirProblem, DataDirError } from './server.js';
import { Closers } from './util/closers.js';
import { rotateSigningKey } from './sessions/keys.js';
import { requireIdleTimeout, requireRefreshExpiration } from './sessions/refresh-expiration.js';
import { openSqliteStore } from './store/sqlite/index.js';
import type { DocumentEngine } from './data/engine.js';
import { openPostgresDocuments } from './data/postgres-engine.js';
import { openPostgresStore, poolOfPostgresStore } from './store/postgres/index.js';
import { DatabaseOwnedError, ownerOf, type DatabaseOwner } from './store/owner.js';
import { DATA_ROOT, defaultDataDir, ensureDataDir, type DefaultDataDir as DataDirChoice } from './store/data-dir.js';
import { openFilesLimit, RESERVED_DESCRIPTORS } from './http/connection-limits.js';
import { startupWarnings } from './startup-warnings.js';
import { BackupError } from './ops/backup.js';
import { appRootProblem } from './app/app-root.js';
import { argsProblem, nearest } from './cli/args.js';
import { emailPagesUrl } from './users/email-password.js';
import { describeFailure } from './cli/failures.js';
import { COMMAND_NAMES, commandHelp, HELP } from './cli/help.js';
import { hostProblem, logLevelProblem, mailFromProblem, smtpUrlProblem } from './cli/serve-flags.js';
import { serverV8Flags } from './cli/heap.js';
import { backupCommand, restoreCommand } from './ops/commands.js';
import type { Store } from './store/store.js';
import { allTriggers, describeTrigger, triggerLine } from './triggers/describe.js';

export interface Io {
  readonly env: Record<string, string | undefined>;
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
  /** The working directory, where the default data directory lives (process.cwd() when absent). */
  readonly cwd?: string;
}


const OPTIONS = {
  app: { type: 'string' },
  'app-id': { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  'data-dir': { type: 'string' },
  database: { type: 'string' },
  secrets: { type: 'string' },
  'base-url': { type: 'string' },
  'trust-proxy': { type: 'boolean' },
  'reveal-unknown-emails': { type: 'boolean' },
  'max-connections': { type: 'string' },
  'request-timeout': { type: 'string' },
  'keep-alive-timeout': { type: 'string' },
  'refresh-token-expiration': { type: 'string' },
  'sliding-sessions': { type: 'boolean' },
  'session-idle-timeout': { type: 'string' },
  'max-watch-streams': { type: 'string' },
  'max-watch-streams-per-user': { type: 'string' },
  'smtp-url': { type: 'string' },
  'mail-from': { type: 'string' },
  'log-level': { type: 'string' },
  name: { type: 'string' },
  json: { type: 'boolean' },
  id: { type: 'string' },
  email: { type: 'string' },
  password: { type: 'string' },
  provider: { type: 'string' },
  search: { type: 'string' },
  after: { type: 'string' },
  pending: { type: 'boolean' },
  file: { type: 'string' },
  'dry-run': { type: 'boolean' },
  'send-reset': { type: 'boolean' },
  all: { type: 'boolean' },
  to: { type: 'string' },
  from: { type: 'string' },
  force: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

/** A command line that cannot mean anything: exit 2, with where to read the usage. */
class UsageError extends Error {}
/** A failure the user can act on, said in one line: exit 1. */
class CliError extends Error {}

/** The command named on the command line (for pointing at its help), if any. */
const commandOf = (argv: string[]) => argv.find((a) => COMMAND_NAMES.includes(a));

export async function main(argv: string[], io: Io): Promise<number> {
  try {
    return await run(argv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      const command = commandOf(argv);
      io.stderr.write(`baste: ${err.message}\nRun 'baste ${command ? `${command} ` : ''}--help' for usage.\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      io.stderr.write(`baste: invalid app configuration: ${err.message}\n`);
      return 1;
    }
    if (err instanceof DatabaseOwnedError || err instanceof DataDirError || err instanceof BackupError || err instanceof CliError) {
      io.stderr.write(`baste: ${err.message}\n`);
      return 1;
    }
    // Anything else: one line too (the stack only when asked for, for a bug report).
    io.stderr.write(`baste: ${describeFailure(err, io.env.BASTE_DEBUG === '1')}\n`);
    return 1;
  }
}

async function run(argv: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(argsProblem(err, OPTIONS));
  }
  const { values: flags, positionals } = parsed;
  const [command, sub] = positionals;
  if (flags.version) {
    io.stdout.write(`baste ${await version()}\n`);
    return 0;
  }
  if (command === 'help' || (flags.help && command)) {
    // `baste serve --help`, `baste help serve`: that command's part; an unknown one gets all of it.
    const topic = command === 'help' ? sub : command;
    io.stdout.write((topic && commandHelp(topic)) || HELP);
    return 0;
  }
  if (flags.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (!command) {
    // Nothing asked: the help, as a usage error (a script calling `baste` bare is mistaken).
    io.stderr.write(HELP);
    return 2;
  }
  if (!COMMAND_NAMES.includes(command)) {
    const guess = nearest(command, COMMAND_NAMES);
    throw new UsageError(`unknown command '${command}'${guess ? `; did you mean 'baste ${guess}'?` : ''}`);
  }
  const appDir = () => {
    if (!flags.app) throw new UsageError(`${command} needs --app <dir>`);
    const dir = resolve(flags.app);
    const problem = appRootProblem(dir);
    if (problem) throw new CliError(problem);
    return dir;
  };
  // The data directory of a loaded app: --data-dir, or the default (store/data-dir.ts).
  const dataDirOf = (config: { appId: string }): DataDirChoice =>
    flags['data-dir'] !== undefined
      ? { dir: resolve(flags['data-dir']), legacy: false }
      : defaultDataDir(appDir(), config.appId, io.cwd ?? process.cwd());
  const dataDir = (config: { appId: string }) => dataDirOf(config).dir;
  const load = async (): Promise<LoadedApp> => {
    const secrets = await readSecrets({ file: flags.secrets, env: io.env });
    const appId = flags['app-id'] ?? (io.env.BASTE_APP_ID || undefined);
    return loadAppDirectory(appDir(), { secrets, appId });
  };

  switch (command) {
    case 'validate': {
      const { config, warnings } = await load();
      const notServed = await checkProviders(config);
      for (const w of warnings) io.stdout.write(`warning: ${w.file}: ${w.message}\n`);
      for (const n of notServed) io.stdout.write(`warning: ${n}\n`);
      // A function that does not parse would fail each call: validate fails, naming each one.
      const broken = checkFunctionSources(config);
      for (const b of broken) io.stderr.write(`error: ${b.message}\n`);
      if (broken.length > 0) {
        io.stderr.write(`baste: ${broken.length} function source${broken.length === 1 ? '' : 's'} cannot be compiled\n`);
        return 1;
      }
      // Every trigger, whatever its kind, in one listing ordered by name.
      for (const t of allTriggers(config)) io.stdout.write(`${triggerLine(describeTrigger(t))}\n`);
      const enabled = [...config.providers.values()].filter((p) => !p.disabled).map((p) => p.name);
      io.stdout.write(`ok: app '${config.name}' (${config.appId}), layout ${config.layout}, providers: ${enabled.join(', ')}\n`);
      return 0;
    }
    case 'keys': {
      if (sub !== 'rotate') throw new UsageError(`unknown keys command '${sub ?? ''}' (expected: rotate)`);
      const { config } = await load();
      const store = openDataDirStore(dataDir(config), ownerOf(config));
      try {
        const kid = await rotateSigningKey(store, Date.now());
        io.stdout.write(`new signing key ${kid} is active; tokens signed with older keys stay valid until they expire\n`);
      } finally {
        await store.close();
      }
      return 0;
    }
    case 'api-keys':
      return apiKeysCommand(sub, flags, io, load, dataDir);
    case 'users': {
      const { config } = await load();
      const dir = dataDir(config);
      // A dry run into a data directory that has no store yet creates none: it checks against an empty one.
      const scratch = sub === 'import' && flags['dry-run'] === true && !databaseUrlOf(flags, io) && !existsSync(join(dir, 'baste.sqlite'));
      // A deleted user's Apple tokens are revoked, as the server does.
      const revokerOf = sub === 'delete' ? await tokenRevokers(config) : undefined;
      return withAdminStore(flags, io, dir, ownerOf(config), (store) =>
        usersCommand(sub, { ...flags, password: flags.password ?? (io.env.BASTE_USER_PASSWORD || undefined) }, io, {
          store,
          app: config,
          hasher: argon2Hasher(),
          clock: Date.now,
          actor: cliActor(),
          files: cliFiles(flags, io, dir),
          pagesUrl: flags['base-url'] === undefined ? undefined : emailPagesUrl(checkedBaseUrl(flags['base-url']), config.appId),
          revokerOf,
        }),
        scratch,
      );
    }
    case 'admin-token': {
      const { config } = await load();
      return withAdminStore(flags, io, dataDir(config), ownerOf(config), (store) => adminTokenCommand(sub, flags, io, { store, clock: Date.now, actor: cliActor() }));
    }
    case 'serve':
      return serve(flags, io, load, appDir, dataDirOf);
    case 'backup':
    case 'restore': {
      const file = command === 'backup' ? flags.to : flags.from;
      if (!file) throw new UsageError(command === 'backup' ? 'backup needs --to <file>' : 'restore needs --from <file>');
      if (flags.database !== undefined) throw new UsageError(`${command} works on a data directory's SQLite databases; a --database in PostgreSQL is backed up with pg_dump (see the README)`);
      if (flags['data-dir'] === undefined && flags.app === undefined) throw new UsageError(`${command} needs --data-dir <dir> (or --app <dir> for its default data directory)`);
      // The app (for its default data directory, and for restore the app id the backup must belong to).
      const config = flags.app !== undefined ? (await load()).config : undefined;
      const dir = flags['data-dir'] !== undefined ? resolve(flags['data-dir']) : dataDir(config!);
      const common = { dataDir: dir, force: flags.force ?? false, json: flags.json ?? false };
      return command === 'backup'
        ? backupCommand({ ...common, to: file }, io)
        : restoreCommand({ ...common, from: file, appId: config?.appId }, io);
    }
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

/** The embedded store of a data directory, created on first use and claimed for the app (as `serve` would). */
function openDataDirStore(dataDir: string, owner: DatabaseOwner) {
  try {
    ensureDataDir(dataDir);
    return openSqliteStore(join(dataDir, 'baste.sqlite'), { owner });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    // A file in the way, no permission, a damaged database: said as `serve` says it.
    if (typeof code === 'string' && /^(E[A-Z]+|SQLITE_[A-Z_]+)$/.test(code)) throw dataDirProblem(dataDir, err);
    throw err;
  }
}

/** The package's version, read when asked (`baste --version`). */
async function version(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** The audit log's "who" for what is done from the command line. */
function cliActor(): Actor {
  let user = 'unknown user';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (some containers): keep the placeholder
  }
  return { id: 'cli', name: `cli (${user})` };
}

/** `--database`, else BASTE_DATABASE_URL: a PostgreSQL URL, or undefined for SQLite in the data directory. */
function databaseUrlOf(flags: Flags, io: Io): string | undefined {
  const databaseUrl = flags.database ?? (io.env.BASTE_DATABASE_URL || undefined);
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new UsageError('--database must be a postgres:// or postgresql:// URL');
  }
  return databaseUrl;
}

/** Reading the users file, writing an export (owner-only: it holds emails), and the mailer of reset links. */
function checkedBaseUrl(baseUrl: string): string {
  if (!/^https?:\/\/[^/]+\/?$/.test(baseUrl)) throw new UsageError(`--base-url must be scheme://host[:port], got '${baseUrl}'`);
  return baseUrl;
}

function cliFiles(flags: Flags, io: Io, dataDir: string) {
  let mailer: Mailer | undefined;
  return {
    read: (path: string) => readFile(resolve(path), 'utf8'),
    async write(path: string, lines: AsyncIterable<string>) {
      const out = createWriteStream(resolve(path), { mode: 0o600 });
      const closed = once(out, 'close');
      try {
        for await (const line of lines) if (!out.write(line)) await once(out, 'drain');
      } finally {
        out.end();
      }
      await closed;
    },
    mailer() {
      // Log lines (recipient and kind, never the link) go to stderr, as JSON like the server's.
      const log = pino({ level: 'info', base: undefined }, pino.destination(2));
      const smtpUrl = flags['smtp-url'] ?? io.env.BASTE_SMTP_URL;
      mailer ??= smtpUrl ? smtpMailer(smtpUrl, flags['mail-from'] ?? 'baste@localhost', log) : outboxMailer(join(dataDir, 'outbox'), log);
      return mailer;
    },
  };
}

/**
 * Runs `fn` on the store of `--database` / BASTE_DATABASE_URL when given, else the data
 * directory's (or, with `scratch`, an empty one in memory), and closes it.
 */
async function withAdminStore(
  flags: Flags,
  io: Io,
  dataDir: string,
  owner: DatabaseOwner,
  fn: (store: Store) => Promise<number>,
  scratch = false,
): Promise<number> {
  const databaseUrl = databaseUrlOf(flags, io);
  let store: Store;
  try {
    store = databaseUrl
      ? await openPostgresStore(databaseUrl, { maxConnections: 2, owner, sessionCache: false })
      : scratch
        ? openSqliteStore(':memory:')
        : openDataDirStore(dataDir, owner);
  } catch (err) {
    if (err instanceof DatabaseOwnedError || err instanceof DataDirError) throw err;
    io.stderr.write(`baste: cannot open the ${databaseUrl ? 'PostgreSQL database (check --database / BASTE_DATABASE_URL)' : 'data directory'}: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** `baste api-keys ...`: server API keys, managed on the data directory (server running or not). */
async function apiKeysCommand(
  sub: string | undefined,
  flags: Flags,
  io: Io,
  load: () => Promise<LoadedApp>,
  dataDirOf: (config: { appId: string }) => string,
): Promise<number> {
  const subs = ['create', 'list', 'enable', 'disable', 'delete'];
  if (!sub || !subs.includes(sub)) throw new UsageError(`api-keys needs one of: ${subs.join(', ')}`);
  if (sub !== 'list' && !flags.name) throw new UsageError(`api-keys ${sub} needs --name <name>`);
  const { config } = await load();
  const store = openDataDirStore(dataDirOf(config), ownerOf(config));
  const keys = new ApiKeys(store, config, Date.now);
  const out = (text: string, json: unknown) => io.stdout.write(flags.json ? `${JSON.stringify(json)}\n` : text);
  try {
    switch (sub) {
      case 'create': {
        const created = await keys.createServerKey(flags.name);
        out(`created server API key '${created.name}' (${created._id})\nkey: ${created.key}\nThis is the only time the key is shown.\n`, created);
        break;
      }
      case 'list': {
        const all = await keys.listServerKeys();
        const rows = all.map((k) => `${k._id}  ${k.disabled ? 'disabled' : 'enabled '}  ${new Date(k.createdAt).toISOString()}  ${k.name}`);
        out(all.length ? `id                        state     created                   name\n${rows.join('\n')}\n` : 'no server API keys\n', all);
        break;
      }
      default: {
        const key = await keys.serverKeyNamed(flags.name!);
        if (sub === 'delete') await keys.delete(key.userId, key.id);
        else await keys.setDisabled(key.userId, key.id, sub === 'disable');
        out(`server API key '${key.name}' ${sub}d\n`, { _id: key.id, name: key.name, action: sub });
      }
    }
    return 0;
  } catch (err) {
    if (err instanceof BasteError) {
      io.stderr.write(`baste: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await store.close();
  }
}

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

async function serve(
  flags: Flags,
  io: Io,
  load: () => Promise<LoadedApp>,
  appDir: () => string,
  dataDirOf: (config: { appId: string }) => DataDirChoice,
): Promise<number> {
  const port = Number(flags.port ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0..65535, got '${flags.port}'`);
  const positive = (flag: 'max-connections' | 'request-timeout' | 'keep-alive-timeout' | 'max-watch-streams' | 'max-watch-streams-per-user', max: number): number | undefined => {
    const raw = flags[flag];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${flag} must be a whole number from 1 to ${max}, got '${raw}'`);
    return n;
  };
  const maxConnections = positive('max-connections', 1_000_000);
  const requestTimeout = positive('request-timeout', 3600);
  const keepAliveTimeout = positive('keep-alive-timeout', 3600);
  const policyFlag = (flag: 'refresh-token-expiration' | 'session-idle-timeout', check: (v: unknown) => number): number | undefined => {
    const raw = flags[flag];
    if (raw === undefined) return undefined;
    try {
      return check(/^\d+$/.test(raw) ? Number(raw) : raw);
    } catch (err) {
      throw new UsageError(`--${flag}: ${(err as Error).message.replace(/^\S+ /, '')}, got '${raw}'`);
    }
  };
  const refreshTokenTtlSeconds = policyFlag('refresh-token-expiration', requireRefreshExpiration);
  const idleTimeoutSeconds = policyFlag('session-idle-timeout', requireIdleTimeout);
  const maxWatchStreams = positive('max-watch-streams', 1_000_000);
  const maxWatchStreamsPerUser = positive('max-watch-streams-per-user', 1_000_000);
  const baseUrl = flags['base-url'] === undefined ? undefined : checkedBaseUrl(flags['base-url']);
  const smtpSource = flags['smtp-url'] !== undefined ? '--smtp-url' : 'BASTE_SMTP_URL';
  const problems = [
    flags['log-level'] !== undefined ? logLevelProblem(flags['log-level']) : undefined,
    flags.host !== undefined ? hostProblem(flags.host) : undefined,
    flags['mail-from'] !== undefined ? mailFromProblem(flags['mail-from']) : undefined,
    (flags['smtp-url'] ?? io.env.BASTE_SMTP_URL) ? smtpUrlProblem((flags['smtp-url'] ?? io.env.BASTE_SMTP_URL)!, smtpSource) : undefined,
  ].filter((p): p is string => p !== undefined);
  if (problems.length > 0) throw new UsageError(problems[0]!);
  // Before the app and the isolates load (cli/heap.ts says why).
  for (const flag of serverV8Flags(process.execArgv)) v8.setFlagsFromString(flag);
  const logger = pino({ level: flags['log-level'] ?? 'info', base: undefined });
  const { config, warnings } = await load();
  for (const w of warnings) logger.warn({ file: w.file }, w.message);
  for (const n of await checkProviders(config)) logger.warn(n);
  for (const b of checkFunctionSources(config)) logger.warn({ file: b.file }, `${b.reason}; calls to it will fail (baste validate lists these)`);
  const { dir: dataDir, legacy } = dataDirOf(config);
  const host = flags.host ?? '127.0.0.1';
  // Said in the log and, in plain words, on stderr: these are easy to miss in JSON lines.
  const loudly = (fields: Record<string, unknown>, message: string) => {
    logger.warn(fields, message);
    io.stderr.write(`baste: warning: ${message}\n`);
  };
  const descriptors = { maxConnections, openFiles: openFilesLimit(), reservedDescriptors: RESERVED_DESCRIPTORS };
  for (const w of startupWarnings({ host, baseUrl, dataDir, appDir: appDir(), ...descriptors })) loudly(w.fields, w.message);
  if (legacy) {
    logger.info(
      { dataDir, default: join(DATA_ROOT, '<app id>') },
      `using the existing data directory ${dataDir} (the default of earlier releases); new installations default to ./${DATA_ROOT}/<app id> in the working directory; move it there, or pass --data-dir`,
    );
  }

  // PostgreSQL when a database URL is given (several instances may share it), else SQLite in dataDir.
  const databaseUrl = databaseUrlOf(flags, io);
  // The databases opened here, then the server: released last first, whichever step fails, and at the end.
  const closers = new Closers();
  const release = () => closers.closeAll((what, err) => logger.error({ err, what }, 'closing failed'));
  let store: Awaited<ReturnType<typeof openPostgresStore>> | undefined;
  let documents: DocumentEngine | undefined;
  if (databaseUrl) {
    try {
      const owner = ownerOf(config);
      store = closers.own('store', await openPostgresStore(databaseUrl, { owner, onError: (err) => logger.warn({ err }, 'idle database connection failed') }), (s) => s.close());
      // One pool per instance: the documents run on the store's connections.
      documents = closers.own('documents', await openPostgresDocuments(databaseUrl, { owner, pool: poolOfPostgresStore(store) ?? undefined }), (d) => d.close());
    } catch (err) {
      await release();
      if (err instanceof DatabaseOwnedError) throw err;
      io.stderr.write(`baste: cannot open the PostgreSQL database: ${(err as Error).message}\n`);
      return 1;
    }
  }

  const smtpUrl = flags['smtp-url'] ?? io.env.BASTE_SMTP_URL;
  const baste = await createBaste({
    app: config,
    dataDir,
    store,
    documents,
    mongodb: { uri: io.env.BASTE_MONGODB_URI || undefined },
    logger,
    http: { baseUrl, trustProxy: flags['trust-proxy'] ?? false },
    unknownEmails: flags['reveal-unknown-emails'] ? 'reveal' : 'conceal',
    sessions: { refreshTokenTtlSeconds, slidingExpiration: flags['sliding-sessions'], idleTimeoutSeconds },
    connections: {
      maxConnections,
      requestTimeoutMs: requestTimeout === undefined ? undefined : requestTimeout * 1000,
      keepAliveTimeoutMs: keepAliveTimeout === undefined ? undefined : keepAliveTimeout * 1000,
    },
    smtp: smtpUrl ? { url: smtpUrl, from: flags['mail-from'] ?? 'baste@localhost' } : undefined,
    watch: {
      ...(maxWatchStreams !== undefined ? { maxStreams: maxWatchStreams } : {}),
      ...(maxWatchStreamsPerUser !== undefined ? { maxStreamsPerUser: maxWatchStreamsPerUser } : {}),
    },
  }).catch(async (err: unknown) => {
    await release();
    throw err;
  });
  closers.add('server', () => baste.close());
  let url: string;
  try {
    url = await baste.listen(port, host);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL' && code !== 'ENOTFOUND' && code !== 'EAI_AGAIN') throw err;
    await release();
    const why =
      code === 'EADDRINUSE' ? 'is already in use' : code === 'EACCES' ? 'needs privileges' : code === 'EADDRNOTAVAIL' ? 'is not an address of this machine' : 'names no host this machine can resolve';
    io.stderr.write(`baste: cannot listen on ${host}:${port}: it ${why}; choose another with --port / --host\n`);
    return 1;
  }
  logger.info({ app: config.appId, url, dataDir, store: databaseUrl ? 'postgresql' : 'sqlite' }, 'listening');
  io.stdout.write(
    `Baste is serving app '${config.name}' (${config.appId}) at ${url}\n` +
      // Where people land after the start: the console, and how to get in.
      `Admin console: ${url}/admin/ (sign in with a token from 'baste admin-token create --app <dir> --name <name>')\n` +
      // Without SMTP a registering user's link is only in a file: say which, or it looks lost.
      (smtpUrl ? '' : `Email: no SMTP server (--smtp-url), so confirmation and reset links are written to ${join(dataDir, 'outbox')}/ (one JSON file per email)\n`),
  );

  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      // The server closes what it opened; the databases opened here are ours to close.
      release().finally(done);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}
