// `baste users ...` and `baste admin-token ...`: the admin service on a data directory (or a
// PostgreSQL database), server running or not. Tables for people, `--json` for scripts; every
// refusal is one line on stderr and a non-zero exit. src/cli.ts parses the command line and
// opens the store; what happens then is here.

import type { AppConfig } from '../app/model.js';
import { ApiKeys } from '../auth/api-keys.js';
import { importPasswordHash } from '../auth/password-imports.js';
import type { PasswordHasher } from '../auth/passwords.js';
import type { TokenRevoker } from '../auth/provider-tokens.js';
import type { Mailer } from '../email/mailer.js';
import { BasteError } from '../errors.js';
import type { Store } from '../store/store.js';
import { exportUsers, importUsers, type ImportReport } from '../users/import.js';
import { Users } from '../users/users.js';
import type { Clock } from '../util/clock.js';
import { Admin, recordAudit, type AdminUser, type AdminUserDetail, type PendingUser } from './admin.js';
import { AdminTokens, type Actor } from './tokens.js';

export interface CommandIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
}

export interface UsersFlags {
  readonly id?: string;
  readonly email?: string;
  /** From `--password` or the environment (BASTE_USER_PASSWORD). */
  readonly password?: string;
  readonly provider?: string;
  readonly search?: string;
  readonly after?: string;
  readonly pending?: boolean;
  readonly json?: boolean;
  /** import: the users file; export: where to write (default: standard output). */
  readonly file?: string;
  readonly 'dry-run'?: boolean;
  readonly 'send-reset'?: boolean;
  readonly all?: boolean;
}

/** Files and mail, for import, export and send-reset: the command line passes its own. */
export interface UsersFiles {
  read(path: string): Promise<string>;
  write(path: string, lines: AsyncIterable<string>): Promise<void>;
  /** The mailer reset emails go through (SMTP, or the data directory's outbox). */
  mailer(): Mailer;
}

const USERS_SUBCOMMANDS = ['list', 'show', 'create', 'disable', 'enable', 'delete', 'revoke', 'confirm', 'import', 'export', 'send-reset'] as const;
const ADMIN_TOKEN_SUBCOMMANDS = ['create', 'list', 'delete'] as const;

const usage = (io: CommandIo, message: string): number => {
  io.stderr.write(`baste: ${message}\nRun 'baste --help' for usage.\n`);
  return 2;
};

