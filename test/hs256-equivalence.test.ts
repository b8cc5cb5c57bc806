// The hand-written HS256 fast path must decide every token exactly as jose would: run the
// differential check (crafted tokens plus thousands of random mutations) as part of the suite.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';

it('the access-token fast path agrees with jose on every token it decides', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'hs256-equivalence.ts')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /agrees with jose on \d+ crafted tokens and \d+ mutated tokens/);
});

it('signs the same bytes as jose SignJWT, and jose verifies them', async () => {
  const { SignJWT, jwtVerify } = await import('jose');
  const { randomBytes, webcrypto } = await import('node:crypto');
  const { encodedHs256Header, signHs256 } = await import('../src/sessions/hs256.js');
  const cases: Record<string, unknown>[] = [
    { typ: 'access', baas_id: 'a'.repeat(24), sub: 'u', iat: 1_700_000_000, exp: 1_700_001_800 },
    // custom data with characters that base64 and JSON escape, nested values and non-ASCII text
    { typ: 'access', user_data: { name: 'Zoë "Z" <z@x>', tags: ['a/b', '+?'], n: 1.5, nested: { ok: true, none: null } }, sub: 'u2', iat: 1, exp: 2 },
  ];
  for (const claims of cases) {
    const secret = randomBytes(64);
    const kid = randomBytes(12).toString('hex');
    const key = await webcrypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    const { sub, iat, exp, ...rest } = claims as { sub: string; iat: number; exp: number };
    const byJose = await new SignJWT(rest).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid }).setSubject(sub).setIssuedAt(iat).setExpirationTime(exp).sign(key);
    const ours = signHs256(claims, { secret, header: encodedHs256Header(kid) });
    assert.equal(ours, byJose);
    const { payload } = await jwtVerify(ours, key, { algorithms: ['HS256'], currentDate: new Date(iat * 1000) });
    assert.deepEqual(payload, claims);
  }
});
