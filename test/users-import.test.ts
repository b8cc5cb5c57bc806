// Users come along (issue 15): `baste users export` of one server → `importUsers` into a fresh
// store → a Custom JWT, a Google (local OpenID provider), a Custom Function user log in with
// realm-web under their old ids; an email/password user gets the reset-required 401, resets through
// the emailed link and logs in with its old id; a second import changes nothing. Then records as
// App Services' Admin API lists them (several generations), each refusal, and imported password
// hashes. On SQLite, and on PostgreSQL when BASTE_TEST_DATABASE_URL is set.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
import { BIN } from './helpers/cli.js';
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

// ---- Records as App Services hands them out ---------------------------------------------------

const GOOGLE_PROVIDER_ID = '5f1a0c9e8d2b4a3c1e0f9a7b'; // the export's own provider id (auth/providers.json `id`)

/** Admin API `GET …/users` pages, saved as they came: a 2019 Stitch app (no provider_data), a 2023 App Services app. */
const STITCH_PAGE = `[
  {
    "_id": "5c8f8f9e1c9d440000a1b2c3",
    "identities": [{ "id": "stitch-sub-7", "provider_type": "custom-token", "provider_id": "5c8f8f0a1c9d440000aaaaaa" }],
    "type": "normal",
    "creation_date": 1552912286,
    "last_authentication_date": 1553000000,
    "disabled": false,
    "data": { "name": "Stitch Seven", "favourite": "tea" }
  },
  {
    "_id": "5c8f8f9e1c9d440000a1b2c4",
    "identities": [{ "id": "5c8f8f9e1c9d440000ffff01", "provider_type": "anon-user", "provider_id": "5c8f8f0a1c9d440000bbbbbb" }],
    "type": "normal",
    "creation_date": 1552912300,
    "last_authentication_date": 1552912300,
    "disabled": false,
    "data": {}
  }
]`;

const SERVICES_PAGE = `[{"_id":"64b7e1f2a3c4d5e6f7a8b9c0","identities":[{"id":"64b7e1f2a3c4d5e6f7a8b9c1","provider_type":"local-userpass","provider_id":"64b7e0000000000000000001","provider_data":{"email":"kim@example.com"}},{"id":"google-sub-99","provider_type":"oauth2-google","provider_id":"${GOOGLE_PROVIDER_ID}","provider_data":{"email":"kim@gmail.example","name":"Kim"}}],"type":"normal","creation_date":1689772530,"last_authentication_date":1700000000,"disabled":true,"data":{"email":"kim@example.com","name":"Kim"}}]
`;

/** `GET …/user_registrations/pending_users`, JSON lines. */
const PENDING_LINES = `{"_id":"64b7e1f2a3c4d5e6f7a8b9d0","domain_id":"60c8f69864c0a72d14bb534c","login_ids":[{"id_type":"email","id":"waiting@example.com"}],"user_id":""}
`;

function fixtureApp(): AppConfig {
  const base = app();
  const providers = new Map(base.providers);
  providers.set('oauth2-google', { ...providers.get('oauth2-google')!, id: GOOGLE_PROVIDER_ID });
  // A second Google configuration: only the provider id tells which one an identity belongs to.
  providers.set('google-corp', { ...providers.get('oauth2-google')!, name: 'google-corp', id: 'aaaaaaaaaaaaaaaaaaaaaaaa' });
  return { ...base, providers };
}

