// Issue 20: what keeps the server's memory bounded under load. A function call leaves nothing
// behind in isolated-vm; each SQLite connection's page cache is bounded; `baste serve` bounds how
// far V8's heaps grow past their live size.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pino from 'pino';
import { HEAP_GROWING_PERCENT, serverV8Flags } from '../src/cli/heap.js';
import { openSqliteDocuments } from '../src/data/sqlite-engine.js';
import { DEFAULTS } from '../src/defaults.js';
import { FunctionRuntime } from '../src/functions/runtime.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { serve, stop } from './helpers/cli.js';
import { appConfig, appFunction } from './helpers/server.js';

const tmp = mkdtempSync(join(tmpdir(), 'baste-memory-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('functions: a call leaves nothing behind in isolated-vm', () => {
  // A call given isolated-vm's own `timeout` leaves a timer queued in a thread of isolated-vm's
  // until that timeout would have fired, even after the call answered: at the default 120 s and
  // thousands of calls a second, 100+ MB. That thread exists only while timers are queued, so a
  // thread that comes with the calls and goes once the timeout has passed is such a timer.
  it('no thread appears with the calls and goes once their time limit has passed', { skip: !existsSync('/proc/self/task') && 'needs /proc' }, async () => {
    const threads = () => readdirSync('/proc/self/task').length;
    const app = appConfig([]);
    (app.functions as Map<string, unknown>).set(...appFunction('sum', 'exports = function(a, b) { return a + b; };'));
    const timeoutMs = 300;
    const rt = new FunctionRuntime(app, { timeoutMs, memoryMb: 64, isolates: 1, logger: pino({ level: 'silent' }) });
    try {
      await rt.warm();
      const calls = async () => {
        for (let i = 0; i < 5; i++) assert.equal(await rt.call({ name: 'sum', argsEjson: '[1,2]', user: null, runAsSystem: true }), '{"$numberInt":"3"}');
      };
      await calls(); // (the first calls may start a thread of the isolate's pool, which stays)
      await sleep(timeoutMs * 1.5);
      const seen: [number, number][] = [];
      for (let round = 0; round < 4; round++) {
        await calls();
        const during = threads();
        await sleep(timeoutMs * 1.5);
        seen.push([during, threads()]);
      }
      assert.ok(seen.every(([during, later]) => later >= during), `threads right after the calls, then once their limit passed: ${JSON.stringify(seen)}`);
    } finally {
      await rt.close();
    }
  });
});

describe('sqlite: each connection has a bounded page cache', () => {
  it(`the store's and the documents' connections cache at most ${DEFAULTS.sqliteCacheKib} KiB (better-sqlite3's build: 16 MiB)`, async () => {
    // The connections the store and the engine open, caught as they set their first pragma.
    const opened = new Set<Database.Database>();
    const pragma = Database.prototype.pragma;
    Database.prototype.pragma = function (this: Database.Database, ...args: Parameters<typeof pragma>) {
      opened.add(this);
      return pragma.apply(this, args);
    } as typeof pragma;
    let store, documents;
    try {
      store = openSqliteStore(join(tmp, 'store.sqlite'));
      documents = openSqliteDocuments(join(tmp, 'documents.sqlite'));
    } finally {
      Database.prototype.pragma = pragma;
    }
    try {
      assert.equal(opened.size, 2);
      for (const db of opened) {
        assert.equal(db.pragma('cache_size', { simple: true }), -DEFAULTS.sqliteCacheKib, db.name);
        // NORMAL: the group commit fsyncs the WAL itself before acknowledging (sqlite-group-commit.ts).
        assert.equal(db.pragma('synchronous', { simple: true }), 1, `${db.name}: NORMAL with the group commit's own WAL fsync`);
      }
    } finally {
      await store.close();
      await documents.close();
    }
  });
});

describe('baste serve: V8 heaps grow a bounded share past their live size', () => {
  it('sets --heap-growing-percent at start, unless node was given it', async () => {
    assert.deepEqual(serverV8Flags([]), [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`]);
    assert.deepEqual(serverV8Flags(['--heap-growing-percent=30']), []);
    assert.deepEqual(serverV8Flags(['--heap_growing_percent', '30']), []);
    assert.deepEqual(serverV8Flags(['--max-old-space-size=512']), [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`]);

    // The real command: a preloaded probe reports the flags it sets (and still sets them).
    const probe = join(tmp, 'v8-probe.mjs');
    writeFileSync(
      probe,
      `import v8 from 'node:v8';\nimport { writeSync } from 'node:fs';\n` +
        `const set = v8.setFlagsFromString;\nv8.setFlagsFromString = (flags) => { writeSync(2, 'v8 flags set: ' + flags + '\\n'); return set(flags); };\n`,
    );
    const app = join(import.meta.dirname, '..', 'examples', 'todo');
    const served = await serve(['--app', app, '--data-dir', join(tmp, 'serve-data'), '--log-level', 'warn'], { env: { NODE_OPTIONS: `--import ${probe}` } });
    try {
      for (let waited = 0; !served.output().includes('v8 flags set:') && waited < 2000; waited += 50) await sleep(50);
      assert.match(served.output(), new RegExp(`v8 flags set: --heap-growing-percent=${HEAP_GROWING_PERCENT}\\n`));
    } finally {
      await stop(served);
    }
  });
});
