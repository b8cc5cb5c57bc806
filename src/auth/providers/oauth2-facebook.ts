// Facebook (`oauth2-facebook`): one identity per Facebook user id.
//  - `{accessToken}` (Stitch FacebookCredential, realm-web facebook(token)): checked with the
//    Graph API: `/debug_token` with the app token (`clientId|clientSecret`) confirms the token is
//    valid, unexpired and issued for this app; `/me` (with `appsecret_proof`) gives the profile.
//  - the browser redirect flow (src/auth/oauth-redirect.ts): the OAuth dialog, then the code is exchanged
//    at `/oauth/access_token` (oauth4webapi) and the access token goes through the same checks.
// Every endpoint URL is configurable (tests, proxies, a pinned Graph API version).

import { createHmac } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import type { ProviderConfig } from '../../app/model.js';
import { BasteError } from '../../errors.js';
import type { AuthProvider, RedirectRequest, VerifiedIdentity } from '../provider.js';
import {
  authorizationRequestUrl,
  checkDomainRestrictions,
  checkRedirectUris,
  clientCredentials,
  credentialString,
  DEFAULT_OAUTH_TIMEOUT_MS,
  endpointOption,
  getJson,
  httpOptions,
  metadataFromProfile,
  OAUTH_CLOCK_SKEW_SECONDS,
  oauthFailure,
  wantsEmail,
  type OAuthProviderDeps,
} from './oauth-shared.js';

const LABEL = 'Facebook';

export const FACEBOOK_DEFAULTS = {
  dialogUrl: 'https://www.facebook.com/dialog/oauth',
  graphApiUrl: 'https://graph.facebook.com',
} as const;

export interface FacebookSettings {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly dialogUrl: URL;
  /** Base of the Graph API (`…/debug_token`, `…/me`); may carry a version (`https://graph.facebook.com/v21.0`). */
  readonly graphApiUrl: URL;
  readonly tokenEndpoint: URL;
}

export function parseFacebookSettings(config: ProviderConfig, secrets: ReadonlyMap<string, string>): FacebookSettings {
  const { clientId, clientSecret } = clientCredentials(config, secrets);
  checkRedirectUris(config);
  const graphApiUrl = endpointOption(config, 'graphApiUrl', FACEBOOK_DEFAULTS.graphApiUrl);
  return {
    clientId,
    clientSecret,
    dialogUrl: endpointOption(config, 'dialogUrl', FACEBOOK_DEFAULTS.dialogUrl),
    graphApiUrl,
    tokenEndpoint: endpointOption(config, 'tokenEndpoint', graphUrl(graphApiUrl, 'oauth/access_token').href),
  };
}

