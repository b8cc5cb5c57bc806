// What the Google, Facebook and Apple providers share: reading their configuration (client id, client
// secret from the secrets, endpoint URLs), the options every outbound call carries (timeout,
// plain HTTP only when an endpoint was configured that way), metadata fields, domain
// restrictions, and turning protocol failures into one clear BasteError each.

import * as oauth from 'oauth4webapi';
import type { MetadataField, ProviderConfig } from '../../app/model.js';
import { providerConfigError, providerSettingName, requiredProviderString } from '../../app/providers.js';
import { BasteError } from '../../errors.js';

/** Our end of the redirect flow, registered with the provider as the OAuth `redirect_uri` (as on App Services). */
export const OAUTH_CALLBACK_PATH = '/api/client/v2.0/auth/callback';

/** Budget for one call to the provider (token endpoint, userinfo, Graph API). */
export const DEFAULT_OAUTH_TIMEOUT_MS = 10_000;
/** Leeway for `exp`, `iat` and `nbf` between our clock and the provider's. */
export const OAUTH_CLOCK_SKEW_SECONDS = 30;
/** Longest credential (authCode, id_token, accessToken) we even look at. */
export const MAX_CREDENTIAL_LENGTH = 16 * 1024;

export interface OAuthProviderDeps {
  readonly secrets: ReadonlyMap<string, string>;
  /** Budget for each call to the provider (default 10 s). */
  readonly timeoutMs?: number;
  /** JWK set fetch budget and least time between refetches for unknown `kid`s (default 5 s each). */
  readonly jwksTimeoutMs?: number;
  readonly jwksCooldownMs?: number;
  readonly clock?: () => number;
}

/**
 * Client id and secret. Facebook needs the secret for every login; Google only to exchange an
 * authorization code, so with `secretOptional` a missing one is `undefined` (and said at use).
 */
export function clientCredentials(config: ProviderConfig, secrets: ReadonlyMap<string, string>): { clientId: string; clientSecret: string };
export function clientCredentials(
  config: ProviderConfig,
  secrets: ReadonlyMap<string, string>,
  opts: { secretOptional: true },
): { clientId: string; clientSecret: string | undefined };
export function clientCredentials(
  config: ProviderConfig,
  secrets: ReadonlyMap<string, string>,
  opts?: { secretOptional: true },
): { clientId: string; clientSecret: string | undefined } {
  const clientId = requiredProviderString(config, 'config.clientId', config.config.clientId, 'the OAuth client id');
  const field = `secret_config.clientSecret`;
  const secretName = config.secretConfig.clientSecret;
  if (secretName !== undefined && typeof secretName !== 'string') requiredProviderString(config, field, secretName, 'the name of the secret holding the client secret');
  const clientSecret = secretName === undefined ? undefined : secrets.get(secretName);
  if (opts?.secretOptional) return { clientId, clientSecret: clientSecret || undefined };
  if (!secretName) throw providerConfigError(config, field, 'is required (the name of the secret holding the client secret)');
  if (clientSecret === undefined || clientSecret.length === 0) {
    throw providerConfigError(config, field, `secret '${secretName}' is not provided (--secrets or BASTE_SECRET_${secretName})`);
  }
  return { clientId, clientSecret };
}

/** Why a Google provider without its client secret cannot exchange codes, and what to do. */
export function missingClientSecret(config: ProviderConfig): string {
  const secretName = config.secretConfig.clientSecret;
  const fix = secretName
    ? `provide secret '${secretName}' (--secrets or BASTE_SECRET_${secretName})`
    : `name a secret in ${providerSettingName(config, 'secret_config.clientSecret')} and provide it`;
  return `has no client secret, so only id_token logins work; authCode logins and the redirect flow need it: ${fix}`;
}

