// The user lifecycle: find-or-create by identity, link, profile, create, disable, enable, end
// sessions, delete (with auth triggers and provider token revocation), and the email/password
// accounts (./email-password.ts). The client routes, the admin API and console, `baste users` and
// the API keys all change users through here.

import type { AppConfig } from '../app/model.js';
import { removeRevoking, type RevocationLog, type TokenRevoker } from '../auth/provider-tokens.js';
import { parseUserpassSettings } from '../auth/providers/local-userpass.js';
import { BasteError } from '../errors.js';
import type { CallUser } from '../functions/types.js';
import type { AuthOperation, AuthTriggers } from '../functions/triggers.js';
import type { NewIdentity, SessionOpening, Store, UserpassAccount, UserRecord, UserType } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { deepFreeze } from '../util/deep-freeze.js';
import { newObjectIdHex } from '../util/ids.js';
import { EmailPasswordAccounts, type UserpassDeps } from './email-password.js';

/** The profile document of `GET /auth/profile`. */
export interface Profile {
  readonly user_id: string;
  readonly domain_id: string;
  readonly identities: { id: string; provider_type: string; provider_id: string; provider_data: Record<string, unknown> }[];
  readonly data: Record<string, unknown>;
  readonly type: UserType;
}

/** `user.data`: the metadata of every identity merged, the earliest linked first. */
export function mergedUserData(user: UserRecord): Record<string, unknown> {
  return Object.assign({}, ...user.identities.map((i) => i.data)) as Record<string, unknown>;
}

export const isAnonymousOnly = (user: UserRecord): boolean =>
  user.identities.length > 0 && user.identities.every((i) => i.providerType === 'anon-user');

/**
 * What happens around users that the running server configures. The command line passes what it
 * has (token revocation, a mailer); what it lacks (functions, triggers) does not happen there.
 */
export interface UserLifecycle {
  /** Auth triggers: CREATE and DELETE fire here, LOGIN where a login is (auth/service.ts). */
  readonly triggers?: AuthTriggers;
  /** The user's custom data document (as `context.user.custom_data` sees it). */
  readonly customData?: (userId: string) => Promise<Record<string, unknown> | undefined>;
  /** The user creation function: runs once when a user is created; a throw undoes the creation. */
  readonly onUserCreated?: (user: CallUser) => Promise<void>;
  /** Revokes a provider token (Apple's) of a deleted user; see auth/provider-tokens.ts. */
  readonly revokerOf?: (providerName: string) => TokenRevoker | undefined;
  /** Where failures that must not fail the request are told (a token revocation at deletion). */
  readonly log?: RevocationLog;
  /** What the email/password account lifecycle needs (hasher, mailer, throttle, ...). */
  readonly userpass?: UserpassDeps;
}

export class Users {
  private readonly callUsers = new WeakMap<UserRecord, CallUser>();
  private readonly emailPasswords = new Map<string, EmailPasswordAccounts>();

  constructor(
    private readonly store: Store,
    private readonly app: AppConfig,
    private readonly clock: Clock,
    private readonly lifecycle: UserLifecycle = {},
  ) {}

  /** The user owning the identity, created with it on first login. */
  async loginWithIdentity(identity: NewIdentity, userType: UserType = 'normal', open?: SessionOpening) {
    return this.store.loginIdentity({ identity, newUserId: newObjectIdHex(), userType, now: this.clock(), open });
  }

  async link(userId: string, identity: NewIdentity): Promise<void> {
    const outcome = await this.store.linkIdentity(userId, identity, this.clock());
    if (outcome === 'taken') {
      throw new BasteError('IdentityAlreadyExists', 'a user already exists with the specified provider identity');
    }
  }

  async get(userId: string): Promise<UserRecord> {
    const user = await this.store.getUser(userId);
    if (!user) throw new BasteError('InvalidSession', 'invalid session: user not found');
    return user;
  }

  profile(user: UserRecord): Profile {
    return {
      user_id: user.id,
      domain_id: this.app.domainId,
      identities: user.identities.map((i) => ({
        id: i.externalId,
        provider_type: i.providerType,
        provider_id: i.providerId,
        provider_data: i.data,
      })),
      data: mergedUserData(user),
      type: user.type,
    };
  }

  /**
   * The user owning the identity, created with it when none does, as its first login would
   * (admin API: a created or confirmed email/password user); a new user is announced by `created`.
   */
  async ofIdentity(identity: NewIdentity): Promise<string> {
    const { userId, created } = await this.loginWithIdentity(identity);
    if (created) await this.created(userId, identity.providerType);
    return userId;
  }

  /**
   * A user made outside a login (the admin API): the user creation function (a throw deletes the
   * user again) and the CREATE triggers, as at a first login.
   */
  async created(userId: string, providerType: string): Promise<void> {
    await this.runCreationFunction(userId);
    await this.announce(['CREATE'], [providerType], userId);
  }

  /** The user creation function, once per new user; when it fails, so does the creation (the platform's rule). */
  async runCreationFunction(userId: string): Promise<void> {
    const run = this.lifecycle.onUserCreated;
    if (!run) return;
    try {
      await run(await this.callUser(userId));
    } catch (err) {
      // Undone, not deleted: no DELETE trigger for a user that never was.
      await this.store.deleteUser(userId);
      throw err instanceof BasteError ? err : new BasteError('FunctionExecutionError', (err as Error).message);
    }
  }

