// Login is provider → users → sessions, in this order, here and nowhere else.

import type { AppConfig, ProviderConfig } from '../app/model.js';
import { BasteError, badRequest } from '../errors.js';
import type { AccessContext, Sessions } from '../sessions/sessions.js';
import type { DeviceRecord, SessionOpening, Store, UserRecord } from '../store/store.js';
import type { Profile, Users } from '../users/users.js';
import { isAnonymousOnly } from '../users/users.js';
import type { Clock } from '../util/clock.js';
import { isObjectIdHex, newObjectIdHex } from '../util/ids.js';
import type { AuthProvider, LoginContext, Verified, VerifiedIdentity } from './provider.js';
import type { LoginThrottle } from './throttle.js';

/** Device facts from the login body's `options.device`. */
export interface DeviceInfo {
  readonly deviceId?: string;
  readonly platform?: string;
  readonly platformVersion?: string;
  readonly sdkVersion?: string;
  readonly appId?: string;
  readonly appVersion?: string;
}

export interface LoginResult {
  readonly access_token: string;
  readonly refresh_token?: string;
  readonly user_id: string;
  readonly device_id: string;
}

export class AuthService {
  constructor(
    private readonly providers: ReadonlyMap<string, AuthProvider>,
    /** The user lifecycle, which logins create and link into (routes reach it here). */
    readonly users: Users,
    private readonly sessions: Sessions,
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly throttle?: LoginThrottle,
  ) {}

  /**
   * Every credential check goes through here (login, link, endpoint and webhook credentials), under
   * the brute-force throttle: per account (as the provider reads it from the payload) and per
   * client address, scoped by provider. Anonymous logins check nothing and are not counted.
   */
  private async verify(provider: AuthProvider, payload: Record<string, unknown>, ctx: LoginContext): Promise<Verified> {
    if (!this.throttle || provider.config.type === 'anon-user') return provider.login(payload, ctx);
    const account = provider.accountOf?.(payload) ?? null;
    return this.throttle.guard(`login:${provider.config.name}`, account, ctx.clientAddress, () => provider.login(payload, ctx));
  }

  /** An enabled provider by its name, or AuthProviderNotFound. */
  provider(name: string): AuthProvider {
    const provider = this.providers.get(name);
    if (!provider || provider.config.disabled) {
      throw new BasteError('AuthProviderNotFound', `authentication via '${name}' is unsupported`);
    }
    return provider;
  }

  async login(providerName: string, payload: Record<string, unknown>, device: DeviceInfo, ctx: LoginContext): Promise<LoginResult> {
    const provider = this.provider(providerName);
    return this.loginVerified(provider, await this.verify(provider, payload, ctx), device, ctx.clientAddress);
  }

  /**
   * Opens a session for a credential its provider has verified (POST login, and the end of the
   * OAuth redirect flow). User, device and session are written in one commit; the access token is
   * signed last, after the user creation function, so it carries any custom data that function wrote.
   */
  async loginVerified(provider: AuthProvider, verified: Verified, device: DeviceInfo, address?: string): Promise<LoginResult & { refresh_token: string }> {
    const deviceRecord = this.deviceRecord(device);
    const { session, refreshSecret } = this.sessions.prepare({
      deviceId: deviceRecord.id,
      providerName: provider.config.name,
      providerType: provider.config.type,
      apiKeyId: 'apiKeyId' in verified ? verified.apiKeyId : null,
      address,
      endsBy: 'sessionEndsBy' in verified ? verified.sessionEndsBy : null,
    });
    const { userId, created } = await this.userFor(provider, verified, { session, device: deviceRecord });
    await this.keepProviderToken(provider, verified);
    // A failing user creation function deletes the session written with the user too; its tokens
    // were never handed out.
    if (created) await this.users.runCreationFunction(userId);
    const accessToken = await this.sessions.accessTokenFor({ id: session.id, userId, deviceId: deviceRecord.id, expiresAt: session.expiresAt });
    const refreshToken = await this.sessions.refreshTokenFor({ ...session, userId }, refreshSecret, {
      id: 'userId' in verified ? verified.apiKeyId : verified.externalId,
      providerType: provider.config.type,
      providerId: provider.config.id,
    });
    await this.users.announce(created ? ['CREATE', 'LOGIN'] : ['LOGIN'], [provider.config.type], userId);
    return { access_token: accessToken, refresh_token: refreshToken, user_id: userId, device_id: deviceRecord.id };
  }

