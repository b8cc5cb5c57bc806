// The `baste` command. The only place that reads the environment and command line; it builds
// the configuration and passes it down.

import { mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve, join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { adminTokenCommand, usersCommand } from './admin/commands.js';
import type { Actor } from './admin/tokens.js';
import { loadAppDirectory } from './app/load.js';
import type { LoadedApp } from './app/model.js';
import { readSecrets } from './app/secrets.js';
import { checkFunctionSources } from './app/source-check.js';
import { ApiKeys } from './auth/api-keys.js';
import { argon2Hasher } from './auth/passwords.js';
import { checkProviders } from './auth/service.js';
import { BasteError, ConfigError } from './errors.js';
import { createBaste, DataDirError } from './server.js';
import { rotateSigningKey } from './sessions/keys.js';
import { openSqliteStore } from './store/sqlite/index.js';
import type { DocumentEngine } from './data/engine.js';
import { openPostgresDocuments } from './data/postgres-engine.js';
import { openPostgresStore } from './store/postgres/index.js';
import { DatabaseOwnedError, ownerOf, type DatabaseOwner } from './store/owner.js';
import type { Store } from './store/store.js';

export interface Io {
  readonly env: Record<string, string | undefined>;
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
}

const HELP = `baste: a self-hosted backend for MongoDB Stitch / Atlas App Services apps

Usage:
  baste serve --app <dir> [options]     serve an app exported from App Services / Stitch
  baste validate --app <dir>            load the app directory and report problems
  baste keys rotate --app <dir>         start signing access tokens with a new key
  baste api-keys create|list|enable|disable|delete --app <dir> [--name <n>] [--json]
                                        manage server API keys (the key is printed once, at creation)
  baste users list|show|create|disable|enable|delete|revoke|confirm --app <dir> [options] [--json]
                                        manage users (server running or not); options:
                                        list [--provider <type>] [--search <text>] [--after <id>] [--pending]
                                        show|disable|enable|delete|revoke --id <user id>
                                        create --email <addr> --password <pw> (or BASTE_USER_PASSWORD)
                                        confirm --email <addr>   (a pending email/password registration)
  baste admin-token create|list|delete --app <dir> [--name <n>] [--id <id>] [--json]
                                        admin API / console tokens (the token is printed once, at creation)
  baste --help                          show this text

Every command takes --app-id <id> (also BASTE_APP_ID): the client app id to serve the app as, for
exports that carry none (or to override theirs).

users, admin-token, api-keys and keys work on --data-dir (default <app>/.baste); users and
admin-token also on --database <url> / BASTE_DATABASE_URL.

Options for serve:
  --app <dir>            app directory (realm_config.json / root_config.json / config.json / stitch.json)
  --port <n>             port to listen on (default 8080; 0 picks a free one)
  --host <addr>          address to listen on (default 127.0.0.1)
  --data-dir <dir>       where state is kept (default <app>/.baste)
  --database <url>       keep state in PostgreSQL (postgres://user:password@host:port/db; also
                         BASTE_DATABASE_URL) instead of SQLite in --data-dir; instances of one app may
                         share it (another app: its own database, or ?options=-c%20search_path%3D<schema>)
  --secrets <file.json>  JSON object of secret name -> value (also BASTE_SECRET_<NAME> variables)
  --base-url <url>       public URL clients should use (default: how the client reached the server)
  --trust-proxy          believe X-Forwarded-For/-Proto/-Host from a reverse proxy
  --reveal-unknown-emails  password reset of an unregistered email answers 404 UserNotFound, as the
                         platform does (default: the same answer as for a registered email)
  --max-connections <n>  open connections at most; one more gets 503 (default: what the open-files limit allows, at most 10000)
  --request-timeout <s>  seconds to receive a whole request (default 60); headers must come within 10
  --keep-alive-timeout <s>  seconds an idle keep-alive connection stays open (default 65)
  --max-watch-streams <n>  open watch() streams at most, in all (default 5000); one more gets 429
  --max-watch-streams-per-user <n>  open watch() streams of one user at most (default 25)
  --smtp-url <url>       send email through SMTP (also BASTE_SMTP_URL); otherwise emails go to <data-dir>/outbox/
  --mail-from <address>  sender of emails (default baste@localhost)
  --log-level <level>    fatal, error, warn, info (default), debug
  BASTE_MONGODB_URI      MongoDB connection string for data sources without a config.uri of their
                         own; without either, documents are kept by Baste (SQLite or --database)
`;

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
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

export async function main(argv: string[], io: Io): Promise<number> {
  try {
    return await run(argv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`baste: ${err.message}\nRun 'baste --help' for usage.\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      io.stderr.write(`baste: invalid app configuration: ${err.message}\n`);
      return 1;
    }
    if (err instanceof DatabaseOwnedError || err instanceof DataDirError) {
      io.stderr.write(`baste: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

async function run(argv: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values: flags, positionals } = parsed;
  const [command, sub] = positionals;
  if (flags.help || !command || command === 'help') {
    io.stdout.write(HELP);
    return 0;
  }
  const appDir = () => {
    if (!flags.app) throw new UsageError(`${command} needs --app <dir>`);
    return resolve(flags.app);
  };
  const dataDir = () => resolve(flags['data-dir'] ?? join(appDir(), '.baste'));
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
      for (const t of config.scheduledTriggers?.values() ?? []) {
        const notes = [t.disabled && 'disabled', t.skipCatchupEvents && 'skips missed ticks'].filter(Boolean).join(', ');
        io.stdout.write(`scheduled trigger '${t.name}': ${t.schedule} (UTC) runs ${t.functionName}${notes ? ` (${notes})` : ''}\n`);
      }
      for (const t of config.databaseTriggers?.values() ?? []) {
        const notes = [
          t.disabled && 'disabled',
          Object.keys(t.match).length > 0 && 'with a match',
          Object.keys(t.project).length > 0 && 'projected',
          t.fullDocument && 'full document',
          t.fullDocumentBeforeChange && 'pre-image',
          t.unordered && 'unordered',
          t.skipCatchupEvents && 'skips events of while disabled',
        ].filter(Boolean).join(', ');
        const source = t.serviceName ? `${t.serviceName} ` : '';
        io.stdout.write(`database trigger '${t.name}': ${t.operations.join(', ')} on ${source}${t.database}.${t.collection} runs ${t.functionName}${notes ? ` (${notes})` : ''}\n`);
      }
      const enabled = [...config.providers.values()].filter((p) => !p.disabled).map((p) => p.name);
      io.stdout.write(`ok: app '${config.name}' (${config.appId}), layout ${config.layout}, providers: ${enabled.join(', ')}\n`);
      return 0;
    }
    case 'keys': {
      if (sub !== 'rotate') throw new UsageError(`unknown keys command '${sub ?? ''}' (expected: rotate)`);
      const store = openDataDirStore(dataDir(), ownerOf((await load()).config));
      try {
        const kid = await rotateSigningKey(store, Date.now());
        io.stdout.write(`new signing key ${kid} is active; tokens signed with older keys stay valid until they expire\n`);
      } finally {
        await store.close();
      }
      return 0;
    }
    case 'api-keys':
      return apiKeysCommand(sub, flags, io, load, dataDir());
    case 'users': {
      const { config } = await load();
      return withAdminStore(flags, io, dataDir(), ownerOf(config), (store) =>
        usersCommand(sub, { ...flags, password: flags.password ?? (io.env.BASTE_USER_PASSWORD || undefined) }, io, {
          store,
          app: config,
          hasher: argon2Hasher(),
          clock: Date.now,
          actor: cliActor(),
        }),
      );
    }
    case 'admin-token':
      return withAdminStore(flags, io, dataDir(), ownerOf((await load()).config), (store) => adminTokenCommand(sub, flags, io, { store, clock: Date.now, actor: cliActor() }));
    case 'serve':
      return serve(flags, io, load, dataDir());
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

/** The embedded store of a data directory, created on first use and claimed for the app (as `serve` would). */
function openDataDirStore(dataDir: string, owner: DatabaseOwner) {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  return openSqliteStore(join(dataDir, 'baste.sqlite'), { owner });
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

/** Runs `fn` on the store of `--database` / BASTE_DATABASE_URL when given, else the data directory's, and closes it. */
async function withAdminStore(flags: Flags, io: Io, dataDir: string, owner: DatabaseOwner, fn: (store: Store) => Promise<number>): Promise<number> {
  const databaseUrl = databaseUrlOf(flags, io);
  let store: Store;
  try {
    store = databaseUrl ? await openPostgresStore(databaseUrl, { maxConnections: 2, owner }) : openDataDirStore(dataDir, owner);
  } catch (err) {
    if (err instanceof DatabaseOwnedError) throw err;
    io.stderr.write(`baste: cannot open the ${databaseUrl ? 'PostgreSQL database' : 'data directory'}: ${(err as Error).message}\n`);
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
  dataDir: string,
): Promise<number> {
  const subs = ['create', 'list', 'enable', 'disable', 'delete'];
  if (!sub || !subs.includes(sub)) throw new UsageError(`api-keys needs one of: ${subs.join(', ')}`);
  if (sub !== 'list' && !flags.name) throw new UsageError(`api-keys ${sub} needs --name <name>`);
  const { config } = await load();
  const store = openDataDirStore(dataDir, ownerOf(config));
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

async function serve(flags: Flags, io: Io, load: () => Promise<LoadedApp>, dataDir: string): Promise<number> {
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
  const maxWatchStreams = positive('max-watch-streams', 1_000_000);
  const maxWatchStreamsPerUser = positive('max-watch-streams-per-user', 1_000_000);
  const baseUrl = flags['base-url'];
  if (baseUrl !== undefined && !/^https?:\/\/[^/]+\/?$/.test(baseUrl)) {
    throw new UsageError(`--base-url must be scheme://host[:port], got '${baseUrl}'`);
  }
  const logger = pino({ level: flags['log-level'] ?? 'info', base: undefined });
  const { config, warnings } = await load();
  for (const w of warnings) logger.warn({ file: w.file }, w.message);
  for (const n of await checkProviders(config)) logger.warn(n);
  for (const b of checkFunctionSources(config)) logger.warn({ file: b.file }, `${b.reason}; calls to it will fail (baste validate lists these)`);

  // PostgreSQL when a database URL is given (several instances may share it), else SQLite in dataDir.
  const databaseUrl = databaseUrlOf(flags, io);
  let store: Awaited<ReturnType<typeof openPostgresStore>> | undefined;
  let documents: DocumentEngine | undefined;
  if (databaseUrl) {
    try {
      const owner = ownerOf(config);
      store = await openPostgresStore(databaseUrl, { owner, onError: (err) => logger.warn({ err }, 'idle database connection failed') });
      documents = await openPostgresDocuments(databaseUrl, { owner });
    } catch (err) {
      await store?.close();
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
    await store?.close();
    await documents?.close();
    throw err;
  });
  const host = flags.host ?? '127.0.0.1';
  let url: string;
  try {
    url = await baste.listen(port, host);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') throw err;
    await baste.close();
    await store?.close();
    await documents?.close();
    const why = code === 'EADDRINUSE' ? 'is already in use' : code === 'EACCES' ? 'needs privileges' : 'is not an address of this machine';
    io.stderr.write(`baste: cannot listen on ${host}:${port}: it ${why}; choose another with --port / --host\n`);
    return 1;
  }
  logger.info({ app: config.appId, url, dataDir, store: databaseUrl ? 'postgresql' : 'sqlite' }, 'listening');
  io.stdout.write(`Baste is serving app '${config.name}' (${config.appId}) at ${url}\n`);

  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      // The server closes what it opened; the databases opened here are ours to close.
      baste
        .close()
        .then(() => store?.close())
        .then(() => documents?.close())
        .finally(done);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}
