// Google (`oauth2-google`): three ways in, one identity (Google's `sub`).
//  - `{authCode}` (Stitch GoogleCredential, realm-web google({authCode})): exchanged at the token
//    endpoint; the id_token it returns is validated (claims by oauth4webapi, signature against
//    Google's JWK set) and the userinfo endpoint fills what the id_token lacks.
//  - `{id_token}` (realm-web google({idToken})): verified as an OpenID Connect id_token: issuer,
//    audience = clientId, expiry, RS256 signature from the JWK set.
//  - the browser redirect flow (src/auth/oauth-redirect.ts): authorization request with PKCE and a nonce,
//    then the same code exchange with our callback URL.
// Every endpoint URL is configurable (tests, proxies); the defaults are Google's.

import * as oauth from 'oauth4webapi';
import type { ProviderConfig } from '../../app/model.js';
import { providerConfigError } from '../../app/providers.js';
import { BasteError } from '../../errors.js';
import type { AuthProvider, LoginContext, RedirectRequest, VerifiedIdentity } from '../provider.js';
import {
  authorizationRequestUrl,
  checkDomainRestrictions,
  checkRedirectUris,
  clientCredentials,
  credentialString,
  DEFAULT_OAUTH_TIMEOUT_MS,
  endpointOption,
  httpOptions,
  metadataFromProfile,
  OAUTH_CALLBACK_PATH,
  OAUTH_CLOCK_SKEW_SECONDS,
  oauthFailure,
  missingClientSecret,
  wantsEmail,
  type OAuthProviderDeps,
} from './oauth-shared.js';
import { idTokenVerifier } from './oidc-id-token.js';

const LABEL = 'Google';

export const GOOGLE_DEFAULTS = {
  issuer: 'https://accounts.google.com',
  authorizationEndpoint: 'https://accounts.google.com/o/oauth2/v2/auth',
  tokenEndpoint: 'https://oauth2.googleapis.com/token',
  userinfoEndpoint: 'https://openidconnect.googleapis.com/v1/userinfo',
  jwksUri: 'https://www.googleapis.com/oauth2/v3/certs',
} as const;

/** Google signs id_tokens with either issuer spelling. */
const GOOGLE_ISSUER_ALIAS = 'accounts.google.com';

export interface GoogleSettings {
  readonly clientId: string;
  /** Only the code exchange needs it; undefined when the app does not provide it. */
  readonly clientSecret: string | undefined;
  /** App Services' `openId` flag; Baste always validates the id_token, so it changes nothing here. */
  readonly openId: boolean;
  /** Accepted `iss` values; the first is the authorization server's issuer. */
  readonly issuers: readonly string[];
  readonly authorizationEndpoint: URL;
  readonly tokenEndpoint: URL;
  readonly userinfoEndpoint: URL;
  readonly jwksUri: URL;
  /** `redirect_uri` sent when exchanging a credential `authCode`; by default our callback URL. */
  readonly authCodeRedirectUri?: string;
}

export function parseGoogleSettings(config: ProviderConfig, secrets: ReadonlyMap<string, string>): GoogleSettings {
  const { clientId, clientSecret } = clientCredentials(config, secrets, { secretOptional: true });
  const c = config.config;
  if (c.openId !== undefined && typeof c.openId !== 'boolean') throw providerConfigError(config, `config.openId`, 'must be true or false');
  const issuerOption = c.issuer;
  if (issuerOption !== undefined && (typeof issuerOption !== 'string' || issuerOption.length === 0)) {
    throw providerConfigError(config, `config.issuer`, 'must be a non-empty string');
  }
  const issuer = (issuerOption as string | undefined) ?? GOOGLE_DEFAULTS.issuer;
  const authCodeRedirectUri = c.authCodeRedirectUri;
  if (authCodeRedirectUri !== undefined && (typeof authCodeRedirectUri !== 'string' || authCodeRedirectUri.length === 0)) {
    throw providerConfigError(config, `config.authCodeRedirectUri`, 'must be a non-empty string');
  }
  checkRedirectUris(config);
  return {
    clientId,
    clientSecret,
    openId: c.openId === true,
    issuers: issuer === GOOGLE_DEFAULTS.issuer ? [issuer, GOOGLE_ISSUER_ALIAS] : [issuer],
    authorizationEndpoint: endpointOption(config, 'authorizationEndpoint', GOOGLE_DEFAULTS.authorizationEndpoint),
    tokenEndpoint: endpointOption(config, 'tokenEndpoint', GOOGLE_DEFAULTS.tokenEndpoint),
    userinfoEndpoint: endpointOption(config, 'userinfoEndpoint', GOOGLE_DEFAULTS.userinfoEndpoint),
    jwksUri: endpointOption(config, 'jwksUri', GOOGLE_DEFAULTS.jwksUri),
    authCodeRedirectUri: authCodeRedirectUri as string | undefined,
  };
}