  /** Schedules the auth triggers listening for these operations (they run after the response). */
  async announce(ops: readonly AuthOperation[], providerTypes: readonly string[], userId: string): Promise<void> {
    const triggers = this.lifecycle.triggers;
    if (!triggers || !ops.some((op) => triggers.wants(op, providerTypes))) return;
    const user = await this.store.getUser(userId);
    if (!user) return;
    for (const op of ops) triggers.fire(op, providerTypes, callUserOf(user));
  }

  /** Disabling ends every session of the user (the store does both in one write). */
  async disable(userId: string): Promise<void> {
    await this.store.setUserDisabled(userId, true);
  }

  async enable(userId: string): Promise<void> {
    await this.store.setUserDisabled(userId, false);
  }

  /** Ends every session of the user (access and refresh tokens stop working at once); returns how many. */
  async revokeSessions(userId: string): Promise<number> {
    return this.store.deleteSessionsOfUser(userId);
  }

  /** A new password of an email/password account ends every session of its user. */
  async passwordChanged(providerName: string, accountId: string): Promise<void> {
    const owner = await this.store.findIdentityOwner(providerName, accountId);
    if (owner) await this.revokeSessions(owner.userId);
  }

  /** Ends one session of the user; false when the user has no such session. */
  async revokeSession(userId: string, sessionId: string): Promise<boolean> {
    return this.store.deleteSessionOfUser(userId, sessionId);
  }

  /** The user holding an email/password account (its identity's external id is the account id). */
  async ownerOfAccount(accountId: string): Promise<string | null> {
    for (const p of this.app.providers.values()) {
      if (p.type !== 'local-userpass') continue;
      const owner = await this.store.findIdentityOwner(p.name, accountId);
      if (owner) return owner.userId;
    }
    return null;
  }

  /** Removes an email/password registration that no user holds yet (a user's own account goes with the user). */
  async deleteRegistration(account: UserpassAccount): Promise<void> {
    const owner = await this.ownerOfAccount(account.id);
    if (owner) throw new BasteError('BadRequest', `'${account.email}' belongs to user ${owner}: delete the user instead`);
    await this.store.deleteUserpassAccount(account.id);
  }

  /**
   * Deletes the user. A DELETE trigger sees the user as it was, with every identity it had. Apple
   * requires apps that offer account deletion to revoke its tokens: after the deletion, and a
   * failure is logged, not fatal (the user is gone either way).
   */
  async delete(userId: string): Promise<void> {
    const { triggers, revokerOf, log } = this.lifecycle;
    const before = triggers ? await this.store.getUser(userId) : null;
    await removeRevoking(this.store, userId, revokerOf ?? (() => undefined), log, () => this.store.deleteUser(userId));
    if (before) {
      const types = [...new Set(before.identities.map((i) => i.providerType))];
      if (triggers!.wants('DELETE', types)) triggers!.fire('DELETE', types, callUserOf(before));
    }
  }

  /** The user as functions see it (`context.user`). */
  async callUser(userId: string): Promise<CallUser> {
    return this.callUserFrom(await this.get(userId));
  }

  /** As callUser, for a user record already read (with the caller's session). */
  async callUserFrom(user: UserRecord): Promise<CallUser> {
    const customData = this.lifecycle.customData;
    if (customData) return callUserOf(user, (await customData(user.id)) ?? {});
    // Without custom user data a CallUser depends on the record alone. A frozen record is one the
    // store shares (SQLite's session cache) while nothing changed: its CallUser is made, and
    // serialized for the sandbox, once rather than per call.
    if (!Object.isFrozen(user)) return callUserOf(user);
    let made = this.callUsers.get(user);
    if (!made) this.callUsers.set(user, (made = deepFreeze(callUserOf(user))));
    return made;
  }

  /**
   * The account lifecycle of an enabled email/password provider, by its name; AuthProviderNotFound
   * for any other name.
   */
  emailPassword(name = 'local-userpass'): EmailPasswordAccounts {
    let accounts = this.emailPasswords.get(name);
    if (accounts) return accounts;
    const config = this.app.providers.get(name);
    if (!config || config.disabled) throw new BasteError('AuthProviderNotFound', `authentication via '${name}' is unsupported`);
    if (config.type !== 'local-userpass') throw new BasteError('AuthProviderNotFound', `'${name}' is not an email/password provider`);
    const deps = this.lifecycle.userpass;
    if (!deps) throw new BasteError('NotImplemented', 'email/password accounts are managed by a running server or baste users');
    accounts = new EmailPasswordAccounts(config, parseUserpassSettings(config, new Set(this.app.functions.keys())), deps, this);
    this.emailPasswords.set(name, accounts);
    return accounts;
  }

  /** Removes anonymous users who have not logged in or refreshed since `before`. */
  async sweepAnonymous(before: number): Promise<number> {
    return this.store.deleteInactiveAnonymousUsers(before);
  }
}

/** A user as functions see it (`context.user`, a trigger's `event.user`). */
export function callUserOf(user: UserRecord, customData: Record<string, unknown> = {}): CallUser {
  return {
    id: user.id,
    type: user.type,
    data: mergedUserData(user),
    custom_data: customData,
    identities: user.identities.map((i) => ({ id: i.externalId, provider_type: i.providerType, provider_id: i.providerId })),
  };
}
