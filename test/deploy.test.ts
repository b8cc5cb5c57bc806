// README "Running in production", tested as written where this machine allows:
// - every `baste` command and flag the README, the systemd unit and the Dockerfile name exists
//   (the CLI's own --help is the reference), so the docs cannot drift from the code;
// - the nginx and Caddy configurations, taken from the README's code blocks (only the
//   certificate paths and ports replaced), proxy a realm-web app's login and function call over
//   TLS to a real `baste serve --base-url … --trust-proxy`, and replace a client's X-Forwarded-For;
// - deploy/baste.service passes `systemd-analyze verify`;
// - the Dockerfile is checked (non-root user, /data volume, health check, files it copies exist
//   and pass .dockerignore), its runtime stage's files are laid out as the image has them and
//   serve, and where a container engine is usable the image is built and run.
// Proxies, systemd-analyze and the container engine are optional: missing, their tests skip and
// say so (.ci/run installs nginx and Caddy from Debian's packages).

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { get } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { BIN, serve, stop, type Served } from './helpers/cli.js';

const ROOT = join(import.meta.dirname, '..');
const EXAMPLE = join(ROOT, 'examples', 'todo');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const UNIT = readFileSync(join(ROOT, 'deploy', 'baste.service'), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'baste-deploy-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const HELP = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' }).stdout;
const COMMANDS = ['serve', 'validate', 'keys', 'api-keys', 'users', 'admin-token', 'backup', 'restore'];

/** The README's section `## title`, up to the next `## `. */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `README has no section ${title}`);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end === -1 ? undefined : end);
}

/** Fenced code blocks, with their info string. */
function fences(md: string): { lang: string; text: string }[] {
  return [...md.matchAll(/^```([^\n]*)\n([^]*?)^```$/gm)].map((m) => ({ lang: m[1]!.trim(), text: m[2]! }));
}

