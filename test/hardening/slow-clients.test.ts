// Slow and idle clients cannot hold the server: a connection that sends half its headers, trickles
// its body or idles between requests is closed within its limit, and past the connection limit a
// new connection gets a Stitch-shaped 503 instead of a silent drop, while logins keep working once
// the crowd is gone. Counts are printed; no timing is asserted beyond "closed before the test's
// own generous deadline".

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { appConfig, provider, startServer, type TestServer } from '../helpers/server.js';

/** A raw connection and everything it has received, with a promise of its close. */
function rawConnection(url: string): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let data = '';
    const socket = connect(Number(port), hostname, () => resolve({ socket, received: () => data, closed }));
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('data', (chunk) => (data += chunk.toString('utf8')));
    socket.on('error', () => {});
    socket.once('error', reject);
  });
}

/** Resolves true when `p` settles within `ms`, false otherwise. */
const within = (p: Promise<unknown>, ms: number) =>
  Promise.race([p.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref())]);

describe('hardening: slow clients', () => {
  let server: TestServer;
  const limits = { headersTimeoutMs: 500, requestTimeoutMs: 1000, keepAliveTimeoutMs: 500, maxConnections: 8 };

  before(async () => {
    server = await startServer(appConfig([provider('anon-user')], 'slow-app-abcde'), { connections: limits });
  });
  after(() => server.close());

  const login = () =>
    fetch(`${server.url}/api/client/v2.0/app/slow-app-abcde/auth/providers/anon-user/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', connection: 'close' },
      body: '{}',
    });

  it('closes a connection that sends half its headers, one that trickles its body, and one that idles', async () => {
    const partialHeaders = await rawConnection(server.url);
    partialHeaders.socket.write('POST /api/client/v2.0/app/slow-app-abcde/auth/providers/anon-user/login HTTP/1.1\r\nHost: x\r\n');
    const trickle = await rawConnection(server.url);
    trickle.socket.write('POST /api/client/v2.0/app/slow-app-abcde/auth/providers/anon-user/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
    const timer = setInterval(() => trickle.socket.write(' '), 100);
    const idle = await rawConnection(server.url);
    try {
      const closed = await Promise.all([within(partialHeaders.closed, 10_000), within(trickle.closed, 10_000), within(idle.closed, 10_000)]);
      assert.deepEqual(closed, [true, true, true], 'every slow connection was closed');
      // What the partial ones were told, when anything: never a Fastify-shaped or HTML body.
      for (const text of [partialHeaders.received(), trickle.received()]) if (text) assert.match(text, /^HTTP\/1\.1 408/);
      console.log(`slow clients: 3 connections opened, 3 closed by the server`);
    } finally {
      clearInterval(timer);
    }
    assert.equal((await login()).status, 200);
  });

  it('past the connection limit a new connection gets a Stitch-shaped 503, and service returns once the crowd leaves', async () => {
    const crowd = await Promise.all(Array.from({ length: limits.maxConnections }, () => rawConnection(server.url)));
    // Keep them from idling out while the refusal is checked.
    for (const c of crowd) c.socket.write('GET /api/client/v2.0/app/slow-app-abcde/location HTTP/1.1\r\nHost: x\r\n');
    const extra = await rawConnection(server.url);
    assert.equal(await within(extra.closed, 5_000), true, 'the connection past the limit is closed');
    const [head, body] = extra.received().split('\r\n\r\n');
    assert.match(head!, /^HTTP\/1\.1 503/);
    assert.match(head!, /\r\nContent-Type: application\/json\r\n/);
    assert.match(head!, /\r\nRetry-After: 1\r\n/);
    assert.equal(JSON.parse(body!).error_code, 'ServiceUnavailable');
    for (const c of crowd) c.socket.destroy();
    await Promise.all(crowd.map((c) => c.closed));
    let ok = 0;
    for (let i = 0; i < 20 && ok === 0; i++) {
      const res = await login().catch(() => null);
      if (res?.status === 200) ok++;
      else await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(ok, 1, 'logins work again');
    console.log(`connection limit: ${limits.maxConnections} held, 1 refused with 503, service back after they left`);
  });
});
