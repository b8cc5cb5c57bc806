// Managing an app's users and keys: what the admin API, `baste users` and the console do. Every
// change is written to the audit log with the operator who made it; reads are not. Nothing here
// returns a secret: password hashes, refresh-token hashes and key hashes stay in the store, and
// the only key ever shown is a new server API key, once, in the answer that creates it.

import type { AppConfig, ProviderConfig } from '../app/model.js';
import type { ApiKeys } from '../auth/api-keys.js';
import { currentTargets, type CurrentTarget } from './audit-targets.js';
import { BasteError } from '../errors.js';
import type { RefreshTokenExpiration, SessionPolicyView } from '../sessions/refresh-expiration.js';
import { liveSessions, sessionView, type SessionView } from '../sessions/list.js';
import type { Sessions } from '../sessions/sessions.js';
import type { ApiKeyRecord, DeviceRecord, SessionRecord, Store, UserpassAccount, UserRecord } from '../store/store.js';
import { mergedUserData, type Users } from '../users/users.js';
import type { Clock } from '../util/clock.js';
import { isObjectIdHex, newObjectIdHex } from '../util/ids.js';
import type { Actor } from './tokens.js';

/** Page size of every admin list, as on the platform. */
export const PAGE_SIZE = 50;
const SEARCH_MAX = 256;

export interface AdminDeps {
  readonly store: Store;
  readonly app: AppConfig;
  readonly clock: Clock;
  readonly apiKeys: ApiKeys;
  /**
   * Every change to a user goes through its lifecycle: a running server's runs the user creation
   * function and the CREATE and DELETE triggers; the command line's has no function runtime.
   */
  readonly users: Users;
  /** The custom user data document, once the app has a data service. */
  readonly customData?: (userId: string) => Promise<Record<string, unknown> | undefined>;
  /** The refresh-token lifetime of new sessions (a running server only). */
  readonly refreshExpiration?: RefreshTokenExpiration;
  /** Checks a client access token of this app (Sessions.inspectAccessToken; a running server only). */
  readonly inspectAccessToken?: Sessions['inspectAccessToken'];
}

/** `POST …/users/verify_token`: the claims of a live client access token, in the platform's names. */
export interface VerifiedToken {
  readonly sub: string;
  readonly exp: number;
  readonly iat: number;
  /** The session id, as in the platform's tokens. */
  readonly iss: string;
  readonly domain_id: string;
  readonly device_id: string;
  readonly aud?: unknown;
  readonly custom_user_data?: Record<string, unknown>;
}

/** The platform's custom user data configuration; Baste names the data source and function (it has no ids for them). */
export type CustomUserDataView =
  | { readonly enabled: false }
  | {
      readonly enabled: true;
      readonly mongo_service_name: string;
      readonly database_name: string;
      readonly collection_name: string;
      readonly user_id_field: string;
      readonly on_user_creation_function_name?: string;
    };

/** A page of a list and the cursor of the next one (null on the last page). */
export interface Page<T> {
  readonly items: T[];
  readonly nextAfter: string | null;
}

export interface AdminIdentity {
  readonly id: string;
  readonly provider_type: string;
  readonly provider_id: string;
  readonly provider_name: string;
}

/** The App Services Admin API user object (dates in Unix seconds). */
export interface AdminUser {
  readonly _id: string;
  readonly identities: AdminIdentity[];
  readonly type: string;
  readonly creation_date: number;
  readonly last_authentication_date: number;
  readonly disabled: boolean;
  readonly data: Record<string, unknown>;
}

export interface AdminDevice {
  readonly device_id: string;
  readonly platform?: string;
  readonly platform_version?: string;
  readonly sdk_version?: string;
  readonly app_id?: string;
  readonly app_version?: string;
  readonly last_seen_date: number;
}

/** One session of a user (Baste's: the platform lists none). */
export type AdminSession = SessionView;

