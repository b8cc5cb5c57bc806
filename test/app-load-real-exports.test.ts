// Exports in the shapes real App Services / Realm / Stitch exports come in (test/fixtures/apps/,
// written for these tests): each loads as exported and serves over real HTTP through the real
// `baste serve`, and no security-relevant setting is dropped on the way.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { loadAppDirectory } from '../src/app/load.js';
import { checkProviders } from '../src/auth/registry.js';
import { ConfigError } from '../src/errors.js';
import { BIN, serve, stop, type Served } from './helpers/cli.js';
import { request as send } from './helpers/wire.js';

const fixture = (name: string) => join(import.meta.dirname, 'fixtures', 'apps', name);
const scratch = mkdtempSync(join(tmpdir(), 'baste-real-exports-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let dirs = 0;
const dataDir = () => join(scratch, `data-${dirs++}`);

const JWT_KEY = 'ledger-signing-key-0123456789abcdef0123';

/** Runs `baste <args>` to completion. */
function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `body` as a string is sent as it is. */
const request = (s: Served, method: string, path: string, body?: unknown, token?: string) =>
  send(method, s.url + path, typeof body === 'string' ? { raw: body, token } : { body, token });

/** A number as the wire writes it (canonical EJSON). */
const num = (v: unknown): number => {
  const o = v as Record<string, string> | number;
  return typeof o === 'number' ? o : Number(o.$numberInt ?? o.$numberLong ?? o.$numberDouble);
};

const login = (s: Served, appId: string, provider: string, body: unknown = {}) =>
  request(s, 'POST', `/api/client/v2.0/app/${appId}/auth/providers/${provider}/login`, body);

const callFunction = (s: Served, appId: string, token: string, name: string, args: unknown[], service?: string) =>
  request(s, 'POST', `/api/client/v2.0/app/${appId}/functions/call`, { name, arguments: args, ...(service ? { service } : {}) }, token);

async function withServer<T>(args: string[], env: Record<string, string>, fn: (s: Served) => Promise<T>): Promise<T> {
  const s = await serve([...args, '--data-dir', dataDir()], { env });
  try {
    return await fn(s);
  } finally {
    await stop(s);
  }
}

describe('Stitch 2018 export: query-param webhook secrets, a Twilio webhook, Google without secret_config', () => {
  const APP = 'petshop-qwert';
  const dir = fixture('stitch-2018-webhooks');

  it('loads as exported, keeping the webhook secrets and the provider restrictions', async () => {
    const { config, warnings } = await loadAppDirectory(dir);
    const hook = config.webhooks?.find((w) => w.name === 'newOrder');
    assert.equal(hook?.validationMethod, 'SECRET_AS_QUERY_PARAM');
    assert.equal(hook?.secret, 'kibble-4-all');
    assert.equal(config.webhooks?.find((w) => w.name === 'signed')?.validationMethod, 'VERIFY_PAYLOAD', 'a secret not in the query signs the payload');
    assert.equal(config.webhooks?.find((w) => w.service === 'sms'), undefined, 'the Twilio webhook is not served');
    assert.ok(warnings.some((w) => w.file === 'services/sms/incoming_webhooks/inboundText' && /X-Twilio-Signature/.test(w.message)));
    const google = config.providers.get('oauth2-google');
    assert.deepEqual(google?.domainRestrictions, ['petshop.example']);
    assert.deepEqual(google?.redirectUris, ['http://localhost:3000/login']);
    assert.equal(config.functions.get('resetInventory')?.private, true, 'a function folder without config.json is private');
    assert.equal(config.functions.get('adoptPet')?.private, false);
    const notes = await checkProviders(config);
    assert.match(notes.join('\n'), /auth_providers\/oauth2-google\.json.*no client secret, so only id_token logins work/);
  });

  it('serves: anonymous login, the webhook secret enforced and stripped, the Twilio webhook absent, private functions refused', async () => {
    await withServer(['--app', dir], {}, async (s) => {
      const anon = await login(s, APP, 'anon-user');
      assert.equal(anon.status, 200, anon.text);
      const token = anon.json.access_token as string;

      const hook = (query: string, body = '{}', headers: Record<string, string> = {}) =>
        fetch(`${s.url}/api/client/v2.0/app/${APP}/service/orders/incoming_webhook/newOrder${query}`, { method: 'POST', body, headers });
      assert.equal((await hook('?kind=dog')).status, 401, 'no secret: refused');
      assert.equal((await hook('?kind=dog&secret=wrong')).status, 401, 'a wrong secret: refused');
      const ok = await hook('?kind=dog&secret=kibble-4-all');
      assert.equal(ok.status, 200);
      assert.deepEqual(await ok.json(), { kind: 'dog', rawQuery: 'kind=dog' });

      const signedUrl = `${s.url}/api/client/v2.0/app/${APP}/service/orders/incoming_webhook/signed`;
      assert.equal((await fetch(signedUrl, { method: 'POST', body: '{"a":1}' })).status, 401, 'unsigned payload: refused');
      const signature = `sha256=${createHmac('sha256', 'treats').update('{"a":1}').digest('hex')}`;
      assert.equal((await fetch(signedUrl, { method: 'POST', body: '{"a":1}', headers: { 'x-hook-signature': signature } })).status, 200);

      const twilio = await fetch(`${s.url}/api/client/v2.0/app/${APP}/service/sms/incoming_webhook/inboundText`, { method: 'POST', body: 'From=%2B15550100' });
      assert.equal(twilio.status, 404, 'an unverifiable Twilio webhook is not served');

      const adopted = await callFunction(s, APP, token, 'adoptPet', ['Rex']);
      assert.equal(adopted.status, 200, adopted.text);
      assert.equal(adopted.json as unknown, 'adopted Rex');
      const privateCall = await callFunction(s, APP, token, 'resetInventory', []);
      assert.ok(privateCall.status >= 400 && privateCall.status < 500, privateCall.text);
      assert.match(String(privateCall.json.error_code), /^Function(NotFound|NotCallable)$/);

      const code = await login(s, APP, 'oauth2-google', { authCode: 'x' });
      assert.equal(code.status, 401);
      assert.match(String(code.json.error), /no client secret/);
    });
  });
});

describe('Realm CLI v1 export without an app id', () => {
  const dir = fixture('realm-v1-no-app-id');

  it('serve refuses, naming the file and exactly what to pass', () => {
    const r = cli(['serve', '--app', dir, '--port', '0', '--data-dir', dataDir()], { BASTE_APP_ID: '' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /config\.json \(app_id\): missing: this export names no client app id/);
    assert.match(r.stderr, /--app-id <id> \(or BASTE_APP_ID=<id>\)/);
  });

  it('validate and every command take --app-id or BASTE_APP_ID; a malformed one is refused', () => {
    const flag = cli(['validate', '--app', dir, '--app-id', 'garden-abcde']);
    assert.equal(flag.code, 0, flag.stderr);
    assert.match(flag.stdout, /ok: app 'garden' \(garden-abcde\), layout 20200603/);
    assert.match(flag.stdout, /secrets\.json: trailing commas accepted/);
    assert.match(flag.stdout, /garden\.plants\.json: schema\.properties\.thirsty\.bsonType: "boolean" read as "bool"/);
    const env = cli(['validate', '--app', dir], { BASTE_APP_ID: 'garden-abcde' });
    assert.equal(env.code, 0, env.stderr);
    const keys = cli(['api-keys', 'list', '--app', dir, '--data-dir', dataDir()], { BASTE_APP_ID: 'garden-abcde' });
    assert.equal(keys.code, 0, keys.stderr);
    const bad = cli(['validate', '--app', dir, '--app-id', '../etc']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--app-id: "\.\.\/etc" must be 1–128 characters/);
  });

  it('loads the legacy custom user data service id, the flat secrets.json and the rules', async () => {
    const { config } = await loadAppDirectory(dir, { appId: 'garden-abcde' });
    assert.equal(config.customUserData?.serviceName, 'mongodb-atlas', 'mongo_service_id resolved to the service carrying that id');
    assert.equal(config.customUserData?.collection, 'profiles');
    assert.equal(config.secrets.get('weatherKey'), 'sunny-with-a-chance-of-rain');
    const plants = config.dataSources?.get('mongodb-atlas')?.collections.get('garden.plants');
    assert.deepEqual(plants?.roles.map((r) => r.name), ['gardener', 'visitor']);
  });

  it('serves with --app-id: anonymous login, the values from secrets.json, the rules enforced', async () => {
    const APP = 'garden-abcde';
    await withServer(['--app', dir, '--app-id', APP], {}, async (s) => {
      const anon = await login(s, APP, 'anon-user');
      assert.equal(anon.status, 200, anon.text);
      const token = anon.json.access_token as string;
      const userId = anon.json.user_id as string;
      const watered = await callFunction(s, APP, token, 'waterPlant', ['fern']);
      assert.equal(watered.status, 200, watered.text);
      assert.deepEqual(watered.json, { watered: 'fern', weather: 'known' });
      const insert = (owner: string) =>
        callFunction(s, APP, token, 'insertOne', [{ database: 'garden', collection: 'plants', document: { owner, thirsty: true } }], 'mongodb-atlas');
      const mine = await insert(userId);
      assert.equal(mine.status, 200, mine.text);
      const theirs = await insert('someone-else');
      assert.equal(theirs.status, 403, `the visitor role may not insert: ${theirs.text}`);
    });
  });
});

describe('two root files: a stale realm_config.json holding only a name beside a 20200603 config.json', () => {
  it('picks config.json (it matches the folder and has the app id), says so, and serves', async () => {
    const dir = fixture('realm-two-roots');
    const { config, warnings } = await loadAppDirectory(dir);
    assert.equal(config.appId, 'recipes-plmok');
    assert.equal(config.layout, '20200603');
    assert.deepEqual(
      warnings.filter((w) => /root config/.test(w.message)).map((w) => `${w.file}: ${w.message}`),
      [
        'config.json: used as the root config: it matches the folder contents (auth_providers/); realm_config.json ignored',
        'realm_config.json: ignored: config.json is the root config of this app',
      ],
    );
    assert.ok(warnings.some((w) => w.file === 'config.json' && w.message === 'hosting: not supported by Baste (ignored)'));
    await withServer(['--app', dir], {}, async (s) => {
      assert.match(s.output(), /used as the root config/, 'the choice is in the log');
      const anon = await login(s, 'recipes-plmok', 'anon-user');
      assert.equal(anon.status, 200, anon.text);
      const scaled = await callFunction(s, 'recipes-plmok', anon.json.access_token as string, 'scaleRecipe', [3]);
      assert.equal(num(scaled.json), 6);
    });
  });
});

describe('App Services CLI export: app id only in .mdb/meta.json, CLI-format triggers, unlisted function files', () => {
  const APP = 'ledger-mnbvc';
  const dir = fixture('appservices-cli-2023');

  it('loads: the client app id from .mdb/meta.json, the FUNCTION event processor as the trigger function, one warning per unsupported part', async () => {
    const { config, warnings } = await loadAppDirectory(dir, { secrets: { ledgerJwtKey: JWT_KEY } });
    assert.equal(config.appId, APP);
    assert.deepEqual(config.triggers?.get('onFirstLogin'), { name: 'onFirstLogin', functionName: 'auth/onCreate', operations: ['CREATE'], providers: ['custom-token'], disabled: false });
    assert.equal(config.triggers?.has('auditToBridge'), false);
    assert.equal(config.functions.get('scratch/old')?.private, true);
    const byFile = (file: string) => warnings.filter((w) => w.file === file).map((w) => w.message);
    assert.deepEqual(byFile('triggers/auditToBridge.json'), ['event_processors: EventBridge is not supported by Baste; trigger ignored']);
    for (const part of ['sync', 'graphql', 'data_api_config.json']) assert.equal(byFile(part).length, 1, part);
    assert.deepEqual(byFile('.mdb/meta.json'), ['client_app_id "ledger-mnbvc" used as the app id: root_config.json has none']);
    // The exported Apple provider without its pasted secret: id_token logins only, said once.
    assert.equal(config.providers.get('oauth2-apple')?.config.clientId, 'com.ledgerapp.ios');
    assert.match((await checkProviders(config)).join('\n'), /provider 'oauth2-apple' \(auth\/providers\.json\) has no Apple client secret, so only id_token logins work.*provide secret 'appleClientSecret'/);
  });

  it('a missing signing key refuses to start, naming the file, the field and the variable to set', () => {
    const r = cli(['serve', '--app', dir, '--port', '0', '--data-dir', dataDir()]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /auth\/providers\.json \(custom-token\.secret_config\.signingKeys\): secret 'ledgerJwtKey' is not provided \(--secrets or BASTE_SECRET_ledgerJwtKey\)/);
  });

  it('serves: a Custom JWT login runs the CREATE trigger named by the event processor; unlisted functions are private', async () => {
    await withServer(['--app', dir], { BASTE_SECRET_ledgerJwtKey: JWT_KEY }, async (s) => {
      const jwt = await new SignJWT({ name: 'Ada' })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject('ada-1')
        .setAudience(APP)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(JWT_KEY));
      const user = await login(s, APP, 'custom-token', { token: jwt });
      assert.equal(user.status, 200, user.text);
      const token = user.json.access_token as string;
      const sum = await callFunction(s, APP, token, 'sum', [2, 3]);
      assert.equal(num(sum.json), 5);
      const old = await callFunction(s, APP, token, 'scratch/old', []);
      assert.match(String(old.json.error_code), /^Function(NotFound|NotCallable)$/, old.text);
      // The trigger runs asynchronously after the login: wait for its document.
      let owners = 0;
      for (let i = 0; i < 50 && owners === 0; i++) {
        const count = await callFunction(s, APP, token, 'reports/ownerCount', []);
        assert.equal(count.status, 200, count.text);
        owners = num(count.json);
        if (owners === 0) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(owners, 1, 'the trigger wrote its document');
    });
  });

  it('an app whose only root file has an empty app_id and no .mdb/ refuses, saying what to pass', async () => {
    await assert.rejects(loadAppDirectory(fixture('realm-v1-no-app-id')), (e: unknown) => e instanceof ConfigError && e.file === 'config.json' && e.field === 'app_id' && /--app-id/.test(e.reason));
  });
});

describe('baste validate fails on what would fail at run time', () => {
  it('a function that does not parse: exit 1, its file and line named; serve still starts and says so', async () => {
    const dir = join(scratch, 'broken-fn');
    cpSync(fixture('realm-two-roots'), dir, { recursive: true });
    writeFileSync(join(dir, 'functions', 'scaleRecipe', 'source.js'), 'exports = function(servings) {\n  return servings *;\n};\n');
    const r = cli(['validate', '--app', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: functions\/scaleRecipe\/source\.js: syntax error at line 2/);
    await withServer(['--app', dir], {}, async (s) => {
      assert.match(s.output(), /syntax error at line 2.*calls to it will fail/);
    });
  });
});

describe('every warning of every fixture export names a file or folder that is there', () => {
  it('no warning points at a file the export does not have (a setting inside stitch.json names stitch.json, a legacy provider its own file)', async () => {
    const { existsSync, readdirSync } = await import('node:fs');
    const root = join(import.meta.dirname, 'fixtures', 'apps');
    let seen = 0;
    for (const name of readdirSync(root)) {
      const { warnings } = await loadAppDirectory(join(root, name), { appId: 'fixture-abcde', secrets: { ledgerJwtKey: JWT_KEY, 'jwt-signing-key': JWT_KEY } });
      for (const w of warnings) {
        seen++;
        assert.ok(existsSync(join(root, name, w.file)), `${name}: "${w.file}: ${w.message}" names no file of the export`);
      }
    }
    assert.ok(seen > 30, `the fixtures produce warnings to check (${seen})`);
  });
});
