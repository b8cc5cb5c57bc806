// Admin API sessions, for scripts and tools that log in the way realm-cli does against the
// platform: `POST /api/admin/v3.0/auth/providers/mongodb-cloud/login {username, apiKey}` (here
// `apiKey` is an admin token) answers `{access_token, refresh_token, user_id, device_id}`;
// `POST /auth/session` with the refresh token gives a new access token; `GET /auth/profile`.
//
// Both tokens are HS256 JWTs signed with a key derived from the admin token's stored hash, so
// nothing new is stored and deleting the admin token ends its sessions at once (every use reads
// the token's record). They can never pass for client tokens, nor client tokens for them: the
// header's kid is `admin:<token id>` (client tokens name an access-token signing key, which no
// admin token is) and the payload's typ is `admin_access` / `admin_refresh` (client routes
// require `access`).

import { createHmac } from 'node:crypto';
import { BasteError, invalidSession } from '../errors.js';
import { encodedHs256Header, signHs256, verifyCanonicalHs256, type Hs256Key } from '../sessions/hs256.js';
import type { AdminTokenRecord, Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import type { Actor, AdminTokens } from './tokens.js';

/** As on the platform: access tokens for 30 minutes, refresh tokens for 60 days. */
export const ADMIN_ACCESS_TTL_SECONDS = 30 * 60;
export const ADMIN_REFRESH_TTL_SECONDS = 60 * 24 * 60 * 60;
const KID_PREFIX = 'admin:';
const KEY_LABEL = 'baste admin session v1';
const MAX_TOKEN_LENGTH = 4096;
/** The platform answers a device id; an admin session has no device. */
const NO_DEVICE = '000000000000000000000000';

type AdminTokenType = 'admin_access' | 'admin_refresh';

export interface AdminLogin {
  readonly access_token: string;
  readonly refresh_token: string;
  readonly user_id: string;
  readonly device_id: string;
}

/** The platform's admin profile shape, for the operator an admin token names. */
export interface AdminProfile {
  readonly user_id: string;
  readonly domain_id: string;
  readonly identities: { id: string; provider_type: 'mongodb-cloud' }[];
  readonly data: { name: string };
  readonly type: 'normal';
  readonly roles: { role_name: string }[];
}

const keyFor = (record: AdminTokenRecord): Hs256Key => ({
  secret: createHmac('sha256', Buffer.from(record.tokenHash, 'hex')).update(KEY_LABEL).digest(),
  header: encodedHs256Header(KID_PREFIX + record.id),
});

export class AdminSessions {
  constructor(
    private readonly tokens: AdminTokens,
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly domainId: string,
  ) {}

  /**
   * `{username, apiKey}`: the admin token authenticates; `username` is required, as on the
   * platform, but not checked. Failures are throttled per username and per client address.
   */
  async login(body: Record<string, unknown>, clientAddress?: string): Promise<AdminLogin> {
    for (const field of ['username', 'apiKey'] as const) {
      if (body[field] === undefined) throw new BasteError('MissingParameter', `${field} is required`);
      if (typeof body[field] !== 'string' || body[field] === '') throw new BasteError('InvalidParameter', `${field} must be a non-empty string`);
    }
    const origin = clientAddress === undefined ? undefined : { clientAddress, account: body.username as string };
    const actor = await this.tokens.verify(body.apiKey as string, origin);
    const record = await this.record(actor.id);
    if (!record) throw invalidSession('invalid session: unknown or revoked admin token');
    return {
      access_token: this.sign(record, 'admin_access', ADMIN_ACCESS_TTL_SECONDS),
      refresh_token: this.sign(record, 'admin_refresh', ADMIN_REFRESH_TTL_SECONDS),
      user_id: record.id,
      device_id: NO_DEVICE,
    };
  }

  /** `POST /auth/session`: a new access token for a refresh token. */
  async refresh(refreshToken: string): Promise<{ access_token: string }> {
    const record = await this.verify(refreshToken, 'admin_refresh', 'invalid refresh token: incorrect token type');
    return { access_token: this.sign(record, 'admin_access', ADMIN_ACCESS_TTL_SECONDS) };
  }

  /** The operator of an admin access token. */
  async verifyAccess(accessToken: string): Promise<Actor> {
    const record = await this.verify(
      accessToken,
      'admin_access',
      'invalid session: admin routes need an admin token or an admin access token; client tokens are not accepted',
    );
    return { id: record.id, name: record.name };
  }

  profile(actor: Actor): AdminProfile {
    return {
      user_id: actor.id,
      domain_id: this.domainId,
      identities: [{ id: actor.id, provider_type: 'mongodb-cloud' }],
      data: { name: actor.name },
      type: 'normal',
      roles: [{ role_name: 'GROUP_OWNER' }],
    };
  }

  private sign(record: AdminTokenRecord, typ: AdminTokenType, ttlSeconds: number): string {
    const iat = Math.floor(this.clock() / 1000);
    return signHs256({ typ, sub: record.id, iat, exp: iat + ttlSeconds }, keyFor(record));
  }

  /** Checks signature, type and expiry, and that the admin token still exists. */
  private async verify(token: string, typ: AdminTokenType, notOurs: string): Promise<AdminTokenRecord> {
    const kid = token.length <= MAX_TOKEN_LENGTH ? kidOf(token) : null;
    if (!kid?.startsWith(KID_PREFIX)) throw invalidSession(notOurs);
    const record = await this.record(kid.slice(KID_PREFIX.length));
    if (!record) throw invalidSession('invalid session: unknown or revoked admin token');
    const verdict = verifyCanonicalHs256(token, keyFor(record), Math.floor(this.clock() / 1000));
    if (!verdict) throw invalidSession(notOurs);
    if ('error' in verdict) {
      throw invalidSession(verdict.error === 'expired' ? `invalid session: ${typ === 'admin_access' ? 'access' : 'refresh'} token expired` : notOurs);
    }
    if (verdict.payload.typ !== typ || verdict.payload.sub !== record.id) throw invalidSession(notOurs);
    return record;
  }

  private async record(id: string): Promise<AdminTokenRecord | null> {
    return (await this.store.listAdminTokens()).find((t) => t.id === id) ?? null;
  }
}

/** The `kid` of a compact JWS's protected header, or null. */
function kidOf(token: string): string | null {
  const dot = token.indexOf('.');
  if (dot <= 0) return null;
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
    const kid = header && typeof header === 'object' ? (header as { kid?: unknown }).kid : undefined;
    return typeof kid === 'string' ? kid : null;
  } catch {
    return null;
  }
}
