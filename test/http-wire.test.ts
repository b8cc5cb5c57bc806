// Raw HTTP checks next to the SDK tests: bad input, wrong token kinds, forged tokens, wire hygiene.
// Every refusal is also checked to change nothing.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT, base64url } from 'jose';
import {
  appConfig,
  autoConfirmUserpass,
  decodeJwt,
  emailConfirmUserpass,
  provider,
  startServer,
  tokensOf,
  uniqueEmail,
  type TestServer,
} from './helpers/server.js';
import { assertError, clientOf } from './helpers/wire.js';

describe('wire hygiene and refusals (raw HTTP)', () => {
  let server: TestServer;
  let c: ReturnType<typeof clientOf>;

  before(async () => {
    server = await startServer(
      appConfig([provider('anon-user'), autoConfirmUserpass(), emailConfirmUserpass({ name: 'pending-userpass' })]),
      { throttle: { maxFailuresPerAccount: 3, maxFailuresPerAddress: 1000, windowSeconds: 60 } },
    );
    c = clientOf(server);
  });
  after(() => server.close());

  it('answers location with this server as hostname, and unknown app ids with a JSON 404', async () => {
    const ok = await c.call('GET', `${c.app}/location`);
    assert.equal(ok.status, 200);
    assert.equal(ok.json.hostname, server.url);
    assert.equal(ok.json.ws_hostname, server.url.replace('http', 'ws'));
    assertError(await c.call('GET', '/app/nope-xxxxx/location'), 404, 'AppNotFound');
    assertError(await c.call('POST', '/app/nope/auth/providers/anon-user/login', { body: {} }), 404, 'AppNotFound');
  });

  it('issues access tokens with the claims the SDKs read', async () => {
    const res = await c.login('anon-user', { options: { device: { platform: 'node', sdkVersion: '2.0.1' } } });
    assert.equal(res.status, 200);
    const { access_token, refresh_token, user_id, device_id } = res.json;
    assert.match(device_id, /^[0-9a-f]{24}$/);
    assert.doesNotMatch(`${access_token}${refresh_token}${user_id}${device_id}`, /\$/);
    const claims = decodeJwt(access_token);
    assert.equal(claims.sub, user_id);
    assert.equal(claims.baas_device_id, device_id);
    assert.equal(typeof claims.iat, 'number');
    assert.equal((claims.exp as number) - (claims.iat as number), 1800);
  });

  it('keeps a valid client device id and replaces an all-zero one', async () => {
    const kept = await c.login('anon-user', { options: { device: { deviceId: { $oid: '5f00000000000000000000ee' } } } });
    assert.equal(kept.json.device_id, '5f00000000000000000000ee');
    const hex = await c.login('anon-user', { options: { device: { deviceId: '5f00000000000000000000ef' } } });
    assert.equal(hex.json.device_id, '5f00000000000000000000ef');
    const zero = await c.login('anon-user', { options: { device: { deviceId: '000000000000000000000000' } } });
    assert.notEqual(zero.json.device_id, '000000000000000000000000');
  });

  it('answers Bearer null, malformed, forged, alg:none and expired tokens with 401 InvalidSession', async () => {
    const { json } = await c.login('anon-user', {});
    const [header, payload] = json.access_token.split('.');
    const claims = decodeJwt(json.access_token);
    const forgedKey = new TextEncoder().encode('x'.repeat(64));
    const kid = JSON.parse(Buffer.from(header, 'base64url').toString()).kid;
    const otherKey = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).sign(forgedKey);
    const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT', kid }))}.${payload}.`;
    const expired = await new SignJWT({ ...claims, exp: 1 }).setProtectedHeader({ alg: 'HS256', kid }).sign(forgedKey);
    const tampered = `${header}.${base64url.encode(JSON.stringify({ ...claims, sub: '000000000000000000000000' }))}.${json.access_token.split('.')[2]}`;
    for (const token of ['null', 'garbage', 'a.b.c', otherKey, none, expired, tampered, json.refresh_token]) {
      assertError(await c.call('GET', '/auth/profile', { token }), 401, 'InvalidSession');
    }
    assertError(await c.call('GET', '/auth/profile'), 401, 'InvalidSession');
    assertError(await c.call('GET', '/auth/profile', { headers: { authorization: `Basic ${json.access_token}` } }), 401, 'InvalidSession');
    // ...and the genuine token still works.
    assert.equal((await c.call('GET', '/auth/profile', { token: json.access_token })).status, 200);
  });

  it('refuses the access token where the refresh token belongs, and the other way round', async () => {
    const { json } = await c.login('anon-user', {});
    assertError(await c.call('POST', '/auth/session', { token: json.access_token }), 401, 'InvalidSession');
    assertError(await c.call('GET', '/auth/profile', { token: json.refresh_token }), 401, 'InvalidSession');
    assertError(await c.call('DELETE', '/auth/delete', { token: json.refresh_token }), 401, 'InvalidSession');
    // nothing changed: the user is still there and both tokens still work
    assert.equal((await c.call('GET', '/auth/profile', { token: json.access_token })).status, 200);
    const refreshed = await c.call('POST', '/auth/session', { token: json.refresh_token });
    assert.equal(refreshed.status, 201);
    assert.equal(decodeJwt(refreshed.json.access_token).sub, json.user_id);
  });

  it('sends empty successes as 204 without a content type', async () => {
    const { json } = await c.login('anon-user', {});
    const res = await c.call('DELETE', '/auth/session', { token: json.refresh_token });
    assert.equal(res.status, 204);
    assert.equal(res.contentType, null);
    assert.equal(res.text, '');
  });

  it('answers a second logout with an error realm-web tolerates, and ends access at once', async () => {
    const { json } = await c.login('anon-user', {});
    assert.equal((await c.call('DELETE', '/auth/session', { token: json.refresh_token })).status, 204);
    const again = await c.call('DELETE', '/auth/session', { token: json.refresh_token });
    assertError(again, 401, 'InvalidSession');
    assert.match(again.json.error, /failed to find refresh token/);
    assertError(await c.call('POST', '/auth/session', { token: json.refresh_token }), 401, 'InvalidSession');
    assertError(await c.call('GET', '/auth/profile', { token: json.access_token }), 401, 'InvalidSession');
  });

  it('refuses malformed bodies with 400 and unknown content types with 415', async () => {
    assertError(await c.call('POST', `${c.app}/auth/providers/local-userpass/login`, { raw: '{"username":' }), 400, 'BadRequest');
    assertError(await c.call('POST', `${c.app}/auth/providers/local-userpass/login`, { raw: '[1,2]' }), 400, 'BadRequest');
    assertError(await c.call('POST', `${c.app}/auth/providers/local-userpass/login`, { raw: '{"__proto__":{"x":1}}' }), 400, 'BadRequest');
    assertError(await c.call('POST', `${c.app}/auth/providers/local-userpass/login`, { raw: 'x', headers: { 'content-type': 'application/xml' } }), 415, 'UnsupportedMediaType');
    assertError(await c.login('local-userpass', { username: 5, password: 'secret123' }), 400, 'MissingParameter');
    assertError(await c.login('anon-user', { options: { device: { deviceId: { $oid: 'zz' } } } }), 400, 'BadRequest');
  });

  it('refuses oversized bodies with 413 before reading them', async () => {
    const email = uniqueEmail();
    const big = await c.call('POST', `${c.app}/auth/providers/local-userpass/register`, { body: { email, password: 'secret123', pad: 'x'.repeat(100_000) } });
    assertError(big, 413, 'PayloadTooLarge');
    assert.equal(await server.baste.store.findUserpassAccountByEmail(email), null);
    assertError(await c.login('anon-user', { pad: 'x'.repeat(3 * 1024 * 1024) }), 413, 'PayloadTooLarge');
  });

  it('validates registration input and creates nothing on refusal', async () => {
    const email = uniqueEmail();
    assertError(await c.register(email, '12345'), 400, 'InvalidParameter');
    assertError(await c.register(email, 'x'.repeat(129)), 400, 'InvalidParameter');
    assertError(await c.register('not-an-email', 'secret123'), 400, 'InvalidParameter');
    assertError(await c.register(`${'a'.repeat(300)}@example.com`, 'secret123'), 400, 'InvalidParameter');
    assertError(await c.call('POST', `${c.app}/auth/providers/local-userpass/register`, { body: { email, password: { $numberInt: '123456' } } }), 400, 'MissingParameter');
    assert.equal(await server.baste.store.findUserpassAccountByEmail(email), null);
    assert.equal((await c.register(email, 'secret123')).status, 201);
    // A taken email is answered as a new one (concealing who is registered, the default) and changes nothing.
    assert.equal((await c.register(email, 'other-secret')).status, 201);
    assertError(await c.login('local-userpass', { username: email, password: 'other-secret' }), 401, 'InvalidPassword');
    // the first password still works: the second registration changed nothing
    assert.equal((await c.login('local-userpass', { username: email, password: 'secret123' })).status, 200);
  });

  it('treats emails as case-sensitive', async () => {
    const email = uniqueEmail('Case');
    await c.register(email, 'secret123');
    assertError(await c.login('local-userpass', { username: email.toLowerCase(), password: 'secret123' }), 401, 'InvalidPassword');
  });

  it('gives the same answer for an unknown email and a wrong password', async () => {
    const email = uniqueEmail();
    await c.register(email, 'secret123');
    const wrong = await c.login('local-userpass', { username: email, password: 'wrong-pass' });
    const unknown = await c.login('local-userpass', { username: uniqueEmail('nobody'), password: 'wrong-pass' });
    assertError(wrong, 401, 'InvalidPassword');
    assertError(unknown, 401, 'InvalidPassword');
    assert.equal(wrong.json.error, unknown.json.error);
  });

  it('throttles failed password logins per account with 429 and Retry-After, and then refuses even the right password', async () => {
    const email = uniqueEmail();
    await c.register(email, 'secret123');
    for (let i = 0; i < 3; i++) assertError(await c.login('local-userpass', { username: email, password: 'bad-pass' }), 401, 'InvalidPassword');
    const blocked = await c.login('local-userpass', { username: email, password: 'secret123' });
    assertError(blocked, 429, 'TooManyRequests');
    const retryAfter = Number(blocked.headers.get('retry-after'));
    assert.ok(retryAfter > 0 && retryAfter <= 60, `retry-after ${retryAfter}`);
    // another account from the same address is not affected
    const other = uniqueEmail();
    await c.register(other, 'secret123');
    assert.equal((await c.login('local-userpass', { username: other, password: 'secret123' })).status, 200);
  });

  it('does not count successful logins against the account', async () => {
    const email = uniqueEmail();
    await c.register(email, 'secret123');
    for (let i = 0; i < 5; i++) assert.equal((await c.login('local-userpass', { username: email, password: 'secret123' })).status, 200);
  });

  it('refuses logins to unknown or unsupported providers with AuthProviderNotFound', async () => {
    assertError(await c.login('oauth2-google', {}), 404, 'AuthProviderNotFound');
    assertError(await c.login('nope', {}), 404, 'AuthProviderNotFound');
  });

  it('keeps a pending registration from logging in until it is confirmed, and each token works once', async () => {
    const email = uniqueEmail();
    const reg = await c.call('POST', `${c.app}/auth/providers/pending-userpass/register`, { body: { email, password: 'secret123' } });
    assert.equal(reg.status, 201);
    const login = () => c.login('pending-userpass', { username: email, password: 'secret123' });
    assertError(await login(), 401, 'AuthError');
    const mail = server.outbox().filter((m) => m.to === email);
    assert.equal(mail.length, 1);
    assert.equal(mail[0]!.kind, 'confirm');
    assert.ok(mail[0]!.link.startsWith('http://app.example/confirm?'));
    const { token, tokenId } = tokensOf(mail[0]!.link);
    assertError(await c.call('POST', `${c.app}/auth/providers/pending-userpass/confirm`, { body: { token: 'f'.repeat(64), tokenId } }), 400, 'UserpassTokenInvalid');
    // a wrong guess burns nothing: the genuine token still confirms
    assert.equal((await c.call('POST', `${c.app}/auth/providers/pending-userpass/confirm`, { body: { token, tokenId } })).status, 204);
    assertError(await c.call('POST', `${c.app}/auth/providers/pending-userpass/confirm`, { body: { token, tokenId } }), 400, 'UserpassTokenInvalid');
    assert.equal((await login()).status, 200);
  });

  it('ends every session of a user whose password was reset', async () => {
    const email = uniqueEmail();
    await c.register(email, 'secret123');
    const { json } = await c.login('local-userpass', { username: email, password: 'secret123' });
    assert.equal((await c.call('POST', `${c.app}/auth/providers/local-userpass/reset/send`, { body: { email } })).status, 204);
    const mail = server.outbox().filter((m) => m.to === email && m.kind === 'reset');
    assert.equal(mail.length, 1);
    const { token, tokenId } = tokensOf(mail[0]!.link);
    assertError(await c.call('POST', `${c.app}/auth/providers/local-userpass/reset`, { body: { token, tokenId, password: '123' } }), 400, 'InvalidParameter');
    assert.equal((await c.call('POST', `${c.app}/auth/providers/local-userpass/reset`, { body: { token, tokenId, password: 'new-secret' } })).status, 204);
    assertError(await c.call('POST', '/auth/session', { token: json.refresh_token }), 401, 'InvalidSession');
    assertError(await c.login('local-userpass', { username: email, password: 'secret123' }), 401, 'InvalidPassword');
    assert.equal((await c.login('local-userpass', { username: email, password: 'new-secret' })).status, 200);
  });

  it('kills every token of a disabled user, and restores login on enable', async () => {
    const email = uniqueEmail();
    await c.register(email, 'secret123');
    const { json } = await c.login('local-userpass', { username: email, password: 'secret123' });
    await server.baste.store.setUserDisabled(json.user_id, true);
    assertError(await c.call('GET', '/auth/profile', { token: json.access_token }), 401, 'InvalidSession');
    assertError(await c.call('POST', '/auth/session', { token: json.refresh_token }), 401, 'InvalidSession');
    await server.baste.store.setUserDisabled(json.user_id, false);
    const again = await c.login('local-userpass', { username: email, password: 'secret123' });
    assert.equal(again.status, 200);
    assert.equal(again.json.user_id, json.user_id);
  });

  it('deletes a user with its identities: old tokens die and the credentials no longer log in', async () => {
    const email = uniqueEmail();
    await c.register(email, 'secret123');
    const { json } = await c.login('local-userpass', { username: email, password: 'secret123' });
    const del = await c.call('DELETE', '/auth/delete', { token: json.access_token });
    assert.equal(del.status, 204);
    assert.equal(del.contentType, null);
    assertError(await c.call('GET', '/auth/profile', { token: json.access_token }), 401, 'InvalidSession');
    assertError(await c.login('local-userpass', { username: email, password: 'secret123' }), 401, 'InvalidPassword');
    assert.equal(await server.baste.store.getUser(json.user_id), null);
  });

  it('links email/password into an anonymous user and refuses taken or repeated links', async () => {
    const anon = (await c.login('anon-user', {})).json;
    const email = uniqueEmail();
    await c.register(email, 'secret123');
    const link = (token: string, username = email) =>
      c.call('POST', `${c.app}/auth/providers/local-userpass/login?link=true`, { token, body: { username, password: 'secret123' } });
    assertError(await link('null'), 401, 'InvalidSession');
    const linked = await link(anon.access_token);
    assert.equal(linked.status, 200);
    assert.equal(linked.json.user_id, anon.user_id);
    const profile = (await c.call('GET', '/auth/profile', { token: linked.json.access_token })).json;
    assert.deepEqual(profile.identities.map((i: any) => i.provider_type), ['anon-user', 'local-userpass']);
    assert.equal(profile.data.email, email);
    // a second email/password identity on the same user, or someone else's, is refused
    const other = uniqueEmail();
    await c.register(other, 'secret123');
    assertError(await link(anon.access_token, other), 400, 'BadRequest');
    const anon2 = (await c.login('anon-user', {})).json;
    assertError(await link(anon2.access_token), 409, 'IdentityAlreadyExists');
    assertError(await c.call('POST', `${c.app}/auth/providers/anon-user/login?link=true`, { token: anon2.access_token, body: {} }), 400, 'BadRequest');
    assert.deepEqual((await server.baste.store.getUser(anon2.user_id))!.identities.map((i) => i.providerType), ['anon-user']);
    // the linked user now survives logout of its anonymous session and logs in by password
    await c.call('DELETE', '/auth/session', { token: anon.refresh_token });
    const byPassword = await c.login('local-userpass', { username: email, password: 'secret123' });
    assert.equal(byPassword.json.user_id, anon.user_id);
  });

  it('removes an anonymous user at logout, since nobody can log into it again', async () => {
    const anon = (await c.login('anon-user', {})).json;
    assert.ok(await server.baste.store.getUser(anon.user_id));
    await c.call('DELETE', '/auth/session', { token: anon.refresh_token });
    assert.equal(await server.baste.store.getUser(anon.user_id), null);
  });

  it('answers CORS preflights for the browser SDKs', async () => {
    const res = await fetch(`${server.url}/api/client/v2.0/auth/profile`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:3000',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://localhost:3000');
    assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /authorization/i);
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /content-type/i);
    const get = await fetch(`${server.url}/api/client/v2.0/app/${server.appId}/location`, { headers: { origin: 'http://localhost:3000' } });
    assert.match(get.headers.get('access-control-expose-headers') ?? '', /X-BaaS-Location/);
    assert.match(get.headers.get('access-control-expose-headers') ?? '', /X-Stitch-Location/);
    assert.match(get.headers.get('access-control-expose-headers') ?? '', /X-Baste-Next-After/);
  });

  it('answers unknown routes with a JSON 404', async () => {
    // Under the client API an unknown route is one Baste does not serve (test/not-served.test.ts).
    assertError(await c.call('GET', '/nowhere'), 404, 'NotServedByBaste');
  });
});

