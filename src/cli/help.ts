// The command line's help: all of it (`baste --help`), and each command's part (`baste <command>
// --help`). test/deploy.test.ts holds the README to the flags listed here. Defaults are read from
// the server's table, so the text cannot drift from what the server does.

import { DEFAULTS, seconds } from '../defaults.js';

const { connections, watch, sessions } = DEFAULTS;

export const HELP = `baste: a self-hosted backend for MongoDB Stitch / Atlas App Services apps

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
  baste users import --app <dir> --file <users.json> [--dry-run] [--send-reset] [--json]
                                        bring users over from App Services (Admin API user pages or
                                        pending registrations, as JSON arrays or JSON lines) keeping
                                        their ids; --send-reset mails email/password users a reset link
  baste users export --app <dir> [--file <out.jsonl>]
                                        every user and pending registration, one JSON object a line
  baste users send-reset --app <dir> --id <user id> | --all
                                        mail a password reset link (--all: every user still without one)
  baste admin-token create|list|delete --app <dir> [--name <n>] [--id <id>] [--json]
                                        admin API / console tokens (the token is printed once, at creation)
  baste backup --to <file.tar.gz> [--data-dir <dir> | --app <dir>] [--force]
                                        copy the data directory's databases into one file, while the
                                        server runs (SQLite only; for --database use pg_dump)
  baste restore --from <file.tar.gz> [--data-dir <dir> | --app <dir>] [--force]
                                        restore a backup into a new data directory (--force replaces
                                        the databases of a stopped server's)
  baste <command> --help               that command's usage
  baste --help                          show this text
  baste --version                       the version of Baste

Every command takes --app-id <id> (also BASTE_APP_ID): the client app id to serve the app as, for
exports that carry none (or to override theirs).

users, admin-token, api-keys and keys work on --data-dir (default ./.baste-data/<app id> in the
working directory, or <app>/.baste where one exists from an older release); users and
admin-token also on --database <url> / BASTE_DATABASE_URL.
Reset links (users send-reset, users import --send-reset) go through --smtp-url / BASTE_SMTP_URL
(and --mail-from), else to <data-dir>/outbox/. A provider without resetPasswordUrl links to
Baste's reset page at --base-url <public url>.

Options for serve:
  --app <dir>            app directory (realm_config.json / root_config.json / config.json / stitch.json)
  --port <n>             port to listen on (default 8080; 0 picks a free one)
  --host <addr>          address to listen on (default 127.0.0.1)
  --data-dir <dir>       where state is kept (default ./.baste-data/<app id>; an existing <app>/.baste is kept)
  --database <url>       keep state in PostgreSQL (postgres://user:password@host:port/db; also
                         BASTE_DATABASE_URL) instead of SQLite in --data-dir; instances of one app may
                         share it (another app: its own database, or ?options=-c%20search_path%3D<schema>)
  --secrets <file.json>  JSON object of secret name -> value (also BASTE_SECRET_<NAME> variables)
  --base-url <url>       public URL clients should use (default: how the client reached the server)
  --trust-proxy          believe X-Forwarded-For/-Proto/-Host from a reverse proxy
  --reveal-unknown-emails  registration, confirmation and reset tell a taken or unknown email as the
                         platform does (409 AccountNameInUse, 404 UserNotFound; default: every email alike)
  --max-connections <n>  open connections at most; one more gets 503 (default: what the open-files limit allows, at most 10000;
                         raise that limit before starting: ulimit -n, or LimitNOFILE= under systemd)
  --request-timeout <s>  seconds to receive a whole request (default ${seconds(connections.requestTimeoutMs)}); headers must come within ${seconds(connections.headersTimeoutMs)}
  --keep-alive-timeout <s>  seconds an idle keep-alive connection stays open (default ${seconds(connections.keepAliveTimeoutMs)})
  --max-watch-streams <n>  open watch() streams at most, in all (default ${watch.maxStreams}); one more gets 429
  --max-watch-streams-per-user <n>  open watch() streams of one user at most (default ${watch.maxStreamsPerUser})
  --refresh-token-expiration <s>  lifetime of new sessions in seconds, 1800 to 157680000 (default ${seconds(sessions.refreshTokenTtlMs)},
                         ${seconds(sessions.refreshTokenTtlMs) / 86_400} days)
  --sliding-sessions     each refresh extends a session to a full lifetime from then
  --session-idle-timeout <s>  a session not refreshed for this many seconds ends (3600 to 157680000;
                         default: none). These three apply until set through the admin API
                         (security/refresh_token_expiration, security/session_policy)
  --smtp-url <url>       send email through SMTP (also BASTE_SMTP_URL); otherwise emails go to <data-dir>/outbox/
  --mail-from <address>  sender of emails (default baste@localhost)
  --log-level <level>    fatal, error, warn, info (default), debug
  BASTE_MONGODB_URI      MongoDB connection string for data sources without a config.uri of their
                         own; without either, documents are kept by Baste (SQLite or --database)
`;

