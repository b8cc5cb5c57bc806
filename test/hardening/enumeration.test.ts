// reset/send and reset/call must not tell a registered email from an unknown one (default), unless
// the operator asks for the platform's answers (--reveal-unknown-emails: 404 UserNotFound).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AppConfig } from '../../src/app/model.js';
import { appConfig, appFunction, provider, startServer, uniqueEmail, type TestServer } from '../helpers/server.js';
import { postJson, type Answer } from './harness.js';

function resetApp(): AppConfig {
  const base = appConfig([
    provider('local-userpass', { autoConfirm: true, resetPasswordUrl: 'http://app.example/reset' }),
    provider('local-userpass', { autoConfirm: true, runResetFunction: true, resetFunctionName: 'resetFn' }, { name: 'fnreset' }),
  ], 'enum-app-abcde');
  return { ...base, functions: new Map([appFunction('resetFn', 'exports = () => ({ status: "fail" });', { private: true })]) };
}

const shape = (a: Answer, email: string) => ({ status: a.status, contentType: a.contentType, body: a.text.replaceAll(email, '<email>') });

for (const mode of ['conceal', 'reveal'] as const) {
  describe(`reset answers for unknown emails (${mode})`, () => {
    let server: TestServer;
    const post = (path: string, body: unknown) => postJson(`${server.url}/api/client/v2.0/app/${server.appId}/auth/providers/${path}`, body);
    before(async () => {
      server = await startServer(resetApp(), mode === 'reveal' ? { unknownEmails: 'reveal' } : {});
    });
    after(() => server.close());

    it('reset/send', async () => {
      const known = uniqueEmail('known');
      const unknown = uniqueEmail('unknown');
      assert.equal((await post('local-userpass/register', { email: known, password: 'secret123' })).status, 201);
      const a = await post('local-userpass/reset/send', { email: known });
      const b = await post('local-userpass/reset/send', { email: unknown });
      assert.equal(a.status, 204);
      if (mode === 'conceal') assert.deepEqual(shape(b, unknown), shape(a, known));
      else assert.deepEqual([b.status, JSON.parse(b.text).error_code], [404, 'UserNotFound']);
      // Nothing is sent to an address no one registered.
      assert.equal(server.outbox().filter((m) => m.to === unknown).length, 0);
      assert.equal(server.outbox().filter((m) => m.to === known).length, 1);
    });

    it('reset/call', async () => {
      const known = uniqueEmail('known');
      const unknown = uniqueEmail('unknown');
      assert.equal((await post('fnreset/register', { email: known, password: 'secret123' })).status, 201);
      const a = await post('fnreset/reset/call', { email: known, password: 'new-password', arguments: [] });
      const b = await post('fnreset/reset/call', { email: unknown, password: 'new-password', arguments: [] });
      assert.deepEqual([a.status, JSON.parse(a.text).error_code], [400, 'BadRequest']);
      if (mode === 'conceal') assert.deepEqual(shape(b, unknown), shape(a, known));
      else assert.deepEqual([b.status, JSON.parse(b.text).error_code, JSON.parse(b.text).error], [404, 'UserNotFound', 'user not found']);
    });
  });
}