/** An endpoint option: an absolute http(s) URL, or the provider's real endpoint when not set. */
export function endpointOption(config: ProviderConfig, key: string, fallback: string): URL {
  const value = config.config[key];
  if (value === undefined || value === null || value === '') return new URL(fallback);
  const field = `config.${key}`;
  if (typeof value !== 'string') throw providerConfigError(config, field, 'must be an http(s) URL');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw providerConfigError(config, field, `'${value}' is not an absolute URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw providerConfigError(config, field, 'must be an http(s) URL');
  if (url.hash) throw providerConfigError(config, field, 'must not contain a fragment');
  return url;
}

/**
 * `redirect_uris` entries must be absolute URLs the browser can be sent to; `javascript:`,
 * `data:` and similar are refused outright. Custom schemes (`myapp://…`) are allowed for mobile apps.
 */
export function checkRedirectUris(config: ProviderConfig): void {
  config.redirectUris.forEach((uri, i) => {
    const field = `redirect_uris[${i}]`;
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw providerConfigError(config, field, `'${uri}' is not an absolute URL`);
    }
    if (['javascript:', 'data:', 'vbscript:', 'blob:', 'file:'].includes(url.protocol)) {
      throw providerConfigError(config, field, `'${url.protocol}' URLs are not allowed`);
    }
    if (url.hash) throw providerConfigError(config, field, 'must not contain a fragment (the result is sent in the fragment)');
  });
}

/** Options for every oauth4webapi call: a timeout, and plain HTTP only if an endpoint was configured with it. */
export function httpOptions(timeoutMs: number, endpoints: readonly URL[]): { signal: () => AbortSignal; [oauth.allowInsecureRequests]?: boolean } {
  const insecure = endpoints.some((u) => u.protocol === 'http:');
  return {
    signal: () => AbortSignal.timeout(timeoutMs),
    ...(insecure ? { [oauth.allowInsecureRequests]: true } : {}),
  };
}

/** Reads `a.b.c` from a profile. */
function valueAt(profile: Record<string, unknown>, path: string): unknown {
  let value: unknown = profile;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/**
 * `metadata_fields` from a provider profile already carrying Baste's names (`email`, `name`,
 * `first_name`, `last_name`, `picture`, `gender`, `birthday`, `min_age`, `max_age`) next to the
 * provider's own keys. A required field the provider did not give refuses the login.
 */
export function metadataFromProfile(
  profile: Record<string, unknown>,
  fields: readonly MetadataField[],
  label: string,
): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const field of fields) {
    const value = valueAt(profile, field.name);
    if (value === undefined || value === null || value === '') {
      if (field.required) throw new BasteError('AuthError', `${label} login refused: required metadata field '${field.name}' is missing from the ${label} profile`);
      continue;
    }
    data[field.fieldName ?? field.name.split('.').at(-1)!] = value;
  }
  return data;
}

/** Profile fields that need the `email` permission/scope, and those that need the basic profile. */
export const wantsEmail = (config: ProviderConfig): boolean =>
  config.domainRestrictions.length > 0 || config.metadataFields.some((f) => f.name === 'email');

/** `domain_restrictions`: when the list is non-empty, the user's (verified) email domain must be in it. */
export function checkDomainRestrictions(config: ProviderConfig, email: unknown, emailVerified: unknown, label: string): void {
  if (config.domainRestrictions.length === 0) return;
  if (typeof email !== 'string' || !email.includes('@')) {
    throw new BasteError('DomainNotAllowed', `${label} login refused: domain_restrictions need the user's email, and ${label} gave none`);
  }
  if (emailVerified === false) {
    throw new BasteError('DomainNotAllowed', `${label} login refused: the email address is not verified, so its domain cannot be trusted`);
  }
  const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
  if (!config.domainRestrictions.some((d) => d.toLowerCase() === domain)) {
    throw new BasteError('DomainNotAllowed', `${label} login refused: email domain '${domain}' is not in domain_restrictions`);
  }
}