export interface AdminUserDetail extends Omit<AdminUser, 'identities'> {
  readonly identities: (AdminIdentity & { provider_data: Record<string, unknown> })[];
  readonly custom_data: Record<string, unknown>;
  readonly devices: AdminDevice[];
  readonly sessions: AdminSession[];
  readonly active_sessions: number;
}

/** A registration no user holds yet, in the platform's pending-user shape. */
export interface PendingUser {
  readonly _id: string;
  readonly domain_id: string;
  readonly login_ids: { id_type: 'email'; id: string; confirmed: boolean }[];
  readonly user_id: null;
  readonly creation_date: number;
}

export interface AdminApiKey {
  readonly _id: string;
  readonly name: string;
  readonly disabled: boolean;
  readonly user_id: string;
  readonly creation_date: number;
}

export interface AdminProvider {
  readonly _id: string;
  readonly name: string;
  readonly type: string;
  readonly disabled: boolean;
  readonly config: Record<string, unknown>;
  /** Option name → the NAME of the secret that holds it; never the secret. */
  readonly secret_config: Record<string, string | string[]>;
  readonly metadata_fields: { name: string; required: boolean; field_name?: string }[];
  readonly redirect_uris: string[];
  readonly domain_restrictions: string[];
}

export interface AuditView {
  readonly _id: string;
  readonly time: string;
  readonly actor: { id: string; name: string };
  readonly action: string;
  readonly target: string;
  readonly details: Record<string, unknown>;
  /** The target as it is now, for a link; null once gone (see audit-targets.ts). */
  readonly current_target: CurrentTarget | null;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/** Provider options that hold credentials inline in some old exports: shown as hidden. */
const SECRET_OPTION = /(secret|password|passwd|private_?key|signing_?keys?|api_?key|token)$/i;

const userNotFound = (id: string) => new BasteError('UserNotFound', `no user with id '${id.slice(0, 64)}'`);
const registrationNotFound = (email: string) => new BasteError('UserNotFound', `no email/password registration for '${email.slice(0, 256)}'`);
const apiKeyNotFound = (id: string) => new BasteError('APIKeyNotFound', `no server API key with id '${id.slice(0, 64)}'`);

/** An optional string query parameter, bounded. */
function optionalString(value: unknown, name: string, max: number): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || value.length > max) throw new BasteError('InvalidParameter', `${name} must be a string of at most ${max} characters`);
  return value;
}

const PROVIDER_TYPES_MAX = 16;

/** `provider_types=a,b` (or repeated), and the single `provider_type`: the union, or undefined for no filter. */
function providerTypeList(many: unknown, one: unknown): string[] | undefined {
  const given = [...(Array.isArray(many) ? many : many === undefined ? [] : [many]), ...(one === undefined ? [] : [one])];
  if (given.length === 0) return undefined;
  const types = new Set<string>();
  for (const value of given) {
    if (typeof value !== 'string' || value.length > 256) throw new BasteError('InvalidParameter', 'provider_types must be a comma-separated list of provider types');
    for (const type of value.split(',')) if (type.trim() !== '') types.add(type.trim());
  }
  if (types.size > PROVIDER_TYPES_MAX) throw new BasteError('InvalidParameter', `provider_types may name at most ${PROVIDER_TYPES_MAX} provider types`);
  return types.size === 0 ? undefined : [...types];
}

function identityView(i: UserRecord['identities'][number]): AdminIdentity {
  return { id: i.externalId, provider_type: i.providerType, provider_id: i.providerId, provider_name: i.providerName };
}

function userView(u: UserRecord): AdminUser {
  return {
    _id: u.id,
    identities: u.identities.map(identityView),
    type: u.type,
    creation_date: seconds(u.createdAt),
    last_authentication_date: seconds(u.lastAuthAt),
    disabled: u.disabled,
    data: mergedUserData(u),
  };
}

