// User accounts and their identities: find-or-create by identity, link, profile, disable, delete.

import type { AppConfig } from '../app/model.js';
import { BasteError } from '../errors.js';
import type { NewIdentity, SessionOpening, Store, UserRecord, UserType } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { newObjectIdHex } from '../util/ids.js';

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

export class Users {
  constructor(
    private readonly store: Store,
    private readonly app: AppConfig,
    private readonly clock: Clock,
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

  async delete(userId: string): Promise<boolean> {
    return this.store.deleteUser(userId);
  }

  /** Removes anonymous users who have not logged in or refreshed since `before`. */
  async sweepAnonymous(before: number): Promise<number> {
    return this.store.deleteInactiveAnonymousUsers(before);
  }
}