describe('users files as App Services lists them', () => {
  let store: Store;
  before(() => {
    store = openSqliteStore(':memory:');
  });
  after(() => store.close());
  const run = (text: string, opts: { dryRun?: boolean } = {}) => importUsers(text, { store, app: fixtureApp(), clock: () => 1_700_000_000_000, importHash: importPasswordHash }, opts);

  it('reads one array, several pages one after the other, JSON lines, and names each record by its line', () => {
    const records = readUsersFile(`${STITCH_PAGE}\n${SERVICES_PAGE}${PENDING_LINES}{"_id": 1,\n"broken": [}\n{"_id": nope}\n{"_id":"64b7e1f2a3c4d5e6f7a8b9d1"}\n[{"_id":"x"}`);
    assert.deepEqual(
      records.map((r) => [r.line, (r.value as { _id?: unknown } | undefined)?._id ?? r.error]),
      [
        [2, '5c8f8f9e1c9d440000a1b2c3'],
        [11, '5c8f8f9e1c9d440000a1b2c4'],
        [21, '64b7e1f2a3c4d5e6f7a8b9c0'],
        [22, '64b7e1f2a3c4d5e6f7a8b9d0'],
        [23, 'unterminated JSON value (the file may be cut short)'],
        [25, records[5]!.error],
        [26, '64b7e1f2a3c4d5e6f7a8b9d1'],
        [27, 'unterminated JSON value (the file may be cut short)'],
      ],
    );
    assert.match(records[5]!.error ?? '', /^not valid JSON/);
  });

  it('a dry run reports what would happen and writes nothing', async () => {
    const report = await run(`${STITCH_PAGE}${SERVICES_PAGE}${PENDING_LINES}`, { dryRun: true });
    assert.deepEqual([report.imported, report.skipped, report.refused], [3, 1, 0]);
    assert.equal((await store.listUsers({ limit: 10 })).length, 0);
    assert.equal(await store.findUserpassAccountByEmail('waiting@example.com'), null);
  });

  it('keeps ids, dates, disabled state and data; maps identities to the app providers by provider id, else by type', async () => {
    const report = await run(`${STITCH_PAGE}${SERVICES_PAGE}${PENDING_LINES}`);
    assert.deepEqual([report.imported, report.skipped, report.refused], [3, 1, 0], JSON.stringify(report.lines));
    const stitch = await store.getUser('5c8f8f9e1c9d440000a1b2c3');
    assert.equal(stitch?.createdAt, 1552912286_000);
    assert.equal(stitch?.lastAuthAt, 1553000000_000);
    // No provider_data in the Stitch page: the user's data rides on its identity, so it reads the same.
    assert.deepEqual(stitch?.identities.map((i) => [i.providerName, i.externalId, i.data]), [['custom-token', 'stitch-sub-7', { name: 'Stitch Seven', favourite: 'tea' }]]);
    const kim = await store.getUser('64b7e1f2a3c4d5e6f7a8b9c0');
    assert.equal(kim?.disabled, true);
    assert.deepEqual(kim?.identities.map((i) => [i.providerName, i.externalId]), [
      ['local-userpass', '64b7e1f2a3c4d5e6f7a8b9c1'],
      ['oauth2-google', 'google-sub-99'],
    ]);
    assert.deepEqual((await store.findUserpassAccount('64b7e1f2a3c4d5e6f7a8b9c1'))?.email, 'kim@example.com');
    assert.deepEqual(await store.findUserpassAccount('64b7e1f2a3c4d5e6f7a8b9d0'), {
      id: '64b7e1f2a3c4d5e6f7a8b9d0',
      email: 'waiting@example.com',
      passwordHash: '!reset-required',
      confirmed: false,
      createdAt: 1_700_000_000_000,
    });
    assert.equal(await store.getUser('5c8f8f9e1c9d440000a1b2c4'), null, 'the anonymous user stays behind');
  });

  it('refuses, per line with its reason, a taken identity, an unknown or ambiguous provider and malformed records, writing nothing of them', async () => {
    const lines = [
      // The Stitch user's JWT identity, under another user id.
      { _id: '6500000000000000000000a1', identities: [{ id: 'stitch-sub-7', provider_type: 'custom-token' }], creation_date: 1689772530 },
      { _id: '6500000000000000000000a2', identities: [{ id: 'apple-1', provider_type: 'oauth2-apple' }] },
      { _id: '6500000000000000000000a3', identities: { id: 'g-5', provider_type: 'oauth2-google' } },
      { _id: '6500000000000000000000a4', identities: [{ id: 'j', provider_type: 'custom-token' }], creation_date: 1689772530123 },
      { _id: 'not-an-id', identities: [] },
      { _id: '6500000000000000000000a5', identities: [{ id: 'pw', provider_type: 'local-userpass', provider_data: {} }], data: {} },
      { _id: '6500000000000000000000a6', identities: [{ id: 'k', provider_type: 'custom-token' }], disabled: 'no' },
      { _id: '6500000000000000000000a7', identities: [{ id: '6500000000000000000000b7', provider_type: 'local-userpass', provider_data: { email: 'waiting@example.com' } }] },
      'just a string',
    ].map((l) => JSON.stringify(l));
    const report = await run(lines.join('\n'));
    assert.deepEqual([report.imported, report.skipped, report.refused], [0, 0, 9]);
    const reasons = report.lines.map((l) => `${l.line} ${l.status}: ${l.reason}`);
    assert.match(reasons[0]!, /^1 refused: identity custom-token 'stitch-sub-7' belongs to another user \(5c8f8f9e1c9d440000a1b2c3\)/);
    assert.match(reasons[1]!, /^2 refused: unknown provider: the app has no 'oauth2-apple' provider/);
    assert.match(reasons[2]!, /^3 refused: identities must be an array/);
    assert.match(reasons[3]!, /^4 refused: creation_date must be in seconds since 1970 \(1689772530123 looks like milliseconds\)/);
    assert.match(reasons[4]!, /^5 refused: _id must be a 24-hex ObjectId string/);
    assert.match(reasons[5]!, /^6 refused: identities\[0\]: an email\/password identity needs its email/);
    assert.match(reasons[6]!, /^7 refused: disabled must be true or false/);
    assert.match(reasons[7]!, /^8 refused: email 'waiting@example.com' is already registered to another email\/password account/);
    assert.match(reasons[8]!, /^9 refused: a record must be a JSON object/);
    for (const id of ['6500000000000000000000a1', '6500000000000000000000a2', '6500000000000000000000a3', '6500000000000000000000a4', '6500000000000000000000a7']) {
      assert.equal(await store.getUser(id), null, id);
    }
    assert.equal(await store.findUserpassAccount('6500000000000000000000b7'), null);
  });

  it('an identity naming a provider id of another type is refused; one that names none of several is ambiguous', async () => {
    const wrongType = { _id: '6500000000000000000000c1', identities: [{ id: 'x', provider_type: 'custom-token', provider_id: GOOGLE_PROVIDER_ID }] };
    const [line] = (await run(JSON.stringify(wrongType))).lines;
    assert.match(line!.reason ?? '', /names provider 5f1a0c9e8d2b4a3c1e0f9a7b, which is the app's 'oauth2-google' of type 'oauth2-google'/);
    // Neither provider id known nor a provider name: the one named as the type is the platform default.
    const byDefaultName = { _id: '6500000000000000000000c2', identities: [{ id: 'g-default', provider_type: 'oauth2-google', provider_id: '0123456789abcdef01234567' }] };
    assert.equal((await run(JSON.stringify(byDefaultName))).imported, 1);
    assert.equal((await store.getUser('6500000000000000000000c2'))?.identities[0]?.providerName, 'oauth2-google');
    const byName = { _id: '6500000000000000000000c3', identities: [{ id: 'g-corp', provider_type: 'oauth2-google', provider_name: 'google-corp' }] };
    assert.equal((await run(JSON.stringify(byName))).imported, 1);
    assert.equal((await store.getUser('6500000000000000000000c3'))?.identities[0]?.providerName, 'google-corp');
    // Two Google configurations, neither with the default name nor the record's id: not guessed.
    const twoNamed = fixtureApp();
    const providers = new Map(twoNamed.providers);
    providers.set('google-main', { ...providers.get('oauth2-google')!, name: 'google-main' });
    providers.delete('oauth2-google');
    const ambiguous = { _id: '6500000000000000000000c4', identities: [{ id: 'g-amb', provider_type: 'oauth2-google', provider_id: '0123456789abcdef01234567' }] };
    const report = await importUsers(JSON.stringify(ambiguous), { store, app: { ...twoNamed, providers }, clock: Date.now, importHash: importPasswordHash });
    assert.match(report.lines[0]!.reason ?? '', /the app has 2 'oauth2-google' providers \(google-corp, google-main\) and the identity names none of them/);
    assert.equal(await store.getUser('6500000000000000000000c4'), null);
  });
});

describe('imported password hashes: verified at the first login, then rehashed to argon2id', () => {
  // Firebase's published example (github.com/firebase/scrypt): the project's hash parameters and one user.
  const FIREBASE = {
    algorithm: 'firebase-scrypt',
    hash: 'lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==',
    salt: '42xEC+ixf3L2lw==',
    signer_key: 'jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==',
    salt_separator: 'Bw==',
    rounds: 8,
    mem_cost: 14,
  };
  let store: Store;
  let server: TestServer;
  const users: { id: string; email: string; password: string; hash: unknown }[] = [];
  before(async () => {
    APP_ID = 'hashes-abcde';
    const { scryptSync } = await import('node:crypto');
    const salt = Buffer.from('saltsaltsaltsalt');
    const scryptHash = `$scrypt$ln=14,r=8,p=1$${salt.toString('base64')}$${scryptSync('scrypt-pw-1', salt, 32, { N: 2 ** 14, r: 8, p: 1 }).toString('base64')}`;
    const add = (n: number, password: string, hash: unknown) => users.push({ id: `66000000000000000000000${n}`, email: `h${n}@example.com`, password, hash });
    add(1, 'bcrypt-pw-1', bcrypt.hashSync('bcrypt-pw-1', 8));
    add(2, 'scrypt-pw-1', scryptHash);
    add(3, 'user1password', FIREBASE);
    add(4, 'argon-pw-1', await argon2Hash('argon-pw-1', { algorithm: 2, memoryCost: 4096, timeCost: 3, parallelism: 1 }));
    const file = users
      .map((u) =>
        JSON.stringify({
          _id: u.id,
          identities: [{ id: u.id.replace(/^66/, '67'), provider_type: 'local-userpass', provider_data: { email: u.email } }],
          creation_date: 1689772530,
          password_hash: u.hash,
        }),
      )
      .join('\n');
    store = openSqliteStore(':memory:');
    const report = await importUsers(`${file}\n{"_id":"660000000000000000000009","identities":[{"id":"x9","provider_type":"local-userpass","provider_data":{"email":"bad@example.com"}}],"password_hash":"md5:abc"}`, {
      store,
      app: app(),
      clock: Date.now,
      importHash: importPasswordHash,
    });
    assert.deepEqual([report.imported, report.refused], [4, 1], JSON.stringify(report.lines));
    assert.match(report.lines[4]!.reason ?? '', /^password_hash: not a hash Baste knows/);
    assert.deepEqual(report.awaitingReset, []);
    server = await startServer(app(), { store });
  });
  after(async () => {
    await server.close();
    await store.close();
  });

  for (const [n, kind] of [[0, 'bcrypt'], [1, 'scrypt'], [2, "Firebase's scrypt"], [3, 'argon2id with other parameters']] as const) {
    it(`${kind}: a wrong password is refused, the right one logs in as the imported user and leaves an argon2id hash`, async () => {
      const u = users[n]!;
      const moved = realmApp(server);
      assert.equal((await refusedWith(moved.logIn(Realm.Credentials.emailPassword(u.email, 'not-the-password')))).errorCode, 'InvalidPassword');
      assert.equal((await moved.logIn(Realm.Credentials.emailPassword(u.email, u.password))).id, u.id);
      const stored = (await store.findUserpassAccountByEmail(u.email))!.passwordHash;
      assert.match(stored, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      // And the new hash still takes the same password.
      assert.equal((await moved.logIn(Realm.Credentials.emailPassword(u.email, u.password))).id, u.id);
    });
  }
});

describe('baste users import / export / send-reset (the compiled command)', () => {
  const dir = join(tmp, 'cli');
  const APP = join(dir, 'app');
  const DATA = join(dir, 'data');
  const FILE = join(dir, 'users.json');
  const baste = (args: string[]) => {
    // Reset links point at the server's public address, which a command run beside it must be told.
    const r = spawnSync(process.execPath, [BIN, 'users', ...args, '--app', APP, '--data-dir', DATA, '--base-url', 'https://todo.example.com'], {
      encoding: 'utf8',
      env: { ...process.env, BASTE_DATABASE_URL: '', BASTE_SMTP_URL: '' },
      timeout: 60_000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  before(() => {
    cpSync(join(import.meta.dirname, '..', 'examples', 'todo'), APP, { recursive: true });
    writeFileSync(
      FILE,
      [
        '{"_id":"64b7e1f2a3c4d5e6f7a8b9e0","identities":[{"id":"64b7e1f2a3c4d5e6f7a8b9e1","provider_type":"local-userpass","provider_id":"64b7e0000000000000000001","provider_data":{"email":"cli@example.com"}}],"type":"normal","creation_date":1689772530,"last_authentication_date":1700000000,"disabled":false,"data":{"email":"cli@example.com"}}',
        '{"_id":"64b7e1f2a3c4d5e6f7a8b9e2","identities":[{"id":"64b7e1f2a3c4d5e6f7a8b9e3","provider_type":"anon-user","provider_id":"64b7e0000000000000000002"}],"type":"normal","creation_date":1689772530,"last_authentication_date":1689772530,"disabled":false,"data":{}}',
        '{"_id":"64b7e1f2a3c4d5e6f7a8b9e4","identities":[{"id":"jwt-1","provider_type":"custom-token","provider_id":"64b7e0000000000000000003"}],"type":"normal","creation_date":1689772530,"last_authentication_date":1689772530,"disabled":false,"data":{}}',
      ].join('\n'),
    );
  });

  it('--dry-run reports and writes nothing; the import refuses per line, mails reset links, and exits 1 for the refused record', () => {
    const dry = baste(['import', '--file', FILE, '--dry-run']);
    assert.equal(dry.status, 1, dry.stderr);
    assert.match(dry.stdout, /^line 2 \(64b7e1f2a3c4d5e6f7a8b9e2\): skipped: nothing to log in with: anon-user identity left out: anonymous identities cannot be moved/m);
    assert.match(dry.stdout, /^line 3 \(64b7e1f2a3c4d5e6f7a8b9e4\): refused: unknown provider: the app has no 'custom-token' provider/m);
    assert.match(dry.stdout, /^dry run, nothing written: would have imported 1, skipped 1, refused 1$/m);
    assert.match(dry.stderr, /1 record was refused/);
    assert.equal(existsSync(join(DATA, 'baste.sqlite')), false, 'a dry run creates no store');

    const real = baste(['import', '--file', FILE, '--send-reset']);
    assert.equal(real.status, 1, real.stderr);
    assert.match(real.stdout, /^imported 1, skipped 1, refused 1$/m);
    assert.match(real.stdout, /^1 email\/password user must reset the password to log in/m);
    assert.match(real.stdout, /^reset links sent: 1$/m);
    const mail = readdirSync(join(DATA, 'outbox')).map((f) => JSON.parse(readFileSync(join(DATA, 'outbox', f), 'utf8')));
    assert.deepEqual(mail.map((m) => [m.kind, m.to]), [['reset', 'cli@example.com']]);
    // The example app names Baste's own reset page on localhost: the link opens it under --base-url.
    assert.match(mail[0].link, /^https:\/\/todo\.example\.com\/app\/[a-z0-9-]+\/reset\?token=[0-9a-f]+&tokenId=[0-9a-f]+$/);

    const again = baste(['import', '--file', FILE, '--json']);
    const report = JSON.parse(again.stdout);
    assert.deepEqual([report.imported, report.skipped, report.refused], [0, 2, 1]);
  });

  it('exports in the Admin API shape, and send-reset mails one user or every user still waiting', () => {
    const out = join(dir, 'export.jsonl');
    const exported = baste(['export', '--file', out]);
    assert.equal(exported.status, 0, exported.stderr);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines, [
      {
        _id: '64b7e1f2a3c4d5e6f7a8b9e0',
        identities: [{ id: '64b7e1f2a3c4d5e6f7a8b9e1', provider_type: 'local-userpass', provider_id: lines[0].identities[0].provider_id, provider_name: 'local-userpass', provider_data: { email: 'cli@example.com' } }],
        type: 'normal',
        creation_date: 1689772530,
        last_authentication_date: 1700000000,
        disabled: false,
        data: { email: 'cli@example.com' },
      },
    ]);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    assert.match(baste(['send-reset', '--id', '64b7e1f2a3c4d5e6f7a8b9e0']).stdout, /^reset link sent to cli@example\.com$/m);
    assert.match(baste(['send-reset', '--all']).stdout, /^reset links sent: 1$/m);
    assert.equal(readdirSync(join(DATA, 'outbox')).length, 3);
    assert.equal(baste(['send-reset']).status, 2);
  });
});
