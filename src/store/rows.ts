// Row → record mappers shared by the SQLite and PostgreSQL stores. Both backends keep the same
// tables with the same column names; what differs is only how a column arrives:
//  - booleans: SQLite stores them as INTEGER 0/1, PostgreSQL as BOOLEAN true/false (`flag`);
//  - times and counts: INTEGER in SQLite, BIGINT in PostgreSQL, whose pool parses int8 to numbers;
//  - JSON: TEXT in both, parsed here.

import type {
  ActiveSession,
  AdminTokenRecord,
  ApiKeyRecord,
  AuditEntry,
  DatabaseTriggerState,
  DeviceRecord,
  IdentityRecord,
  OAuthStateRecord,
  SessionRecord,
  SigningKeyRecord,
  TriggerRunState,
  UserpassAccount,
  UserpassToken,
  UserRecord,
  UserType,
} from './store.js';

export type Row = Record<string, unknown>;

/** A boolean column: 0/1 from SQLite, true/false from PostgreSQL. */
export const flag = (v: unknown): boolean => v === 1 || v === true;

/** A JSON object kept as TEXT. */
const jsonObject = (v: unknown) => JSON.parse(v as string) as Record<string, unknown>;

/** A user row with its identities, read by the caller (the array is kept, not copied). */
export const toUser = <I extends readonly IdentityRecord[]>(r: Row, identities: I): UserRecord & { identities: I } => ({
  id: r.id as string,
  type: r.type as UserType,
  disabled: flag(r.disabled),
  createdAt: r.created_at as number,
  lastAuthAt: r.last_auth_at as number,
  identities,
});

export const toIdentity = (r: Row): IdentityRecord => ({
  externalId: r.external_id as string,
  providerName: r.provider_name as string,
  providerType: r.provider_type as string,
  providerId: r.provider_id as string,
  data: jsonObject(r.data),
  createdAt: r.created_at as number,
});

export const toSession = (r: Row): SessionRecord => ({
  id: r.id as string,
  userId: r.user_id as string,
  refreshHash: r.refresh_hash as string,
  deviceId: r.device_id as string,
  providerName: r.provider_name as string,
  providerType: r.provider_type as string,
  createdAt: r.created_at as number,
  expiresAt: r.expires_at as number,
  apiKeyId: (r.api_key_id as string | null) ?? null,
  lastUsedAt: (r.last_used_at as number | null) ?? (r.created_at as number),
  address: (r.address as string | null) ?? null,
  expiryCap: (r.expiry_cap as number | null) ?? null,
});

/** A session row joined with its user's `disabled` as `user_disabled`; none when there is no row. */
export const toActive = (r: Row | undefined): ActiveSession | null =>
  r ? { session: toSession(r), userDisabled: flag(r.user_disabled) } : null;

export const toApiKey = (r: Row): ApiKeyRecord => ({
  id: r.id as string,
  userId: r.user_id as string,
  kind: r.kind as ApiKeyRecord['kind'],
  name: r.name as string,
  keyHash: r.key_hash as string,
  disabled: flag(r.disabled),
  createdAt: r.created_at as number,
});

export const toDevice = (r: Row): DeviceRecord => ({
  id: r.id as string,
  userId: r.user_id as string,
  platform: (r.platform as string | null) ?? undefined,
  platformVersion: (r.platform_version as string | null) ?? undefined,
  sdkVersion: (r.sdk_version as string | null) ?? undefined,
  appId: (r.app_id as string | null) ?? undefined,
  appVersion: (r.app_version as string | null) ?? undefined,
  lastSeenAt: r.last_seen_at as number,
});

export const toAccount = (r: Row): UserpassAccount => ({
  id: r.id as string,
  email: r.email as string,
  passwordHash: r.password_hash as string,
  confirmed: flag(r.confirmed),
  createdAt: r.created_at as number,
});

export const toUserpassToken = (r: Row): UserpassToken => ({
  id: r.id as string,
  accountId: r.account_id as string,
  kind: r.kind as UserpassToken['kind'],
  tokenHash: r.token_hash as string,
  expiresAt: r.expires_at as number,
});

export const toOAuthState = (r: Row): OAuthStateRecord => ({
  idHash: r.id_hash as string,
  providerName: r.provider_name as string,
  clientState: r.client_state as string,
  redirectUri: r.redirect_uri as string,
  callbackUrl: r.callback_url as string,
  device: jsonObject(r.device),
  linkSessionId: (r.link_session_id as string | null) ?? null,
  codeVerifier: r.code_verifier as string,
  nonce: r.nonce as string,
  createdAt: r.created_at as number,
  expiresAt: r.expires_at as number,
});

export const toSigningKey = (r: Row): SigningKeyRecord => ({
  kid: r.kid as string,
  secret: r.secret as string,
  createdAt: r.created_at as number,
  retiredAt: (r.retired_at as number | null) ?? null,
});

export const toAdminToken = (r: Row): AdminTokenRecord => ({
  id: r.id as string,
  name: r.name as string,
  tokenHash: r.token_hash as string,
  createdAt: r.created_at as number,
});

export const toAuditEntry = (r: Row): AuditEntry => ({
  id: r.id as string,
  at: r.at as number,
  actorId: r.actor_id as string,
  actorName: r.actor_name as string,
  action: r.action as string,
  target: r.target as string,
  details: jsonObject(r.details),
});

export const toDatabaseTrigger = (r: Row): DatabaseTriggerState => ({
  trigger: r.trigger_name as string,
  source: r.source as string,
  position: r.position as string,
  disabled: flag(r.disabled),
  leaseOwner: (r.lease_owner as string | null) ?? null,
  leaseUntil: r.lease_until as number,
  lastRunAt: (r.last_run_at as number | null) ?? null,
  lastErrorAt: (r.last_error_at as number | null) ?? null,
  lastError: (r.last_error as string | null) ?? null,
  delivered: r.delivered as number,
  failed: r.failed as number,
});

export const toTriggerRun = (r: Row): TriggerRunState => ({
  trigger: r.trigger_name as string,
  runs: r.runs as number,
  failed: r.failed as number,
  lastRunAt: (r.last_run_at as number | null) ?? null,
  lastErrorAt: (r.last_error_at as number | null) ?? null,
  lastError: (r.last_error as string | null) ?? null,
});