const deviceView = (d: DeviceRecord): AdminDevice => ({
  device_id: d.id,
  platform: d.platform,
  platform_version: d.platformVersion,
  sdk_version: d.sdkVersion,
  app_id: d.appId,
  app_version: d.appVersion,
  last_seen_date: seconds(d.lastSeenAt),
});

const apiKeyView = (k: ApiKeyRecord): AdminApiKey => ({
  _id: k.id,
  name: k.name,
  disabled: k.disabled,
  user_id: k.userId,
  creation_date: seconds(k.createdAt),
});

function providerView(p: ProviderConfig): AdminProvider {
  return {
    _id: p.id,
    name: p.name,
    type: p.type,
    disabled: p.disabled,
    config: Object.fromEntries(Object.entries(p.config).map(([k, v]) => [k, SECRET_OPTION.test(k) ? '(hidden)' : v])),
    secret_config: { ...p.secretConfig, ...Object.fromEntries(Object.entries(p.secretConfigLists ?? {}).map(([k, v]) => [k, [...v]])) },
    metadata_fields: p.metadataFields.map((f) => ({ name: f.name, required: f.required, ...(f.fieldName ? { field_name: f.fieldName } : {}) })),
    redirect_uris: [...p.redirectUris],
    domain_restrictions: [...p.domainRestrictions],
  };
}

export class Admin {
  constructor(private readonly deps: AdminDeps) {}

  private get store() {
    return this.deps.store;
  }

  app(): { _id: string; client_app_id: string; name: string } {
    return { _id: this.deps.app.domainId, client_app_id: this.deps.app.appId, name: this.deps.app.name };
  }

  // ---- users -------------------------------------------------------------------------------

  /**
   * `GET …/users`: `after`, `sort` (the platform knows only `_id`), `desc`, `status`
   * (`enabled` / `disabled`), `provider_types` (comma-separated or repeated; `provider_type`, one
   * type, is Baste's older spelling) and `search`.
   */
  async listUsers(query: {
    after?: unknown;
    sort?: unknown;
    desc?: unknown;
    status?: unknown;
    providerTypes?: unknown;
    providerType?: unknown;
    search?: unknown;
  }): Promise<Page<AdminUser>> {
    const after = optionalString(query.after, 'after', 64);
    const sort = optionalString(query.sort, 'sort', 64);
    if (sort !== undefined && sort !== '_id') throw new BasteError('InvalidParameter', `cannot sort users by '${sort}': the only sort field is '_id'`);
    const desc = optionalString(query.desc, 'desc', 5);
    if (desc !== undefined && desc !== 'true' && desc !== 'false') throw new BasteError('InvalidParameter', 'desc must be true or false');
    const status = optionalString(query.status, 'status', 16);
    if (status !== undefined && status !== 'enabled' && status !== 'disabled') {
      throw new BasteError('InvalidParameter', "status must be 'enabled' or 'disabled'");
    }
    const providerTypes = providerTypeList(query.providerTypes, query.providerType);
    const search = optionalString(typeof query.search === 'string' ? query.search.trim() : query.search, 'search', SEARCH_MAX);
    const users = await this.store.listUsers({
      after,
      descending: desc === 'true',
      providerTypes,
      disabled: status === undefined ? undefined : status === 'disabled',
      search,
      limit: PAGE_SIZE + 1,
    });
    return page(users.map(userView), (u) => u._id);
  }

  /** The user, or UserNotFound (also for something that is not a user id at all). */
  private async user(rawId: string): Promise<UserRecord> {
    const id = rawId.toLowerCase();
    const user = isObjectIdHex(id) ? await this.store.getUser(id) : null;
    if (!user) throw userNotFound(rawId);
    return user;
  }

