// Custom JWT (`custom-token`): the app's own identity service signs a JWT; we verify it with
// the configured keys (HS256 secrets, RS256 public keys) or a JWK set, and map claims into
// `user.data`. Every refusal says which check failed.

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

type Algorithm = 'HS256' | 'RS256';

export interface CustomTokenSettings {
  readonly algorithm: Algorithm;
  /** Every expected audience; the app id when none is configured. */
  readonly audiences: readonly string[];
  /** With several audiences: must the token carry one of them (true) or all of them (false)? */
  readonly requireAnyAudience: boolean;
  readonly jwkUri?: string;
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
  const algorithm = c.signingAlgorithm ?? 'HS256';
  if (algorithm !== 'HS256' && algorithm !== 'RS256') throw providerConfigError(config, field('signingAlgorithm'), 'must be HS256 or RS256');
  const rawAudience = c.audience ?? [];
  const audiences = typeof rawAudience === 'string' ? (rawAudience ? [rawAudience] : []) : rawAudience;
  if (!Array.isArray(audiences) || !audiences.every((a) => typeof a === 'string' && a.length > 0)) {
    throw providerConfigError(config, field('audience'), 'must be a string or a list of strings');
  }
  const useJwk = c.useJWKURI === true;
  const jwkUri = c.jwkURI;
  if (useJwk) {
    if (typeof jwkUri !== 'string' || !/^https?:\/\//.test(jwkUri)) throw providerConfigError(config, field('jwkURI'), 'must be an http(s) URL when useJWKURI is true');
    if (algorithm !== 'RS256') throw providerConfigError(config, field('signingAlgorithm'), 'must be RS256 with a JWK URI');
  }
  return {
    algorithm,
    audiences: audiences.length ? (audiences as string[]) : [appId],
    requireAnyAudience: c.requireAnyAudience !== false,
    jwkUri: useJwk ? (jwkUri as string) : undefined,
  };
}

/** Secret names of the signing keys: `signingKeys` (list) or the older single `signingKey`. */
function signingKeyNames(config: ProviderConfig): string[] {
  const list = config.secretConfigLists?.signingKeys ?? [];
  const single = config.secretConfig.signingKey;
  return [...list, ...(single ? [single] : [])];
}

async function importKey(material: string, algorithm: Algorithm): Promise<KeyObject | CryptoKey> {
  if (algorithm === 'HS256') return createSecretKey(Buffer.from(material, 'utf8'));
  const pem = material.trim();
  return pem.includes('BEGIN CERTIFICATE') ? importX509(pem, 'RS256') : importSPKI(pem, 'RS256');
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
  if (err instanceof errors.JOSEAlgNotAllowed) return auth(`signing algorithm is not ${settings.algorithm}`);
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return auth(`claim '${err.claim}' is missing`);
    if (err.claim === 'aud') return auth('token audience does not match');
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
  let keys: (KeyObject | CryptoKey)[] = [];
  let jwks: JWTVerifyGetKey | undefined;
  if (settings.jwkUri) {
    // jose caches the set, refetches it on an unknown kid (at most once per cooldown) and aborts slow fetches.
    jwks = createRemoteJWKSet(new URL(settings.jwkUri), {
      timeoutDuration: deps.jwksTimeoutMs ?? 5000,
      cooldownDuration: deps.jwksCooldownMs ?? 5000,
      cacheMaxAge: 600_000,
    });
  } else {
    const names = signingKeyNames(config);
    const field = `secret_config.signingKeys`;
    if (names.length === 0) throw providerConfigError(config, field, 'at least one signing key secret is required (or useJWKURI)');
    if (names.length > MAX_SIGNING_KEYS) throw providerConfigError(config, field, `at most ${MAX_SIGNING_KEYS} signing keys are allowed`);
    keys = await Promise.all(
      names.map(async (name) => {
        const material = deps.secrets.get(name);
        if (material === undefined) throw providerConfigError(config, field, `secret '${name}' is not provided (--secrets or BASTE_SECRET_${name})`);
        if (settings.algorithm === 'HS256' && (material.length < 32 || material.length > 512)) {
          throw providerConfigError(config, field, `secret '${name}' must be 32 to 512 characters long`);
        }
        try {
          return await importKey(material, settings.algorithm);
        } catch {
          throw providerConfigError(config, field, `secret '${name}' is not a PEM public key or certificate usable for RS256`);
        }
      }),
    );
  }
  const clock = deps.clock ?? Date.now;

  const verify = async (token: string): Promise<JWTPayload> => {
    const options = {
      algorithms: [settings.algorithm],
      clockTolerance: CLOCK_SKEW_SECONDS,
      currentDate: new Date(clock()),
      requiredClaims: ['exp', 'sub', 'aud'],
    };
    let header: { kid?: unknown; typ?: unknown };
    try {
      header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { kid?: unknown; typ?: unknown };
      if (header === null || typeof header !== 'object') throw new Error('not an object');
    } catch {
      throw new BasteError('AuthError', 'custom JWT refused: token is malformed');
    }
    // behaviour.md §A.7: the header's typ, when given, must say JWT (a media type: any case). Other
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
    for (const key of keys) {
      try {
        return (await jwtVerify(token, key, options)).payload;
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
      return { externalId: claims.sub, data: metadataFrom(claims, config.metadataFields) };
    },
  };
}
