// The per-request logger (src/http/request-logger.ts): made on the first message at an enabled
// level, every line still carrying the request's id.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { requestLogger } from '../src/http/request-logger.js';
import { startServer, appConfig, provider } from './helpers/server.js';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

describe('request logger', () => {
  it('writes enabled levels with the request id and its own bindings; skips the others', () => {
    const { logger, lines } = capture('warn');
    const log = requestLogger.call(null, logger, { reqId: 'req-7' }, {});
    log.info({ a: 1 }, 'not written');
    log.debug('not written');
    assert.equal(lines.length, 0);
    log.warn({ b: 2 }, 'written');
    log.error('also');
    assert.deepEqual(lines.map((l) => [l.reqId, l.msg, l.b]), [['req-7', 'written', 2], ['req-7', 'also', undefined]]);
    const nested = log.child({ part: 'x' });
    nested.error('from a child');
    assert.deepEqual([lines.at(-1)?.reqId, lines.at(-1)?.part], ['req-7', 'x']);
  });

  it('a level set on it holds for its own messages; a route level makes the child at once', () => {
    const { logger, lines } = capture('warn');
    const log = requestLogger.call(null, logger, { reqId: 'req-8' }, {});
    assert.equal(log.level, 'warn');
    log.level = 'debug';
    log.debug('now written');
    assert.deepEqual(lines.map((l) => [l.reqId, l.msg]), [['req-8', 'now written']]);
    logger.info('the server logger keeps its level');
    assert.equal(lines.length, 1);
    const routeLevel = requestLogger.call(null, logger, { reqId: 'req-9' }, { level: 'info' });
    routeLevel.info('route level');
    assert.deepEqual(lines.at(-1)?.reqId, 'req-9');
  });

  it('a server at info logs each request line with its id', async () => {
    const { logger, lines } = capture('info');
    const server = await startServer(appConfig([provider('anon-user')], 'log-app-abcde'), { logger });
    try {
      const res = await fetch(`${server.url}/api/client/v2.0/app/log-app-abcde/location`);
      assert.equal(res.status, 200);
      await new Promise((r) => setTimeout(r, 20));
      const line = lines.find((l) => l.msg === 'request' && l.path === '/api/client/v2.0/app/log-app-abcde/location');
      assert.ok(line, JSON.stringify(lines.slice(-3)));
      assert.match(String(line.reqId), /\S/);
      assert.equal(line.status, 200);
    } finally {
      await server.close();
    }
  });
});