  async getUser(id: string): Promise<AdminUserDetail> {
    const user = await this.user(id);
    const now = this.deps.clock();
    const [devices, sessions, customData] = await Promise.all([
      this.store.listDevices(user.id),
      this.store.listSessionsOfUser(user.id),
      this.deps.customData?.(user.id),
    ]);
    const live = liveSessions(sessions, now, this.idleTimeout());
    return {
      ...userView(user),
      identities: user.identities.map((i) => ({ ...identityView(i), provider_data: i.data })),
      custom_data: customData ?? {},
      devices: devices.map(deviceView),
      sessions: live.map((s) => sessionView(s, devices)),
      active_sessions: live.length,
    };
  }

  /** `GET …/users/{id}/sessions`: the user's live sessions, oldest first. */
  async sessions(id: string): Promise<AdminSession[]> {
    const user = await this.user(id);
    const [devices, sessions] = await Promise.all([this.store.listDevices(user.id), this.store.listSessionsOfUser(user.id)]);
    return liveSessions(sessions, this.deps.clock(), this.idleTimeout()).map((s) => sessionView(s, devices));
  }

  /** `DELETE …/users/{id}/sessions/{session}`: ends that session only (its tokens stop working at once). */
  async revokeSession(actor: Actor, id: string, sessionId: string): Promise<void> {
    const user = await this.user(id);
    if (!(await this.deps.users.revokeSession(user.id, sessionId.toLowerCase()))) {
      throw new BasteError('SessionNotFound', `user ${user.id} has no session '${sessionId.slice(0, 64)}'`);
    }
    await this.audit(actor, 'user.session.revoke', user.id, { session: sessionId.toLowerCase() });
  }

  private idleTimeout(): number {
    return this.deps.refreshExpiration?.idleTimeoutSeconds ?? 0;
  }

  async devices(id: string): Promise<AdminDevice[]> {
    const user = await this.user(id);
    return (await this.store.listDevices(user.id)).map(deviceView);
  }

  /** An email/password user, confirmed at once (no email is sent), and its user object. */
  async createUser(actor: Actor, body: Record<string, unknown>): Promise<AdminUser> {
    const provider = this.userpassProvider();
    const account = await this.deps.users.emailPassword(provider.name).createConfirmed(body);
    const user = await this.userOfAccount(provider, account);
    await this.audit(actor, 'user.create', user.id, { email: account.email, provider: provider.name });
    return userView(user);
  }

  async setDisabled(actor: Actor, id: string, disabled: boolean): Promise<void> {
    const user = await this.user(id);
    await (disabled ? this.deps.users.disable(user.id) : this.deps.users.enable(user.id));
    await this.audit(actor, disabled ? 'user.disable' : 'user.enable', user.id);
  }

  /** Ends every session of the user (access and refresh tokens stop working at once). */
  async revokeSessions(actor: Actor, id: string): Promise<number> {
    const user = await this.user(id);
    const ended = await this.deps.users.revokeSessions(user.id);
    await this.audit(actor, 'user.logout', user.id, { sessions: ended });
    return ended;
  }

  async deleteUser(actor: Actor, id: string): Promise<void> {
    const user = await this.user(id);
    await this.deps.users.delete(user.id);
    // Who it was stays out of the log: a deletion on request should not leave the email behind.
    await this.audit(actor, 'user.delete', user.id, { type: user.type, providers: [...new Set(user.identities.map((i) => i.providerType))] });
  }

  // ---- password resets (users imported without their password) -------------------------------

  /**
   * Mails the user's email/password account a reset link. `pagesUrl`: Baste's own pages as the
   * operator's request reached the server, for a provider that names no reset URL.
   */
  async sendPasswordReset(actor: Actor, id: string, pagesUrl?: string): Promise<{ email: string }> {
    const user = await this.user(id);
    const identity = user.identities.find((i) => i.providerType === 'local-userpass');
    const account = identity && (await this.store.findUserpassAccount(identity.externalId));
    if (!identity || !account) throw new BasteError('BadRequest', `user ${user.id} has no email/password identity`);
    await this.mailReset(identity.providerName, account.email, pagesUrl);
    await this.audit(actor, 'user.send_password_reset', user.id);
    return { email: account.email };
  }

