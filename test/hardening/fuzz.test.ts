// Malformed input over every route shape: generated bodies, path parameters, query strings and
// tokens (EJSON wrappers that decode to nothing usable, NUL characters, deep nesting, wrong types,
// huge values). Every answer must be below 500 and, when an error, in the Stitch shape; every
// refused request must leave the store and the documents as they were. The known cases come
// first, then `COUNT` generated ones from a seeded generator (BASTE_HARDENING_SEED to replay).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AppConfig, DataSourceConfig } from '../../src/app/model.js';
import { AdminTokens } from '../../src/admin/tokens.js';
import { consoleFiles } from '../../src/http/routes/admin-console.js';
import { ADMIN_CONSOLE_DIR } from '../../src/server.js';
import { appConfig, appFunction, autoConfirmUserpass, provider, role } from '../helpers/server.js';
import { BACKENDS, FULL, isStitchError, LocationProbe, rawRequest, send, startHardened, Tally, type Answer, type HardenedServer } from './harness.js';
import { seededRandom } from '../helpers/random.js';

const COUNT = FULL ? 20_000 : 700;
const SEED = Number(process.env.BASTE_HARDENING_SEED ?? 20240611);

/** Small seeded PRNG, so a failing run can be replayed. */
const prng = seededRandom;
type Rng = ReturnType<typeof prng>;

const NASTY_STRINGS = [
  '', ' ', 'a\u0000b', '\u0000', 'x@y\u0000.z', '\ud800', '😀', '\r\n', 'null', 'undefined', '%00', '../../../etc/passwd',
  '0'.repeat(24), 'z'.repeat(24), 'a'.repeat(257), 'x'.repeat(70_000), '$where', '{"$gt":""}', 'user@example.com', 'a.b.c',
  'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'Bearer', '__proto__', 'constructor', 'local-userpass', 'mongodb-atlas',
];
const EJSON_WRAPPERS: unknown[] = [
  { $undefined: true }, { $symbol: 'x' }, { $numberLong: 'x' }, { $numberLong: '99999999999999999999' }, { $numberInt: 'x' },
  { $numberInt: '99999999999' }, { $numberDouble: 'x' }, { $numberDecimal: 'x' }, { $date: 'x' }, { $date: { $numberLong: 'x' } },
  { $date: { $numberLong: '9999999999999999999' } }, { $oid: 'x' }, { $oid: 5 }, { $binary: { base64: '!!', subType: 'zz' } },
  { $binary: 'x' }, { $regularExpression: { pattern: '(', options: 'z' } }, { $regex: '(', $options: 'q' }, { $code: 'while(1){}' },
  { $minKey: 1 }, { $maxKey: 'x' }, { $timestamp: { t: 'x', i: 1 } }, { $dbPointer: {} }, { $uuid: 'x' }, { $where: 'sleep(1000)' },
  { $expr: { $function: { body: 'x', args: [], lang: 'js' } } }, { $gt: '' }, { $regex: '.*' },
];
const NUMBERS = [0, -1, 1.5, 1e308, -0, 2 ** 53 + 1, -(2 ** 31), 2 ** 31, 123456789012];

/** A JSON text nested `depth` deep (built as text: deep values overflow JSON.stringify). */
const deepArray = (depth: number, inner = '1') => '['.repeat(depth) + inner + ']'.repeat(depth);
const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

function nasty(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 2 ? 5 : 8)) {
    case 0:
    case 1:
      return rng.pick(NASTY_STRINGS);
    case 2:
      return rng.pick(EJSON_WRAPPERS);
    case 3:
      return rng.pick(NUMBERS);
    case 4:
      return rng.pick([null, true, false, [], {}]);
    case 5:
      return Array.from({ length: rng.int(4) }, () => nasty(rng, depth + 1));
    default: {
      const keys = ['a', '$gt', 'a.b', '', '\u0000', 'constructor', 'name', 'email', 'password', '$set', '_id', 'owner_id'];
      return Object.fromEntries(Array.from({ length: rng.int(4) }, () => [rng.pick(keys), nasty(rng, depth + 1)]));
    }
  }
}

