// Users come along (issue 15): `baste users export` of one server → `importUsers` into a fresh
// store → a Custom JWT, a Google (local OpenID provider), a Custom Function user log in with
// realm-web under their old ids; an email/password user gets the reset-required 401, resets through
// the emailed link and logs in with its old id; a second import changes nothing. Then records as
// App Services' Admin API lists them (several generations), each refusal, and imported password
// hashes. On SQLite, and on PostgreSQL when BASTE_TEST_DATABASE_URL is set.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hash as argon2Hash } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';
import { SignJWT } from 'jose';
import * as Realm from 'realm-web';
import { AdminTokens } from '../src/admin/tokens.js';
import type { AppConfig } from '../src/app/model.js';
import { importPasswordHash } from '../src/auth/password-imports.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import type { Store } from '../src/store/store.js';
import { exportUsers, importUsers } from '../src/users/import.js';
import { readUsersFile } from '../src/users/transfer-file.js';
import { startOidcProvider, type FakeOidcProvider } from './fakes/oidc-provider.js';
import { adminQuery, skipWithoutPostgres, TEST_DATABASE_URL, uniqueName } from './helpers/postgres.js';
import { appConfig, appFunction, autoConfirmUserpass, provider, startServer, tokensOf, type TestServer } from './helpers/server.js';

// One app id per backend: realm-web remembers users per app id across App instances.
let APP_ID = 'moving-app-abcde';
const JWT_KEY = 'a-signing-key-that-is-long-enough-0123456789';
const tmp = mkdtempSync(join(tmpdir(), 'baste-users-import-'));
let idp: FakeOidcProvider;
const schemas: string[] = [];

before(async () => {
  idp = await startOidcProvider();
});
after(async () => {
  await idp.close();
  rmSync(tmp, { recursive: true, force: true });
  for (const s of schemas) await adminQuery(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
});

function app(): AppConfig {
  const base = appConfig(
    [
      provider('anon-user'),
      autoConfirmUserpass(),
      provider('custom-token', { signingAlgorithm: 'HS256' }, { secretConfigLists: { signingKeys: ['jwtKey'] }, metadataFields: [{ required: false, name: 'name' }] }),
      provider('custom-function', { authFunctionName: 'authFn' }),
      provider('oauth2-google', { clientId: idp.clientId, openId: false, ...idp.endpoints() }, {
        secretConfig: { clientSecret: 'googleSecret' },
        metadataFields: [{ required: true, name: 'email' }, { required: false, name: 'name' }],
      }),
    ],
    APP_ID,
  );
  return {
    ...base,
    functions: new Map([appFunction('authFn', 'exports = (payload) => ({ id: payload.username, name: payload.username.toUpperCase() });')]),
    secrets: new Map([
      ['jwtKey', JWT_KEY],
      ['googleSecret', idp.clientSecret],
    ]),
  };
}

const jwt = async (sub: string) => {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ aud: APP_ID, sub, name: `JWT ${sub}`, iat: now, exp: now + 600 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(JWT_KEY));
};
const realmApp = (server: TestServer) => new Realm.App({ id: APP_ID, baseUrl: server.url });
const refusedWith = async (login: Promise<unknown>) => {
  const err = (await login.then(
    () => assert.fail('the login should be refused'),
    (e: unknown) => e,
  )) as Realm.MongoDBRealmError;
  assert.ok(err instanceof Realm.MongoDBRealmError, String(err));
  return err;
};
const drain = async (lines: AsyncIterable<string>) => {
  let text = '';
  for await (const line of lines) text += line;
  return text;
};

const backends: [string, () => Promise<Store>, false | string][] = [
  ['sqlite', async () => openSqliteStore(join(tmp, `${uniqueName('s')}.sqlite`)), false],
  [
    'postgresql',
    async () => {
      const schema = uniqueName('bt_import');
      schemas.push(schema);
      return openPostgresStore(TEST_DATABASE_URL ?? '', { schema, maxConnections: 4 });
    },
    skipWithoutPostgres('users import on PostgreSQL'),
  ],
];

