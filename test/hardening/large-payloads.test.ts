// Large payloads within the platform's 18 MB request limit: 10 MB function arguments (parsed by a
// worker off the event loop, json-offload.ts) and a 10 MB HTTPS endpoint body (once "memory limit
// exceeded", the sandbox's base64 decoding) work; bad big bodies get the same 400s as small ones;
// past the limit, 413. The depth check that skips strings agrees with a character-by-character one.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jsonDepthExceeds } from '../../src/http/json-body.js';
import { appConfig, appFunction, endpointConfig, provider, startServer, type TestServer } from '../helpers/server.js';
import { seededRandom } from '../helpers/random.js';
import { isStitchError, send, type Answer } from './harness.js';

const MB = 1024 * 1024;

/** The reference: every character looked at. */
function depthExceedsSlowly(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (++depth > max) return true;
    } else if (c === '}' || c === ']') depth--;
  }
  return false;
}

describe('the JSON depth check', () => {
  it('agrees with a character-by-character scan on generated texts (escapes, quotes and brackets in strings)', () => {
    const rnd = seededRandom(17);
    const atoms = ['{', '}', '[', ']', '"', '\\', '\\\\', '\\"', 'a', ',', ':', '"x\\"[[["', '"{{{"'];
    for (let n = 0; n < 5000; n++) {
      let text = '';
      const len = rnd.int(60);
      for (let i = 0; i < len; i++) text += rnd.pick(atoms);
      for (const max of [0, 1, 2, 3, 5]) assert.equal(jsonDepthExceeds(text, max), depthExceedsSlowly(text, max), `${JSON.stringify(text)} max ${max}`);
    }
  });
});