/** A body: a generated object, sometimes with one field of the route's swapped for a nasty value, sometimes raw text. */
function nastyBody(rng: Rng, fields: Record<string, unknown>): string {
  switch (rng.int(10)) {
    case 0:
      return rng.pick(['', 'null', '[]', '"x"', '1', '{', '{"a":}', deepArray(10_000), deepObject(10_000), '{"$undefined":true}', '{"a":"\\u0000"}']);
    case 1:
      return JSON.stringify(nasty(rng));
    default: {
      const body: Record<string, unknown> = { ...fields };
      const keys = Object.keys(body);
      for (let i = 0, n = 1 + rng.int(2); i < n && keys.length; i++) body[rng.pick(keys)] = nasty(rng);
      return JSON.stringify(body);
    }
  }
}

/** encodeURIComponent, which throws on a lone surrogate: those go as the bytes of one. */
const enc = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return encodeURIComponent(s.replace(/[\ud800-\udfff]/g, 'x')) + '%ED%A0%80';
  }
};

interface Ctx {
  server: HardenedServer;
  access: string;
  refresh: string;
  admin: string;
}
type Req = { label: string; method: string; path: string; body?: string; token?: string; contentType?: string };

/** One generated request over the route shapes. */
function generate(rng: Rng, c: Ctx): Req {
  const P = `/api/client/v2.0/app/${c.server.appId}`;
  const A = `/api/admin/v3.0/apps/${c.server.appId}`;
  const s = () => {
    const v = nasty(rng);
    return typeof v === 'string' ? v : JSON.stringify(v);
  };
  const token = () => rng.pick([c.access, c.refresh, c.admin, s(), `${c.access}x`, c.access.split('.').slice(0, 2).join('.') + '.', c.refresh.replace(/\./g, '..')]);
  const anyProvider = () => rng.pick(['local-userpass', 'api-key', 'custom-function', 'custom-token', 'oauth2-google', s()]);
  const userpassFlow = () => rng.pick(['register', 'confirm', 'confirm/send', 'confirm/call', 'reset/send', 'reset/call', 'reset']);
  const shapes: (() => Req)[] = [
    () => ({ label: 'location', method: 'GET', path: `${P}/location?${enc(s())}=${enc(s())}` }),
    () => ({ label: 'login', method: 'POST', path: `${P}/auth/providers/${enc(anyProvider())}/login?link=${enc(s())}`, body: nastyBody(rng, { username: 'u@example.com', password: 'secret123', key: 'k', token: 'a.b.c', pin: '1', options: { device: { deviceId: '0'.repeat(24) } } }) }),
    () => ({ label: 'link', method: 'POST', path: `${P}/auth/providers/local-userpass/login?link=true`, token: token(), body: nastyBody(rng, { username: 'u@example.com', password: 'secret123' }) }),
    () => ({ label: 'oauth redirect', method: 'GET', path: `${P}/auth/providers/${enc(anyProvider())}/login?redirect=${enc(s())}&state=${enc(s())}&providerRedirectHeader=${enc(s())}` }),
    () => ({ label: 'oauth callback', method: 'GET', path: `/api/client/v2.0/auth/callback?state=${enc(s())}&code=${enc(s())}&error=${enc(s())}` }),
    () => ({ label: 'profile', method: 'GET', path: '/api/client/v2.0/auth/profile', token: s() }),
    () => ({ label: 'refresh', method: 'POST', path: '/api/client/v2.0/auth/session', token: rng.pick([c.access, s()]) }),
    () => ({ label: 'logout', method: 'DELETE', path: '/api/client/v2.0/auth/session', token: rng.pick([c.access, s()]) }),
    () => ({ label: 'delete self', method: 'DELETE', path: '/api/client/v2.0/auth/delete', token: rng.pick([c.refresh, s()]) }),
    () => ({ label: `userpass`, method: 'POST', path: `${P}/auth/providers/${enc(rng.pick(['local-userpass', s()]))}/${userpassFlow()}`, body: nastyBody(rng, { email: 'nobody@example.com', password: 'secret123', token: 'a'.repeat(64), tokenId: 'b'.repeat(24), arguments: [] }) }),
    () => ({ label: 'api key create', method: 'POST', path: '/api/client/v2.0/auth/api_keys', token: rng.pick([c.refresh, c.access, s()]), body: nastyBody(rng, { name: s() }) }),
    () => ({ label: 'api key by id', method: rng.pick(['GET', 'DELETE']), path: `/api/client/v2.0/auth/api_keys/${enc(s())}`, token: rng.pick([c.refresh, s()]) }),
    () => ({ label: 'api key toggle', method: 'PUT', path: `/api/client/v2.0/auth/api_keys/${enc(s())}/${rng.pick(['enable', 'disable'])}`, token: rng.pick([c.refresh, s()]) }),
    () => ({ label: 'function call', method: 'POST', path: `${P}/functions/call?${enc(s())}=${enc(s())}`, token: rng.pick([c.access, c.access, token()]), body: nastyBody(rng, { name: rng.pick(['echo', 'authFn', s()]), arguments: [nasty(rng)] }) }),
    () => {
      const op = rng.pick(['find', 'findOne', 'aggregate', 'count', 'insertOne', 'insertMany', 'updateOne', 'updateMany', 'deleteOne', 'deleteMany', 'findOneAndUpdate', s()]);
      const arg: Record<string, unknown> = { database: 'app', collection: 'notes', query: {}, limit: 1, pipeline: [], document: { owner: 'x' }, update: { $set: { a: 1 } } };
      const key = rng.pick(Object.keys(arg));
      arg[key] = nasty(rng);
      const body = rng.int(4) === 0 ? nastyBody(rng, { name: op, service: 'mongodb-atlas', arguments: [arg] }) : JSON.stringify({ name: op, service: rng.pick(['mongodb-atlas', 'mongodb-atlas', s()]), arguments: [arg] });
      return { label: `data ${op.slice(0, 20)} ${key}`, method: 'POST', path: `${P}/functions/call`, token: c.access, body };
    },
    () => ({ label: 'endpoint', method: rng.pick(['GET', 'POST', 'PUT']), path: `${P}/endpoint/${enc(s())}?${enc(s())}=${enc(s())}`, body: rng.int(2) ? nastyBody(rng, { a: 1 }) : undefined }),
    () => ({ label: 'webhook', method: 'POST', path: `${P}/service/${enc(s())}/incoming_webhook/${enc(s())}?secret=${enc(s())}`, body: nastyBody(rng, { a: 1 }) }),
    () => ({ label: 'admin login', method: 'POST', path: '/api/admin/v3.0/auth/providers/mongodb-cloud/login', body: nastyBody(rng, { username: 'ops', apiKey: 'x' }) }),
    () => ({ label: 'admin refresh', method: 'POST', path: '/api/admin/v3.0/auth/session', token: token() }),
    () => ({ label: 'admin users list', method: 'GET', path: `${A}/users?after=${enc(s())}&sort=${enc(s())}&desc=${enc(s())}&status=${enc(s())}&provider_types=${enc(s())}&search=${enc(s())}`, token: rng.pick([c.admin, token()]) }),
    () => ({ label: 'admin user', method: rng.pick(['GET', 'DELETE']), path: `${A}/users/${enc(s())}${rng.pick(['', '/devices'])}`, token: rng.pick([c.admin, token()]) }),
    () => ({ label: 'admin user action', method: 'PUT', path: `${A}/users/${enc(s())}/${rng.pick(['enable', 'disable', 'logout'])}`, token: c.admin }),
    () => ({ label: 'admin create user', method: 'POST', path: `${A}/users`, token: c.admin, body: nastyBody(rng, { email: s(), password: s() }) }),
    () => ({ label: 'admin verify token', method: 'POST', path: `${A}/users/verify_token`, token: c.admin, body: nastyBody(rng, { token: s() }) }),
    () => ({ label: 'admin registrations', method: rng.pick(['POST', 'DELETE']), path: `${A}/user_registrations/by_email/${enc(s())}${rng.pick(['/confirm', '/send_confirm', '/run_confirm', ''])}`, token: c.admin }),
    () => ({ label: 'admin pending', method: 'GET', path: `${A}/user_registrations/pending_users?after=${enc(s())}`, token: c.admin }),
    () => ({ label: 'admin api keys', method: rng.pick(['GET', 'DELETE', 'PUT']), path: `${A}/api_keys/${enc(s())}${rng.pick(['', '/enable', '/disable'])}`, token: c.admin }),
    () => ({ label: 'admin expiration', method: 'PUT', path: `${A}/security/refresh_token_expiration`, token: c.admin, body: nastyBody(rng, { expiration_time_seconds: 1 }) }),
    () => ({ label: 'admin audit', method: 'GET', path: `${A}/audit_log?after=${enc(s())}`, token: c.admin }),
    () => ({ label: 'admin app', method: 'GET', path: `/api/admin/v3.0/apps/${enc(s())}/users`, token: c.admin }),
    () => ({ label: 'console', method: 'GET', path: `/admin/${enc(s()).slice(0, 200)}${rng.int(2) ? '.js' : ''}` }),
  ];
  const req = rng.pick(shapes)();
  // Now and then a content type other than JSON.
  if (req.body !== undefined && rng.int(12) === 0) req.contentType = rng.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', '']);
  return req;
}