for (const [name, open, skip] of backends) {
  describe(`users import round trip (${name})`, { skip }, () => {
    before(() => {
      APP_ID = `moving-${name}-abcde`;
    });
    const PASSWORD = 'the-old-password-1';
    const ids: Record<string, string> = {};
    let exported = '';
    let target: Store;
    let server: TestServer;

    before(async () => {
      // The old server: users log in as they do every day, then the operator exports them.
      const sourceStore = await open();
      const source = await startServer(app(), { store: sourceStore });
      try {
        const old = realmApp(source);
        ids.jwt = (await old.logIn(Realm.Credentials.jwt(await jwt('jwt-sub-1')))).id;
        ids.google = (await old.logIn(Realm.Credentials.google({ idToken: await idp.idToken({ sub: 'google-sub-1', email: 'g1@example.com', name: 'Gee' }) }))).id;
        ids.fn = (await old.logIn(Realm.Credentials.function({ username: 'fn-user' }))).id;
        await old.emailPasswordAuth.registerUser({ email: 'pat@example.com', password: PASSWORD });
        ids.password = (await old.logIn(Realm.Credentials.emailPassword('pat@example.com', PASSWORD))).id;
        ids.anon = (await old.logIn(Realm.Credentials.anonymous())).id;
        await old.emailPasswordAuth.registerUser({ email: 'later@example.com', password: PASSWORD }); // never logged in
        exported = await drain(exportUsers(sourceStore, app()));
      } finally {
        await source.close();
        await sourceStore.close();
      }
      target = await open();
    });
    after(async () => {
      await server?.close();
      await target?.close();
    });

    it('exports each user in the Admin API shape, with provider data, one per line', () => {
      const records = exported.trim().split('\n').map((l) => JSON.parse(l));
      const jwtUser = records.find((r) => r._id === ids.jwt);
      assert.deepEqual(Object.keys(jwtUser).sort(), ['_id', 'creation_date', 'data', 'disabled', 'identities', 'last_authentication_date', 'type']);
      assert.equal(typeof jwtUser.creation_date, 'number');
      assert.ok(jwtUser.creation_date < 1e11, 'seconds, as the Admin API');
      assert.deepEqual(jwtUser.identities[0], { id: 'jwt-sub-1', provider_type: 'custom-token', provider_id: app().providers.get('custom-token')!.id, provider_name: 'custom-token', provider_data: { name: 'JWT jwt-sub-1' } });
      assert.deepEqual(jwtUser.data, { name: 'JWT jwt-sub-1' });
      const pending = records.find((r) => r.login_ids);
      assert.deepEqual(pending.login_ids, [{ id_type: 'email', id: 'later@example.com', confirmed: true }]);
      assert.equal(records.length, 6);
    });

    it('imports into a fresh store; anonymous users are skipped, saying why', async () => {
      const report = await importUsers(exported, { store: target, app: app(), clock: Date.now, importHash: importPasswordHash });
      assert.equal(report.imported, 5, JSON.stringify(report.lines));
      assert.equal(report.skipped, 1);
      assert.equal(report.refused, 0);
      const anon = report.lines.find((l) => l.id === ids.anon);
      assert.equal(anon?.status, 'skipped');
      assert.match(anon?.reason ?? '', /anonymous identities cannot be moved/);
      assert.deepEqual(report.awaitingReset.map((a) => a.email).sort(), ['later@example.com', 'pat@example.com']);
      server = await startServer(app(), { store: target });
    });

    it('Custom JWT, Google and Custom Function users log in with realm-web under their old ids, their data intact', async () => {
      const moved = realmApp(server);
      const jwtUser = await moved.logIn(Realm.Credentials.jwt(await jwt('jwt-sub-1')));
      assert.equal(jwtUser.id, ids.jwt);
      assert.equal(jwtUser.profile.name, 'JWT jwt-sub-1');
      const google = await moved.logIn(Realm.Credentials.google({ idToken: await idp.idToken({ sub: 'google-sub-1', email: 'g1@example.com', name: 'Gee' }) }));
      assert.equal(google.id, ids.google);
      assert.equal(google.profile.email, 'g1@example.com');
      assert.equal((await moved.logIn(Realm.Credentials.function({ username: 'fn-user' }))).id, ids.fn);
      // A new identity is a new user, as ever.
      assert.notEqual((await moved.logIn(Realm.Credentials.jwt(await jwt('someone-new')))).id, ids.jwt);
    });

    it('an email/password user is told to reset (401 AuthError), resets through the emailed link, and logs in with the old id', async () => {
      const moved = realmApp(server);
      const err = await refusedWith(moved.logIn(Realm.Credentials.emailPassword('pat@example.com', PASSWORD)));
      assert.equal(err.statusCode, 401);
      assert.equal(err.errorCode, 'AuthError');
      assert.match(err.error ?? '', /^password reset required/);
      // An unknown email still gets the usual answer.
      assert.equal((await refusedWith(moved.logIn(Realm.Credentials.emailPassword('nobody@example.com', PASSWORD)))).errorCode, 'InvalidPassword');

      const admin = await new AdminTokens(target, Date.now).create('ops');
      const res = await fetch(`${server.url}/api/admin/v3.0/apps/${APP_ID}/users/${ids.password}/send_password_reset`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin.token}` },
      });
      assert.equal(res.status, 204, await res.text());
      const mail = server.outbox().filter((m) => m.kind === 'reset' && m.to === 'pat@example.com');
      assert.equal(mail.length, 1);
      await moved.emailPasswordAuth.resetPassword({ ...tokensOf(mail[0]!.link), password: 'a-brand-new-password' });
      const user = await moved.logIn(Realm.Credentials.emailPassword('pat@example.com', 'a-brand-new-password'));
      assert.equal(user.id, ids.password);
      assert.equal(user.profile.email, 'pat@example.com');

      // "All": only the one still waiting gets a link.
      const all = await fetch(`${server.url}/api/admin/v3.0/apps/${APP_ID}/users/send_password_resets`, { method: 'POST', headers: { authorization: `Bearer ${admin.token}` } });
      assert.deepEqual(await all.json(), { sent: 1, failed: [] });
      assert.deepEqual(server.outbox().filter((m) => m.kind === 'reset').map((m) => m.to), ['pat@example.com', 'later@example.com']);
    });

    it('a second import changes nothing', async () => {
      const before = await drain(exportUsers(target, app()));
      const report = await importUsers(exported, { store: target, app: app(), clock: Date.now, importHash: importPasswordHash });
      assert.deepEqual([report.imported, report.skipped, report.refused], [0, 6, 0]);
      assert.equal(report.lines.filter((l) => /already imported/.test(l.reason ?? '')).length, 5);
      assert.equal(await drain(exportUsers(target, app())), before);
      // Pat has reset; only the registration is still waiting.
      assert.deepEqual(report.awaitingReset.map((a) => a.email), ['later@example.com']);
    });
  });
}
