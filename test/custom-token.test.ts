// Custom JWT: HS256 keys from secrets, RS256 public keys, a JWK URI served by a local server,
// the SDK credentials, linking, and each refusal with its own message.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, base64url, type CryptoKey, type JWK } from 'jose';
import { CustomCredential } from 'mongodb-stitch-server-sdk';
import * as Realm from 'realm-web';
import { ConfigError } from '../src/errors.js';
import { appConfig, provider, startServer, type TestServer } from './helpers/server.js';
import { stitchClientFor } from './helpers/stitch.js';
import { assertError, request } from './helpers/wire.js';

const KEY_1 = 'first-signing-key-that-is-long-enough-0123456789';
const KEY_2 = 'second-signing-key-that-is-long-enough-987654321';
const APP_ID = 'jwt-app-abcde';
const secretKey = (k: string) => new TextEncoder().encode(k);

async function hsToken(claims: Record<string, unknown>, key = KEY_2, header: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ aud: APP_ID, sub: 'user-1', exp: now + 600, iat: now, ...claims })
    .setProtectedHeader({ alg: 'HS256', ...header })
    .sign(secretKey(key));
}

const metadataFields = [
  { required: true, name: 'email' },
  { required: false, name: 'profile.name', fieldName: 'name' },
  { required: false, name: 'profile.picture' },
];

function withSecrets(config: ReturnType<typeof appConfig>, secrets: Record<string, string>) {
  return { ...config, secrets: new Map(Object.entries(secrets)) };
}

const login = (server: TestServer, token: unknown, path = 'custom-token/login', accessToken?: string) =>
  request('POST', `${server.url}/api/client/v2.0/app/${server.appId}/auth/providers/${path}`, { body: { token }, token: accessToken });

const profileOf = async (server: TestServer, accessToken: string) => (await request('GET', `${server.url}/api/client/v2.0/auth/profile`, { token: accessToken })).json;

