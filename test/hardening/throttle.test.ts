// Every credential check is throttled as email/password login is: N failures per account (or per
// client address) and the next attempt is refused with 429 TooManyRequests and Retry-After, before
// anything runs, so a refused attempt changes nothing even with the right credential. On SQLite
// and PostgreSQL.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { AdminTokens } from '../../src/admin/tokens.js';
import type { AppConfig } from '../../src/app/model.js';
import { appConfig, appFunction, provider, tokensOf, uniqueEmail } from '../helpers/server.js';
import { BACKENDS, postJson, send, startHardened, Tally, type Answer, type HardenedServer } from './harness.js';

const PER_ACCOUNT = 3;
const PER_ADDRESS = 5;
const SECRET = 'a-custom-token-signing-secret-of-32-chars!';

function hardenedApp(): AppConfig {
  const base = appConfig([
    provider('custom-function', { authFunctionName: 'pinCheck' }),
    provider('custom-token', { signingAlgorithm: 'HS256' }, { secretConfigLists: { signingKeys: ['jwtKey'] } }),
    provider('api-key'),
    // Reset through a function that asks a security question (the first argument).
    provider('local-userpass', { autoConfirm: true, runResetFunction: true, resetFunctionName: 'resetFn' }),
    // Confirmation through a function: later-… stays pending, everything else is refused.
    provider('local-userpass', { runConfirmationFunction: true, confirmationFunctionName: 'confirmFn', resetPasswordUrl: 'http://app.example/reset' }, { name: 'confirming' }),
    // Confirmation by emailed link.
    provider('local-userpass', { emailConfirmationUrl: 'http://app.example/confirm', resetPasswordUrl: 'http://app.example/reset' }, { name: 'mailing' }),
  ], 'throttle-app-abcde');
  return {
    ...base,
    secrets: new Map([['jwtKey', SECRET]]),
    functions: new Map([
      appFunction('pinCheck', 'exports = ({ username, pin }) => { if (pin === "4321") return "pin-" + username; throw new Error("wrong PIN"); };', { private: true }),
      appFunction('resetFn', 'exports = (req, answer) => answer === "blue" ? { status: "success" } : answer === "later" ? { status: "pending" } : { status: "fail" };', { private: true }),
      // throw-…: the function fails (counted, the registration kept), as a flaky check would.
      appFunction('confirmFn', 'exports = ({ username }) => { if (username.startsWith("throw-")) throw new Error("check failed"); return username.startsWith("later-") ? { status: "pending" } : { status: "fail" }; };', { private: true }),
    ]),
  };
}

