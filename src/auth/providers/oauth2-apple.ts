// Sign in with Apple (`oauth2-apple`): one identity (Apple's `sub`), two ways in.
//  - `{id_token}` (realm-web Credentials.apple(idToken), the device SDKs' Credentials.apple):
//    verified against Apple's JWK set: issuer, audience = any configured client id (the app's
//    Bundle ID and the web's Services ID together), expiry, and the nonce when the client sends one.
//  - the browser redirect flow (realm-web Credentials.apple(redirectUrl), src/auth/oauth-redirect.ts):
//    Apple answers with `response_mode=form_post`, a POST to our callback carrying the code, and
//    the user's name (only at the first authorization); the code is exchanged at /auth/token and
//    the refresh token Apple returns is kept to revoke at account deletion, as Apple requires.
// The client secret is an ES256 JWT Baste signs itself from the team id, key id and the .p8 key,
// renewed before it expires; a pasted one (App Services' way, valid six months at most) still works.
// Apple's endpoints are fixed: only tests point them elsewhere (deps.endpoints), never the export.

import { createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import { decodeJwt, SignJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import type { ProviderConfig } from '../../app/model.js';
import { providerConfigError, providerFile, providerSettingName, requiredProviderString } from '../../app/providers.js';
import { typeName } from '../../app/check.js';
import { BasteError } from '../../errors.js';
import type { AuthProvider, RedirectRequest, VerifiedIdentity } from '../provider.js';
import {
  checkRedirectUris,
  credentialString,
  DEFAULT_OAUTH_TIMEOUT_MS,
  httpOptions,
  metadataFromProfile,
  OAUTH_CLOCK_SKEW_SECONDS,
  oauthFailure,
  type OAuthProviderDeps,
} from './oauth-shared.js';
import { idTokenVerifier } from './oidc-id-token.js';

const LABEL = 'Apple';

/** Apple's REST API (developer.apple.com, "Sign in with Apple REST API"). */
export const APPLE_ENDPOINTS = {
  issuer: 'https://appleid.apple.com',
  authorizationEndpoint: 'https://appleid.apple.com/auth/authorize',
  tokenEndpoint: 'https://appleid.apple.com/auth/token',
  revocationEndpoint: 'https://appleid.apple.com/auth/revoke',
  jwksUri: 'https://appleid.apple.com/auth/keys',
} as const;
export type AppleEndpoints = { readonly [K in keyof typeof APPLE_ENDPOINTS]: string };

/**
 * Lifetime of the client secrets Baste signs. Apple accepts up to 15777000 s (six months); a short
 * one is renewed in memory and is worth little to whoever might see it.
 */
export const CLIENT_SECRET_TTL_SECONDS = 60 * 60;
const CLIENT_SECRET_RENEW_SECONDS = 5 * 60;

/** Identity data Apple gives only at the first authorization: later logins keep it. */
const NAME_KEYS = ['name', 'first_name', 'last_name'] as const;

export interface AppleDeps extends OAuthProviderDeps {
  /** Tests only (a local server speaking Apple's protocol); never read from the app directory. */
  readonly endpoints?: Partial<AppleEndpoints>;
}

export type AppleClientSecret =
  | { readonly kind: 'generated'; readonly teamId: string; readonly keyId: string; readonly key: KeyObject }
  | { readonly kind: 'pasted'; readonly value: string; readonly expiresAt?: number };

export interface AppleSettings {
  /** `config.clientId`: the Services ID for the web flow (or the Bundle ID of a native-only app). */
  readonly clientId: string;
  /** Every accepted id_token audience: clientId, then `config.additionalClientIds`. */
  readonly audiences: readonly string[];
  /** Undefined: id_token logins only (the redirect flow and revocation need a secret). */
  readonly secret?: AppleClientSecret;
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim().length > 0;

/** The .p8 file's text: PEM, or its base64 body alone, with `\n` written out as in many env files. */
function p8Key(text: string): KeyObject {
  let pem = text.trim().replace(/\\n/g, '\n');
  if (!pem.includes('-----BEGIN')) pem = `-----BEGIN PRIVATE KEY-----\n${pem.replace(/\s+/g, '')}\n-----END PRIVATE KEY-----\n`;
  const key = createPrivateKey({ key: pem, format: 'pem' });
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('not a P-256 key');
  return key;
}

export function parseAppleSettings(config: ProviderConfig, secrets: ReadonlyMap<string, string>): AppleSettings {
  const c = config.config;
  const clientId = requiredProviderString(config, 'config.clientId', c.clientId, 'the Services ID, or the Bundle ID of an app without web login').trim();
  const additional = c.additionalClientIds;
  if (additional !== undefined && (!Array.isArray(additional) || !additional.every(nonEmpty))) {
    throw providerConfigError(config, 'config.additionalClientIds', 'must be a list of client ids (Bundle IDs, Services IDs)');
  }
  const audiences = [...new Set([clientId, ...((additional as string[] | undefined) ?? []).map((a) => a.trim())])];
  checkRedirectUris(config);

  const { teamId, keyId } = c;
  const keySecret = config.secretConfig.privateKey;
  if (teamId !== undefined || keyId !== undefined || keySecret !== undefined) {
    for (const [path, v] of [['config.teamId', teamId], ['config.keyId', keyId], ['secret_config.privateKey', keySecret]] as const) {
      if (v !== undefined && v !== null && typeof v !== 'string') throw providerConfigError(config, path, `must be a string, not ${typeName(v)}`);
    }
    if (!nonEmpty(teamId)) throw providerConfigError(config, 'config.teamId', 'is required with config.keyId and secret_config.privateKey (your Apple Developer Team ID)');
    if (!nonEmpty(keyId)) throw providerConfigError(config, 'config.keyId', 'is required with config.teamId and secret_config.privateKey (the Key ID of the Sign in with Apple key)');
    if (!nonEmpty(keySecret)) {
      throw providerConfigError(config, 'secret_config.privateKey', 'is required with config.teamId and config.keyId (the name of the secret holding the .p8 key)');
    }
    const pem = secrets.get(keySecret);
    if (!pem) throw providerConfigError(config, 'secret_config.privateKey', `secret '${keySecret}' is not provided (--secrets or BASTE_SECRET_${keySecret})`);
    let key: KeyObject;
    try {
      key = p8Key(pem);
    } catch {
      throw providerConfigError(config, 'secret_config.privateKey', `secret '${keySecret}' is not an ES256 (P-256) private key: give the text of the .p8 file Apple let you download`);
    }
    return { clientId, audiences, secret: { kind: 'generated', teamId: teamId.trim(), keyId: keyId.trim(), key } };
  }
  const pastedName = config.secretConfig.clientSecret;
  const value = pastedName ? secrets.get(pastedName) : undefined;
  if (!value) return { clientId, audiences };
  let expiresAt: number | undefined;
  try {
    const exp = decodeJwt(value).exp;
    if (typeof exp === 'number') expiresAt = exp * 1000;
  } catch {
    // Not a JWT: Apple will say so at the first use.
  }
  return { clientId, audiences, secret: { kind: 'pasted', value, expiresAt } };
}

/** What to do about a provider without a usable client secret, for messages. */
export function appleSecretAdvice(config: ProviderConfig): string {
  return (
    `set ${providerSettingName(config, 'config.teamId')}, config.keyId and secret_config.privateKey (the .p8 key) so Baste signs the client secret itself` +
    (config.secretConfig.clientSecret ? `, or provide secret '${config.secretConfig.clientSecret}'` : '')
  );
}

/** Warnings about an Apple provider's client secret (`baste validate`, start-up), empty when all is well. */
export function appleSecretWarnings(config: ProviderConfig, settings: AppleSettings, now: number): string[] {
  const where = `provider '${config.name}' (${providerFile(config)})`;
  const secret = settings.secret;
  if (!secret) return [`${where} has no Apple client secret, so only id_token logins work; the redirect flow and token revocation at account deletion need one: ${appleSecretAdvice(config)}`];
  if (secret.kind === 'pasted' && secret.expiresAt !== undefined) {
    const days = Math.floor((secret.expiresAt - now) / 86_400_000);
    if (secret.expiresAt <= now) return [`${where}: the pasted Apple client secret expired on ${new Date(secret.expiresAt).toISOString().slice(0, 10)}; ${appleSecretAdvice(config)}`];
    if (days < 30) return [`${where}: the pasted Apple client secret expires in ${days} days; ${appleSecretAdvice(config)}`];
  }
  return [];
}

/** Signs (and renews) the ES256 client secret: iss = team id, sub = client id, aud = Apple. */
function clientSecretMaker(secret: AppleClientSecret, audience: string, clock: () => number): (clientId: string) => Promise<string> {
  const cache = new Map<string, { jwt: string; exp: number }>();
  return async (clientId) => {
    if (secret.kind === 'pasted') return secret.value;
    const now = Math.floor(clock() / 1000);
    const hit = cache.get(clientId);
    if (hit && hit.exp - now > CLIENT_SECRET_RENEW_SECONDS) return hit.jwt;
    const exp = now + CLIENT_SECRET_TTL_SECONDS;
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: secret.keyId })
      .setIssuer(secret.teamId)
      .setSubject(clientId)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(secret.key);
    cache.set(clientId, { jwt, exp });
    return jwt;
  };
}

/** Apple writes some booleans as the strings "true"/"false". */
const flag = (v: unknown): boolean | undefined => (v === true || v === 'true' ? true : v === false || v === 'false' ? false : undefined);

const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');

/** The `user` field of Apple's form_post (first authorization only): `{"name":{"firstName","lastName"},"email"}`. */
function nameFromUserField(raw: string | null): Record<string, string> {
  if (!raw || raw.length > 4096) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return {};
  }
  const name = (parsed as { name?: unknown } | null)?.name as Record<string, unknown> | undefined;
  if (!name || typeof name !== 'object') return {};
  const part = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim().slice(0, 200) : undefined);
  const first = part(name.firstName);
  const last = part(name.lastName);
  const out: Record<string, string> = {};
  if (first) out.first_name = first;
  if (last) out.last_name = last;
  if (first || last) out.name = [first, last].filter(Boolean).join(' ');
  return out;
}

