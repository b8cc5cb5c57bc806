// No email/password route may tell a registered email from an unknown one (default), unless the
// operator asks for the platform's answers (--reveal-unknown-emails: 404 UserNotFound, 409
// AccountNameInUse, 400 UserAlreadyConfirmed).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AppConfig } from '../../src/app/model.js';
import stitchSdk from 'mongodb-stitch-server-sdk';
import * as Realm from 'realm-web';
import { appConfig, appFunction, provider, startServer, tokensOf, uniqueEmail, type TestServer } from '../helpers/server.js';
import { BACKENDS, postJson, startHardened, Tally, type Answer, type HardenedServer } from './harness.js';

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

// ---------------------------------------------------------------------------------------------
// register, confirm/send and confirm/call: the same answer for a taken, a confirmed and an unknown
// email (default), or the platform's (reveal); either way a refused or concealed request changes
// nothing of an existing account, and the SDKs take the answers as they take the platform's.

function registrationApp(): AppConfig {
  const base = appConfig([
    // Confirmation by emailed link (the provider name the SDKs use).
    provider('local-userpass', { emailConfirmationUrl: 'http://app.example/confirm', resetPasswordUrl: 'http://app.example/reset' }),
    provider('local-userpass', { autoConfirm: true, resetPasswordUrl: 'http://app.example/reset' }, { name: 'auto' }),
    // Confirmation by function: ok-… confirmed at once, later-… pending, everything else refused.
    provider('local-userpass', { runConfirmationFunction: true, confirmationFunctionName: 'confirmFn', resetPasswordUrl: 'http://app.example/reset' }, { name: 'fnconfirm' }),
  ], 'enum-reg-abcde');
  const confirmFn = 'exports = ({ username }) => username.startsWith("ok-") ? { status: "success" } : username.startsWith("later-") ? { status: "pending" } : { status: "fail" };';
  return { ...base, functions: new Map([appFunction('confirmFn', confirmFn, { private: true })]) };
}

const { Stitch, MemoryStorage, StitchAppClientConfiguration, UserPasswordAuthProviderClient } = stitchSdk;