describe('allowed_request_origins', () => {
  let server: TestServer;
  before(async () => {
    const app = { ...appConfig([provider('anon-user')]), allowedRequestOrigins: ['https://good.example'] };
    server = await startServer(app);
  });
  after(() => server.close());

  it('serves the allowed origin and refuses others without creating anything', async () => {
    const url = `${server.url}/api/client/v2.0/app/${server.appId}/auth/providers/anon-user/login`;
    const ok = await fetch(url, { method: 'POST', headers: { origin: 'https://good.example', 'content-type': 'application/json' }, body: '{}' });
    assert.equal(ok.status, 200);
    const bad = await fetch(url, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/json' }, body: '{}' });
    assert.equal(bad.status, 403);
    assert.equal(bad.headers.get('content-type'), 'application/json');
    assert.equal((await bad.json()).error_code, 'DomainNotAllowed');
    assert.equal(bad.headers.get('access-control-allow-origin'), null);
  });
});

describe('--base-url', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(undefined, { http: { baseUrl: 'https://api.example.com/' } });
  });
  after(() => server.close());

  it('is the hostname the location route returns, without a trailing slash', async () => {
    const res = await fetch(`${server.url}/api/client/v2.0/app/${server.appId}/location`);
    const body = await res.json();
    assert.equal(body.hostname, 'https://api.example.com');
    assert.equal(body.ws_hostname, 'wss://api.example.com');
  });
});