describe('custom JWT with HS256 signing keys', () => {
  let server: TestServer;
  before(async () => {
    const jwt = provider('custom-token', { signingAlgorithm: 'HS256' }, { secretConfigLists: { signingKeys: ['k1', 'k2'] }, metadataFields });
    server = await startServer(withSecrets(appConfig([provider('anon-user'), jwt], APP_ID), { k1: KEY_1, k2: KEY_2 }));
  });
  after(() => server.close());

  it('[RW] #15 logs in with Credentials.jwt, maps metadata into user.data, and the same sub is the same user', async () => {
    const app = new Realm.App({ id: APP_ID, baseUrl: server.url });
    const token = await hsToken({ email: 'ann@example.com', profile: { name: 'Ann', picture: 'http://p/ann.png' } });
    const user = await app.logIn(Realm.Credentials.jwt(token));
    assert.equal(user.profile.email, 'ann@example.com');
    assert.equal(user.profile.name, 'Ann');
    assert.equal(user.profile.pictureUrl, 'http://p/ann.png');
    assert.deepEqual(user.identities.map((i) => [i.id, i.providerType]), [['user-1', 'custom-token']]);
    const again = await login(server, await hsToken({ email: 'ann@new.example' }, KEY_1));
    assert.equal(again.json.user_id, user.id);
    // metadata is refreshed at each login
    assert.equal((await profileOf(server, again.json.access_token)).data.email, 'ann@new.example');
  });

  it('[S] #15 logs in with CustomCredential; a bad signature is rejected', async () => {
    const client = stitchClientFor(server, `jwt-${Date.now()}`);
    try {
      const user = await client.auth.loginWithCredential(new CustomCredential(await hsToken({ sub: 'stitch-user', email: 's@example.com' })));
      assert.equal(user.loggedInProviderType, 'custom-token');
      assert.equal(user.profile.email, 's@example.com');
      const forged = await hsToken({ sub: 'stitch-user', email: 's@example.com' }, 'x'.repeat(48));
      await assert.rejects(client.auth.loginWithCredential(new CustomCredential(forged)), /signature verification failed/);
    } finally {
      client.close();
    }
  });

  it('refuses each bad token with its own message', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, unknown, RegExp, number?][] = [
      ['wrong key', await hsToken({ email: 'a@x' }, 'y'.repeat(40)), /signature verification failed/],
      ['expired', await hsToken({ email: 'a@x', exp: now - 120, iat: now - 600 }), /expired/],
      ['not yet valid', await hsToken({ email: 'a@x', nbf: now + 600 }), /nbf/],
      ['issued in the future', await hsToken({ email: 'a@x', iat: now + 600 }), /future/],
      ['wrong audience', await hsToken({ email: 'a@x', aud: 'another-app' }), /audience/],
      ['no audience', await hsToken({ email: 'a@x', aud: undefined }), /'aud'/],
      ['no sub', await hsToken({ email: 'a@x', sub: undefined }), /'sub'/],
      ['missing required metadata', await hsToken({}), /required metadata field 'email'/],
      ['alg none', `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${base64url.encode(JSON.stringify({ aud: APP_ID, sub: 'x', exp: now + 60, email: 'a@x' }))}.`, /algorithm/],
      ['malformed', 'not.a.jwt', /malformed/],
      // §A.7: a correctly signed token whose header says it is not a JWT.
      ['typ at+jwt', await hsToken({ email: 'a@x' }, KEY_2, { typ: 'at+jwt' }), /header's 'typ' must be 'JWT', not 'at\+jwt'/],
      ['typ refresh', await hsToken({ email: 'a@x' }, KEY_2, { typ: 'refresh' }), /'typ' must be 'JWT'/],
      ['typ not a string', await hsToken({ email: 'a@x' }, KEY_2, { typ: 7 }), /'typ' must be 'JWT'/],
      ['not a string', 42, /token is required/, 400],
      ['too long', 'x'.repeat(1_000_001), /longer than/, 400],
    ];
    for (const [name, token, message, status = 401] of cases) {
      const res = await login(server, token);
      assert.equal(res.status, status, `${name}: ${JSON.stringify(res.json)}`);
      assert.match(res.json.error, message, name);
    }
  });

  it('accepts a header with typ JWT (any case) or with no typ at all', async () => {
    for (const header of [{ typ: 'JWT' }, { typ: 'jwt' }, {}]) {
      const res = await login(server, await hsToken({ email: 'typ@x', sub: 'typ-user' }, KEY_2, header));
      assert.equal(res.status, 200, `${JSON.stringify(header)}: ${JSON.stringify(res.json)}`);
    }
  });

  it('links a custom JWT identity into an anonymous user; a later JWT login finds that user', async () => {
    const anon = await fetch(`${server.url}/api/client/v2.0/app/${APP_ID}/auth/providers/anon-user/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    }).then((r) => r.json());
    const token = await hsToken({ sub: 'linked-sub', email: 'l@x' });
    const linked = await login(server, token, 'custom-token/login?link=true', anon.access_token);
    assert.equal(linked.status, 200);
    assert.equal(linked.json.user_id, anon.user_id);
    const profile = await profileOf(server, linked.json.access_token);
    assert.deepEqual(profile.identities.map((i: any) => i.provider_type), ['anon-user', 'custom-token']);
    assert.equal(profile.data.email, 'l@x');
    assert.equal((await login(server, await hsToken({ sub: 'linked-sub', email: 'l@x' }))).json.user_id, anon.user_id);
    // the identity now belongs to that user: linking it elsewhere is refused and changes nothing
    const other = await fetch(`${server.url}/api/client/v2.0/app/${APP_ID}/auth/providers/anon-user/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    }).then((r) => r.json());
    const refused = await login(server, token, 'custom-token/login?link=true', other.access_token);
    assert.equal(refused.status, 409);
    assert.deepEqual((await profileOf(server, other.access_token)).identities.map((i: any) => i.provider_type), ['anon-user']);
  });
});