describe('large payloads', () => {
  let server: TestServer;
  let token: string;
  const call = (body: string, contentType = 'application/json') =>
    send(`${server.url}/api/client/v2.0/app/${server.appId}/functions/call`, {
      method: 'POST',
      headers: { 'content-type': contentType, authorization: `Bearer ${token}` },
      body,
    });
  const expectError = (a: Answer, status: number, code: string) => {
    assert.equal(a.status, status, a.text.slice(0, 300));
    assert.ok(isStitchError(a), a.text.slice(0, 300));
    assert.equal(JSON.parse(a.text).error_code, code);
  };

  before(async () => {
    server = await startServer({
      ...appConfig([provider('anon-user')], 'large-app-abcde'),
      functions: new Map([
        appFunction('sizeOf', 'exports = (x) => typeof x === "string" ? x.length : x.length * 1000 + x[x.length - 1].n;'),
        appFunction('convert', `exports = (b64s, texts) => ({
          bytes: b64s.map((b) => {
            const bin = BSON.Binary.fromBase64(b, 0);
            let fatal;
            try { fatal = new TextDecoder('utf-8', { fatal: true }).decode(bin.buffer); } catch (e) { fatal = e instanceof TypeError ? 'TypeError' : String(e); }
            return [bin.toBase64(), btoa(atob(b)), new TextDecoder().decode(bin.buffer), fatal, bin.text()];
          }),
          texts: texts.map((t) => BSON.Binary(new TextEncoder().encode(t), 0).toBase64()),
        });`),
        appFunction('bigArgs', 'exports = (a, b, c) => [a.length, a.slice(-3), b, c + 1, context.runningAsSystem()];', {
          canEvaluate: { '%%args.1': 'héllo😀' },
          runAsUserIdScriptSource: 'function (a, b) { return b === "héllo😀" && a.length > 0 ? { runAsSystemUser: true } : "nobody"; }',
        }),
        appFunction('bodySize', 'exports = (payload, response) => { response.setStatusCode(200); response.setBody(String(payload.body.text().length)); };', { runAsSystem: true }),
      ]),
      endpoints: [endpointConfig('/big', 'bodySize', { httpMethod: 'POST', respondResult: false })],
    });
    const login = await send(`${server.url}/api/client/v2.0/app/${server.appId}/auth/providers/anon-user/login`, { method: 'POST' });
    token = (JSON.parse(login.text) as { access_token: string }).access_token;
  });
  after(() => server.close());

  it('a 10 MB string argument and a 10 MB array of EJSON documents reach the function', { timeout: 120_000 }, async () => {
    const text = call(JSON.stringify({ name: 'sizeOf', arguments: ['x'.repeat(10 * MB)] }));
    const items = Array.from({ length: 250_000 }, (_, i) => ({ n: { $numberInt: String(i) }, s: 'abcdefghij' }));
    const array = call(JSON.stringify({ arguments: [items], name: 'sizeOf' }));
    const [a, b] = await Promise.all([text, array]);
    assert.equal(a.status, 200, a.text.slice(0, 300));
    assert.deepEqual(JSON.parse(a.text), { $numberInt: String(10 * MB) });
    assert.equal(b.status, 200, b.text.slice(0, 300));
    assert.deepEqual(JSON.parse(b.text), { $numberInt: String(250_000 * 1000 + 249_999) });
  });

  it('big bad bodies get the answers small ones get, in the Stitch shape', { timeout: 120_000 }, async () => {
    const pad = 'p'.repeat(MB);
    expectError(await call(`{"name":"sizeOf","arguments":["${pad}"]`), 400, 'BadRequest'); // not valid JSON
    expectError(await call(`{"name":"sizeOf","pad":"${pad}","arguments":${'['.repeat(200)}${']'.repeat(200)}}`), 400, 'BadRequest'); // too deep
    expectError(await call(`["${pad}"]`), 400, 'BadRequest'); // not an object
    expectError(await call(`{"name":"sizeOf","arguments":{"a":"${pad}"}}`), 400, 'InvalidParameter');
    expectError(await call(`{"name":7,"arguments":["${pad}"]}`), 400, 'MissingParameter');
    expectError(await call(`{"name":"sizeOf","service":7,"arguments":["${pad}"]}`), 400, 'InvalidParameter');
    expectError(await call(`{"name":"sizeOf","__proto__":{"x":1},"arguments":["${pad}"]}`), 400, 'BadRequest');
    expectError(await call(`{"name":"nope","arguments":["${pad}"]}`), 404, 'FunctionNotFound');
    // Past the platform's 18 MB limit.
    expectError(await call(`{"name":"sizeOf","arguments":["${'x'.repeat(19 * MB)}"]}`), 413, 'PayloadTooLarge');
  });

  it('arguments of a big body (moved to the sandbox as bytes) and of a small one reach can_evaluate, the run-as script and the function alike', { timeout: 60_000 }, async () => {
    for (const size of [100, 200_000]) {
      const a = 'é😀x'.repeat(size); // 1.2 MB of UTF-8 for the big one, parsed by a worker
      const answer = await call(JSON.stringify({ name: 'bigArgs', arguments: [a, 'héllo😀', { $numberLong: '5' }] }));
      assert.equal(answer.status, 200, answer.text.slice(0, 300));
      // Int64 in, no Int32: integers answer as Int64 (integer-width.ts).
      assert.deepEqual(JSON.parse(answer.text), [{ $numberLong: String(a.length) }, '😀x', 'héllo😀', { $numberLong: '6' }, true], `size ${size}`);
      const refused = await call(JSON.stringify({ name: 'bigArgs', arguments: [a, 'hello', { $numberLong: '5' }] }));
      assert.equal(refused.status, 403, refused.text.slice(0, 300));
      assert.equal(JSON.parse(refused.text).error_code, 'FunctionNotCallable');
    }
  });

  it('the sandbox converts base64 and UTF-8 as Node does (generated bytes, ill-formed UTF-8, lone surrogates)', async () => {
    const rnd = seededRandom(29);
    const pieces = ['a', 'é', '€', '😀', '\u0000', '\ud800', '\udfff', 'z'.repeat(20)];
    const texts = Array.from({ length: 200 }, () => Array.from({ length: rnd.int(12) }, () => rnd.pick(pieces)).join(''));
    const bytes = texts.map((t) => {
      const b = Buffer.from(t, 'utf8');
      // Now and then a byte changed, dropped or added: ill-formed UTF-8 the decoders must agree on.
      for (let i = 0, n = rnd.int(3); i < n && b.length; i++) b[rnd.int(b.length)] = rnd.int(256);
      return rnd.chance(0.2) ? Buffer.concat([b, Buffer.from([0xf0, 0x9f])]) : b;
    });
    bytes.push(Buffer.alloc(0), Buffer.from([1]), Buffer.from([1, 2]), Buffer.from(Array.from({ length: 70_000 }, () => rnd.int(256))));
    const b64s = bytes.map((b) => b.toString('base64'));
    const a = await call(JSON.stringify({ name: 'convert', arguments: [b64s, texts] }));
    assert.equal(a.status, 200, a.text.slice(0, 300));
    const got = JSON.parse(a.text) as { bytes: string[][]; texts: string[] };
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    bytes.forEach((b, i) => {
      let strict: string;
      try {
        strict = fatal.decode(b);
      } catch {
        strict = 'TypeError';
      }
      assert.deepEqual(got.bytes[i], [b64s[i], b64s[i], decoder.decode(b), strict, decoder.decode(b)], `bytes ${b64s[i]!.slice(0, 80)}`);
    });
    texts.forEach((t, i) => assert.equal(got.texts[i], Buffer.from(t, 'utf8').toString('base64'), JSON.stringify(t)));
  });

  it('a 10 MB body to an HTTPS endpoint reaches its function', { timeout: 120_000 }, async () => {
    const a = await send(`${server.url}/app/${server.appId}/endpoint/big`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'y'.repeat(10 * MB) });
    assert.equal(a.status, 200, a.text.slice(0, 300));
    assert.equal(a.text, String(10 * MB));
  });
});