  /**
   * Mails a reset link to every confirmed account still waiting for its first password (imported
   * without one). One failure does not stop the others: each is reported.
   */
  async sendPasswordResets(actor: Actor, pagesUrl?: string): Promise<{ sent: number; failed: { email: string; reason: string }[] }> {
    const provider = this.userpassProvider();
    let sent = 0;
    const failed: { email: string; reason: string }[] = [];
    for (let after: string | undefined; ; ) {
      const accounts = await this.store.listAccountsAwaitingReset({ after, limit: PAGE_SIZE });
      for (const account of accounts.filter((a) => a.confirmed)) {
        try {
          await this.mailReset(provider.name, account.email, pagesUrl);
          sent++;
        } catch (err) {
          if (!(err instanceof BasteError) || err.code === 'BadRequest') throw err; // no reset link at all: say so once
          failed.push({ email: account.email, reason: err.message });
        }
      }
      if (accounts.length < PAGE_SIZE) break;
      after = accounts[accounts.length - 1]!.id;
    }
    await this.audit(actor, 'user.send_password_resets', this.deps.app.appId, { sent, failed: failed.length });
    return { sent, failed };
  }

  private async mailReset(providerName: string, email: string, pagesUrl: string | undefined): Promise<void> {
    await this.deps.users.emailPassword(providerName).sendResetLink(email, { pagesUrl });
  }

  // ---- pending email/password registrations ---------------------------------------------------

  async listPending(query: { after?: unknown }): Promise<Page<PendingUser>> {
    const after = optionalString(query.after, 'after', 64);
    const accounts = await this.store.listPendingUserpassAccounts({ after, limit: PAGE_SIZE + 1 });
    return page(
      accounts.map((a) => ({
        _id: a.id,
        domain_id: this.deps.app.domainId,
        login_ids: [{ id_type: 'email' as const, id: a.email, confirmed: a.confirmed }],
        user_id: null,
        creation_date: seconds(a.createdAt),
      })),
      (p) => p._id,
    );
  }

  /** Confirms a pending registration and creates its user, as the platform does. */
  async confirmPending(actor: Actor, email: string): Promise<AdminUser> {
    const provider = this.userpassProvider();
    const account = await this.store.findUserpassAccountByEmail(email);
    if (!account) throw registrationNotFound(email);
    if (account.confirmed) throw new BasteError('UserAlreadyConfirmed', `'${email}' is already confirmed`);
    await this.deps.users.emailPassword(provider.name).confirmAccount(account);
    const user = await this.userOfAccount(provider, account);
    await this.audit(actor, 'user_registration.confirm', email, { user_id: user.id });
    return userView(user);
  }

  async sendConfirmation(actor: Actor, email: string, pagesUrl?: string): Promise<void> {
    const provider = this.userpassProvider();
    await this.deps.users.emailPassword(provider.name).resendConfirmationFor(email, { pagesUrl });
    await this.audit(actor, 'user_registration.send_confirm', email);
  }

  /** Removes a registration that no user holds yet (a user's own account goes with the user). */
  async deletePending(actor: Actor, email: string): Promise<void> {
    const account = await this.store.findUserpassAccountByEmail(email);
    if (!account) throw registrationNotFound(email);
    await this.deps.users.deleteRegistration(account);
    await this.audit(actor, 'user_registration.delete', email);
  }

  /**
   * Runs the confirmation function again for a registration still waiting for it. 400 once
   * confirmed (or when the provider runs no confirmation function), 404 with no such registration.
   */
  async runConfirmation(actor: Actor, email: string): Promise<void> {
    const provider = this.userpassProvider();
    const account = await this.store.findUserpassAccountByEmail(email);
    if (!account) throw registrationNotFound(email);
    if (account.confirmed) throw new BasteError('UserAlreadyConfirmed', `'${email.slice(0, 256)}' is already confirmed`);
    await this.deps.users.emailPassword(provider.name).retryConfirmationFunction({ email });
    await this.audit(actor, 'user_registration.run_confirm', email);
  }

