// The MongoDB driver is loaded only by a server that can reach a cluster (src/data/engines.ts): an
// app on the embedded store must not carry its modules and buffers. Observed in the compiled
// `baste serve`, through a preloaded script that records every module the process loaded.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { serve, stop } from './helpers/cli.js';

const EXAMPLE = join(import.meta.dirname, '..', 'examples', 'todo');
const tmp = mkdtempSync(join(tmpdir(), 'baste-lazy-driver-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// ES modules through a loader hook (it runs off the main thread and posts each URL back);
// CommonJS ones (the driver is CommonJS) from require.cache. Written out when the process exits.
const PROBE = `
import { createRequire, register } from 'node:module';
import { writeFileSync } from 'node:fs';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const esm = [];
port1.on('message', (url) => esm.push(url));
port1.unref();
register('data:text/javascript,' + encodeURIComponent(
  'let port; export function initialize(d) { port = d.port; }' +
  'export async function load(url, context, next) { port.postMessage(url); return next(url, context); }'
), { data: { port: port2 }, transferList: [port2] });
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => writeFileSync(process.env.BASTE_TEST_MODULES_OUT, JSON.stringify({ esm, cjs: Object.keys(cache) })));
`;
const probe = join(tmp, 'probe.mjs');
writeFileSync(probe, PROBE);

/** Every module `baste serve --app examples/todo` loaded by the time it stopped, after one request. */
async function modulesLoaded(name: string, env: Record<string, string> = {}): Promise<string[]> {
  const out = join(tmp, `${name}.json`);
  const server = await serve(['--app', EXAMPLE, '--data-dir', join(tmp, name)], {
    env: { NODE_OPTIONS: `--import=${pathToFileURL(probe).href}`, BASTE_TEST_MODULES_OUT: out, BASTE_MONGODB_URI: '', ...env },
  });
  try {
    const res = await fetch(`${server.url}/api/client/v2.0/app/todo-abcde/location`);
    assert.equal(res.status, 200);
  } finally {
    assert.equal(await stop(server), 0, server.output());
  }
  const { esm, cjs } = JSON.parse(readFileSync(out, 'utf8')) as { esm: string[]; cjs: string[] };
  return [...esm, ...cjs.map((p) => pathToFileURL(p).href)];
}

const isDriver = (url: string) => /\/node_modules\/mongodb\/|\/data\/mongodb-engine\.[jt]s$/.test(url);

describe('MongoDB driver loading', () => {
  it('an app whose data sources use the embedded store does not load the driver', async () => {
    const loaded = await modulesLoaded('embedded');
    // The probe saw the server's own modules, so an empty list below is evidence, not blindness.
    assert.ok(loaded.some((u) => u.endsWith('/dist/data/engines.js')), 'the probe recorded the server modules');
    assert.deepEqual(loaded.filter(isDriver), []);
  });

  it('a default cluster (BASTE_MONGODB_URI) loads it', async () => {
    // Unreachable on purpose: the driver connects on first use, which this test never makes.
    const loaded = await modulesLoaded('cluster', { BASTE_MONGODB_URI: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200' });
    assert.ok(loaded.some((u) => u.includes('/node_modules/mongodb/')), 'the driver package');
    assert.ok(loaded.some((u) => u.endsWith('/dist/data/mongodb-engine.js')), 'the engine module');
  });
});
