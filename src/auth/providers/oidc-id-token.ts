// Verifying an OpenID Connect id_token from a provider (Google, Apple): RS256 signature against the
// provider's JWK set, issuer, audience, expiry and issue time, with every failure turned into one
// clear refusal. The providers differ only in what they pass here; the nonce and the claims they
// read stay with them.

import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { BasteError } from '../../errors.js';
import { OAUTH_CLOCK_SKEW_SECONDS } from './oauth-shared.js';

export interface IdTokenVerifierOptions {
  /** The provider as refusals name it ("Google"). */
  readonly label: string;
  /** Accepted `iss` values; the first is the one refusals name. */
  readonly issuers: readonly string[];
  readonly jwksUri: URL;
  /** Accepted `aud` values (any one of them), unless a call names others. */
  readonly audiences: readonly string[];
  /** What refusals call the accepted audiences ("this app's Google client id"). */
  readonly audienceDescription: string;
  readonly clock?: () => number;
  readonly jwksTimeoutMs?: number;
  readonly jwksCooldownMs?: number;
}

/** Checks an id_token (against `audiences` when given, else the configured ones) and returns its claims. */
export type IdTokenVerifier = (token: string, audiences?: readonly string[]) => Promise<JWTPayload>;

const ALGORITHM = 'RS256';

export function idTokenVerifier(opts: IdTokenVerifierOptions): IdTokenVerifier {
  const clock = opts.clock ?? Date.now;
  // jose caches the set, refetches it on an unknown kid (at most once per cooldown) and aborts slow fetches.
  const jwks = createRemoteJWKSet(opts.jwksUri, {
    timeoutDuration: opts.jwksTimeoutMs ?? 5000,
    cooldownDuration: opts.jwksCooldownMs ?? 5000,
    cacheMaxAge: 600_000,
  });
  const expected = { label: opts.label, issuer: opts.issuers[0]!, audience: opts.audienceDescription };
  return async (token, audiences = opts.audiences) => {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        algorithms: [ALGORITHM],
        issuer: [...opts.issuers],
        audience: [...audiences],
        clockTolerance: OAUTH_CLOCK_SKEW_SECONDS,
        currentDate: new Date(clock()),
        requiredClaims: ['sub', 'exp', 'iat', 'iss', 'aud'],
      });
      // jose accepts any `iat`; a token from the future means a wrong clock or a forged token.
      if (typeof payload.iat === 'number' && payload.iat > clock() / 1000 + OAUTH_CLOCK_SKEW_SECONDS) {
        throw new BasteError('AuthError', `${opts.label} login refused: the id_token is issued in the future ('iat')`);
      }
      return payload;
    } catch (err) {
      throw idTokenRefusal(err, expected);
    }
  };
}

/** Translates jose's verdict on a provider's id_token into one clear refusal each. */
function idTokenRefusal(err: unknown, expected: { label: string; issuer: string; audience: string }): BasteError {
  const { label } = expected;
  if (err instanceof BasteError) return err;
  const refused = (message: string) => new BasteError('AuthError', `${label} login refused: ${message}`);
  if (err instanceof errors.JWTExpired) return refused('the id_token has expired');
  if (err instanceof errors.JOSEAlgNotAllowed) return refused(`the id_token is not signed with ${ALGORITHM}`);
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return refused(`the id_token audience is not ${expected.audience}`);
    if (err.claim === 'iss') return refused(`the id_token issuer is not ${expected.issuer}`);
    if (err.reason === 'missing') return refused(`the id_token has no '${err.claim}' claim`);
    if (err.claim === 'nbf' || err.claim === 'iat') return refused(`the id_token is not valid yet ('${err.claim}')`);
    return refused(`the id_token '${err.claim}' claim is invalid`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return refused('id_token signature verification failed');
  if (err instanceof errors.JWKSNoMatchingKey) return refused(`no key in ${label}'s JWK set matches the id_token`);
  if (err instanceof errors.JWKSTimeout) return new BasteError('JWKSUnavailable', `${label}'s JWK set could not be fetched in time`);
  if (err instanceof errors.JWKSInvalid || (err instanceof errors.JOSEError && err.code === 'ERR_JOSE_GENERIC')) {
    return new BasteError('JWKSUnavailable', `${label}'s JWK set could not be fetched or is invalid`);
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return refused('the id_token is malformed');
  if (err instanceof TypeError || (err as { name?: string })?.name === 'AbortError') {
    return new BasteError('JWKSUnavailable', `${label}'s JWK set could not be fetched`);
  }
  return refused('the id_token could not be verified');
}