/** The issue's known 500s, each a request that must now be a Stitch-shaped 4xx. */
function knownCases(c: Ctx): Req[] {
  const P = `/api/client/v2.0/app/${c.server.appId}`;
  const A = `/api/admin/v3.0/apps/${c.server.appId}`;
  const data = (arg: unknown) => JSON.stringify({ name: 'find', service: 'mongodb-atlas', arguments: [arg] });
  return [
    { label: 'login body {$undefined}', method: 'POST', path: `${P}/auth/providers/local-userpass/login`, body: '{"$undefined":true}' },
    { label: 'function arguments 10,000 deep', method: 'POST', path: `${P}/functions/call`, token: c.access, body: `{"name":"echo","arguments":${deepArray(10_000)}}` },
    { label: 'function argument object 10,000 deep', method: 'POST', path: `${P}/functions/call`, token: c.access, body: `{"name":"echo","arguments":[${deepObject(10_000)}]}` },
    { label: 'data query 10,000 deep', method: 'POST', path: `${P}/functions/call`, token: c.access, body: `{"name":"find","service":"mongodb-atlas","arguments":[{"database":"app","collection":"notes","query":${deepObject(10_000)}}]}` },
    { label: 'limit {$symbol}', method: 'POST', path: `${P}/functions/call`, token: c.access, body: data({ database: 'app', collection: 'notes', query: {}, limit: { $symbol: 'x' } }) },
    { label: 'NUL in username', method: 'POST', path: `${P}/auth/providers/local-userpass/login`, body: JSON.stringify({ username: 'a\u0000b@example.com', password: 'secret123' }) },
    { label: 'NUL in register email', method: 'POST', path: `${P}/auth/providers/local-userpass/register`, body: JSON.stringify({ email: 'a\u0000b@example.com', password: 'secret123' }) },
    { label: 'NUL in reset/send email', method: 'POST', path: `${P}/auth/providers/local-userpass/reset/send`, body: JSON.stringify({ email: 'a\u0000b@example.com' }) },
    { label: 'NUL in token id', method: 'POST', path: `${P}/auth/providers/local-userpass/confirm`, body: JSON.stringify({ token: 'a', tokenId: 'b\u0000c' }) },
    { label: 'NUL in custom-function username', method: 'POST', path: `${P}/auth/providers/custom-function/login`, body: JSON.stringify({ username: 'a\u0000b' }) },
    { label: 'NUL in custom-token sub', method: 'POST', path: `${P}/auth/providers/custom-token/login`, body: JSON.stringify({ token: `e30.${Buffer.from('{"sub":"a\u0000"}').toString('base64url')}.x` }) },
    { label: 'NUL in query string (users after)', method: 'GET', path: `${A}/users?after=%00&search=%00`, token: c.admin },
    { label: 'NUL in path (user id)', method: 'GET', path: `${A}/users/a%00b`, token: c.admin },
    { label: 'NUL in path (registration email)', method: 'POST', path: `${A}/user_registrations/by_email/a%00b%40x.y/confirm`, token: c.admin },
    { label: 'NUL in api key id', method: 'GET', path: `/api/client/v2.0/auth/api_keys/a%00b`, token: c.refresh },
    { label: 'NUL in data query', method: 'POST', path: `${P}/functions/call`, token: c.access, body: data({ database: 'app', collection: 'notes', query: { title: 'a\u0000b' } }) },
    { label: 'NUL in inserted document', method: 'POST', path: `${P}/functions/call`, token: c.access, body: JSON.stringify({ name: 'insertOne', service: 'mongodb-atlas', arguments: [{ database: 'app', collection: 'notes', document: { owner: 'nobody', title: 'a\u0000b' } }] }) },
    { label: 'NUL in collection name', method: 'POST', path: `${P}/functions/call`, token: c.access, body: data({ database: 'app', collection: 'no\u0000tes', query: {} }) },
    { label: 'NUL in function name', method: 'POST', path: `${P}/functions/call`, token: c.access, body: JSON.stringify({ name: 'ec\u0000ho', arguments: [] }) },
    { label: 'NUL in OAuth state', method: 'GET', path: `/api/client/v2.0/auth/callback?state=a%00b&code=x` },
    { label: 'NUL in admin token', method: 'POST', path: '/api/admin/v3.0/auth/providers/mongodb-cloud/login', body: JSON.stringify({ username: 'x', apiKey: 'a\u0000b' }) },
  ];
}