for (const backend of BACKENDS) {
  describe(`credential throttles (${backend})`, () => {
    let server: HardenedServer;
    const tally = new Tally(`throttles on ${backend}`);
    const url = (path: string) => `${server.url}/api/client/v2.0/app/${server.appId}/auth/providers/${path}`;
    const post = async (path: string, body: unknown): Promise<Answer> => {
      const a = await postJson(url(path), body);
      tally.record(`POST ${path}`, a);
      return a;
    };
    const code = (a: Answer) => (JSON.parse(a.text) as { error_code: string }).error_code;
    const assertStatus = (a: Answer, status: number, errorCode: string) => {
      assert.equal(a.status, status, a.text);
      assert.equal(code(a), errorCode);
    };
    /** The refusal the email/password throttle gives. */
    const assertThrottled = (a: Answer) => {
      assertStatus(a, 429, 'TooManyRequests');
      const retryAfter = Number(a.headers.get('retry-after'));
      assert.ok(retryAfter > 0 && retryAfter <= 60, `retry-after ${retryAfter}`);
    };
    /** Runs `refused` and checks that it changed no row (failure counters aside). */
    const unchanged = async (label: string, refused: () => Promise<void>) => {
      const before = await server.snapshot();
      await refused();
      const after = await server.snapshot();
      tally.stateChanged(label, before, after);
      assert.deepEqual(after, before, `${label} changed the state`);
    };

    before(async () => {
      server = await startHardened(backend, hardenedApp(), {
        throttle: { maxFailuresPerAccount: PER_ACCOUNT, maxFailuresPerAddress: PER_ADDRESS, windowSeconds: 60 },
      });
    });
    after(async () => {
      tally.print();
      await server.close();
      assert.equal(tally.serverErrors + tally.nonStitch + tally.stateChanges, 0, tally.line());
    });

    it('email/password login (the reference): 429 TooManyRequests with Retry-After after N failures', async () => {
      const email = uniqueEmail();
      assert.equal((await post('local-userpass/register', { email, password: 'secret123' })).status, 201);
      for (let i = 0; i < PER_ACCOUNT; i++) assertStatus(await post('local-userpass/login', { username: email, password: 'wrong-pass' }), 401, 'InvalidPassword');
      assertThrottled(await post('local-userpass/login', { username: email, password: 'secret123' }));
    });

    it('custom-function logins: per account (the payload username), then per address; the right PIN is refused and creates no user', async () => {
      for (let i = 0; i < PER_ACCOUNT; i++) assertStatus(await post('custom-function/login', { username: 'alice', pin: String(1000 + i) }), 401, 'AuthError');
      await unchanged('custom-function login with the right PIN while throttled', async () => {
        assertThrottled(await post('custom-function/login', { username: 'alice', pin: '4321' }));
      });
      // Other accounts from the same address, up to the address limit.
      for (let i = PER_ACCOUNT; i < PER_ADDRESS; i++) assertStatus(await post('custom-function/login', { username: `user${i}`, pin: '0000' }), 401, 'AuthError');
      await unchanged('custom-function login of a fresh account from a throttled address', async () => {
        assertThrottled(await post('custom-function/login', { username: 'carol', pin: '4321' }));
      });
    });

    it('custom-token logins: per claimed subject, then per address; a valid token is refused and creates no user', async () => {
      const now = Math.floor(Date.now() / 1000);
      const jwt = (sub: string, secret = SECRET) =>
        new SignJWT({ aud: server.appId, sub, exp: now + 600, iat: now }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
      const forged = 'a-guessed-secret-that-is-long-enough-to-use';
      for (let i = 0; i < PER_ACCOUNT; i++) assertStatus(await post('custom-token/login', { token: await jwt('alice', forged + i) }), 401, 'AuthError');
      const valid = await jwt('alice');
      await unchanged('custom-token login while throttled', async () => assertThrottled(await post('custom-token/login', { token: valid })));
      for (let i = PER_ACCOUNT; i < PER_ADDRESS; i++) assertStatus(await post('custom-token/login', { token: 'not.a.jwt' }), 401, 'AuthError');
      const other = await jwt('bob');
      await unchanged('custom-token login of another subject from a throttled address', async () => assertThrottled(await post('custom-token/login', { token: other })));
    });

    it('api-key logins: per address (a key names no account); the right key is refused and opens no session', async () => {
      const created = await server.baste.apiKeys.createServerKey('throttle-test');
      for (let i = 0; i < PER_ADDRESS; i++) assertStatus(await post('api-key/login', { key: `wrong-key-${i}`.padEnd(64, 'x') }), 401, 'AuthError');
      await unchanged('api-key login while throttled', async () => assertThrottled(await post('api-key/login', { key: created.key })));
    });

    it('reset/call: wrong answers are throttled per email, then per address; a refused call with the right answer sets no password and writes no token', async () => {
      const email = uniqueEmail('reset');
      assert.equal((await post('local-userpass/register', { email, password: 'old-password' })).status, 201);
      await unchanged('reset/call refusals', async () => {
        for (let i = 0; i < PER_ACCOUNT; i++) {
          assertStatus(await post('local-userpass/reset/call', { email, password: 'new-password', arguments: ['red'] }), 400, 'BadRequest');
        }
        assertThrottled(await post('local-userpass/reset/call', { email, password: 'new-password', arguments: ['blue'] }));
      });
      assertStatus(await post('local-userpass/login', { username: email, password: 'new-password' }), 401, 'InvalidPassword');
      assert.equal((await post('local-userpass/login', { username: email, password: 'old-password' })).status, 200);

      // The snapshot sees writes: a pending answer stores its token.
      const other = uniqueEmail('reset');
      assert.equal((await post('local-userpass/register', { email: other, password: 'old-password' })).status, 201);
      const before = await server.snapshot();
      assert.equal((await post('local-userpass/reset/call', { email: other, password: 'new-password', arguments: ['later'] })).status, 204);
      assert.notDeepEqual(await server.snapshot(), before);

      // Unknown emails count against the address (and answer as a refusal does: see the reset option).
      for (let i = PER_ACCOUNT; i < PER_ADDRESS; i++) {
        assertStatus(await post('local-userpass/reset/call', { email: uniqueEmail('nobody'), password: 'new-password', arguments: ['blue'] }), 400, 'BadRequest');
      }
      await unchanged('reset/call from a throttled address', async () => {
        assertThrottled(await post('local-userpass/reset/call', { email: other, password: 'third-password', arguments: ['blue'] }));
      });
      assert.equal((await post('local-userpass/login', { username: other, password: 'old-password' })).status, 200);
    });

    it('confirm/call: throttled per email, then per address; a refused call runs no function and writes nothing', async () => {
      // Pending registrations whose confirmation function fails (registering them would fail the same way).
      const pendingAccount = async (email: string) => {
        const created = await server.baste.store.createUserpassAccount({ id: randomBytes(12).toString('hex'), email, passwordHash: 'x', confirmed: false, createdAt: Date.now() });
        assert.equal(created, 'created');
      };
      const failing = uniqueEmail('throw-');
      await pendingAccount(failing);
      for (let i = 0; i < PER_ACCOUNT; i++) assertStatus(await post('confirming/confirm/call', { email: failing }), 400, 'FunctionExecutionError');
      assertThrottled(await post('confirming/confirm/call', { email: failing }));
      // A refused run of the function (fail) counts too, for the address.
      const refusing = uniqueEmail('no-');
      assertStatus(await post('confirming/register', { email: refusing, password: 'secret123' }), 400, 'BadRequest');
      for (let i = PER_ACCOUNT; i < PER_ADDRESS; i++) {
        const other = uniqueEmail('throw-');
        await pendingAccount(other);
        assertStatus(await post('confirming/confirm/call', { email: other }), 400, 'FunctionExecutionError');
      }
      const pending = uniqueEmail('later-');
      await pendingAccount(pending);
      await unchanged('confirm/call from a throttled address', async () => assertThrottled(await post('confirming/confirm/call', { email: pending })));
    });

    it('admin token: failed mongodb-cloud logins per username, then bearer tokens per address; the right token is refused', async () => {
      const { token } = await new AdminTokens(server.baste.store, Date.now).create('throttle');
      const adminLogin = async (username: string, apiKey: string) => {
        const a = await postJson(`${server.url}/api/admin/v3.0/auth/providers/mongodb-cloud/login`, { username, apiKey });
        tally.record('POST admin login', a);
        return a;
      };
      const adminGet = async (bearer: string) => {
        const a = await send(`${server.url}/api/admin/v3.0/apps`, { headers: { authorization: `Bearer ${bearer}` } });
        tally.record('GET admin apps', a);
        return a;
      };
      assert.equal((await adminLogin('ops', token)).status, 200);
      for (let i = 0; i < PER_ACCOUNT; i++) assertStatus(await adminLogin('alice', `baste_admin_guess${i}`), 401, 'InvalidSession');
      await unchanged('admin login while throttled', async () => assertThrottled(await adminLogin('alice', token)));
      // Bearer guesses count for the address, with the logins.
      for (let i = PER_ACCOUNT; i < PER_ADDRESS; i++) assertStatus(await adminGet(`baste_admin_guess${i}`), 401, 'InvalidSession');
      await unchanged('admin API with the right token from a throttled address', async () => {
        assertThrottled(await adminGet(token));
        assertThrottled(await adminLogin('bob', token));
      });
    });

    it('emailed tokens (confirm and reset): throttled per token id, then per address; the right token is refused and confirms nothing', async () => {
      const email = uniqueEmail('mail');
      assert.equal((await post('mailing/register', { email, password: 'secret123' })).status, 201);
      const link = server.outbox().find((m) => m.to === email && m.kind === 'confirm')!.link;
      const { token, tokenId } = tokensOf(link);
      const guessedId = 'a'.repeat(24);
      for (let i = 0; i < PER_ACCOUNT; i++) assertStatus(await post('mailing/confirm', { token: `guess${i}`, tokenId: guessedId }), 400, 'UserpassTokenInvalid');
      assertThrottled(await post('mailing/confirm', { token, tokenId: guessedId }));
      for (let i = PER_ACCOUNT; i < PER_ADDRESS; i++) assertStatus(await post('mailing/reset', { token: 'guess', tokenId: `b${i}`.padEnd(24, '0'), password: 'new-password' }), 400, 'UserpassTokenInvalid');
      await unchanged('confirm with the right token from a throttled address', async () => assertThrottled(await post('mailing/confirm', { token, tokenId })));
      assertStatus(await post('mailing/login', { username: email, password: 'secret123' }), 401, 'AuthError');
    });
  });
}