  /** `login?link=true`: adds the credential's identity to the caller's user; the session stays the same. */
  async link(
    caller: AccessContext,
    providerName: string,
    payload: Record<string, unknown>,
    ctx: LoginContext,
  ): Promise<LoginResult> {
    const provider = this.provider(providerName);
    await this.assertCanLink(caller.userId, provider);
    const verified = await this.verify(provider, payload, { ...ctx, linking: true });
    if ('userId' in verified) throw badRequest(`cannot link an identity of provider type '${provider.config.type}'`);
    await this.users.link(caller.userId, await this.identityOf(provider, verified));
    const accessToken = await this.sessions.accessTokenFor({
      id: caller.sessionId,
      userId: caller.userId,
      deviceId: caller.deviceId,
    });
    // No refresh_token: the session is unchanged, and both SDKs keep the one they hold.
    return { access_token: accessToken, user_id: caller.userId, device_id: caller.deviceId };
  }

  /** Refuses, before any credential is checked, a link that can never succeed. */
  async assertCanLink(userId: string, provider: AuthProvider): Promise<void> {
    if (!provider.linkable) throw badRequest(`cannot link an identity of provider type '${provider.config.type}'`);
    const user = await this.users.get(userId);
    if (
      provider.config.type === 'local-userpass' &&
      user.identities.some((i) => i.providerType === 'local-userpass')
    ) {
      throw badRequest('the user already has an email/password identity');
    }
  }

  /**
   * The end of a link-with-redirect (OAuth): the identity goes to the user of the session that
   * started the flow, which must still be live. The answer is a new session of that user on the
   * same device, because the result fragment must carry a refresh token (the Stitch SDK adopts it;
   * realm-web keeps its own); the starting session stays valid.
   */
  async linkVerified(sessionId: string, provider: AuthProvider, verified: VerifiedIdentity): Promise<LoginResult & { refresh_token: string }> {
    const active = await this.store.findSession(sessionId);
    if (!active || active.userDisabled || active.session.expiresAt <= this.clock()) {
      throw new BasteError('InvalidSession', 'invalid session: the session that started the link has ended');
    }
    const { userId, deviceId } = active.session;
    await this.assertCanLink(userId, provider);
    await this.users.link(userId, await this.identityOf(provider, verified));
    await this.keepProviderToken(provider, verified);
    const opened = await this.sessions.open({
      userId,
      deviceId,
      providerName: provider.config.name,
      providerType: provider.config.type,
      identity: { id: verified.externalId, providerType: provider.config.type, providerId: provider.config.id },
    });
    return { access_token: opened.accessToken, refresh_token: opened.refreshToken, user_id: userId, device_id: deviceId };
  }

  /**
   * The user a credential belongs to, without opening a session (HTTPS endpoints and webhooks with
   * application auth). Refuses identities without a user, unless `createUser`
   * (`create_user_on_auth`), which makes it as a first login does. Authenticating such a call is a
   * login (see functions/triggers.ts): LOGIN triggers fire, with CREATE for a new user.
   */
  async userForCredential(
    providerType: string,
    payload: Record<string, unknown>,
    ctx: LoginContext,
    options: { createUser?: boolean } = {},
  ): Promise<string> {
    const provider = [...this.providers.values()].find((p) => p.config.type === providerType && !p.config.disabled);
    if (!provider) throw new BasteError('AuthProviderNotFound', `authentication via '${providerType}' is not enabled`);
    const verified = await this.verify(provider, payload, ctx);
    const { userId, created } = await this.credentialOwner(provider, verified, options.createUser ?? false);
    await this.users.announce(created ? ['CREATE', 'LOGIN'] : ['LOGIN'], [provider.config.type], userId);
    return userId;
  }