export async function appleProvider(config: ProviderConfig, deps: AppleDeps): Promise<AuthProvider> {
  const settings = parseAppleSettings(config, deps.secrets);
  const endpoints: AppleEndpoints = { ...APPLE_ENDPOINTS, ...deps.endpoints };
  const clock = deps.clock ?? Date.now;
  const timeoutMs = deps.timeoutMs ?? DEFAULT_OAUTH_TIMEOUT_MS;
  const urls = [endpoints.authorizationEndpoint, endpoints.tokenEndpoint, endpoints.revocationEndpoint, endpoints.jwksUri].map((u) => new URL(u));
  const as: oauth.AuthorizationServer = {
    issuer: endpoints.issuer,
    authorization_endpoint: endpoints.authorizationEndpoint,
    token_endpoint: endpoints.tokenEndpoint,
    revocation_endpoint: endpoints.revocationEndpoint,
    jwks_uri: endpoints.jwksUri,
  };
  const client: oauth.Client = { client_id: settings.clientId, [oauth.clockTolerance]: OAUTH_CLOCK_SKEW_SECONDS };
  const http = httpOptions(timeoutMs, urls);
  const clientSecret = settings.secret ? clientSecretMaker(settings.secret, endpoints.issuer, clock) : undefined;
  const verifyIdToken = idTokenVerifier({
    label: LABEL,
    issuers: [endpoints.issuer],
    jwksUri: new URL(endpoints.jwksUri),
    audiences: settings.audiences,
    audienceDescription: "any of this app's Apple client ids",
    clock,
    jwksTimeoutMs: deps.jwksTimeoutMs,
    jwksCooldownMs: deps.jwksCooldownMs,
  });
  const refused = (message: string) => new BasteError('AuthError', `${LABEL} login refused: ${message}`);
  const noSecret = () => refused(`this app's Apple provider has no client secret, so only id_token logins work: ${appleSecretAdvice(config)}`);

  const identityFrom = (claims: Record<string, unknown>, name: Record<string, string> = {}): VerifiedIdentity => {
    const sub = claims.sub;
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > 255) throw refused(`no usable 'sub'`);
    const profile: Record<string, unknown> = { ...claims, email_verified: flag(claims.email_verified), is_private_email: flag(claims.is_private_email), ...name };
    const data: Record<string, unknown> = {};
    for (const key of ['email', 'email_verified', 'is_private_email', ...NAME_KEYS]) if (profile[key] !== undefined && profile[key] !== '') data[key] = profile[key];
    return { externalId: sub, data: { ...data, ...metadataFromProfile(profile, config.metadataFields, LABEL) } };
  };

  /** A refusal at the token or revocation endpoint, with the likely cause of `invalid_client`. */
  const withSecretHint = (err: BasteError): BasteError => {
    if (!/invalid_client/.test(err.message) || settings.secret?.kind !== 'pasted') return err;
    return new BasteError(err.code, `${err.message} (a pasted client secret lasts six months at most: ${appleSecretAdvice(config)})`);
  };

  return {
    config,
    linkable: true,
    keptIdentityData: NAME_KEYS,
    async login(payload): Promise<VerifiedIdentity> {
      const idToken = credentialString(payload, 'id_token') ?? credentialString(payload, 'idToken');
      if (!idToken) throw new BasteError('MissingParameter', `${LABEL} login needs an 'id_token'`);
      const nonce = credentialString(payload, 'nonce');
      const claims = await verifyIdToken(idToken);
      // The nonce the app gave Apple, as is or (Firebase's and Supabase's convention) as its SHA-256 hex.
      if (nonce !== undefined && claims.nonce !== nonce && claims.nonce !== sha256Hex(nonce)) throw refused(`the id_token nonce does not match the one sent`);
      return identityFrom(claims);
    },
    redirect: {
      async authorizationUrl(request: RedirectRequest): Promise<string> {
        // Refused before the user is sent to Apple: the way back needs the secret.
        if (!clientSecret) throw noSecret();
        // Apple wants the scope's space as %20; asking for name and email requires form_post.
        const query: [string, string][] = [
          ['client_id', settings.clientId],
          ['redirect_uri', request.callbackUrl],
          ['response_type', 'code'],
          ['response_mode', 'form_post'],
          ['scope', 'name email'],
          ['state', request.state],
          ['nonce', request.nonce],
        ];
        return `${endpoints.authorizationEndpoint}?${query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`;
      },
      async complete(params: URLSearchParams, request: RedirectRequest): Promise<VerifiedIdentity> {
        if (!clientSecret) throw noSecret();
        const name = nameFromUserField(params.get('user'));
        // The form also carries an id_token and the user's name; the code is what is exchanged.
        const response = new URLSearchParams(params);
        response.delete('user');
        response.delete('id_token');
        let callback: URLSearchParams;
        try {
          callback = oauth.validateAuthResponse(as, client, response, request.state);
        } catch (err) {
          throw oauthFailure(err, LABEL, 'authorization response');
        }
        let result: oauth.TokenEndpointResponse;
        try {
          const auth = oauth.ClientSecretPost(await clientSecret(settings.clientId));
          // Apple documents no PKCE: the state and the nonce bind the flow.
          const res = await oauth.authorizationCodeGrantRequest(as, client, auth, callback, request.callbackUrl, oauth.nopkce, http);
          result = await oauth.processAuthorizationCodeResponse(as, client, res, { expectedNonce: request.nonce, requireIdToken: true });
        } catch (err) {
          throw withSecretHint(oauthFailure(err, LABEL, 'token endpoint'));
        }
        // oauth4webapi checked the claims and the nonce; the signature is checked against the JWK set.
        const claims = await verifyIdToken(result.id_token!, [settings.clientId]);
        return { ...identityFrom(claims, name), providerToken: result.refresh_token };
      },
    },
    async revokeToken(token: string): Promise<void> {
      if (!clientSecret) throw new BasteError('AuthError', `cannot revoke the Apple token: no client secret (${appleSecretAdvice(config)})`);
      try {
        const auth = oauth.ClientSecretPost(await clientSecret(settings.clientId));
        const res = await oauth.revocationRequest(as, client, auth, token, { ...http, additionalParameters: { token_type_hint: 'refresh_token' } });
        await oauth.processRevocationResponse(res);
      } catch (err) {
        throw withSecretHint(oauthFailure(err, LABEL, 'revocation endpoint'));
      }
    },
  };
}