function dataApp(): AppConfig {
  const dataSource: DataSourceConfig = {
    name: 'mongodb-atlas',
    type: 'mongodb-atlas',
    collections: new Map([
      ['app.notes', { database: 'app', collection: 'notes', roles: [role('owner', { applyWhen: { owner: '%%user.id' }, read: true, write: true })], filters: [], file: 'data_sources/mongodb-atlas/app/notes/rules.json' }],
    ]),
  };
  return {
    ...appConfig([
      provider('anon-user'),
      autoConfirmUserpass(),
      provider('api-key'),
      provider('custom-function', { authFunctionName: 'authFn' }),
      provider('custom-token', { signingAlgorithm: 'HS256' }, { secretConfigLists: { signingKeys: ['jwtKey'] } }),
    ], 'fuzz-app-abcde'),
    secrets: new Map([['jwtKey', 'a-custom-token-signing-secret-of-32-chars!']]),
    dataSources: new Map([['mongodb-atlas', dataSource]]),
    functions: new Map([
      appFunction('echo', 'exports = (...args) => args.length;'),
      appFunction('authFn', 'exports = (p) => { throw new Error("no"); };', { private: true }),
    ]),
  };
}

async function sendReq(c: Ctx, r: Req): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (r.token !== undefined) headers.authorization = `Bearer ${r.token}`;
  if (r.body !== undefined) headers['content-type'] = r.contentType ?? 'application/json';
  if (headers['content-type'] === '') delete headers['content-type'];
  try {
    return await send(c.server.url + r.path, { method: r.method, headers, body: r.body });
  } catch {
    // fetch refuses some header values (a token with a newline or NUL): send those bytes raw.
    const lines = [`${r.method} ${r.path} HTTP/1.1`, `Host: ${new URL(c.server.url).host}`, 'Connection: close'];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    const body = Buffer.from(r.body ?? '', 'utf8');
    lines.push(`Content-Length: ${body.length}`);
    const a = await rawRequest(c.server.url, Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]));
    return { ...a, headers: new Headers() };
  }
}

