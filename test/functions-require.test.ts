// Functions `require()` as real exports use it: the app's own npm packages (a functions/node_modules
// folder, the uploaded functions/node_modules.tar.gz archive, a package.json) and Node's built-in
// modules, one module instance per call. Refusals name the module and the reason at the require.
// The export is written to disk and loaded as `baste serve` would; realm-web calls the functions,
// on SQLite and PostgreSQL.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import * as Realm from 'realm-web';
import { loadAppDirectory } from '../src/app/load.js';
import { unpackTar } from '../src/functions/dependencies.js';
import { startServer, type TestServer } from './helpers/server.js';

/** uuid as Node loads it, to check what the sandbox computed (the package has no types). */
const uuid = createRequire(import.meta.url)('uuid') as { v5: ((name: string, namespace: string) => string) & { DNS: string } };

/** A ustar archive of `entries` (path → content; null content: a folder; `{ link }`: a symbolic link). */
function tarOf(entries: [string, string | Buffer | null | { link: string }][]): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, content] of entries) {
    const header = Buffer.alloc(512);
    const body = content === null || (typeof content === 'object' && !Buffer.isBuffer(content)) ? Buffer.alloc(0) : Buffer.from(content);
    header.write(name, 0, 100, 'utf8');
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124);
    header.write('00000000000\0', 136);
    const type = content === null ? '5' : typeof content === 'object' && !Buffer.isBuffer(content) ? '2' : '0';
    header.write(type, 156);
    if (type === '2') header.write((content as { link: string }).link, 157, 100);
    header.write('ustar\0', 257);
    header.write('00', 263);
    header.fill(' ', 148, 156);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** Every file under `dir`, as archive entries under `prefix` (what `tar -czf x.tar.gz node_modules/` holds). */
function entriesOf(dir: string, prefix: string): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push([`${prefix}/${relative(dir, p).split('\\').join('/')}`, readFileSync(p)]);
    }
  };
  walk(dir);
  return out;
}