/** Google's claim names → the metadata field names App Services documents. */
function profileOf(claims: Record<string, unknown>): Record<string, unknown> {
  const aliases: Record<string, unknown> = {
    first_name: claims.given_name,
    last_name: claims.family_name,
    birthday: claims.birthdate,
  };
  const profile: Record<string, unknown> = { ...claims };
  for (const [key, value] of Object.entries(aliases)) if (value !== undefined && profile[key] === undefined) profile[key] = value;
  return profile;
}

/** Metadata that only the `profile` scope gives. */
const PROFILE_FIELDS = new Set(['name', 'first_name', 'last_name', 'picture', 'given_name', 'family_name', 'gender', 'birthday', 'locale']);

export async function googleProvider(config: ProviderConfig, deps: OAuthProviderDeps): Promise<AuthProvider> {
  const settings = parseGoogleSettings(config, deps.secrets);
  const clock = deps.clock ?? Date.now;
  const timeoutMs = deps.timeoutMs ?? DEFAULT_OAUTH_TIMEOUT_MS;
  const as: oauth.AuthorizationServer = {
    issuer: settings.issuers[0]!,
    authorization_endpoint: settings.authorizationEndpoint.href,
    token_endpoint: settings.tokenEndpoint.href,
    userinfo_endpoint: settings.userinfoEndpoint.href,
    jwks_uri: settings.jwksUri.href,
  };
  const client: oauth.Client = { client_id: settings.clientId, [oauth.clockTolerance]: OAUTH_CLOCK_SKEW_SECONDS };
  const clientAuth = settings.clientSecret === undefined ? undefined : oauth.ClientSecretPost(settings.clientSecret);
  const http = httpOptions(timeoutMs, [settings.authorizationEndpoint, settings.tokenEndpoint, settings.userinfoEndpoint, settings.jwksUri]);
  const verifyIdToken = idTokenVerifier({
    label: LABEL,
    issuers: settings.issuers,
    jwksUri: settings.jwksUri,
    audiences: [settings.clientId],
    audienceDescription: "this app's Google client id",
    clock,
    jwksTimeoutMs: deps.jwksTimeoutMs,
    jwksCooldownMs: deps.jwksCooldownMs,
  });

  const scope = ['openid'];
  if (wantsEmail(config)) scope.push('email');
  if (config.metadataFields.some((f) => PROFILE_FIELDS.has(f.name))) scope.push('profile');

  /** The identity, once the claims are trusted: sub, metadata, domain restrictions. */
  const identityFrom = (claims: Record<string, unknown>): VerifiedIdentity => {
    const sub = claims.sub;
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > 255) throw new BasteError('AuthError', `${LABEL} login refused: no usable 'sub'`);
    const profile = profileOf(claims);
    checkDomainRestrictions(config, profile.email, profile.email_verified, LABEL);
    return { externalId: sub, data: metadataFromProfile(profile, config.metadataFields, LABEL) };
  };

  /** Whether the claims lack something the app asked for (then userinfo is read). */
  const incomplete = (claims: Record<string, unknown>): boolean => {
    const profile = profileOf(claims);
    if (wantsEmail(config) && profile.email === undefined) return true;
    return config.metadataFields.some((f) => profile[f.name.split('.')[0]!] === undefined);
  };

  /**
   * Exchanges an authorization code. `nonce` is the one we sent (redirect flow); a credential
   * `authCode` was obtained by the app itself, so its nonce (if any) is not ours to check.
   */
  const exchange = async (callback: URLSearchParams, redirectUri: string, codeVerifier: string | undefined, nonce: string | undefined) => {
    if (!clientAuth) throw new BasteError('AuthError', `${LABEL} login refused: this app's Google provider ${missingClientSecret(config)}`);
    let claims: Record<string, unknown> | undefined;
    let accessToken: string;
    let idToken: string | undefined;
    try {
      const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, callback, redirectUri, codeVerifier ?? oauth.nopkce, http);
      let result: oauth.TokenEndpointResponse | undefined;
      // Google spells its issuer two ways; the claims are checked against each accepted spelling.
      for (const [i, issuer] of settings.issuers.entries()) {
        const last = i === settings.issuers.length - 1;
        const attempt = last ? response : response.clone();
        try {
          const server = { ...as, issuer };
          result = nonce
            ? await oauth.processAuthorizationCodeResponse(server, client, attempt, { expectedNonce: nonce, requireIdToken: true })
            : await oauth.processGenericTokenEndpointResponse(server, client, attempt);
          break;
        } catch (err) {
          const issMismatch = err instanceof oauth.OperationProcessingError && err.code === oauth.JWT_CLAIM_COMPARISON && (err.cause as { claim?: string })?.claim === 'iss';
          if (last || !issMismatch) throw err;
        }
      }
      accessToken = result!.access_token;
      idToken = result!.id_token;
      claims = oauth.getValidatedIdTokenClaims(result!) as Record<string, unknown> | undefined;
    } catch (err) {
      throw oauthFailure(err, LABEL, 'token endpoint');
    }
    // oauth4webapi checked the claims (and nonce); the signature is checked against the JWK set too.
    if (idToken) await verifyIdToken(idToken);
    if (!claims || incomplete(claims)) {
      try {
        const response = await oauth.userInfoRequest(as, client, accessToken, http);
        const info = await oauth.processUserInfoResponse(as, client, (claims?.sub as string | undefined) ?? oauth.skipSubjectCheck, response);
        claims = { ...(info as Record<string, unknown>), ...(claims ?? {}) };
      } catch (err) {
        throw oauthFailure(err, LABEL, 'userinfo endpoint');
      }
    }
    return identityFrom(claims);
  };

  const authCodeRedirectUri = (ctx: LoginContext): string =>
    settings.authCodeRedirectUri ?? (ctx.publicBaseUrl ? `${ctx.publicBaseUrl}${OAUTH_CALLBACK_PATH}` : 'postmessage');

  return {
    config,
    linkable: true,
    async login(payload, ctx): Promise<VerifiedIdentity> {
      const authCode = credentialString(payload, 'authCode');
      const idToken = credentialString(payload, 'id_token') ?? credentialString(payload, 'idToken');
      if (authCode) {
        let callback: URLSearchParams;
        try {
          callback = oauth.validateAuthResponse(as, client, new URLSearchParams({ code: authCode }), oauth.expectNoState);
        } catch (err) {
          throw oauthFailure(err, LABEL, 'authorization response');
        }
        return exchange(callback, authCodeRedirectUri(ctx), undefined, undefined);
      }
      if (idToken) return identityFrom(await verifyIdToken(idToken));
      throw new BasteError('MissingParameter', `${LABEL} login needs an 'authCode' or an 'id_token'`);
    },
    redirect: {
      authorizationUrl: (request: RedirectRequest) => {
        // Refused before the user is sent to Google: the way back would need the secret.
        if (!clientAuth) throw new BasteError('AuthError', `${LABEL} login refused: this app's Google provider ${missingClientSecret(config)}`);
        return authorizationRequestUrl(settings.authorizationEndpoint, request, settings.clientId, scope.join(' '), { nonce: request.nonce });
      },
      async complete(params: URLSearchParams, request: RedirectRequest): Promise<VerifiedIdentity> {
        let callback: URLSearchParams;
        try {
          // The issuer of an `iss` parameter (RFC 9207) may be either spelling too.
          const iss = params.get('iss');
          const server = iss && settings.issuers.includes(iss) ? { ...as, issuer: iss } : as;
          callback = oauth.validateAuthResponse(server, client, params, request.state);
        } catch (err) {
          throw oauthFailure(err, LABEL, 'authorization response');
        }
        return exchange(callback, request.callbackUrl, request.codeVerifier, request.nonce);
      },
    },
  };
}