  private userpassProvider(): ProviderConfig {
    const enabled = [...this.deps.app.providers.values()].filter((p) => p.type === 'local-userpass' && !p.disabled);
    const provider = enabled.find((p) => p.name === 'local-userpass') ?? enabled[0];
    if (!provider) throw new BasteError('AuthProviderNotFound', 'the email/password provider (local-userpass) is not enabled for this app');
    return provider;
  }

  /** The user of a confirmed account: found, or created with its identity (what its first login would do). */
  private async userOfAccount(provider: ProviderConfig, account: UserpassAccount): Promise<UserRecord> {
    const userId = await this.deps.users.ofIdentity({
      externalId: account.id,
      providerName: provider.name,
      providerType: provider.type,
      providerId: provider.id,
      data: { email: account.email },
    });
    return this.user(userId);
  }

  // ---- sessions and tokens -------------------------------------------------------------------

  /** A client access token's claims, or `'token expired'` (the platform's answer for an expired one). */
  async verifyToken(body: Record<string, unknown>): Promise<VerifiedToken | 'token expired'> {
    const token = body.token;
    if (token === undefined) throw new BasteError('MissingParameter', 'token is required');
    if (typeof token !== 'string' || token === '') throw new BasteError('InvalidParameter', 'token must be a non-empty string');
    if (!this.deps.inspectAccessToken) throw new BasteError('NotImplemented', 'tokens are verified by a running server only');
    const found = await this.deps.inspectAccessToken(token);
    if (found.expired) return 'token expired';
    const c = found.claims;
    const userData = c.user_data;
    return {
      sub: String(c.sub),
      exp: c.exp as number,
      iat: Number(c.iat),
      iss: String(c.baas_id),
      domain_id: String(c.baas_domain_id),
      device_id: String(c.baas_device_id),
      ...(c.aud !== undefined ? { aud: c.aud } : {}),
      ...(userData && typeof userData === 'object' && Object.keys(userData).length > 0 ? { custom_user_data: userData as Record<string, unknown> } : {}),
    };
  }

  /** The refresh-token lifetime of new sessions, read from the store (so a change on another instance shows at once). */
  async refreshTokenExpiration(): Promise<{ expiration_time_seconds: number }> {
    return { expiration_time_seconds: await this.refreshExpiration().load() };
  }

  async setRefreshTokenExpiration(actor: Actor, body: Record<string, unknown>): Promise<void> {
    const seconds = await this.refreshExpiration().set(body.expiration_time_seconds);
    await this.audit(actor, 'security.refresh_token_expiration', this.deps.app.appId, { expiration_time_seconds: seconds });
  }

  /** `GET …/security/session_policy`: sliding lifetime and idle timeout (Baste's; read from the store). */
  async sessionPolicy(): Promise<SessionPolicyView> {
    return this.refreshExpiration().policy();
  }

  async setSessionPolicy(actor: Actor, body: Record<string, unknown>): Promise<SessionPolicyView> {
    const policy = await this.refreshExpiration().setPolicy(body);
    await this.audit(actor, 'security.session_policy', this.deps.app.appId, { ...policy });
    return policy;
  }

  private refreshExpiration(): RefreshTokenExpiration {
    if (!this.deps.refreshExpiration) throw new BasteError('NotImplemented', 'the refresh token expiration is managed by a running server only');
    return this.deps.refreshExpiration;
  }

  customUserData(): CustomUserDataView {
    const c = this.deps.app.customUserData;
    if (!c) return { enabled: false };
    return {
      enabled: true,
      mongo_service_name: c.serviceName,
      database_name: c.database,
      collection_name: c.collection,
      user_id_field: c.userIdField,
      ...(c.onUserCreationFunctionName ? { on_user_creation_function_name: c.onUserCreationFunctionName } : {}),
    };
  }

