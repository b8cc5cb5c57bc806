// Differential check of the access-token fast path (src/sessions/hs256.ts) against jose, with
// the options Sessions.verifyAccessToken passes: every token the fast path decides must get the
// same verdict (accepted with the same claims, expired, or invalid) from jose's jwtVerify.
// Run by test/hs256-equivalence.test.ts (exits 1 on the first disagreement).

import { createHmac, randomBytes, webcrypto } from 'node:crypto';
import { deepStrictEqual } from 'node:assert';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { encodedHs256Header, verifyCanonicalHs256, type Hs256Verdict } from '../src/sessions/hs256.js';

const secretBytes = randomBytes(64);
const otherBytes = randomBytes(64);
const kid = randomBytes(8).toString('hex');
const cryptoKey = await webcrypto.subtle.importKey('raw', secretBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
const key = { key: cryptoKey, secret: secretBytes, header: encodedHs256Header(kid) };
const now = Math.floor(Date.now() / 1000);

type Outcome = { ok: Record<string, unknown> } | 'expired' | 'invalid';

async function viaJose(token: string): Promise<Outcome> {
  try {
    const { payload } = await jwtVerify(token, cryptoKey, {
      algorithms: ['HS256'],
      currentDate: new Date(now * 1000),
      requiredClaims: ['sub', 'exp', 'iat'],
    });
    return { ok: payload as Record<string, unknown> };
  } catch (err) {
    return err instanceof joseErrors.JWTExpired ? 'expired' : 'invalid';
  }
}

const fromFast = (v: Hs256Verdict): Outcome => ('payload' in v ? { ok: v.payload } : v.error);

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64url');
const sign = (input: string, secret = secretBytes) => createHmac('sha256', secret).update(input).digest('base64url');
/** A token with any header and payload text, signed by hand. */
const raw = (payloadText: string | Buffer, header = key.header, secret = secretBytes) => {
  const input = `${header}.${b64(payloadText)}`;
  return `${input}.${sign(input, secret)}`;
};
const claims = (over: Record<string, unknown> = {}) => ({
  typ: 'access',
  baas_device_id: '0'.repeat(24),
  baas_domain_id: '1'.repeat(24),
  baas_id: '2'.repeat(24),
  baas_user_id: '3'.repeat(24),
  sub: '3'.repeat(24),
  iat: now - 10,
  exp: now + 1800,
  ...over,
});
const omit = (name: string) => {
  const c: Record<string, unknown> = claims();
  delete c[name];
  return c;
};

// As Sessions.accessTokenFor signs them.
const signedBySessions = await new SignJWT({ typ: 'access', baas_id: 'x', baas_user_id: 'u', baas_device_id: 'd', baas_domain_id: 'm' })
  .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid })
  .setSubject('u')
  .setIssuedAt(now)
  .setExpirationTime(now + 1800)
  .sign(cryptoKey);

const cases: Record<string, string> = {
  'signed like Sessions': signedBySessions,
  valid: raw(JSON.stringify(claims())),
  'exp = now': raw(JSON.stringify(claims({ exp: now }))),
  'exp = now - 1': raw(JSON.stringify(claims({ exp: now - 1 }))),
  'exp = now + 1': raw(JSON.stringify(claims({ exp: now + 1 }))),
  'exp as string': raw(JSON.stringify(claims({ exp: String(now + 100) }))),
  'exp null': raw(JSON.stringify(claims({ exp: null }))),
  'exp 1e999': raw(`{"sub":"a","iat":1,"exp":1e999}`),
  'nbf future': raw(JSON.stringify(claims({ nbf: now + 5 }))),
  'nbf now': raw(JSON.stringify(claims({ nbf: now }))),
  'nbf string': raw(JSON.stringify(claims({ nbf: 'x' }))),
  'nbf null': raw(JSON.stringify(claims({ nbf: null }))),
  'nbf future and expired': raw(JSON.stringify(claims({ nbf: now + 5, exp: now - 5 }))),
  'missing sub': raw(JSON.stringify(omit('sub'))),
  'missing exp': raw(JSON.stringify(omit('exp'))),
  'missing iat': raw(JSON.stringify(omit('iat'))),
  'missing sub, expired': raw(JSON.stringify({ ...omit('sub'), exp: now - 5 })),
  'iat string': raw(JSON.stringify(claims({ iat: 'yesterday' }))),
  'iat in the future': raw(JSON.stringify(claims({ iat: now + 1000 }))),
  'sub number': raw(JSON.stringify(claims({ sub: 42 }))),
  'payload array': raw('[1,2,3]'),
  'payload number': raw('42'),
  'payload null': raw('null'),
  'payload string': raw('"hello"'),
  'payload not JSON': raw('{"sub":'),
  'payload invalid UTF-8': raw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])),
  'payload with BOM': raw(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(claims()))])),
  'payload __proto__': raw(`{"__proto__":{"x":1},"sub":"a","iat":1,"exp":${now + 100}}`),
  'wrong key': raw(JSON.stringify(claims()), key.header, otherBytes),
};

