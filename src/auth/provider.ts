// What every authentication provider implements: take a credential payload (already decoded
// from EJSON), return a verified identity or throw a BasteError. Providers know nothing of
// users, sessions, storage backends or HTTP; what they need is passed in.

import type { ProviderConfig } from '../app/model.js';

export interface VerifiedIdentity {
  /** Provider-side id, unique within the provider (the wire's `identities[].id`). */
  readonly externalId: string;
  /** Metadata to store on the identity and merge into `user.data`. */
  readonly data: Record<string, unknown>;
  /**
   * A token the provider issued for this identity that Baste keeps, never shows, and revokes when
   * the user is deleted (Apple's refresh token from a code exchange).
   */
  readonly providerToken?: string;
  /** When the session this login opens must end at the latest (epoch ms): a Custom JWT's `exp`, when configured. */
  readonly sessionEndsBy?: number;
}

/** A credential that names an existing user directly (an API key) rather than an identity. */
export interface VerifiedUser {
  readonly userId: string;
  /** Sessions opened with the key end when the key is disabled or deleted. */
  readonly apiKeyId: string;
}

export type Verified = VerifiedIdentity | VerifiedUser;

export interface LoginContext {
  /** Client address as the server believes it (honours --trust-proxy). */
  readonly clientAddress: string;
  /** scheme://host[:port] clients reach this server at (`--base-url`, or as the request came in). */
  readonly publicBaseUrl?: string;
  /** `login?link=true`: the request carries the caller's access token (see local-userpass's refusal). */
  readonly linking?: boolean;
}

/** One authorization request of the browser redirect flow (src/auth/oauth-redirect.ts), as sent to the provider. */
export interface RedirectRequest {
  /** Our callback URL (`…/api/client/v2.0/auth/callback`), the OAuth `redirect_uri`. */
  readonly callbackUrl: string;
  /** Our own `state` (not the client's). */
  readonly state: string;
  /** PKCE verifier; the provider sends its S256 challenge. */
  readonly codeVerifier: string;
  /** OpenID Connect nonce (providers without OIDC ignore it). */
  readonly nonce: string;
}

/** OAuth providers that can send a browser to the provider and back. */
export interface RedirectFlow {
  /** Where the browser goes: the provider's authorization endpoint with every parameter set. */
  authorizationUrl(request: RedirectRequest): Promise<string>;
  /** Turns the provider's callback (code or error) into a verified identity, or throws a BasteError. */
  complete(callback: URLSearchParams, request: RedirectRequest, ctx: LoginContext): Promise<VerifiedIdentity>;
}

export interface AuthProvider {
  readonly config: ProviderConfig;
  /** May the identity be linked into an existing user? (Anonymous identities may not.) */
  readonly linkable: boolean;
  login(payload: Record<string, unknown>, ctx: LoginContext): Promise<Verified>;
  /**
   * The account a credential payload claims, read before it is checked: the brute-force throttle
   * counts failures per account as well as per client address. Absent or null: per address only.
   */
  accountOf?(payload: Record<string, unknown>): string | null;
  /** Present on providers that serve the browser redirect flow (Google, Facebook, Apple). */
  readonly redirect?: RedirectFlow;
  /**
   * Identity data the provider gives only once (Apple sends the name at the first authorization
   * alone): a later login without them keeps the stored values.
   */
  readonly keptIdentityData?: readonly string[];
  /** Revokes a token kept from `VerifiedIdentity.providerToken` (the user is being deleted). */
  revokeToken?(token: string): Promise<void>;
}
