// Sessions: a refresh token and short-lived access tokens, both HS256 JWTs naming the session.
// Every access-token check also looks the session up, so logout, disable, delete and revoke end
// access at once on every instance sharing the store.
//
// Refresh tokens are JWTs because realm-core (every Realm device SDK) parses the refresh token of
// each login as one (`RealmJWT` in jwt.cpp; a non-JWT fails the login with "received malformed
// JWT"). The web SDKs treat it as an opaque string. What makes one valid is not its signature but
// its random `jti`: the store keeps only that claim's SHA-256, found again on every use. So a
// retired signing key never ends a session, nothing in the store rebuilds a token, and tokens
// issued before refresh tokens became JWTs (opaque strings, hashed whole) keep working.

import { createHash } from 'node:crypto';
import { compactVerify, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { BasteError, invalidSession } from '../errors.js';
import type { ActiveSession, SessionRecord, Store, UserRecord } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { newObjectIdHex, randomToken } from '../util/ids.js';
import { signHs256, verifyCanonicalHs256 } from './hs256.js';
import type { SigningKeys, VerificationKey } from './keys.js';
import { liveSessions, sessionView, type SessionView } from './list.js';

export interface SessionSettings {
  readonly domainId: string;
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  /** Each refresh moves the session's expiry to a full lifetime from then (never past its cap). */
  readonly slidingExpiration?: boolean;
  /** A session not refreshed for this long ends (0 or absent: never). */
  readonly idleTimeoutSeconds?: number;
}

/** Looks up the custom user data document embedded in access tokens (none until the data service exists). */
export type CustomDataLookup = (userId: string) => Promise<Record<string, unknown> | undefined>;

/** Who a verified access token speaks for. */
export interface AccessContext {
  readonly userId: string;
  readonly sessionId: string;
  readonly deviceId: string;
}

export interface OpenedSession {
  readonly sessionId: string;
  readonly accessToken: string;
  readonly refreshToken: string;
}

/** The identity a session was opened with, as the refresh token's `baas_identity` names it. */
export interface LoginIdentity {
  /** The provider-side id (an API key's id for API-key logins). */
  readonly id: string;
  readonly providerType: string;
  readonly providerId: string;
}

/** A session prepared for a login: its record (stored with the login) and the refresh token's secret. */
export interface PreparedSession {
  readonly session: Omit<SessionRecord, 'userId'>;
  /** The refresh token's `jti`; signed into the token by refreshTokenFor once the user is known. */
  readonly refreshSecret: string;
}

/** The most a token may weigh before we even try to parse it. */
const MAX_TOKEN_LENGTH = 8192;

/**
 * Access tokens whose signature and claims checked out, by their exact text. A client sends the
 * same token with every request for up to 30 minutes, and re-checking it (header, HMAC, payload
 * JSON) was a fifth of `GET /auth/profile`. Only the signature check is remembered: expiry is
 * compared on every use, the key must still be the one loaded (rotation, retirement), and the
 * session and user are still read from the store every time. Bounded: 5,000 tokens of at most
 * 4 KiB (about 2 MB at the usual ~400 bytes).
 */
const VERIFIED_CACHE_SIZE = 5000;
const VERIFIED_CACHE_MAX_TOKEN = 4096;

interface VerifiedToken {
  readonly claims: AccessClaims;
  readonly kid: string;
  readonly key: VerificationKey;
  readonly exp: number;
}

type AccessClaims = { readonly baas_id: string; readonly sub?: string };

/**
 * The caller of a verified token, when its session is live and its user enabled. A session past
 * its expiry ends its access tokens too: the expiry may come before theirs (a Custom JWT's `exp`,
 * an expiry cut short), and what decides is the session.
 */
function liveContext(claims: AccessClaims, active: ActiveSession | null, now: number): AccessContext {
  if (!active || active.userDisabled || active.session.userId !== claims.sub || active.session.expiresAt <= now) {
    throw invalidSession('invalid session: session has ended');
  }
  return { userId: active.session.userId, sessionId: active.session.id, deviceId: active.session.deviceId };
}

/** Last use (and a sliding expiry) is written when it moves by at least this much (refresh). */
const TOUCH_RESOLUTION_MS = 1000;

export const hashRefreshToken = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/**
 * What a refresh token's session is found by: the `jti` of a refresh JWT, or the whole text of an
 * opaque token issued before refresh tokens were JWTs (those had no dot). Null when it is neither
 * (an access token, a malformed JWT): no lookup is made.
 */
export function refreshSecretOf(token: string): string | null {
  const parts = token.split('.');
  if (parts.length === 1) return token;
  if (parts.length !== 3) return null;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const { typ, jti } = (claims ?? {}) as { typ?: unknown; jti?: unknown };
  return typ === 'refresh' && typeof jti === 'string' && jti.length > 0 ? jti : null;
}

export class Sessions {
  private readonly verified = new Map<string, VerifiedToken>();
  /** Touches being written, by session id (refresh), with the expiry each writes. */
  private readonly touching = new Map<string, { readonly written: Promise<void>; readonly expiresAt: number }>();

  constructor(
    private readonly store: Store,
    private readonly keys: SigningKeys,
    private readonly clock: Clock,
    private readonly settings: SessionSettings,
    private readonly customData: CustomDataLookup = async () => undefined,
  ) {}

  /**
   * A new session's record and refresh token, not yet stored: the caller writes it together with
   * the rest of the login (Store.loginIdentity / openSession), then signs its access token.
   */
  prepare(input: {
    deviceId: string;
    providerName: string;
    providerType: string;
    apiKeyId?: string | null;
    /** The client address of the login, shown in session lists. */
    address?: string | null;
    /** A time the session ends at the latest, whatever the lifetime (a Custom JWT's `exp`). */
    endsBy?: number | null;
  }): PreparedSession {
    const now = this.clock();
    const refreshSecret = randomToken(32);
    const lifetimeEnd = now + this.settings.refreshTokenTtlSeconds * 1000;
    const cap = input.endsBy ?? null;
    return {
      refreshSecret,
      session: {
        id: newObjectIdHex(),
        refreshHash: hashRefreshToken(refreshSecret),
        deviceId: input.deviceId,
        providerName: input.providerName,
        providerType: input.providerType,
        apiKeyId: input.apiKeyId ?? null,
        createdAt: now,
        expiresAt: cap === null ? lifetimeEnd : Math.min(lifetimeEnd, cap),
        lastUsedAt: now,
        address: input.address ?? null,
        expiryCap: cap,
      },
    };
  }

  /** Opens a session for a known user on a device already recorded (links). */
  async open(input: {
    userId: string;
    deviceId: string;
    providerName: string;
    providerType: string;
    identity: LoginIdentity;
    apiKeyId?: string | null;
    address?: string | null;
  }): Promise<OpenedSession> {
    const { session, refreshSecret } = this.prepare(input);
    const record: SessionRecord = { ...session, userId: input.userId };
    await this.store.createSession(record);
    return {
      sessionId: record.id,
      accessToken: await this.accessTokenFor(record),
      refreshToken: await this.refreshTokenFor(record, refreshSecret, input.identity),
    };
  }

  /**
   * The refresh token of a prepared session, once its user is known: the claims of the platform's
   * refresh tokens (`typ: refresh`, the user's id as `sub`, …) with integer `iat` and `exp` (realm-core casts both to Int64),
   * and the session's secret as `jti`. Signed like access tokens, though only the `jti` is checked.
   */
  async refreshTokenFor(
    session: Pick<SessionRecord, 'id' | 'userId' | 'deviceId' | 'createdAt' | 'expiresAt'>,
    refreshSecret: string,
    identity: LoginIdentity,
  ): Promise<string> {
    const key = await this.keys.signingKey();
    return signHs256(
      {
        typ: 'refresh',
        baas_device_id: session.deviceId,
        baas_domain_id: this.settings.domainId,
        baas_id: session.id,
        baas_identity: { id: identity.id, provider_type: identity.providerType, provider_id: identity.providerId },
        baas_data: null,
        sub: session.userId,
        jti: refreshSecret,
        iat: Math.floor(session.createdAt / 1000),
        exp: Math.floor(session.expiresAt / 1000),
      },
      key,
    );
  }

  /**
   * Signs a fresh access token for a session, re-reading custom user data. With the session's
   * `expiresAt`, the token expires no later than the session (the SDKs then refresh, and learn
   * that the session has ended).
   */
  async accessTokenFor(session: Pick<SessionRecord, 'id' | 'userId' | 'deviceId'> & { expiresAt?: number }): Promise<string> {
    const key = await this.keys.signingKey();
    const iat = Math.floor(this.clock() / 1000);
    const exp = Math.min(iat + this.settings.accessTokenTtlSeconds, session.expiresAt === undefined ? Infinity : Math.floor(session.expiresAt / 1000));
    const userData = await this.customData(session.userId);
    // The claims in the order jose's SignJWT writes them (hs256.ts signs the same bytes,
    // synchronously; test/hs256-equivalence.test.ts compares the two).
    return signHs256(
      {
        typ: 'access',
        baas_device_id: session.deviceId,
        baas_domain_id: this.settings.domainId,
        baas_id: session.id,
        baas_user_id: session.userId,
        ...(userData ? { user_data: userData } : {}),
        sub: session.userId,
        iat,
        exp,
      },
      key,
    );
  }

  /** Verifies an access token and that its session and user are still live. */
  async verifyAccessToken(token: string): Promise<AccessContext> {
    const claims = await this.accessClaims(token);
    return liveContext(claims, await this.store.findSession(claims.baas_id), this.clock());
  }

  /** Whether a session is still live for its user: not ended, the user not disabled or deleted (open watch streams). */
  async sessionLive(sessionId: string, userId: string): Promise<boolean> {
    const active = await this.store.findSession(sessionId);
    return active !== null && !active.userDisabled && active.session.userId === userId;
  }

  /** As verifyAccessToken, with the caller's user record read in the same lookup (profile, function calls). */
  async verifyAccessTokenWithUser(token: string): Promise<{ caller: AccessContext; user: UserRecord }> {
    const claims = await this.accessClaims(token);
    const found = await this.store.findSessionWithUser(claims.baas_id);
    return { caller: liveContext(claims, found?.active ?? null, this.clock()), user: found!.user };
  }

  /** The key a token names in its header (`kid`), or InvalidSession with `unknownKey` when this app has none. */
  private async signingKeyOf(token: string, unknownKey: string): Promise<{ kid: string; key: VerificationKey }> {
    if (token.length > MAX_TOKEN_LENGTH || token.split('.').length !== 3) throw invalidSession('invalid session: malformed access token');
    let kid: unknown;
    try {
      ({ kid } = decodeProtectedHeader(token));
    } catch {
      throw invalidSession('invalid session: malformed access token');
    }
    const key = typeof kid === 'string' ? await this.keys.verificationKey(kid) : null;
    if (!key) throw invalidSession(unknownKey);
    return { kid: kid as string, key };
  }

  /** The claims of a valid access token (signature, expiry, type), before its session is looked up. */
  private async accessClaims(token: string): Promise<AccessClaims> {
    const nowSeconds = Math.floor(this.clock() / 1000);
    const known = this.verified.get(token);
    if (known) {
      // The same test as the full check below (jose's: expired when exp <= now).
      if (known.exp <= nowSeconds) {
        this.verified.delete(token);
        throw invalidSession('invalid session: access token expired');
      }
      if (this.keys.loadedVerificationKey(known.kid) === known.key) return known.claims;
      this.verified.delete(token);
    }
    const { kid, key } = await this.signingKeyOf(token, 'invalid session: unknown signing key');
    let payload;
    // Tokens in the shape this server signs are verified with node:crypto (hs256.ts); others by jose.
    const fast = verifyCanonicalHs256(token, key, nowSeconds);
    if (fast && 'error' in fast) {
      if (fast.error === 'expired') throw invalidSession('invalid session: access token expired');
      throw invalidSession('invalid session: access token is not valid');
    }
    if (fast) payload = fast.payload;
    else {
      try {
        ({ payload } = await jwtVerify(token, key.key, {
          algorithms: ['HS256'],
          currentDate: new Date(this.clock()),
          requiredClaims: ['sub', 'exp', 'iat'],
        }));
      } catch (err) {
        if (err instanceof joseErrors.JWTExpired) throw invalidSession('invalid session: access token expired');
        throw invalidSession('invalid session: access token is not valid');
      }
    }
    if (payload.typ !== 'access' || typeof payload.baas_id !== 'string') {
      throw invalidSession('invalid session: not an access token');
    }
    const claims: AccessClaims = Object.freeze({ baas_id: payload.baas_id, sub: typeof payload.sub === 'string' ? payload.sub : undefined });
    // Only this server's own token shape is remembered (no nbf to re-check, exp a number).
    if (fast && token.length <= VERIFIED_CACHE_MAX_TOKEN && typeof payload.exp === 'number' && payload.nbf === undefined) {
      if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, { claims, kid, key, exp: payload.exp });
    }
    return claims;
  }

  /**
   * The admin API's `verify_token`: every claim of an access token this server signed whose session
   * is still live, or `expired` when its signature holds but its time is up (the platform answers
   * those apart). Anything else (forged, another app's, not an access token, session ended) is an
   * InvalidSession. Client routes keep using verifyAccessToken.
   */
  async inspectAccessToken(token: string): Promise<{ expired: true } | { expired: false; claims: Record<string, unknown> }> {
    const { key } = await this.signingKeyOf(token, 'invalid session: the token was not signed by this app');
    let claims: Record<string, unknown>;
    try {
      const { payload } = await compactVerify(token, key.key, { algorithms: ['HS256'] });
      claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    } catch {
      throw invalidSession('invalid session: access token is not valid');
    }
    if (claims === null || typeof claims !== 'object' || claims.typ !== 'access' || typeof claims.baas_id !== 'string' || typeof claims.exp !== 'number') {
      throw invalidSession('invalid session: not an access token');
    }
    if (claims.baas_domain_id !== this.settings.domainId) throw invalidSession('invalid session: the token belongs to another app');
    if (claims.exp <= Math.floor(this.clock() / 1000)) return { expired: true };
    liveContext({ baas_id: claims.baas_id, sub: typeof claims.sub === 'string' ? claims.sub : undefined }, await this.store.findSession(claims.baas_id), this.clock());
    return { expired: false, claims };
  }

  /** The hash a refresh token's session is stored under; InvalidSession for a token that names none. */
  private refreshHashOf(token: string): string {
    const secret = token.length > 0 && token.length <= MAX_TOKEN_LENGTH ? refreshSecretOf(token) : null;
    if (secret === null) throw invalidSession('invalid session: failed to find refresh token');
    return hashRefreshToken(secret);
  }

  /** The session a refresh token names, live or not (maybe from the store's cache); InvalidSession when there is none. */
  private async refreshSession(hash: string, fresh = false): Promise<ActiveSession> {
    const active = await this.store.findSessionByRefreshHash(hash, fresh ? { fresh } : undefined);
    if (!active) throw invalidSession('invalid session: failed to find refresh token');
    return active;
  }

  /** Why a session has ended by the policy (lifetime, idle timeout), or null while it is live. */
  private endedBecause(session: SessionRecord, now: number): string | null {
    if (session.expiresAt <= now) return 'invalid session: refresh token expired';
    const idle = this.settings.idleTimeoutSeconds ?? 0;
    if (idle > 0 && (session.lastUsedAt ?? session.createdAt) + idle * 1000 <= now) {
      return `invalid session: session ended after ${idle} seconds without use`;
    }
    return null;
  }

  /** Finds the live session a refresh token belongs to; an ended one is deleted (401 InvalidSession). */
  async verifyRefreshToken(token: string): Promise<ActiveSession> {
    const hash = this.refreshHashOf(token);
    let active = await this.refreshSession(hash);
    if (active.userDisabled) throw invalidSession('invalid session: user is disabled');
    const now = this.clock();
    if (this.endedBecause(active.session, now)) {
      // A cached record's last use (or expiry) may lag a refresh through another instance: the row
      // decides whether the session has ended, never the cache.
      active = await this.refreshSession(hash, true);
      if (active.userDisabled) throw invalidSession('invalid session: user is disabled');
      const ended = this.endedBecause(active.session, now);
      if (ended) {
        await this.store.deleteSession(active.session.id);
        throw invalidSession(ended);
      }
    }
    return active;
  }

  /**
   * `POST /auth/session`: a new access token for the refresh token's session, which counts as used
   * now (idle timeout). With a sliding lifetime the session's expiry moves to a full lifetime from
   * now, never past its cap; the refresh token itself is unchanged (its `exp` claim keeps the
   * login's value: Baste goes by the stored expiry, and the SDKs read `exp` of access tokens only).
   */
  async refresh(refreshToken: string): Promise<{ accessToken: string; session: SessionRecord }> {
    const { session } = await this.verifyRefreshToken(refreshToken);
    const now = this.clock();
    // `session` may come from the store's cache: its last use may lag another instance's refresh,
    // which only makes this one write its touch sooner.
    let expiresAt = session.expiresAt;
    if (this.settings.slidingExpiration) {
      const slid = Math.min(now + this.settings.refreshTokenTtlSeconds * 1000, session.expiryCap ?? Infinity);
      if (slid > expiresAt) expiresAt = slid;
    }
    // A refresh within a second of the last one writes nothing: last use is kept to the second (the
    // wire's last_used_date and last_authentication_date are seconds; the idle timeout is at least
    // an hour), and many clients refreshing one session at once would otherwise queue on its row.
    const lastUsedAt = session.lastUsedAt ?? session.createdAt;
    if (now - lastUsedAt >= TOUCH_RESOLUTION_MS || expiresAt - session.expiresAt >= TOUCH_RESOLUTION_MS) {
      // Refreshes of one session arriving while its touch is written join that write: until it
      // lands they all read the old last use, and would each queue one more on the session's row.
      let touch = this.touching.get(session.id);
      if (!touch) {
        const written = this.store.touchSession(session.id, session.userId, now, expiresAt !== session.expiresAt ? expiresAt : undefined);
        touch = { written, expiresAt };
        this.touching.set(session.id, touch);
        const done = () => {
          if (this.touching.get(session.id) === touch) this.touching.delete(session.id);
        };
        written.then(done, done);
      }
      await touch.written;
      expiresAt = touch.expiresAt;
    } else {
      expiresAt = session.expiresAt;
    }
    const current = { ...session, lastUsedAt: now, expiresAt };
    return { accessToken: await this.accessTokenFor(current), session: current };
  }

  /**
   * Logout: ends the refresh token's session. One already ended by the policy is deleted quietly
   * (the client is logging out anyway; realm-web rethrows any error other than an unknown token).
   */
  async logout(refreshToken: string): Promise<SessionRecord> {
    const { session } = await this.refreshSession(this.refreshHashOf(refreshToken));
    await this.store.deleteSession(session.id);
    return session;
  }

  async end(sessionId: string): Promise<void> {
    await this.store.deleteSession(sessionId);
  }

  /** `GET /auth/sessions`: the caller's live sessions, oldest first, the calling one marked `current`. */
  async listOwn(caller: AccessContext): Promise<(SessionView & { current: boolean })[]> {
    const [sessions, devices] = await Promise.all([this.store.listSessionsOfUser(caller.userId), this.store.listDevices(caller.userId)]);
    return liveSessions(sessions, this.clock(), this.settings.idleTimeoutSeconds ?? 0).map((s) => ({
      ...sessionView(s, devices),
      current: s.id === caller.sessionId,
    }));
  }

  /**
   * `DELETE /auth/sessions/{id}`: ends one of the caller's sessions (the calling one too: that is a
   * logout). Another user's session is not found, as one that does not exist.
   */
  async revokeOwn(caller: AccessContext, sessionId: string): Promise<void> {
    if (!(await this.store.deleteSessionOfUser(caller.userId, sessionId.toLowerCase()))) {
      throw new BasteError('SessionNotFound', `no session '${sessionId.slice(0, 64)}' of this user`);
    }
  }
}