describe('custom JWT with RS256', () => {
  let server: TestServer;
  let privateKey: CryptoKey;
  let publicPem: string;
  before(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey;
    publicPem = await exportSPKI(pair.publicKey);
    const jwt = provider('custom-token', { signingAlgorithm: 'RS256', audience: ['aud-a', 'aud-b'], requireAnyAudience: true }, { secretConfigLists: { signingKeys: ['pub'] } });
    server = await startServer(withSecrets(appConfig([jwt], APP_ID), { pub: publicPem }));
  });
  after(() => server.close());

  const rsToken = (claims: Record<string, unknown>) =>
    new SignJWT({ aud: 'aud-b', sub: 'rs-user', ...claims }).setProtectedHeader({ alg: 'RS256' }).setIssuedAt().setExpirationTime('5m').sign(privateKey);

  it('verifies tokens with the public key and accepts any configured audience', async () => {
    const res = await login(server, await rsToken({}));
    assert.equal(res.status, 200);
    assert.equal((await login(server, await rsToken({ aud: ['zzz', 'aud-a'] }))).status, 200);
    assert.match((await login(server, await rsToken({ aud: 'zzz' }))).json.error, /audience/);
  });

  it('refuses algorithm confusion: an HS256 token keyed with the RS256 public key', async () => {
    const confused = await new SignJWT({ aud: 'aud-b', sub: 'attacker' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(publicPem));
    const res = await login(server, confused);
    assert.equal(res.status, 401);
    assert.match(res.json.error, /algorithm is not RS256/);
  });
});