const SERVE_OPTIONS = HELP.slice(HELP.indexOf('Options for serve:'));

const DATA_DIR_NOTE = `--data-dir defaults to ./.baste-data/<app id> in the working directory (or <app>/.baste where one
exists from an older release). Every command takes --app-id <id> (also BASTE_APP_ID).
`;

/** Each command's usage: the lines of the full help that name it, and what only it needs. */
const COMMANDS: Record<string, string> = {
  serve: `Usage: baste serve --app <dir> [options]

Serves an app exported from App Services / Realm / Stitch.

${SERVE_OPTIONS}`,
  validate: `Usage: baste validate --app <dir> [--app-id <id>] [--secrets <file.json>]

Loads the app directory (the folder holding realm_config.json, root_config.json, config.json or
stitch.json) and reports what would not be served; exit 1 when it cannot be served.
`,
  keys: `Usage: baste keys rotate --app <dir> [--data-dir <dir>]

Makes a new access-token signing key active; running servers pick it up within a minute, and tokens
signed with older keys stay valid until they expire.
${DATA_DIR_NOTE}`,
  'api-keys': `Usage: baste api-keys create|list|enable|disable|delete --app <dir> [--name <name>] [--json] [--data-dir <dir>]

Server API keys. create prints the key once; enable, disable and delete need --name.
${DATA_DIR_NOTE}`,
  users: `Usage:
  baste users list [--provider <type>] [--search <text>] [--after <id>] [--pending] --app <dir> [--json]
  baste users show|disable|enable|delete|revoke --id <user id> --app <dir> [--json]
  baste users create --email <addr> --password <pw> --app <dir>   (or BASTE_USER_PASSWORD)
  baste users confirm --email <addr> --app <dir>                  (a pending email/password registration)
  baste users import --file <users.json> [--dry-run] [--send-reset] --app <dir> [--json]
  baste users export [--file <out.jsonl>] --app <dir>
  baste users send-reset --id <user id> | --all --app <dir> [--smtp-url <url>] [--mail-from <addr>] [--base-url <url>]

Works with the server running or not, on --data-dir <dir> or --database <url> (BASTE_DATABASE_URL).
Reset links go through --smtp-url / BASTE_SMTP_URL, else to <data-dir>/outbox/.
${DATA_DIR_NOTE}`,
  'admin-token': `Usage: baste admin-token create|list|delete --app <dir> [--name <name>] [--id <id>] [--json]
                 [--data-dir <dir> | --database <url>]

Tokens for the admin API and the console at /admin/. create prints the token once; delete needs --id.
${DATA_DIR_NOTE}`,
  backup: `Usage: baste backup --to <file.tar.gz> [--data-dir <dir> | --app <dir>] [--force] [--json]

Copies the data directory's databases (baste.sqlite, documents.sqlite) into one file while the
server runs. --force replaces an existing file. A server on --database keeps its state in
PostgreSQL: back that up with pg_dump (README, "Backups").
`,
  restore: `Usage: baste restore --from <file.tar.gz> [--data-dir <dir> | --app <dir>] [--force] [--json]

Restores a backup into a new or empty data directory, after checking its checksums, SQLite's
integrity check and (with --app) that it is that app's. --force replaces the databases of a data
directory no server is running on.
`,
};

export const COMMAND_NAMES = Object.keys(COMMANDS);

/** The help of one command, or undefined for an unknown one. */
export const commandHelp = (command: string): string | undefined => COMMANDS[command];