/** Every `baste <command> …` invocation in `text` (continuation lines joined), with the flags after it. */
function invocations(text: string): { command: string; flags: string[]; line: string }[] {
  const out = [];
  for (const line of text.replace(/\\\n\s*/g, ' ').split('\n')) {
    for (const m of line.matchAll(new RegExp(`\\bbaste (${COMMANDS.join('|')}|--help)(?![\\w-])([^\`#]*)`, 'g'))) {
      out.push({ command: m[1]!, flags: [...m[2]!.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((f) => f[0]), line: line.trim() });
    }
  }
  return out;
}

/** The word after `baste` where a line of a code block, or a code span, starts with the command. */
function commandWords(md: string): string[] {
  const lines = fences(md).flatMap((f) => (['sh', ''].includes(f.lang) ? f.text.split('\n') : []));
  const spans = [...md.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
  return [...lines, ...spans].flatMap((l) => {
    const m = /^\s*(?:npx |sudo -u baste |docker exec baste )?baste ([a-z][a-z-]*)/.exec(l);
    return m ? [m[1]!] : [];
  });
}

const helpFlags = new Set([...HELP.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]));

describe('the README, the unit and the Dockerfile name only commands and flags that exist', () => {
  it('every `baste <command>` in the README is a command and its flags are flags', () => {
    const words = commandWords(README);
    assert.ok(words.length > 20, `only ${words.length} commands found`);
    for (const w of words) assert.ok(COMMANDS.includes(w), `README names a command 'baste ${w}' that does not exist`);
    const found = [...invocations(README), ...[...README.matchAll(/`([^`\n]*\bbaste [^`]*)`/g)].flatMap((m) => invocations(m[1]!))];
    assert.ok(found.length > 20, `only ${found.length} invocations found`);
    for (const i of found) for (const f of i.flags) assert.ok(helpFlags.has(f), `README: '${f}' is not a flag of baste (${i.line})`);
  });

  it("the console's hints name commands and flags that exist", () => {
    const hints = [...readFileSync(join(ROOT, 'admin-console', 'console.js'), 'utf8').matchAll(/code\('(baste [^']*)'\)/g)].map((m) => m[1]!);
    assert.ok(hints.length > 0);
    for (const hint of hints) {
      const [i] = invocations(hint);
      assert.ok(i && COMMANDS.includes(i.command), hint);
      for (const f of i.flags) assert.ok(helpFlags.has(f), `console: ${hint}`);
    }
  });

  it('every flag the README names in a code span is one `baste --help` lists', () => {
    // Flags of other programs the README quotes.
    const others = new Set(['--replSet']);
    const spans = [...README.matchAll(/`(--[a-zA-Z][a-zA-Z-]*)[^`]*`/g)].map((m) => m[1]!);
    assert.ok(spans.length > 20);
    for (const f of spans) if (!others.has(f)) assert.ok(helpFlags.has(f), `README names '${f}', which baste --help does not list`);
  });

  it("the systemd unit's and the Dockerfile's commands are valid", () => {
    const exec = /^ExecStart=(\S+) (.*)$/m.exec(UNIT);
    assert.ok(exec, 'no ExecStart');
    assert.equal(exec[1], '/usr/local/bin/baste', 'the README says a global install puts baste there');
    const [unit] = invocations(`baste ${exec[2]}`);
    assert.equal(unit?.command, 'serve');
    for (const f of unit!.flags) assert.ok(helpFlags.has(f), `unit: ${f}`);
    const cmd = JSON.parse(instruction('CMD')) as string[];
    assert.equal(cmd[0], 'serve');
    for (const f of cmd.filter((a) => a.startsWith('--'))) assert.ok(helpFlags.has(f), `Dockerfile CMD: ${f}`);
  });
});

// --- Dockerfile --------------------------------------------------------------------------------

/** The instructions, continuation lines joined, comments dropped. */
function dockerInstructions(): { op: string; args: string }[] {
  return DOCKERFILE.replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^([A-Z]+)\s+(.*)$/.exec(l);
      assert.ok(m, `Dockerfile: not an instruction: ${l}`);
      return { op: m[1]!, args: m[2]! };
    });
}
const finalStage = () => {
  const all = dockerInstructions();
  const last = all.map((i) => i.op).lastIndexOf('FROM');
  return all.slice(last);
};
const instruction = (op: string) => {
  const found = finalStage().filter((i) => i.op === op);
  assert.equal(found.length, 1, `final stage: one ${op}`);
  return found[0]!.args;
};

/** .dockerignore as Docker reads it: the last matching pattern decides; `!` re-includes. */
function dockerIgnored(path: string): boolean {
  const patterns = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const toRegex = (p: string) =>
    new RegExp(`^${p.replace(/\/$/, '').replace(/[.+^${}()|[\]]/g, '\\$&').replace(/\*\*\//g, '\u0000').replace(/\*/g, '[^/]*').replace(/\u0000/g, '(.*/)?')}(/.*)?$`);
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    if (toRegex(negate ? raw.slice(1) : raw).test(path)) ignored = !negate;
  }
  return ignored;
}

describe('Dockerfile', () => {
  it('builds on the Node.js major the package needs and runs unprivileged with a /data volume and a health check', () => {
    const major = /(\d+)/.exec(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).engines.node)![1];
    const known = new Set(['FROM', 'RUN', 'COPY', 'WORKDIR', 'ENV', 'USER', 'VOLUME', 'EXPOSE', 'HEALTHCHECK', 'ENTRYPOINT', 'CMD', 'ARG', 'LABEL']);
    for (const i of dockerInstructions()) {
      assert.ok(known.has(i.op), `unknown instruction ${i.op}`);
      if (i.op === 'FROM') assert.match(i.args, new RegExp(`^node:${major}-`), `FROM ${i.args}`);
      if (i.op === 'ADD') assert.fail('COPY, not ADD');
    }
    const stage = finalStage();
    const user = stage.findIndex((i) => i.op === 'USER');
    assert.ok(user >= 0, 'the final stage sets USER');
    assert.ok(!['root', '0', '0:0'].includes(stage[user]!.args), 'not root');
    assert.ok(user < stage.findIndex((i) => i.op === 'ENTRYPOINT'));
    assert.ok(stage.slice(user).every((i) => i.op !== 'RUN'), 'nothing runs as root after USER (nor needs to)');
    assert.deepEqual(instruction('VOLUME').split(/\s+/), ['/data']);
    assert.equal(instruction('EXPOSE'), '8080');
    assert.match(instruction('HEALTHCHECK'), /CMD \[.*\/readyz/);
    assert.deepEqual(JSON.parse(instruction('ENTRYPOINT')), ['baste']);
    const cmd = JSON.parse(instruction('CMD')) as string[];
    for (const [flag, value] of [['--app', '/app'], ['--data-dir', '/data'], ['--port', '8080']]) assert.equal(cmd[cmd.indexOf(flag!) + 1], value, flag);
  });

  it('copies files that exist and that .dockerignore lets through, and never local state', () => {
    const sources = dockerInstructions()
      .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    assert.ok(sources.length >= 5);
    for (const s of sources) {
      assert.ok(existsSync(join(ROOT, s)), `COPY ${s}: not in the repository`);
      assert.ok(!dockerIgnored(s.replace(/\/$/, '')), `COPY ${s}: excluded by .dockerignore`);
    }
    for (const p of ['node_modules', 'dist', '.git', '.baste-data', 'examples/todo/.baste', 'examples/todo/.baste-data/x', 'src/node_modules', 'test', 'secrets.json'])
      assert.ok(dockerIgnored(p), `.dockerignore lets ${p} into the build context`);
  });

  it("its runtime stage's files, laid out as in the image, serve the app; its health check passes", async () => {
    const image = join(tmp, 'opt-baste');
    mkdirSync(image);
    for (const i of finalStage().filter((i) => i.op === 'COPY')) {
      const parts = i.args.split(/\s+/);
      const fromBuild = parts[0]!.startsWith('--from=');
      const [src, dest] = fromBuild ? [parts[1]!, parts[2]!] : [parts[0]!, parts[1]!];
      // The build stage works in /src on the repository's files (dist/ built by `npm ci`'s prepare).
      const from = fromBuild ? join(ROOT, relative('/src', src)) : join(ROOT, src);
      const to = dest.endsWith('/') ? join(image, dest, basename(src)) : join(image, dest);
      if (src.endsWith('node_modules')) symlinkSync(from, to);
      else cpSync(from, to, { recursive: true });
    }
    const cmd = (JSON.parse(instruction('CMD')) as string[]).map((a) =>
      a === '/app' ? join(image, 'examples', 'todo') : a === '/data' ? join(tmp, 'image-data') : a === '8080' ? '0' : a === '0.0.0.0' ? '127.0.0.1' : a,
    );
    const child = spawn(process.execPath, [join(image, 'bin', 'baste.js'), ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await listening(child);
      assert.equal((await fetch(`${url}/readyz`)).status, 200);
      assert.equal((await fetch(`${url}/admin/`)).status, 200, 'the console ships in the image');
      const check = JSON.parse(/CMD (\[.*\])$/.exec(instruction('HEALTHCHECK'))![1]!) as string[];
      const port = new URL(url).port;
      const run = (p: string) => spawnSync(check[0] === 'node' ? process.execPath : check[0]!, check.slice(1).map((a) => a.replace('8080', p)), { timeout: 10_000 }).status;
      assert.equal(run(port), 0);
      assert.equal(run(String(await freePort())), 1, 'the health check fails when nothing answers');
    } finally {
      child.kill('SIGTERM');
    }
  });

  const engine = ['docker', 'podman'].find((e) => spawnSync(e, ['info'], { timeout: 15_000 }).status === 0);
  it('builds and runs as an image', { skip: engine ? false : 'no usable container engine (docker info fails): the image was not built' }, async () => {
    const tag = `baste-test-${process.pid}`;
    const built = spawnSync(engine!, ['build', '-t', tag, '.'], { cwd: ROOT, encoding: 'utf8', timeout: 900_000 });
    assert.equal(built.status, 0, built.stderr);
    const run = spawnSync(engine!, ['run', '-d', '-p', '127.0.0.1::8080', '-v', `${EXAMPLE}:/app:ro`, tag], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const id = run.stdout.trim();
    try {
      const port = /:(\d+)\s*$/m.exec(spawnSync(engine!, ['port', id, '8080'], { encoding: 'utf8' }).stdout)![1];
      const deadline = Date.now() + 60_000;
      let status = 0;
      while (Date.now() < deadline && status !== 200) {
        status = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0);
        if (status !== 200) await new Promise((r) => setTimeout(r, 500));
      }
      assert.equal(status, 200);
      const whoami = spawnSync(engine!, ['exec', id, 'id', '-u'], { encoding: 'utf8' }).stdout.trim();
      assert.notEqual(whoami, '0', 'runs as root');
    } finally {
      spawnSync(engine!, ['rm', '-f', id]);
      spawnSync(engine!, ['rmi', '-f', tag]);
    }
  });
});

// --- systemd ------------------------------------------------------------------------------------

const systemdAnalyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find(existsSync);
describe('deploy/baste.service', { skip: systemdAnalyze ? false : 'systemd-analyze not found: the unit was not verified' }, () => {
  it('passes systemd-analyze verify', () => {
    // The unit runs a global install; here the repository's bin/baste.js stands in for it.
    const unit = join(tmp, 'baste.service');
    writeFileSync(unit, UNIT.replace('/usr/local/bin/baste', BIN));
    const r = spawnSync(systemdAnalyze!, ['verify', unit], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', r.stderr);
  });
});

// --- reverse proxies -----------------------------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Resolves with the URL once `baste serve` says it listens. */
function listening(child: ChildProcess): Promise<string> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not start:\n${out}`)), 20_000);
    const onData = (d: Buffer) => {
      out += d;
      const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${out}`)));
  });
}

async function waitForPort(port: number, proc: { output: () => string; child: ChildProcess }): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`proxy exited:\n${proc.output()}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`proxy did not listen on ${port}:\n${proc.output()}`);
}

function startProcess(cmd: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out };
}

/** Replaces `from` with `to` in `text`, failing when the README no longer has `from`. */
function swap(text: string, from: string, to: string): string {
  assert.ok(text.includes(from), `the README's configuration no longer contains '${from}'`);
  return text.split(from).join(to);
}

const certDir = join(tmp, 'tls');
const cert = join(certDir, 'cert.pem');
const key = join(certDir, 'key.pem');
const openssl = spawnSync('openssl', ['version']).status === 0;

interface Proxy {
  readonly name: string;
  readonly binary: string;
  /** The README's configuration, made runnable here; returns the proxy process. */
  start(o: { tls: number; http: number; upstream: number; dir: string }): ReturnType<typeof startProcess>;
  /** Does the config also answer plain HTTP with a redirect to HTTPS on `http`? */
  readonly redirects: boolean;
}

const PROXIES: Proxy[] = [
  {
    name: 'nginx',
    binary: process.env.BASTE_TEST_NGINX ?? '/usr/sbin/nginx',
    redirects: true,
    start({ tls, http, upstream, dir }) {
      const snippet = fences(section('Running in production')).find((f) => f.lang === 'nginx');
      assert.ok(snippet, 'README: no nginx block');
      let conf = swap(snippet.text, 'listen 443 ssl;', `listen 127.0.0.1:${tls} ssl;`);
      conf = swap(conf, 'listen 80;', `listen 127.0.0.1:${http};`);
      conf = swap(conf, '/etc/letsencrypt/live/baste.example.com/fullchain.pem', cert);
      conf = swap(conf, '/etc/letsencrypt/live/baste.example.com/privkey.pem', key);
      conf = swap(conf, 'http://127.0.0.1:8080', `http://127.0.0.1:${upstream}`);
      const temp = (n: string) => `${n}_temp_path ${join(dir, n)};`;
      writeFileSync(
        join(dir, 'nginx.conf'),
        `daemon off;\nworker_processes 1;\npid ${join(dir, 'nginx.pid')};\nerror_log stderr warn;\nevents { worker_connections 128; }\n` +
          `http {\naccess_log off;\n${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n')}\n${conf}\n}\n`,
      );
      return startProcess(this.binary, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr']);
    },
  },
  {
    name: 'Caddy',
    binary: process.env.BASTE_TEST_CADDY ?? '/usr/bin/caddy',
    redirects: false,
    start({ tls, upstream, dir }) {
      const snippet = fences(section('Running in production')).find((f) => f.lang === 'caddyfile');
      assert.ok(snippet, 'README: no caddyfile block');
      // The site's own certificate instead of one from an ACME CA; no admin endpoint, no port 80.
      let conf = swap(snippet.text, 'baste.example.com {', `https://localhost:${tls} {\n    bind 127.0.0.1\n    tls ${cert} ${key}`);
      conf = swap(conf, '127.0.0.1:8080', `127.0.0.1:${upstream}`);
      writeFileSync(join(dir, 'Caddyfile'), `{\n    admin off\n    auto_https disable_redirects\n    skip_install_trust\n}\n${conf}`);
      return startProcess(this.binary, ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], {
        HOME: dir,
        XDG_DATA_HOME: join(dir, 'data'),
        XDG_CONFIG_HOME: join(dir, 'config'),
      });
    },
  },
];

before(() => {
  if (!openssl) return;
  mkdirSync(certDir, { recursive: true });
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

for (const proxy of PROXIES) {
  const skip = !existsSync(proxy.binary)
    ? `${proxy.binary} not found: the README's ${proxy.name} configuration was not run (apt-get install ${proxy.name.toLowerCase()}, or set BASTE_TEST_${proxy.name.toUpperCase()})`
    : !openssl
      ? 'openssl not found: no test certificate'
      : false;
  describe(`behind ${proxy.name} as the README configures it`, { skip }, () => {
    let baste: Served;
    let proc: ReturnType<typeof startProcess>;
    let tls: number;
    let http: number;
    before(async () => {
      tls = await freePort();
      http = await freePort();
      const dir = join(tmp, proxy.name);
      mkdirSync(dir, { recursive: true });
      // As the README runs it (loopback only, the public URL, the proxy believed), on a free port.
      const span = /`baste serve (--app <export> [^`]*)`/.exec(section('Running in production'));
      assert.ok(span, 'README: no `baste serve --app <export> …` line for the proxied server');
      const args = span[1]!.split(' ').map((a) => ({ '<export>': EXAMPLE, '<dir>': join(dir, 'data'), 'https://baste.example.com': `https://localhost:${tls}` })[a] ?? a);
      assert.deepEqual(args.splice(args.indexOf('--port'), 2), ['--port', '8080']);
      baste = await serve(args);
      proc = proxy.start({ tls, http, upstream: Number(new URL(baste.url).port), dir });
      await waitForPort(tls, proc);
    });
    after(async () => {
      proc?.child.kill('SIGTERM');
      if (baste) await stop(baste);
    });

    it('a realm-web app registers, confirms by the mailed link, logs in, calls a function and is told the public URL; a forged client address is replaced', async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'helpers', 'proxied-sdk.ts'), `https://localhost:${tls}`, 'todo-abcde', join(tmp, proxy.name, 'data')], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NODE_EXTRA_CA_CERTS: cert },
        cwd: ROOT,
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const code = await new Promise((r) => child.once('close', r));
      assert.equal(code, 0, `${err}\n${proc.output()}`);
      const result = JSON.parse(out) as { hostname: string; confirmPage: string; spoofedStatus: number; userId: string; sum: number };
      assert.equal(result.hostname, `https://localhost:${tls}`);
      // The example's loopback confirmation URL names Baste's own page: mailed under the public URL.
      assert.equal(result.confirmPage, `https://localhost:${tls}/app/todo-abcde/confirm`);
      assert.equal(result.sum, 5);
      assert.match(result.userId, /^[0-9a-f]{24}$/);
      assert.equal(result.spoofedStatus, 200);
      // Baste logged the proxy's view of the client (loopback), not the address the client claimed.
      const line = baste.output().split('\n').find((l) => l.includes('spoofed'));
      assert.ok(line, baste.output());
      assert.equal(JSON.parse(line).ip, '127.0.0.1');
      assert.ok(!baste.output().includes('203.0.113.7'));
    });

    it('plain HTTP is redirected to HTTPS', { skip: proxy.redirects ? false : 'Caddy redirects on port 80 only, which a test cannot bind' }, async () => {
      // node:http, not fetch: fetch does not let a caller set Host.
      const res = await new Promise<{ status?: number; location?: string }>((resolve, reject) =>
        get({ host: '127.0.0.1', port: http, path: '/api/client/v2.0/app/todo-abcde/location', headers: { host: 'baste.example.com' } }, (r) => {
          r.resume();
          resolve({ status: r.statusCode, location: r.headers.location });
        }).on('error', reject),
      );
      assert.deepEqual(res, { status: 301, location: 'https://baste.example.com/api/client/v2.0/app/todo-abcde/location' });
    });
  });
}