/** `<graph base>/<path>`, keeping a version segment of the base. */
function graphUrl(base: URL, path: string): URL {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${path}`;
  return url;
}

/** Facebook's profile → the metadata field names App Services documents. */
function profileOf(me: Record<string, unknown>): Record<string, unknown> {
  const profile: Record<string, unknown> = { ...me };
  const picture = me.picture as { data?: { url?: unknown } } | string | undefined;
  if (picture && typeof picture === 'object') profile.picture = typeof picture.data?.url === 'string' ? picture.data.url : undefined;
  const ageRange = me.age_range as { min?: unknown; max?: unknown } | undefined;
  if (ageRange && typeof ageRange === 'object') {
    if (ageRange.min !== undefined) profile.min_age = ageRange.min;
    if (ageRange.max !== undefined) profile.max_age = ageRange.max;
  }
  return profile;
}

/** The Graph API's own error text, when it gave one. */
function graphError(body: Record<string, unknown>): string | undefined {
  const error = (body.error ?? (body.data as Record<string, unknown> | undefined)?.error) as { message?: unknown } | undefined;
  return typeof error?.message === 'string' ? error.message.slice(0, 300) : undefined;
}

export async function facebookProvider(config: ProviderConfig, deps: OAuthProviderDeps): Promise<AuthProvider> {
  const settings = parseFacebookSettings(config, deps.secrets);
  const clock = deps.clock ?? Date.now;
  const timeoutMs = deps.timeoutMs ?? DEFAULT_OAUTH_TIMEOUT_MS;
  const appToken = `${settings.clientId}|${settings.clientSecret}`;
  const as: oauth.AuthorizationServer = {
    issuer: settings.dialogUrl.origin,
    authorization_endpoint: settings.dialogUrl.href,
    token_endpoint: settings.tokenEndpoint.href,
  };
  const client: oauth.Client = { client_id: settings.clientId, [oauth.clockTolerance]: OAUTH_CLOCK_SKEW_SECONDS };
  const clientAuth = oauth.ClientSecretPost(settings.clientSecret);
  const http = httpOptions(timeoutMs, [settings.dialogUrl, settings.tokenEndpoint, settings.graphApiUrl]);

  const scope = ['public_profile'];
  if (wantsEmail(config)) scope.push('email');
  const wanted = new Set(['id', 'name', 'email', 'first_name', 'last_name', 'picture']);
  for (const f of config.metadataFields) {
    if (f.name === 'min_age' || f.name === 'max_age') wanted.add('age_range');
    else if (/^[a-z_]+$/.test(f.name)) wanted.add(f.name);
  }
  const fields = [...wanted].join(',');

  /** `/debug_token` then `/me`: the token must be valid, unexpired, for this app, and for a user. */
  const verifyAccessToken = async (accessToken: string): Promise<VerifiedIdentity> => {
    const debugUrl = graphUrl(settings.graphApiUrl, 'debug_token');
    debugUrl.searchParams.set('input_token', accessToken);
    debugUrl.searchParams.set('access_token', appToken);
    const debug = await getJson(debugUrl, timeoutMs, LABEL, 'Graph API /debug_token');
    if (debug.status !== 200) {
      throw new BasteError('AuthError', `${LABEL} login refused: the Graph API refused to inspect the access token (${graphError(debug.body) ?? `HTTP ${debug.status}`})`);
    }
    const data = debug.body.data as Record<string, unknown> | undefined;
    if (!data || typeof data !== 'object') throw new BasteError('OAuthProviderUnavailable', `${LABEL} Graph API /debug_token gave no 'data'`);
    if (data.is_valid !== true) {
      const why = graphError(debug.body);
      throw new BasteError('AuthError', `${LABEL} login refused: the access token is not valid${why ? ` (${why})` : ''}`);
    }
    if (String(data.app_id) !== settings.clientId) {
      throw new BasteError('AuthError', `${LABEL} login refused: the access token was issued for another Facebook app`);
    }
    const expiresAt = typeof data.expires_at === 'number' ? data.expires_at : 0;
    if (expiresAt !== 0 && expiresAt * 1000 <= clock()) throw new BasteError('AuthError', `${LABEL} login refused: the access token has expired`);
    const userId = data.user_id;
    if (typeof userId !== 'string' || userId.length === 0 || (data.type !== undefined && data.type !== 'USER')) {
      throw new BasteError('AuthError', `${LABEL} login refused: the access token is not a user access token`);
    }

    const meUrl = graphUrl(settings.graphApiUrl, 'me');
    meUrl.searchParams.set('fields', fields);
    meUrl.searchParams.set('access_token', accessToken);
    meUrl.searchParams.set('appsecret_proof', createHmac('sha256', settings.clientSecret).update(accessToken).digest('hex'));
    const me = await getJson(meUrl, timeoutMs, LABEL, 'Graph API /me');
    if (me.status !== 200) {
      throw new BasteError('AuthError', `${LABEL} login refused: the Graph API refused the profile request (${graphError(me.body) ?? `HTTP ${me.status}`})`);
    }
    if (String(me.body.id) !== userId) throw new BasteError('AuthError', `${LABEL} login refused: the profile does not belong to the access token's user`);
    const profile = profileOf(me.body);
    // Facebook only ever returns confirmed email addresses.
    checkDomainRestrictions(config, profile.email, true, LABEL);
    return { externalId: userId, data: metadataFromProfile(profile, config.metadataFields, LABEL) };
  };

  return {
    config,
    linkable: true,
    async login(payload): Promise<VerifiedIdentity> {
      const accessToken = credentialString(payload, 'accessToken');
      if (!accessToken) throw new BasteError('MissingParameter', `${LABEL} login needs an 'accessToken'`);
      return verifyAccessToken(accessToken);
    },
    redirect: {
      authorizationUrl: (request: RedirectRequest) => authorizationRequestUrl(settings.dialogUrl, request, settings.clientId, scope.join(',')),
      async complete(params: URLSearchParams, request: RedirectRequest): Promise<VerifiedIdentity> {
        let accessToken: string;
        try {
          const callback = oauth.validateAuthResponse(as, client, params, request.state);
          const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, callback, request.callbackUrl, request.codeVerifier, http);
          accessToken = (await oauth.processAuthorizationCodeResponse(as, client, response)).access_token;
        } catch (err) {
          throw oauthFailure(err, LABEL, 'token endpoint');
        }
        return verifyAccessToken(accessToken);
      },
    },
  };
}
