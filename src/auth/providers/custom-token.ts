// Custom JWT (`custom-token`): the app's own identity service signs a JWT; we verify it with
// the configured keys (HS256 secrets; RS256, ES256 or EdDSA public keys) or JWK sets, and map
// claims into `user.data`. Every refusal says which check failed.
//
// Beyond the platform (which knew HS256 and RS256, one JWK URI): ES256 and EdDSA (Ed25519) keys
// and JWK sets, `signingAlgorithm` as a list for a set or keys that mix them, `jwkURI` as a list
// (a key is looked for in each set, in order), an `issuer` pin (a string or a list: the token's
// `iss` must be one of them), and `endSessionOnTokenExpiry` (the Baste session ends when the
// token that logged in expires; the platform checked `exp` at login only).

import { createRemoteJWKSet, errors, importSPKI, importX509, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type CryptoKey } from 'jose';
import { createSecretKey, type KeyObject } from 'node:crypto';
import type { MetadataField, ProviderConfig } from '../../app/model.js';
import { providerConfigError } from '../../app/providers.js';
import { BasteError } from '../../errors.js';
import type { AuthProvider, VerifiedIdentity } from '../provider.js';

/** App Services' limit (Realm's was 2,048). */
export const MAX_JWT_LENGTH = 1_000_000;
/** Leeway for `exp`, `nbf` and `iat` between our clock and the issuer's. */
export const CLOCK_SKEW_SECONDS = 30;
const MAX_SIGNING_KEYS = 3;
const MAX_JWK_URIS = 5;

const ALGORITHMS = ['HS256', 'RS256', 'ES256', 'EdDSA'] as const;
type Algorithm = (typeof ALGORITHMS)[number];
type PublicKeyAlgorithm = Exclude<Algorithm, 'HS256'>;

export interface CustomTokenSettings {
  /** What a token may be signed with: HS256 alone, or public-key algorithms. */
  readonly algorithms: readonly Algorithm[];
  /** Every expected audience; the app id when none is configured. */
  readonly audiences: readonly string[];
  /** With several audiences: must the token carry one of them (true) or all of them (false)? */
  readonly requireAnyAudience: boolean;
  /** JWK set URLs, looked in in order; empty with signing keys from secrets. */
  readonly jwkUris: readonly string[];
  /** The `iss` values accepted; none configured: any (or none). */
  readonly issuers: readonly string[];
  /** The session a token opens ends when the token expires. */
  readonly endSessionOnTokenExpiry: boolean;
}

/** A string or a list of non-empty strings (or nothing), as a list. */
function stringList(value: unknown, config: ProviderConfig, key: string): string[] {
  const list = value === undefined || value === '' ? [] : typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every((a) => typeof a === 'string' && a.length > 0)) {
    throw providerConfigError(config, `config.${key}`, 'must be a string or a list of strings');
  }
  return list as string[];
}

export interface CustomTokenDeps {
  readonly appId: string;
  readonly secrets: ReadonlyMap<string, string>;
  /** Wall-clock budget for one JWK set fetch (default 5 s). */
  readonly jwksTimeoutMs?: number;
  /** Least time between two fetches of the JWK set for unknown `kid`s (default 5 s), so forged kids cannot hammer it. */
  readonly jwksCooldownMs?: number;
  readonly clock?: () => number;
}