const write = (root: string, files: Record<string, string | object>) => {
  for (const [path, content] of Object.entries(files)) {
    const abs = join(root, ...path.split('/'));
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
};

const FUNCTIONS: Record<string, string> = {
  chunk: `exports = function(list, size) {
  const _ = require('lodash');
  const get = require('lodash/get');
  return { chunks: _.chunk(list, size), deep: get({ a: { b: [10, 20] } }, 'a.b[1]') };
};`,
  nextDay: `exports = function(isoDate) {
  const moment = require("moment");
  return moment.utc(isoDate).add(1, "days").format("YYYY-MM-DD dddd");
};`,
  checkEmail: `exports = (email) => {
  const validator = require('validator');
  return { valid: validator.isEmail(email), normalized: validator.isEmail(email) ? validator.normalizeEmail(email) : null };
};`,
  newIds: `exports = function() {
  const { v4: uuidv4, v5: uuidv5, validate } = require('uuid');
  const id = uuidv4();
  return { id, valid: validate(id), named: uuidv5('baste.example', uuidv5.DNS), pad: require('pad-left-lite')('7', 3) };
};`,
  builtins: `exports = async function(secret, message) {
  const { Buffer } = require('buffer');
  const crypto = require('node:crypto');
  const EventEmitter = require('events');
  const util = require('util');
  const { URL } = require('url');
  const querystring = require('querystring');
  const path = require('path');
  const { StringDecoder } = require('string_decoder');
  const assert = require('assert');
  const { setTimeout: sleep } = require('timers');
  const bus = new EventEmitter();
  const heard = [];
  bus.on('order', (o) => heard.push(o.id));
  bus.emit('order', { id: 'a1' });
  bus.emit('order', { id: 'b2' });
  const waited = await util.promisify((ms, cb) => sleep(() => cb(null, ms), ms))(5);
  const url = new URL('/v1/items?page=2', 'https://api.example.com');
  const decoder = new StringDecoder('utf8');
  const euro = Buffer.from('€');
  let assertion = null;
  try { assert.strictEqual(1, 2); } catch (e) { assertion = e.code; }
  return {
    base64: Buffer.from(message).toString('base64'),
    fromBase64: Buffer.from('aGVsbG8gd29ybGQ=', 'base64').toString('utf8'),
    globalBuffer: typeof Buffer === 'function' && Buffer.isBuffer(Buffer.alloc(1)),
    hmac: crypto.createHmac('sha256', secret).update(message).digest('hex'),
    sha1: crypto.createHash('sha1').update('abc').digest('base64'),
    random: crypto.randomBytes(16).length,
    uuid: /^[0-9a-f-]{36}$/.test(crypto.randomUUID()),
    heard,
    waited,
    formatted: util.format('%s has %d items', 'cart', 3),
    page: url.searchParams.get('page'),
    host: url.host,
    query: querystring.stringify({ q: 'a b', n: [1, 2] }),
    joined: path.join('/srv', 'app', '..', 'data', 'x.json'),
    decoded: decoder.write(euro.slice(0, 2)) + decoder.end(euro.slice(2)),
    assertion,
    nodePrefix: require('node:path') === path,
  };
};`,
  counter: `exports = function() {
  const counter = require('counter-state');
  counter.bump();
  return counter.bump();
};`,
  refuse: `exports = function(name) {
  try { require(name); return 'loaded'; } catch (e) { return { message: e.message, code: e.code }; }
};`,
  relative: `exports = function() { try { require('./chunk'); return 'loaded'; } catch (e) { return e.message; } };`,
};

describe('functions: require()', () => {
  let scratch: string;
  let appDir: string;
  let server: TestServer;
  let user: Realm.User;
  const logged: { level: number; msg: string; missing?: string[] }[] = [];

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'baste-require-'));
    appDir = join(scratch, 'app');
    write(appDir, {
      'realm_config.json': { app_id: 'require-abcde', name: 'require', config_version: 20210101 },
      'auth/providers.json': { 'anon-user': { name: 'anon-user', type: 'anon-user', disabled: false } },
      'functions/config.json': Object.keys(FUNCTIONS).map((name) => ({ name, private: false })),
      ...Object.fromEntries(Object.entries(FUNCTIONS).map(([name, source]) => [`functions/${name}.js`, source])),
      'functions/package.json': {
        name: 'functions',
        dependencies: { lodash: '^4.17.21', moment: '^2.29.4', validator: '^13.11.0', uuid: '^8.3.2', 'left-pad-never-installed': '^1.0.0' },
      },
    });
    // The app's own packages, as `npm install` leaves them in functions/node_modules.
    const modules = join(appDir, 'functions', 'node_modules');
    for (const pkg of ['lodash', 'moment', 'validator']) cpSync(join('node_modules', pkg), join(modules, pkg), { recursive: true, dereference: true });
    write(modules, {
      'counter-state/package.json': { name: 'counter-state', version: '1.0.0', main: 'lib/counter.js' },
      'counter-state/lib/counter.js': 'let count = 0;\nexports.bump = function () { count += 1; return count; };\n',
      'native-thing/package.json': { name: 'native-thing', version: '1.0.0' },
      'native-thing/index.js': "module.exports = require('./build/Release/thing.node');\n",
      'native-thing/build/Release/thing.node': '\u007fELF not really',
      'needs-fs/index.js': "const fs = require('fs');\nmodule.exports = { read: (p) => fs.readFileSync(p, 'utf8') };\n",
      'sneaky/index.js': "module.exports = require('../../../secret.js');\n",
      'esm-only/package.json': { name: 'esm-only', version: '1.0.0', type: 'module', exports: { '.': { import: './index.mjs' } } },
      'esm-only/index.mjs': 'export default 1;\n',
    });
    write(appDir, { 'secret.js': "module.exports = 'the host file';\n" });
    write(scratch, { 'outside/index.js': "module.exports = 'outside';\n" });
    symlinkSync(join(scratch, 'outside'), join(modules, 'linked'), 'dir');

    // uuid and a tiny package arrive in the uploaded archive, made the documented way
    // (tar -czf node_modules.tar.gz node_modules/), plus entries a hostile archive might hold.
    const staged = join(scratch, 'staged');
    cpSync(join('node_modules', 'uuid'), join(staged, 'uuid'), { recursive: true, dereference: true });
    write(staged, {
      'pad-left-lite/package.json': { name: 'pad-left-lite', version: '0.1.0', main: './pad' },
      'pad-left-lite/pad.js': "module.exports = (s, n) => String(s).padStart(n, '0');\n",
    });
    const archive = tarOf([
      ['node_modules/', null],
      ...entriesOf(staged, 'node_modules'),
      ['../escaped.txt', 'should never be written'],
      ['/tmp/absolute-escape.txt', 'should never be written'],
      ['node_modules/evil-link', { link: '/etc' }],
    ]);
    writeFileSync(join(appDir, 'functions', 'node_modules.tar.gz'), gzipSync(archive));

    const { config, warnings } = await loadAppDirectory(appDir);
    // Dependencies are part of the export, not leftovers (secret.js is the file `sneaky` reaches for).
    assert.deepEqual(warnings.map((w) => w.file), ['secret.js']);
    const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    server = await startServer(config, { logger });
    const app = new Realm.App({ id: server.appId, baseUrl: server.url });
    user = await app.logIn(Realm.Credentials.anonymous(false));
  });
  after(async () => {
    await server?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('loads the app’s own packages: lodash (and a subpath), moment, validator', async () => {
    assert.deepEqual(await user.functions.chunk([1, 2, 3, 4, 5], 2), { chunks: [[1, 2], [3, 4], [5]], deep: 20 });
    assert.equal(await user.functions.nextDay('2024-02-28T12:00:00Z'), '2024-02-29 Thursday');
    assert.deepEqual(await user.functions.checkEmail('Ada.Lovelace@Example.COM'), { valid: true, normalized: 'ada.lovelace@example.com' });
    assert.deepEqual(await user.functions.checkEmail('not an email'), { valid: false, normalized: null });
  });

  it('loads packages from the uploaded node_modules.tar.gz (uuid needs crypto and Buffer), unpacked safely into the data directory', async () => {
    const out = await user.functions.newIds();
    assert.match(out.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(out.valid, true);
    // RFC 4122 v5 of a DNS name is deterministic
    assert.equal(out.named, uuid.v5('baste.example', uuid.v5.DNS));
    assert.equal(out.pad, '007');
    const unpacked = join(server.dataDir, 'dependencies');
    const [digest] = readdirSync(unpacked);
    assert.ok(existsSync(join(unpacked, digest!, 'node_modules', 'uuid', 'package.json')));
    assert.equal(existsSync(join(unpacked, 'escaped.txt')), false);
    assert.equal(existsSync(join(unpacked, digest!, 'escaped.txt')), false);
    assert.equal(existsSync('/tmp/absolute-escape.txt'), false);
    assert.equal(existsSync(join(unpacked, digest!, 'node_modules', 'evil-link')), false, 'links are not unpacked');
    assert.ok(logged.some((l) => /entries of the dependency archive were skipped/.test(l.msg)));
  });

  it('says at start which declared packages are missing and how to install them', () => {
    const warning = logged.find((l) => l.missing);
    assert.ok(warning, 'a warning about missing packages');
    assert.deepEqual(warning.missing, ['left-pad-never-installed']);
    assert.match(warning.msg, /npm install --omit=dev --prefix .*functions/);
  });

  it('offers Node’s built-ins: Buffer, crypto HMAC and hashes, events, util, url, querystring, path, string_decoder, assert, timers', async () => {
    const out = await user.functions.builtins('s3cr3t', 'hello world');
    assert.deepEqual(out, {
      base64: Buffer.from('hello world').toString('base64'),
      fromBase64: 'hello world',
      globalBuffer: true,
      hmac: createHmac('sha256', 's3cr3t').update('hello world').digest('hex'),
      sha1: 'qZk+NkcGgWq6PiVxeFDCbJzQ2J0=',
      random: 16,
      uuid: true,
      heard: ['a1', 'b2'],
      waited: 5,
      formatted: 'cart has 3 items',
      page: '2',
      host: 'api.example.com',
      query: 'q=a%20b&n=1&n=2',
      joined: '/srv/data/x.json',
      decoded: '€',
      assertion: 'ERR_ASSERTION',
      nodePrefix: true,
    });
  });

  it('gives every call its own module instances: state a module keeps never reaches another call or user', async () => {
    const other = await new Realm.App({ id: server.appId, baseUrl: server.url }).logIn(Realm.Credentials.anonymous(false));
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? user : other).functions.counter()));
    assert.deepEqual(results, Array(12).fill(2));
  });

  it('refuses at the require, naming the module and why: fs, net, a native addon, a package needing fs, paths outside the dependencies', async () => {
    const refuse = (name: string) => user.functions.refuse(name) as Promise<{ message: string; code: string }>;
    assert.deepEqual(await refuse('fs'), {
      message: "module 'fs' is not available to functions in Baste: no file system access (functions keep state in the data service and values)",
      code: 'ERR_MODULE_REFUSED',
    });
    assert.match((await refuse('node:child_process')).message, /module 'node:child_process' is not available to functions in Baste: functions cannot start processes/);
    assert.match((await refuse('http')).message, /module 'http' is not available .*use context\.http/);
    assert.match((await refuse('native-thing')).message, /cannot require '\.\/build\/Release\/thing\.node' from 'native-thing\/index\.js': it is a native addon/);
    assert.match((await refuse('needs-fs')).message, /module 'fs' is not available to functions in Baste/);
    assert.match((await refuse('sneaky')).message, /cannot require '\.\.\/\.\.\/\.\.\/secret\.js' from 'sneaky\/index\.js': it resolves outside the app's dependencies/);
    assert.match((await refuse('linked')).message, /cannot require 'linked' from the function: it resolves outside the app's dependencies/);
    assert.match((await refuse('esm-only')).message, /cannot require 'esm-only'.*no CommonJS entry/);
    assert.match((await refuse('/etc/passwd')).message, /never by absolute path/);
    const missing = await refuse('left-pad-never-installed');
    assert.equal(missing.code, 'MODULE_NOT_FOUND');
    assert.match(missing.message, /package\.json declares left-pad-never-installed@\^1\.0\.0 but it is not installed; run `npm install/);
    assert.equal((await refuse('no-such-package')).code, 'MODULE_NOT_FOUND');
    assert.match(await user.functions.relative(), /cannot require '\.\/chunk' from the function: a relative path resolves outside the app's dependencies/);
    // After all that, modules still load.
    assert.deepEqual((await user.functions.chunk([1, 2], 1)).chunks, [[1], [2]]);
  });
});

describe('dependency archives', () => {
  it('unpack regular files and folders only, never outside the destination, within the limits', () => {
    const dest = mkdtempSync(join(tmpdir(), 'baste-untar-'));
    try {
      const archive = gzipSync(tarOf([['pkg/', null], ['pkg/a.js', 'a'], ['./pkg/../../up.js', 'x'], ['pkg/l', { link: '../../x' }], ['pkg/sub/b.json', '{}']]));
      const out = unpackTar(archive, join(dest, 'out'));
      assert.equal(out.files, 2);
      assert.deepEqual(out.skipped, ['./pkg/../../up.js (outside the archive\'s folder)', 'pkg/l (symbolic link)']);
      assert.equal(readFileSync(join(dest, 'out', 'pkg', 'a.js'), 'utf8'), 'a');
      assert.ok(existsSync(join(dest, 'out', 'pkg', 'sub', 'b.json')));
      assert.equal(existsSync(join(dest, 'up.js')), false);
      assert.throws(() => unpackTar(archive, join(dest, 'few'), { maxArchiveBytes: 1e6, maxUnpackedBytes: 1e6, maxEntries: 2 }), /more than 2 entries/);
      assert.throws(() => unpackTar(gzipSync(tarOf([['big.js', 'x'.repeat(5000)]])), join(dest, 'small'), { maxArchiveBytes: 1e6, maxUnpackedBytes: 4096, maxEntries: 10 }), /more than 4096 bytes/);
      assert.throws(() => unpackTar(archive.subarray(0, archive.length - 40), join(dest, 'cut')));
    } finally {
      rmSync(dest, { recursive: true, force: true });
    }
  });
});
