// The command line never prints a stack trace: every flag given a bad value fails with one line
// saying what is wrong (and, for a usage error, where the usage is), exit 1, or 2 for usage.
// Also: `baste` alone, `--version`, `<command> --help`, misspelt flags and commands, and --app
// pointed inside an export instead of at its root.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BIN } from './helpers/cli.js';
import { COMMAND_NAMES } from '../src/cli/help.js';

const EXAMPLE = join(import.meta.dirname, '..', 'examples', 'todo');
const tmp = mkdtempSync(join(tmpdir(), 'baste-cli-errors-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const FILE = join(tmp, 'a-file');
writeFileSync(FILE, 'not json');
const MISSING = join(tmp, 'missing');
const DATA = join(tmp, 'data');

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BASTE_SMTP_URL: '', BASTE_DATABASE_URL: '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  // A value that was wrongly accepted starts a server: that is a failure too, not a hang.
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    }),
  );
}

/** Fails with `status`, one line matching `pattern` (start-up warnings aside), no stack. */
function assertOneLine(r: Ran, status: 1 | 2, pattern: RegExp, what: string) {
  assert.equal(r.status, status, `${what}: status ${r.status}\n${r.stderr}${r.stdout}`);
  assert.ok(!/^\s+at /m.test(r.stderr + r.stdout), `${what}: a stack trace\n${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('baste: warning: '));
  assert.match(lines[0] ?? '', /^baste: /, what);
  assert.match(lines[0]!, pattern, what);
  if (status === 2) assert.deepEqual(lines.slice(1).map((l) => /^Run 'baste (\S+ )?--help' for usage\.$/.test(l)), [true], `${what}: ${r.stderr}`);
  else assert.equal(lines.length, 1, `${what}: ${r.stderr}`);
}

const serve = (...args: string[]) => ['serve', '--app', EXAMPLE, '--data-dir', join(tmp, 'serve-data'), ...args];
const admin = (...args: string[]) => [...args, '--app', EXAMPLE, '--data-dir', DATA];

// [arguments, status, what stderr says, environment]
const CASES: [string[], 1 | 2, RegExp, Record<string, string>?][] = [
  // serve, flag by flag
  [['serve'], 2, /serve needs --app <dir>/],
  [['serve', '--app'], 2, /--app needs a value/],
  [['serve', '--app', MISSING], 1, /--app .*missing: no such directory/],
  [['serve', '--app', FILE], 1, /--app .*a-file: not a directory/],
  [['serve', '--app', join(EXAMPLE, 'functions')], 1, /is not an app root: it is inside the export at .*todo \(its functions\/ folder\); pass --app .*todo$/],
  [['serve', '--app', EXAMPLE, '--app-id', 'not valid!'], 1, /--app-id: "not valid!" must be/],
  [serve('--port', 'abc'), 2, /--port must be 0\.\.65535, got 'abc'/],
  [serve('--port', '70000'), 2, /--port must be 0\.\.65535/],
  [serve('--host', '999.1.1.1'), 2, /--host must be an IP address .* got '999\.1\.1\.1'/],
  [serve('--host', '[::1]'), 2, /--host takes an IPv6 address without brackets \(--host ::1\)/],
  [serve('--host', 'no-such-host.invalid'), 1, /cannot listen on no-such-host\.invalid:\d+: it names no host this machine can resolve/],
  [['serve', '--app', EXAMPLE, '--data-dir', FILE], 1, /data directory .*a-file is not a directory \(a file has that name\)/],
  [serve('--database', 'mysql://x'), 2, /--database must be a postgres:\/\/ or postgresql:\/\/ URL/],
  [serve('--database', 'postgres://nobody:s3cret@127.0.0.1:1/x'), 1, /cannot open the PostgreSQL database/],
  [serve('--secrets', MISSING), 1, /missing: cannot read secrets file/],
  [serve('--secrets', FILE), 1, /a-file: not valid JSON/],
  [serve('--base-url', 'ftp://x'), 2, /--base-url must be scheme:\/\/host\[:port\]/],
  [serve('--trust-proxy=yes'), 2, /--trust-proxy takes no value/],
  [serve('--reveal-unknown-emails=1'), 2, /--reveal-unknown-emails takes no value/],
  [serve('--max-connections', '0'), 2, /--max-connections must be a whole number/],
  [serve('--request-timeout', 'soon'), 2, /--request-timeout must be a whole number/],
  [serve('--keep-alive-timeout', '1.5'), 2, /--keep-alive-timeout must be a whole number/],
  [serve('--smtp-url', 'smtp//user:s3cret@mail'), 2, /--smtp-url must be smtp:\/\/\[user:password@\]host\[:port\] or smtps:\/\/…/],
  [serve(), 2, /BASTE_SMTP_URL must be smtp:\/\//, { BASTE_SMTP_URL: 'nonsense-s3cret' }],
  [serve('--mail-from', 'nobody'), 2, /--mail-from must be an email address/],
  [serve('--log-level', 'verbose'), 2, /--log-level must be one of fatal, error, warn, info, debug, trace, silent, got 'verbose'/],
  [serve('--ap', 'x'), 2, /unknown flag '--ap'; did you mean --app\?/],
  [serve('--bogus'), 2, /unknown flag '--bogus'$/],
  [serve('--help=1'), 2, /--help takes no value/],
  // the other commands
  [['validate', '--app', join(EXAMPLE, 'data_sources', 'mongodb-atlas')], 1, /is not an app root: .*its data_sources\/ folder/],
  [['validate', '--app', tmp], 1, /is not an app root: it has none of root_config\.json/],
  [['keys', 'bogus', '--app', EXAMPLE], 2, /unknown keys command 'bogus'/],
  [['keys', 'rotate', '--app', EXAMPLE, '--data-dir', FILE], 1, /data directory .*a-file is not a directory/],
  [['api-keys', 'list', '--app', EXAMPLE, '--data-dir', FILE], 1, /data directory .*a-file is not a directory/],
  [admin('api-keys', 'delete'), 2, /api-keys delete needs --name <name>/],
  [admin('api-keys', 'delete', '--name', 'nope'), 1, /no server API key named 'nope'/],
  [admin('users', 'bogus'), 2, /users needs one of/],
  [admin('users', 'show', '--id', 'nope'), 1, /no user with id 'nope'/],
  [admin('users', 'create', '--email', 'nobody', '--password', 'secret123'), 1, /not a valid email address/],
  [admin('users', 'import', '--file', MISSING), 1, /cannot open .*missing: no such file or directory/],
  [admin('users', 'export', '--file', join(MISSING, 'out.jsonl')), 1, /cannot open .*missing\/out\.jsonl: no such file or directory/],
  [admin('users', 'list', '--database', 'mysql://x'), 2, /--database must be a postgres/],
  [admin('users', 'list', '--pending=yes'), 2, /--pending takes no value/],
  [admin('admin-token', 'delete', '--id', 'nope'), 1, /no admin token with id 'nope'/],
  [admin('admin-token', 'create', '--name='), 1, /name must be 1 to 64 printable characters/],
  [['backup', '--data-dir', DATA], 2, /backup needs --to <file>/],
  [['backup', '--data-dir', DATA, '--to', join(MISSING, 'x.tar.gz')], 1, /cannot write .*: the directory .*missing does not exist/],
  [['backup', '--data-dir', DATA, '--to', join(tmp, 'x.tar.gz'), '--force=1'], 2, /--force takes no value/],
  [['restore', '--from', MISSING, '--data-dir', join(tmp, 'restored')], 1, /missing does not exist/],
  [['restore', '--from', FILE, '--data-dir', join(tmp, 'restored')], 1, /is not a Baste backup, or is damaged/],
  [['sevre'], 2, /unknown command 'sevre'; did you mean 'baste serve'\?/],
  [['--version=2'], 2, /--version takes no value/],
];

describe('every bad value fails in one line, without a stack trace', () => {
  it('on a data directory made for these tests', async () => {
    // `users list` makes the store the other cases use.
    const r = await cli(admin('users', 'list'));
    assert.equal(r.status, 0, r.stderr);
  });
  for (const [args, status, pattern, env] of CASES) {
    it(`baste ${args.map((a) => a.replace(tmp, '<tmp>').replace(EXAMPLE, '<example>')).join(' ')}${env ? ` (${Object.keys(env).join(', ')})` : ''}`, async () => {
      const r = await cli(args, env);
      assertOneLine(r, status, pattern, args.join(' '));
      // A password in a URL is never repeated back.
      assert.ok(!r.stderr.includes('s3cret'), r.stderr);
    });
  }
});

describe('help, version, and nothing at all', () => {
  it('`baste` alone prints the help on stderr and exits 2', async () => {
    const r = await cli([]);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^baste: a self-hosted backend[^]*baste serve --app <dir>/);
  });

  it('`baste --version` prints the package version', async () => {
    const r = await cli(['--version']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^baste \d+\.\d+\.\d+\n$/);
  });

  it('`baste <command> --help` and `baste help <command>` print that command\'s usage', async () => {
    for (const command of COMMAND_NAMES) {
      const r = await cli([command, '--help']);
      assert.equal(r.status, 0, command);
      assert.match(r.stdout, new RegExp(`^Usage:\\s+baste ${command} `), command);
      assert.ok(!r.stdout.includes('Options for serve') || command === 'serve', command);
    }
    const r = await cli(['help', 'backup']);
    assert.match(r.stdout, /^Usage: baste backup --to/);
    assert.match((await cli(['--help'])).stdout, /baste <command> --help/);
  });
});