export function parseCustomTokenSettings(config: ProviderConfig, appId: string): CustomTokenSettings {
  const c = config.config;
  const field = (key: string) => `config.${key}`;
  const useJwk = c.useJWKURI === true;
  // The platform's default is HS256 with keys, RS256 with a JWK URI (the only algorithm it allowed there).
  const algorithms = stringList(c.signingAlgorithm ?? (useJwk ? 'RS256' : 'HS256'), config, 'signingAlgorithm');
  const known = ALGORITHMS.join(', ');
  if (algorithms.length === 0) throw providerConfigError(config, field('signingAlgorithm'), `must name one of ${known}`);
  for (const a of algorithms) {
    if (!(ALGORITHMS as readonly string[]).includes(a)) throw providerConfigError(config, field('signingAlgorithm'), `'${a.slice(0, 32)}' is not one of ${known}`);
  }
  // An HS256 secret beside public keys would let a token signed with a public key's text pass.
  if (algorithms.includes('HS256') && algorithms.length > 1) throw providerConfigError(config, field('signingAlgorithm'), 'HS256 cannot be combined with other algorithms');
  const audiences = stringList(c.audience, config, 'audience');
  const jwkUris = useJwk ? stringList(c.jwkURI, config, 'jwkURI') : [];
  if (useJwk) {
    if (jwkUris.length === 0 || !jwkUris.every((u) => /^https?:\/\//.test(u))) {
      throw providerConfigError(config, field('jwkURI'), 'must be an http(s) URL, or a list of them, when useJWKURI is true');
    }
    if (jwkUris.length > MAX_JWK_URIS) throw providerConfigError(config, field('jwkURI'), `at most ${MAX_JWK_URIS} JWK URIs are allowed`);
    if (algorithms.includes('HS256')) throw providerConfigError(config, field('signingAlgorithm'), 'must be RS256, ES256 or EdDSA with a JWK URI');
  }
  if (c.endSessionOnTokenExpiry !== undefined && typeof c.endSessionOnTokenExpiry !== 'boolean') {
    throw providerConfigError(config, field('endSessionOnTokenExpiry'), 'must be true or false');
  }
  return {
    algorithms: algorithms as Algorithm[],
    audiences: audiences.length ? audiences : [appId],
    requireAnyAudience: c.requireAnyAudience !== false,
    jwkUris,
    issuers: stringList(c.issuer, config, 'issuer'),
    endSessionOnTokenExpiry: c.endSessionOnTokenExpiry === true,
  };
}

/** Secret names of the signing keys: `signingKeys` (list) or the older single `signingKey`. */
function signingKeyNames(config: ProviderConfig): string[] {
  const list = config.secretConfigLists?.signingKeys ?? [];
  const single = config.secretConfig.signingKey;
  return [...list, ...(single ? [single] : [])];
}

interface SigningKey {
  readonly key: KeyObject | CryptoKey;
  /** The one algorithm this key verifies (no key serves two: no algorithm confusion). */
  readonly algorithm: Algorithm;
}

/** A secret's key: the HS256 secret itself, or a PEM public key or certificate for the first algorithm that fits it. */
async function importKey(material: string, algorithms: readonly Algorithm[]): Promise<SigningKey | null> {
  if (algorithms[0] === 'HS256') return { key: createSecretKey(Buffer.from(material, 'utf8')), algorithm: 'HS256' };
  const pem = material.trim();
  for (const algorithm of algorithms as readonly PublicKeyAlgorithm[]) {
    try {
      const key = pem.includes('BEGIN CERTIFICATE') ? await importX509(pem, algorithm) : await importSPKI(pem, algorithm);
      return { key, algorithm };
    } catch {
      // Not a key of this algorithm (an EC key for RS256, a P-384 key for ES256): try the next one.
    }
  }
  return null;
}

/** One key lookup over several JWK sets: the first set that has the token's key gives it. */
function firstMatchingSet(sets: readonly JWTVerifyGetKey[]): JWTVerifyGetKey {
  if (sets.length === 1) return sets[0]!;
  return async (header, token) => {
    let failure: unknown;
    for (const set of sets) {
      try {
        return await set(header, token);
      } catch (err) {
        // A set without the key: look in the next. A set that cannot be fetched: look on, and say
        // so if no other set has the key either.
        if (!(err instanceof errors.JWKSNoMatchingKey)) failure ??= err;
      }
    }
    throw failure ?? new errors.JWKSNoMatchingKey();
  };
}

/** Reads `a.b.c` from the claims. */
function claimAt(payload: JWTPayload, path: string): unknown {
  let value: unknown = payload;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

export function metadataFrom(payload: JWTPayload, fields: readonly MetadataField[]): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const field of fields) {
    const value = claimAt(payload, field.name);
    if (value === undefined || value === null) {
      if (field.required) throw new BasteError('AuthError', `required metadata field '${field.name}' is missing from the token`);
      continue;
    }
    data[field.fieldName ?? field.name.split('.').at(-1)!] = value;
  }
  return data;
}

