// What every authentication provider implements: take a credential payload (already decoded
// from EJSON), return a verified identity or throw a BasteError. Providers know nothing of
// users, sessions, storage backends or HTTP; what they need is passed in.

import type { ProviderConfig } from '../app/model.js';

export interface VerifiedIdentity {
  /** Provider-side id, unique within the provider (the wire's `identities[].id`). */
  readonly externalId: string;
  /** Metadata to store on the identity and merge into `user.data`. */
  readonly data: Record<string, unknown>;
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
}

export interface AuthProvider {
  readonly config: ProviderConfig;
  /** May the identity be linked into an existing user? (Anonymous identities may not.) */
  readonly linkable: boolean;
  login(payload: Record<string, unknown>, ctx: LoginContext): Promise<Verified>;
}