/** Runs `fn`, turning a refusal (unknown user, taken email, ...) into its message and exit status 1. */
async function refusals(io: CommandIo, fn: () => Promise<void>): Promise<number> {
  try {
    await fn();
    return 0;
  } catch (err) {
    if (err instanceof BasteError) {
      io.stderr.write(`baste: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

const date = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Left-aligned columns two spaces apart. */
function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

const who = (u: AdminUser) => String(u.data.email ?? u.data.name ?? '');
const state = (disabled: boolean) => (disabled ? 'disabled' : 'enabled');

function userRows(users: AdminUser[]): string {
  return table(
    ['ID', 'TYPE', 'STATE', 'CREATED', 'LAST LOGIN', 'PROVIDERS', 'EMAIL / NAME'],
    users.map((u) => [
      u._id,
      u.type,
      state(u.disabled),
      date(u.creation_date),
      date(u.last_authentication_date),
      [...new Set(u.identities.map((i) => i.provider_type))].join(',') || '-',
      who(u),
    ]),
  );
}

function pendingRows(pending: PendingUser[]): string {
  return table(
    ['ID', 'STATUS', 'REGISTERED', 'EMAIL'],
    pending.map((p) => [p._id, p.login_ids[0]?.confirmed ? 'awaiting first login' : 'pending confirmation', date(p.creation_date), p.login_ids[0]?.id ?? '']),
  );
}

function userDetail(u: AdminUserDetail): string {
  const json = (v: unknown) => JSON.stringify(v);
  let text =
    `user ${u._id}\n` +
    table(
      ['FIELD', 'VALUE'],
      [
        ['type', u.type],
        ['state', state(u.disabled)],
        ['created', date(u.creation_date)],
        ['last login', date(u.last_authentication_date)],
        ['data', json(u.data)],
        ['custom data', json(u.custom_data)],
        ['active sessions', String(u.active_sessions)],
      ],
    ).replace(/^FIELD.*\n/, '');
  text += `\nidentities (${u.identities.length})\n`;
  text += table(['PROVIDER TYPE', 'PROVIDER NAME', 'ID', 'PROVIDER DATA'], u.identities.map((i) => [i.provider_type, i.provider_name, i.id, json(i.provider_data)]));
  text += `\ndevices (${u.devices.length})\n`;
  if (u.devices.length) {
    text += table(
      ['DEVICE', 'PLATFORM', 'SDK', 'LAST SEEN'],
      u.devices.map((d) => [d.device_id, [d.platform, d.platform_version].filter(Boolean).join(' ') || '-', d.sdk_version ?? '-', date(d.last_seen_date)]),
    );
  }
  text += `\nsessions (${u.sessions.length})\n`;
  if (u.sessions.length) {
    text += table(
      ['SESSION', 'PROVIDER', 'DEVICE', 'STARTED', 'EXPIRES'],
      u.sessions.map((s) => [s._id, s.provider_name, s.device_id, date(s.creation_date), date(s.expiration_date)]),
    );
  }
  return text;
}

/** The import's report: a line per record not imported as it was, then the counts and what to do next. */
function importText(report: ImportReport, dryRun: boolean): string {
  let out = '';
  for (const l of report.lines) {
    if (l.status === 'imported' && !l.reason) continue;
    out += `line ${l.line}${l.id ? ` (${l.id})` : ''}: ${l.status}${l.reason ? `: ${l.reason}` : ''}\n`;
  }
  const would = dryRun ? 'dry run, nothing written: would have ' : '';
  out += `${would}imported ${report.imported}, skipped ${report.skipped}, refused ${report.refused}\n`;
  const waiting = report.awaitingReset.length;
  if (waiting > 0) {
    out +=
      `${waiting} email/password user${waiting === 1 ? '' : 's'} must reset the password to log in (App Services never exports passwords): ` +
      `--send-reset mails each a reset link, or POST …/users/send_password_resets on a running server\n`;
  }
  out += 'not brought over by any import: passwords (unless password_hash is given), sessions (users log in again), anonymous users, API keys\n';
  return out;
}

/** `baste users <sub>`. */
export async function usersCommand(
  sub: string | undefined,
  flags: UsersFlags,
  io: CommandIo,
  deps: {
    store: Store;
    app: AppConfig;
    hasher: PasswordHasher;
    clock: Clock;
    actor: Actor;
    files?: UsersFiles;
    /** Baste's own pages (`--base-url`): reset links open its reset page when the provider names no URL. */
    pagesUrl?: string;
    /** Revokes provider tokens (Apple's) of deleted users; see src/auth/provider-tokens.ts. */
    revokerOf?: (providerName: string) => TokenRevoker | undefined;
  },
): Promise<number> {
  if (!sub || !(USERS_SUBCOMMANDS as readonly string[]).includes(sub)) return usage(io, `users needs one of: ${USERS_SUBCOMMANDS.join(', ')}`);
  const needs = (flag: 'id' | 'email' | 'password'): string | null => {
    const v = flags[flag];
    return typeof v === 'string' && v !== '' ? v : null;
  };
  if (['show', 'disable', 'enable', 'delete', 'revoke'].includes(sub) && !needs('id')) return usage(io, `users ${sub} needs --id <user id>`);
  if (['create', 'confirm'].includes(sub) && !needs('email')) return usage(io, `users ${sub} needs --email <address>`);
  if (sub === 'import' && !flags.file) return usage(io, 'users import needs --file <users.json> (Admin API user pages, JSON lines or arrays)');
  if (sub === 'send-reset' && !needs('id') && !flags.all) return usage(io, 'users send-reset needs --id <user id> or --all (every user still waiting for a password)');
  if (sub === 'create' && !needs('password')) {
    return usage(io, 'users create needs --password <password> (or BASTE_USER_PASSWORD in the environment, which keeps it out of the process list)');
  }

  const files = deps.files;
  // The same lifecycle as a running server's, without what needs one (functions, triggers):
  // reset links go through the command line's mailer, deleted users' Apple tokens are revoked.
  const users = new Users(deps.store, deps.app, deps.clock, {
    revokerOf: deps.revokerOf,
    log: { warn: (d, message) => void io.stderr.write(`warning: ${message} (provider '${d.provider}'): ${d.reason}\n`) },
    userpass: {
      accounts: deps.store,
      hasher: deps.hasher,
      clock: deps.clock,
      pagesUrl: deps.pagesUrl,
      mailer: {
        send: async (email) => {
          if (!files) throw new BasteError('NotImplemented', 'password reset emails are sent by a running server or baste users');
          await files.mailer().send(email);
        },
      },
    },
  });
  const admin = new Admin({
    store: deps.store,
    app: deps.app,
    clock: deps.clock,
    apiKeys: new ApiKeys(deps.store, deps.app, deps.clock, users),
    users,
  });
  const { actor } = deps;
  const out = (text: string, json: unknown) => io.stdout.write(flags.json ? `${JSON.stringify(json)}\n` : text);
  const id = flags.id ?? '';
  const email = flags.email ?? '';

  return refusals(io, async () => {
    switch (sub) {
      case 'list': {
        if (flags.pending) {
          const page = await admin.listPending({ after: flags.after });
          const more = page.nextAfter ? `more: --pending --after ${page.nextAfter}\n` : '';
          out(page.items.length ? pendingRows(page.items) + more : 'no pending email/password registrations\n', { registrations: page.items, next_after: page.nextAfter });
        } else {
          const page = await admin.listUsers({ after: flags.after, providerTypes: flags.provider, search: flags.search });
          const more = page.nextAfter ? `more: --after ${page.nextAfter}\n` : '';
          out(page.items.length ? userRows(page.items) + more : 'no users\n', { users: page.items, next_after: page.nextAfter });
        }
        return;
      }
      case 'show': {
        const user = await admin.getUser(id);
        out(userDetail(user), user);
        return;
      }
      case 'create': {
        const user = await admin.createUser(actor, { email, password: flags.password });
        out(`created user ${user._id} (${email}), confirmed\n`, user);
        return;
      }
      case 'disable':
      case 'enable': {
        await admin.setDisabled(actor, id, sub === 'disable');
        out(`user ${id} ${sub}d${sub === 'disable' ? '; its sessions have ended' : ''}\n`, { _id: id, action: sub });
        return;
      }
      case 'revoke': {
        const ended = await admin.revokeSessions(actor, id);
        out(`ended ${ended} session${ended === 1 ? '' : 's'} of user ${id}\n`, { _id: id, action: sub, sessions: ended });
        return;
      }
      case 'delete': {
        await admin.deleteUser(actor, id);
        out(`user ${id} deleted\n`, { _id: id, action: sub });
        return;
      }
      case 'confirm': {
        const user = await admin.confirmPending(actor, email);
        out(`confirmed ${email}: user ${user._id}\n`, user);
        return;
      }
      case 'import': {
        if (!files) throw new BasteError('NotImplemented', 'users import needs the command line');
        const dryRun = flags['dry-run'] === true;
        const report = await importUsers(await files.read(flags.file!), { store: deps.store, app: deps.app, clock: deps.clock, importHash: importPasswordHash }, { dryRun });
        let resets: Awaited<ReturnType<Admin['sendPasswordResets']>> | undefined;
        if (flags['send-reset'] && !dryRun) {
          resets = { sent: 0, failed: [] };
          for (const account of report.awaitingReset.filter((a) => a.confirmed)) {
            try {
              await admin.sendPasswordReset(actor, (await users.ownerOfAccount(account.id)) ?? '');
              resets.sent++;
            } catch (err) {
              if (!(err instanceof BasteError) || err.code === 'BadRequest') throw err;
              resets.failed.push({ email: account.email, reason: err.message });
            }
          }
        }
        await recordAudit(deps, actor, dryRun ? 'users.import_dry_run' : 'users.import', deps.app.appId, {
          imported: report.imported,
          skipped: report.skipped,
          refused: report.refused,
        });
        let text = importText(report, dryRun);
        if (resets) text += `reset links sent: ${resets.sent}${resets.failed.map((f) => `\nnot sent to ${f.email}: ${f.reason}`).join('')}\n`;
        out(text, { ...report, dry_run: dryRun, ...(resets ? { resets } : {}) });
        if (report.refused > 0) throw new BasteError('BadRequest', `${report.refused} record${report.refused === 1 ? ' was' : 's were'} refused (see above); the others were ${dryRun ? 'checked' : 'imported'}`);
        return;
      }
      case 'export': {
        if (!files) throw new BasteError('NotImplemented', 'users export needs the command line');
        const lines = exportUsers(deps.store, deps.app);
        if (flags.file) await files.write(flags.file, lines);
        else for await (const line of lines) io.stdout.write(line);
        return;
      }
      case 'send-reset': {
        if (flags.all) {
          const result = await admin.sendPasswordResets(actor);
          out(`reset links sent: ${result.sent}${result.failed.map((f) => `\nnot sent to ${f.email}: ${f.reason}`).join('')}\n`, result);
        } else {
          const { email: to } = await admin.sendPasswordReset(actor, id);
          out(`reset link sent to ${to}\n`, { _id: id, action: 'send_password_reset', email: to });
        }
        return;
      }
    }
  });
}

/** `baste admin-token <sub>`: the token is printed once, at creation; only its hash is kept. */
export async function adminTokenCommand(
  sub: string | undefined,
  flags: { name?: string; id?: string; json?: boolean },
  io: CommandIo,
  deps: { store: Store; clock: Clock; actor: Actor },
): Promise<number> {
  if (!sub || !(ADMIN_TOKEN_SUBCOMMANDS as readonly string[]).includes(sub)) {
    return usage(io, `admin-token needs one of: ${ADMIN_TOKEN_SUBCOMMANDS.join(', ')}`);
  }
  if (sub === 'delete' && !flags.id) return usage(io, 'admin-token delete needs --id <token id>');
  const tokens = new AdminTokens(deps.store, deps.clock);
  const audit = (action: string, target: string, details: Record<string, unknown>) => recordAudit(deps, deps.actor, action, target, details);
  const out = (text: string, json: unknown) => io.stdout.write(flags.json ? `${JSON.stringify(json)}\n` : text);
  return refusals(io, async () => {
    switch (sub) {
      case 'create': {
        const created = await tokens.create(flags.name);
        await audit('admin_token.create', created._id, { name: created.name });
        out(
          `created admin token '${created.name}' (${created._id})\n` +
            `token: ${created.token}\n` +
            `This is the only time the token is shown. Sign in with it at <server>/admin/, or send it as\n` +
            `'Authorization: Bearer <token>' to the admin API (/api/admin/v3.0/...).\n`,
          created,
        );
        return;
      }
      case 'list': {
        const all = await tokens.list();
        out(all.length ? table(['ID', 'CREATED', 'NAME'], all.map((t) => [t._id, t.created_at.replace(/\.\d{3}Z$/, 'Z'), t.name])) : 'no admin tokens\n', all);
        return;
      }
      case 'delete': {
        await tokens.delete(flags.id!);
        await audit('admin_token.delete', flags.id!, {});
        out(`admin token ${flags.id} deleted; requests with it are refused from now on\n`, { _id: flags.id, action: 'delete' });
        return;
      }
    }
  });
}
