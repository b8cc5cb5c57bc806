// `baste users ...` and `baste admin-token ...`, run as a user runs them: the compiled
// `bin/baste.js` (npm test builds it first; alone: `npx tsc -p tsconfig.json`), on a data
// directory, also while `baste serve` runs on it, and on PostgreSQL with --database.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, serve, stop, type Served } from './helpers/cli.js';
import { freshDatabase, skipWithoutPostgres } from './helpers/postgres.js';

const EXAMPLE = join(import.meta.dirname, '..', 'examples', 'todo');
const APP_ID = 'todo-abcde';
const PASSWORD = 'Sup3r-secret-pw';
const tmp = mkdtempSync(join(tmpdir(), 'baste-admin-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The example app, with email confirmation on so that registrations wait for one. */
const APP = join(tmp, 'app');
cpSync(EXAMPLE, APP, { recursive: true });
const providersFile = join(APP, 'auth', 'providers.json');
const providers = JSON.parse(readFileSync(providersFile, 'utf8'));
providers['local-userpass'].config.autoConfirm = false;
writeFileSync(providersFile, JSON.stringify(providers));

const DATA = join(tmp, 'data');

function baste(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, BASTE_DATABASE_URL: '', ...env }, timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const users = (args: string[], env: Record<string, string> = {}) => baste(['users', ...args, '--app', APP, '--data-dir', DATA], env);
const json = (r: { status: number | null; stdout: string; stderr: string }) => {
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
};

describe('baste admin-token', () => {
  it('prints a new token once, lists tokens without them, and deletes one', () => {
    const created = baste(['admin-token', 'create', '--app', APP, '--data-dir', DATA, '--name', 'ops']);
    assert.equal(created.status, 0, created.stderr);
    const token = /^token: (baste_admin_\S+)$/m.exec(created.stdout)?.[1];
    assert.ok(token, created.stdout);
    assert.match(created.stdout, /only time the token is shown/);
    const other = json(baste(['admin-token', 'create', '--app', APP, '--data-dir', DATA, '--json']));
    assert.equal(other.name, 'admin');
    assert.match(other.token, /^baste_admin_/);

    const listed = baste(['admin-token', 'list', '--app', APP, '--data-dir', DATA]);
    assert.equal(listed.status, 0);
    assert.match(listed.stdout, /^ID\s+CREATED\s+NAME$/m);
    assert.match(listed.stdout, /\s+ops$/m);
    assert.equal(listed.stdout.includes(token), false, 'list never shows a token');
    assert.equal(listed.stdout.includes(other.token), false);
    const listedJson = json(baste(['admin-token', 'list', '--app', APP, '--data-dir', DATA, '--json']));
    assert.deepEqual(listedJson.map((t: { name: string }) => t.name), ['ops', 'admin']);
    assert.equal(JSON.stringify(listedJson).includes('baste_admin_'), false);

    assert.equal(baste(['admin-token', 'delete', '--app', APP, '--data-dir', DATA, '--id', other._id]).status, 0);
    const again = baste(['admin-token', 'delete', '--app', APP, '--data-dir', DATA, '--id', other._id]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /no admin token with id/);
    assert.equal(baste(['admin-token', 'delete', '--app', APP, '--data-dir', DATA]).status, 2);
    assert.equal(baste(['admin-token', 'rotate', '--app', APP, '--data-dir', DATA]).status, 2);
    const badName = baste(['admin-token', 'create', '--app', APP, '--data-dir', DATA, '--name', ' ']);
    assert.equal(badName.status, 1);
    assert.match(badName.stderr, /name must be/);
  });
});

describe('baste users', () => {
  let served: Served;
  let token: string;
  const api = (path: string, init: RequestInit & { bearer?: string } = {}) =>
    fetch(`${served.url}${path}`, {
      ...init,
      headers: { ...(init.body ? { 'content-type': 'application/json' } : {}), ...(init.bearer ? { authorization: `Bearer ${init.bearer}` } : {}) },
    });
  const login = (email: string, password = PASSWORD) =>
    api(`/api/client/v2.0/app/${APP_ID}/auth/providers/local-userpass/login`, { method: 'POST', body: JSON.stringify({ username: email, password }) });
  const profile = (access: string) => api('/api/client/v2.0/auth/profile', { bearer: access });

  before(async () => {
    token = json(baste(['admin-token', 'create', '--app', APP, '--data-dir', DATA, '--name', 'cli-test', '--json'])).token;
    served = await serve(['--app', APP, '--data-dir', DATA]);
  });
  after(async () => {
    if (served) await stop(served);
  });

  it('creates, lists, shows, disables, enables, revokes and deletes users while the server runs', async () => {
    const email = `cli-${Date.now()}@example.com`;
    const created = users(['create', '--email', email, '--password', PASSWORD]);
    assert.equal(created.status, 0, created.stderr);
    const id = /created user ([0-9a-f]{24}) \(/.exec(created.stdout)?.[1];
    assert.ok(id, created.stdout);

    // The running server knows the user at once, confirmed.
    const session = await (await login(email)).json();
    assert.equal(session.user_id, id);

    const table = users(['list']);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+TYPE\s+STATE\s+CREATED\s+LAST LOGIN\s+PROVIDERS\s+EMAIL \/ NAME$/m);
    assert.match(table.stdout, new RegExp(`^${id}\\s+normal\\s+enabled\\s+\\S+\\s+\\S+\\s+local-userpass\\s+${email.replace('.', '\\.')}$`, 'm'));
    const listed = json(users(['list', '--json', '--search', email.slice(0, 12).toUpperCase()]));
    assert.ok(listed.users.some((u: { _id: string }) => u._id === id));
    assert.equal(listed.next_after, null);
    assert.deepEqual(json(users(['list', '--json', '--provider', 'anon-user', '--search', email])).users, []);

    const shown = users(['show', '--id', id]);
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stdout, /^state\s+enabled$/m);
    assert.match(shown.stdout, /^active sessions\s+1$/m);
    assert.match(shown.stdout, /^identities \(1\)$/m);
    assert.match(shown.stdout, new RegExp(`^local-userpass\\s+local-userpass\\s+[0-9a-f]{24}\\s+\\{"email":"${email.replace('.', '\\.')}"\\}$`, 'm'));
    assert.match(shown.stdout, /^sessions \(1\)$/m);
    const detail = json(users(['show', '--id', id, '--json']));
    assert.equal(detail.active_sessions, 1);
    assert.deepEqual(detail.custom_data, {});
    assert.equal(JSON.stringify(detail).includes(session.refresh_token), false);

    // Disable: the running server refuses the user's token and login at once.
    assert.match(users(['disable', '--id', id]).stdout, /disabled/);
    assert.equal((await profile(session.access_token)).status, 401);
    assert.equal((await login(email)).status, 403);
    assert.equal(json(users(['show', '--id', id, '--json'])).disabled, true);
    assert.equal(users(['enable', '--id', id]).status, 0);
    const again = await (await login(email)).json();
    assert.equal((await profile(again.access_token)).status, 200);

    const revoked = users(['revoke', '--id', id]);
    assert.equal(revoked.status, 0);
    assert.match(revoked.stdout, /ended 1 session of user/);
    assert.equal((await profile(again.access_token)).status, 401);
    assert.deepEqual(json(users(['revoke', '--id', id, '--json'])), { _id: id, action: 'revoke', sessions: 0 });

    assert.equal(users(['delete', '--id', id]).status, 0);
    assert.equal((await login(email)).status, 401);
    const gone = users(['show', '--id', id]);
    assert.equal(gone.status, 1);
    assert.equal(gone.stderr, `baste: no user with id '${id}'\n`);

    // What the CLI did is in the audit log, under its own name.
    const audit = await (await api(`/api/admin/v3.0/apps/${APP_ID}/audit_log`, { bearer: token })).json();
    const mine = audit.filter((e: { target: string }) => e.target === id).map((e: { action: string }) => e.action);
    assert.deepEqual(mine, ['user.delete', 'user.logout', 'user.logout', 'user.enable', 'user.disable', 'user.create']);
    assert.match(audit[0].actor.name, /^cli \(/);
    assert.equal(audit[0].actor.id, 'cli');
  });

  it('lists pending registrations and confirms one', async () => {
    const email = `pending-${Date.now()}@example.com`;
    const reg = await api(`/api/client/v2.0/app/${APP_ID}/auth/providers/local-userpass/register`, { method: 'POST', body: JSON.stringify({ email, password: PASSWORD }) });
    assert.equal(reg.status, 201);
    assert.equal((await login(email)).status, 401, 'pending: no login yet');
    const pending = users(['list', '--pending']);
    assert.match(pending.stdout, /^ID\s+STATUS\s+REGISTERED\s+EMAIL$/m);
    assert.match(pending.stdout, new RegExp(`pending confirmation\\s+\\S+\\s+${email.replace('.', '\\.')}$`, 'm'));
    const listed = json(users(['list', '--pending', '--json']));
    assert.ok(listed.registrations.some((p: { login_ids: { id: string }[] }) => p.login_ids[0]!.id === email));

    const confirmed = users(['confirm', '--email', email]);
    assert.equal(confirmed.status, 0, confirmed.stderr);
    assert.match(confirmed.stdout, new RegExp(`^confirmed ${email.replace('.', '\\.')}: user [0-9a-f]{24}$`, 'm'));
    assert.equal((await login(email)).status, 200);
    const twice = users(['confirm', '--email', email]);
    assert.equal(twice.status, 1);
    assert.match(twice.stderr, /already confirmed/);
    const unknown = users(['confirm', '--email', 'nobody@example.com']);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /no email\/password registration for 'nobody@example.com'/);
  });

  it('refuses bad ids, missing flags and taken emails clearly, changing nothing', () => {
    const before = users(['list', '--json']).stdout;
    for (const sub of ['show', 'disable', 'enable', 'delete', 'revoke']) {
      const bad = users([sub, '--id', 'not-a-user']);
      assert.equal(bad.status, 1, sub);
      assert.equal(bad.stderr, "baste: no user with id 'not-a-user'\n");
      assert.equal(users([sub, '--id', '0'.repeat(24)]).status, 1);
      const missing = users([sub]);
      assert.equal(missing.status, 2);
      assert.match(missing.stderr, new RegExp(`users ${sub} needs --id`));
    }
    assert.equal(users(['frobnicate']).status, 2);
    assert.equal(users([]).status, 2);
    const noPassword = users(['create', '--email', 'x@example.com']);
    assert.equal(noPassword.status, 2);
    assert.match(noPassword.stderr, /BASTE_USER_PASSWORD/);
    const short = users(['create', '--email', 'x@example.com', '--password', 'short']);
    assert.equal(short.status, 1);
    assert.match(short.stderr, /password must be between 6 and 128/);
    assert.equal(users(['list', '--json']).stdout, before);

    // The password may come from the environment, out of the process list.
    const email = `env-${Date.now()}@example.com`;
    assert.equal(users(['create', '--email', email], { BASTE_USER_PASSWORD: PASSWORD }).status, 0);
    const taken = users(['create', '--email', email, '--password', PASSWORD]);
    assert.equal(taken.status, 1);
    assert.match(taken.stderr, /already exists/);
  });
});

describe('baste users on PostgreSQL', { skip: skipWithoutPostgres('baste users --database') }, () => {
  it('works on the database given with --database or BASTE_DATABASE_URL', async () => {
    const db = await freshDatabase();
    try {
      const email = `pg-${Date.now()}@example.com`;
      const created = baste(['users', 'create', '--app', APP, '--database', db.url, '--email', email, '--password', PASSWORD, '--json']);
      const user = json(created);
      const listed = json(baste(['users', 'list', '--app', APP, '--json'], { BASTE_DATABASE_URL: db.url }));
      assert.deepEqual(listed.users.map((u: { _id: string }) => u._id), [user._id]);
      const token = json(baste(['admin-token', 'create', '--app', APP, '--database', db.url, '--json']));
      assert.match(token.token, /^baste_admin_/);
      assert.equal(baste(['users', 'disable', '--app', APP, '--database', db.url, '--id', user._id]).status, 0);
      assert.equal(json(baste(['users', 'show', '--app', APP, '--database', db.url, '--id', user._id, '--json'])).disabled, true);
      const bad = baste(['users', 'list', '--app', APP, '--database', 'mysql://nope']);
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /--database must be a postgres/);
    } finally {
      await db.drop();
    }
  });
});