/** Translates jose's failures into one clear message each; anything unexpected stays generic. */
function refusal(err: unknown, settings: CustomTokenSettings): BasteError {
  if (err instanceof BasteError) return err;
  const auth = (message: string) => new BasteError('AuthError', `custom JWT refused: ${message}`);
  if (err instanceof errors.JWTExpired) return auth('token has expired');
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return auth(`signing algorithm is not ${settings.algorithms.length === 1 ? settings.algorithms[0] : `one of ${settings.algorithms.join(', ')}`}`);
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return auth(`claim '${err.claim}' is missing`);
    if (err.claim === 'aud') return auth('token audience does not match');
    if (err.claim === 'iss') return auth('token issuer does not match');
    if (err.claim === 'nbf') return auth('token is not valid yet (nbf)');
    return auth(`claim '${err.claim}' is missing or invalid`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return auth('signature verification failed');
  if (err instanceof errors.JWKSNoMatchingKey) return auth('no key in the JWK set matches the token');
  if (err instanceof errors.JWKSTimeout) return new BasteError('JWKSUnavailable', 'the JWK set could not be fetched in time');
  if (err instanceof errors.JWKSInvalid || err instanceof errors.JOSEError && err.code === 'ERR_JOSE_GENERIC') {
    return new BasteError('JWKSUnavailable', 'the JWK set could not be fetched or is invalid');
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return auth('token is malformed');
  if (err instanceof TypeError || (err as { name?: string })?.name === 'AbortError') {
    return new BasteError('JWKSUnavailable', 'the JWK set could not be fetched');
  }
  return auth('token could not be verified');
}

export async function customTokenProvider(config: ProviderConfig, deps: CustomTokenDeps): Promise<AuthProvider> {
  const settings = parseCustomTokenSettings(config, deps.appId);
  let keys: SigningKey[] = [];
  let jwks: JWTVerifyGetKey | undefined;
  if (settings.jwkUris.length > 0) {
    // jose caches each set, refetches it on an unknown kid (at most once per cooldown) and aborts slow fetches.
    jwks = firstMatchingSet(
      settings.jwkUris.map((uri) =>
        createRemoteJWKSet(new URL(uri), {
          timeoutDuration: deps.jwksTimeoutMs ?? 5000,
          cooldownDuration: deps.jwksCooldownMs ?? 5000,
          cacheMaxAge: 600_000,
        }),
      ),
    );
  } else {
    const names = signingKeyNames(config);
    const field = `secret_config.signingKeys`;
    if (names.length === 0) throw providerConfigError(config, field, 'at least one signing key secret is required (or useJWKURI)');
    if (names.length > MAX_SIGNING_KEYS) throw providerConfigError(config, field, `at most ${MAX_SIGNING_KEYS} signing keys are allowed`);
    keys = await Promise.all(
      names.map(async (name) => {
        const material = deps.secrets.get(name);
        if (material === undefined) throw providerConfigError(config, field, `secret '${name}' is not provided (--secrets or BASTE_SECRET_${name})`);
        if (settings.algorithms[0] === 'HS256' && (material.length < 32 || material.length > 512)) {
          throw providerConfigError(config, field, `secret '${name}' must be 32 to 512 characters long`);
        }
        const key = await importKey(material, settings.algorithms);
        if (!key) throw providerConfigError(config, field, `secret '${name}' is not a PEM public key or certificate usable for ${settings.algorithms.join(' or ')}`);
        return key;
      }),
    );
  }
  const clock = deps.clock ?? Date.now;

  const verify = async (token: string): Promise<JWTPayload> => {
    const options = {
      algorithms: [...settings.algorithms] as string[],
      clockTolerance: CLOCK_SKEW_SECONDS,
      currentDate: new Date(clock()),
      requiredClaims: ['exp', 'sub', 'aud'],
      ...(settings.issuers.length > 0 ? { issuer: [...settings.issuers] } : {}),
    };
    let header: { kid?: unknown; typ?: unknown };
    try {
      header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { kid?: unknown; typ?: unknown };
      if (header === null || typeof header !== 'object') throw new Error('not an object');
    } catch {
      throw new BasteError('AuthError', 'custom JWT refused: token is malformed');
    }
    // The header's typ, when given, must say JWT (a media type: any case). Other
    // JOSE objects (`at+jwt`, `JWE`, a refresh token type) are not login credentials.
    if (header.typ !== undefined && (typeof header.typ !== 'string' || header.typ.toUpperCase() !== 'JWT')) {
      throw new BasteError('AuthError', `custom JWT refused: the token header's 'typ' must be 'JWT', not '${String(header.typ).slice(0, 32)}'`);
    }
    if (jwks) {
      const kid = header.kid;
      if (typeof kid !== 'string') throw new BasteError('AuthError', "custom JWT refused: the token header has no 'kid'");
      return (await jwtVerify(token, jwks, options)).payload;
    }
    let lastError: unknown;
    // Each key verifies with its own algorithm only; keys of another algorithm than the token's are skipped.
    const alg = (header as { alg?: unknown }).alg;
    const usable = keys.filter((k) => k.algorithm === alg);
    if (usable.length === 0) {
      if (typeof alg === 'string' && (settings.algorithms as readonly string[]).includes(alg)) {
        throw new BasteError('AuthError', `custom JWT refused: no signing key is configured for ${alg}`);
      }
      throw new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');
    }
    for (const { key, algorithm } of usable) {
      try {
        return (await jwtVerify(token, key, { ...options, algorithms: [algorithm] })).payload;
      } catch (err) {
        lastError = err;
        // Only a bad signature is worth trying the next key; any other failure is the token's.
        if (!(err instanceof errors.JWSSignatureVerificationFailed)) break;
      }
    }
    throw lastError;
  };

  return {
    config,
    linkable: true,
    // The claimed (not yet verified) subject: failures are counted per subject and per address.
    accountOf(payload) {
      const token = payload.token;
      if (typeof token !== 'string' || token.length > MAX_JWT_LENGTH) return null;
      try {
        const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub?: unknown } | null;
        return typeof claims?.sub === 'string' ? claims.sub : null;
      } catch {
        return null;
      }
    },
    async login(payload): Promise<VerifiedIdentity> {
      const token = payload.token;
      if (typeof token !== 'string' || token.length === 0) throw new BasteError('MissingParameter', 'token is required and must be a string');
      if (token.length > MAX_JWT_LENGTH) throw new BasteError('InvalidParameter', `token is longer than ${MAX_JWT_LENGTH} characters`);
      let claims: JWTPayload;
      try {
        claims = await verify(token);
      } catch (err) {
        throw refusal(err, settings);
      }
      const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      const matches = settings.audiences.filter((a) => aud.includes(a));
      if (matches.length === 0 || (!settings.requireAnyAudience && matches.length < settings.audiences.length)) {
        throw new BasteError('AuthError', 'custom JWT refused: token audience does not match');
      }
      if (typeof claims.iat === 'number' && claims.iat > clock() / 1000 + CLOCK_SKEW_SECONDS) {
        throw new BasteError('AuthError', 'custom JWT refused: token is issued in the future (iat)');
      }
      if (typeof claims.sub !== 'string' || claims.sub.length === 0 || claims.sub.length > 256) {
        throw new BasteError('AuthError', "custom JWT refused: claim 'sub' must be a non-empty string");
      }
      const identity = { externalId: claims.sub, data: metadataFrom(claims, config.metadataFields) };
      if (!settings.endSessionOnTokenExpiry) return identity;
      // jose required `exp` (a number) and allowed the clock skew; a session must not start already over.
      const endsBy = (claims.exp as number) * 1000;
      if (endsBy <= clock()) throw new BasteError('AuthError', 'custom JWT refused: token has expired');
      return { ...identity, sessionEndsBy: endsBy };
    },
  };
}
