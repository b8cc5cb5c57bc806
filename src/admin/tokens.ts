// Admin tokens: the credential of the admin API and the console. Printed once at creation
// (`baste admin-token create`); only the SHA-256 is stored. Their own prefix keeps them apart from
// client tokens: an access token is a JWT (three dot-separated parts), a refresh token or API key
// has no prefix, so neither can ever pass for an admin token, nor an admin token for them.

import { createHash } from 'node:crypto';
import type { LoginThrottle } from '../auth/throttle.js';
import { BasteError, invalidSession, type ErrorCode } from '../errors.js';
import type { AdminTokenRecord, Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { newObjectIdHex, randomToken } from '../util/ids.js';

const ADMIN_TOKEN_PREFIX = 'baste_admin_';
const NAME_MAX = 64;
const TOKEN_MAX = 256;

/** Whether a bearer token is meant as an admin token (rather than an admin session's access token). */
export const looksLikeAdminToken = (token: string): boolean => token.startsWith(ADMIN_TOKEN_PREFIX);

const hashAdminToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/** One throttle scope for the admin token, whether it comes as a bearer or in a mongodb-cloud login. */
const THROTTLE_SCOPE = 'admin-token';
/** A wrong or revoked admin token is a failed credential check. */
const TOKEN_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['InvalidSession']);

/** Where a token was presented: counted per client address and, for a login, per its username. */
export interface TokenOrigin {
  readonly clientAddress: string;
  readonly account?: string;
}

/** Who performed an admin action, as the audit log records it. */
export interface Actor {
  readonly id: string;
  readonly name: string;
}

export interface AdminTokenView {
  readonly _id: string;
  readonly name: string;
  readonly created_at: string;
}

const view = (t: AdminTokenRecord): AdminTokenView => ({ _id: t.id, name: t.name, created_at: new Date(t.createdAt).toISOString() });

export class AdminTokens {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    /** Failed checks from a client are throttled as logins are; none (the CLI, tests): not throttled. */
    private readonly throttle?: LoginThrottle,
  ) {}

  /** A new token; the returned `token` is the only copy there will ever be. */
  async create(rawName: unknown): Promise<AdminTokenView & { token: string }> {
    const name = rawName === undefined ? 'admin' : rawName;
    if (typeof name !== 'string' || name.trim() === '' || name.length > NAME_MAX || /[\u0000-\u001f\u007f]/.test(name)) {
      throw new BasteError('InvalidParameter', `name must be 1 to ${NAME_MAX} printable characters`);
    }
    const token = ADMIN_TOKEN_PREFIX + randomToken(32);
    const record: AdminTokenRecord = { id: newObjectIdHex(), name, tokenHash: hashAdminToken(token), createdAt: this.clock() };
    await this.store.createAdminToken(record);
    return { ...view(record), token };
  }

  /**
   * The operator a token belongs to; anything else is a 401 that says what is expected. From a
   * client (`origin`), failures are counted and, past the limit, refused with 429 before the
   * token is looked up.
   */
  async verify(token: string, origin?: TokenOrigin): Promise<Actor> {
    if (!this.throttle || !origin) return this.lookUp(token);
    return this.throttle.guard(THROTTLE_SCOPE, origin.account ?? null, origin.clientAddress, () => this.lookUp(token), TOKEN_FAILURES);
  }

  private async lookUp(token: string): Promise<Actor> {
    if (!token.startsWith(ADMIN_TOKEN_PREFIX) || token.length > TOKEN_MAX) {
      throw invalidSession('invalid session: admin routes need an admin token (baste admin-token create); client tokens are not accepted');
    }
    const found = await this.store.findAdminTokenByHash(hashAdminToken(token));
    if (!found) throw invalidSession('invalid session: unknown or revoked admin token');
    return { id: found.id, name: found.name };
  }

  async list(): Promise<AdminTokenView[]> {
    return (await this.store.listAdminTokens()).map(view);
  }

  async delete(id: string): Promise<void> {
    if (!(await this.store.deleteAdminToken(id))) throw new BasteError('NotFound', `no admin token with id '${id.slice(0, 64)}'`);
  }
}
