// The browser OAuth redirect flow, for every provider with a RedirectFlow:
//
//   GET …/auth/providers/{name}/login?redirect&state&device[&link=true&providerRedirectHeader=true]
//     → the `redirect` must be listed in the provider's `redirect_uris` (exact match), else a JSON
//       error and no redirect at all (never an open redirect);
//     → our own state (random, single use, 10 minutes) is written to the store with the client's
//       state, the redirect, the device, the PKCE verifier, the nonce and, for a link, the
//       session of the linking user (so any instance can finish the flow);
//     → the browser goes to the provider's authorization endpoint.
//   GET /api/client/v2.0/auth/callback?code&state (from the provider; Apple POSTs the same as a form)
//     → the state is taken (deleted) from the store; the provider exchanges the code; the login
//       (or link) runs through the same AuthService path as POST login;
//     → the browser goes to `<redirect>#<fragment>` with both the `_stitch_*` and `_baas_*` keys.
//       Any failure after the state was found goes into `_stitch_error`/`_baas_error` instead.

import { createHash } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import type { AppConfig } from '../app/model.js';
import { BasteError } from '../errors.js';
import type { AccessContext } from '../sessions/sessions.js';
import type { OAuthStateRecord, Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { randomToken } from '../util/ids.js';
import type { LoginContext, RedirectRequest } from './provider.js';
import { OAUTH_CALLBACK_PATH } from './providers/oauth-shared.js';
import type { AuthService, DeviceInfo, LoginResult } from './service.js';

export { OAUTH_CALLBACK_PATH };

/** How long a browser may spend at the provider before the flow must start over. */
export const OAUTH_STATE_TTL_MS = 10 * 60 * 1000;
/** The client's state is echoed in the fragment; S sends 64 characters, RW 12. */
const MAX_CLIENT_STATE_LENGTH = 512;
const MAX_REDIRECT_LENGTH = 2048;

export interface RedirectStart {
  readonly providerName: string;
  readonly redirect: unknown;
  readonly clientState: unknown;
  readonly device: DeviceInfo;
  /** Link flows: who asks (their access token was verified). */
  readonly caller?: AccessContext;
  /** scheme://host[:port] of this server as the browser reaches it. */
  readonly publicBaseUrl: string;
}

export interface CallbackOutcome {
  /** Where the browser goes: `<redirect>#<fragment>`. */
  readonly location: string;
  /** Set when the fragment carries an error that was not a BasteError (worth logging). */
  readonly unexpected?: unknown;
}

const hashState = (state: string): string => createHash('sha256').update(state).digest('hex');

/** `k=v&…` with every key and value URI-encoded (both SDKs split on `&` and `=`, then decode). */
const fragmentOf = (pairs: [string, string][]): string =>
  pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');

/** Every fragment key, in both spellings: the server cannot tell which SDK started the flow. */
function both(key: string, value: string): [string, string][] {
  return [
    [`_stitch_${key}`, value],
    [`_baas_${key}`, value],
  ];
}

/** The device facts worth keeping from a redirect's `device` (base64 JSON) parameter. */
export function deviceFromQuery(raw: unknown): DeviceInfo {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 4096) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
  } catch {
    return {};
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
  const d = parsed as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v.slice(0, 128) : undefined);
  const rawId = d.deviceId;
  const deviceId = typeof rawId === 'string' ? rawId : str((rawId as { $oid?: unknown } | undefined)?.$oid);
  return {
    deviceId: deviceId?.slice(0, 64),
    platform: str(d.platform),
    platformVersion: str(d.platformVersion),
    sdkVersion: str(d.sdkVersion),
    appId: str(d.appId),
    appVersion: str(d.appVersion),
  };
}

export class OAuthRedirects {
  constructor(
    private readonly app: AppConfig,
    private readonly auth: AuthService,
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly ttlMs = OAUTH_STATE_TTL_MS,
  ) {}