  // ---- server API keys -----------------------------------------------------------------------

  async listApiKeys(): Promise<AdminApiKey[]> {
    return (await this.store.listServerApiKeys()).map(apiKeyView);
  }

  private async serverKey(id: string): Promise<ApiKeyRecord> {
    const found = (await this.store.listServerApiKeys()).find((k) => k.id === id.toLowerCase());
    if (!found) throw apiKeyNotFound(id);
    return found;
  }

  async getApiKey(id: string): Promise<AdminApiKey> {
    return apiKeyView(await this.serverKey(id));
  }

  /** The answer holds the key: the only time it is ever shown. */
  async createApiKey(actor: Actor, name: unknown): Promise<AdminApiKey & { key: string }> {
    const created = await this.deps.apiKeys.createServerKey(name);
    const record = await this.serverKey(created._id);
    await this.audit(actor, 'api_key.create', record.id, { name: record.name });
    return { ...apiKeyView(record), key: created.key };
  }

  async setApiKeyDisabled(actor: Actor, id: string, disabled: boolean): Promise<void> {
    const key = await this.serverKey(id);
    await this.deps.apiKeys.setDisabled(key.userId, key.id, disabled);
    await this.audit(actor, disabled ? 'api_key.disable' : 'api_key.enable', key.id, { name: key.name });
  }

  async deleteApiKey(actor: Actor, id: string): Promise<void> {
    const key = await this.serverKey(id);
    await this.deps.apiKeys.delete(key.userId, key.id);
    await this.audit(actor, 'api_key.delete', key.id, { name: key.name });
  }

  // ---- a user's API keys ------------------------------------------------------------------------

  /**
   * `GET …/users/{id}/api_keys`: the keys the user made through the SDK (a server user: its one
   * server key), as the server keys are listed, never the key itself. Baste's: the platform's
   * admin API lists server keys only.
   */
  async userApiKeys(id: string): Promise<AdminApiKey[]> {
    const user = await this.user(id);
    return (await this.store.listApiKeys(user.id)).map(apiKeyView);
  }

  // ---- providers and the audit log -------------------------------------------------------------

  providers(): AdminProvider[] {
    return [...this.deps.app.providers.values()].map(providerView);
  }

  async auditLog(query: { after?: unknown }): Promise<Page<AuditView>> {
    const after = optionalString(query.after, 'after', 64);
    const entries = page(await this.store.listAuditEntries({ after, limit: PAGE_SIZE + 1 }), (e) => e.id);
    const targets = await currentTargets(this.deps, entries.items);
    return {
      items: entries.items.map((e, i) => ({
        _id: e.id,
        time: new Date(e.at).toISOString(),
        actor: { id: e.actorId, name: e.actorName },
        action: e.action,
        target: e.target,
        details: e.details,
        current_target: targets[i]!,
      })),
      nextAfter: entries.nextAfter,
    };
  }

  private audit(actor: Actor, action: string, target: string, details: Record<string, unknown> = {}): Promise<void> {
    return recordAudit(this.deps, actor, action, target, details);
  }
}

/** Writes one entry of the audit log: `actor` did `action` to `target`, now. */
export async function recordAudit(
  deps: { store: Store; clock: Clock },
  actor: Actor,
  action: string,
  target: string,
  details: Record<string, unknown> = {},
): Promise<void> {
  await deps.store.appendAuditEntry({ id: newObjectIdHex(), at: deps.clock(), actorId: actor.id, actorName: actor.name, action, target, details });
}

/** Cuts a list fetched with one extra item into a page and the cursor of the next one. */
function page<T>(items: T[], idOf: (item: T) => string): Page<T> {
  if (items.length <= PAGE_SIZE) return { items, nextAfter: null };
  const shown = items.slice(0, PAGE_SIZE);
  return { items: shown, nextAfter: idOf(shown[shown.length - 1]!) };
}
