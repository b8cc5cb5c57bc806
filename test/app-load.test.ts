import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../src/errors.js';
import { loadAppDirectory } from '../src/app/load.js';
import { readSecrets } from '../src/app/secrets.js';
import { locateJsonError } from '../src/app/json.js';
import { checkFunctionSources } from '../src/app/source-check.js';
import type { ConfigWarning, LoadedApp } from '../src/app/model.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = (name: string) => join(here, 'fixtures', 'apps', name);
const exampleApp = join(here, '..', 'examples', 'todo');

// ---- helpers -------------------------------------------------------------------------------

let scratch: string | undefined;
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Writes an app directory: strings are written as text, anything else as JSON. */
async function makeApp(files: Record<string, unknown>): Promise<string> {
  scratch ??= await mkdtemp(join(tmpdir(), 'baste-app-load-'));
  const dir = await mkdtemp(join(scratch, 'app-'));
  for (const [path, content] of Object.entries(files)) {
    const abs = join(dir, ...path.split('/'));
    await mkdir(dirname(abs), { recursive: true });
    await writeFile(abs, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

async function writeScratchFile(name: string, content: string): Promise<string> {
  scratch ??= await mkdtemp(join(tmpdir(), 'baste-app-load-'));
  const file = join(scratch, name);
  await writeFile(file, content);
  return file;
}

const ANON = { name: 'anon-user', type: 'anon-user', disabled: false };

/** A minimal valid 20210101 app, plus `extra` files. */
const modern = (extra: Record<string, unknown> = {}) => ({
  'realm_config.json': { app_id: 'test-abcde', name: 'test', config_version: 20210101 },
  'auth/providers.json': { 'anon-user': ANON },
  ...extra,
});

/** A minimal valid 20200603 app, plus `extra` files. */
const legacy = (extra: Record<string, unknown> = {}) => ({
  'config.json': { app_id: 'old-abcde', name: 'old', config_version: 20200603 },
  'auth_providers/anon-user.json': ANON,
  ...extra,
});

const lines = (warnings: readonly ConfigWarning[]) => warnings.map((w) => `${w.file}: ${w.message}`);

const sha24 = (seed: string) => createHash('sha256').update(seed).digest('hex').slice(0, 24);

/** Validator for assert.rejects: a ConfigError naming exactly `file` and `field`. */
const configError =
  (file: string, field: string | undefined, reason?: RegExp) =>
  (e: unknown): true => {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    assert.equal(e.file, file);
    assert.equal(e.field, field);
    if (reason) assert.match(e.reason, reason);
    return true;
  };

async function load(files: Record<string, unknown>, secrets?: Record<string, string>): Promise<LoadedApp> {
  return loadAppDirectory(await makeApp(files), secrets ? { secrets } : undefined);
}

// ---- layouts -------------------------------------------------------------------------------

describe('layouts', () => {
  test('the bundled example app loads cleanly', async () => {
    const { config, warnings } = await loadAppDirectory(exampleApp);
    assert.deepEqual(warnings, []);
    assert.equal(config.appId, 'todo-abcde');
    assert.equal(config.name, 'todo');
    assert.equal(config.layout, '20210101');
    assert.equal(config.configVersion, 20210101);
    assert.equal(config.environment, '');
    assert.deepEqual(config.allowedRequestOrigins, []);
    assert.equal(config.domainId, sha24('baste:domain:todo-abcde'));
    assert.deepEqual([...config.providers.keys()], ['anon-user', 'local-userpass', 'api-key']);
    const userpass = config.providers.get('local-userpass');
    assert.equal(userpass?.type, 'local-userpass');
    assert.equal(userpass?.disabled, false);
    assert.equal(userpass?.id, sha24('baste:provider:todo-abcde:local-userpass'));
    assert.deepEqual(userpass?.config, {
      // Confirmation by email, its links on Baste's own pages (as an App Services export names them).
      autoConfirm: false,
      confirmEmailSubject: 'Confirm your todo account',
      emailConfirmationUrl: 'http://localhost:8080/app/todo-abcde/confirm',
      resetPasswordSubject: 'Reset your todo password',
      resetPasswordUrl: 'http://localhost:8080/app/todo-abcde/reset',
      runConfirmationFunction: false,
      runResetFunction: false,
    });
    assert.equal(config.providers.get('anon-user')?.disabled, false);
    assert.deepEqual(config.values.get('greeting'), {
      name: 'greeting',
      fromSecret: false,
      value: 'Hello from the todo app',
    });
    const sum = config.functions.get('sum');
    assert.equal(sum?.file, 'functions/sum.js');
    assert.equal(sum?.private, false);
    assert.match(sum?.source ?? '', /^exports = function\(a, b\) \{/);
  });

  test('root_config.json (App Services) is read as 20210101 with top-level origins', async () => {
    const { config, warnings } = await load({
      'root_config.json': {
        app_id: 'as-abcde',
        name: 'as',
        config_version: 20210101,
        allowed_request_origins: ['https://app.example.com'],
        provider_region: 'aws-us-east-1',
      },
      'auth/providers.json': { 'anon-user': ANON },
    });
    assert.deepEqual(warnings, []);
    assert.equal(config.layout, '20210101');
    assert.equal(config.appId, 'as-abcde');
    assert.deepEqual(config.allowedRequestOrigins, ['https://app.example.com']);
  });

  test('root_config.json wins over a stale realm_config.json next to it', async () => {
    const { config, warnings } = await load({
      ...modern(),
      'root_config.json': { app_id: 'new-abcde', name: 'new', config_version: 20210101 },
    });
    assert.equal(config.appId, 'new-abcde');
    assert.deepEqual(lines(warnings), [
      'root_config.json: used as the root config: it matches the folder contents (auth/providers.json); realm_config.json ignored',
      'realm_config.json: ignored: root_config.json is the root config of this app',
    ]);
  });

  test('20200603 config.json with auth_providers/ and function folders', async () => {
    const { config, warnings } = await load({
      'config.json': {
        app_id: 'v1-abcde',
        name: 'v1',
        config_version: 20200603,
        security: { allowed_request_origins: ['http://localhost:8080'] },
      },
      'auth_providers/anon-user.json': { ...ANON, id: '5f0c1e2d3c4b5a6978877665' },
      'auth_providers/local-userpass.json': {
        name: 'local-userpass',
        type: 'local-userpass',
        disabled: true,
        config: { autoConfirm: true },
      },
      'functions/greet/config.json': { name: 'greet', private: true, can_evaluate: { '%%true': true } },
      'functions/greet/source.js': 'exports = () => "hi";\n',
    });
    assert.deepEqual(warnings, []);
    assert.equal(config.layout, '20200603');
    assert.deepEqual(config.allowedRequestOrigins, ['http://localhost:8080']);
    assert.equal(config.providers.get('anon-user')?.id, '5f0c1e2d3c4b5a6978877665');
    assert.equal(config.providers.get('local-userpass')?.disabled, true);
    assert.deepEqual(config.functions.get('greet'), {
      name: 'greet',
      private: true,
      runAsSystem: false,
      canEvaluate: { '%%true': true },
      source: 'exports = () => "hi";\n',
      file: 'functions/greet/source.js',
    });
  });

  test('Stitch 20180301 export (fixture): ids, metadata fields, legacy secrets, leftovers', async () => {
    const { config, warnings } = await loadAppDirectory(fixture('stitch-2018'));
    assert.deepEqual(lines(warnings), [
      'hosting: not supported by Baste (ignored)',
    ]);
    assert.equal(config.layout, '20180301');
    assert.equal(config.configVersion, 20180301);
    assert.equal(config.appId, 'legacy-qwert');
    assert.deepEqual(config.allowedRequestOrigins, ['https://legacy.example.com']);
    assert.deepEqual([...config.providers.keys()], ['anon-user', 'api-key', 'local-userpass', 'oauth2-google']);
    assert.equal(config.providers.get('api-key')?.disabled, true);
    const google = config.providers.get('oauth2-google');
    assert.equal(google?.id, '5b2d3c4e5f6a7b8c9d0e1f22', 'upper-case hex id is kept, lower-cased');
    assert.deepEqual(google?.metadataFields, [
      { required: true, name: 'email' },
      { required: false, name: 'name', fieldName: 'fullName' },
    ]);
    assert.deepEqual(google?.redirectUris, ['https://legacy.example.com/auth/callback']);
    assert.deepEqual(google?.domainRestrictions, ['example.com']);
    assert.deepEqual(google?.secretConfig, { clientSecret: '__legacy.oauth2-google.clientSecret' });
    assert.equal(config.secrets.get('__legacy.oauth2-google.clientSecret'), 'gOOgle-Secret-Material-123');
    assert.deepEqual([...config.functions.keys()], ['hello', 'internal']);
    assert.equal(config.functions.get('internal')?.runAsSystem, true);
    assert.equal(config.functions.get('internal')?.private, true);
    assert.deepEqual(config.values.get('siteName'), { name: 'siteName', fromSecret: false, value: 'Legacy Site' });
  });
});

describe('third-party services', () => {
  test('Stitch export with http, aws-ses, aws and twilio services (fixture): each unserved one is warned about once', async () => {
    const { config, warnings } = await loadAppDirectory(fixture('stitch-sms-desk'));
    assert.deepEqual(lines(warnings), [
      "services/SendMail: service 'SendMail' (type aws-ses) is not served by Baste: every call to it from a function fails",
      "services/aws: service 'aws' (type aws) is not served by Baste: every call to it from a function fails",
      'services/myHttp/rules: HTTP service rules are not enforced by Baste: functions may use every action, clients none (ignored)',
      "services/twilio: service 'twilio' (type twilio) is not served by Baste: every call to it from a function fails",
    ]);
    assert.deepEqual(
      [...(config.services?.values() ?? [])].map((s) => `${s.name}:${s.type}`),
      ['SendMail:aws-ses', 'aws:aws', 'myHttp:http', 'partner:http', 'smsInbound:http', 'twilio:twilio'],
    );
    assert.deepEqual([...(config.dataSources?.keys() ?? [])], ['mongodb-atlas'], 'the MongoDB service is a data source, not a third-party service');
  });

  test('a service name defined twice keeps the first definition, with a warning', async () => {
    const { config, warnings } = await load(
      modern({
        'services/hooks/config.json': { name: 'hooks', type: 'http', config: {} },
        'http_endpoints/hooks/config.json': { name: 'hooks', type: 'twilio', config: {} },
        'services/untyped/config.json': { name: 'untyped', config: {} },
      }),
    );
    assert.deepEqual([...(config.services?.values() ?? [])].map((s) => `${s.name}:${s.type}:${s.file}`), ['hooks:http:services/hooks/config.json', 'untyped::services/untyped/config.json']);
    assert.deepEqual(lines(warnings), [
      "services/untyped: service 'untyped' (type untyped) is not served by Baste: every call to it from a function fails",
      "http_endpoints/hooks/config.json: service 'hooks' is defined twice: the first definition is used (ignored)",
    ]);
  });
});

// ---- messy exports -------------------------------------------------------------------------

describe('messy exports', () => {
  test('Realm export with config.json saying 20210101 and many leftovers (fixture)', async () => {
    const { config, warnings } = await loadAppDirectory(fixture('realm-2021-messy'), {
      secrets: { 'jwt-signing-key': 'k'.repeat(32) },
    });
    assert.deepEqual(lines(warnings), [
      'sync: not supported by Baste (ignored)',
      'graphql: not supported by Baste (ignored)',
      'log_forwarders: not supported by Baste (ignored)',
      'config.json: config.json belongs to the 20200603 layout but its config_version is 20210101',
      'README.md: unknown file or folder (ignored)',
      'functions/unlisted.js: not listed in functions/config.json; loaded as private (callable from functions, triggers and endpoints, not by clients); declare it to change that',
      'values/stripeKey.json: secret "stripe-secret" is not provided; the value is undefined',
    ]);
    assert.equal(config.layout, '20210101');
    assert.equal(config.configVersion, 20210101);
    assert.equal(config.appId, 'messy-zxcvb', 'the root app_id wins over .mdb/app_meta.json');
    assert.equal(config.functions.get('unlisted')?.private, true, 'a function missing from the manifest never becomes public');
    assert.deepEqual(config.triggers?.get('onLogin'), { name: 'onLogin', functionName: 'utils/add', operations: ['LOGIN'], providers: ['anon-user'], disabled: false });
    assert.equal(config.environment, 'production');
    assert.deepEqual(config.environmentValues, {
      apiBase: 'https://api.example.com',
      greeting: 'Hello from production',
    });
    assert.deepEqual(config.allowedRequestOrigins, ['https://messy.example.com', 'http://localhost:3000']);
    const token = config.providers.get('custom-token');
    assert.equal(token?.disabled, true);
    assert.deepEqual(token?.secretConfigLists, { signingKeys: ['jwt-signing-key'] });
    assert.deepEqual(token?.metadataFields, [], 'null metadata_fields counts as absent');
    const onCreate = config.functions.get('auth/emailpass/onCreate');
    assert.equal(onCreate?.file, 'functions/auth/emailpass/onCreate.js');
    assert.equal(onCreate?.private, true);
    assert.equal(onCreate?.runAsSystem, true);
    assert.equal(config.functions.get('utils/add')?.file, 'functions/utils/add.js');
    assert.deepEqual(config.functions.get('unlisted'), {
      name: 'unlisted',
      private: true,
      runAsSystem: false,
      canEvaluate: {},
      source: 'exports = function() { return "left over"; };\n',
      file: 'functions/unlisted.js',
    });
  });

  test('no config_version: loads, configVersion is null, warns', async () => {
    const { config, warnings } = await load({
      ...modern(),
      'realm_config.json': { app_id: 'test-abcde', name: 'test' },
    });
    assert.equal(config.configVersion, null);
    assert.equal(config.layout, '20210101');
    assert.deepEqual(lines(warnings), ['realm_config.json: no config_version; loaded as the 20210101 layout']);
  });

  test('realm_config.json over a legacy tree: the folder contents decide the layout', async () => {
    const { config, warnings } = await load({
      'realm_config.json': { app_id: 'test-abcde', name: 'test' },
      'auth_providers/anon-user.json': ANON,
    });
    assert.equal(config.layout, '20200603');
    assert.deepEqual([...config.providers.keys()], ['anon-user']);
    assert.deepEqual(lines(warnings), ['realm_config.json: no config_version; loaded as the 20200603 layout']);
  });

  test('stitch.json claiming 20210101 over auth_providers/: loads as 20180301, warns twice', async () => {
    const { config, warnings } = await load({
      'stitch.json': { app_id: 'test-abcde', name: 'test', config_version: 20210101 },
      'auth_providers/anon-user.json': ANON,
    });
    assert.equal(config.layout, '20180301');
    assert.equal(config.configVersion, 20210101);
    assert.deepEqual(lines(warnings), [
      'stitch.json: stitch.json belongs to the 20180301 layout but its config_version is 20210101',
      'stitch.json: config_version 20210101 disagrees with the folder contents (auth_providers/); loaded as the 20180301 layout',
    ]);
  });

  test('config.json saying 20200603 over auth/providers.json: the folder wins, with a warning', async () => {
    const { config, warnings } = await load({
      'config.json': { app_id: 'test-abcde', name: 'test', config_version: 20200603 },
      'auth/providers.json': { 'anon-user': ANON },
    });
    assert.equal(config.layout, '20210101');
    assert.equal(config.configVersion, 20200603);
    assert.deepEqual(lines(warnings), [
      'config.json: config_version 20200603 disagrees with the folder contents (auth/providers.json); loaded as the 20210101 layout',
    ]);
  });

  test('both auth/providers.json and auth_providers/: the layout picks one, the other is reported', async () => {
    const { config, warnings } = await load(
      modern({ 'auth_providers/local-userpass.json': { name: 'local-userpass', type: 'local-userpass' } }),
    );
    assert.deepEqual([...config.providers.keys()], ['anon-user']);
    assert.deepEqual(lines(warnings), [
      'auth_providers/: ignored: providers are read from auth/providers.json in the 20210101 layout',
    ]);
  });

  test('an unknown config_version loads by folder contents and warns', async () => {
    const { config, warnings } = await load({
      ...modern(),
      'realm_config.json': { app_id: 'test-abcde', name: 'test', config_version: '20990101' },
    });
    assert.equal(config.layout, '20210101');
    assert.equal(config.configVersion, 20990101, 'a quoted version is accepted');
    assert.deepEqual(lines(warnings), [
      'realm_config.json: config_version 20990101 is not one Baste knows (20210101, 20200603, 20180301); loaded as the 20210101 layout',
    ]);
  });

  test('app_id falls back to .mdb/app_meta.json, with a warning', async () => {
    const { config, warnings } = await load({
      ...modern(),
      'realm_config.json': { name: 'test', config_version: 20210101 },
      '.mdb/app_meta.json': { app_id: 'meta-abcde', group_id: 'g', config_version: 20210101 },
    });
    assert.equal(config.appId, 'meta-abcde');
    assert.deepEqual(lines(warnings), ['.mdb/app_meta.json: app_id "meta-abcde" used as the app id: realm_config.json has none']);
  });

  test('a missing name is derived from app_id, with a warning', async () => {
    const { config, warnings } = await load({
      ...modern(),
      'realm_config.json': { app_id: 'my_shop-qwert', config_version: 20210101 },
    });
    assert.equal(config.name, 'my_shop');
    assert.deepEqual(lines(warnings), ['realm_config.json: no name; using "my_shop" (from app_id)']);
  });

  test('old-style webhooks inside a 20210101 export load with warnings', async () => {
    const { config, warnings } = await load(
      modern({
        'services/github/config.json': { name: 'github', type: 'github', config: {} },
        'services/github/incoming_webhooks/onPush/config.json': { name: 'onPush', run_as_system: true },
        'services/github/incoming_webhooks/onPush/source.js': 'exports = function(payload) {};\n',
        'http_endpoints/http/config.json': { name: 'http', type: 'http', config: {} },
        'http_endpoints/http/incoming_webhooks/ping/config.json': { name: 'ping' },
        'http_endpoints/http/incoming_webhooks/ping/source.js': 'exports = () => "pong";\n',
      }),
    );
    assert.equal(config.layout, '20210101');
    assert.deepEqual(lines(warnings), [
      "services/github: service 'github' (type github) is not served by Baste: every call to it from a function fails; its incoming webhooks run with the HTTP payload ({query, headers, body})",
    ]);
    assert.deepEqual([...(config.services?.values() ?? [])].map((s) => [s.name, s.type, s.file]), [
      ['github', 'github', 'services/github/config.json'],
      ['http', 'http', 'http_endpoints/http/config.json'],
    ]);
    assert.deepEqual(
      config.webhooks?.map((w) => [w.service, w.name, w.runAsSystem, w.httpMethod, w.validationMethod, w.file]),
      [
        ['github', 'onPush', true, '*', 'NO_VALIDATION', 'services/github/incoming_webhooks/onPush/source.js'],
        ['http', 'ping', false, '*', 'NO_VALIDATION', 'http_endpoints/http/incoming_webhooks/ping/source.js'],
      ],
    );
  });

  test('webhook execution users: create_user_on_auth needs run_as_authed_user; a user id and a script exclude each other', async () => {
    const hook = (name: string, config: Record<string, unknown>) => ({
      [`services/http/incoming_webhooks/${name}/config.json`]: { name, ...config },
      [`services/http/incoming_webhooks/${name}/source.js`]: 'exports = () => 1;\n',
    });
    const { config, warnings } = await load(
      modern({
        'services/http/config.json': { name: 'http', type: 'http', config: {} },
        ...hook('authed', { run_as_authed_user: true, create_user_on_auth: true }),
        ...hook('fixed', { run_as_user_id: '5f0c1e2d3c4b5a6978877665', create_user_on_auth: true }),
      }),
    );
    assert.deepEqual(config.webhooks?.map((w) => [w.name, w.createUserOnAuth]), [['authed', true], ['fixed', false]]);
    assert.deepEqual(lines(warnings), ['services/http/incoming_webhooks/fixed/config.json: create_user_on_auth: only applies with run_as_authed_user (ignored)']);
    await assert.rejects(
      load(modern({ ...hook('both', { run_as_user_id: '5f0c1e2d3c4b5a6978877665', run_as_user_id_script_source: 'function() { return "x"; }' }) })),
      configError('services/http/incoming_webhooks/both/config.json', 'run_as_user_id_script_source', /cannot be combined/),
    );
  });

  test('HTTPS endpoints load from https_endpoints/config.json; bad entries are refused naming the field', async () => {
    const withHi = { 'functions/config.json': [{ name: 'hi' }], 'functions/hi.js': 'exports = function() { return 1; };' };
    const { config } = await load(
      modern({ ...withHi, 'https_endpoints/config.json': [{ route: '/hi', http_method: 'GET', function_name: 'hi', validation_method: 'SECRET_AS_QUERY_PARAM', secret_name: 's' }] }),
    );
    assert.deepEqual(config.endpoints?.map((e) => [e.route, e.httpMethod, e.functionName, e.validationMethod, e.secretName, e.respondResult]), [
      ['/hi', 'GET', 'hi', 'SECRET_AS_QUERY_PARAM', 's', true],
    ]);
    const refuse = (entry: Record<string, unknown>, field: string) =>
      assert.rejects(load(modern({ ...withHi, 'https_endpoints/config.json': [entry] })), configError('https_endpoints/config.json', field));
    await refuse({ route: 'hi', function_name: 'hi' }, '[0].route');
    await refuse({ route: '/hi', function_name: 'nope' }, '[0].function_name');
    await refuse({ route: '/hi', function_name: 'hi', http_method: 'FETCH' }, '[0].http_method');
    await refuse({ route: '/hi', function_name: 'hi', validation_method: 'VERIFY_PAYLOAD' }, '[0].secret_name');
  });

  test('omitted provider fields take their defaults (enabled, no options)', async () => {
    const { config, warnings } = await load(modern({ 'auth/providers.json': { 'anon-user': { type: 'anon-user' } } }));
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.providers.get('anon-user'), {
      name: 'anon-user',
      type: 'anon-user',
      disabled: false,
      id: sha24('baste:provider:test-abcde:anon-user'),
      config: {},
      secretConfig: {},
      secretConfigLists: {},
      metadataFields: [],
      redirectUris: [],
      domainRestrictions: [],
      source: { file: 'auth/providers.json', prefix: 'anon-user' },
    });
  });

  test('Go-style nulls count as absent', async () => {
    const { config } = await load({
      ...modern(),
      'auth/providers.json': {
        'anon-user': { ...ANON, config: null, secret_config: null, metadata_fields: null, redirect_uris: null },
      },
    });
    const anon = config.providers.get('anon-user');
    assert.deepEqual(anon?.config, {});
    assert.deepEqual(anon?.secretConfig, {});
    assert.deepEqual(anon?.redirectUris, []);
  });

  test('a legacy id that is not 24-hex is replaced by the derived id, with a warning', async () => {
    const { config, warnings } = await load({
      ...legacy(),
      'auth_providers/anon-user.json': { ...ANON, id: 'not-an-id' },
    });
    assert.equal(config.providers.get('anon-user')?.id, sha24('baste:provider:old-abcde:anon-user'));
    assert.deepEqual(lines(warnings), ['auth_providers/anon-user.json: id: not a 24-hex id; a derived id is used instead']);
  });

  test('a BOM at the start of a JSON file is tolerated', async () => {
    const { config } = await load({
      ...modern(),
      'realm_config.json': '\uFEFF{"app_id": "bom-abcde", "name": "bom", "config_version": 20210101}',
    });
    assert.equal(config.appId, 'bom-abcde');
  });
});

// ---- values and environments --------------------------------------------------------------

describe('values and environments', () => {
  test('the active environment file is loaded next to the values it overrides', async () => {
    const { config, warnings } = await load(
      modern({
        'realm_config.json': { app_id: 'test-abcde', name: 'test', config_version: 20210101, environment: 'development' },
        'values/greeting.json': { name: 'greeting', value: 'hello', from_secret: false },
        'environments/development.json': { values: { greeting: 'hello, developer', debug: true } },
        'environments/production.json': { values: { greeting: 'hello, customer' } },
      }),
    );
    assert.deepEqual(warnings, []);
    assert.equal(config.environment, 'development');
    assert.deepEqual(config.environmentValues, { greeting: 'hello, developer', debug: true });
    assert.equal(config.values.get('greeting')?.value, 'hello');
  });

  test('no-environment.json is used when environment is empty', async () => {
    const { config } = await load(
      modern({ 'environments/no-environment.json': { values: { region: 'local' } } }),
    );
    assert.deepEqual(config.environmentValues, { region: 'local' });
  });

  test('a missing environment file is a warning', async () => {
    const { config, warnings } = await load(
      modern({ 'realm_config.json': { app_id: 'test-abcde', name: 'test', config_version: 20210101, environment: 'qa' } }),
    );
    assert.deepEqual(config.environmentValues, {});
    assert.deepEqual(lines(warnings), ['environments/qa.json: not found; environment "qa" has no values']);
  });

  test('an undocumented environment name is refused', async () => {
    const dir = await makeApp(
      modern({ 'realm_config.json': { app_id: 'test-abcde', name: 'test', environment: '../secrets' } }),
    );
    await assert.rejects(loadAppDirectory(dir), configError('realm_config.json', 'environment'));
  });

  test('value names default to the file name; secret-backed values resolve through secrets', async () => {
    const { config, warnings } = await load(
      modern({
        'values/siteTitle.json': { value: { en: 'Shop', fr: 'Boutique' } },
        'values/apiKey.json': { name: 'apiKey', value: 'stripe_key', from_secret: true },
      }),
      { stripe_key: 'sk_live_material' },
    );
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.values.get('siteTitle'), {
      name: 'siteTitle',
      fromSecret: false,
      value: { en: 'Shop', fr: 'Boutique' },
    });
    assert.deepEqual(config.values.get('apiKey'), { name: 'apiKey', fromSecret: true, value: 'stripe_key' });
    assert.equal(config.secrets.get('stripe_key'), 'sk_live_material');
  });

  for (const [file, doc] of [
    ['values/_private.json', { value: 1 }],
    ['values/ok.json', { name: 'has space', value: 1 }],
    ['values/long.json', { name: 'v'.repeat(65), value: 1 }],
  ] as const) {
    test(`a bad value name is refused (${file})`, async () => {
      const dir = await makeApp(modern({ [file]: doc }));
      await assert.rejects(loadAppDirectory(dir), configError(file, 'name', /1–64 characters/));
    });
  }

  test('a 64-character value name is accepted', async () => {
    const name = 'v'.repeat(64);
    const { config } = await load(modern({ [`values/${name}.json`]: { name, value: 1 } }));
    assert.equal(config.values.get(name)?.value, 1);
  });

  test('from_secret with a non-string value is refused', async () => {
    const dir = await makeApp(modern({ 'values/key.json': { value: 42, from_secret: true } }));
    await assert.rejects(loadAppDirectory(dir), configError('values/key.json', 'value', /name of a secret/));
  });

  test('two files defining the same value are refused', async () => {
    const dir = await makeApp(
      modern({ 'values/a.json': { name: 'greeting', value: 1 }, 'values/greeting.json': { value: 2 } }),
    );
    await assert.rejects(loadAppDirectory(dir), configError('values/greeting.json', 'name', /already defined in values\/a.json/));
  });
});

// ---- skipped parts -------------------------------------------------------------------------

describe('skipped parts of an export', () => {
  test('features Baste does not serve are ignored with one warning each', async () => {
    const { config, warnings } = await load(
      modern({
        'sync/config.json': { development_mode_enabled: false },
        'graphql/config.json': { use_natural_pluralization: true },
        'graphql/custom_resolvers/q.json': { field_name: 'q' },
        'hosting/metadata.json': [],
        'hosting/files/index.html': '<!doctype html>',
        'log_forwarders/lf.json': { name: 'lf' },
        'data_api_config.json': { disabled: true },
      }),
    );
    assert.equal(config.appId, 'test-abcde');
    assert.deepEqual(lines(warnings), [
      'sync: not supported by Baste (ignored)',
      'graphql: not supported by Baste (ignored)',
      'hosting: not supported by Baste (ignored)',
      'log_forwarders: not supported by Baste (ignored)',
      'data_api_config.json: not supported by Baste (ignored)',
    ]);
  });

  test('GraphQL relationships and stray files in a collection folder are warned about once each; an empty relationships.json is not', async () => {
    const coll = 'data_sources/mongodb-atlas/shop/orders';
    const { warnings } = await load(
      modern({
        [`${coll}/rules.json`]: { database: 'shop', collection: 'orders', roles: [{ name: 'r', read: true }] },
        [`${coll}/relationships.json`]: { customer: { ref: '#/relationship/mongodb-atlas/shop/customers', foreign_key: '_id', is_list: false } },
        [`${coll}/notes.txt`]: 'todo',
        'data_sources/mongodb-atlas/shop/customers/rules.json': { database: 'shop', collection: 'customers', roles: [] },
        'data_sources/mongodb-atlas/shop/customers/relationships.json': {},
      }),
    );
    assert.deepEqual(lines(warnings), [
      `${coll}/notes.txt: unknown file or folder (ignored)`,
      `${coll}/relationships.json: relationships are used by GraphQL, which Baste does not serve (ignored)`,
    ]);
  });

  test('authentication triggers load; a bad operation or an unknown function is refused', async () => {
    const withSum = { 'functions/config.json': [{ name: 'sum' }], 'functions/sum.js': 'exports = function() {};' };
    const ok = await load(modern({ ...withSum, 'triggers/t.json': { name: 't', type: 'AUTHENTICATION', function_name: 'sum', config: { operation_type: ['CREATE', 'DELETE'] } } }));
    assert.deepEqual(ok.config.triggers?.get('t')?.operations, ['CREATE', 'DELETE']);
    assert.deepEqual(ok.config.triggers?.get('t')?.providers, []);
    await assert.rejects(
      load(modern({ ...withSum, 'triggers/t.json': { name: 't', type: 'AUTHENTICATION', function_name: 'sum', config: { operation_type: 'LOGOUT' } } })),
      (e: unknown) => e instanceof ConfigError && e.file === 'triggers/t.json' && e.field === 'config.operation_type',
    );
    await assert.rejects(
      load(modern({ 'triggers/t.json': { name: 't', type: 'AUTHENTICATION', function_name: 'nope', config: { operation_type: 'LOGIN' } } })),
      (e: unknown) => e instanceof ConfigError && e.field === 'function_name',
    );
  });

  test('scheduled triggers load with function_name or the FUNCTION event processor; a bad CRON expression is refused naming file and field', async () => {
    const withSum = { 'functions/config.json': [{ name: 'sum' }], 'functions/sum.js': 'exports = function() {};' };
    const { config, warnings } = await load(
      modern({
        ...withSum,
        'triggers/nightly.json': { name: 'nightly', type: 'SCHEDULED', function_name: 'sum', config: { schedule: '0 7 * * MON-FRI' }, disabled: false },
        'triggers/often.json': {
          name: 'often',
          type: 'SCHEDULED',
          config: { schedule: '*/5 * * * *', skip_catchup_events: true },
          event_processors: { FUNCTION: { config: { function_name: 'sum' } } },
          disabled: true,
        },
        'triggers/bridge.json': { name: 'bridge', type: 'SCHEDULED', config: { schedule: '* * * * *' }, event_processors: { AWS_EVENTBRIDGE: { config: {} } } },
      }),
    );
    assert.deepEqual(config.scheduledTriggers?.get('nightly'), { name: 'nightly', functionName: 'sum', schedule: '0 7 * * MON-FRI', skipCatchupEvents: false, disabled: false });
    assert.deepEqual(config.scheduledTriggers?.get('often'), { name: 'often', functionName: 'sum', schedule: '*/5 * * * *', skipCatchupEvents: true, disabled: true });
    assert.equal(config.scheduledTriggers?.has('bridge'), false);
    assert.deepEqual(lines(warnings), ['triggers/bridge.json: event_processors: EventBridge is not supported by Baste; trigger ignored']);
    const withSchedule = (schedule: unknown) =>
      load(modern({ ...withSum, 'triggers/t.json': { name: 't', type: 'SCHEDULED', function_name: 'sum', config: { schedule } } }));
    await assert.rejects(withSchedule('61 * * * *'), configError('triggers/t.json', 'config.schedule', /minute: 61 is outside 0–59/));
    await assert.rejects(withSchedule('* * * *'), configError('triggers/t.json', 'config.schedule', /five fields/));
    await assert.rejects(withSchedule(undefined), configError('triggers/t.json', 'config.schedule', /needs a CRON expression/));
    await assert.rejects(withSchedule(5), configError('triggers/t.json', 'config.schedule', /must be a string/));
    await assert.rejects(
      load(modern({ 'triggers/t.json': { name: 't', type: 'SCHEDULED', event_processors: { FUNCTION: { config: { function_name: 'nope' } } }, config: { schedule: '* * * * *' } } })),
      configError('triggers/t.json', 'event_processors.FUNCTION.config.function_name', /'nope' is not defined/),
    );
  });

  test('database triggers load in the App Services and the Stitch layouts; database-level ones and unknown operations are warned about', async () => {
    const withSum = { 'functions/config.json': [{ name: 'sum' }], 'functions/sum.js': 'exports = function() {};' };
    const modernTrigger = {
      name: 'onMessage',
      type: 'DATABASE',
      config: {
        operation_types: ['INSERT', 'UPDATE', 'REPLACE'],
        database: 'triggerExample',
        collection: 'messages',
        service_name: 'mongodb-atlas',
        match: { 'fullDocument.needsTriggerResponse': true },
        project: {},
        full_document: false,
        full_document_before_change: true,
        unordered: true,
        skip_catchup_events: true,
        tolerate_resume_errors: false,
      },
      disabled: false,
      event_processors: { FUNCTION: { config: { function_name: 'sum' } } },
    };
    const { config, warnings } = await load(
      modern({
        ...withSum,
        'data_sources/mongodb-atlas/config.json': { name: 'mongodb-atlas', type: 'mongodb-atlas' },
        'triggers/onMessage.json': modernTrigger,
        'triggers/wholeDb.json': { name: 'wholeDb', type: 'DATABASE', function_name: 'sum', config: { database: 'app', operation_types: ['CREATE_COLLECTION'] } },
        'triggers/mixed.json': { name: 'mixed', type: 'DATABASE', function_name: 'sum', config: { database: 'app', collection: 'c', operation_types: ['DELETE', 'DROP_INDEXES'] } },
      }),
    );
    assert.deepEqual(config.databaseTriggers?.get('onMessage'), {
      name: 'onMessage',
      functionName: 'sum',
      serviceName: 'mongodb-atlas',
      database: 'triggerExample',
      collection: 'messages',
      operations: ['INSERT', 'UPDATE', 'REPLACE'],
      match: { 'fullDocument.needsTriggerResponse': true },
      project: {},
      fullDocument: false,
      fullDocumentBeforeChange: true,
      unordered: true,
      skipCatchupEvents: true,
      disabled: false,
    });
    assert.deepEqual(config.databaseTriggers?.get('mixed')?.operations, ['DELETE']);
    assert.equal(config.databaseTriggers?.has('wholeDb'), false);
    assert.deepEqual(lines(warnings), [
      'triggers/mixed.json: operation types DROP_INDEXES are not served by Baste (ignored)',
      'triggers/wholeDb.json: database and deployment triggers (no config.database or config.collection) are not served by Baste; trigger ignored',
    ]);
    // Stitch (swagstore export): function_name at the top, EJSON numbers in the match.
    const stitch = await load({
      'stitch.json': { app_id: 'swag-abcde', name: 'swag' },
      'auth_providers/anon-user.json': ANON,
      'functions/notifyUsers/config.json': { name: 'notifyUsers' },
      'functions/notifyUsers/source.js': 'exports = function() {};',
      'triggers/notifyUsersEvent.json': {
        id: '5b204e5446224cec9976ae7b',
        name: 'notifyUsersEvent',
        type: 'DATABASE',
        config: {
          operation_types: ['REPLACE', 'UPDATE'],
          database: 'swagstore',
          collection: 'products',
          service_name: 'mongodb-atlas',
          match: { 'fullDocument.inventory': { $gt: { $numberInt: '0' } } },
          full_document: true,
        },
        function_name: 'notifyUsers',
        disabled: false,
      },
    });
    const t = stitch.config.databaseTriggers?.get('notifyUsersEvent');
    assert.equal(t?.functionName, 'notifyUsers');
    assert.equal(t?.fullDocument, true);
    assert.deepEqual(t?.operations, ['REPLACE', 'UPDATE']);
    assert.equal(((t?.match['fullDocument.inventory'] as Record<string, unknown>).$gt as { _bsontype?: string })._bsontype, 'Int32');
    await assert.rejects(
      load(modern({ ...withSum, 'triggers/t.json': { name: 't', type: 'DATABASE', function_name: 'sum', config: { database: 'a', collection: 'b' } } })),
      configError('triggers/t.json', 'config.operation_type', /at least one/),
    );
  });

  test('the functions’ dependencies are found (package.json, node_modules folders, the tar.gz archive); a zip archive is ignored with a warning', async () => {
    const dir = await makeApp(
      modern({
        'functions/package.json': { name: 'functions', dependencies: { lodash: '^4.17.21' }, devDependencies: { jest: '*' } },
        'functions/package-lock.json': {},
        'functions/yarn.lock': '',
        'functions/node_modules/lodash/index.js': 'module.exports = {};',
        'functions/node_modules.tar.gz': 'gz',
        'functions/node_modules.zip': 'PK',
        'node_modules/other/index.js': '',
        'package.json': { name: 'whole-repo', dependencies: { ignored: '1' } },
      }),
    );
    const { config, warnings } = await loadAppDirectory(dir);
    assert.deepEqual(lines(warnings), [
      'functions/node_modules.zip: zip dependency archives are not read by Baste (ignored): make it a tar.gz (tar -czf node_modules.tar.gz node_modules/) or unpack it into functions/node_modules',
    ]);
    assert.deepEqual(config.functionDependencies, {
      folders: [join(dir, 'functions', 'node_modules'), join(dir, 'node_modules')],
      archive: join(dir, 'functions', 'node_modules.tar.gz'),
      declared: { lodash: '^4.17.21' },
      manifest: 'functions/package.json',
      manifestDir: join(dir, 'functions'),
    });
    assert.deepEqual([...config.functions.keys()], [], 'nothing under node_modules is taken for a function');
    assert.equal((await load(modern())).config.functionDependencies, undefined);
  });

  test('custom user data loads from auth/custom_user_data.json or the legacy root section; incomplete ones are refused', async () => {
    const source = { 'data_sources/mongodb-atlas/config.json': { name: 'mongodb-atlas', type: 'mongodb-atlas' } };
    const cud = { enabled: true, mongo_service_name: 'mongodb-atlas', database_name: 'app', collection_name: 'users', user_id_field: 'uid' };
    const modernOn = await load(modern({ ...source, 'auth/custom_user_data.json': cud }));
    assert.deepEqual(modernOn.config.customUserData, { serviceName: 'mongodb-atlas', database: 'app', collection: 'users', userIdField: 'uid', onUserCreationFunctionName: undefined });
    assert.deepEqual(modernOn.warnings, []);
    const legacyOn = await load(legacy({ 'config.json': { app_id: 'old-abcde', name: 'old', config_version: 20200603, custom_user_data_config: cud }, 'services/mongodb-atlas/config.json': { name: 'mongodb-atlas', type: 'mongodb-atlas' } }));
    assert.equal(legacyOn.config.customUserData?.userIdField, 'uid');
    const off = await load(legacy({ 'config.json': { app_id: 'old-abcde', name: 'old', config_version: 20200603, custom_user_data_config: { enabled: false } } }));
    assert.equal(off.config.customUserData, undefined);
    await assert.rejects(load(modern({ ...source, 'auth/custom_user_data.json': { ...cud, user_id_field: '' } })), configError('auth/custom_user_data.json', 'user_id_field'));
    await assert.rejects(load(modern({ 'auth/custom_user_data.json': cud })), configError('auth/custom_user_data.json', 'mongo_service_name'));
  });

  test('unknown files and folders are warned about; dot-entries are not', async () => {
    const { warnings } = await load(
      modern({
        'notes.txt': 'remember the milk',
        'app_config.json': {},
        'extras/a.json': {},
        'auth/extra.json': {},
        'values/README.md': '# values',
        'functions/config.json': [],
        'functions/helper.txt': 'not code',
        '.git/HEAD': 'ref: refs/heads/main',
        '.DS_Store': '',
        'values/.gitkeep': '',
      }),
    );
    assert.deepEqual(lines(warnings), [
      'app_config.json: unknown file or folder (ignored)',
      'extras: unknown file or folder (ignored)',
      'notes.txt: unknown file or folder (ignored)',
      'auth/extra.json: unknown file or folder (ignored)',
      'values/README.md: unknown file or folder (ignored)',
      'functions/helper.txt: unknown file or folder (ignored)',
    ]);
  });

  test('unknown provider types are skipped with a warning; the rest loads', async () => {
    const { config, warnings } = await load(
      modern({
        'auth/providers.json': {
          'anon-user': ANON,
          'oauth2-twitter': { name: 'oauth2-twitter', type: 'oauth2-twitter', disabled: false },
        },
      }),
    );
    assert.deepEqual([...config.providers.keys()], ['anon-user']);
    assert.deepEqual(lines(warnings), [
      'auth/providers.json: oauth2-twitter.type: provider type "oauth2-twitter" is not supported by Baste; provider "oauth2-twitter" skipped',
    ]);
  });

  test('function execution users load without warnings; empty strings mean unset', async () => {
    const script = 'function() { return { runAsSystemUser: true }; }';
    const { config, warnings } = await load(
      modern({
        'functions/config.json': [
          { name: 'f', run_as_user_id: '5f0c1e2d3c4b5a6978877665', run_as_user_id_script_source: '' },
          { name: 'g', run_as_user_id: '', run_as_user_id_script_source: script },
        ],
        'functions/f.js': 'exports = () => 1;',
        'functions/g.js': 'exports = () => 2;',
      }),
    );
    assert.equal(config.functions.get('f')?.runAsUserId, '5f0c1e2d3c4b5a6978877665');
    assert.equal(config.functions.get('f')?.runAsUserIdScriptSource, undefined);
    assert.equal(config.functions.get('g')?.runAsUserId, undefined);
    assert.equal(config.functions.get('g')?.runAsUserIdScriptSource, script);
    assert.deepEqual(lines(warnings), []);
  });

  test('a run_as_user_id that is no user id (24 lowercase hex digits) loads with a warning naming the file and field; a wrong type is refused', async () => {
    const { config, warnings } = await load(
      modern({
        'functions/config.json': [
          { name: 'byEmail', run_as_user_id: 'alice@example.com' },
          { name: 'upper', run_as_user_id: '5F0C1E2D3C4B5A6978877665' },
          { name: 'fine', run_as_user_id: '5f0c1e2d3c4b5a6978877665' },
        ],
        'functions/byEmail.js': 'exports = () => 1;',
        'functions/upper.js': 'exports = () => 1;',
        'functions/fine.js': 'exports = () => 1;',
        'services/http/config.json': { name: 'http', type: 'http', config: {} },
        'services/http/incoming_webhooks/padded/config.json': { name: 'padded', run_as_user_id: ' 5f0c1e2d3c4b5a6978877665' },
        'services/http/incoming_webhooks/padded/source.js': 'exports = () => 1;',
      }),
    );
    // Loaded as written: the call is refused at run time, as for any user that does not exist.
    assert.equal(config.functions.get('byEmail')?.runAsUserId, 'alice@example.com');
    const notAnId = 'is not a user id (24 lowercase hex digits); every call will be refused as running as a user that does not exist';
    assert.deepEqual(lines(warnings), [
      `functions/config.json: byEmail.run_as_user_id: "alice@example.com" ${notAnId}`,
      `functions/config.json: upper.run_as_user_id: "5F0C1E2D3C4B5A6978877665" ${notAnId}`,
      `services/http/incoming_webhooks/padded/config.json: run_as_user_id: " 5f0c1e2d3c4b5a6978877665" ${notAnId}`,
    ]);
    await assert.rejects(
      load(legacy({ 'functions/f/config.json': { name: 'f', run_as_user_id: 42 }, 'functions/f/source.js': 'exports = () => 1;' })),
      configError('functions/f/config.json', 'run_as_user_id', /must be a string, not a number/),
    );
  });

  test('run_as_user_id and run_as_user_id_script_source together are refused, in both layouts', async () => {
    const both = { run_as_user_id: '5f0c1e2d3c4b5a6978877665', run_as_user_id_script_source: 'function() { return "x"; }' };
    await assert.rejects(
      load(modern({ 'functions/config.json': [{ name: 'f', ...both }], 'functions/f.js': 'exports = () => 1;' })),
      configError('functions/config.json', 'f.run_as_user_id_script_source', /cannot be combined with run_as_user_id/),
    );
    await assert.rejects(
      load(legacy({ 'functions/f/config.json': { name: 'f', ...both }, 'functions/f/source.js': 'exports = () => 1;' })),
      configError('functions/f/config.json', 'run_as_user_id_script_source', /cannot be combined/),
    );
  });
});

// ---- secrets -------------------------------------------------------------------------------

describe('secrets', () => {
  test('options.secrets wins over a legacy secrets.json; material never appears in warnings', async () => {
    const dir = fixture('stitch-2018');
    const overridden = await loadAppDirectory(dir, {
      secrets: { '__legacy.oauth2-google.clientSecret': 'from-the-operator' },
    });
    assert.equal(overridden.config.secrets.get('__legacy.oauth2-google.clientSecret'), 'from-the-operator');
    const plain = await loadAppDirectory(dir);
    for (const w of plain.warnings) assert.doesNotMatch(w.message, /gOOgle-Secret-Material-123/);
  });

  test('secrets.json entries for absent providers or already-named secrets are ignored with warnings', async () => {
    const { config, warnings } = await load(
      legacy({
        'auth_providers/custom-token.json': {
          name: 'custom-token',
          type: 'custom-token',
          disabled: false,
          secret_config: { signingKeys: ['jwt-key'] },
        },
        'secrets.json': {
          auth_providers: {
            'oauth2-google': { clientSecret: 'shhh-google' },
            'custom-token': { signingKeys: 'shhh-jwt', audience: 'not-really-secret' },
          },
          services: { mongodb: { uri: 'shhh-uri' } },
        },
      }),
      { 'jwt-key': 'j'.repeat(32) },
    );
    assert.deepEqual(lines(warnings), [
      'secrets.json: services.mongodb: Baste does not serve this service; its secrets are not used (ignored)',
      'secrets.json: auth_providers.oauth2-google: no supported provider "oauth2-google" is configured (ignored)',
      "secrets.json: auth_providers.custom-token.signingKeys: ignored, the provider's secret_config already names a secret for it",
    ]);
    assert.deepEqual(config.providers.get('custom-token')?.secretConfig, {
      audience: '__legacy.custom-token.audience',
    });
    assert.deepEqual([...config.secrets.keys()].sort(), ['__legacy.custom-token.audience', 'jwt-key']);
    for (const line of lines(warnings)) assert.doesNotMatch(line, /shhh/);
  });

  test('a non-string secret in secrets.json is refused without echoing it', async () => {
    const dir = await makeApp(legacy({ 'secrets.json': { auth_providers: { 'anon-user': { key: ['shhh'] } } } }));
    await assert.rejects(loadAppDirectory(dir), (e: unknown) => {
      configError('secrets.json', 'auth_providers.anon-user.key', /must be a string/)(e);
      assert.doesNotMatch(String((e as Error).message), /shhh/);
      return true;
    });
  });

  test('secret names in secret_config that are not provided are warned about (enabled providers only)', async () => {
    const { warnings } = await load(
      modern({
        'auth/providers.json': {
          'anon-user': ANON,
          'oauth2-google': {
            name: 'oauth2-google',
            type: 'oauth2-google',
            disabled: false,
            config: { clientId: 'id' },
            secret_config: { clientSecret: 'google-secret' },
          },
          'custom-token': { name: 'custom-token', type: 'custom-token', disabled: true, secret_config: { signingKeys: ['k'] } },
        },
      }),
    );
    assert.deepEqual(lines(warnings), [
      'auth/providers.json: oauth2-google.secret_config.clientSecret: secret "google-secret" is not provided (--secrets or BASTE_SECRET_google-secret)',
    ]);
  });

  test('readSecrets: file and BASTE_SECRET_* variables; the environment overrides the file', async () => {
    const file = await writeScratchFile('secrets-ok.json', JSON.stringify({ google: 'from-file', shared: 'file' }));
    const secrets = await readSecrets({
      file,
      env: {
        BASTE_SECRET_shared: 'env',
        BASTE_SECRET_JWT_KEY: 'jwt',
        BASTE_SECRET_jwt_key: 'lower',
        BASTE_SECRET_unset: undefined,
        PATH: '/usr/bin',
      },
    });
    assert.deepEqual({ ...secrets }, { google: 'from-file', shared: 'env', JWT_KEY: 'jwt', jwt_key: 'lower' });
  });

  test('readSecrets without a file reads only the environment', async () => {
    assert.deepEqual({ ...(await readSecrets({ env: { BASTE_SECRET_a: '1', HOME: '/root' } })) }, { a: '1' });
  });

  test('readSecrets refuses a non-string value, naming file and key only', async () => {
    const file = await writeScratchFile('secrets-num.json', JSON.stringify({ port: 8080 }));
    await assert.rejects(readSecrets({ file, env: {} }), configError(file, 'port', /must be a string/));
  });

  test('readSecrets refuses a secret over 500 characters without echoing it', async () => {
    const long = 'x'.repeat(500) + 'TAIL';
    const file = await writeScratchFile('secrets-long.json', JSON.stringify({ big: long, fine: 'y'.repeat(500) }));
    await assert.rejects(readSecrets({ file, env: {} }), (e: unknown) => {
      configError(file, 'big', /longer than 500/)(e);
      assert.doesNotMatch((e as Error).message, /TAIL|xxxx/);
      return true;
    });
    await assert.rejects(
      readSecrets({ env: { BASTE_SECRET_big: long } }),
      configError('environment', 'BASTE_SECRET_big', /longer than 500/),
    );
  });

  test('readSecrets refuses bad names, a non-object file, unreadable and malformed files', async () => {
    await assert.rejects(
      readSecrets({ env: { 'BASTE_SECRET_bad.name': 'v' } }),
      configError('environment', 'BASTE_SECRET_bad.name', /1–64 characters/),
    );
    await assert.rejects(readSecrets({ env: { BASTE_SECRET_: 'v' } }), configError('environment', 'BASTE_SECRET_'));
    const array = await writeScratchFile('secrets-array.json', '["a"]');
    await assert.rejects(readSecrets({ file: array, env: {} }), configError(array, undefined, /must contain an object/));
    const missing = join(tmpdir(), 'baste-no-such-secrets-file.json');
    await assert.rejects(readSecrets({ file: missing, env: {} }), configError(missing, undefined, /ENOENT/));
    const broken = await writeScratchFile('secrets-broken.json', '{"token": "hunter2-material" "x": 1}');
    await assert.rejects(readSecrets({ file: broken, env: {} }), (e: unknown) => {
      configError(broken, undefined, /not valid JSON: .* at line 1, column 30/)(e);
      assert.doesNotMatch((e as Error).message, /hunter2/);
      return true;
    });
  });
});

// ---- refusals ------------------------------------------------------------------------------

describe('refusals', () => {
  for (const [label, root] of [
    ['missing', { name: 'test', config_version: 20210101 }],
    ['empty', { app_id: '', name: 'test' }],
    ['not a string', { app_id: 42, name: 'test' }],
    ['not a path segment', { app_id: 'a/b', name: 'test' }],
  ] as const) {
    test(`app_id ${label} is refused`, async () => {
      const dir = await makeApp(modern({ 'realm_config.json': root }));
      await assert.rejects(loadAppDirectory(dir), configError('realm_config.json', 'app_id'));
    });
  }

  test('no root file at all is refused', async () => {
    const dir = await makeApp({ 'auth/providers.json': { 'anon-user': ANON } });
    await assert.rejects(loadAppDirectory(dir), configError(dir, undefined, /no app config found/));
  });

  test('a directory that does not exist is refused', async () => {
    const dir = join(tmpdir(), 'baste-no-such-app-dir');
    await assert.rejects(loadAppDirectory(dir), configError(dir, undefined, /not a folder/));
  });

  test('a bad app name is refused', async () => {
    const dir = await makeApp(modern({ 'realm_config.json': { app_id: 'x-abcde', name: 'my app!' } }));
    await assert.rejects(loadAppDirectory(dir), configError('realm_config.json', 'name', /1–32 characters/));
  });

  test('malformed JSON names the file and the position', async () => {
    const dir = await makeApp(modern({ 'auth/providers.json': '{\n  "anon-user": {\n    "type": "anon-user",\n  }\n}\n' }));
    await assert.rejects(
      loadAppDirectory(dir),
      configError('auth/providers.json', undefined, /^not valid JSON: expected a property name in double quotes at line 4, column 3$/),
    );
  });

  test('a malformed root file is refused the same way', async () => {
    const dir = await makeApp(modern({ 'realm_config.json': '{ "app_id": "x-abcde", ' }));
    await assert.rejects(loadAppDirectory(dir), configError('realm_config.json', undefined, /unexpected end of input/));
  });

  test('a JSON file with the wrong top-level type is refused', async () => {
    let dir = await makeApp(modern({ 'auth/providers.json': [ANON] }));
    await assert.rejects(loadAppDirectory(dir), configError('auth/providers.json', undefined, /must contain an object/));
    dir = await makeApp(modern({ 'realm_config.json': 'null' }));
    await assert.rejects(loadAppDirectory(dir), configError('realm_config.json', undefined, /must contain an object/));
    dir = await makeApp(modern({ 'functions/config.json': { name: 'f' } }));
    await assert.rejects(loadAppDirectory(dir), configError('functions/config.json', undefined, /must contain an array/));
    dir = await makeApp(modern({ 'values/v.json': '"just a string"' }));
    await assert.rejects(loadAppDirectory(dir), configError('values/v.json', undefined, /must contain an object/));
  });

  const userpass = (patch: Record<string, unknown>) => ({
    name: 'local-userpass',
    type: 'local-userpass',
    disabled: false,
    config: { autoConfirm: true },
    ...patch,
  });
  for (const [field, patch] of [
    ['local-userpass.disabled', { disabled: 'yes' }],
    ['local-userpass.config', { config: [] }],
    ['local-userpass.type', { type: 7 }],
    ['local-userpass.secret_config.key', { secret_config: { key: 1 } }],
    ['local-userpass.metadata_fields', { metadata_fields: { name: 'email' } }],
    ['local-userpass.metadata_fields[0]', { metadata_fields: ['email'] }],
    ['local-userpass.metadata_fields[0].name', { metadata_fields: [{ required: true }] }],
    ['local-userpass.metadata_fields[0].required', { metadata_fields: [{ name: 'email', required: 'no' }] }],
    ['local-userpass.metadata_fields[0].field_name', { metadata_fields: [{ name: 'email', field_name: 'f'.repeat(65) }] }],
    ['local-userpass.redirect_uris', { redirect_uris: 'https://a.example' }],
    ['local-userpass.domain_restrictions[1]', { domain_restrictions: ['a.example', null] }],
  ] as const) {
    test(`a wrong type is refused naming auth/providers.json and ${field}`, async () => {
      const dir = await makeApp(modern({ 'auth/providers.json': { 'anon-user': ANON, 'local-userpass': userpass(patch) } }));
      await assert.rejects(loadAppDirectory(dir), configError('auth/providers.json', field));
    });
  }

  test('a provider entry that is not an object is refused', async () => {
    const dir = await makeApp(modern({ 'auth/providers.json': { 'anon-user': true } }));
    await assert.rejects(loadAppDirectory(dir), configError('auth/providers.json', 'anon-user', /must be an object/));
  });

  test('in legacy layouts the field is named within the provider file', async () => {
    const dir = await makeApp(legacy({ 'auth_providers/local-userpass.json': userpass({ disabled: 'yes' }) }));
    await assert.rejects(loadAppDirectory(dir), configError('auth_providers/local-userpass.json', 'disabled', /true or false/));
  });

  test('two legacy files configuring the same provider are refused', async () => {
    const dir = await makeApp(legacy({ 'auth_providers/anon.json': ANON }));
    await assert.rejects(
      loadAppDirectory(dir),
      configError('auth_providers/anon.json', 'name', /configured twice \(also in auth_providers\/anon-user.json\)/),
    );
  });

  test('no enabled provider is refused, saying why and where providers are configured', async () => {
    const dir = await makeApp(
      modern({
        'auth/providers.json': {
          'anon-user': { ...ANON, disabled: true },
          'local-userpass': userpass({ disabled: true }),
        },
      }),
    );
    await assert.rejects(
      loadAppDirectory(dir),
      configError(
        'auth/providers.json',
        undefined,
        /^no authentication provider is enabled \(all of anon-user, local-userpass are disabled\), so no client could log in; enable at least one in auth\/providers.json/,
      ),
    );
  });

  test('an export with no providers at all is refused the same way', async () => {
    const dir = await makeApp({ 'config.json': { app_id: 'old-abcde', name: 'old', config_version: 20200603 } });
    await assert.rejects(
      loadAppDirectory(dir),
      configError('auth_providers/<name>.json', undefined, /^no authentication provider is enabled \(none of a type Baste serves is configured\)/),
    );
  });

  test('providers of unsupported types do not count as enabled', async () => {
    const dir = await makeApp(
      modern({ 'auth/providers.json': { saml: { name: 'saml', type: 'saml', disabled: false } } }),
    );
    await assert.rejects(loadAppDirectory(dir), configError('auth/providers.json', undefined, /no authentication provider is enabled/));
  });

  test('a function listed in functions/config.json without a source file is refused', async () => {
    const dir = await makeApp(
      modern({
        'functions/config.json': [{ name: 'sum' }, { name: 'auth/emailpass/onCreate' }],
        'functions/sum.js': 'exports = (a, b) => a + b;',
      }),
    );
    await assert.rejects(
      loadAppDirectory(dir),
      configError('functions/config.json', 'auth/emailpass/onCreate', /^no source file functions\/auth\/emailpass\/onCreate.js$/),
    );
  });

  test('a legacy function folder with config.json but no source.js is refused', async () => {
    const dir = await makeApp(
      legacy({
        'functions/a/config.json': { name: 'a' },
        'functions/a/source.js': 'exports = () => 1;',
        'functions/b/config.json': { name: 'b' },
      }),
    );
    // Legacy shape is detected from functions/a; functions/b is then incomplete.
    await assert.rejects(loadAppDirectory(dir), configError('functions/b/config.json', undefined, /no source file functions\/b\/source.js/));
  });

  for (const [label, entry, field] of [
    ['an unsafe name', { name: '../escape' }, '[0].name'],
    ['a missing name', { private: true }, '[0].name'],
    ['a non-boolean private', { name: 'f', private: 'yes' }, 'f.private'],
    ['a non-boolean run_as_system', { name: 'f', run_as_system: 1 }, 'f.run_as_system'],
  ] as const) {
    test(`a function entry with ${label} is refused`, async () => {
      const dir = await makeApp(modern({ 'functions/config.json': [entry], 'functions/f.js': 'exports = () => 1;' }));
      await assert.rejects(loadAppDirectory(dir), configError('functions/config.json', field));
    });
  }

  test('a function listed twice is refused', async () => {
    const dir = await makeApp(
      modern({ 'functions/config.json': [{ name: 'f' }, { name: 'f', private: true }], 'functions/f.js': 'exports = () => 1;' }),
    );
    await assert.rejects(loadAppDirectory(dir), configError('functions/config.json', '[1].name', /listed twice/));
  });
});

// ---- the result ----------------------------------------------------------------------------

describe('the loaded app', () => {
  test('is immutable all the way down', async () => {
    const { config, warnings } = await loadAppDirectory(exampleApp);
    assert.ok(Object.isFrozen(config.providers) && Object.isFrozen(config.values) && Object.isFrozen(config.functions));
    assert.throws(() => (config.providers as Map<string, unknown>).set('x', {}), TypeError);
    assert.throws(() => (config.providers as Map<string, unknown>).delete('anon-user'), TypeError);
    assert.throws(() => (config.secrets as Map<string, string>).clear(), TypeError);
    assert.throws(() => {
      (config as { appId: string }).appId = 'other';
    }, TypeError);
    assert.throws(() => {
      (config.providers.get('local-userpass')?.config as Record<string, unknown>).autoConfirm = false;
    }, TypeError);
    assert.throws(() => (warnings as ConfigWarning[]).push({ file: 'x', message: 'y' }), TypeError);
    // Collection rules too: compiled rule expressions are cached by object, so they must not change.
    const items = config.dataSources?.get('mongodb-atlas')?.collections.get('todo.items');
    assert.ok(items);
    assert.throws(() => (items.roles[0] as { read: unknown }).read = false, TypeError);
    assert.throws(() => (config.dataSources!.get('mongodb-atlas')!.collections as Map<string, unknown>).delete('todo.items'), TypeError);
    assert.equal(config.providers.size, 3);
  });

  test('two loads of the same export agree on every derived id', async () => {
    const a = await loadAppDirectory(exampleApp);
    const b = await loadAppDirectory(exampleApp);
    assert.equal(a.config.domainId, b.config.domainId);
    assert.match(a.config.domainId, /^[0-9a-f]{24}$/);
    assert.deepEqual(
      [...a.config.providers.values()].map((p) => p.id),
      [...b.config.providers.values()].map((p) => p.id),
    );
  });
});

describe('locateJsonError', () => {
  test('valid JSON has no error', () => {
    assert.equal(locateJsonError('{"a": [1, -2.5e3, "x\\u0041", true, null]}'), undefined);
  });

  test('positions are 1-based lines and columns', () => {
    assert.deepEqual(locateJsonError('{"a": }'), { line: 1, column: 7, problem: 'unexpected character' });
    assert.deepEqual(locateJsonError('{\n "a": 1,\n}'), {
      line: 3,
      column: 1,
      problem: 'expected a property name in double quotes',
    });
    assert.deepEqual(locateJsonError('[1] 2'), { line: 1, column: 5, problem: 'unexpected text after the JSON value' });
    assert.deepEqual(locateJsonError(''), { line: 1, column: 1, problem: 'unexpected end of input' });
  });

  test('agrees with JSON.parse on what is invalid', () => {
    for (const text of ['{"a":1}', '[01]', '"\\x"', '"\t"', '{"a" 1}', '1.', '-', 'tru', '[1,]', '{"a":1,}', ' 7 ']) {
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      assert.equal(locateJsonError(text) === undefined, valid, text);
    }
  });
});

// ---- what validates cannot fail at run time --------------------------------------------------

describe('rule expressions and function sources are checked', () => {
  const rules = (role: Record<string, unknown>) =>
    modern({ 'data_sources/mongodb-atlas/shop/orders/rules.json': { database: 'shop', collection: 'orders', roles: [{ name: 'owner', ...role }] } });
  const FILE = 'data_sources/mongodb-atlas/shop/orders/rules.json';

  test('a rule that is not an expression, an unknown operator or expansion fails the load, naming the file and the rule', async () => {
    await assert.rejects(load(rules({ read: 'yes' })), configError(FILE, 'roles[0] (owner).read', /must be true, false or an expression object/));
    await assert.rejects(load(rules({ apply_when: { owner: { $equals: '%%user.id' } } })), configError(FILE, 'roles[0] (owner).apply_when.owner', /unknown operator '\$equals'/));
    await assert.rejects(load(rules({ apply_when: { '%or': [{ '%%usr.id': 'x' }] } })), configError(FILE, 'roles[0] (owner).apply_when.%or[0].%%usr.id', /unknown expansion '%%usr'/));
    await assert.rejects(
      load(rules({ fields: { total: { read: { '%and': {} } } } })),
      configError(FILE, 'roles[0] (owner).fields.total.read.%and', /needs an array of expressions/),
    );
    await assert.rejects(
      load(modern({ 'functions/config.json': [{ name: 'f', can_evaluate: { '%%request.remoteIPAddress': { '%inn': ['1.2.3.4'] } } }], 'functions/f.js': 'exports = () => 1;' })),
      configError('functions/f.js', 'can_evaluate.%%request.remoteIPAddress', /unknown operator '%inn'/),
    );
  });

  test('valid expressions that depend on run-time values load (a failing comparison never hides a broken one)', async () => {
    const { config } = await load(
      rules({
        apply_when: { '%or': [{ owner: '%%user.id' }, { '%%user.custom_data.role': { $in: ['admin'] } }] },
        read: { '%%root._id': { '%stringToOid': '%%user.id' } },
        write: { '%%true': true, '%%root.total': { $gt: 0 } },
        document_filters: { read: { owner: '%%user.id' }, write: { owner: '%%user.id' } },
      }),
    );
    assert.equal(config.dataSources?.get('mongodb-atlas')?.collections.get('shop.orders')?.roles.length, 1);
    await assert.rejects(load(rules({ read: { '%%root.total': { $gt: 1 }, '%%root.x': { $bogus: 1 } } })), configError(FILE, 'roles[0] (owner).read.%%root.x', /unknown operator/));
  });

  test('schema validate expressions, Stitch v1 valid rules and %function calls are checked too', async () => {
    const schema = { bsonType: 'object', properties: { total: { bsonType: 'int', validate: { '%%this': { '%gte': 0 } } }, note: { validate: { '%%this': { $sizeOf: 2 } } } } };
    await assert.rejects(
      load(modern({ 'data_sources/mongodb-atlas/shop/orders/schema.json': schema })),
      configError('data_sources/mongodb-atlas/shop/orders/schema.json', 'schema.properties.note.validate.%%this', /unknown operator '\$sizeOf'/),
    );
    const v1 = 'services/mongodb-atlas/rules/shop.orders.json';
    const withV1 = (rule: Record<string, unknown>) =>
      legacy({ 'services/mongodb-atlas/config.json': { name: 'mongodb-atlas', type: 'mongodb-atlas', config: {} }, [v1]: { namespace: 'shop.orders', ...rule } });
    await assert.rejects(load(withV1({ valid: 'yes' })), configError(v1, 'valid rules (as schema).validate', /must be true, false or an expression object/));
    await assert.rejects(
      load(withV1({ fields: { total: { valid: { '%%this': { '%gt': 0 } } }, note: { valid: { '%%thiss': 1 } } } })),
      configError(v1, 'valid rules (as schema).properties.note.validate.%%thiss', /unknown expansion/),
    );
    await assert.rejects(
      load(rules({ apply_when: { '%%true': { '%function': { name: 'isAdmin', arguments: ['%%user.id'] } } } })),
      configError(FILE, 'roles[0] (owner).apply_when.%%true.%function', /calls function 'isAdmin', which is not defined in functions\//),
    );
    const withFn = { 'functions/config.json': [{ name: 'isAdmin' }], 'functions/isAdmin.js': 'exports = () => true;' };
    const ok = await load(
      modern({
        ...withFn,
        'data_sources/mongodb-atlas/shop/orders/rules.json': { database: 'shop', collection: 'orders', roles: [{ name: 'admin', apply_when: { '%%true': { '%function': { name: 'isAdmin', arguments: [] } } }, read: true }] },
        'data_sources/mongodb-atlas/shop/orders/schema.json': { bsonType: 'object', properties: { total: { validate: { '%%this': { '%gte': 0 } } } } },
      }),
    );
    assert.equal(ok.config.dataSources?.get('mongodb-atlas')?.collections.get('shop.orders')?.roles.length, 1);
  });

  test('run_as_user_id_script_source is compiled too, its errors named with the file and the script', async () => {
    const { config } = await load(
      legacy({
        'functions/asOwner/config.json': { name: 'asOwner', run_as_user_id_script_source: 'function(payload) {\n  return payload.owner +;\n}' },
        'functions/asOwner/source.js': 'exports = () => 1;',
        'functions/fine/config.json': { name: 'fine', run_as_user_id_script_source: 'function() { return "5f0c1d2e3f4a5b6c7d8e9f01"; }' },
        'functions/fine/source.js': 'exports = () => 1;',
      }),
    );
    const problems = checkFunctionSources(config);
    assert.deepEqual(problems.map((p) => p.file), ['functions/asOwner/source.js (run_as_user_id_script_source)']);
    assert.match(problems[0]!.reason, /^syntax error at line 2: Unexpected token/);
  });

  test('checkFunctionSources names each broken function with its own line; valid modern syntax passes', async () => {
    const { config } = await load(
      modern({
        'functions/config.json': [{ name: 'ok' }, { name: 'nested/broken' }],
        'functions/ok.js': 'exports = async function(a) {\n  return a?.b ?? (await context.functions.execute("x"));\n};\n',
        'functions/nested/broken.js': 'exports = function() {\n  const a = 1;\n  return a +;\n};\n',
      }),
    );
    const problems = checkFunctionSources(config);
    assert.deepEqual(problems.map((p) => p.file), ['functions/nested/broken.js']);
    assert.match(problems[0]!.reason, /^syntax error at line 3: Unexpected token/);
  });
});