  private async credentialOwner(provider: AuthProvider, verified: Verified, createUser: boolean): Promise<{ userId: string; created: boolean }> {
    if ('userId' in verified) return { userId: verified.userId, created: false };
    if (createUser) {
      const { userId, created, disabled } = await this.users.loginWithIdentity(await this.identityOf(provider, verified));
      if (disabled) throw new BasteError('UserDisabled', 'user is disabled');
      // The user creation function, as at a first login; a throw deletes the user again.
      if (created) await this.users.runCreationFunction(userId);
      return { userId, created };
    }
    const owner = await this.store.findIdentityOwner(provider.config.name, verified.externalId);
    if (!owner) throw new BasteError('UserNotFound', 'no user has these credentials');
    const user = await this.users.get(owner.userId);
    if (user.disabled) throw new BasteError('UserDisabled', 'user is disabled');
    return { userId: user.id, created: false };
  }

  profileOf(user: UserRecord): Profile {
    return this.users.profile(user);
  }

  async refresh(refreshToken: string): Promise<{ access_token: string }> {
    const { accessToken } = await this.sessions.refresh(refreshToken);
    return { access_token: accessToken };
  }

  /**
   * Ends the refresh token's session. An anonymous-only user can never log in again once its
   * session is gone, so the user goes with it.
   */
  async logout(refreshToken: string): Promise<void> {
    const session = await this.sessions.logout(refreshToken);
    if (session.providerType === 'anon-user') {
      const user = await this.store.getUser(session.userId);
      if (user && isAnonymousOnly(user)) await this.users.delete(user.id);
    }
  }

  /**
   * The user a verified credential logs in: named by it (API keys), or found or created by its
   * identity; the session opens with it.
   */
  private async userFor(provider: AuthProvider, verified: Verified, open: SessionOpening): Promise<{ userId: string; created: boolean }> {
    if ('userId' in verified) {
      await this.store.openSession({ ...open.session, userId: verified.userId }, { ...open.device, userId: verified.userId });
      return { userId: verified.userId, created: false };
    }
    const { userId, created, disabled } = await this.users.loginWithIdentity(await this.identityOf(provider, verified), 'normal', open);
    if (disabled) throw new BasteError('UserDisabled', 'user is disabled');
    return { userId, created };
  }

  /**
   * The identity as stored. Data the provider gives only once (Apple's name) and this login lacks
   * is taken from the stored identity.
   */
  private async identityOf(provider: AuthProvider, verified: VerifiedIdentity) {
    let data = verified.data;
    const missing = (provider.keptIdentityData ?? []).filter((k) => data[k] === undefined);
    if (missing.length > 0) {
      const owner = await this.store.findIdentityOwner(provider.config.name, verified.externalId);
      const stored = owner && (await this.store.getUser(owner.userId))?.identities.find((i) => i.providerName === provider.config.name && i.externalId === verified.externalId);
      if (stored) data = { ...Object.fromEntries(missing.filter((k) => stored.data[k] !== undefined).map((k) => [k, stored.data[k]])), ...data };
    }
    return {
      externalId: verified.externalId,
      providerName: provider.config.name,
      providerType: provider.config.type,
      providerId: provider.config.id,
      data,
    };
  }

  /** A provider token (Apple's refresh token) is kept with its identity, to revoke at deletion. */
  private async keepProviderToken(provider: AuthProvider, verified: Verified): Promise<void> {
    if ('externalId' in verified && verified.providerToken) {
      await this.store.putProviderToken(provider.config.name, verified.externalId, verified.providerToken, this.clock());
    }
  }

  /** The login's device: the client's id when it is a valid ObjectId, else a new one. */
  private deviceRecord(device: DeviceInfo): Omit<DeviceRecord, 'userId'> {
    const id = device.deviceId && isObjectIdHex(device.deviceId) && !/^0+$/.test(device.deviceId)
      ? device.deviceId.toLowerCase()
      : newObjectIdHex();
    return {
      id,
      platform: device.platform,
      platformVersion: device.platformVersion,
      sdkVersion: device.sdkVersion,
      appId: device.appId,
      appVersion: device.appVersion,
      lastSeenAt: this.clock(),
    };
  }
}
