// The compiled `baste` command, run as a user runs it: a child process on a free port.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BIN, serve, stop } from './helpers/cli.js';
import { confirmFromOutbox } from './helpers/outbox.js';

const EXAMPLE = join(import.meta.dirname, '..', 'examples', 'todo');
const tmp = mkdtempSync(join(tmpdir(), 'baste-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const runCli = (args: string[], env: Record<string, string> = {}, cwd?: string) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000, cwd });

describe('baste CLI', () => {
  it('prints help', () => {
    const r = runCli(['--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /baste serve --app <dir>/);
    assert.match(r.stdout, /--base-url/);
  });

  it('refuses unknown commands and flags with usage status 2', () => {
    assert.equal(runCli(['launch']).status, 2);
    const r = runCli(['serve', '--app', EXAMPLE, '--bogus']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /bogus/);
    for (const [flag, value] of [['--max-connections', '0'], ['--request-timeout', 'soon'], ['--keep-alive-timeout', '1.5']]) {
      const bad = runCli(['serve', '--app', EXAMPLE, flag!, value!]);
      assert.equal(bad.status, 2, `${flag} ${value}`);
      assert.match(bad.stderr, new RegExp(`${flag} must be a whole number`));
    }
  });

  it('session policy flags: bad values exit 2; good ones are the policy until the admin API sets one', async () => {
    for (const [flag, value, text] of [
      ['--refresh-token-expiration', '60', /--refresh-token-expiration: must be a whole number of seconds from 1800/],
      ['--session-idle-timeout', '10', /--session-idle-timeout: must be 0 \(no idle timeout\) or a whole number of seconds from 3600/],
      ['--session-idle-timeout', 'soon', /got 'soon'/],
    ] as const) {
      const bad = runCli(['serve', '--app', EXAMPLE, flag, value]);
      assert.equal(bad.status, 2, `${flag} ${value}`);
      assert.match(bad.stderr, text);
    }
    const dataDir = join(tmp, 'policy');
    const server = await serve(['--app', EXAMPLE, '--data-dir', dataDir, '--refresh-token-expiration', '3600', '--sliding-sessions', '--session-idle-timeout', '7200']);
    try {
      const created = runCli(['admin-token', 'create', '--app', EXAMPLE, '--data-dir', dataDir, '--name', 'policy', '--json']);
      assert.equal(created.status, 0, created.stderr);
      const { token } = JSON.parse(created.stdout);
      const policy = await fetch(`${server.url}/api/admin/v3.0/apps/todo-abcde/security/session_policy`, { headers: { authorization: `Bearer ${token}` } });
      assert.deepEqual(await policy.json(), { sliding_expiration: true, idle_timeout_seconds: 7200 });
      const login = await (await fetch(`${server.url}/api/client/v2.0/app/todo-abcde/auth/providers/anon-user/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json();
      const claims = JSON.parse(Buffer.from(login.refresh_token.split('.')[1], 'base64url').toString());
      assert.equal(claims.exp - claims.iat, 3600);
    } finally {
      await stop(server);
    }
  });

  it('--max-connections: one connection past the limit is answered 503 and closed', async () => {
    const server = await serve(['--app', EXAMPLE, '--data-dir', join(tmp, 'limited'), '--max-connections', '1', '--keep-alive-timeout', '30']);
    const { hostname, port } = new URL(server.url);
    const open = () =>
      new Promise<{ socket: Socket; text: () => string; closed: Promise<void> }>((resolve) => {
        let text = '';
        const socket = connect(Number(port), hostname, () => resolve({ socket, text: () => text, closed }));
        const closed = new Promise<void>((done) => socket.once('close', () => done()));
        socket.on('data', (d) => (text += d.toString()));
        socket.on('error', () => {});
      });
    try {
      const held = await open();
      held.socket.write('GET /api/client/v2.0/app/todo-abcde/location HTTP/1.1\r\nHost: x\r\n\r\n');
      const refused = await open();
      await refused.closed;
      assert.match(refused.text(), /^HTTP\/1\.1 503[^]*"error_code":"ServiceUnavailable"/);
      held.socket.destroy();
    } finally {
      await stop(server);
    }
  });

  it('--max-connections above what the open-files limit leaves room for: warned at start, with how to raise the limit', { skip: process.platform !== 'linux' && 'needs /proc/self/limits (Linux)' }, async () => {
    // Node cannot set its own descriptor limit; a shell lowers it for the child, as `ulimit -n` would.
    const under = (limit: number, maxConnections: number) =>
      new Promise<string>((resolve, reject) => {
        const dataDir = join(tmp, `nofile-${maxConnections}`);
        const child = spawn('sh', ['-c', `ulimit -n ${limit} && exec "$0" "$@"`, process.execPath, BIN, 'serve', '--app', EXAMPLE, '--data-dir', dataDir, '--port', '0', '--max-connections', String(maxConnections)], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        const timer = setTimeout(() => reject(new Error(`no start:\n${out}`)), 20_000);
        const early = (code: number | null) => (clearTimeout(timer), reject(new Error(`exited ${code}:\n${out}`)));
        const onData = (d: Buffer) => {
          out += d.toString();
          if (/at http:\/\/127\.0\.0\.1:\d+/.test(out)) {
            clearTimeout(timer);
            child.off('exit', early);
            child.once('exit', () => resolve(out));
            child.kill('SIGTERM');
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', early);
      });
    const over = await under(512, 1000);
    assert.match(over, /baste: warning: --max-connections 1000 is more than the open-files limit of 512 leaves room for \(256 after 256 kept/);
    assert.match(over, /ulimit -n in the shell, LimitNOFILE= in a systemd unit/);
    assert.doesNotMatch(await under(512, 200), /warning/);
  });

  it('says clearly when the port is taken', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as { port: number };
    try {
      const r = runCli(['serve', '--app', EXAMPLE, '--data-dir', join(tmp, 'busy'), '--port', String(port)]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: it is already in use`));
    } finally {
      blocker.close();
    }
  });

  it('validates the bundled example', () => {
    const r = runCli(['validate', '--app', EXAMPLE]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /ok: app 'todo' \(todo-abcde\)/);
  });

  it('validate warns once about each third-party service Baste does not serve', () => {
    const r = runCli(['validate', '--app', join(import.meta.dirname, 'fixtures', 'apps', 'stitch-sms-desk')]);
    assert.equal(r.status, 0, r.stderr);
    const unserved = r.stdout.split('\n').filter((l) => /is not served by Baste: every call to it from a function fails/.test(l));
    assert.deepEqual(unserved.map((l) => /service '([^']+)' \(type ([^)]+)\)/.exec(l)?.slice(1).join(':')), ['SendMail:aws-ses', 'aws:aws', 'twilio:twilio']);
    assert.match(r.stdout, /ok: app 'sms-desk' \(sms-desk-hjkly\)/);
  });

  it('validate lists each database trigger with what it listens to', () => {
    const dir = join(tmp, 'database-triggers');
    cpSync(EXAMPLE, dir, { recursive: true });
    mkdirSync(join(dir, 'triggers'));
    writeFileSync(
      join(dir, 'triggers', 'onItem.json'),
      JSON.stringify({
        name: 'onItem',
        type: 'DATABASE',
        config: { service_name: 'mongodb-atlas', database: 'todo', collection: 'items', operation_types: ['INSERT', 'DELETE'], match: { 'fullDocument.done': true }, full_document: true },
        event_processors: { FUNCTION: { config: { function_name: 'sum' } } },
      }),
    );
    const r = runCli(['validate', '--app', dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^database trigger 'onItem': INSERT, DELETE on mongodb-atlas todo\.items runs sum \(with a match, full document\)$/m);
  });

  it('validate lists authentication, scheduled and database triggers in one listing, ordered by name', () => {
    const dir = join(tmp, 'all-triggers');
    cpSync(EXAMPLE, dir, { recursive: true });
    mkdirSync(join(dir, 'triggers'));
    const write = (doc: Record<string, unknown>) => writeFileSync(join(dir, 'triggers', `${doc.name as string}.json`), JSON.stringify(doc));
    write({ name: 'welcome', type: 'AUTHENTICATION', function_name: 'sum', config: { operation_type: 'CREATE', providers: ['anon-user', 'local-userpass'] } });
    write({ name: 'audit', type: 'AUTHENTICATION', event_processors: { FUNCTION: { config: { function_name: 'sum' } } }, config: { operation_type: ['LOGIN', 'DELETE'], providers: [] }, disabled: true });
    write({ name: 'nightly', type: 'SCHEDULED', function_name: 'sum', config: { schedule: '0 7 * * *' } });
    write({ name: 'onItem', type: 'DATABASE', function_name: 'sum', config: { database: 'todo', collection: 'items', operation_types: ['UPDATE'] } });
    const r = runCli(['validate', '--app', dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      r.stdout.split('\n').filter((l) => / trigger '/.test(l)),
      [
        "authentication trigger 'audit': LOGIN, DELETE by any provider runs sum (disabled)",
        "scheduled trigger 'nightly': 0 7 * * * (UTC) runs sum",
        "database trigger 'onItem': UPDATE on todo.items runs sum",
        "authentication trigger 'welcome': CREATE by anon-user, local-userpass runs sum",
      ],
    );
  });

  it('validate lists each scheduled trigger with its schedule, and refuses a bad one naming the file and field', () => {
    const dir = join(tmp, 'scheduled');
    cpSync(EXAMPLE, dir, { recursive: true });
    mkdirSync(join(dir, 'triggers'));
    const write = (name: string, config: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      writeFileSync(join(dir, 'triggers', `${name}.json`), JSON.stringify({ name, type: 'SCHEDULED', function_name: 'sum', config, ...extra }));
    write('nightly', { schedule: '0 7 * * *' });
    write('often', { schedule: '*/5 * * * *', skip_catchup_events: true }, { disabled: true });
    const r = runCli(['validate', '--app', dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^scheduled trigger 'nightly': 0 7 \* \* \* \(UTC\) runs sum$/m);
    assert.match(r.stdout, /^scheduled trigger 'often': \*\/5 \* \* \* \* \(UTC\) runs sum \(disabled, skips missed ticks\)$/m);
    write('broken', { schedule: '0 25 * * *' });
    const bad = runCli(['validate', '--app', dir]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /triggers\/broken\.json \(config\.schedule\).*hour: 25 is outside 0–23/);
  });

  it('validate refuses a provider setting of the wrong type, naming the file, the field, what it must be and what it is', () => {
    const dir = join(tmp, 'wrong-type-provider');
    cpSync(EXAMPLE, dir, { recursive: true });
    const file = join(dir, 'auth', 'providers.json');
    const providers = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const withProvider = (name: string, doc: Record<string, unknown>) => writeFileSync(file, JSON.stringify({ ...providers, [name]: { name, disabled: false, ...doc } }));
    withProvider('oauth2-google', { type: 'oauth2-google', config: { clientId: 5 }, secret_config: { clientSecret: 'googleSecret' } });
    const r = runCli(['validate', '--app', dir]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /auth\/providers\.json \(oauth2-google\.config\.clientId\).*must be a string \(the OAuth client id\), not a number/);
    assert.doesNotMatch(r.stderr, /is required/);
    // Absent stays "is required"; a wrongly typed local-userpass URL says its type too.
    withProvider('oauth2-google', { type: 'oauth2-google', config: {}, secret_config: { clientSecret: 'googleSecret' } });
    assert.match(runCli(['validate', '--app', dir]).stderr, /oauth2-google\.config\.clientId\).*is required \(the OAuth client id\)/);
    withProvider('local-userpass', { type: 'local-userpass', config: { autoConfirm: true, resetPasswordUrl: ['http://x'] } });
    assert.match(runCli(['validate', '--app', dir]).stderr, /local-userpass\.config\.resetPasswordUrl\).*must be a string, not an? (array|list)/);
  });

  it('refuses to serve an app with no enabled provider, saying why', () => {
    const dir = join(tmp, 'no-providers');
    cpSync(EXAMPLE, dir, { recursive: true });
    writeFileSync(join(dir, 'auth', 'providers.json'), JSON.stringify({ 'anon-user': { name: 'anon-user', type: 'anon-user', disabled: true } }));
    const r = runCli(['serve', '--app', dir, '--port', '0']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no authentication provider is enabled/i);
  });

  it('refuses a malformed provider option naming the file and field', () => {
    const dir = join(tmp, 'bad-userpass');
    cpSync(EXAMPLE, dir, { recursive: true });
    writeFileSync(
      join(dir, 'auth', 'providers.json'),
      // (A missing URL is no mistake: links then open Baste's own pages.)
      JSON.stringify({ 'local-userpass': { name: 'local-userpass', type: 'local-userpass', config: { autoConfirm: false, emailConfirmationUrl: 'app.example/confirm' } } }),
    );
    const r = runCli(['validate', '--app', dir]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /auth\/providers\.json \(local-userpass\.config\.emailConfirmationUrl\)/);
  });

  it('manages server API keys on the data dir, also while the server runs', async () => {
    const dataDir = join(tmp, 'keys-data');
    const created = runCli(['api-keys', 'create', '--app', EXAMPLE, '--data-dir', dataDir, '--name', 'backend', '--json']);
    assert.equal(created.status, 0, created.stderr);
    const { key, _id } = JSON.parse(created.stdout);
    assert.match(_id, /^[0-9a-f]{24}$/);
    const dup = runCli(['api-keys', 'create', '--app', EXAMPLE, '--data-dir', dataDir, '--name', 'backend']);
    assert.equal(dup.status, 1);
    assert.match(dup.stderr, /already exists/);
    const listed = runCli(['api-keys', 'list', '--app', EXAMPLE, '--data-dir', dataDir]);
    assert.match(listed.stdout, new RegExp(`${_id}\\s+enabled\\s+\\S+\\s+backend`));
    assert.equal(listed.stdout.includes(key), false, 'list must not show the key');
    assert.equal(runCli(['api-keys', 'delete', '--app', EXAMPLE, '--data-dir', dataDir, '--name', 'nope']).status, 1);
    assert.equal(runCli(['api-keys', 'disable', '--app', EXAMPLE, '--data-dir', dataDir]).status, 2);

    const served = await serve(['--app', EXAMPLE, '--data-dir', dataDir]);
    try {
      // The banner names the console and how to get in (printed just after Fastify's own line).
      for (let i = 0; i < 50 && !served.output().includes('Admin console:'); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(served.output(), new RegExp(`Admin console: ${served.url}/admin/ \\(sign in with a token from 'baste admin-token create --app <dir> --name <name>'\\)`));
      const login = () =>
        fetch(`${served.url}/api/client/v2.0/app/todo-abcde/auth/providers/api-key/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ key }),
        });
      const ok = await (await login()).json();
      const profile = await (await fetch(`${served.url}/api/client/v2.0/auth/profile`, { headers: { authorization: `Bearer ${ok.access_token}` } })).json();
      assert.equal(profile.type, 'server');
      assert.equal(runCli(['api-keys', 'disable', '--app', EXAMPLE, '--data-dir', dataDir, '--name', 'backend']).status, 0);
      assert.equal((await login()).status, 401);
      const gone = await fetch(`${served.url}/api/client/v2.0/auth/profile`, { headers: { authorization: `Bearer ${ok.access_token}` } });
      assert.equal(gone.status, 401);
      assert.equal(runCli(['api-keys', 'enable', '--app', EXAMPLE, '--data-dir', dataDir, '--name', 'backend']).status, 0);
      assert.equal((await login()).status, 200);
      assert.equal(runCli(['api-keys', 'delete', '--app', EXAMPLE, '--data-dir', dataDir, '--name', 'backend']).status, 0);
      assert.equal((await login()).status, 401);
    } finally {
      await stop(served);
    }
  });

  it('serves the example app, logs one line per request without secrets, and loses nothing on kill -9', async () => {
    const dataDir = join(tmp, 'data');
    const first = await serve(['--app', EXAMPLE, '--data-dir', dataDir]);
    const api = (url: string) => `${url}/api/client/v2.0`;
    const loc = await (await fetch(`${api(first.url)}/app/todo-abcde/location`)).json();
    assert.equal(loc.hostname, first.url);
    const email = `cli-${Date.now()}@example.com`;
    const password = 'Sup3r-secret-pw';
    const reg = await fetch(`${api(first.url)}/app/todo-abcde/auth/providers/local-userpass/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    assert.equal(reg.status, 201);
    // The example app confirms by email; without SMTP the link waits in the outbox, as the banner says.
    assert.ok(first.output().includes(`Email: no SMTP server (--smtp-url), so confirmation and reset links are written to ${join(dataDir, 'outbox')}/`), first.output());
    await confirmFromOutbox(dataDir, email);
    const login = await (
      await fetch(`${api(first.url)}/app/todo-abcde/auth/providers/local-userpass/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: email, password }),
      })
    ).json();
    assert.equal(typeof login.refresh_token, 'string');

    // The request line is written once the response has gone out: give the last one a moment.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await stop(first, 'SIGKILL'), null);
    const logs = first.output();
    assert.equal(logs.includes(password), false, 'password in logs');
    assert.equal(logs.includes(login.refresh_token), false, 'refresh token in logs');
    assert.equal(logs.includes(login.access_token), false, 'access token in logs');
    const requestLines = logs.split('\n').filter((l) => l.includes('"msg":"request"'));
    assert.equal(requestLines.length, 4, logs);
    assert.ok(requestLines.every((l) => /"status":\d{3}/.test(l) && /"path":"\/api\/client\/v2\.0/.test(l)));

    // a new process on the same data dir knows the user, the session and the signing key
    const second = await serve(['--app', EXAMPLE, '--data-dir', dataDir]);
    try {
      const profile = await fetch(`${api(second.url)}/auth/profile`, { headers: { authorization: `Bearer ${login.access_token}` } });
      assert.equal(profile.status, 200);
      assert.equal((await profile.json()).data.email, email);
      const refresh = await fetch(`${api(second.url)}/auth/session`, { method: 'POST', headers: { authorization: `Bearer ${login.refresh_token}` } });
      assert.equal(refresh.status, 201);
    } finally {
      assert.equal(await stop(second), 0);
    }
  });
});

describe('baste serve: the data directory and start-up warnings', () => {
  const api = (url: string) => `${url}/api/client/v2.0/app/todo-abcde`;
  const json = { 'content-type': 'application/json' };
  /** A fresh copy of the example app and a working directory of its own. */
  const fresh = (name: string) => {
    const root = join(tmp, name);
    const app = join(root, 'export');
    const cwd = join(root, 'work');
    cpSync(EXAMPLE, app, { recursive: true, filter: (src) => !src.endsWith('/.baste') });
    mkdirSync(cwd);
    return { app, cwd };
  };
  /** Registers and confirms through the outbox in `dataDir` (the example app confirms by email). */
  const register = async (url: string, email: string, dataDir: string) => {
    const r = await fetch(`${api(url)}/auth/providers/local-userpass/register`, { method: 'POST', headers: json, body: JSON.stringify({ email, password: 'secret-pw1' }) });
    assert.equal(r.status, 201);
    await confirmFromOutbox(dataDir, email);
  };
  const logIn = (url: string, email: string) =>
    fetch(`${api(url)}/auth/providers/local-userpass/login`, { method: 'POST', headers: json, body: JSON.stringify({ username: email, password: 'secret-pw1' }) });
  const WARN_HOST = /baste: warning: serving on 0\.0\.0\.0 \(reachable from other machines\) without --base-url/;
  const WARN_INSIDE = /baste: warning: the data directory .* is inside the app directory/;

  it('defaults to ./.baste-data/<app id> in the working directory, with a .gitignore; every command finds it there', async () => {
    const { app, cwd } = fresh('default');
    const served = await serve(['--app', app], { cwd });
    try {
      await register(served.url, 'default@example.com', join(cwd, '.baste-data', 'todo-abcde'));
      assert.equal((await logIn(served.url, 'default@example.com')).status, 200);
      assert.doesNotMatch(served.output(), /warning/);
    } finally {
      await stop(served);
    }
    const dir = join(cwd, '.baste-data', 'todo-abcde');
    assert.ok(existsSync(join(dir, 'baste.sqlite')));
    assert.match(readFileSync(join(dir, '.gitignore'), 'utf8'), /^\*$/m);
    assert.equal(existsSync(join(app, '.baste')), false, 'nothing written into the export');
    const listed = runCli(['users', 'list', '--app', app, '--json'], {}, cwd);
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, /default@example\.com/);
  });

  it('keeps using an existing <app>/.baste (the old default), saying so, and warns that it sits inside the export', async () => {
    const { app, cwd } = fresh('legacy');
    // An installation of an earlier release: its data directory in the export.
    const old = await serve(['--app', app, '--data-dir', join(app, '.baste')], { cwd });
    try {
      await register(old.url, 'legacy@example.com', join(app, '.baste'));
      assert.match(old.output(), WARN_INSIDE);
    } finally {
      await stop(old);
    }
    const served = await serve(['--app', app], { cwd });
    try {
      assert.equal((await logIn(served.url, 'legacy@example.com')).status, 200, 'the user of the old data directory');
      assert.match(served.output(), /using the existing data directory .*\/export\/\.baste \(the default of earlier releases\)/);
      assert.match(served.output(), WARN_INSIDE);
    } finally {
      await stop(served);
    }
    assert.equal(existsSync(join(cwd, '.baste-data')), false);
  });

  it('warns when served beyond loopback without --base-url, and not with it', async () => {
    const { app, cwd } = fresh('exposed');
    const dataDir = join(cwd, 'data');
    const bare = await serve(['--app', app, '--host', '0.0.0.0', '--data-dir', dataDir], { cwd });
    try {
      assert.match(bare.output(), WARN_HOST);
      assert.match(bare.output(), /"level":40.*"host":"0\.0\.0\.0"/, 'and in the log');
    } finally {
      await stop(bare);
    }
    const based = await serve(['--app', app, '--host', '0.0.0.0', '--base-url', 'https://api.example.com', '--data-dir', dataDir], { cwd });
    try {
      assert.doesNotMatch(based.output(), /warning/);
      assert.equal((await (await fetch(`${api(based.url)}/location`)).json()).hostname, 'https://api.example.com');
    } finally {
      await stop(based);
    }
    const local = await serve(['--app', app, '--host', 'localhost', '--data-dir', dataDir], { cwd });
    await stop(local);
    assert.doesNotMatch(local.output(), /warning/);
  });
});