for (const backend of BACKENDS) {
  describe(`no 5xx, Stitch-shaped errors and no state change on bad input (${backend})`, () => {
    let c: Ctx;
    const tally = new Tally(`fuzz on ${backend} (seed ${SEED})`);

    before(async () => {
      const server = await startHardened(backend, dataApp(), { functions: { timeoutMs: 5000, memoryMb: 64 } });
      const login = await fetch(`${server.url}/api/client/v2.0/app/${server.appId}/auth/providers/anon-user/login`, { method: 'POST' });
      const { access_token: access, refresh_token: refresh } = (await login.json()) as { access_token: string; refresh_token: string };
      const admin = (await new AdminTokens(server.baste.store, Date.now).create('fuzz')).token;
      c = { server, access, refresh, admin };
    });
    after(async () => {
      tally.print();
      await c.server.close();
    });

    /** Sends each request; a refusal must leave every table as it was (a success sets a new baseline). */
    /** The request in flight (the latency probe names it for its slowest answer). */
    let current = '';
    const run = async (requests: Iterable<Req>) => {
      let baseline = await c.server.snapshot();
      for (const r of requests) {
        current = `${r.label} (${r.method}, body ${r.body?.length ?? 0} chars)`;
        const a = await sendReq(c, r);
        tally.record(`${r.label}: ${r.method} ${r.path.slice(0, 120)} ${r.body?.slice(0, 120) ?? ''}`, a);
        const now = await c.server.snapshot();
        if (a.status >= 400) tally.stateChanged(`${r.label} (${a.status})`, baseline, now);
        baseline = now;
      }
    };

    it('the known cases answer 4xx in the Stitch shape and change nothing', async () => {
      const before = { ...tally };
      await run(knownCases(c));
      assert.deepEqual([tally.serverErrors, tally.nonStitch, tally.stateChanges], [before.serverErrors, before.nonStitch, before.stateChanges], tally.examples.join('\n'));
    });

    it(`${COUNT} generated requests over every route shape`, async () => {
      const rng = prng(SEED);
      // Generated first: making 20,000 requests (some of them megabytes) holds this process's
      // event loop, which the server and the probe share, for a third of a second.
      const requests = Array.from({ length: COUNT }, () => generate(rng, c));
      // A well-behaved client's latency meanwhile: reported in the tally line, not asserted.
      current = '(the first request)';
      const probe = new LocationProbe(`${c.server.url}/api/client/v2.0/app/${c.server.appId}/location`, () => current);
      try {
        await run(requests);
      } finally {
        tally.latency = await probe.stop();
      }
      assert.deepEqual([tally.serverErrors, tally.nonStitch, tally.stateChanges], [0, 0, 0], `${tally.line()}\n${tally.examples.join('\n')}`);
    });

    it('requests Node or Fastify refuse before routing answer in the Stitch shape', async () => {
      const P = `/api/client/v2.0/app/${c.server.appId}`;
      const host = new URL(c.server.url).host;
      const h = (extra = '') => `Host: ${host}\r\n${extra}Connection: close\r\n\r\n`;
      const cases: [string, string, number][] = [
        ['URL over the header limit', `GET ${P}/location?x=${'a'.repeat(20_000)} HTTP/1.1\r\n${h()}`, 414],
        ['headers over the limit', `GET ${P}/location HTTP/1.1\r\n${h(`X-Big: ${'a'.repeat(20_000)}\r\n`)}`, 431],
        ['header name with a space', `GET ${P}/location HTTP/1.1\r\n${h('Bad Header: x\r\n')}`, 400],
        ['unknown method', `FOO ${P}/location HTTP/1.1\r\n${h()}`, 400],
        ['unknown HTTP version', `GET ${P}/location HTTP/9.9\r\n${h()}`, 400],
        ['bad chunk size', `POST ${P}/auth/providers/local-userpass/login HTTP/1.1\r\n${h('Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n')}zz\r\n{}\r\n0\r\n\r\n`, 400],
        ['URL that does not decode', `GET ${P}/location%zz HTTP/1.1\r\n${h()}`, 400],
        ['overlong path parameter', `GET /api/client/v2.0/app/${'a'.repeat(300)}/location HTTP/1.1\r\n${h()}`, 414],
        ['no Host header', `GET ${P}/location HTTP/1.1\r\nConnection: close\r\n\r\n`, 400],
        ['body over the route limit', `POST ${P}/auth/providers/local-userpass/register HTTP/1.1\r\n${h('Content-Type: application/json\r\nContent-Length: 100000\r\n')}${'x'.repeat(100_000)}`, 413],
        ['no content type', `POST ${P}/auth/providers/local-userpass/login HTTP/1.1\r\n${h('Content-Length: 2\r\n')}{}`, 415],
        ['malformed JSON', `POST ${P}/auth/providers/local-userpass/login HTTP/1.1\r\n${h('Content-Type: application/json\r\nContent-Length: 3\r\n')}{x}`, 400],
      ];
      for (const [label, request, status] of cases) {
        const a = await rawRequest(c.server.url, request);
        tally.record(label, a);
        assert.equal(a.status, status, `${label}: ${a.raw.slice(0, 300)}`);
        assert.ok(isStitchError(a), `${label}: ${a.contentType} ${a.text.slice(0, 300)}`);
      }
    });

    it('requests for made-up console file names cache nothing', async () => {
      const files = await consoleFiles(ADMIN_CONSOLE_DIR);
      for (let i = 0; i < 1000; i++) assert.equal(await files.load(`made-up-${i}.js`), null);
      assert.equal(files.cached, 0);
      assert.ok(await files.load('index.html'));
      assert.equal(files.cached, 1);
    });
  });
}