// Tampering with a valid token.
const [h, p, s] = cases.valid!.split('.') as [string, string, string];
cases['payload swapped, old signature'] = `${h}.${b64(JSON.stringify(claims({ sub: 'someone-else' })))}.${s}`;
const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const lastValue = alphabet.indexOf(s.at(-1)!);
cases['signature trailing bits changed'] = `${h}.${p}.${s.slice(0, -1)}${alphabet[lastValue ^ 1]}`;
cases['signature last char changed'] = `${h}.${p}.${s.slice(0, -1)}${alphabet[(lastValue + 4) % 64]}`;

// Shapes the fast path must leave to jose.
const mustFallBack: Record<string, string> = {
  'header keys reordered': raw(JSON.stringify(claims()), b64(JSON.stringify({ typ: 'JWT', alg: 'HS256', kid }))),
  'header with crit': raw(JSON.stringify(claims()), b64(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid, crit: ['b64'], b64: false }))),
  'alg none': `${b64(JSON.stringify({ alg: 'none', typ: 'JWT', kid }))}.${p}.`,
  'signature padded': `${h}.${p}.${s}=`,
  'signature with a standard-base64 character': `${h}.${p}.+${s.slice(1)}`,
  'payload padded': `${h}.${p}==.${s}`,
  'payload length % 4 = 1': `${h}.${p}${'A'.repeat((5 - (p.length % 4)) % 4)}.${s}`,
  'four parts': `${h}.${p}.${s}.x`,
  'empty signature': `${h}.${p}.`,
  'empty payload': raw(''),
};

let decided = 0;
const check = async (name: string, token: string) => {
  const fast = verifyCanonicalHs256(token, key, now);
  if (fast === null) return false;
  decided++;
  const expected = await viaJose(token);
  try {
    deepStrictEqual(fromFast(fast), expected);
  } catch {
    process.stderr.write(`DISAGREE on ${name}: fast path ${JSON.stringify(fromFast(fast))}, jose ${JSON.stringify(expected)}\n${token}\n`);
    process.exit(1);
  }
  return true;
};

for (const [name, token] of Object.entries(cases)) {
  if (!(await check(name, token))) {
    process.stderr.write(`the fast path did not decide '${name}', which is in the shape Baste signs\n`);
    process.exit(1);
  }
}
for (const [name, token] of Object.entries(mustFallBack)) {
  if (verifyCanonicalHs256(token, key, now) !== null) {
    process.stderr.write(`the fast path decided '${name}'; it must leave that token to jose\n`);
    process.exit(1);
  }
}

// Random single-character mutations of valid tokens.
const seeds = [cases.valid!, signedBySessions];
for (let i = 0; i < 20_000; i++) {
  const seed = seeds[i % seeds.length]!;
  const at = Math.floor(Math.random() * seed.length);
  const ch = alphabet[Math.floor(Math.random() * alphabet.length)]!;
  await check(`mutation ${i} at ${at}`, seed.slice(0, at) + ch + seed.slice(at + 1));
}

process.stdout.write(
  `hs256 fast path agrees with jose on ${Object.keys(cases).length} crafted tokens and ${decided - Object.keys(cases).length} ` +
    `mutated tokens it decided; it leaves ${Object.keys(mustFallBack).length} other shapes to jose\n`,
);