  /** Checks the request, records the state and answers the provider URL the browser must visit. */
  async start(input: RedirectStart): Promise<string> {
    const provider = this.auth.provider(input.providerName);
    if (!provider.redirect) {
      throw new BasteError('BadRequest', `provider '${provider.config.name}' (${provider.config.type}) has no browser redirect flow`);
    }
    const { clientState, redirect } = input;
    if (typeof clientState !== 'string' || clientState.length === 0) throw new BasteError('MissingParameter', "the 'state' query parameter is required");
    if (clientState.length > MAX_CLIENT_STATE_LENGTH) throw new BasteError('InvalidParameter', `'state' is longer than ${MAX_CLIENT_STATE_LENGTH} characters`);
    if (typeof redirect !== 'string' || redirect.length === 0) throw new BasteError('MissingParameter', "the 'redirect' query parameter is required");
    if (redirect.length > MAX_REDIRECT_LENGTH || !provider.config.redirectUris.includes(redirect)) {
      throw new BasteError(
        'InvalidParameter',
        `redirect URI '${redirect.slice(0, 200)}' is not listed in redirect_uris of provider '${provider.config.name}' (exact match required)`,
      );
    }
    if (input.caller) await this.auth.assertCanLink(input.caller.userId, provider);

    const now = this.clock();
    const request: RedirectRequest = {
      callbackUrl: `${input.publicBaseUrl}${OAUTH_CALLBACK_PATH}`,
      state: randomToken(32),
      codeVerifier: oauth.generateRandomCodeVerifier(),
      nonce: oauth.generateRandomNonce(),
    };
    const device = Object.fromEntries(Object.entries(input.device).filter(([, v]) => v !== undefined));
    const record: OAuthStateRecord = {
      idHash: hashState(request.state),
      providerName: provider.config.name,
      clientState,
      redirectUri: redirect,
      callbackUrl: request.callbackUrl,
      device,
      linkSessionId: input.caller?.sessionId ?? null,
      codeVerifier: request.codeVerifier,
      nonce: request.nonce,
      createdAt: now,
      expiresAt: now + this.ttlMs,
    };
    const url = await provider.redirect.authorizationUrl(request);
    await this.store.putOAuthState(record);
    return url;
  }

  /**
   * The provider's callback. Without a known state there is nowhere safe to send the browser, so
   * that is a JSON error (thrown); everything after that ends at the app's redirect URI.
   */
  async callback(query: Record<string, unknown>, ctx: LoginContext): Promise<CallbackOutcome> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (typeof v === 'string') params.set(k, v);
    const state = params.get('state');
    if (!state) throw new BasteError('MissingParameter', "the provider's callback has no 'state'");
    const record = await this.store.takeOAuthState(hashState(state), this.clock());
    if (!record) {
      throw new BasteError('BadRequest', 'unknown, used or expired OAuth state: start the login again from the app');
    }
    const common: [string, string][] = [...both('client_app_id', this.app.appId), ...both('state', record.clientState)];
    try {
      const provider = this.auth.provider(record.providerName);
      if (!provider.redirect) throw new BasteError('BadRequest', `provider '${record.providerName}' has no browser redirect flow`);
      const request: RedirectRequest = { callbackUrl: record.callbackUrl, state, codeVerifier: record.codeVerifier, nonce: record.nonce };
      const verified = await provider.redirect.complete(params, request, ctx);
      let result: LoginResult & { refresh_token: string };
      if (record.linkSessionId) result = await this.auth.linkVerified(record.linkSessionId, provider, verified);
      else result = await this.auth.loginVerified(provider, verified, record.device as DeviceInfo, ctx.clientAddress);
      const ua = [result.access_token, result.refresh_token, result.user_id, result.device_id].join('$');
      const pairs = [...common, ...both('ua', ua), ...(record.linkSessionId ? both('link', 'ok') : [])];
      return { location: withFragment(record.redirectUri, fragmentOf(pairs)) };
    } catch (err) {
      const known = err instanceof BasteError;
      const message = known ? err.message : 'internal server error';
      return { location: withFragment(record.redirectUri, fragmentOf([...common, ...both('error', message)])), unexpected: known ? undefined : err };
    }
  }
}

/** The redirect URI with our fragment (allow-listed URIs carry none of their own). */
function withFragment(uri: string, fragment: string): string {
  const hash = uri.indexOf('#');
  return `${hash === -1 ? uri : uri.slice(0, hash)}#${fragment}`;
}