/** A credential field: a non-empty string of sane length. */
export function credentialString(payload: Record<string, unknown>, key: string): string | undefined {
  const value = payload[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw new BasteError('InvalidParameter', `${key} must be a non-empty string`);
  if (value.length > MAX_CREDENTIAL_LENGTH) throw new BasteError('InvalidParameter', `${key} is longer than ${MAX_CREDENTIAL_LENGTH} characters`);
  return value;
}

const isNetworkFailure = (err: unknown): boolean => {
  const name = (err as { name?: string } | null)?.name;
  return err instanceof TypeError || name === 'AbortError' || name === 'TimeoutError';
};

/** Turns what oauth4webapi (or fetch) threw while talking to `what` into one clear BasteError. */
export function oauthFailure(err: unknown, label: string, what: string): BasteError {
  if (err instanceof BasteError) return err;
  const refused = (message: string) => new BasteError('AuthError', `${label} login refused: ${message}`);
  const unavailable = (message: string) => new BasteError('OAuthProviderUnavailable', `${label} ${what} ${message}`);
  if (err instanceof oauth.AuthorizationResponseError) {
    return refused(`${err.error}${err.error_description ? `: ${err.error_description}` : ''}`);
  }
  if (err instanceof oauth.ResponseBodyError) {
    if (err.status >= 500) return unavailable(`failed (HTTP ${err.status})`);
    return refused(`${what} answered ${err.error}${err.error_description ? `: ${err.error_description}` : ''}`);
  }
  if (err instanceof oauth.WWWAuthenticateChallengeError) {
    const challenge = err.cause[0];
    return refused(`${what} answered ${challenge?.parameters.error ?? `HTTP ${err.response.status}`}`);
  }
  if (err instanceof oauth.OperationProcessingError) {
    const cause = err.cause as { claim?: string; status?: number } | Response | undefined;
    if (err.code === oauth.JWT_TIMESTAMP_CHECK) return refused('the id_token has expired or is not valid yet');
    if (err.code === oauth.JWT_CLAIM_COMPARISON) {
      const claim = (cause as { claim?: string } | undefined)?.claim;
      return refused(`the id_token ${claim ? `'${claim}' claim` : 'claims'} do not match (${err.message})`);
    }
    if (err.code === oauth.RESPONSE_IS_NOT_CONFORM) {
      const status = cause instanceof Response ? cause.status : undefined;
      if (status !== undefined && status < 500) return refused(`${what} answered HTTP ${status}`);
      return unavailable(`failed${status ? ` (HTTP ${status})` : ''}`);
    }
    return unavailable(`gave an invalid answer (${err.message})`);
  }
  if (err instanceof oauth.UnsupportedOperationError) return unavailable(`gave an unsupported answer (${err.message})`);
  if (isNetworkFailure(err)) return unavailable('could not be reached in time');
  return unavailable(`failed (${(err as Error)?.message ?? String(err)})`);
}

/** A JSON call to a plain HTTP API (the Graph API) with the same timeout; failures become BasteErrors. */
export async function getJson(
  url: URL,
  timeoutMs: number,
  label: string,
  what: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
  } catch (err) {
    throw oauthFailure(err, label, what);
  }
  if (res.status >= 500) throw new BasteError('OAuthProviderUnavailable', `${label} ${what} failed (HTTP ${res.status})`);
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    throw new BasteError('OAuthProviderUnavailable', `${label} ${what} did not answer JSON (HTTP ${res.status})`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BasteError('OAuthProviderUnavailable', `${label} ${what} did not answer a JSON object (HTTP ${res.status})`);
  }
  return { status: res.status, body: body as Record<string, unknown> };
}

/**
 * The authorization-code request URL both providers send the browser to: our callback, the
 * scope, our state and a PKCE challenge (plus provider-specific extras such as an OIDC nonce).
 */
export async function authorizationRequestUrl(
  endpoint: string | URL,
  request: { readonly callbackUrl: string; readonly state: string; readonly codeVerifier: string },
  clientId: string,
  scope: string,
  extra: Readonly<Record<string, string>> = {},
): Promise<string> {
  const url = new URL(endpoint);
  url.searchParams.set('client_id', clientId);
  url.searchParams.set('redirect_uri', request.callbackUrl);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', scope);
  url.searchParams.set('state', request.state);
  for (const [k, v] of Object.entries(extra)) url.searchParams.set(k, v);
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(request.codeVerifier));
  url.searchParams.set('code_challenge_method', 'S256');
  return url.href;
}