describe('custom JWT with a JWK URI', () => {
  let server: TestServer;
  let jwksServer: Server;
  let jwks: { keys: JWK[] } = { keys: [] };
  let fetches = 0;
  let mode: 'ok' | 'slow' | 'fail' = 'ok';
  const signers: { kid: string; key: CryptoKey }[] = [];

  const addKey = async (kid: string) => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    jwks = { keys: [...jwks.keys, { ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' }] };
    signers.push({ kid, key: pair.privateKey });
  };
  const token = (kid: string | undefined, sub = 'jwk-user') => {
    const signer = signers.find((s) => s.kid === kid) ?? signers[0]!;
    return new SignJWT({ aud: APP_ID, sub })
      .setProtectedHeader({ alg: 'RS256', ...(kid ? { kid } : {}) })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(signer.key);
  };

  before(async () => {
    await addKey('k1');
    jwksServer = createServer((req, res) => {
      fetches++;
      if (mode === 'fail') {
        res.writeHead(500).end('boom');
        return;
      }
      const send = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
      if (mode === 'slow') setTimeout(send, 1500);
      else send();
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    const { port } = jwksServer.address() as { port: number };
    const jwt = provider('custom-token', { signingAlgorithm: 'RS256', useJWKURI: true, jwkURI: `http://127.0.0.1:${port}/jwks.json` });
    server = await startServer(appConfig([jwt], APP_ID), { jwksTimeoutMs: 300, jwksCooldownMs: 0 });
  });
  after(async () => {
    await server.close();
    jwksServer.closeAllConnections();
    await new Promise<void>((r) => jwksServer.close(() => r()));
  });

  it('verifies with the fetched set and caches it', async () => {
    assert.equal((await login(server, await token('k1'))).status, 200);
    const before = fetches;
    assert.equal((await login(server, await token('k1'))).status, 200);
    assert.equal(fetches, before);
  });

  it('requires a kid', async () => {
    const res = await login(server, await token(undefined));
    assert.equal(res.status, 401);
    assert.match(res.json.error, /kid/);
  });

  it('refetches the set for an unknown kid, so a rotated key works at once', async () => {
    await addKey('k2');
    const before = fetches;
    assert.equal((await login(server, await token('k2', 'rotated'))).status, 200);
    assert.equal(fetches, before + 1);
    const unknown = await login(server, await new SignJWT({ aud: APP_ID, sub: 'x' }).setProtectedHeader({ alg: 'RS256', kid: 'k9' }).setIssuedAt().setExpirationTime('5m').sign(signers[0]!.key));
    assert.equal(unknown.status, 401);
    assert.match(unknown.json.error, /no key in the JWK set/);
  });

  it('answers a slow or failing JWK endpoint with a clear error instead of hanging', async () => {
    await addKey('k3'); // unknown to the cached set: forces a fetch
    mode = 'slow';
    const started = Date.now();
    const slow = await login(server, await token('k3'));
    assert.ok(Date.now() - started < 1200, `took ${Date.now() - started} ms`);
    assertError(slow, 502, 'JWKSUnavailable');
    mode = 'fail';
    assertError(await login(server, await token('k3')), 502, 'JWKSUnavailable');
    mode = 'ok';
    assert.equal((await login(server, await token('k3'))).status, 200);
  });
});

describe('custom JWT configuration refusals', () => {
  it('refuses to start without the signing key secret, naming the field', async () => {
    const jwt = provider('custom-token', { signingAlgorithm: 'HS256' }, { secretConfigLists: { signingKeys: ['missing'] } });
    await assert.rejects(startServer(appConfig([jwt], APP_ID)), (e: unknown) => e instanceof ConfigError && e.field === 'custom-token.secret_config.signingKeys' && /missing/.test(e.message));
  });

  it('refuses a short HS256 secret, more than three keys, and a JWK URI without RS256', async () => {
    const short = provider('custom-token', {}, { secretConfigLists: { signingKeys: ['s'] } });
    await assert.rejects(startServer(withSecrets(appConfig([short], APP_ID), { s: 'short' })), /32 to 512/);
    const many = provider('custom-token', {}, { secretConfigLists: { signingKeys: ['a', 'b', 'c', 'd'] } });
    await assert.rejects(startServer(withSecrets(appConfig([many], APP_ID), { a: KEY_1, b: KEY_1, c: KEY_1, d: KEY_1 })), /at most 3/);
    const jwk = provider('custom-token', { signingAlgorithm: 'HS256', useJWKURI: true, jwkURI: 'http://127.0.0.1:1/jwks' });
    await assert.rejects(startServer(appConfig([jwk], APP_ID)), /RS256/);
  });
});

describe('custom JWT with ES256 and EdDSA keys, an issuer pin', () => {
  let server: TestServer;
  let es: CryptoKey;
  let ed: CryptoKey;
  let rs: CryptoKey;
  before(async () => {
    const esPair = await generateKeyPair('ES256', { extractable: true });
    const edPair = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    rs = (await generateKeyPair('RS256', { extractable: true })).privateKey;
    es = esPair.privateKey;
    ed = edPair.privateKey;
    const jwt = provider(
      'custom-token',
      { signingAlgorithm: ['ES256', 'EdDSA'], issuer: ['https://id.example.com', 'https://id2.example.com'] },
      { secretConfigLists: { signingKeys: ['es', 'ed'] } },
    );
    server = await startServer(withSecrets(appConfig([jwt], APP_ID), { es: await exportSPKI(esPair.publicKey), ed: await exportSPKI(edPair.publicKey) }));
  });
  after(() => server.close());

  const signed = (alg: string, key: CryptoKey, claims: Record<string, unknown> = {}) =>
    new SignJWT({ aud: APP_ID, sub: `${alg}-user`, iss: 'https://id.example.com', ...claims })
      .setProtectedHeader({ alg, typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);

  it('[RW] logs in with tokens signed by either key, each with its own algorithm', async () => {
    const app = new Realm.App({ id: APP_ID, baseUrl: server.url });
    const esUser = await app.logIn(Realm.Credentials.jwt(await signed('ES256', es)));
    const edUser = await app.logIn(Realm.Credentials.jwt(await signed('EdDSA', ed, { iss: 'https://id2.example.com' })));
    assert.equal(esUser.identities[0]!.id, 'ES256-user');
    assert.equal(edUser.identities[0]!.id, 'EdDSA-user');
  });

  it('refuses another issuer, a missing one, a forged signature and an algorithm not configured', async () => {
    const other = await login(server, await signed('ES256', es, { iss: 'https://evil.example.com' }));
    assert.equal(other.status, 401);
    assert.match(other.json.error, /issuer does not match/);
    const none = await login(server, await signed('ES256', es, { iss: undefined }));
    assert.equal(none.status, 401);
    assert.match(none.json.error, /'iss' is missing/);
    // An ES256 token signed by a key that is not configured.
    const stranger = (await generateKeyPair('ES256')).privateKey;
    const forged = await login(server, await signed('ES256', stranger));
    assert.equal(forged.status, 401);
    assert.match(forged.json.error, /signature verification failed/);
    const rsToken = await login(server, await signed('RS256', rs));
    assert.equal(rsToken.status, 401);
    assert.match(rsToken.json.error, /signing algorithm is not one of ES256, EdDSA/);
  });

  it('refuses a configuration whose key fits none of the algorithms, HS256 mixed with others, an unknown algorithm', async () => {
    const rsPem = await exportSPKI((await generateKeyPair('RS256', { extractable: true })).publicKey);
    const esOnly = provider('custom-token', { signingAlgorithm: 'ES256' }, { secretConfigLists: { signingKeys: ['k'] } });
    await assert.rejects(startServer(withSecrets(appConfig([esOnly], APP_ID), { k: rsPem })), /usable for ES256/);
    const mixed = provider('custom-token', { signingAlgorithm: ['HS256', 'ES256'] }, { secretConfigLists: { signingKeys: ['k'] } });
    await assert.rejects(startServer(withSecrets(appConfig([mixed], APP_ID), { k: KEY_1 })), /HS256 cannot be combined/);
    const unknown = provider('custom-token', { signingAlgorithm: 'PS512' }, { secretConfigLists: { signingKeys: ['k'] } });
    await assert.rejects(startServer(withSecrets(appConfig([unknown], APP_ID), { k: KEY_1 })), /'PS512' is not one of/);
  });
});

describe('custom JWT with several JWK URIs (ES256 and EdDSA sets)', () => {
  let server: TestServer;
  const servers: Server[] = [];
  const sets: { keys: JWK[] }[] = [{ keys: [] }, { keys: [] }];
  const fetched = [0, 0];
  const signers = new Map<string, { alg: string; key: CryptoKey }>();

  before(async () => {
    const es = await generateKeyPair('ES256', { extractable: true });
    const ed = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    sets[0]!.keys.push({ ...(await exportJWK(es.publicKey)), kid: 'es-1', alg: 'ES256', use: 'sig' });
    sets[1]!.keys.push({ ...(await exportJWK(ed.publicKey)), kid: 'ed-1', alg: 'EdDSA', use: 'sig' });
    signers.set('es-1', { alg: 'ES256', key: es.privateKey });
    signers.set('ed-1', { alg: 'EdDSA', key: ed.privateKey });
    const uris: string[] = [];
    for (const i of [0, 1]) {
      const s = createServer((_req, res) => {
        fetched[i]!++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(sets[i]));
      });
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      servers.push(s);
      uris.push(`http://127.0.0.1:${(s.address() as { port: number }).port}/jwks.json`);
    }
    const jwt = provider('custom-token', { signingAlgorithm: ['ES256', 'EdDSA'], useJWKURI: true, jwkURI: uris, issuer: 'https://id.example.com' });
    server = await startServer(appConfig([jwt], APP_ID), { jwksTimeoutMs: 1000, jwksCooldownMs: 0 });
  });
  after(async () => {
    await server.close();
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  });

  const token = (kid: string, claims: Record<string, unknown> = {}) => {
    const { alg, key } = signers.get(kid)!;
    return new SignJWT({ aud: APP_ID, sub: `${kid}-user`, iss: 'https://id.example.com', ...claims })
      .setProtectedHeader({ alg, kid })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);
  };

  it('finds each key in the set that holds it, and refuses a kid no set holds', async () => {
    assert.equal((await login(server, await token('es-1'))).status, 200);
    assert.equal((await login(server, await token('ed-1'))).status, 200);
    assert.ok(fetched[0]! >= 1 && fetched[1]! >= 1);
    const { key } = signers.get('es-1')!;
    const unknown = await login(server, await new SignJWT({ aud: APP_ID, sub: 'x', iss: 'https://id.example.com' }).setProtectedHeader({ alg: 'ES256', kid: 'nope' }).setIssuedAt().setExpirationTime('5m').sign(key));
    assert.equal(unknown.status, 401);
    assert.match(unknown.json.error, /no key in the JWK set/);
    const wrongIssuer = await login(server, await token('ed-1', { iss: 'https://other.example.com' }));
    assert.equal(wrongIssuer.status, 401);
    assert.match(wrongIssuer.json.error, /issuer does not match/);
  });
});

describe('custom JWT: endSessionOnTokenExpiry', () => {
  let now = Date.UTC(2026, 2, 1);
  let ending: TestServer;
  let lasting: TestServer;
  before(async () => {
    const secrets = { k1: KEY_1 };
    const jwt = (config: Record<string, unknown>) => provider('custom-token', { signingAlgorithm: 'HS256', ...config }, { secretConfigLists: { signingKeys: ['k1'] } });
    ending = await startServer(withSecrets(appConfig([jwt({ endSessionOnTokenExpiry: true })], APP_ID), secrets), { clock: () => now });
    lasting = await startServer(withSecrets(appConfig([jwt({})], APP_ID), secrets), { clock: () => now });
  });
  after(async () => {
    await ending.close();
    await lasting.close();
  });

  const tokenFor = (sub: string, lifetimeSeconds: number) => {
    const iat = Math.floor(now / 1000);
    return new SignJWT({ aud: APP_ID, sub, iat, exp: iat + lifetimeSeconds }).setProtectedHeader({ alg: 'HS256' }).sign(secretKey(KEY_1));
  };

  it('[RW] ends the Baste session when the token that logged in expires: refresh is 401 and realm-web logs the user out', async () => {
    const app = new Realm.App({ id: APP_ID, baseUrl: ending.url });
    const user = await app.logIn(Realm.Credentials.jwt(await tokenFor('short-lived', 600)));
    // The access token expires with the JWT, not 30 minutes after login.
    assert.equal(Number(JSON.parse(Buffer.from(user.accessToken!.split('.')[1]!, 'base64url').toString()).exp), Math.floor(now / 1000) + 600);
    now += 300_000;
    await user.refreshCustomData();
    assert.equal(user.state, 'active');
    now += 301_000;
    await assert.rejects(user.refreshCustomData(), (err: unknown) => err instanceof Realm.MongoDBRealmError && err.statusCode === 401 && /refresh token expired/.test(err.message));
    assert.equal(user.state, 'logged-out');
    assert.equal(user.accessToken, null);
    assert.equal(user.refreshToken, null);
    await user.logOut(); // already logged out: nothing to do, nothing thrown

    // Without the option, the platform's behaviour: exp is checked at login only.
    const app2 = new Realm.App({ id: APP_ID, baseUrl: lasting.url });
    const kept = await app2.logIn(Realm.Credentials.jwt(await tokenFor('long-lived', 600)));
    now += 3600_000;
    await kept.refreshCustomData();
    assert.equal(kept.state, 'active');
  });

  it('refuses a token already past its exp (within the clock skew) rather than open a session that is over', async () => {
    const iat = Math.floor(now / 1000) - 100;
    const stale = await new SignJWT({ aud: APP_ID, sub: 'stale', iat, exp: iat + 90 }).setProtectedHeader({ alg: 'HS256' }).sign(secretKey(KEY_1));
    const res = await login(ending, stale);
    assert.equal(res.status, 401);
    assert.match(res.json.error, /expired/);
    assert.equal((await login(lasting, stale)).status, 200);
  });
});
