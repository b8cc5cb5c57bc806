// A fast path for signing and verifying the access tokens this server signs: node:crypto's HMAC is
// synchronous and about ten times the rate of jose, which on Node runs every HS256 verification
// as an asynchronous WebCrypto job (a third of the time of `GET /auth/profile`; bench/README.md).
//
// It decides only tokens in exactly the shape Baste signs: the protected header byte for byte as
// signed under that kid, the payload and a 32-byte signature in unpadded base64url. jose decodes
// such parts to the same bytes, so this path accepts and refuses exactly what jose does with the
// same options (algorithms HS256, required sub/exp/iat, no clock tolerance). Any other token
// returns null and goes through jose as before.

import { createHmac, timingSafeEqual } from 'node:crypto';

export interface Hs256Key {
  /** The raw HMAC secret (a Buffer: createHmac takes it faster than a KeyObject). */
  readonly secret: Buffer;
  /** The encoded protected header Baste signs with under this key's kid. */
  readonly header: string;
}

/** The encoded protected header of tokens signed with `kid` (as jose's SignJWT writes it). */
export const encodedHs256Header = (kid: string): string =>
  Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid })).toString('base64url');

export type Hs256Verdict = { readonly payload: Record<string, unknown> } | { readonly error: 'expired' | 'invalid' };

const B64URL = /^[A-Za-z0-9_-]+$/;
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
/** Checked in jose's order (it walks `requiredClaims` reversed). */
const REQUIRED_CLAIMS = ['iat', 'exp', 'sub'] as const;

/**
 * Verifies `token` when it has the canonical shape; null when it does not (use jose then).
 * `nowSeconds` is jose's `currentDate` in whole seconds.
 */
export function verifyCanonicalHs256(token: string, key: Hs256Key, nowSeconds: number): Hs256Verdict | null {
  const firstDot = token.indexOf('.');
  const secondDot = token.indexOf('.', firstDot + 1);
  if (firstDot < 0 || secondDot < 0 || token.indexOf('.', secondDot + 1) >= 0) return null;
  const header = token.slice(0, firstDot);
  const payloadPart = token.slice(firstDot + 1, secondDot);
  const signature = token.slice(secondDot + 1);
  if (header !== key.header || !SIGNATURE.test(signature) || !B64URL.test(payloadPart) || payloadPart.length % 4 === 1) {
    return null;
  }

  const expected = createHmac('sha256', key.secret).update(token.slice(0, secondDot)).digest();
  if (!timingSafeEqual(expected, Buffer.from(signature, 'base64url'))) return { error: 'invalid' };

  // As jose's validateClaimsSet, for the options Sessions passes.
  let claims: unknown;
  try {
    claims = JSON.parse(strictUtf8.decode(Buffer.from(payloadPart, 'base64url')));
  } catch {
    return { error: 'invalid' };
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return { error: 'invalid' };
  const set = claims as Record<string, unknown>;
  for (const claim of REQUIRED_CLAIMS) if (!Object.hasOwn(set, claim)) return { error: 'invalid' };
  if (typeof set.iat !== 'number') return { error: 'invalid' };
  if (set.nbf !== undefined && (typeof set.nbf !== 'number' || set.nbf > nowSeconds)) return { error: 'invalid' };
  if (typeof set.exp !== 'number') return { error: 'invalid' };
  if (set.exp <= nowSeconds) return { error: 'expired' };
  return { payload: set };
}

/**
 * Signs `claims` as jose's SignJWT does with the header `key.header` (the same bytes: JSON of the
 * claims in their order, unpadded base64url, HMAC-SHA256), synchronously.
 */
export function signHs256(claims: Record<string, unknown>, key: Hs256Key): string {
  const signingInput = `${key.header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${signingInput}.${createHmac('sha256', key.secret).update(signingInput).digest('base64url')}`;
}