for (const backend of BACKENDS) {
  for (const mode of ['conceal', 'reveal'] as const) {
    describe(`registration answers for taken and unknown emails (${mode}, ${backend})`, () => {
      let server: HardenedServer;
      const tally = new Tally(`enumeration ${mode} on ${backend}`);
      const post = async (path: string, body: unknown) => {
        const a = await postJson(`${server.url}/api/client/v2.0/app/${server.appId}/auth/providers/${path}`, body);
        tally.record(`POST ${path}`, a);
        return a;
      };
      const code = (a: Answer) => (JSON.parse(a.text) as { error_code: string }).error_code;
      /** Runs `fn` and asserts it changed no row. */
      const unchanged = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
        const before = await server.snapshot();
        const out = await fn();
        const after = await server.snapshot();
        tally.stateChanged(label, before, after);
        assert.deepEqual(after, before, `${label} changed the state`);
        return out;
      };
      const login = (path: string, username: string, password: string) => post(`${path}/login`, { username, password });
      const realm = () => new Realm.App({ id: server.appId, baseUrl: server.url });
      // Every Stitch client is closed after: its refresh timer would keep the test process alive.
      const stitchClients: { close(): void }[] = [];
      const stitch = () => {
        Stitch.clearApps();
        const client = Stitch.initializeAppClient(
          server.appId,
          new StitchAppClientConfiguration.Builder().withBaseUrl(server.url).withStorage(new MemoryStorage(`enum-${mode}-${backend}`)).build(),
        );
        stitchClients.push(client);
        return client.auth.getProviderClient(UserPasswordAuthProviderClient.factory);
      };
      /** A confirmed account of the link-confirming provider. */
      const confirmedAccount = async (email: string) => {
        assert.equal((await post('local-userpass/register', { email, password: 'secret123' })).status, 201);
        const link = server.outbox().find((m) => m.to === email && m.kind === 'confirm')!.link;
        assert.equal((await post('local-userpass/confirm', tokensOf(link))).status, 204);
      };

      before(async () => {
        server = await startHardened(backend, registrationApp(), mode === 'reveal' ? { unknownEmails: 'reveal' } : {});
      });
      after(async () => {
        for (const c of stitchClients.splice(0)) c.close();
        Stitch.clearApps();
        tally.print();
        await server.close();
        assert.equal(tally.serverErrors + tally.nonStitch + tally.stateChanges, 0, tally.line());
      });

      it('register of a taken email (email confirmation): nothing changes; the owner is told, no link', async () => {
        const pending = uniqueEmail('pending');
        const confirmed = uniqueEmail('confirmed');
        const fresh = uniqueEmail('fresh');
        assert.equal((await post('local-userpass/register', { email: pending, password: 'secret123' })).status, 201);
        await confirmedAccount(confirmed);
        const a = await post('local-userpass/register', { email: fresh, password: 'secret123' });
        for (const taken of [pending, confirmed]) {
          const b = await unchanged(`register ${taken}`, () => post('local-userpass/register', { email: taken, password: 'other-password' }));
          if (mode === 'conceal') assert.deepEqual(shape(b, taken), shape(a, fresh));
          else assert.deepEqual([b.status, code(b), JSON.parse(b.text).error], [409, 'AccountNameInUse', 'name already in use']);
          const notices = server.outbox().filter((m) => m.to === taken && m.kind === 'account-exists');
          assert.equal(notices.length, mode === 'conceal' ? 1 : 0);
          for (const n of notices) assert.ok(!n.link && !/token/i.test(n.text), 'a notice carries no link');
        }
        // The confirmed owner's password is still the first one; the other is not.
        assert.equal((await login('local-userpass', confirmed, 'secret123')).status, 200);
        assert.equal((await login('local-userpass', confirmed, 'other-password')).status, 401);
        // Only one confirmation link was ever sent to the pending account.
        assert.equal(server.outbox().filter((m) => m.to === pending && m.kind === 'confirm').length, 1);
      });

      it('register of a taken email (automatic confirmation and confirmation function): nothing changes, nothing is sent', async () => {
        for (const path of ['auto', 'fnconfirm']) {
          const taken = uniqueEmail(path === 'auto' ? 'taken' : 'ok-taken');
          const fresh = uniqueEmail(path === 'auto' ? 'fresh' : 'ok-fresh');
          assert.equal((await post(`${path}/register`, { email: taken, password: 'secret123' })).status, 201);
          const a = await post(`${path}/register`, { email: fresh, password: 'secret123' });
          const b = await unchanged(`register ${path} ${taken}`, () => post(`${path}/register`, { email: taken, password: 'other-password' }));
          if (mode === 'conceal') assert.deepEqual(shape(b, taken), shape(a, fresh));
          else assert.deepEqual([b.status, code(b)], [409, 'AccountNameInUse']);
          assert.equal((await login(path, taken, 'secret123')).status, 200);
          assert.equal((await login(path, taken, 'other-password')).status, 401);
          assert.equal(server.outbox().filter((m) => m.to === taken).length, 0);
        }
      });

      it('confirm/send: unknown and confirmed emails answer as a pending one when concealing; nothing is sent to them', async () => {
        const pending = uniqueEmail('pending');
        const confirmed = uniqueEmail('confirmed');
        const unknown = uniqueEmail('unknown');
        assert.equal((await post('local-userpass/register', { email: pending, password: 'secret123' })).status, 201);
        await confirmedAccount(confirmed);
        const a = await post('local-userpass/confirm/send', { email: pending });
        assert.equal(a.status, 204);
        assert.equal(server.outbox().filter((m) => m.to === pending && m.kind === 'confirm').length, 2);
        const b = await unchanged('confirm/send unknown', () => post('local-userpass/confirm/send', { email: unknown }));
        const c = await unchanged('confirm/send confirmed', () => post('local-userpass/confirm/send', { email: confirmed }));
        if (mode === 'conceal') {
          assert.deepEqual(shape(b, unknown), shape(a, pending));
          assert.deepEqual(shape(c, confirmed), shape(a, pending));
        } else {
          assert.deepEqual([b.status, code(b)], [404, 'UserNotFound']);
          assert.deepEqual([c.status, code(c), JSON.parse(c.text).error], [400, 'UserAlreadyConfirmed', 'already confirmed']);
        }
        assert.equal(server.outbox().filter((m) => m.to === unknown).length, 0);
        assert.equal(server.outbox().filter((m) => m.to === confirmed && m.kind === 'confirm').length, 1);
        // A setting-wide refusal is the same for every email, so it tells nothing.
        const d = await post('fnconfirm/confirm/send', { email: unknown });
        const e = await post('fnconfirm/confirm/send', { email: pending });
        assert.deepEqual([d.status, shape(d, unknown).body], [400, shape(e, pending).body]);
      });

      it('confirm/call: unknown and confirmed emails answer as a pending one when concealing', async () => {
        const pending = uniqueEmail('later-pending');
        const confirmed = uniqueEmail('ok-confirmed');
        const unknown = uniqueEmail('later-unknown');
        assert.equal((await post('fnconfirm/register', { email: pending, password: 'secret123' })).status, 201);
        assert.equal((await post('fnconfirm/register', { email: confirmed, password: 'secret123' })).status, 201);
        const a = await post('fnconfirm/confirm/call', { email: pending });
        assert.equal(a.status, 204);
        const b = await unchanged('confirm/call unknown', () => post('fnconfirm/confirm/call', { email: unknown }));
        const c = await unchanged('confirm/call confirmed', () => post('fnconfirm/confirm/call', { email: confirmed }));
        if (mode === 'conceal') {
          assert.deepEqual(shape(b, unknown), shape(a, pending));
          assert.deepEqual(shape(c, confirmed), shape(a, pending));
        } else {
          assert.deepEqual([b.status, code(b)], [404, 'UserNotFound']);
          assert.deepEqual([c.status, code(c)], [400, 'UserAlreadyConfirmed']);
        }
        // Still pending; the confirmed account logs in as before.
        assert.equal((await login('fnconfirm', pending, 'secret123')).status, 401);
        assert.equal((await login('fnconfirm', confirmed, 'secret123')).status, 200);
      });

      it('realm-web and the Stitch SDK take the answers: success when concealed, the platform error when revealed', async () => {
        const taken = uniqueEmail('sdk-taken');
        const unknown = uniqueEmail('sdk-unknown');
        assert.equal((await post('local-userpass/register', { email: taken, password: 'secret123' })).status, 201);
        const rw = realm().emailPasswordAuth;
        const s = stitch();
        const attempts: [string, () => Promise<unknown>, number, string][] = [
          ['realm-web registerUser', () => rw.registerUser({ email: taken, password: 'other-password' }), 409, 'AccountNameInUse'],
          ['realm-web resendConfirmationEmail', () => rw.resendConfirmationEmail({ email: unknown }), 404, 'UserNotFound'],
          ['Stitch registerWithEmail', () => s.registerWithEmail(taken, 'other-password'), 409, 'AccountNameInUse'],
          ['Stitch resendConfirmationEmail', () => s.resendConfirmationEmail(unknown), 404, 'UserNotFound'],
        ];
        for (const [label, attempt, status, errorCode] of attempts) {
          if (mode === 'conceal') {
            await unchanged(label, attempt);
            continue;
          }
          await assert.rejects(attempt(), (err: unknown) => {
            if (err instanceof Realm.MongoDBRealmError) assert.deepEqual([err.statusCode, err.errorCode], [status, errorCode], label);
            else assert.match(String((err as Error).message), errorCode === 'UserNotFound' ? /user not found/ : /name already in use/, label);
            return true;
          });
        }
        // (realm-web's retryCustomConfirmation posts to local-userpass/confirm/call, which answers as confirm/send does: a 204.)
      });
    });
  }
}
