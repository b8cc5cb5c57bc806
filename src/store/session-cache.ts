// In-process cache of findSessionWithUser: every token-authenticated request reads its session,
// user and identities, which costs more than the rest of a profile request (SQLite) or a database
// round trip (PostgreSQL), while those rows almost never change.
//
// Invalidated per user and per session, never wholesale on a write: a login, refresh or logout
// drops only the entries of the user (or session) it changed, so a stream of logins does not
// empty everyone's cache. Each store says what its writes changed (dropUser / dropSession) and
// when it cannot tell (clear): SQLite when another connection committed, PostgreSQL when its
// notification channel was down (src/store/postgres/invalidations.ts).
//
// A fill is a read that missed and then stores what it read. On PostgreSQL the read is a round
// trip, and an invalidation of its user may arrive meanwhile: the fill then holds rows from before
// that change and must not be kept. So a fill starts with `begin()` (a generation number) and
// `set` keeps it only when no drop of its user or session, and no clear, came after that.
//
// Refreshes find their session by the refresh token's hash (getByRefreshHash), through the same
// entries: a hash maps to a session id, served only while that entry is there and carries that hash.
// A cached session's last use may lag another instance's refresh (PostgreSQL does not announce
// those): whoever ends a session for its idle time reads the row first (Sessions.verifyRefreshToken).

import { deepFreeze } from '../util/deep-freeze.js';
import type { ActiveSession, SessionCacheStats, UserRecord } from './store.js';

// The statistics type lives in store.ts (the Store interface names it); re-exported so the stores
// keep importing it from here.
export type { SessionCacheStats } from './store.js';

export interface SessionWithUser {
  readonly active: ActiveSession;
  readonly user: UserRecord;
}

/** Most remembered drops (for in-flight fills) before they are forgotten wholesale (then every in-flight fill is refused). */
const MAX_RECENT_DROPS = 10_000;

export class SessionCache {
  /** Successful lookups only: a miss is never cached (a session id may be created after it). */
  private readonly entries = new Map<string, SessionWithUser>();
  /** Refresh-token hash of each entry's session → its id (kept in step with entries). */
  private readonly byRefresh = new Map<string, string>();
  /** Session ids cached per user, so a user's invalidation finds them. */
  private readonly byUser = new Map<string, Set<string>>();
  /** Bumped by every drop and clear. */
  private generation = 0;
  /** Generation of the last drop of a user or session id (keys `u:` / `s:`), for fills in flight. */
  private readonly recentDrops = new Map<string, number>();
  /** Fills begun before this generation are refused (clear, or recentDrops forgotten). */
  private floor = 0;
  private counts = { hits: 0, misses: 0, staleFills: 0 };

  /** `live`: whether entries may be served and stored now (PostgreSQL: the notification channel is up). */
  constructor(
    private readonly maxEntries = 10_000,
    private readonly live: () => boolean = () => true,
  ) {}

  /** The cached entry, or undefined (then read the rows after `begin()` and `set` them). */
  get(sessionId: string): SessionWithUser | undefined {
    const found = this.live() ? this.entries.get(sessionId) : undefined;
    if (found) this.counts.hits++;
    else this.counts.misses++;
    return found;
  }

  /** The cached entry of the session with this refresh-token hash, or undefined (then fill as for `get`). */
  getByRefreshHash(hash: string): SessionWithUser | undefined {
    const id = this.live() ? this.byRefresh.get(hash) : undefined;
    const found = id === undefined ? undefined : this.entries.get(id);
    if (found && found.active.session.refreshHash === hash) {
      this.counts.hits++;
      return found;
    }
    this.counts.misses++;
    return undefined;
  }

  /** Call before reading the rows of a fill; pass the result to `set`. */
  begin(): number {
    return this.generation;
  }

  /**
   * Keeps a fill read after `begin()` returned `since`, unless its user or session was dropped (or
   * everything cleared) since; returns it frozen either way (later callers get the same objects).
   */
  set(sessionId: string, value: SessionWithUser, since: number): SessionWithUser {
    deepFreeze(value);
    const userId = value.user.id;
    if (since < this.floor || (this.recentDrops.get(`u:${userId}`) ?? -1) > since || (this.recentDrops.get(`s:${sessionId}`) ?? -1) > since) {
      this.counts.staleFills++;
      return value;
    }
    if (!this.live()) return value;
    // Bounded by insertion order: the oldest entry goes, hit or not. Cheap, and a session evicted
    // while still in use only costs one read to come back.
    if (!this.entries.has(sessionId) && this.entries.size >= this.maxEntries) this.remove(this.entries.keys().next().value!);
    this.remove(sessionId);
    this.entries.set(sessionId, value);
    this.byRefresh.set(value.active.session.refreshHash, sessionId);
    let sessions = this.byUser.get(userId);
    if (!sessions) this.byUser.set(userId, (sessions = new Set()));
    sessions.add(sessionId);
    return value;
  }

  /** Everything cached for the user: its sessions, and the user record they carry. */
  dropUser(userId: string): void {
    this.remember(`u:${userId}`);
    const sessions = this.byUser.get(userId);
    if (!sessions) return;
    this.byUser.delete(userId);
    for (const id of sessions) this.forget(id);
  }

  /**
   * After this instance committed a refresh's touchSession: the user's entries take the new last
   * use (and the session its new expiry) instead of being dropped, so the next request of the user
   * is still a hit. Only entries already there change (one dropped meanwhile stays dropped), and
   * fills begun before are refused (they may hold the rows from before the touch).
   */
  touched(sessionId: string, userId: string, now: number, expiresAt?: number): void {
    this.remember(`u:${userId}`);
    const sessions = this.byUser.get(userId);
    if (!sessions) return;
    for (const id of sessions) {
      const { active, user } = this.entries.get(id)!;
      const session = id === sessionId ? { ...active.session, lastUsedAt: now, expiresAt: expiresAt ?? active.session.expiresAt } : active.session;
      this.entries.set(id, deepFreeze({ active: { ...active, session }, user: { ...user, lastAuthAt: now } }));
    }
  }

  /** One session (its user's other sessions stay). */
  dropSession(sessionId: string): void {
    this.remember(`s:${sessionId}`);
    this.remove(sessionId);
  }

  clear(): void {
    this.generation++;
    this.floor = this.generation;
    this.recentDrops.clear();
    this.entries.clear();
    this.byRefresh.clear();
    this.byUser.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  stats(): SessionCacheStats {
    return { ...this.counts, size: this.entries.size, live: this.live() };
  }

  private remember(key: string): void {
    this.generation++;
    if (this.recentDrops.size >= MAX_RECENT_DROPS) {
      // Forget them all, and refuse every fill begun before now instead.
      this.recentDrops.clear();
      this.floor = this.generation;
    }
    this.recentDrops.set(key, this.generation);
  }

  /** Removes an entry and its refresh-hash mapping (not its user's set). */
  private forget(sessionId: string): SessionWithUser | undefined {
    const entry = this.entries.get(sessionId);
    if (!entry) return undefined;
    this.entries.delete(sessionId);
    const hash = entry.active.session.refreshHash;
    if (this.byRefresh.get(hash) === sessionId) this.byRefresh.delete(hash);
    return entry;
  }

  private remove(sessionId: string): void {
    const entry = this.forget(sessionId);
    if (!entry) return;
    const sessions = this.byUser.get(entry.user.id);
    sessions?.delete(sessionId);
    if (sessions?.size === 0) this.byUser.delete(entry.user.id);
  }
}
